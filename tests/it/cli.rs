//! The operator CLI against a real daemon (CMD-1..9, OPS-1..5, APPLY-2..6, CMD-6d/e; issue 3):
//! every command's effect is asserted in `status --json`, the event feed or the files it writes;
//! the socket survives garbage, truncated, oversized and hundreds of concurrent requests; a
//! non-operator uid may read but not change state; docs/PROTOCOL.md's examples are the wire
//! types.
//!
//! Every daemon here runs small configurations of `/bin/sleep` processes with OS actions
//! simulated; `down` only records "would reboot".

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use upkeep::control::proto::{Request, Response, StatusReply};

const BIN: &str = env!("CARGO_BIN_EXE_upkeep");

/// One group `g` with two sleeping resources, a pid monitor on `a` checking every second.
fn config(monitor_interval: &str, retries: u32) -> String {
    format!(
        r#"(
    name: "SSS",
    edition: "SSS",
    os_actions: Simulated,
    groups: [
        (
            name: "g",
            startup: Auto,
            resources: [
                (name: "a", start: (program: "/bin/sleep", args: ["3600"]), mode: Async,
                 activation: (retries: {retries}, final_action: NoOpStopChain),
                 deactivation: (retries: 0, final_action: NoOpDeactivateNext)),
                (name: "b", start: (program: "/bin/sleep", args: ["3601"]), mode: Async,
                 activation: (retries: 0, final_action: NoOpStopChain),
                 deactivation: (retries: 0, final_action: NoOpDeactivateNext)),
            ],
        ),
    ],
    monitors: [
        (
            name: "a-pid",
            kind: Pid(resource: "a"),
            interval: "{monitor_interval}",
            timeout: "60s",
            recovery: (target: Resource("a"), reactivation_threshold: 3, final_action: StopGroup),
        ),
        (
            name: "ok",
            kind: Custom(program: "/bin/true"),
            interval: "1s",
            timeout: "5s",
            // Injected failures right after `resource start b` must count: no start grace.
            start_grace: "0s",
            recovery: (target: Resource("b"), reactivation_threshold: 1, final_action: NoOp),
        ),
    ],
)
"#
    )
}

struct Daemon {
    child: std::sync::Mutex<Child>,
    dir: tempfile::TempDir,
    socket: PathBuf,
}

impl Daemon {
    fn start(config_text: &str, extra: &[&str]) -> Daemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("upkeep.sock");
        fs::write(dir.path().join("upkeep.ron"), config_text).expect("config");
        let log = fs::File::create(dir.path().join("daemon.out")).expect("log");
        let err = log.try_clone().expect("log");
        let child = Command::new(BIN)
            .arg("daemon")
            .arg("--config")
            .arg(dir.path().join("upkeep.ron"))
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .arg("--log-dir")
            .arg(dir.path().join("log"))
            .arg("--socket")
            .arg(&socket)
            .args(extra)
            .env("UPKEEP_LOG", "info")
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("start the daemon");
        let d = Daemon {
            child: std::sync::Mutex::new(child),
            dir,
            socket,
        };
        d.wait_for("online", |s| {
            s.server.state == "online" && s.groups.iter().all(|g| g.state == "online")
        });
        d
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn output(&self) -> String {
        fs::read_to_string(self.path("daemon.out")).unwrap_or_default()
    }

    fn cmd(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env("UPKEEP_SOCKET", &self.socket)
            .env_remove("NO_COLOR")
            .stdin(Stdio::null());
        cmd
    }

    /// Run `upkeep ARGS`; panics with both outputs unless the exit status is `code`.
    fn run(&self, args: &[&str], code: i32) -> String {
        let out = self.cmd().args(args).output().expect("run upkeep");
        assert_eq!(
            out.status.code(),
            Some(code),
            "upkeep {args:?}\nstdout: {}\nstderr: {}\ndaemon:\n{}",
            text(&out.stdout),
            text(&out.stderr),
            self.output()
        );
        format!("{}{}", text(&out.stdout), text(&out.stderr))
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.run(&all, 0);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
    }

    /// Send one raw request line on the socket; the reply line.
    fn ask(&self, line: &str) -> String {
        let mut s = UnixStream::connect(&self.socket).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        s.write_all(format!("{line}\n").as_bytes()).expect("write");
        let mut reply = String::new();
        let _ = BufReader::new(s).read_line(&mut reply);
        reply
    }

    fn status(&self) -> Option<StatusReply> {
        let out = self.cmd().args(["status", "--json"]).output().ok()?;
        serde_json::from_slice(&out.stdout).ok()
    }

    fn try_wait(&self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.lock().unwrap_or_else(|p| p.into_inner());
        child.try_wait().ok().flatten()
    }

    fn wait_for(&self, what: &str, ok: impl Fn(&StatusReply) -> bool) -> StatusReply {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut last = None;
        while Instant::now() < deadline {
            if let Some(code) = self.try_wait() {
                panic!(
                    "daemon exited ({code}) waiting for {what}:\n{}",
                    self.output()
                );
            }
            if let Some(s) = self.status() {
                if ok(&s) {
                    return s;
                }
                last = Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "timed out waiting for {what}; last {last:#?}\n{}",
            self.output()
        );
    }

    fn exit_status(&self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(s) = self.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.try_wait().is_none() {
            let id = self.child.lock().map(|c| c.id()).unwrap_or(0);
            let pid = Pid::from_raw(i32::try_from(id).unwrap_or(i32::MAX));
            let _ = kill(pid, Signal::SIGTERM);
            if self.exit_status(Duration::from_secs(10)).is_none() {
                if let Ok(mut child) = self.child.lock() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn resource<'a>(s: &'a StatusReply, name: &str) -> &'a upkeep::control::proto::ResourceDto {
    s.groups
        .iter()
        .flat_map(|g| &g.resources)
        .find(|r| r.name == name)
        .expect("resource")
}

fn event_lines(d: &Daemon) -> Vec<String> {
    d.json(&["events"])["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["line"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn every_command_has_its_effect_on_a_real_daemon() {
    let d = Daemon::start(&config("1s", 0), &[]);

    // status, tree, explain.
    let status = d.json(&["status"]);
    assert_eq!(status["server"]["state"], "online");
    let plain = d.run(&["status"], 0);
    assert!(
        plain.contains("a-pid") && !plain.contains('\x1b'),
        "{plain}"
    );
    let tree = d.json(&["tree"]);
    let text_tree = tree.to_string();
    // A monitor that has not failed has no recovery counter yet (issue 14).
    assert!(
        text_tree.contains("\"rc/g/a\"")
            && text_tree.contains("\"rm/a-pid\"")
            && !text_tree.contains("\"rm/a-pid/recovery\""),
        "{text_tree}"
    );
    let pid_a = resource(&d.status().expect("status"), "a")
        .pid
        .expect("pid");
    assert!(
        text_tree.contains(&format!("\"pid\":{pid_a}")),
        "{text_tree}"
    );
    let explained = d.run(&["explain", "a-pid"], 0);
    assert!(
        explained.contains("up to 3 times") && explained.contains("final action: stop the group"),
        "{explained}"
    );
    let wrong = d.run(&["explain", "a-pdi"], 65);
    assert!(wrong.contains("did you mean `a-pid`?"), "{wrong}");

    // suspend / resume (OPS-2, OPS-3): monitors stop, groups keep running.
    d.run(&["suspend"], 0);
    let s = d.wait_for("suspended", |s| s.server.suspended);
    assert_eq!(s.groups[0].state, "online");
    d.run(&["resume"], 0);
    d.wait_for("resumed", |s| !s.server.suspended);

    // monitor suspend --for ends by itself (OPS-4).
    d.run(&["monitor", "suspend", "a-pid", "--for", "1s"], 0);
    let s = d.wait_for("monitor suspended", |s| s.monitors[0].phase == "suspended");
    assert!(s.monitors[0].operator_suspended);
    assert!(
        s.monitors[0].suspended_until.is_some(),
        "status shows until when"
    );
    let s = d.wait_for("suspension over", |s| s.monitors[0].phase != "suspended");
    assert!(!s.monitors[0].operator_suspended && s.monitors[0].suspended_until.is_none());
    d.run(&["monitor", "suspend"], 0);
    d.wait_for("all suspended", |s| s.monitors[0].phase == "suspended");
    d.run(&["monitor", "resume"], 0);
    d.wait_for("all resumed", |s| s.monitors[0].phase != "suspended");

    // group and resource (CMD-4).
    d.run(&["group", "stop", "g"], 0);
    d.wait_for("group offline", |s| s.groups[0].state == "offline");
    d.run(&["group", "start", "g"], 0);
    d.wait_for("group online", |s| s.groups[0].state == "online");
    d.run(&["resource", "stop", "b"], 0);
    d.wait_for("b offline", |s| resource(s, "b").state == "offline");
    d.run(&["resource", "start", "b"], 0);
    d.wait_for("b online", |s| resource(s, "b").state == "online");
    let unknown = d.run(&["group", "start", "nope"], 65);
    assert!(unknown.contains("`nope`"), "{unknown}");

    // inject: a killed process is recovered by the pid monitor.
    let before = resource(&d.status().expect("status"), "a")
        .pid
        .expect("pid");
    d.run(&["inject", "kill", "a"], 0);
    d.wait_for("a restarted", |s| {
        let r = resource(s, "a");
        r.state == "online" && r.pid.is_some_and(|p| p != before)
    });
    let refused = d.run(&["inject", "probe-fails", "a-pid"], 1);
    assert!(refused.contains("upkeep inject kill a"), "{refused}");
    let b_before = resource(&d.status().expect("status"), "b").pid;
    d.run(&["inject", "probe-fails", "ok", "--times", "1"], 0);
    d.wait_for("b reactivated by `ok`", |s| {
        let r = resource(s, "b");
        r.state == "online" && r.pid.is_some() && r.pid != b_before
    });
    d.run(
        &[
            "inject",
            "script-fails",
            "/bin/sleep",
            "--times",
            "1",
            "--code",
            "3",
        ],
        0,
    );
    d.run(&["resource", "stop", "b"], 0);
    let failed = d.run(&["resource", "start", "b"], 2);
    assert!(failed.contains("upkeep events"), "{failed}");
    d.run(&["resource", "start", "b"], 0);
    d.run(&["inject", "probe-hangs", "ok"], 0);
    d.run(&["inject", "clear"], 0);

    // log level (CMD-7).
    assert!(d.run(&["log", "level", "debug"], 0).contains("`debug`"));
    d.run(&["log", "level", "not[a filter"], 64);

    // config pull / show (CMD-6c, BAK-3).
    let pulled = d.path("pulled.ron");
    d.run(&["config", "pull", pulled.to_str().expect("utf-8")], 0);
    assert_eq!(
        fs::read_to_string(&pulled).expect("pulled"),
        fs::read_to_string(d.path("upkeep.ron")).expect("config")
    );
    assert!(d.run(&["config", "show"], 0).contains("a-pid"));

    // events: snapshot, --since, --follow.
    let lines = event_lines(&d);
    assert!(lines.iter().any(|l| l.contains("<event: 1>")), "{lines:?}");
    let all = d.json(&["events"])["events"]
        .as_array()
        .expect("events")
        .len();
    let since = d.json(&["events", "--since", "3"])["events"]
        .as_array()
        .expect("events")
        .len();
    assert_eq!(since, all - 3);
    let mut follow = d
        .cmd()
        .args(["events", "--follow", "--json", "--since", &all.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("follow");
    std::thread::sleep(Duration::from_millis(300));
    d.run(&["suspend"], 0);
    let mut reader = BufReader::new(follow.stdout.take().expect("stdout"));
    let mut first = String::new();
    reader.read_line(&mut first).expect("a followed event");
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(first.contains("suspend"), "{first}");
    d.run(&["resume"], 0);

    // logs collect (CMD-5).
    let archive = d.path("logs.tar.gz");
    d.run(
        &["logs", "collect", "-o", archive.to_str().expect("utf-8")],
        0,
    );
    // Issue 13: without --log-dir/--state-dir, the folders are the running daemon's own (as
    // it reports them in status), not the defaults: its log file and reboot count are in.
    let names = tar_names(&archive);
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("upkeep-logs/logs/upkeep.")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n == "upkeep-logs/state/reboot-count"),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n == "upkeep-logs/config-file/upkeep.ron"),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n == "upkeep-logs/MISSING.txt"),
        "{names:?}"
    );
    let status = d.json(&["status"]);
    assert_eq!(
        status["server"]["state_dir"],
        d.path("state").to_str().expect("utf-8")
    );
    for want in [
        "upkeep-logs/daemon/status.json",
        "upkeep-logs/daemon/tree.json",
        "upkeep-logs/daemon/events.json",
        "upkeep-logs/daemon/config-in-force.json",
        "upkeep-logs/system/uname.txt",
        "upkeep-logs/system/links.txt",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
    }
    assert!(
        names.iter().any(|n| n.starts_with("upkeep-logs/logs/")),
        "{names:?}"
    );

    // stop / start (OPS-5, OPS-1): the process and socket stay up in between.
    d.run(&["stop"], 0);
    let s = d.wait_for("stopped", |s| s.server.state == "stopped");
    assert!(s.groups.iter().all(|g| g.state == "offline"), "{s:#?}");
    // Issue 13: asking for the state it is in already is no error (as systemctl does).
    assert!(d
        .run(&["stop"], 0)
        .contains("already stopped; nothing to do"));
    d.run(&["group", "start", "g"], 1);
    d.run(&["start"], 0);
    d.wait_for("online again", |s| {
        s.server.state == "online" && s.groups[0].state == "online"
    });
    let seqs: Vec<u64> = d.json(&["events"])["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "one numbering: {seqs:?}"
    );

    // down (CMD-3): orderly stop, simulated reboot, the process ends with 0.
    let down = d.run(&["down", "--reboot"], 0);
    assert!(down.contains("simulated"), "{down}");
    let status = d
        .exit_status(Duration::from_secs(10))
        .expect("daemon exits after down");
    assert!(status.success(), "{status:?}\n{}", d.output());
    let out = d.output();
    assert!(
        out.contains("would reboot") || out.contains("Manual reboot"),
        "{out}"
    );
    let gone = d.run(&["status"], 69);
    assert_eq!(gone.lines().count(), 1, "{gone}");
    assert!(gone.contains("upkeep daemon"), "{gone}");
}

/// Every node of `upkeep tree --json` with a restart in its window.
fn restarted(node: &Value, out: &mut Vec<String>) {
    if node["restarts"].as_u64().unwrap_or(0) > 0 {
        out.push(format!("{} ({})", node["path"], node["last_failure"]));
    }
    for child in node["children"].as_array().into_iter().flatten() {
        restarted(child, out);
    }
}

/// Issue 8, defect 4: an operator's typo (`--for 100000years`) or a raw request with a huge
/// `for_s` crashed rm, and four of them made an emergency shutdown (DOWN-3). Every number on
/// the wire is now bounded: exit 64 from the CLI, an `invalid` reply on the socket, and no
/// actor of the tree restarts.
#[test]
fn out_of_range_numbers_are_refused_and_crash_no_core_actor() {
    let d = Daemon::start(&config("1s", 0), &[]);
    for span in ["100000years", "8days"] {
        let out = d.run(&["monitor", "suspend", "a-pid", "--for", span], 64);
        assert!(out.contains("7days"), "{out}");
    }
    d.run(&["inject", "probe-fails", "ok", "--times", "0"], 64);
    d.run(
        &["inject", "script-fails", "/bin/sleep", "--code", "300"],
        64,
    );
    for (raw, field) in [
        (
            r#"{"type":"Monitors","version":1,"action":"suspend","names":["a-pid"],"for_s":1000000000000}"#,
            "for_s",
        ),
        (
            r#"{"type":"Monitors","version":1,"action":"suspend","for_s":9223372036854775808}"#,
            "for_s",
        ),
        (
            r#"{"type":"Monitors","version":1,"action":"suspend","names":["a-pid"],"for_s":18446744073709551615}"#,
            "for_s",
        ),
        (
            r#"{"type":"Monitors","version":1,"action":"suspend","for_s":0}"#,
            "for_s",
        ),
        (
            r#"{"type":"Inject","version":1,"fault":{"fault":"probe_fails","monitor":"ok","times":0}}"#,
            "times",
        ),
        (
            r#"{"type":"Inject","version":1,"fault":{"fault":"script_fails","program":"/bin/sleep","times":1,"code":-9}}"#,
            "code",
        ),
    ] {
        let reply = d.ask(raw);
        assert!(
            reply.contains(r#""kind":"invalid""#) && reply.contains(field),
            "{raw}: {reply}"
        );
    }
    let s = d.status().expect("still serving");
    assert_eq!(s.server.state, "online");
    assert!(
        s.monitors.iter().all(|m| !m.operator_suspended),
        "nothing was suspended: {s:#?}"
    );
    let mut crashed = Vec::new();
    restarted(&d.json(&["tree"])["root"], &mut crashed);
    assert!(crashed.is_empty(), "restarted: {crashed:?}");
    // The bound itself is accepted.
    d.run(&["monitor", "suspend", "a-pid", "--for", "7days"], 0);
    d.wait_for("suspended for a week", |s| s.monitors[0].operator_suspended);
}

/// Issue 8, defect 8: `config apply` installed the file before the live swap; a swap that
/// fails (here: the daemon is going down through a final action when the apply arrives) left
/// the file and `config pull` showing a configuration that was never in force.
#[test]
fn a_failed_live_swap_leaves_the_file_and_pull_on_the_configuration_in_force() {
    // `ok` fails on demand and stops the daemon; `b` does not finish stopping until the test
    // opens the gate, and the apply arrives meanwhile.
    let gate = tempfile::tempdir().expect("gate");
    let open = gate.path().join("open");
    /// Opens the gate however the test ends, so the stop script never outlives it (it also
    /// gives up by itself after 10 s).
    struct OpenOnDrop(PathBuf);
    impl Drop for OpenOnDrop {
        fn drop(&mut self) {
            let _ = fs::write(&self.0, "");
        }
    }
    let original = config("1s", 0)
        .replace(
            r#"start: (program: "/bin/sleep", args: ["3601"]), mode: Async,"#,
            &format!(
                r#"start: (program: "/bin/sleep", args: ["3601"]), mode: Async,
                 stop: (program: "/bin/sh", args: ["-c", "for i in $(seq 500); do [ -e {} ] && exit 0; sleep 0.02; done"]),"#,
                open.display()
            ),
        )
        .replace(
            r#"recovery: (target: Resource("b"), reactivation_threshold: 1, final_action: NoOp),"#,
            r#"recovery: (target: Sss, final_action: StopDaemon),"#,
        );
    let d = Daemon::start(&original, &[]);
    let _gate = OpenOnDrop(open.clone());
    let file = d.path("upkeep.ron");
    let new = d.path("new.ron");
    fs::write(
        &new,
        original.replace(r#"interval: "1s","#, r#"interval: "2s","#),
    )
    .expect("new");

    d.run(&["inject", "probe-fails", "ok"], 0);
    d.wait_for("stopping", |s| s.server.state == "stopping");
    let out = d.run(&["config", "apply", new.to_str().expect("utf-8")], 1);
    assert!(out.contains("stopping"), "{out}");
    assert_eq!(
        fs::read_to_string(&file).expect("file"),
        original,
        "the file on disk"
    );
    let pulled = d.path("pulled.ron");
    d.run(&["config", "pull", pulled.to_str().expect("utf-8")], 0);
    assert_eq!(
        fs::read_to_string(&pulled).expect("pulled"),
        original,
        "config pull"
    );
    let staged: Vec<_> = fs::read_dir(d.path("."))
        .expect("folder")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".upkeep.ron.") && n.ends_with(".tmp"))
        .collect();
    assert!(
        staged.is_empty(),
        "no staged file is left behind: {staged:?}"
    );
    fs::write(&open, "").expect("open the gate");
    d.exit_status(Duration::from_secs(10))
        .expect("the final action ends the daemon");
}

/// Issue 8, defect 9: `inject kill` signalled a pid read from the board (with a `kill(0)`
/// fallback onto the daemon's own process group), and `down` with no engine called the OS
/// action directly. Now the resource's actor kills its own process, and `down` after `stop`
/// still takes the governor's power path (`pm 26`, `pm 22`), simulated.
#[test]
fn inject_kill_and_down_go_through_the_engine() {
    let d = Daemon::start(&config("1s", 0), &[]);
    let unknown = d.run(&["inject", "kill", "nope"], 65);
    assert!(unknown.contains("`nope`"), "{unknown}");
    d.run(&["resource", "stop", "b"], 0);
    d.wait_for("b offline", |s| resource(s, "b").state == "offline");
    let none = d.run(&["inject", "kill", "b"], 1);
    assert!(none.contains("has no running process"), "{none}");

    d.run(&["stop"], 0);
    d.wait_for("stopped", |s| s.server.state == "stopped");
    let down = d.run(&["down", "--reboot"], 0);
    assert!(down.contains("simulated"), "{down}");
    d.exit_status(Duration::from_secs(10))
        .expect("daemon exits after down");
    let out = d.output();
    assert!(
        out.contains("<type: pm><event: 26>")
            && out.contains("<type: pm><event: 22> OS actions are simulated: would reboot now."),
        "the governor's path: {out}"
    );
}

fn tar_names(path: &Path) -> Vec<String> {
    let file = fs::File::open(path).expect("archive");
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    archive
        .entries()
        .expect("entries")
        .filter_map(|e| Some(e.ok()?.path().ok()?.display().to_string()))
        .collect()
}

#[test]
fn config_apply_chooses_and_performs_each_apply_method() {
    let d = Daemon::start(&config("1s", 0), &[]);
    let write = |name: &str, text: String| {
        let p = d.path(name);
        fs::write(&p, text).expect("write");
        p.display().to_string()
    };

    // #1 upload only: the log filter.
    let upload = write(
        "upload.ron",
        config("1s", 0).replace(
            "os_actions: Simulated,",
            "os_actions: Simulated, log: (level: \"debug\"),",
        ),
    );
    let diff = d.run(&["config", "diff", &upload], 0);
    assert!(
        diff.contains("log.level") && diff.contains("upload only"),
        "{diff}"
    );
    let pid_a = resource(&d.status().expect("status"), "a").pid;
    let reply = d.json(&["config", "apply", &upload]);
    assert_eq!(reply["method"], "upload_only");
    assert_eq!(reply["applied"], true);

    // #2 suspend/resume: a monitor's interval; groups keep running (same pid).
    let monitors = write(
        "monitors.ron",
        config("2s", 0).replace(
            "os_actions: Simulated,",
            "os_actions: Simulated, log: (level: \"debug\"),",
        ),
    );
    let reply = d.json(&["config", "apply", &monitors]);
    assert_eq!(reply["method"], "suspend_resume", "{reply}");
    assert_eq!(reply["applied"], true);
    let s = d.wait_for("monitoring", |s| !s.server.suspended);
    assert_eq!(resource(&s, "a").pid, pid_a, "groups kept running");
    assert!(event_lines(&d).iter().any(|l| l.contains("applied")));

    // #3 stop/restart: an activation retry; refused without --restart.
    let groups = write(
        "groups.ron",
        config("2s", 1).replace(
            "os_actions: Simulated,",
            "os_actions: Simulated, log: (level: \"debug\"),",
        ),
    );
    let refused = d.run(&["config", "apply", &groups], 1);
    assert!(
        refused.contains("Need to stop cluster and restart") && refused.contains("--restart"),
        "{refused}"
    );
    let reply = d.json(&["config", "apply", &groups, "--restart"]);
    assert_eq!(reply["method"], "stop_restart");
    assert_eq!(reply["applied"], true);
    let s = d.wait_for("restarted", |s| {
        s.server.state == "online" && resource(s, "a").state == "online"
    });
    assert_ne!(resource(&s, "a").pid, pid_a, "the groups were restarted");
    assert!(d.run(&["config", "show"], 0).contains("retries: 1"));

    // #3' shutdown/reboot: os_actions; installed for the next start, never applied live.
    let reboot = write(
        "reboot.ron",
        config("2s", 1).replace(
            "os_actions: Simulated,",
            "os_actions: Real, log: (level: \"debug\"),",
        ),
    );
    let reply = d.json(&["config", "apply", &reboot]);
    assert_eq!(reply["method"], "reboot");
    assert_eq!(reply["applied"], false);
    assert!(reply["message"]
        .as_str()
        .unwrap_or_default()
        .contains("upkeep down --reboot"));
    assert_eq!(d.status().expect("status").server.os_actions, "simulated");
    // Safety: the installed file must not outlive the test with real OS actions in it.
    fs::write(d.path("upkeep.ron"), config("2s", 1)).expect("restore");
    assert!(fs::read_to_string(d.path("state/config.previous.ron")).is_ok());
}

#[test]
fn clp_names_accept_the_seed_options_and_print_its_results() {
    let d = Daemon::start(&config("1s", 0), &[]);
    let bin = d.path("bin");
    fs::create_dir(&bin).expect("bin");
    for name in ["clpstat", "clpcl", "clpmonctrl", "clpcfctrl", "clpgrp"] {
        std::os::unix::fs::symlink(BIN, bin.join(name)).expect("symlink");
    }
    let clp = |name: &str, args: &[&str], stdin: &str| -> Output {
        let mut child = Command::new(bin.join(name))
            .args(args)
            .env("UPKEEP_SOCKET", &d.socket)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("clp");
        let _ = child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes());
        child.wait_with_output().expect("clp output")
    };
    let all = text(&clp("clpstat", &[], "").stdout);
    for want in [
        "CLUSTER STATUS",
        "  <server>\n   *",
        "  <group>\n    g ..",
        ": Online\n      current        : ",
        "      a              : Online\n",
        "  <monitor>\n    a-pid            : Normal\n",
    ] {
        assert!(all.contains(want), "{want:?} not in\n{all}");
    }
    let groups = text(&clp("clpstat", &["-g"], "").stdout);
    assert!(
        groups.contains("<group>") && !groups.contains("<monitor>"),
        "{groups}"
    );
    let monitors = text(&clp("clpstat", &["-m"], "").stdout);
    assert!(
        monitors.contains("<monitor>") && !monitors.contains("<group>"),
        "{monitors}"
    );
    let refused = clp("clpstat", &["-n"], "");
    assert_eq!(refused.status.code(), Some(64));
    assert!(text(&refused.stderr).contains("upkeep status"));
    assert!(clp("clpcl", &["--suspend"], "").status.success());
    d.wait_for("suspended", |s| s.server.suspended);
    assert!(clp("clpcl", &["--resume"], "").status.success());
    d.wait_for("resumed", |s| !s.server.suspended);
    assert!(clp("clpmonctrl", &["-s"], "").status.success());
    d.wait_for("monitors paused", |s| s.monitors[0].phase == "suspended");
    assert!(clp("clpmonctrl", &["-r"], "").status.success());
    assert_eq!(clp("clpgrp", &["-m", "g"], "").status.code(), Some(64));

    let new = d.path("media.ron");
    fs::write(&new, config("3s", 0)).expect("media");
    let out = clp(
        "clpcfctrl",
        &["--push", "-l", "-x", new.to_str().expect("utf-8")],
        "y\n",
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("Need to suspend cluster and resume"),
        "{stdout}"
    );
    assert!(stdout.contains("Already suspended? (y/n) :"), "{stdout}");
    assert!(stdout.contains("success.(code:0)"), "{stdout}");
    let pulled = d.path("pulled.ron");
    let out = clp(
        "clpcfctrl",
        &["--pull", "-l", "-x", pulled.to_str().expect("utf-8")],
        "",
    );
    assert!(text(&out.stdout).contains("success.(code:0)"));
    assert!(fs::read_to_string(&pulled)
        .expect("pulled")
        .contains("\"3s\""));

    assert!(clp("clpcl", &["-t", "-a"], "").status.success());
    d.wait_for("stopped", |s| s.server.state == "stopped");
    assert!(clp("clpcl", &["-s", "-a"], "").status.success());
    d.wait_for("started", |s| s.server.state == "online");
}

#[test]
fn garbage_truncated_oversized_and_crowds_leave_the_daemon_serving() {
    let d = Daemon::start(&config("1s", 0), &[]);
    let ask = |bytes: &[u8]| -> String {
        let mut s = UnixStream::connect(&d.socket).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let _ = s.write_all(bytes);
        let mut line = String::new();
        let _ = BufReader::new(s).read_line(&mut line);
        line
    };
    for junk in [
        &b"hello\n"[..],
        b"{\"type\":\"Nope\",\"version\":1}\n",
        b"{\"type\":\"Status\",\"version\":99}\n",
        b"\xff\xfe\x00\n",
        b"[1,2,3]\n",
    ] {
        let reply: Response = serde_json::from_str(&ask(junk)).expect("a reply");
        assert!(matches!(reply, Response::Error(_)), "{reply:?}");
    }
    // Half-sent: the client stops mid-line and closes its side; it still gets an error reply.
    {
        let mut s = UnixStream::connect(&d.socket).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        s.write_all(b"{\"type\":\"Sta").expect("write");
        s.shutdown(std::net::Shutdown::Write).expect("shutdown");
        let mut reply = String::new();
        let _ = BufReader::new(s).read_line(&mut reply);
        assert!(reply.contains("\"kind\":\"bad_request\""), "{reply}");
    }
    // Silent: a client that connects and says nothing does not hold anyone else up.
    let _silent = UnixStream::connect(&d.socket).expect("connect");
    // Oversized: more than the 1 MiB line limit, without a newline.
    {
        let mut s = UnixStream::connect(&d.socket).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let big = vec![b'x'; 2 * 1024 * 1024];
        let _ = s.write_all(&big);
        let mut reply = String::new();
        let _ = BufReader::new(s).read_line(&mut reply);
        assert!(reply.contains("longer than"), "{reply}");
    }
    // A crowd: 300 clients at once, each gets its status.
    let socket = d.socket.clone();
    let clients: Vec<_> = (0..300)
        .map(|_| {
            let socket = socket.clone();
            std::thread::spawn(move || {
                let mut s = UnixStream::connect(&socket).ok()?;
                s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
                let mut req = serde_json::to_string(&Request::status()).ok()?;
                req.push('\n');
                s.write_all(req.as_bytes()).ok()?;
                let mut line = String::new();
                BufReader::new(s).read_line(&mut line).ok()?;
                match serde_json::from_str(&line).ok()? {
                    Response::Status(_) => Some(()),
                    _ => None,
                }
            })
        })
        .collect();
    let ok = clients
        .into_iter()
        .map(|c| c.join())
        .filter(|r| matches!(r, Ok(Some(()))))
        .count();
    assert_eq!(ok, 300, "every client got its status");
    // Many requests on one connection, all answered in order.
    let mut s = UnixStream::connect(&d.socket).expect("connect");
    let mut batch = String::new();
    for _ in 0..50 {
        batch.push_str(&serde_json::to_string(&Request::status()).expect("json"));
        batch.push('\n');
    }
    s.write_all(batch.as_bytes()).expect("write");
    let mut reader = BufReader::new(s);
    for _ in 0..50 {
        let mut line = String::new();
        reader.read_line(&mut line).expect("read");
        assert!(line.starts_with("{\"type\":\"Status\""), "{line}");
    }
    assert_eq!(d.status().expect("still serving").server.state, "online");
}

#[test]
fn a_non_operator_may_read_but_not_change_state() {
    if !nix::unistd::geteuid().is_root() || !Path::new("/usr/bin/setpriv").exists() {
        crate::servers::skip(module_path!(), "needs root and setpriv to act as uid 65534");
        return;
    }
    let d = Daemon::start(&config("1s", 0), &["--socket-mode", "666"]);
    // The test's temp folder must be traversable by uid 65534 to reach the socket.
    fs::set_permissions(d.dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let as_nobody = |args: &[&str]| -> Output {
        Command::new("/usr/bin/setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
            .args(args)
            .arg("--socket")
            .arg(&d.socket)
            .stdin(Stdio::null())
            .output()
            .expect("setpriv")
    };
    let read = as_nobody(&["status", "--json"]);
    assert!(read.status.success(), "{}", text(&read.stderr));
    let write = as_nobody(&["suspend"]);
    assert_eq!(write.status.code(), Some(77), "{}", text(&write.stderr));
    assert!(
        text(&write.stderr).contains("permission denied"),
        "{}",
        text(&write.stderr)
    );
    assert!(!d.status().expect("status").server.suspended);
    drop(d);
    if !matches!(nix::unistd::Group::from_name("nogroup"), Ok(Some(g)) if g.gid.as_raw() == 65534) {
        crate::servers::skip(module_path!(), "no group `nogroup` with gid 65534");
        return;
    }

    // With `--operator-group nogroup` the same uid (primary group nogroup) may change state.
    let d = Daemon::start(
        &config("1s", 0),
        &["--socket-mode", "666", "--operator-group", "nogroup"],
    );
    fs::set_permissions(d.dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = Command::new("/usr/bin/setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            BIN,
            "suspend",
        ])
        .arg("--socket")
        .arg(&d.socket)
        .stdin(Stdio::null())
        .output()
        .expect("setpriv");
    assert!(out.status.success(), "{}", text(&out.stderr));
    d.wait_for("suspended by an operator", |s| s.server.suspended);
}

#[test]
fn a_missing_daemon_is_one_line_and_exit_69_wherever_the_socket_comes_from() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("none.sock");
    for how in ["flag", "env"] {
        let mut cmd = Command::new(BIN);
        cmd.arg("status");
        if how == "flag" {
            cmd.arg("--socket").arg(&socket);
        } else {
            cmd.env("UPKEEP_SOCKET", &socket);
        }
        let out = cmd.output().expect("run");
        assert_eq!(out.status.code(), Some(69));
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(&socket.display().to_string()) && err.contains("start it"));
    }
}

#[test]
fn completions_man_page_and_install_come_from_the_clap_definitions() {
    let out = Command::new(BIN)
        .args(["completions", "bash"])
        .output()
        .expect("run");
    assert!(text(&out.stdout).contains("upkeep"));
    let out = Command::new(BIN).arg("man").output().expect("run");
    assert!(text(&out.stdout).contains(".TH upkeep"));
    let root = tempfile::tempdir().expect("root");
    let out = Command::new(BIN)
        .args(["install", "--root"])
        .arg(root.path())
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let unit =
        fs::read_to_string(root.path().join("etc/systemd/system/upkeep.service")).expect("unit");
    assert!(
        unit.contains("Type=notify") && unit.contains("ExecStart=/usr/local/bin/upkeep "),
        "{unit}"
    );
    assert!(root
        .path()
        .join("usr/local/sbin/clpcl")
        .symlink_metadata()
        .is_ok());
}

#[test]
fn the_daemon_tells_systemd_it_is_ready() {
    let dir = tempfile::tempdir().expect("tempdir");
    let notify = dir.path().join("notify.sock");
    let listener = std::os::unix::net::UnixDatagram::bind(&notify).expect("bind");
    listener
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let socket = dir.path().join("upkeep.sock");
    fs::write(dir.path().join("upkeep.ron"), config("1s", 0)).expect("config");
    let mut child = Command::new(BIN)
        .arg("daemon")
        .arg("--config")
        .arg(dir.path().join("upkeep.ron"))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--log-dir")
        .arg(dir.path().join("log"))
        .arg("--socket")
        .arg(&socket)
        .env("NOTIFY_SOCKET", &notify)
        .env("WATCHDOG_USEC", "200000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("daemon");
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while !(seen.iter().any(|m: &String| m.starts_with("READY=1\n"))
        && seen.iter().any(|m: &String| m == "WATCHDOG=1"))
    {
        match listener.recv(&mut buf) {
            Ok(n) => seen.push(text(&buf[..n])),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = child.kill();
                panic!("no notification ({e}); got {seen:?}");
            }
        }
    }
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    let _ = kill(pid, Signal::SIGTERM);
    let status = child.wait().expect("wait");
    assert!(status.success());
    let mut rest = Vec::new();
    let _ = listener.set_read_timeout(Some(Duration::from_millis(200)));
    while let Ok(n) = listener.recv(&mut buf) {
        rest.push(text(&buf[..n]));
    }
    assert!(rest.iter().any(|m| m == "STOPPING=1"), "{rest:?}");
}

/// Issue 9: READY=1 (and the state `online`) only once the auto-start groups have finished
/// starting. A service manager told earlier would start the units that need this host's
/// applications while a start script still runs; READY came 0.1 s after the start, before a
/// 3 s start script ended. The STATUS= line says how the groups came up.
#[test]
fn ready_waits_for_the_start_scripts_and_says_how_the_groups_came_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let notify = dir.path().join("notify.sock");
    let listener = std::os::unix::net::UnixDatagram::bind(&notify).expect("bind");
    listener
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let marker = dir.path().join("started");
    let ron = format!(
        r#"(
    name: "SSS", edition: "SSS",
    groups: [(name: "slow", resources: [(
        name: "warmup",
        start: (program: "/bin/sh", args: ["-c", "sleep 1; : > {}"]),
    )])],
)"#,
        marker.display()
    );
    fs::write(dir.path().join("upkeep.ron"), ron).expect("config");
    let mut child = Command::new(BIN)
        .arg("daemon")
        .arg("--config")
        .arg(dir.path().join("upkeep.ron"))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--log-dir")
        .arg(dir.path().join("log"))
        .arg("--socket")
        .arg(dir.path().join("upkeep.sock"))
        .env("NOTIFY_SOCKET", &notify)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("daemon");
    let mut buf = [0u8; 256];
    let ready = loop {
        match listener.recv(&mut buf) {
            Ok(n) => {
                let message = text(&buf[..n]);
                if message.starts_with("READY=1") {
                    break message;
                }
            }
            // Another test's child exiting interrupts the wait (SIGCHLD): wait again.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = child.kill();
                panic!("no READY=1 ({e})");
            }
        }
    };
    let script_done = marker.exists();
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    let _ = kill(pid, Signal::SIGTERM);
    let _ = child.wait();
    assert!(script_done, "READY=1 came before the start script ended");
    assert_eq!(ready, "READY=1\nSTATUS=1 of 1 group online");
}

/// docs/PROTOCOL.md: every line in a ```json block is a request or a reply of the wire types,
/// and reads back to the same JSON.
#[test]
fn protocol_doc_examples_are_the_wire_types() {
    let doc = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/PROTOCOL.md"))
        .expect("docs/PROTOCOL.md");
    let mut in_block = false;
    let mut checked = 0;
    for line in doc.lines() {
        if line.trim_start().starts_with("```") {
            in_block = line.trim() == "```json";
            continue;
        }
        if !in_block || line.trim().is_empty() {
            continue;
        }
        let value: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON: {e}: {line}"));
        // `Status` and `Events` are both a request and a reply type: either may match.
        let as_request = serde_json::from_str::<Request>(line)
            .ok()
            .and_then(|r| serde_json::to_value(r).ok());
        let as_reply = serde_json::from_str::<Response>(line)
            .ok()
            .and_then(|r| serde_json::to_value(r).ok());
        assert!(
            as_request.as_ref() == Some(&value) || as_reply.as_ref() == Some(&value),
            "neither a request nor a reply that reads back the same: {line}\n{as_request:?}\n{as_reply:?}"
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} examples");
}

/// Issue 13: user-facing text never shows the spec's internal ids (`OPS-1`, `(CMD-4)`): they
/// mean something in docs and code comments, nothing to an operator reading `--help`.
#[test]
fn help_texts_show_no_spec_ids() {
    let spec_id = |text: &str| -> Option<String> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .find(|word| {
                let mut parts = word.splitn(2, '-');
                let (Some(prefix), Some(number)) = (parts.next(), parts.next()) else {
                    return false;
                };
                (2..=5).contains(&prefix.len())
                    && prefix.chars().all(|c| c.is_ascii_uppercase())
                    && !number.is_empty()
                    && number.chars().all(|c| c.is_ascii_digit())
            })
            .map(str::to_string)
    };
    let top = Command::new(BIN).arg("--help").output().expect("help");
    let top = text(&top.stdout);
    assert_eq!(spec_id(&top), None, "{top}");
    let commands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() > 10, "{commands:?}");
    for command in commands {
        let out = Command::new(BIN)
            .args([&command, "--help"])
            .output()
            .expect("help");
        let help = text(&out.stdout);
        assert_eq!(spec_id(&help), None, "upkeep {command} --help:\n{help}");
    }
}

/// Issue 13, the CLI's own contract: every unknown name exits 65 with the closest name or what
/// it is instead; a program no resource runs cannot be "injected"; `--json` prints exactly one
/// protocol message per line with its `type`, failures included; asking for the state an object
/// is in succeeds with a note; `restart` stops and starts.
#[test]
fn names_json_and_idempotent_operations_keep_the_cli_contract() {
    let d = Daemon::start(&config("1s", 0), &[]);
    for (args, says) in [
        (
            &["monitor", "suspend", "a-pdi"][..],
            "unknown monitor `a-pdi`; did you mean `a-pid`?",
        ),
        (
            &["group", "stop", "gg"],
            "unknown group `gg`; did you mean `g`?",
        ),
        (
            &["resource", "stop", "aa"],
            "unknown resource `aa`; did you mean `a`?",
        ),
        (
            &["resource", "start", "g"],
            "unknown resource `g`: `g` is a group (its resources: `a`, `b`)",
        ),
        (
            &["explain", "g"],
            "unknown monitor or resource `g`: `g` is a group (its resources: `a`, `b`)",
        ),
        (
            &["inject", "script-fails", "/bin/nosuch"],
            "no resource or monitor runs `/bin/nosuch`",
        ),
    ] {
        let out = d.run(args, 65);
        assert!(out.contains(says), "upkeep {args:?}: {out}");
    }
    assert!(!d.status().expect("status").server.suspended);

    // --json: one line, the protocol message with its type; a failure too, on stdout.
    for (args, kind) in [
        (&["status", "--json"][..], "Status"),
        (&["events", "--json"], "Events"),
        (&["tree", "--json"], "Tree"),
        (&["explain", "a-pid", "--json"], "Explain"),
    ] {
        let out = d.cmd().args(args).output().expect("run");
        let stdout = text(&out.stdout);
        assert_eq!(stdout.lines().count(), 1, "{args:?}: {stdout}");
        let v: Value = serde_json::from_str(&stdout).expect("json");
        assert_eq!(v["type"], kind, "{args:?}: {stdout}");
    }
    let out = d
        .cmd()
        .args(["group", "stop", "gg", "--json"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(65));
    let v: Value = serde_json::from_str(&text(&out.stdout)).expect("json error on stdout");
    assert_eq!(v["type"], "Error");
    assert_eq!(v["kind"], "unknown");
    let out = Command::new(BIN)
        .env("UPKEEP_SOCKET", d.path("nobody.sock"))
        .args(["status", "--json"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(69));
    let v: Value = serde_json::from_str(&text(&out.stdout)).expect("json error on stdout");
    assert_eq!(
        (&v["type"], &v["kind"]),
        (&"Error".into(), &"unavailable".into())
    );

    // Times for people carry their zone; JSON stays UTC with `Z`.
    let out = d
        .cmd()
        .env("TZ", "Asia/Tokyo")
        .arg("status")
        .output()
        .expect("run");
    assert!(
        text(&out.stdout).contains("+09:00"),
        "{}",
        text(&out.stdout)
    );
    let since = d.json(&["status"])["groups"][0]["since"].clone();
    assert!(since.as_str().is_some_and(|s| s.ends_with('Z')), "{since}");

    // `status --watch`: a Status line per interval; it ends quietly when its reader goes.
    let mut watch = d
        .cmd()
        .args(["status", "--watch", "100ms", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("watch");
    let mut lines = BufReader::new(watch.stdout.take().expect("stdout")).lines();
    for _ in 0..3 {
        let line = lines.next().expect("a line").expect("read");
        let v: Value = serde_json::from_str(&line).expect("json");
        assert_eq!(v["type"], "Status");
    }
    drop(lines);
    let status = watch.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
    d.run(&["status", "--watch", "10ms"], 64);

    // Idempotent operations and restart.
    assert!(d
        .run(&["group", "start", "g"], 0)
        .contains("group `g` is already online; nothing to do"));
    assert!(d
        .run(&["resource", "start", "b"], 0)
        .contains("resource `b` is already online; nothing to do"));
    assert!(d
        .run(&["start"], 0)
        .contains("the daemon is already started; nothing to do"));
    let before = resource(&d.status().expect("status"), "b").pid;
    assert!(d
        .run(&["resource", "restart", "b"], 0)
        .contains("resource `b` restarted"));
    let after = resource(&d.status().expect("status"), "b").pid;
    assert!(
        after.is_some() && after != before,
        "{before:?} -> {after:?}"
    );
    let before = resource(&d.status().expect("status"), "a").pid;
    assert!(d
        .run(&["group", "restart", "g"], 0)
        .contains("group `g` restarted"));
    let s = d.wait_for("online after the restart", |s| {
        s.groups[0].state == "online"
    });
    let after = resource(&s, "a").pid;
    assert!(
        after.is_some() && after != before,
        "{before:?} -> {after:?}"
    );
    d.run(&["group", "stop", "g"], 0);
    assert!(d
        .run(&["group", "stop", "g"], 0)
        .contains("group `g` is already offline; nothing to do"));
}
