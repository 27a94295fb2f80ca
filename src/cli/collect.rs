//! `upkeep logs collect` (CMD-5, `clplogcc`; DIR-9: the archive goes to the temp folder):
//! one tar.gz with the daemon's logs, configuration, state files, status, tree and events as
//! the daemon reports them, and system facts (uname, /proc/mdstat, network links).
//!
//! Collection never stops half-way: whatever cannot be read is listed in `MISSING.txt` inside
//! the archive, so a support engineer sees what is absent and why.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use clap::Args;
use flate2::write::GzEncoder;
use flate2::Compression;

use super::exit::Exit;
use super::{fail, out, Global};
use crate::control::client;
use crate::control::proto::{Request, Response, PROTOCOL_VERSION};
use crate::host::safe_file;

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// The archive, or a folder to put it in.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The daemon's log folder [default: as `upkeep daemon`'s].
    #[arg(long, value_name = "DIR")]
    log_dir: Option<PathBuf>,
    /// The daemon's state folder [default: as `upkeep daemon`'s].
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

/// Files bigger than this are cut to their tail (logs can be huge; the end matters).
const MAX_FILE: u64 = 64 * 1024 * 1024;

pub fn run(g: &Global, args: &CollectArgs) -> Exit {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into());
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .replace(':', "");
    // Issue 10: the archive holds the configuration and state, and is written by root into a
    // shared folder: its name ends in a part nobody can guess ahead, and it is created new
    // (O_CREAT|O_EXCL|O_NOFOLLOW) with mode 0600, so a file or link planted at the name makes
    // the collection fail instead of writing through it or handing the bundle to its owner.
    let name = format!(
        "upkeep-logs-{host}-{stamp}-{}.tar.gz",
        safe_file::unpredictable_suffix()
    );
    let output = match &args.output {
        Some(p) if p.is_dir() => p.join(&name),
        Some(p) => p.clone(),
        None => std::env::temp_dir().join(&name),
    };
    let file = match safe_file::create_new(&output, 0o600) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            fail(format!(
                "cannot create `{}`: it exists already; remove it or choose another name",
                output.display()
            ));
            return Exit::CantCreate;
        }
        Err(e) => {
            fail(format!("cannot create `{}`: {e}", output.display()));
            return Exit::CantCreate;
        }
    };
    let mut tar = tar::Builder::new(GzEncoder::new(file, Compression::default()));
    let mut missing = Vec::new();
    let root = "upkeep-logs";

    // What the daemon says about itself.
    let socket = g.client_socket_path();
    let mut ask = |what: &str, request: Request| -> Option<Response> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        match runtime.block_on(client::request(&socket, &request)) {
            Ok(Response::Error(e)) => {
                missing.push(format!("{what}: {}", e.message));
                None
            }
            Ok(reply) => Some(reply),
            Err(e) => {
                missing.push(format!("{what}: {e}"));
                None
            }
        }
    };
    let status = ask("status.json", Request::status());
    let tree = ask(
        "tree.json",
        Request::Tree {
            version: PROTOCOL_VERSION,
        },
    );
    let events = ask("events.json", Request::events(0));
    let config = ask(
        "config-in-force.json",
        Request::ConfigPull {
            version: PROTOCOL_VERSION,
        },
    );
    // Issue 13: this daemon's own folders, as it reports them; the defaults only when it
    // cannot say (and the bundle says so), never silently another daemon's.
    let (said_logs, said_state, said_config) = match &status {
        Some(Response::Status(s)) => (
            Some(s.server.log_dir.clone()).filter(|d| !d.is_empty()),
            Some(s.server.state_dir.clone()).filter(|d| !d.is_empty()),
            Some(s.server.config_file.clone()).filter(|d| !d.is_empty()),
        ),
        _ => (None, None, None),
    };
    let daemon_pid = match &status {
        Some(Response::Status(s)) => Some(s.server.pid),
        _ => None,
    };
    let [status, tree, events, config] = [status, tree, events, config]
        .map(|r| r.and_then(|r| serde_json::to_string_pretty(&r).ok()));
    for (file, body) in [
        ("status.json", status),
        ("tree.json", tree),
        ("events.json", events),
        ("config-in-force.json", config),
    ] {
        if let Some(body) = body {
            add_bytes(
                &mut tar,
                &format!("{root}/daemon/{file}"),
                body.as_bytes(),
                &mut missing,
            );
        }
    }

    // Files on disk.
    let mut folder =
        |given: &Option<PathBuf>, said: Option<String>, what: &str, default: PathBuf| {
            given
                .clone()
                .or(said.map(PathBuf::from))
                .unwrap_or_else(|| {
                    missing.push(format!(
                "the daemon did not say where its {what} folder is: bundled the default `{}`",
                default.display()
            ));
                    default
                })
        };
    let logs = folder(
        &args.log_dir,
        said_logs,
        "log",
        crate::host::paths::default_log_dir(),
    );
    let state = folder(
        &args.state_dir,
        said_state,
        "state",
        crate::host::paths::default_state_dir(),
    );
    add_dir(&mut tar, &logs, &format!("{root}/logs"), &mut missing);
    // The state folder holds the reboot count and, with alerts, the alert log.
    add_dir(&mut tar, &state, &format!("{root}/state"), &mut missing);
    let etc = Path::new("/etc/upkeep");
    if etc.is_dir() {
        add_dir(&mut tar, etc, &format!("{root}/etc"), &mut missing);
    }
    if let Some(file) = said_config.map(PathBuf::from) {
        if !file.starts_with(etc) {
            match std::fs::read(&file) {
                Ok(body) => add_bytes(
                    &mut tar,
                    &format!(
                        "{root}/config-file/{}",
                        file.file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_else(|| "upkeep.ron".into())
                    ),
                    &body,
                    &mut missing,
                ),
                Err(e) => missing.push(format!("{}: {e}", file.display())),
            }
        }
    }
    if let Some(journal) = journal_excerpt(daemon_pid) {
        add_bytes(
            &mut tar,
            &format!("{root}/system/journal.txt"),
            journal.as_bytes(),
            &mut missing,
        );
    }

    // System facts.
    let uname = nix::sys::utsname::uname()
        .map(|u| {
            format!(
                "{} {} {} {} {}\n",
                u.sysname().to_string_lossy(),
                u.nodename().to_string_lossy(),
                u.release().to_string_lossy(),
                u.version().to_string_lossy(),
                u.machine().to_string_lossy()
            )
        })
        .unwrap_or_else(|e| format!("uname failed: {e}\n"));
    add_bytes(
        &mut tar,
        &format!("{root}/system/uname.txt"),
        uname.as_bytes(),
        &mut missing,
    );
    for (src, dst) in [
        ("/proc/mdstat", "mdstat"),
        ("/proc/net/dev", "net-dev"),
        ("/proc/loadavg", "loadavg"),
        ("/proc/meminfo", "meminfo"),
        ("/proc/uptime", "uptime"),
    ] {
        if let Ok(body) = std::fs::read(src) {
            add_bytes(
                &mut tar,
                &format!("{root}/system/{dst}"),
                &body,
                &mut missing,
            );
        }
    }
    add_bytes(
        &mut tar,
        &format!("{root}/system/links.txt"),
        links().as_bytes(),
        &mut missing,
    );

    if !missing.is_empty() {
        let text: String = missing.iter().map(|m| format!("{m}\n")).collect();
        add_bytes(
            &mut tar,
            &format!("{root}/MISSING.txt"),
            text.as_bytes(),
            &mut Vec::new(),
        );
    }
    let finished = tar
        .into_inner()
        .and_then(|gz| gz.finish())
        .and_then(|f| f.sync_all());
    if let Err(e) = finished {
        fail(format!("cannot finish `{}`: {e}", output.display()));
        return Exit::IoErr;
    }
    let note = if missing.is_empty() {
        String::new()
    } else {
        format!(" ({} items missing, see MISSING.txt inside)", missing.len())
    };
    out(&format!("{}{note}\n", output.display()))
}

fn add_bytes<W: std::io::Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    body: &[u8],
    missing: &mut Vec<String>,
) {
    let mut header = tar::Header::new_gnu();
    header.set_size(body.len() as u64);
    header.set_mode(0o600);
    header.set_mtime(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    );
    header.set_cksum();
    if let Err(e) = tar.append_data(&mut header, path, body) {
        missing.push(format!("{path}: {e}"));
    }
}

fn add_dir<W: std::io::Write>(
    tar: &mut tar::Builder<W>,
    dir: &Path,
    into: &str,
    missing: &mut Vec<String>,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            missing.push(format!("{}: {e}", dir.display()));
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            add_dir(tar, &path, &format!("{into}/{name}"), missing);
        } else if meta.is_file() && !name.ends_with(".lock") {
            match read_tail(&path, meta.len()) {
                Ok(body) => add_bytes(tar, &format!("{into}/{name}"), &body, missing),
                Err(e) => missing.push(format!("{}: {e}", path.display())),
            }
        }
    }
}

/// The newest journal lines of the upkeep unit and of the daemon's pid, when `journalctl`
/// exists; bounded in lines and in time, so a huge or slow journal cannot hang collection.
fn journal_excerpt(pid: Option<u32>) -> Option<String> {
    use std::process::{Command, Stdio};
    const LINES: &str = "5000";
    const WAIT: std::time::Duration = std::time::Duration::from_secs(10);
    let journalctl = ["/usr/bin/journalctl", "/bin/journalctl"]
        .into_iter()
        .find(|p| Path::new(p).exists())?;
    let mut text = String::new();
    let mut selectors = vec!["--unit=upkeep.service".to_string()];
    if let Some(pid) = pid {
        selectors.push(format!("_PID={pid}"));
    }
    for selector in selectors {
        let child = Command::new(journalctl)
            .args([
                "--no-pager",
                "--output=short-iso",
                "--lines",
                LINES,
                &selector,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let Ok(mut child) = child else { continue };
        // Read while it runs: thousands of lines fill a pipe long before it exits.
        let reader = child.stdout.take().map(|mut out| {
            std::thread::spawn(move || {
                let mut body = Vec::new();
                let _ = std::io::Read::read_to_end(&mut out, &mut body);
                body
            })
        });
        let started = std::time::Instant::now();
        let mut late = false;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if started.elapsed() < WAIT => {
                    std::thread::sleep(std::time::Duration::from_millis(50))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    late = true;
                    break;
                }
            }
        }
        text.push_str(&format!("# journalctl {selector}\n"));
        if let Some(body) = reader.and_then(|r| r.join().ok()) {
            text.push_str(&String::from_utf8_lossy(&body));
        }
        if late {
            text.push_str("# (cut: no end within 10 s)\n");
        }
    }
    Some(text)
}

fn read_tail(path: &Path, len: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    if len > MAX_FILE {
        f.seek(SeekFrom::Start(len - MAX_FILE))?;
    }
    let mut body = Vec::new();
    f.take(MAX_FILE).read_to_end(&mut body)?;
    Ok(body)
}

/// Network links from sysfs: name, operstate, carrier, address.
fn links() -> String {
    let mut out = String::new();
    let Ok(entries) = std::fs::read_dir("/sys/class/net") else {
        return "no /sys/class/net\n".into();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let read = |f: &str| {
            std::fs::read_to_string(format!("/sys/class/net/{name}/{f}"))
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "-".into())
        };
        out.push_str(&format!(
            "{name} operstate={} carrier={} address={} mtu={}\n",
            read("operstate"),
            read("carrier"),
            read("address"),
            read("mtu")
        ));
    }
    out
}
