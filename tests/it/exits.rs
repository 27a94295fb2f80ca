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

/// The last events, oldest first, with their times (for a failure message).
fn last_lines(engine: &Engine) -> Vec<String> {
    let recent = engine.events().recent();
    let from = recent.len().saturating_sub(16);
    recent[from..]
        .iter()
        .map(|e| format!("{} {:?} {}", e.seq, e.at, e.line()))
        .collect()
}

fn check_failed(kind: &EventKind) -> bool {
    matches!(kind, EventKind::MonitorCheckFailed { monitor, .. } if monitor == "pidw")
}

/// 1,000 processes that each die about a millisecond after their spawn (`/bin/true`), all of one
/// resource, restarted by the test each time. The pid monitor's interval is 60 s, so only two
/// things can make it see an exit within the second allowed here: the check it makes when it
/// re-arms on the activation (a pid monitor's timing is always `WhenActive` of its resource,
/// MON-7), which sees an exit that came first, and the exit report, for one that comes after.
/// A single resource restarted 1,000 times exercises the race that matters (pid none → some →
/// none within a scheduling step, again and again) with one process at a time, so the test stays
/// at a few seconds on two cores. The old board watcher coalesced that sequence into "no change"
/// now and then, and the exit waited for the tick. Each exit must also be counted once only,
/// whichever of the two saw it first.
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
        let until = tokio::time::Instant::now() + Duration::from_secs(1);
        let (mut exited, mut verdicts) = (false, 0);
        while !exited || verdicts == 0 {
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            let seen = next_matching(&mut rx, left, |k| {
                check_failed(k) || matches!(k, EventKind::ProcessExited { .. })
            })
            .await;
            match seen.map(|e| e.kind) {
                Some(EventKind::ProcessExited { .. }) => exited = true,
                Some(_) => verdicts += 1,
                None => panic!(
                    "exit {round} of 1000 was not seen within 1 s (the interval is 60 s): {:#?}",
                    last_lines(&engine)
                ),
            }
        }
        // A second verdict for this exit would be counted here or by the next round.
        assert_eq!(
            verdicts,
            1,
            "round {round}: one exit, one verdict: {:#?}",
            last_lines(&engine)
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
    // MON-10: pid none → some → none within one scheduling step. The check the monitor makes
    // when it re-arms on the activation still finds the process running here; the exit report
    // then tells it at once, not the interval tick 60 s later.
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

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_exit_a_check_already_counted_is_not_counted_again_by_its_report() {
    // With retries 1, a second count of the same exit would declare the error at once.
    let ron = SIM_PID.replace("interval: \"60s\",", "interval: \"60s\", retries: 1,");
    let mut sim = Sim::boot(&ron).await;
    sim.take();
    let monitor = ractor::ActorRef::<MonitorMsg>::where_is(sim.engine().ctx.names.monitor("pidw"))
        .expect("the monitor runs");
    // Suspended, the monitor ignores the report; resumed, its first check reads the exit.
    sim.engine()
        .suspend_monitors(vec!["pidw".into()], None)
        .await
        .expect("suspend");
    assert!(sim.host.kill("/sim/app", 9).is_some());
    sim.run_for(Duration::from_millis(10)).await;
    sim.engine()
        .resume_monitors(vec!["pidw".into()])
        .await
        .expect("resume");
    sim.run_for(Duration::from_millis(10)).await;
    let detail = "process of resource app is not running (ended with signal 9)";
    let counted = ev!("rm", 3, "Monitor pidw detected a failure (1/2). ({detail})");
    assert!(sim.take().contains(&counted), "the check counts the exit");
    // The same exit reported again (as a report racing that check would be).
    let status = sim.engine().board().resource("app").expect("app");
    let again = ProcessExit {
        generation: status.generation,
        pid: 0,
        exit: ExitInfo::Signal(9),
    };
    monitor
        .cast(MonitorMsg::ProcessGone(again))
        .expect("cast to the monitor");
    sim.run_for(Duration::from_millis(10)).await;
    assert_eq!(sim.take(), Vec::<String>::new(), "counted once");
}
