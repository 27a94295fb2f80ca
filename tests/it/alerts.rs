//! Alerts end to end (issue 11, MSG-1..7) on the real binary: the alert log survives a daemon
//! restart, syslog lines reach a real rsyslogd in order, and a killed process reaches every
//! channel once (syslog, alert log, mail through a real Postfix, the program); a stopped mail
//! server blocks nothing. The servers come from Debian's packages (`tests/it/servers.rs`); a
//! test without its server prints `SKIPPED` and returns.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use upkeep::control::proto::{EventDto, Request, Response};

use crate::real_daemon::{output, text, upkeep, Daemon};
use crate::servers::{skip, Postfix, Rsyslog};

/// One group with a long-lived process `app`, watched by the pid monitor `pidw`; `alerts` is
/// the configuration's alerts section.
fn config(home: &Path, alerts: &str) -> std::path::PathBuf {
    let path = home.join("alerts.ron");
    fs::write(
        &path,
        format!(
            r#"(
    name: "SSS",
    edition: "SSS",
    os_actions: Simulated,
    groups: [(
        name: "g1",
        startup: Auto,
        resources: [(
            name: "app",
            start: (program: "/bin/sh", args: ["-c", "exec sleep 2147483647"]),
            mode: Async,
            kill_grace: "2s",
            activation: (retries: 0, final_action: NoOpStopChain),
            deactivation: (retries: 0, final_action: NoOpDeactivateNext),
        )],
    )],
    monitors: [(
        name: "pidw",
        kind: Pid(resource: "app"),
        interval: "1s",
        timeout: "60s",
        retries: 0,
        start_wait: "0s",
        recovery: (target: Resource("app"), reactivation_threshold: 9, final_action: NoOp),
    )],
    alerts: ({alerts}),
)"#
        ),
    )
    .expect("write config");
    path
}

fn wait_events(d: &mut Daemon, what: &str, ok: impl Fn(&[EventDto]) -> bool) -> Vec<EventDto> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(code)) = d.child.try_wait() {
            panic!("daemon exited ({code}) waiting for {what}\n{}", d.output());
        }
        // Nothing yet while the socket is not up.
        let all = match d.request(&Request::events(0)) {
            Some(Response::Events(reply)) => reply.events,
            _ => Vec::new(),
        };
        if ok(&all) {
            return all;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {:#?}\n{}",
            all.iter().map(|e| &e.line).collect::<Vec<_>>(),
            d.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn count(events: &[EventDto], module: &str, id: u32) -> usize {
    events
        .iter()
        .filter(|e| e.module == module && e.event_id == id)
        .count()
}

fn cli(home: &Path, args: &[&str]) -> (i32, String) {
    let out = output(
        upkeep(home)
            .env("UPKEEP_SOCKET", home.join("s.sock"))
            .args(args),
    );
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

#[test]
fn events_before_a_daemon_restart_are_still_listed_after_it() {
    let home = tempfile::tempdir().expect("tempdir");
    let conf = config(home.path(), "syslog: (enabled: false)");
    let mut first = Daemon::on(home.path(), Some(&conf), "1");
    wait_events(&mut first, "pidw started", |e| count(e, "rm", 1) == 1);
    assert!(first.terminate().success(), "{}", first.output());
    let before: Vec<String> = fs::read_to_string(home.path().join("st/alerts/alerts.log"))
        .expect("the alert log")
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(
        before
            .last()
            .is_some_and(|l| l.contains("Cluster daemon has stopped.")),
        "the first daemon's last event is in the log: {before:#?}"
    );

    let mut second = Daemon::on(home.path(), Some(&conf), "2");
    let all = wait_events(&mut second, "the second start", |e| count(e, "rm", 1) == 2);
    // Both lives, in order, numbered without going back or repeating.
    let seqs: Vec<u64> = all.iter().map(|e| e.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(seqs[0], 1);
    let lines: Vec<&str> = all.iter().map(|e| e.line.as_str()).collect();
    let stopped = lines
        .iter()
        .position(|l| *l == "<type: pm><event: 3> Cluster daemon has stopped.")
        .expect("the first daemon's stop");
    let restarted = lines
        .iter()
        .rposition(|l| *l == "<type: pm><event: 1> Cluster daemon has started properly...")
        .expect("the second start");
    assert!(stopped < restarted, "{lines:#?}");
    // `events --since N` from before the restart continues from the log.
    let since = all[stopped - 1].seq;
    let (code, shown) = cli(home.path(), &["events", "--since", &since.to_string()]);
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown
            .lines()
            .next()
            .is_some_and(|l| l.contains("Cluster daemon has stopped.")),
        "{shown}"
    );
    // `upkeep alerts --json` reads the same log.
    let (code, json) = cli(home.path(), &["alerts", "--json"]);
    assert_eq!(code, 0, "{json}");
    let reply: Value = serde_json::from_str(&json).expect("json");
    let alerts = reply["alerts"].as_array().expect("alerts");
    assert!(alerts
        .iter()
        .any(|a| a["line"] == "<type: pm><event: 3> Cluster daemon has stopped."));
    assert!(alerts
        .iter()
        .all(|a| a["send"].as_str().is_some_and(|s| s.contains("alert"))));
    // A clean stop numbers on without a gap.
    assert_eq!(all[restarted].seq, all[stopped].seq + 1, "{seqs:?}");

    // A daemon killed outright may have lost queued numbers: the next one skips past them and
    // says so.
    let last = all.last().expect("events").seq;
    nix::sys::signal::kill(second.pid(), nix::sys::signal::Signal::SIGKILL).expect("kill");
    let _ = second.child.wait();
    let mut third = Daemon::on(home.path(), Some(&conf), "3");
    let all = wait_events(&mut third, "the third start", |e| count(e, "rm", 1) == 3);
    let first_new = all
        .iter()
        .rfind(|e| e.line == "<type: pm><event: 1> Cluster daemon has started properly...")
        .expect("third start")
        .seq;
    assert!(first_new > last + 4096, "{last} then {first_new}");
    assert!(
        third.output().contains("did not stop in order"),
        "{}",
        third.output()
    );
    assert_eq!(third.terminate().code(), Some(0));
}

#[test]
fn syslog_lines_reach_a_real_rsyslogd_exactly_and_in_order() {
    let home = tempfile::tempdir().expect("tempdir");
    let Some(rsyslog) = Rsyslog::start(&home.path().join("rsyslog")) else {
        return skip(
            "alerts::syslog_lines_reach_a_real_rsyslogd",
            "no rsyslogd (Debian package `rsyslog`)",
        );
    };
    let conf = config(
        home.path(),
        &format!(
            r#"syslog: (socket: "{}", ident: "CLUSTERPRO")"#,
            rsyslog.socket.display()
        ),
    );
    let mut d = Daemon::on(home.path(), Some(&conf), "1");
    wait_events(&mut d, "pidw started", |e| count(e, "rm", 1) == 1);
    let pid = d.child.id();
    assert!(d.terminate().success(), "{}", d.output());
    let log: Vec<EventDto> = fs::read_to_string(home.path().join("st/alerts/alerts.log"))
        .expect("alert log")
        .lines()
        .map(|l| serde_json::from_str(l).expect("entry"))
        .collect();
    let severity = |level: &str| match level {
        "error" => "err",
        "warning" => "warning",
        _ => "info",
    };
    let expected: Vec<String> = log
        .iter()
        .map(|e| {
            format!(
                "daemon.{} CLUSTERPRO[{pid}]: {}",
                severity(&e.level),
                e.line
            )
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = rsyslog.lines();
    while got.len() < expected.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        got = rsyslog.lines();
    }
    assert_eq!(got, expected);
    assert!(
        got.contains(&format!(
            "daemon.info CLUSTERPRO[{pid}]: <type: rc><event: 30> The start processing of a resource app started."
        )),
        "{got:#?}"
    );
}

/// A free loopback port for the mail server.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[test]
fn a_killed_process_reaches_every_channel_once_and_a_stopped_mail_server_blocks_nothing() {
    let home = tempfile::tempdir().expect("tempdir");
    let Some(rsyslog) = Rsyslog::start(&home.path().join("rsyslog")) else {
        return skip(
            "alerts::a_killed_process_reaches_every_channel_once",
            "no rsyslogd (Debian package `rsyslog`)",
        );
    };
    let Some(mut postfix) = Postfix::start(&home.path().join("postfix"), free_port(), None) else {
        return skip(
            "alerts::a_killed_process_reaches_every_channel_once",
            "no Postfix to run as root (Debian package `postfix`)",
        );
    };
    let runs = home.path().join("runs");
    fs::create_dir(&runs).expect("runs");
    let conf = config(
        home.path(),
        &format!(
            r#"
        syslog: (socket: "{socket}"),
        mail: (
            server: "127.0.0.1", port: {port}, security: Plain,
            from: "upkeep@server1.example.org", to: ["ops@example.org", "pager@example.org"],
            window: "1s", timeout: "5s", retries: 1,
        ),
        program: (
            path: "/bin/sh",
            args: ["-c", "env | grep ^UPKEEP_ | sort > \"$0/run-$UPKEEP_SEQ\"", "{runs}"],
            timeout: "5s",
        ),
    "#,
            socket = rsyslog.socket.display(),
            port = postfix.port,
            runs = runs.display()
        ),
    );
    let mut d = Daemon::on(home.path(), Some(&conf), "1");
    wait_events(&mut d, "pidw started", |e| count(e, "rm", 1) == 1);
    let (code, said) = cli(home.path(), &["inject", "kill", "app"]);
    assert_eq!(code, 0, "{said}");
    let all = wait_events(&mut d, "the monitor's error and the reactivation", |e| {
        count(e, "rm", 9) == 1 && count(e, "rc", 31) == 2
    });
    let error = all
        .iter()
        .find(|e| e.module == "rm" && e.event_id == 9)
        .expect("rm 9");
    assert!(
        error.text.starts_with("Monitor pidw failed."),
        "{}",
        error.text
    );

    // Mail: one, to both recipients, naming the server and the event.
    let mails = postfix.wait_for_mails(2, Duration::from_secs(15));
    assert_eq!(
        mails.len(),
        2,
        "one mail per recipient: {mails:#?}\n{}",
        fs::read_to_string(&postfix.maillog).unwrap_or_default()
    );
    let host = nix::unistd::gethostname()
        .expect("hostname")
        .into_string()
        .expect("utf-8");
    for mail in mails.iter().map(|m| readable(m)) {
        let mail = &mail;
        assert!(mail.contains("From: upkeep@server1.example.org"), "{mail}");
        assert!(
            mail.contains("To: ops@example.org, pager@example.org"),
            "{mail}"
        );
        assert!(
            mail.contains(&format!("Subject: [upkeep] {host}: rm 9 {}", error.text)),
            "{mail}"
        );
        assert!(mail.contains(&error.line), "{mail}");
    }
    // Program: one run, the event in its environment.
    let deadline = Instant::now() + Duration::from_secs(10);
    let run = runs.join(format!("run-{}", error.seq));
    while !run.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let env = fs::read_to_string(&run).expect("the program ran for rm 9");
    assert!(env.contains("UPKEEP_EVENT_ID=9\n"), "{env}");
    assert!(env.contains("UPKEEP_FIELD_MONITOR=pidw\n"), "{env}");
    assert!(
        env.contains(&format!("UPKEEP_LINE={}\n", error.line)),
        "{env}"
    );
    assert_eq!(
        fs::read_dir(&runs).expect("runs").count(),
        1,
        "only the error is a `.mail` message"
    );
    // Syslog: the error line once, at severity err.
    let wanted = format!("daemon.err upkeep[{}]: {}", d.child.id(), error.line);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !rsyslog.lines().contains(&wanted) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        rsyslog.lines().iter().filter(|l| **l == wanted).count(),
        1,
        "{:#?}",
        rsyslog.lines()
    );
    // Alert log: the error once.
    let (code, json) = cli(home.path(), &["alerts", "--json"]);
    assert_eq!(code, 0, "{json}");
    let reply: Value = serde_json::from_str(&json).expect("json");
    let errors: Vec<&Value> = reply["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .filter(|a| a["module"] == "rm" && a["event_id"] == 9)
        .collect();
    assert_eq!(errors.len(), 1, "{json}");
    assert_eq!(errors[0]["send"], "syslog.alert.mail");

    // The mail server stops: the engine and the socket go on at once, the failure is logged
    // once, and nothing is mailed about it.
    postfix.stop();
    for round in 2..=3 {
        d.wait_for("app running again", |s| {
            s.groups
                .iter()
                .flat_map(|g| &g.resources)
                .any(|r| r.name == "app" && r.pid.is_some())
        });
        let (code, said) = cli(home.path(), &["inject", "kill", "app"]);
        assert_eq!(code, 0, "{said}");
        wait_events(&mut d, "the next error", |e| count(e, "rm", 9) == round);
        let asked = Instant::now();
        assert!(d.status().is_some());
        assert!(
            asked.elapsed() < Duration::from_secs(1),
            "status took {:?}",
            asked.elapsed()
        );
    }
    // Two failing batches (1 s window, 1 retry after 1 s each).
    let deadline = Instant::now() + Duration::from_secs(15);
    let failed = || {
        let (_, json) = cli(home.path(), &["alerts", "--json"]);
        let reply: Value = serde_json::from_str(&json).unwrap_or_default();
        reply["channels"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == "mail"))
            .and_then(|c| c["failed"].as_u64())
            .unwrap_or(0)
    };
    while failed() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(failed(), 2, "both errors counted as not mailed");
    let out = d.output();
    assert_eq!(out.matches("mail: cannot send").count(), 1, "{out}");
    assert_eq!(d.terminate().code(), Some(0));
}

/// A mail as a reader sees it: folded headers unfolded, the quoted-printable body decoded.
fn readable(mail: &str) -> String {
    let unfolded = mail.replace("\n ", " ").replace("\n\t", " ");
    let joined = unfolded.replace("=\n", "");
    let mut out = String::new();
    let mut rest = joined.as_str();
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            Some(b) => {
                out.push(char::from(b));
                rest = &rest[i + 3..];
            }
            None => {
                out.push('=');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn message_files_change_text_and_mail_and_a_mistake_is_refused_with_its_line() {
    let home = tempfile::tempdir().expect("tempdir");
    let messages = home.path().join("messages");
    let (code, said) = cli(
        home.path(),
        &["messages", "install", messages.to_str().expect("utf-8")],
    );
    assert_eq!(code, 0, "{said}");
    let (code, said) = cli(
        home.path(),
        &["messages", "check", messages.to_str().expect("utf-8")],
    );
    assert_eq!(code, 0, "{said}");
    // MSG-4: the admin turns mail on for rm 1 and changes its text.
    let rm = messages.join("rm.msg.us");
    let text = fs::read_to_string(&rm).expect("rm.msg.us");
    let default = "ID=1 SEND=syslog.alert MSG=Monitor {monitor} start. LVL=INFO";
    assert!(text.contains(default), "{text}");
    fs::write(
        &rm,
        text.replace(
            default,
            "ID=1 SEND=syslog.alert.mail MSG=Watching {monitor} now. LVL=INFO",
        ),
    )
    .expect("edit");
    // The configuration beside the folder picks it up.
    let conf = config(home.path(), "syslog: (enabled: false)");
    let (code, said) = cli(
        home.path(),
        &["config", "check", conf.to_str().expect("utf-8")],
    );
    assert_eq!(code, 0, "{said}");
    let mut d = Daemon::on(home.path(), Some(&conf), "1");
    let all = wait_events(&mut d, "pidw started", |e| count(e, "rm", 1) == 1);
    let start = all
        .iter()
        .find(|e| e.module == "rm" && e.event_id == 1)
        .expect("rm 1");
    assert_eq!(start.line, "<type: rm><event: 1> Watching pidw now.");
    assert_eq!(start.send.as_deref(), Some("syslog.alert.mail"));
    assert_eq!(d.terminate().code(), Some(0));

    // A mistake: an unknown channel, with file and line; check, config check and the daemon
    // all refuse (exit 78).
    let edited = fs::read_to_string(&rm).expect("rm.msg.us");
    let line = edited
        .lines()
        .position(|l| l.starts_with("ID=9 "))
        .expect("rm 9")
        + 1;
    fs::write(
        &rm,
        edited.replace("ID=9 SEND=syslog.alert.mail", "ID=9 SEND=syslog.pager"),
    )
    .expect("edit");
    let (code, said) = cli(
        home.path(),
        &["messages", "check", messages.to_str().expect("utf-8")],
    );
    assert_eq!(code, 78, "{said}");
    assert!(
        said.contains(&format!(
            "{}:{line}: unknown channel `pager` in SEND",
            rm.display()
        )),
        "{said}"
    );
    let (code, said) = cli(
        home.path(),
        &["config", "check", conf.to_str().expect("utf-8")],
    );
    assert_eq!(code, 78, "{said}");
    let mut refused = Daemon::on(home.path(), Some(&conf), "2");
    let status = refused.child.wait().expect("wait");
    assert_eq!(status.code(), Some(78), "{}", refused.output());
    assert!(
        refused.output().contains("unknown channel `pager`"),
        "{}",
        refused.output()
    );
}

#[test]
fn a_misspelt_log_level_is_refused_everywhere() {
    let home = tempfile::tempdir().expect("tempdir");
    let (code, said) = cli(home.path(), &["log", "level", "debgu"]);
    assert_eq!(code, 64, "{said}");
    assert!(
        said.contains("unknown level `debgu`; did you mean `debug`?"),
        "{said}"
    );
    let conf = home.path().join("bad.ron");
    fs::write(
        &conf,
        "(name: \"SSS\", edition: \"SSS\", log: (level: \"debgu\"))",
    )
    .expect("write");
    let (code, said) = cli(
        home.path(),
        &["config", "check", conf.to_str().expect("utf-8")],
    );
    assert_eq!(code, 78, "{said}");
    assert!(
        said.contains("log.level") && said.contains("did you mean `debug`"),
        "{said}"
    );
}

#[test]
fn under_the_journal_every_stderr_line_carries_its_priority() {
    use std::os::unix::fs::MetadataExt;
    let home = tempfile::tempdir().expect("tempdir");
    let conf = config(home.path(), "syslog: (enabled: false)");
    let stderr = home.path().join("journal.out");
    let file = fs::File::create(&stderr).expect("create");
    let meta = file.metadata().expect("stat");
    let socket = home.path().join("s.sock");
    let mut cmd = upkeep(home.path());
    cmd.env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
        .arg("daemon")
        .arg("--config")
        .arg(&conf)
        .arg("--state-dir")
        .arg(home.path().join("st"))
        .arg("--socket")
        .arg(&socket);
    let mut d = Daemon::start(cmd, &socket, &stderr);
    wait_events(&mut d, "pidw started", |e| count(e, "rm", 1) == 1);
    assert_eq!(d.terminate().code(), Some(0));
    let out = fs::read_to_string(&stderr).expect("stderr");
    assert!(!out.is_empty());
    for line in out.lines() {
        assert!(
            ["<3>", "<4>", "<6>", "<7>"]
                .iter()
                .any(|p| line.starts_with(p)),
            "{line:?}"
        );
    }
    assert!(
        out.lines().any(|l| l.starts_with("<6>") && l.contains("<type: rm><event: 1> Monitor pidw start.")),
        "{out}"
    );
    // The daemon's own log file, in its state folder (no --log-dir), has no prefix and no colour.
    let logs: String = fs::read_dir(home.path().join("st/log"))
        .expect("the daemon's own log folder")
        .filter_map(|e| fs::read_to_string(e.ok()?.path()).ok())
        .collect();
    assert!(logs.contains("Monitor pidw start."), "{logs}");
    assert!(!logs.contains('\u{1b}') && !logs.contains("<6>"), "{logs}");
}

#[test]
fn a_terminal_on_stderr_puts_no_colour_codes_into_the_log_file() {
    use std::io::Read;
    let home = tempfile::tempdir().expect("tempdir");
    let conf = config(home.path(), "syslog: (enabled: false)");
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let mut master = fs::File::from(pty.master);
    // Drained all along, so the daemon never blocks on a full terminal.
    let seen = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        all
    });
    let socket = home.path().join("s.sock");
    let child = upkeep(home.path())
        .arg("daemon")
        .arg("--config")
        .arg(&conf)
        .arg("--state-dir")
        .arg(home.path().join("st"))
        .arg("--socket")
        .arg(&socket)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::from(pty.slave))
        .spawn()
        .expect("spawn");
    let mut d = Daemon::adopt(child, &socket, &home.path().join("none.out"));
    wait_events(&mut d, "pidw started", |e| count(e, "rm", 1) == 1);
    assert_eq!(d.terminate().code(), Some(0));
    drop(d);
    let terminal = String::from_utf8_lossy(&seen.join().expect("reader")).into_owned();
    assert!(
        terminal.contains('\u{1b}'),
        "the terminal got colour: {terminal}"
    );
    let logs: String = fs::read_dir(home.path().join("st/log"))
        .expect("log folder")
        .filter_map(|e| fs::read_to_string(e.ok()?.path()).ok())
        .collect();
    assert!(logs.contains("Monitor pidw start."), "{logs}");
    assert!(!logs.contains('\u{1b}'), "{logs}");
}

/// A test CA and a certificate for `localhost` signed by it, made with openssl; `None` without it.
fn test_certificates(
    dir: &Path,
) -> Option<(std::path::PathBuf, std::path::PathBuf, std::path::PathBuf)> {
    let run = |args: &[&str]| {
        std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .ok()?;
    let ok = run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=upkeep test CA",
    ]) && run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "srv.key",
        "-out",
        "srv.csr",
        "-subj",
        "/CN=localhost",
    ]) && run(&[
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "srv.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    if !ok {
        return None;
    }
    use std::os::unix::fs::PermissionsExt;
    // Postfix's smtpd reads the key.
    fs::set_permissions(dir.join("srv.key"), fs::Permissions::from_mode(0o644)).ok()?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).ok()?;
    Some((dir.join("ca.pem"), dir.join("srv.pem"), dir.join("srv.key")))
}

#[test]
fn mail_goes_over_starttls_to_a_real_postfix_trusting_a_private_ca() {
    let home = tempfile::tempdir().expect("tempdir");
    let certs = home.path().join("certs");
    fs::create_dir(&certs).expect("certs");
    let Some((ca, cert, key)) = test_certificates(&certs) else {
        return skip(
            "alerts::mail_goes_over_starttls",
            "no openssl to make a test certificate",
        );
    };
    let Some(postfix) = Postfix::start(
        &home.path().join("postfix"),
        free_port(),
        Some((&cert, &key)),
    ) else {
        return skip(
            "alerts::mail_goes_over_starttls",
            "no Postfix to run as root (Debian package `postfix`)",
        );
    };
    let conf = config(
        home.path(),
        &format!(
            r#"syslog: (enabled: false),
        mail: (
            server: "localhost", port: {port}, security: StartTls, ca_file: "{ca}",
            from: "upkeep@server1.example.org", to: ["ops@example.org"], window: "1s",
        ),"#,
            port = postfix.port,
            ca = ca.display()
        ),
    );
    let mut d = Daemon::on(home.path(), Some(&conf), "1");
    wait_events(&mut d, "pidw started", |e| count(e, "rm", 1) == 1);
    let (code, said) = cli(home.path(), &["inject", "kill", "app"]);
    assert_eq!(code, 0, "{said}");
    let mails = postfix.wait_for_mails(1, Duration::from_secs(15));
    assert_eq!(
        mails.len(),
        1,
        "{}\n{}",
        fs::read_to_string(&postfix.maillog).unwrap_or_default(),
        d.output()
    );
    let mail = readable(&mails[0]);
    // Postfix writes ESMTPS for a session under TLS; it required STARTTLS anyway.
    assert!(mail.contains("with ESMTPS id"), "{mail}");
    assert!(mail.contains("rm 9 Monitor pidw failed."), "{mail}");
    assert_eq!(d.terminate().code(), Some(0));
}
