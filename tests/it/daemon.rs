//! The real `upkeep` binary, end to end (OPS-1, OPS-5, CMD-1, MON-10..12, PROC-2): the daemon runs
//! the built-in demo, `status` sees it over the control socket, a SIGKILLed demo process is
//! recovered, SIGTERM stops everything in order and leaves no process or socket behind; a final
//! action that stops the daemon ends the process; the daemon runs unprivileged on XDG folders; `config check` and a missing daemon give the
//! documented exit statuses (sysexits: 66, 69, 78).
//!
//! Every daemon here runs the built-in demo: OS actions simulated.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use upkeep::control::proto::{Request, Response, StatusReply};

use crate::real_daemon::{isolate, output, text, upkeep, Daemon, BIN};

/// The demo's process, as `/bin/sh -c "exec sleep 2147483647"` leaves it.
const DEMO_ARG: &str = "2147483647";

fn demo(status: &StatusReply) -> Option<(&str, &str, Option<u32>)> {
    let group = status.groups.iter().find(|g| g.name == "demo")?;
    let res = group.resources.iter().find(|r| r.name == "demo-app")?;
    Some((group.state.as_str(), res.state.as_str(), res.pid))
}

fn demo_online(status: &StatusReply) -> bool {
    // The server turns online just after its last group: wait for both, as the test reads both.
    status.server.state == "online" && matches!(demo(status), Some(("online", "online", Some(_))))
}

/// `(pid, ppid, pgid)` of every process, from /proc.
fn processes() -> Vec<(i32, i32, i32)> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let pid: i32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // After the command name in parentheses: state ppid pgrp ...
        let mut rest = stat.get(stat.rfind(')')? + 2..)?.split_whitespace();
        let state = rest.next()?;
        let ppid = rest.next()?.parse().ok()?;
        let pgid = rest.next()?.parse().ok()?;
        (state != "Z").then_some((pid, ppid, pgid))
    })
    .collect()
}

fn cmdline(pid: i32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| text(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// Wait until no live process is in any of `groups`.
fn wait_groups_gone(groups: &[i32]) -> Vec<(i32, i32, i32)> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left: Vec<_> = processes()
            .into_iter()
            .filter(|(_, _, pgid)| groups.contains(pgid))
            .collect();
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn demo_runs_recovers_a_killed_process_and_stops_without_leftovers() {
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path();
    let socket = dir.join("s.sock");
    let mut cmd = upkeep(dir);
    cmd.arg("daemon")
        .arg("--state-dir")
        .arg(dir.join("st"))
        .arg("--socket")
        .arg(&socket)
        .arg("--log-dir")
        .arg(dir.join("log"));
    let mut daemon = Daemon::start(cmd, &socket, &dir.join("daemon.out"));

    let first = daemon.wait_for("demo online", demo_online);
    let old = demo(&first).and_then(|d| d.2).expect("pid") as i32;
    assert_eq!(first.server.state, "online");
    assert_eq!(first.server.os_actions, "simulated");
    assert!(cmdline(old).contains(DEMO_ARG), "{}", cmdline(old));
    let mode = fs::metadata(&socket).expect("socket").permissions().mode() & 0o777;
    let expected = if nix::unistd::geteuid().is_root() {
        0o660
    } else {
        0o600
    };
    assert_eq!(mode, expected, "socket mode {mode:o}");

    // The CLI prints exactly the wire type.
    let json = output(
        upkeep(dir)
            .args(["status", "--json", "--socket"])
            .arg(&socket),
    );
    assert!(json.status.success(), "{}", text(&json.stderr));
    let printed: StatusReply =
        serde_json::from_slice(&json.stdout).expect("--json is a StatusReply");
    assert_eq!(demo(&printed).map(|d| d.1), Some("online"));
    let human = output(upkeep(dir).args(["status", "--socket"]).arg(&socket));
    let table = text(&human.stdout);
    assert!(
        human.status.success() && table.contains("demo-app") && table.contains("reboot count 0/3"),
        "{table}"
    );

    // A second daemon on the same socket is refused, and the first one is not disturbed.
    let second = output(
        upkeep(dir)
            .arg("daemon")
            .arg("--state-dir")
            .arg(dir.join("st2"))
            .arg("--socket")
            .arg(&socket)
            .arg("--log-dir")
            .arg(dir.join("log2")),
    );
    assert_eq!(second.status.code(), Some(69), "{}", text(&second.stderr));
    assert!(
        text(&second.stderr).contains("already serving"),
        "{}",
        text(&second.stderr)
    );

    // MON-10..12: the pid monitor notices the kill and reactivates the resource.
    kill(Pid::from_raw(old), Signal::SIGKILL).expect("kill the demo process");
    let after = daemon.wait_for("a new demo process", |s| {
        demo_online(s) && demo(s).and_then(|d| d.2) != Some(old as u32)
    });
    let new = demo(&after).and_then(|d| d.2).expect("pid") as i32;
    let lines = daemon.event_lines();
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    assert!(
        has("<type: rm><event: 9> Monitor demo-pid failed.")
            && has("<type: rm><event: 11> Monitor demo-pid reactivates the recovery target demo-app. (1/3)"),
        "{lines:#?}"
    );

    let children: Vec<i32> = processes()
        .into_iter()
        .filter(|&(pid, ppid, _)| ppid == daemon.pid().as_raw() && cmdline(pid).contains(DEMO_ARG))
        .map(|(pid, ..)| pid)
        .collect();
    assert_eq!(children, vec![new], "the daemon's demo children");

    // OPS-5: an orderly stop deactivates the group, removes the socket and exits 0.
    let status = daemon.terminate();
    assert_eq!(status.code(), Some(0), "{}", daemon.output());
    assert!(!socket.exists(), "the socket is left behind");
    let left = wait_groups_gone(&[old, new]);
    assert!(
        left.is_empty(),
        "processes left in the demo's groups: {left:?}"
    );
    let out = daemon.output();
    assert!(out.contains("Cluster daemon has stopped."), "{out}");
    let logs: Vec<_> = fs::read_dir(dir.join("log")).expect("log folder").collect();
    assert_eq!(logs.len(), 1, "one daily log file");
}

#[test]
fn runs_unprivileged_on_xdg_folders() {
    const NOBODY: u32 = 65534;
    if !nix::unistd::geteuid().is_root() {
        crate::servers::skip(
            module_path!(),
            &format!("switching to uid {NOBODY} needs root"),
        );
        return;
    }
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path();
    std::os::unix::fs::chown(dir, Some(NOBODY), Some(NOBODY)).expect("chown");
    let as_nobody = |args: &[&str]| {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            BIN,
        ])
        .args(args);
        isolate(&mut cmd, dir);
        cmd
    };
    match as_nobody(&["--version"]).output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            crate::servers::skip(
                module_path!(),
                &format!("uid {NOBODY} cannot run {BIN}: {}", text(&o.stderr)),
            );
            return;
        }
        Err(e) => {
            crate::servers::skip(
                module_path!(),
                &format!("setpriv is not available ({e}); .ci/run installs util-linux"),
            );
            return;
        }
    }
    // No --socket, --state-dir or --log-dir: the XDG defaults.
    let socket = dir.join("run/upkeep/upkeep.sock");
    let mut daemon = Daemon::start(as_nobody(&["daemon"]), &socket, &dir.join("daemon.out"));
    let status = daemon.wait_for("demo online", demo_online);
    let (_, _, pid) = demo(&status).expect("demo");
    let owner = fs::metadata(format!("/proc/{}", pid.expect("pid"))).expect("demo process");
    assert_eq!(owner.uid(), NOBODY, "the demo runs as the daemon's user");
    let meta = fs::metadata(&socket).expect("socket");
    assert_eq!(
        (meta.uid(), meta.permissions().mode() & 0o777),
        (NOBODY, 0o600)
    );
    let state = fs::metadata(dir.join("state/upkeep")).expect("state folder");
    assert_eq!(state.permissions().mode() & 0o777, 0o700);
    assert!(
        dir.join("state/upkeep/log").is_dir(),
        "logs under the state folder"
    );

    let human = output(&mut as_nobody(&["status"]));
    assert!(human.status.success(), "{}", text(&human.stderr));
    assert!(
        text(&human.stdout).contains("online"),
        "{}",
        text(&human.stdout)
    );

    assert_eq!(daemon.terminate().code(), Some(0), "{}", daemon.output());
    assert!(!socket.exists());
}

#[test]
fn a_final_action_that_stops_the_daemon_ends_the_process() {
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path();
    // The demo, but its process ends at once and its monitor's final action is StopDaemon.
    let mut ron = upkeep_config::DEFAULT_CONFIG.to_string();
    for (from, to) in [
        ("\"exec sleep 2147483647\"", "\"exit 0\""),
        ("reactivation_threshold: 3", "reactivation_threshold: 0"),
        ("final_action: StopGroup", "final_action: StopDaemon"),
    ] {
        assert!(ron.contains(from), "the demo no longer has {from}");
        ron = ron.replace(from, to);
    }
    assert!(ron.contains("os_actions: Simulated"));
    let config = dir.join("stopper.ron");
    fs::write(&config, ron).expect("write");
    let mut daemon = Daemon::on(dir, Some(&config), "1");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        match daemon.child.try_wait() {
            Ok(Some(status)) => break status,
            _ if Instant::now() > deadline => panic!("still running:\n{}", daemon.output()),
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let out = daemon.output();
    assert_eq!(status.code(), Some(0), "{out}");
    assert!(
        out.contains("Final action of monitor demo-pid: StopDaemon."),
        "{out}"
    );
    assert!(out.contains("Cluster daemon has stopped."), "{out}");
    assert!(!daemon.socket.exists(), "the socket is left behind");
}

#[test]
fn an_invalid_config_keeps_the_daemon_from_starting() {
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path();
    let bad = dir.join("bad.ron");
    fs::write(&bad, "(\n  name: \"SSS\",\n  groups: [ ( name: 5 ) ],\n)\n").expect("write");
    let out = output(
        upkeep(dir)
            .arg("daemon")
            .arg("--config")
            .arg(&bad)
            .arg("--socket")
            .arg(dir.join("s.sock")),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:3:", bad.display())),
        "{stderr}"
    );
    assert!(stderr.contains("upkeep: refusing to start"), "{stderr}");
    assert!(!dir.join("s.sock").exists());
}

#[test]
fn config_check_reports_positions_and_exit_statuses() {
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path();

    let bad = dir.join("bad.ron");
    fs::write(&bad, "(\n  name: \"SSS\",\n  groups: [ ( name: 5 ) ],\n)\n").expect("write");
    let out = output(upkeep(dir).args(["config", "check"]).arg(&bad));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    let position = format!("{}:3:", bad.display());
    assert!(
        stderr
            .lines()
            .next()
            .is_some_and(|l| l.starts_with(&position)),
        "{stderr}"
    );

    let missing = dir.join("missing.ron");
    let out = output(upkeep(dir).args(["config", "check"]).arg(&missing));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(66), "{stderr}");
    assert!(
        stderr.starts_with("upkeep: ") && stderr.contains(&missing.display().to_string()),
        "{stderr}"
    );

    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/examples");
    let mut checked = 0;
    for entry in fs::read_dir(&examples).expect("config/examples") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "ron") {
            continue;
        }
        let out = output(upkeep(dir).args(["config", "check"]).arg(&path));
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            path.display(),
            text(&out.stderr)
        );
        assert!(
            stdout.starts_with(&format!("{}: ok (", path.display())) && stdout.ends_with(")\n"),
            "{stdout}"
        );
        checked += 1;
    }
    assert!(checked >= 1, "no examples in {}", examples.display());
}

#[test]
fn status_without_a_daemon_says_how_to_start_one() {
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path();
    let socket = dir.join("none.sock");
    let out = output(upkeep(dir).args(["status", "--socket"]).arg(&socket));
    assert_eq!(out.status.code(), Some(69));
    assert_eq!(
        text(&out.stderr),
        format!(
            "upkeep: the daemon is not running (no socket at {}); start it with `upkeep daemon`\n",
            socket.display()
        )
    );
    assert!(out.stdout.is_empty());
}

/// Issue 8, defect 3: the daemon wraps its host in `Faulty` (for `upkeep inject`), and that
/// decorator once fell back to the trait's defaults for the watchdog and the user-space cycle:
/// a Softdog user-space monitor never armed its watchdog and never touched its dummy file. With
/// simulated OS actions the host hands out a simulated watchdog; the dummy file must be written
/// every cycle (USW-5).
#[test]
fn the_shipped_daemon_arms_the_watchdog_and_runs_the_user_space_cycle() {
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path();
    let dummy = dir.join("userw.dummy");
    let ron = upkeep_config::DEFAULT_CONFIG.replace(
        "    monitors: [\n",
        &format!(
            "    monitors: [\n        (\n            name: \"userw\",\n            kind: UserSpace(method: Softdog, dummy_file: (path: \"{}\", write_size: 512), dummy_thread: true),\n            interval: \"1s\",\n            timeout: \"90s\",\n        ),\n",
            dummy.display()
        ),
    );
    assert!(ron.contains("userw"), "the demo's monitor list moved");
    let config = dir.join("userw.ron");
    fs::write(&config, ron).expect("write");
    let mut daemon = Daemon::on(dir, Some(&config), "1");
    daemon.wait_for("the demo online", demo_online);
    let deadline = Instant::now() + Duration::from_secs(10);
    while fs::metadata(&dummy).map(|m| m.len()).unwrap_or(0) < 512 {
        assert!(
            Instant::now() < deadline,
            "the user-space cycle never wrote its dummy file:\n{}",
            daemon.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let lines = daemon.event_lines();
    assert!(
        !lines.iter().any(|l| l.contains("watchdog")),
        "the watchdog could not be opened: {lines:#?}"
    );
    assert!(daemon.terminate().success(), "{}", daemon.output());
}

/// Issue 9: a second daemon on the same state folder is refused and told which pid holds it;
/// the lock file names the holder.
#[test]
fn a_second_daemon_on_the_same_state_folder_names_the_holder() {
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path();
    let state = dir.join("st");
    let first_socket = dir.join("a.sock");
    let mut cmd = upkeep(dir);
    cmd.arg("daemon")
        .arg("--state-dir")
        .arg(&state)
        .arg("--socket")
        .arg(&first_socket)
        .arg("--log-dir")
        .arg(dir.join("log-a"));
    let mut first = Daemon::start(cmd, &first_socket, &dir.join("a.out"));
    first.wait_for("the demo online", demo_online);
    let holder = fs::read_to_string(state.join("daemon.lock")).expect("lock file");
    assert_eq!(holder.trim(), first.pid().to_string());
    let out = output(
        upkeep(dir)
            .arg("daemon")
            .arg("--state-dir")
            .arg(&state)
            .arg("--socket")
            .arg(dir.join("b.sock"))
            .arg("--log-dir")
            .arg(dir.join("log-b")),
    );
    assert_eq!(out.status.code(), Some(69), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!(
            "another upkeep daemon (pid {}) is already running",
            first.pid()
        )),
        "{}",
        text(&out.stderr)
    );
    assert!(first.terminate().success());
}

/// Issue 9: SIGHUP reloads the configuration file (the changes that apply while the groups run)
/// and never ends the daemon; a change that needs a stop and restart is refused and nothing
/// changes. Before, SIGHUP's default action killed the daemon and orphaned its processes.
#[test]
fn sighup_reloads_the_configuration_and_never_kills_the_daemon() {
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path();
    let config = dir.join("upkeep.ron");
    fs::write(&config, upkeep_config::DEFAULT_CONFIG).expect("write");
    let mut daemon = Daemon::on(dir, Some(&config), "1");
    let before = daemon.wait_for("the demo online", demo_online);
    let pid_before = demo(&before).and_then(|d| d.2);

    // A monitor's interval: applied while the groups run.
    let hot = upkeep_config::DEFAULT_CONFIG.replace("interval: \"5s\"", "interval: \"7s\"");
    assert_ne!(hot, upkeep_config::DEFAULT_CONFIG);
    fs::write(&config, &hot).expect("write");
    kill(daemon.pid(), Signal::SIGHUP).expect("SIGHUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !daemon
        .event_lines()
        .iter()
        .any(|l| l.contains("<type: pm><event: 30>"))
    {
        assert!(
            Instant::now() < deadline,
            "not reloaded:\n{}",
            daemon.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    match daemon.request(&Request::ConfigPull { version: 1 }) {
        Some(Response::Config(c)) => assert_eq!(c.text, hot),
        other => panic!("config pull: {other:?}"),
    }

    // A resource change needs a stop and restart: refused, the process is left alone.
    let cold = hot.replace("kill_grace: \"5s\"", "kill_grace: \"6s\"");
    assert_ne!(cold, hot);
    fs::write(&config, &cold).expect("write");
    kill(daemon.pid(), Signal::SIGHUP).expect("SIGHUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !daemon.output().contains("SIGHUP: reload refused") {
        assert!(
            Instant::now() < deadline,
            "no refusal:\n{}",
            daemon.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let after = daemon.wait_for("the demo online", demo_online);
    assert_eq!(
        demo(&after).and_then(|d| d.2),
        pid_before,
        "the process was restarted"
    );
    assert!(daemon.terminate().success(), "{}", daemon.output());
}
