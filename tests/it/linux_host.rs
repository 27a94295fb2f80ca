//! `LinuxHost` against real processes and files (MAP-8, RES-11, CFG-5..9, DOWN-1..6): process
//! groups stopped whole, event-driven exits, script timeouts, atomic state files, simulated OS
//! actions, and the orphan reaper (run in a child process, so this test binary never becomes a
//! subreaper).
//!
//! OS actions are only ever exercised with `OsActions::Simulated`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use upkeep::host::{procfs, LinuxHost};
use upkeep_actors::host::{
    ExitInfo, HostError, OsAction, OsActionOutcome, Power, Probes, ProcessHandle, Processes,
    ScriptOutcome, ScriptRun, StateFiles, Verdict,
};
use upkeep_config::{
    Command, Monitor, MonitorFinalAction, MonitorKind, OsActions, Recovery, RecoveryTarget, Timing,
};

const SIGKILL: i32 = 9;
const SIGTERM: i32 = 15;

fn host(dir: &Path) -> LinuxHost {
    LinuxHost::new(OsActions::Simulated, dir.join("state")).expect("host")
}

fn run(program: &str, args: &[&str]) -> ScriptRun {
    ScriptRun {
        command: Command {
            program: PathBuf::from(program),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: BTreeMap::new(),
        },
        env: Vec::new(),
        timeout: Duration::from_secs(5),
        kill_grace: Duration::from_secs(1),
        context: Default::default(),
    }
}

fn sh(script: &str) -> ScriptRun {
    run("sh", &["-c", script])
}

fn with_event(mut run: ScriptRun, event: &str) -> ScriptRun {
    run.env.push(("UPKEEP_EVENT".into(), event.into()));
    run
}

fn live_members(pgid: i32) -> Vec<procfs::Stat> {
    procfs::group_members(pgid)
        .expect("/proc readable")
        .into_iter()
        .filter(|s| s.is_alive())
        .collect()
}

/// Polls `check` (asynchronously, so the host's tasks keep running) until it holds or `within`.
async fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn pgid_of(handle: &dyn ProcessHandle) -> i32 {
    i32::try_from(handle.pid()).expect("pid fits")
}

async fn read_pid(file: &Path) -> i32 {
    let mut text = String::new();
    assert!(
        eventually(Duration::from_secs(1), || {
            text = std::fs::read_to_string(file).unwrap_or_default();
            text.ends_with('\n')
        })
        .await,
        "the script wrote its pid"
    );
    let pid: i32 = text.trim().parse().expect("a pid");
    assert!(pid > 1, "a real process group id");
    pid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outside_sigkill_is_seen_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path());
    let handle = host.spawn(run("sleep", &["30"])).expect("spawned");
    let pid = Pid::from_raw(pgid_of(handle.as_ref()));

    let sent = Instant::now();
    kill(pid, Signal::SIGKILL).expect("kill");
    let exit = tokio::time::timeout(Duration::from_secs(1), handle.wait())
        .await
        .expect("in time");
    let latency = sent.elapsed();

    assert_eq!(exit, ExitInfo::Signal(SIGKILL));
    eprintln!("SIGKILL -> wait() resolved after {latency:?}");
    // Any number of waiters; a terminate after the exit signals nothing and reports the exit.
    assert_eq!(handle.wait().await, ExitInfo::Signal(SIGKILL));
    assert_eq!(
        handle.terminate(Duration::from_secs(1)).await,
        ExitInfo::Signal(SIGKILL)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_sends_sigterm_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path());
    let handle = host.spawn(run("sleep", &["30"])).expect("spawned");
    let started = Instant::now();
    let exit = handle.terminate(Duration::from_secs(5)).await;
    assert_eq!(exit, ExitInfo::Signal(SIGTERM));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "no grace wasted on a process that obeys"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_kills_a_group_that_ignores_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path());
    // The trap is inherited: the backgrounded grandchild ignores SIGTERM too.
    let handle = host
        .spawn(sh("trap '' TERM; sleep 30 & sleep 30"))
        .expect("spawned");
    let pgid = pgid_of(handle.as_ref());
    assert!(
        eventually(Duration::from_secs(1), || live_members(pgid).len() >= 2).await,
        "leader and grandchild are running"
    );

    let started = Instant::now();
    let exit = tokio::time::timeout(
        Duration::from_secs(2),
        handle.terminate(Duration::from_millis(200)),
    )
    .await
    .expect("terminate finishes");

    assert_eq!(exit, ExitInfo::Signal(SIGKILL));
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "the grace was honoured"
    );
    assert!(
        eventually(Duration::from_secs(1), || live_members(pgid).is_empty()).await,
        "nothing of the group survives: {:?}",
        live_members(pgid)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_that_outlives_its_obedient_leader_is_killed_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path());
    let handle = host
        .spawn(sh("(trap '' TERM; sleep 30) & sleep 30"))
        .expect("spawned");
    let pgid = pgid_of(handle.as_ref());
    assert!(eventually(Duration::from_secs(1), || live_members(pgid).len() >= 3).await);

    let started = Instant::now();
    let exit = handle.terminate(Duration::from_secs(30)).await;

    assert_eq!(exit, ExitInfo::Signal(SIGTERM), "the leader obeyed");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the long grace was not waited out"
    );
    assert!(
        eventually(Duration::from_secs(1), || live_members(pgid).is_empty()).await,
        "the TERM-immune child went with its leader: {:?}",
        live_members(pgid)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_handle_kills_the_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path());
    let handle = host.spawn(sh("sleep 30 & sleep 30")).expect("spawned");
    let pgid = pgid_of(handle.as_ref());
    assert!(eventually(Duration::from_secs(1), || live_members(pgid).len() >= 2).await);

    drop(handle);

    assert!(
        eventually(Duration::from_secs(1), || live_members(pgid).is_empty()).await,
        "the group died with its handle: {:?}",
        live_members(pgid)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_report_their_exit_and_see_the_merged_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path());

    assert_eq!(
        host.run_script(sh("exit 1")).await,
        ScriptOutcome::Exited(ExitInfo::Code(1))
    );

    let mut env_check =
        sh(r#"test "$FROM_COMMAND" = yes && test "$UPKEEP_GROUP" = web && test -n "$PATH""#);
    env_check
        .command
        .env
        .insert("FROM_COMMAND".into(), "yes".into());
    env_check
        .command
        .env
        .insert("UPKEEP_GROUP".into(), "overridden by the run".into());
    env_check.env.push(("UPKEEP_GROUP".into(), "web".into()));
    assert!(host.run_script(env_check).await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_script_is_killed_at_its_timeout_with_its_whole_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path());
    let pid_file = dir.path().join("pgid");
    let mut hang = sh(&format!(
        "echo $$ > {}; trap '' TERM; sleep 30 & sleep 30",
        pid_file.display()
    ));
    hang.timeout = Duration::from_millis(300);
    hang.kill_grace = Duration::from_millis(200);

    let started = Instant::now();
    let outcome = host.run_script(hang).await;
    let took = started.elapsed();

    assert_eq!(outcome, ScriptOutcome::TimedOut);
    assert!(
        took >= Duration::from_millis(500),
        "timeout then grace: {took:?}"
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
    let pgid = read_pid(&pid_file).await;
    assert!(
        eventually(Duration::from_secs(1), || live_members(pgid).is_empty()).await,
        "no member of group {pgid} survives: {:?}",
        live_members(pgid)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_script_takes_its_leftovers_with_it_a_start_script_does_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path());

    let stop_file = dir.path().join("stop");
    let stop = with_event(
        sh(&format!("sleep 30 & echo $$ > {}", stop_file.display())),
        "stop",
    );
    assert!(host.run_script(stop).await.success());
    let stop_group = read_pid(&stop_file).await;
    assert!(
        eventually(Duration::from_secs(1), || live_members(stop_group)
            .is_empty())
        .await,
        "stop script leftovers killed"
    );

    let start_file = dir.path().join("start");
    let start = with_event(
        sh(&format!("sleep 30 & echo $$ > {}", start_file.display())),
        "start",
    );
    assert!(host.run_script(start).await.success());
    let start_group = read_pid(&start_file).await;
    let daemon_left = live_members(start_group);
    // Clean up what this test started (the group id was checked to be > 1).
    let _ = killpg(Pid::from_raw(start_group), Signal::SIGKILL);
    assert_eq!(
        daemon_left.len(),
        1,
        "the started daemon keeps running: {daemon_left:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_program_is_reported_with_its_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path());
    let missing = "/nonexistent/upkeep-test/start.sh";

    match host.run_script(run(missing, &[])).await {
        ScriptOutcome::SpawnFailed(why) => {
            assert!(why.contains(missing), "{why}");
            assert!(why.contains("No such file or directory"), "{why}");
        }
        other => panic!("expected SpawnFailed, got {other:?}"),
    }
    match host.spawn(run(missing, &[])) {
        Err(HostError::Spawn { program, reason }) => {
            assert_eq!(program, missing);
            assert!(reason.contains("No such file or directory"), "{reason}");
        }
        Err(other) => panic!("expected a spawn error, got {other:?}"),
        Ok(handle) => panic!("spawned a missing program as pid {}", handle.pid()),
    }
}

#[tokio::test]
async fn state_files_round_trip_atomically_and_can_be_quarantined() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state_dir = dir.path().join("nested/state");
    let host = LinuxHost::new(OsActions::Simulated, state_dir.clone()).expect("host");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&state_dir)
            .expect("created")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o700);

    assert_eq!(host.load_state("reboots").await, Ok(None));
    host.store_state("reboots", b"one".to_vec())
        .await
        .expect("stored");
    host.store_state("reboots", b"two".to_vec())
        .await
        .expect("replaced");
    assert_eq!(host.load_state("reboots").await, Ok(Some(b"two".to_vec())));
    let names: Vec<String> = std::fs::read_dir(&state_dir)
        .expect("listable")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec!["reboots".to_string()],
        "no temp file is left behind"
    );

    let moved = host.quarantine_state("reboots").await.expect("quarantined");
    assert!(
        moved.starts_with(&state_dir.join("reboots.corrupt-").display().to_string()),
        "{moved}"
    );
    assert_eq!(std::fs::read(&moved).expect("kept for inspection"), b"two");
    assert_eq!(host.load_state("reboots").await, Ok(None));
    let again = {
        host.store_state("reboots", b"three".to_vec())
            .await
            .expect("stored");
        host.quarantine_state("reboots")
            .await
            .expect("quarantined twice")
    };
    assert_ne!(
        again, moved,
        "a second quarantine does not overwrite the first"
    );
    assert!(
        host.quarantine_state("reboots").await.is_err(),
        "nothing left to quarantine"
    );

    for bad in ["", "..", "../escape", "a/b", "x.tmp"] {
        assert!(
            host.store_state(bad, vec![]).await.is_err(),
            "{bad:?} refused"
        );
    }
}

#[tokio::test]
async fn os_actions_are_only_simulated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path());
    for action in [OsAction::Shutdown, OsAction::Reboot, OsAction::Reset] {
        assert_eq!(host.os_action(action).await, Ok(OsActionOutcome::Simulated));
    }
}

#[tokio::test]
async fn probes_not_in_this_build_say_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path());
    let monitor = Monitor {
        name: "diskw".into(),
        kind: MonitorKind::Pid {
            resource: "app".into(),
        },
        interval: Duration::from_secs(60),
        timeout: Duration::from_secs(120),
        retries: 0,
        start_wait: Duration::ZERO,
        start_grace: Duration::ZERO,
        timing: Timing::Always,
        nice: 0,
        recovery: Recovery {
            target: RecoveryTarget::Sss,
            reactivation_threshold: 0,
            final_action: MonitorFinalAction::NoOp,
            backoff: upkeep_config::Backoff::Off,
            start_limit: upkeep_config::StartLimit::Off,
        },
        delay_warning_percent: None,
    };
    let result = host.probe(&monitor).await;
    assert_eq!(result.verdict, Verdict::Error);
    assert_eq!(result.code, 5);
    assert_eq!(
        result.message,
        "monitor type pid is watched by the engine, not probed by the host"
    );
}

/// Set in the child process that runs [`subreaper_child`].
const SUBREAPER_CHILD: &str = "UPKEEP_TEST_SUBREAPER_CHILD";

#[test]
fn orphans_are_reaped_and_tracked_children_are_left_to_their_owners() {
    let exe = std::env::current_exe().expect("test binary path");
    let out = std::process::Command::new(exe)
        .args([
            "linux_host::subreaper_child",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(SUBREAPER_CHILD, "1")
        .output()
        .expect("child test ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the child test did not run:\n{stdout}"
    );
}

/// The subreaper scenario, inside its own process (see the test above).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs in a child process started by orphans_are_reaped_and_tracked_children_are_left_to_their_owners"]
async fn subreaper_child() {
    if std::env::var_os(SUBREAPER_CHILD).is_none() {
        return;
    }
    let me = i32::try_from(std::process::id()).expect("pid fits");
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path());
    host.become_subreaper().expect("subreaper");

    // A child owned by other code, protected by the registry and collected late by its owner.
    let mut owned = tokio::process::Command::new("sh")
        .args(["-c", "exit 3"])
        .spawn()
        .expect("spawned");
    let _tracked = upkeep::host::reaper::track(owned.id().expect("pid"));

    // A host process that exits on its own: its status is not stolen.
    let handle = host.spawn(sh("sleep 0.2; exit 7")).expect("spawned");

    // A start script that leaves a grandchild behind: the grandchild becomes our orphan.
    let orphan_file = dir.path().join("orphan");
    let start = with_event(
        sh(&format!("sleep 0.2 & echo $! > {}", orphan_file.display())),
        "start",
    );
    assert!(host.run_script(start).await.success());
    let orphan = read_pid(&orphan_file).await;
    let parent = procfs::read_stat(orphan).expect("readable").map(|s| s.ppid);
    assert_eq!(
        parent,
        Some(me),
        "the orphan was re-parented to the subreaper"
    );

    assert_eq!(handle.wait().await, ExitInfo::Code(7));
    // Died after 0.2 s, reaped after two graces.
    assert!(
        eventually(Duration::from_millis(1700), || procfs::read_stat(orphan)
            .ok()
            .flatten()
            .is_none())
        .await,
        "orphan {orphan} was reaped"
    );
    // The owned child has been a zombie through several sweeps and is still its owner's to collect.
    let status = owned.wait().await.expect("not stolen");
    assert_eq!(status.code(), Some(3));
    let zombies: Vec<i32> = procfs::own_children()
        .expect("children")
        .into_iter()
        .filter(|&pid| {
            procfs::read_stat(pid)
                .ok()
                .flatten()
                .is_some_and(|s| s.is_zombie())
        })
        .collect();
    assert!(zombies.is_empty(), "zombies left: {zombies:?}");
}
