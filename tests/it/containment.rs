//! Containment of resource processes through the real `upkeep` binary (upkeep issue 9 §2): a stop
//! reaches a sync start script's background, `setsid` and double-forked children, and a daemon
//! restarted after `kill -9` stops what the killed one left before it starts a second copy.
//!
//! Each test points the daemon (`UPKEEP_CGROUP`) at a cgroup of its own under the cgroup2 mount
//! and removes it, whatever happens, in a Drop guard. Skipped, with a message, where cgroup2 is
//! not writable. OS actions are simulated.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use upkeep::host::cgroup;

const BIN: &str = env!("CARGO_BIN_EXE_upkeep");

/// A cgroup for one test; everything in it is killed and removed on drop.
struct Cgroups {
    base: PathBuf,
}

impl Cgroups {
    /// `None` (and a message) where cgroup2 is missing or not writable.
    fn new(test: &str) -> Option<Cgroups> {
        let info = fs::read_to_string("/proc/self/mountinfo").ok()?;
        let Some((mount, _)) = cgroup::cgroup2_mount(&info) else {
            eprintln!("SKIP {test}: no cgroup2 mount");
            return None;
        };
        let base = mount.join(format!("upkeep-it-{}-{test}", std::process::id()));
        if let Err(e) = fs::create_dir(&base) {
            eprintln!(
                "SKIP {test}: cgroup2 at {} not writable: {e}",
                mount.display()
            );
            return None;
        }
        if !base.join("cgroup.kill").exists() {
            let _ = fs::remove_dir(&base);
            eprintln!("SKIP {test}: no cgroup.kill (Linux < 5.14)");
            return None;
        }
        Some(Cgroups { base })
    }

    /// Cgroups below the base that still hold a live process.
    fn populated(&self) -> Vec<PathBuf> {
        walk(&self.base)
            .into_iter()
            .filter(|d| cgroup::populated(d).unwrap_or(false))
            .collect()
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(walk(&e.path()));
            }
        }
    }
    out.push(dir.to_path_buf());
    out
}

impl Drop for Cgroups {
    fn drop(&mut self) {
        let _ = cgroup::kill_all(&self.base);
        let deadline = Instant::now() + Duration::from_secs(5);
        while cgroup::populated(&self.base).unwrap_or(false) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        for d in walk(&self.base) {
            let _ = fs::remove_dir(&d);
        }
    }
}

/// Live (not zombie) processes whose command line contains `marker`.
fn copies(marker: &str) -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let pid: i32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let state = stat
            .get(stat.rfind(')')? + 2..)?
            .split_whitespace()
            .next()?;
        let hit = String::from_utf8_lossy(&cmdline).contains(marker);
        (hit && state != "Z").then_some(pid)
    })
    .collect()
}

/// Processes with `file` open, and their command lines.
fn holders(file: &Path) -> Vec<(i32, String)> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let pid: i32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let fds = fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
        let holds = fds
            .flatten()
            .any(|fd| fs::read_link(fd.path()).is_ok_and(|t| t == file));
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        holds.then(|| (pid, String::from_utf8_lossy(&cmdline).replace('\0', " ")))
    })
    .collect()
}

/// The copies of an async resource: processes carrying `marker` that lead their process group
/// (a fork on its way to exec `sleep` carries the marker too, but not the group).
fn leaders(marker: &str) -> Vec<i32> {
    copies(marker)
        .into_iter()
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                stat.rfind(')')
                    .and_then(|i| stat.get(i + 2..))
                    .and_then(|rest| rest.split_whitespace().nth(2))
                    .and_then(|pgrp| pgrp.parse::<i32>().ok())
                    == Some(*pid)
            })
        })
        .collect()
}

/// Polls `ok` for up to `limit`; its last value.
fn wait_until<T>(limit: Duration, mut probe: impl FnMut() -> T, ok: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + limit;
    loop {
        let value = probe();
        if ok(&value) || Instant::now() >= deadline {
            return value;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A daemon on `config` with its state in `home/st`; SIGKILLed if a test fails half-way.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    /// `cgroups`: the daemon's cgroup parent, or `None` for process groups only.
    fn start(home: &Path, config: &Path, cgroups: Option<&Cgroups>, run: usize) -> Daemon {
        let log = home.join(format!("daemon-{run}.out"));
        let out = fs::File::create(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let err = out.try_clone().expect("log file");
        let child = Command::new(BIN)
            .env("HOME", home)
            .env("XDG_RUNTIME_DIR", home.join("run"))
            .env("XDG_STATE_HOME", home.join("state"))
            .env("UPKEEP_LOG", "info")
            .env(
                cgroup::ENV,
                cgroups.map_or_else(|| PathBuf::from("off"), |c| c.base.clone()),
            )
            .env_remove("UPKEEP_SOCKET")
            .arg("daemon")
            .arg("--config")
            .arg(config)
            .arg("--state-dir")
            .arg(home.join("st"))
            .arg("--socket")
            .arg(home.join("s.sock"))
            .arg("--log-dir")
            .arg(home.join("log"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {BIN}: {e}"));
        Daemon { child, log }
    }

    fn output(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(i32::MAX))
    }

    fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM (an orderly stop: groups deactivated) and wait for the exit.
    fn terminate(&mut self) {
        let _ = kill(self.pid(), Signal::SIGTERM);
        let gone = wait_until(Duration::from_secs(20), || self.exited(), |e| *e);
        assert!(gone, "daemon did not stop on SIGTERM:\n{}", self.output());
    }

    /// SIGKILL, then until no process holds the state folder's lock: a fork the daemon had in
    /// flight holds a copy of its descriptors until it execs, and the next daemon would be
    /// refused as a second one (rightly, but that is not what these tests are about).
    fn kill9(&mut self, lock: &Path) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        wait_until(Duration::from_secs(2), || holders(lock), Vec::is_empty);
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if !self.exited() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn write_config(home: &Path, text: &str) -> PathBuf {
    let path = home.join("upkeep.ron");
    fs::write(&path, text).expect("config");
    path
}

#[test]
fn a_stop_reaches_background_setsid_and_double_forked_children() {
    let Some(cgroups) = Cgroups::new("stop") else {
        return;
    };
    let home = tempfile::tempdir().expect("tempdir");
    let marker = format!("upkeep-contain-stop-{}", std::process::id());
    // 20 background children, one in its own session, one double-forked: all orphans or out of
    // the script's process group once the script exits 0 (a sync start, RES-11). Plus an async
    // process and its child in a session of its own: 24 processes carry the marker once the
    // script (and its forks on their way to exec, which carry it too) are gone.
    let script = r#"i=0; while [ $i -lt 20 ]; do sh -c 'sleep 1000; :' "$0" & i=$((i+1)); done
setsid sh -c 'sleep 1000; :' "$0" &
(sh -c 'sleep 1000; :' "$0" &) &
exit 0"#;
    let config = write_config(
        home.path(),
        &format!(
            r#"(
    name: "contain", edition: "SSS", os_actions: Simulated,
    groups: [(name: "g", resources: [(name: "bg",
        start: (program: "/bin/sh", args: ["-c", {script:?}, "{marker}"]),
        kill_grace: "2s"),
        // An async process whose child leaves its session: terminate alone would miss it.
        (name: "srv", mode: Async, kill_grace: "2s",
            start: (program: "/bin/sh", args: ["-c", "setsid sh -c 'sleep 1000; :' \"$0\" & sleep 1000; :", "{marker}"]))])],
)"#
        ),
    );
    let mut daemon = Daemon::start(home.path(), &config, Some(&cgroups), 0);
    let running = wait_until(
        Duration::from_secs(20),
        || copies(&marker),
        |c| c.len() == 24,
    );
    assert_eq!(running.len(), 24, "{running:?}\n{}", daemon.output());
    assert!(
        daemon.output().contains("cgroup2"),
        "the containment mode is logged:\n{}",
        daemon.output()
    );

    let status = Command::new(BIN)
        .env_remove("UPKEEP_SOCKET")
        .arg("status")
        .arg("--socket")
        .arg(home.path().join("s.sock"))
        .output()
        .expect("upkeep status");
    let shown = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(
        shown.contains(&format!("processes in cgroup2 {}", cgroups.base.display())),
        "status shows the containment: {shown}"
    );

    daemon.terminate();
    // The stop waited for `populated 0`: nothing is left the moment the daemon is gone.
    let left = copies(&marker);
    assert!(
        left.is_empty(),
        "survived the stop: {left:?}\n{}",
        daemon.output()
    );
    assert_eq!(cgroups.populated(), Vec::<PathBuf>::new());
    let resource = walk(&cgroups.base)
        .into_iter()
        .filter(|d| d.ends_with("g/bg"))
        .collect::<Vec<_>>();
    assert!(
        resource.is_empty(),
        "resource cgroup not removed: {resource:?}"
    );
}

/// Iterations of kill -9 / restart: `UPKEEP_CONTAIN_ITERATIONS` (default 10; the issue's 200 by
/// hand).
fn iterations() -> usize {
    std::env::var("UPKEEP_CONTAIN_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

#[test]
fn a_daemon_restarted_after_kill_9_never_runs_a_second_copy() {
    let Some(cgroups) = Cgroups::new("crash") else {
        return;
    };
    crash_loop("crash", Some(&cgroups));
}

/// The same without cgroups: the record of process groups in the state folder is the trail.
#[test]
fn without_cgroups_a_restarted_daemon_stops_the_recorded_process_groups() {
    crash_loop("crash-pg", None);
}

/// SIGKILLs the process groups of every copy left (a failed test must not leak them).
struct KillMarked(String);

impl Drop for KillMarked {
    fn drop(&mut self) {
        for pid in copies(&self.0) {
            // Each copy leads its group (`process_group(0)`): the group is sh and its sleep.
            let _ = nix::sys::signal::killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

fn crash_loop(test: &str, cgroups: Option<&Cgroups>) {
    let home = tempfile::tempdir().expect("tempdir");
    let marker = format!("upkeep-contain-{test}-{}", std::process::id());
    let _cleanup = KillMarked(marker.clone());
    let config = write_config(
        home.path(),
        &format!(
            r#"(
    name: "contain", edition: "SSS", os_actions: Simulated,
    groups: [(name: "g", resources: [(name: "srv",
        start: (program: "/bin/sh", args: ["-c", "sleep 1000; :", "{marker}"]),
        mode: Async, kill_grace: "2s")])],
)"#
        ),
    );
    // A small xorshift: "random moments" without a dependency, reproducible from the seed.
    let mut seed = u64::from(std::process::id()) | 1;
    let mut random_ms = move |max: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % max
    };
    let mut left_running = false;
    let mut reclaimed = 0;
    let mut unrecorded = 0;
    for run in 0..iterations() {
        let mut daemon = Daemon::start(home.path(), &config, cgroups, run);
        // Killed at a random moment of its life: before, during or after the resource's start.
        std::thread::sleep(Duration::from_millis(random_ms(400)));
        let seen = leaders(&marker);
        assert!(
            seen.len() <= 1,
            "run {run}: two copies {seen:?}\n{}",
            daemon.output()
        );
        daemon.kill9(&home.path().join("st").join("daemon.lock"));
        let log = daemon.output();
        assert!(
            !log.contains("already running"),
            "run {run}: the killed daemon's lock is still held by {:?}\n{log}",
            holders(&home.path().join("st").join("daemon.lock"))
        );
        // The socket comes after the reclaim: a daemon killed before it had no time to report.
        if left_running && log.contains("control socket listening") {
            assert!(
                log.contains("left running by a previous daemon, now stopped"),
                "run {run}: the leftover was not reported:\n{log}"
            );
            reclaimed += 1;
        }
        // What this daemon leaves for the next one.
        let mut left = leaders(&marker);
        if cgroups.is_none() {
            // Process-group mode's known gap: a daemon killed between the spawn and the write
            // of its record leaves a group nobody can find. Counted, and cleared by hand.
            let record = fs::read_to_string(home.path().join("st").join("process-groups"))
                .unwrap_or_default();
            let recorded = |pid: &i32| {
                record
                    .lines()
                    .any(|l| l.split_whitespace().next() == Some(&pid.to_string()))
            };
            for pid in left.iter().filter(|p| !recorded(p)) {
                let _ = nix::sys::signal::killpg(Pid::from_raw(*pid), Signal::SIGKILL);
                unrecorded += 1;
            }
            wait_until(
                Duration::from_secs(2),
                || {
                    leaders(&marker)
                        .into_iter()
                        .filter(|p| !recorded(p))
                        .count()
                },
                |n| *n == 0,
            );
            left.retain(|p| recorded(p));
        }
        left_running = !left.is_empty();
    }
    // The last one lives: exactly one copy, then an orderly stop leaves nothing.
    let mut daemon = Daemon::start(home.path(), &config, cgroups, iterations());
    let started = wait_until(
        Duration::from_secs(20),
        || {
            daemon
                .output()
                .contains("start processing of a group g ended")
        },
        |s| *s,
    );
    assert!(
        started,
        "group g did not start (lock holders {:?}):\n{}",
        holders(&home.path().join("st").join("daemon.lock")),
        daemon.output()
    );
    let one = leaders(&marker);
    std::thread::sleep(Duration::from_millis(300));
    let still = leaders(&marker);
    assert!(
        one.len() == 1 && still == one,
        "copies {one:?} then {still:?}\n{}",
        daemon.output()
    );
    if left_running {
        assert!(daemon
            .output()
            .contains("left running by a previous daemon, now stopped"));
    }
    daemon.terminate();
    assert_eq!(leaders(&marker), Vec::<i32>::new(), "{}", daemon.output());
    if let Some(cgroups) = cgroups {
        assert_eq!(cgroups.populated(), Vec::<PathBuf>::new());
    }
    eprintln!(
        "{test}: {} kill -9 restarts, {reclaimed} of them found a leftover copy and stopped it; \
         {unrecorded} killed before recording it",
        iterations()
    );
}
