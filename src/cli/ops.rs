//! The operator commands that talk to the daemon (CMD-2..9, OPS-1..5, APPLY-2..6, CMD-6d/e):
//! send one request, print the reply for humans or as JSON, map it to an exit status.

use std::io::IsTerminal;
use std::path::Path;
use std::time::SystemTime;

use serde::Serialize;

use super::exit::Exit;
use super::status::{row, short_time, table};
use super::{client_exit, fail, out, Global};
use crate::control::client;
use crate::control::proto::{
    ApplyMethod, ApplyReply, DaemonAction, ErrorKind, EventDto, Request, Response, TreeNodeDto,
    PROTOCOL_VERSION,
};
use crate::host::safe_file;

/// One request, one reply; a failure to talk is reported here and becomes the exit status.
pub fn call(g: &Global, request: &Request) -> Result<Response, Exit> {
    let socket = g.client_socket_path();
    let runtime = runtime()?;
    answered(g, runtime.block_on(client::request(&socket, request)))
}

/// `--json` of a read whose reply may be large (`status` at 1,000 groups is 400 KB): the reply
/// line exactly as the daemon wrote it when it is of type `expected`, without parsing and
/// writing it again; any other reply (an error) is handled as [`call`] does.
pub fn call_for_json(g: &Global, request: &Request, expected: &str) -> Result<Vec<u8>, Exit> {
    #[derive(serde::Deserialize)]
    struct Type<'a> {
        #[serde(rename = "type", borrow)]
        kind: &'a str,
    }
    let socket = g.client_socket_path();
    let runtime = runtime()?;
    let line = match runtime.block_on(client::request_line(&socket, request)) {
        Ok(line) => line,
        Err(e) => return answered(g, Err(e)).map(|_| Vec::new()),
    };
    if serde_json::from_slice::<Type<'_>>(&line).is_ok_and(|t| t.kind == expected) {
        return Ok(line);
    }
    let reply = serde_json::from_slice(&line).map_err(|e| client::ClientError::Protocol {
        path: socket,
        detail: e.to_string(),
    });
    match answered(g, reply) {
        Ok(other) => Err(unexpected(g, other)),
        Err(exit) => Err(exit),
    }
}

/// A reply (or the failure to get one) as the commands see it: errors are reported here.
fn answered(g: &Global, reply: Result<Response, client::ClientError>) -> Result<Response, Exit> {
    match reply {
        Ok(Response::Error(e)) => {
            let exit = error_exit(e.kind);
            if g.json {
                print_json(&Response::Error(e.clone()));
            }
            fail(&e.message);
            Err(exit)
        }
        Ok(reply) => Ok(reply),
        Err(e) => {
            if g.json {
                print_json_error(client_error_kind(&e), &e.to_string());
            }
            fail(&e);
            Err(client_exit(&e))
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Exit> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            fail(format!("cannot start the async runtime: {e}"));
            Exit::OsErr
        })
}

/// The documented exit status of each error kind (docs/OPERATIONS.md).
pub fn error_exit(kind: ErrorKind) -> Exit {
    match kind {
        ErrorKind::BadRequest => Exit::Protocol,
        ErrorKind::Denied => Exit::NoPerm,
        ErrorKind::Unknown => Exit::DataErr,
        ErrorKind::Refused => Exit::Refused,
        ErrorKind::Failed => Exit::Failed,
        ErrorKind::Invalid => Exit::Usage,
        ErrorKind::Busy => Exit::TempFail,
        ErrorKind::Unavailable => Exit::Unavailable,
    }
}

/// The error kind `--json` reports for a failure to talk to the daemon at all.
fn client_error_kind(e: &client::ClientError) -> ErrorKind {
    use client::ClientError;
    match e {
        ClientError::Connect { source, .. }
            if source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            ErrorKind::Denied
        }
        ClientError::Protocol { .. } => ErrorKind::BadRequest,
        ClientError::Timeout { .. } => ErrorKind::Busy,
        ClientError::NotRunning { .. } | ClientError::Connect { .. } | ClientError::Io { .. } => {
            ErrorKind::Unavailable
        }
    }
}

/// A failure as the one JSON line `--json` promises on stdout (the message also goes to stderr).
pub fn print_json_error(kind: ErrorKind, message: &str) {
    print_json(&Response::failure(kind, message));
}

pub fn unexpected(g: &Global, reply: Response) -> Exit {
    let kind = serde_json::to_value(&reply)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(String::from))
        .unwrap_or_default();
    fail(format!(
        "the daemon at {} answered with an unexpected `{kind}` reply; is it another upkeep version?",
        g.client_socket_path().display()
    ));
    Exit::Protocol
}

/// `--json`: one protocol message per line, exactly as docs/PROTOCOL.md shows it (with its
/// `type`), so that scripts can read a stream of them line by line.
pub fn print_json<T: Serialize>(value: &T) -> Exit {
    match serde_json::to_string(value) {
        Ok(json) => out(&format!("{json}\n")),
        Err(e) => {
            fail(format!("cannot print JSON: {e}"));
            Exit::Software
        }
    }
}

/// Colour only on a terminal, and never when NO_COLOR is set (no-color.org).
pub fn use_colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// A request answered by `Done`: print its message.
pub fn simple(g: &Global, request: Request) -> Exit {
    match call(g, &request) {
        Ok(Response::Done(done)) => {
            if g.json {
                print_json(&Response::Done(done))
            } else {
                out(&format!("{}\n", done.message))
            }
        }
        Ok(other) => unexpected(g, other),
        Err(exit) => exit,
    }
}

pub fn daemon(g: &Global, action: DaemonAction) -> Exit {
    simple(
        g,
        Request::Daemon {
            version: PROTOCOL_VERSION,
            action,
        },
    )
}

pub fn tree(g: &Global) -> Exit {
    match call(
        g,
        &Request::Tree {
            version: PROTOCOL_VERSION,
        },
    ) {
        Ok(Response::Tree(tree)) => {
            if g.json {
                return print_json(&Response::Tree(tree));
            }
            let mut rows = vec![row([
                "ACTOR",
                "KIND",
                "STATE",
                "RESTARTS",
                "PID",
                "PROC RESTARTS",
                "LAST FAILURE",
            ])];
            walk(&tree.root, 0, &mut rows);
            let mut text = String::new();
            table(&mut text, &rows);
            if use_colour() {
                out(&super::status::colour(&text))
            } else {
                out(&text)
            }
        }
        Ok(other) => unexpected(g, other),
        Err(exit) => exit,
    }
}

fn walk(node: &TreeNodeDto, depth: usize, rows: &mut Vec<Vec<String>>) {
    let failure = match (&node.last_failure, &node.last_failure_at) {
        (Some(why), Some(at)) => format!("{why} (at {})", short_time(at)),
        (Some(why), None) => why.clone(),
        _ => String::new(),
    };
    rows.push(vec![
        format!("{}{}", "  ".repeat(depth), node.path),
        node.kind.clone(),
        node.status.to_lowercase(),
        node.restarts.to_string(),
        node.pid.map(|p| p.to_string()).unwrap_or_default(),
        node.process_restarts
            .map(|n| n.to_string())
            .unwrap_or_default(),
        failure,
    ]);
    for child in &node.children {
        walk(child, depth + 1, rows);
    }
}

/// `--since`: a sequence number, a duration ago or an RFC 3339 time.
enum Since {
    Seq(u64),
    Time(SystemTime),
}

fn parse_since(text: &str) -> Result<Since, String> {
    if let Ok(seq) = text.parse::<u64>() {
        return Ok(Since::Seq(seq));
    }
    if let Ok(ago) = humantime::parse_duration(text) {
        return Ok(Since::Time(
            SystemTime::now()
                .checked_sub(ago)
                .unwrap_or(SystemTime::UNIX_EPOCH),
        ));
    }
    humantime::parse_rfc3339_weak(text)
        .map(Since::Time)
        .map_err(|_| {
            format!("`{text}` is not a sequence number, a duration (\"10m\") or a time (RFC 3339)")
        })
}

fn event_line(e: &EventDto) -> String {
    format!(
        "{:>5} {} {:<7} {}\n",
        e.seq,
        short_time(&e.at),
        e.level,
        e.line
    )
}

/// `--since` of `events` and `alerts`: the sequence number to ask the daemon from, and the
/// time before which events are left out; a malformed value is a usage error (said here).
fn since_window(since: Option<&str>) -> Result<(u64, Option<SystemTime>), Exit> {
    match since.map(parse_since).transpose() {
        Ok(Some(Since::Seq(n))) => Ok((n, None)),
        Ok(Some(Since::Time(t))) => Ok((0, Some(t))),
        Ok(None) => Ok((0, None)),
        Err(message) => {
            fail(message);
            Err(Exit::Usage)
        }
    }
}

/// Whether `e` happened at or after `after` (always, without a time or with an unreadable one).
fn at_or_after(e: &EventDto, after: Option<SystemTime>) -> bool {
    after.is_none_or(|t| humantime::parse_rfc3339_weak(&e.at).map_or(true, |at| at >= t))
}

pub fn events(g: &Global, follow: bool, since: Option<&str>) -> Exit {
    let (seq, after) = match since_window(since) {
        Ok(window) => window,
        Err(exit) => return exit,
    };
    let keep = |e: &EventDto| at_or_after(e, after);
    if !follow {
        return match call(g, &Request::events(seq)) {
            Ok(Response::Events(mut reply)) => {
                reply.events.retain(keep);
                if g.json {
                    print_json(&Response::Events(reply))
                } else {
                    let text: String = reply.events.iter().map(event_line).collect();
                    out(&text)
                }
            }
            Ok(other) => unexpected(g, other),
            Err(exit) => exit,
        };
    }
    follow_events(g, seq, keep)
}

/// `--follow` of `events` and `alerts`: the event stream from after `since`, each event that
/// `keep` passes printed as a line (an `Event` message with --json), until the daemon or the
/// reader of the output goes away.
fn follow_events(g: &Global, since: u64, keep: impl Fn(&EventDto) -> bool) -> Exit {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    let request = Request::Follow {
        version: PROTOCOL_VERSION,
        since,
    };
    let mut exit = Exit::Ok;
    let json = g.json;
    let print = |e: &EventDto| -> bool {
        if !keep(e) {
            return true;
        }
        let text = if json {
            match serde_json::to_string(&Response::Event(e.clone())) {
                Ok(line) => format!("{line}\n"),
                Err(_) => return true,
            }
        } else {
            event_line(e)
        };
        out(&text) == Exit::Ok
    };
    let done = runtime.block_on(client::exchange(
        &g.client_socket_path(),
        &request,
        None,
        |reply| match reply {
            Response::Events(reply) => reply.events.iter().all(print),
            Response::Event(e) => print(&e),
            Response::Error(e) => {
                if json {
                    print_json(&Response::Error(e.clone()));
                }
                fail(&e.message);
                exit = error_exit(e.kind);
                false
            }
            _ => {
                exit = Exit::Protocol;
                false
            }
        },
    ));
    match done {
        Ok(()) => exit,
        Err(e) => {
            fail(&e);
            client_exit(&e)
        }
    }
}

pub fn explain(g: &Global, name: String) -> Exit {
    match call(
        g,
        &Request::Explain {
            version: PROTOCOL_VERSION,
            name,
        },
    ) {
        Ok(Response::Explain(reply)) => {
            if g.json {
                print_json(&Response::Explain(reply))
            } else {
                out(&reply
                    .lines
                    .iter()
                    .map(|l| format!("{l}\n"))
                    .collect::<String>())
            }
        }
        Ok(other) => unexpected(g, other),
        Err(exit) => exit,
    }
}

pub fn config_show(g: &Global) -> Exit {
    match call(
        g,
        &Request::ConfigPull {
            version: PROTOCOL_VERSION,
        },
    ) {
        Ok(Response::Config(reply)) => {
            if g.json {
                print_json(&Response::Config(reply))
            } else {
                out(&reply.text)
            }
        }
        Ok(other) => unexpected(g, other),
        Err(exit) => exit,
    }
}

pub fn config_pull(g: &Global, file: &Path, clp: bool) -> Exit {
    match call(
        g,
        &Request::ConfigPull {
            version: PROTOCOL_VERSION,
        },
    ) {
        Ok(Response::Config(reply)) => {
            // Issue 10: a pulled configuration is 0600, written to a new temp file beside
            // `file` and renamed over it, so a link planted at either name is never written
            // through.
            let written = safe_file::replace(
                file,
                reply.text.as_bytes(),
                0o600,
                safe_file::Trust::Any,
                false,
            );
            if let Err(e) = written {
                fail(format!("cannot write `{}`: {e}", file.display()));
                return Exit::CantCreate;
            }
            if clp {
                out("success.(code:0)\n")
            } else if g.json {
                print_json(&Response::Config(reply))
            } else {
                out(&format!(
                    "saved the configuration in force ({}) to {}\n",
                    reply.origin,
                    file.display()
                ))
            }
        }
        Ok(other) => unexpected(g, other),
        Err(exit) => exit,
    }
}

/// `config diff|apply FILE` and `clpcfctrl --push` (CMD-6a/d/e, APPLY-2..6).
pub fn config_apply(g: &Global, file: &Path, restart: bool, dry_run: bool, clp: bool) -> Exit {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            fail(format!("cannot read `{}`: {e}", file.display()));
            return Exit::NoInput;
        }
    };
    // Check locally first: errors with file:line:col, without bothering the daemon.
    if let Err(super::config_file::LoadError::Invalid(errors)) =
        super::config_file::load(Some(file))
    {
        for e in &errors {
            eprintln!("{e}");
        }
        fail(format!(
            "`{}` is not a valid configuration; nothing applied",
            file.display()
        ));
        return Exit::Config;
    }
    let origin = std::path::absolute(file)
        .unwrap_or_else(|_| file.to_path_buf())
        .display()
        .to_string();
    let mut restart = restart;
    if clp && !dry_run {
        // The seed asks before pushing (CMD-6d); the answer decides like its operator would.
        let preview = match call(g, &apply_request(&text, &origin, false, true)) {
            Ok(Response::Apply(r)) => r,
            Ok(other) => return unexpected(g, other),
            Err(exit) => return exit,
        };
        let prompt = match preview.method {
            ApplyMethod::UploadOnly => None,
            ApplyMethod::SuspendResume => Some((
                "Need to suspend cluster and resume",
                "Already suspended? (y/n) :",
                true,
            )),
            ApplyMethod::StopRestart => Some((
                "Need to stop cluster and restart",
                "Already stopped? (y/n) :",
                false,
            )),
            ApplyMethod::Reboot => Some((
                "Need to shutdown system and reboot",
                "please shutdown system after push. (hit return) :",
                false,
            )),
        };
        if let Some((need, ask, needs_yes)) = prompt {
            println!("{need}");
            print!("{ask} ");
            let _ = std::io::Write::flush(&mut std::io::stdout());
            let mut answer = String::new();
            let _ = std::io::stdin().read_line(&mut answer);
            let answer = answer.trim();
            // MAP-17: Return alone is accepted where the seed says "press Return".
            let yes = answer.eq_ignore_ascii_case("y") || (!needs_yes && answer.is_empty());
            if !yes {
                fail("push cancelled; nothing applied");
                return Exit::Refused;
            }
            restart = preview.method >= ApplyMethod::StopRestart;
        }
    }
    match call(g, &apply_request(&text, &origin, restart, dry_run)) {
        Ok(Response::Apply(reply)) => {
            if clp {
                return out("success.(code:0)\n");
            }
            if g.json {
                return print_json(&Response::Apply(reply));
            }
            out(&render_apply(&reply, dry_run))
        }
        Ok(other) => unexpected(g, other),
        Err(exit) => exit,
    }
}

fn apply_request(text: &str, origin: &str, restart: bool, dry_run: bool) -> Request {
    Request::ConfigApply {
        version: PROTOCOL_VERSION,
        text: text.to_string(),
        origin: origin.to_string(),
        restart,
        dry_run,
    }
}

fn render_apply(reply: &ApplyReply, dry_run: bool) -> String {
    let mut text = String::new();
    if reply.changes.is_empty() {
        text.push_str("no changes\n");
    } else {
        let mut rows = vec![row(["FIELD", "CHANGE", "APPLY METHOD"])];
        for c in &reply.changes {
            rows.push(vec![
                c.field.clone(),
                c.what.clone(),
                c.method.as_str().to_string(),
            ]);
        }
        table(&mut text, &rows);
    }
    text.push_str(&format!("apply method: {}\n", reply.method.as_str()));
    if !dry_run {
        text.push_str(&format!("{}\n", reply.message));
    }
    text
}

/// `upkeep alerts` (issue 11): the persistent alert log, then (with --follow) each new alert.
pub fn alerts(g: &Global, follow: bool, since: Option<&str>, all: bool, limit: u32) -> Exit {
    let (seq, after) = match since_window(since) {
        Ok(window) => window,
        Err(exit) => return exit,
    };
    let keep =
        move |e: &EventDto| (all || crate::alerts::alert_log::is_alert(e)) && at_or_after(e, after);
    let request = Request::Alerts {
        version: PROTOCOL_VERSION,
        since: seq,
        limit,
        all,
    };
    let mut reply = match call(g, &request) {
        Ok(Response::Alerts(reply)) => reply,
        Ok(other) => return unexpected(g, other),
        Err(exit) => return exit,
    };
    reply.alerts.retain(|e| keep(e));
    if reply.first_seq > seq + 1 && seq > 0 {
        eprintln!(
            "upkeep: the alert log starts at seq {}: older entries were rotated away",
            reply.first_seq
        );
    }
    // Issue 13's --json contract: one protocol message per line with its `type`; a followed
    // log is the `Alerts` reply, then one `Event` line per new alert.
    let printed = if g.json {
        print_json(&Response::Alerts(reply.clone()))
    } else {
        out(&reply.alerts.iter().map(event_line).collect::<String>())
    };
    if !follow || printed != Exit::Ok {
        return printed;
    }
    let from = reply
        .alerts
        .last()
        .map_or(reply.last_seq.max(seq), |e| e.seq);
    follow_events(g, from, move |e| keep(e) && e.seq > from)
}
