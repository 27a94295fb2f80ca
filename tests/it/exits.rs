//! Process exits reach the pid monitor as messages that cannot be lost (MON-10): a process that
//! dies right after its spawn is noticed at once, not at the next interval tick.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::broadcast;
use upkeep::host::LinuxHost;
use upkeep_actors::board::ProcessExit;
use upkeep_actors::event::{Event, EventKind};
use upkeep_actors::host::ExitInfo;
use upkeep_actors::monitor::MonitorMsg;
use upkeep_actors::sim::SimRun;
use upkeep_actors::Engine;
use upkeep_config::OsActions;

use crate::ev;
use crate::sim::Sim;

static NEXT: AtomicUsize = AtomicUsize::new(0);

async fn start(ron: &str, state: &Path) -> Engine {
    let config = crate::sim::config(ron);
    assert_eq!(config.os_actions, OsActions::Simulated);
    let host = match LinuxHost::new(OsActions::Simulated, state.to_path_buf()) {
        Ok(h) => h,
        Err(e) => panic!("LinuxHost: {e}"),
    };
    let instance = format!("exits{}", NEXT.fetch_add(1, Ordering::Relaxed));
    match Engine::start(Arc::new(config), Arc::new(host), &instance).await {
        Ok(e) => e,
        Err(e) => panic!("engine: {e}"),
    }
}

/// Wait for the next event `want` accepts; `None` after `limit`.
async fn next_matching(
    rx: &mut broadcast::Receiver<Event>,
    limit: Duration,
    want: impl Fn(&EventKind) -> bool,
) -> Option<Event> {
    let until = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(until, rx.recv()).await {
            Ok(Ok(e)) if want(&e.kind) => return Some(e),
            Ok(Ok(_)) => {}
            Ok(Err(broadcast::error::RecvError::Lagged(n))) => {
                panic!("the test fell {n} events behind the feed")
            }
            Ok(Err(broadcast::error::RecvError::Closed)) | Err(_) => return None,
        }
    }
}

fn check_failed(kind: &EventKind) -> bool {
    matches!(kind, EventKind::MonitorCheckFailed { monitor, .. } if monitor == "pidw")
}

/// 1,000 processes that each die about a millisecond after their spawn (`/bin/true`), all of one
/// resource, restarted by the test each time. The pid monitor's interval is 60 s and its timing
/// `Always`, so nothing re-arms it on a restart: only the exit report can make it see an exit
/// within the second allowed here. A single resource restarted 1,000 times exercises the race
/// that matters (pid none → some → none within one scheduling step, again and again) with one
/// process at a time, so the test stays at a few seconds on two cores. The old board watcher
/// coalesced that sequence into "no change" now and then, and the exit waited for the tick.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_exit_of_a_thousand_short_lived_processes_is_seen_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ron = r#"(
    name: "SSS", edition: "SSS",
    groups: [(name: "g1", resources: [
        (name: "app", start: (program: "/bin/true"), mode: Async),
    ])],
    monitors: [(name: "pidw", kind: Pid(resource: "app"), interval: "60s",
        recovery: (target: Sss, final_action: NoOp))],
)"#;
    let engine = start(ron, dir.path()).await;
    let (past, mut rx) = engine.events().subscribe_since(0);
    // The first process died before the monitor started; its first check finds it gone.
    if !past.iter().any(|e| check_failed(&e.kind)) {
        assert!(
            next_matching(&mut rx, Duration::from_secs(5), check_failed)
                .await
                .is_some(),
            "the monitor's first check sees the first process gone"
        );
    }
    let began = Instant::now();
    let mut slowest = Duration::ZERO;
    for round in 1..=1000 {
        engine.resource("app", false).await.expect("stop app");
        engine.resource("app", true).await.expect("start app");
        let started = Instant::now();
        // Its exit first, then the monitor's verdict: a second verdict for one exit would
        // show up here, ahead of the next exit.
        let exited = next_matching(&mut rx, Duration::from_secs(5), |k| {
            check_failed(k) || matches!(k, EventKind::ProcessExited { .. })
        })
        .await
        .map(|e| e.kind);
        assert!(
            matches!(exited, Some(EventKind::ProcessExited { .. })),
            "round {round}: expected the process's exit, got {exited:?}"
        );
        let seen = next_matching(&mut rx, Duration::from_secs(1), check_failed).await;
        assert!(
            seen.is_some(),
            "exit {round} of 1000 was not seen within 1 s (the interval is 60 s): {:#?}",
            engine
                .events()
                .recent()
                .iter()
                .rev()
                .take(12)
                .map(Event::line)
                .collect::<Vec<_>>()
        );
        slowest = slowest.max(started.elapsed());
    }
    eprintln!(
        "1000 exits seen in {:?}, slowest {:?} after its start returned",
        began.elapsed(),
        slowest
    );
    engine.stop("test").await;
}

/// A group `g1` with one async resource `app` (/sim/app) watched by `pidw` every 60 s.
const SIM_PID: &str = r#"(
    name: "SSS", edition: "SSS",
    groups: [(name: "g1", resources: [
        (name: "app", start: (program: "/sim/app"), mode: Async),
    ])],
    monitors: [(name: "pidw", kind: Pid(resource: "app"), interval: "60s",
        recovery: (target: Sss, final_action: NoOp))],
)"#;

/// What the monitor says when it sees `app`'s process gone with `exit`.
fn gone(exit: &str) -> Vec<String> {
    let detail = format!("process of resource app is not running (ended with {exit})");
    vec![
        ev!("rm", 3, "Monitor pidw detected a failure (1/1). ({detail})"),
        ev!("rm", 9, "Monitor pidw failed. ({detail})"),
        ev!("rm", 14, "Final action of monitor pidw: NoOp."),
    ]
}

/// The operator restarts `app`; the events of the stop and the start.
async fn restart_app(sim: &mut Sim) -> Vec<String> {
    sim.engine().resource("app", false).await.expect("stop app");
    sim.engine().resource("app", true).await.expect("start app");
    sim.run_for(Duration::from_millis(10)).await;
    sim.take()
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_process_that_exits_at_its_spawn_is_noticed_at_once() {
    // MON-10: pid none → some → none within one scheduling step, and the monitor stays in
    // Monitoring throughout (timing Always), so only the exit report can tell it before the
    // interval tick 60 s later.
    let mut sim = Sim::boot(SIM_PID).await;
    sim.take();
    sim.host.script("/sim/app", [SimRun::Exit(3)]);
    let lines = restart_app(&mut sim).await;
    let mut want = vec![
        ev!("rc", 40, "The stop processing of a resource app started."),
        ev!("rc", 41, "The stop processing of a resource app ended."),
        ev!("rc", 30, "The start processing of a resource app started."),
        ev!("rc", 31, "The start processing of a resource app ended."),
        ev!(
            "rc",
            50,
            "The process of the resource app (pid 1002) ended with exit code 3."
        ),
    ];
    want.extend(gone("exit code 3"));
    assert_eq!(lines, want);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_late_exit_report_of_an_old_process_does_not_act_on_its_successor() {
    // Reports carry the process's incarnation: once a successor runs, a report of its
    // predecessor (delayed on its way) is stale and must not count against the new process.
    let mut sim = Sim::boot(SIM_PID).await;
    sim.take();
    let first = sim.engine().board().resource("app").expect("app");
    assert!(first.pid.is_some(), "the first process runs");
    let monitor = ractor::ActorRef::<MonitorMsg>::where_is(sim.engine().ctx.names.monitor("pidw"))
        .expect("the monitor runs");
    restart_app(&mut sim).await;
    let second = sim.engine().board().resource("app").expect("app");
    assert!(second.generation > first.generation);
    let stale = ProcessExit {
        generation: first.generation,
        pid: first.pid.unwrap_or_default(),
        exit: ExitInfo::Signal(9),
    };
    monitor
        .cast(MonitorMsg::ProcessGone(stale))
        .expect("cast to the monitor");
    sim.run_for(Duration::from_millis(10)).await;
    assert_eq!(
        sim.take(),
        Vec::<String>::new(),
        "the stale report is ignored"
    );

    // The successor's own exit still counts, at once.
    assert!(sim.host.kill("/sim/app", 9).is_some());
    sim.run_for(Duration::from_millis(10)).await;
    let lines = sim.take();
    assert_eq!(lines[1..], gone("signal 9"));
    assert_eq!(
        lines[0],
        ev!(
            "rc",
            50,
            "The process of the resource app (pid {}) ended with signal 9.",
            second.pid.unwrap_or_default()
        )
    );
}
