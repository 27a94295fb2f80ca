//! The engine on the real Linux host: few and fast. A SIGKILLed async resource is restarted by
//! its pid monitor; a sync start script that exits 1 follows its retry / final-action path; a
//! start script that hangs is killed at its timeout with its whole process group. OS actions stay
//! simulated (the configs never say `os_actions: Real`).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use upkeep::host::LinuxHost;
use upkeep_actors::Engine;
use upkeep_config::OsActions;

static NEXT: AtomicUsize = AtomicUsize::new(0);

async fn start(ron: &str, state: &Path) -> Engine {
    let config = crate::sim::config(ron);
    assert_eq!(config.os_actions, OsActions::Simulated);
    let host = match LinuxHost::new(OsActions::Simulated, state.to_path_buf()) {
        Ok(h) => h,
        Err(e) => panic!("LinuxHost: {e}"),
    };
    let instance = format!("real{}", NEXT.fetch_add(1, Ordering::Relaxed));
    match Engine::start(Arc::new(config), Arc::new(host), &instance).await {
        Ok(e) => e,
        Err(e) => panic!("engine: {e}"),
    }
}

/// Wait (real time) until `check` holds, at most `limit`.
async fn wait_for(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    check()
}

/// Pids of live processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // A zombie still counts: nothing may be left unreaped either.
            String::from_utf8_lossy(&cmd)
                .replace('\0', " ")
                .contains(marker)
                || (stat.contains(marker))
        })
        .collect()
}

fn lines(engine: &Engine) -> Vec<String> {
    engine.events().recent().iter().map(|e| e.line()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_async_resource_is_restarted_by_its_pid_monitor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ron = r#"(
    name: "SSS", edition: "SSS",
    groups: [(name: "g1", resources: [
        (name: "app", start: (program: "/bin/sleep", args: ["31.1"]), mode: Async, kill_grace: "1s"),
    ])],
    monitors: [(name: "pidw", kind: Pid(resource: "app"),
        recovery: (target: Resource("app"), reactivation_threshold: 3, final_action: NoOp))],
)"#;
    let engine = start(ron, dir.path()).await;
    let pid_of = |e: &Engine| e.board().resource("app").and_then(|r| r.pid);
    assert!(
        wait_for(Duration::from_secs(5), || pid_of(&engine).is_some()).await,
        "app started"
    );
    let first = pid_of(&engine).unwrap_or_default();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the app");
    let restarted = wait_for(Duration::from_secs(5), || {
        pid_of(&engine).is_some_and(|p| p != first)
    })
    .await;
    assert!(
        restarted,
        "a new process replaced pid {first}: {:#?}",
        lines(&engine)
    );
    let log = lines(&engine);
    assert!(
        log.iter()
            .any(|l| l.contains(&format!("(pid {first}) ended with signal 9."))),
        "{log:#?}"
    );
    assert!(log
        .iter()
        .any(|l| l
            == "<type: rm><event: 11> Monitor pidw reactivates the recovery target app. (1/3)"));
    engine.stop("test").await;
    assert!(
        wait_for(Duration::from_secs(3), || processes_with("sleep 31.1")
            .is_empty())
        .await,
        "nothing left running"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_start_script_that_exits_1_is_retried_then_takes_its_final_action() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ron = r#"(
    name: "SSS", edition: "SSS",
    groups: [(name: "g1", resources: [
        (name: "a", start: (program: "/bin/sh", args: ["-c", "exit 1"]), activation: (retries: 1, final_action: NoOpStopChain)),
        (name: "b", start: (program: "/bin/true"), depends_on: ["a"]),
    ])],
)"#;
    let engine = start(ron, dir.path()).await;
    let done = "<type: rc><event: 12> The start processing of a group g1 failed.";
    assert!(
        wait_for(Duration::from_secs(5), || lines(&engine)
            .iter()
            .any(|l| l == done))
        .await
    );
    let log = lines(&engine);
    let from = log
        .iter()
        .position(|l| l.contains("resource a started"))
        .unwrap_or_default();
    assert_eq!(
        log[from..from + 7],
        [
            "<type: rc><event: 30> The start processing of a resource a started.",
            "<type: rc><event: 32> Failed to start the resource a. (exit code 1)",
            "<type: rc><event: 33> Retrying activation of the resource a. (1/1)",
            "<type: rc><event: 32> Failed to start the resource a. (exit code 1)",
            "<type: rc><event: 34> Final action of activation failure of the resource a: NoOpStopChain.",
            "<type: rc><event: 35> The resource b was not activated, because a was not activated.",
            done,
        ]
    );
    engine.stop("test").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_start_script_is_killed_at_its_timeout_with_its_process_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The script leaves a child in its process group and ignores SIGTERM itself.
    let ron = r#"(
    name: "SSS", edition: "SSS",
    groups: [(name: "g1", resources: [
        (name: "a", start: (program: "/bin/sh", args: ["-c", "trap '' TERM; sleep 31.2 & sleep 31.2; wait"]),
            start_timeout: "1s", kill_grace: "200ms"),
    ])],
)"#;
    let engine = start(ron, dir.path()).await;
    assert!(
        wait_for(Duration::from_secs(3), || !processes_with("sleep 31.2")
            .is_empty())
        .await,
        "the script runs"
    );
    let failed = "<type: rc><event: 32> Failed to start the resource a. (timed out)";
    assert!(
        wait_for(Duration::from_secs(5), || lines(&engine)
            .iter()
            .any(|l| l == failed))
        .await,
        "{:#?}",
        lines(&engine)
    );
    assert!(
        wait_for(Duration::from_secs(2), || processes_with("sleep 31.2")
            .is_empty())
        .await,
        "the whole process group is gone: {:?}",
        processes_with("sleep 31.2")
    );
    engine.stop("test").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_probe_hung_on_a_fifo_times_out_while_other_monitors_keep_their_interval() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("never-written");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let ticks = dir.path().join("ticks");
    // `tick` appends a line each time it runs: its monitor's interval, seen from outside.
    let ron = format!(
        r#"(
    name: "SSS", edition: "SSS",
    monitors: [
        (name: "hung", kind: Disk(path: "{fifo}"), interval: "1s", timeout: "5s",
            recovery: (target: Sss, final_action: NoOp)),
        (name: "tick", kind: Custom(program: "/bin/sh", args: ["-c", "echo . >> {ticks}"]),
            interval: "1s", timeout: "5s", recovery: (target: Sss, final_action: NoOp)),
    ],
)"#,
        fifo = fifo.display(),
        ticks = ticks.display()
    );
    let engine = start(&ron, dir.path()).await;
    let failed = "<type: rm><event: 9> Monitor hung failed.";
    let hung_failed = || lines(&engine).iter().any(|l| l.starts_with(failed));
    assert!(
        !wait_for(Duration::from_millis(3500), hung_failed).await,
        "not before its 5 s timeout"
    );
    assert!(
        wait_for(Duration::from_secs(4), hung_failed).await,
        "{:#?}",
        lines(&engine)
    );
    let count = std::fs::read_to_string(&ticks)
        .map(|t| t.lines().count())
        .unwrap_or(0);
    // About one check a second for ~6 s, while the other probe was stuck in its read.
    assert!(
        count >= 4,
        "the tick monitor ran only {count} times during the hang"
    );
    engine.stop("test").await;
}
