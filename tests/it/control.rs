//! The Engine operations the control plane calls, in virtual time on the simulated host
//! (issue 8): a timed monitor suspension of any length never crashes rm (defect 4); `inject
//! kill` is done by the resource that owns the process, and `down` without an engine takes the
//! governor's power path (defect 9); the real host's `kill` takes the whole process group, once.

use std::sync::Arc;
use std::time::Duration;

use ractor::ActorRef;
use upkeep_actors::host::{OsAction, OsActionOutcome};
use upkeep_actors::rm::RmMsg;
use upkeep_actors::sim::HostAction;
use upkeep_actors::tree::TreeNode;
use upkeep_actors::{OpError, PowerPath};

use crate::ev;
use crate::sim::{config, Sim};

/// A group `g1` with the async resource `app` and the sync resource `setup`, a pid monitor.
const RON: &str = r#"(
    name: "SSS", edition: "SSS",
    groups: [(name: "g1", resources: [
        (name: "setup", start: (program: "/sim/setup")),
        (name: "app", start: (program: "/sim/app"), mode: Async),
    ])],
    monitors: [(name: "pidw", kind: Pid(resource: "app"), interval: "5s", timeout: "60s",
        recovery: (target: Resource("app"), reactivation_threshold: 1, final_action: NoOp))],
)"#;

fn restarted(node: &TreeNode, out: &mut Vec<String>) {
    if node.restarts > 0 {
        out.push(format!("{} ({:?})", node.path, node.last_failure));
    }
    for child in &node.children {
        restarted(child, out);
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_suspension_of_any_length_crashes_no_rm() {
    let mut sim = Sim::boot(RON).await;
    sim.take();
    let huge = [
        Duration::from_secs(1_000_000_000_000),
        Duration::from_secs(1 << 63),
        Duration::MAX,
    ];
    for span in huge {
        assert!(
            matches!(
                sim.engine()
                    .suspend_monitors(vec!["pidw".into()], Some(span))
                    .await,
                Err(OpError::Invalid(_))
            ),
            "{span:?}"
        );
    }
    // rm itself refuses too, for a caller that skips the Engine's check.
    let rm = ActorRef::<RmMsg>::where_is(sim.engine().ctx.names.rm()).expect("rm runs");
    for span in huge {
        let reply = rm
            .call(
                |done| RmMsg::SuspendMonitors {
                    names: vec!["pidw".into()],
                    for_: Some(span),
                    done: Some(done),
                },
                Some(Duration::from_secs(5)),
            )
            .await;
        assert!(
            matches!(reply, Ok(ractor::rpc::CallResult::Success(Err(_)))),
            "{span:?}"
        );
    }
    sim.run_for(Duration::from_secs(1)).await;
    assert_eq!(sim.take(), Vec::<String>::new(), "nothing happened");
    let mut crashed = Vec::new();
    restarted(&sim.engine().tree(), &mut crashed);
    assert!(crashed.is_empty(), "restarted: {crashed:?}");
    assert!(!sim.daemon_stopped());
    // The longest allowed suspension works.
    sim.engine()
        .suspend_monitors(
            vec!["pidw".into()],
            Some(upkeep_actors::MAX_MONITOR_SUSPENSION),
        )
        .await
        .expect("a week is allowed");
    let pidw = sim.engine().board().monitor("pidw").expect("pidw");
    assert!(pidw.operator_suspended && pidw.suspended_until.is_some());
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn inject_kill_is_done_by_the_resource_that_owns_the_process() {
    let mut sim = Sim::boot(RON).await;
    sim.take();
    let pid = sim
        .engine()
        .board()
        .resource("app")
        .and_then(|r| r.pid)
        .expect("app runs");
    assert_eq!(sim.engine().kill_process("app").await, Ok(pid));
    assert!(sim.host.actions().contains(&HostAction::Killed { pid }));
    sim.run_for(Duration::from_millis(10)).await;
    let lines = sim.take();
    assert_eq!(
        lines.first(),
        Some(&ev!(
            "rc",
            50,
            "The process of the resource app (pid {pid}) ended with signal 9."
        )),
        "{lines:?}"
    );
    assert!(
        sim.engine()
            .board()
            .resource("app")
            .and_then(|r| r.pid)
            .is_some_and(|p| p != pid),
        "the pid monitor reactivated app"
    );
    assert_eq!(
        sim.engine().kill_process("nope").await,
        Err(OpError::Unknown {
            kind: "resource",
            name: "nope".into()
        })
    );
    assert_eq!(
        sim.engine().kill_process("setup").await,
        Err(OpError::Refused(
            "resource `setup` has no running process".into()
        ))
    );
    assert!(sim.host.os_actions().is_empty());
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn down_without_an_engine_takes_the_governors_power_path() {
    let mut sim = Sim::boot(RON).await;
    sim.stop().await;
    let host = sim.host.clone();
    let path = PowerPath::open(Arc::new(config(RON)), Arc::new(host.clone()), "power-path")
        .await
        .expect("the governor starts");
    let (_, mut rx) = path.events().subscribe_since(0);
    assert_eq!(path.down(true).await, Ok(OsActionOutcome::Simulated));
    let mut lines = Vec::new();
    while let Ok(e) = rx.try_recv() {
        lines.push(e.line());
    }
    assert_eq!(
        lines,
        [
            ev!(
                "pm",
                26,
                "Manual reboot requested: the daemon stops its groups, then the OS will reboot."
            ),
            ev!(
                "pm",
                22,
                "OS actions are simulated: would reboot now. (reboot count 0/3)"
            ),
        ]
    );
    assert_eq!(host.os_actions(), [OsAction::Reboot]);
    assert!(
        ractor::registry::registered()
            .iter()
            .all(|n| !n.starts_with("power-path")),
        "the governor is gone"
    );
}

/// The real host's `kill`: SIGKILL to the whole process group, seen by `wait`; a second kill
/// of the exited process is an error and signals nothing (the group id may be reused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_linux_host_kills_the_whole_group_once() {
    use upkeep_actors::host::{ExitInfo, HostError, Processes, ScriptRun};
    let dir = tempfile::tempdir().expect("tempdir");
    let host = upkeep::host::LinuxHost::new(upkeep_config::OsActions::Simulated, dir.path().into())
        .expect("host");
    let handle = host
        .spawn(ScriptRun {
            command: upkeep_config::Command {
                program: "/bin/sh".into(),
                args: vec!["-c".into(), "trap '' TERM; sleep 30 & sleep 30".into()],
                env: Default::default(),
            },
            env: Vec::new(),
            timeout: Duration::from_secs(5),
            kill_grace: Duration::from_secs(1),
            context: Default::default(),
        })
        .expect("spawned");
    let pgid = nix::unistd::Pid::from_raw(i32::try_from(handle.pid()).expect("pid"));
    handle.kill().expect("killed");
    let exit = tokio::time::timeout(Duration::from_secs(2), handle.wait())
        .await
        .expect("the exit is seen at once");
    assert_eq!(exit, ExitInfo::Signal(9));
    assert!(
        matches!(handle.kill(), Err(HostError::Process { .. })),
        "an exited process is not signalled again"
    );
    // Nothing of the group runs any more. Its orphaned members may linger as zombies until
    // PID 1 reaps them (this machine's init does so only every few seconds), and a zombie
    // still answers `killpg(pgid, 0)`: count only members that are not zombies.
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    while !live_members(pgid.as_raw()).is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        live_members(pgid.as_raw()),
        Vec::<i32>::new(),
        "the group is gone"
    );
}

/// The pids of process group `pgid` that are not zombies, from /proc/<pid>/stat.
fn live_members(pgid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // After the command's closing parenthesis: state, ppid, pgrp.
            let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
                return false;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            fields.first() != Some(&"Z") && fields.get(2) == Some(&pgid.to_string().as_str())
        })
        .collect()
}
