//! Crash loops end, and they are visible (issue 9): upkeep's start limit, restart backoff and
//! one final action per error episode, in virtual time on the simulated host, with the exact
//! event lines a user reads. The reproducer is `sh -c "sleep 0.3; exit 1"`: a process that dies
//! 0.3 s after every start, which the seed restarted hundreds of times a second, forever.

use std::time::Duration;

use upkeep_actors::board::MonitorPhase;
use upkeep_actors::sim::{SimRun, SimulatedHost};

use crate::ev;
use crate::sim::Sim;

/// `app` (async, `/sim/app`) in group `g1`, watched by the pid monitor `pidw` with `recovery`.
fn config(recovery: &str) -> String {
    format!(
        r#"(
    name: "SSS", edition: "SSS",
    groups: [(name: "g1", resources: [
        (name: "app", start: (program: "/sim/app"), mode: Async),
    ])],
    monitors: [(name: "pidw", kind: Pid(resource: "app"), interval: "5s", timeout: "60s",
        recovery: {recovery})],
)"#
    )
}

const MS: fn(u64) -> Duration = Duration::from_millis;

/// Boot on a host where the starts of `/sim/app` do `runs`, then die 0.3 s after each start.
async fn boot(recovery: &str, runs: &[SimRun]) -> Sim {
    let host = SimulatedHost::default();
    host.script("/sim/app", runs.iter().cloned());
    host.script(
        "/sim/app",
        std::iter::repeat_n(SimRun::ExitAfter(1, MS(300)), 10_000),
    );
    let mut sim = Sim::boot_on(&config(recovery), host).await;
    assert_eq!(
        sim.take(),
        [
            ev!("pm", 1, "Cluster daemon has started properly..."),
            ev!("nm", 1, "Server server1 up."),
            ev!("rc", 10, "The start processing of a group g1 started."),
            ev!("rc", 30, "The start processing of a resource app started."),
            ev!("rc", 31, "The start processing of a resource app ended."),
            ev!("rc", 11, "The start processing of a group g1 ended."),
            ev!("rm", 1, "Monitor pidw start."),
        ]
    );
    sim
}

/// The process `pid` dies and `pidw` declares the error.
fn dies(pid: u32) -> Vec<String> {
    let why = "process of resource app is not running (ended with exit code 1)";
    vec![
        ev!(
            "rc",
            50,
            "The process of the resource app (pid {pid}) ended with exit code 1."
        ),
        ev!("rm", 3, "Monitor pidw detected a failure (1/1). ({why})"),
        ev!("rm", 9, "Monitor pidw failed. ({why})"),
    ]
}

/// The backoff announces a wait of `secs`.
fn waits(secs: u64) -> String {
    ev!(
        "rm",
        16,
        "Monitor pidw reactivates the recovery target app in {secs}s, because it failed again soon after its last reactivation. (1/3)"
    )
}

/// Reactivation 1/3 of `app` and the first check after it (MON-15 resets the count).
fn reactivated() -> Vec<String> {
    vec![
        ev!(
            "rm",
            11,
            "Monitor pidw reactivates the recovery target app. (1/3)"
        ),
        ev!("rc", 40, "The stop processing of a resource app started."),
        ev!("rc", 41, "The stop processing of a resource app ended."),
        ev!("rc", 30, "The start processing of a resource app started."),
        ev!("rc", 31, "The start processing of a resource app ended."),
        ev!("rm", 5, "Monitor pidw is normal again."),
        ev!(
            "rm",
            13,
            "Monitor pidw is normal after reactivation: reactivation count reset."
        ),
    ]
}

fn cat(parts: &[&[String]]) -> Vec<String> {
    parts.concat()
}

const LOOP_TO_STOP_GROUP: &str =
    "(target: Resource(\"app\"), reactivation_threshold: 3, final_action: StopGroup)";

/// Priority 1 and 2 of issue 9 with the defaults: the first restart is immediate, the next ones
/// wait 1, 2, 4, 8 s, and the 6th reactivation within 5 minutes is replaced by the final action,
/// although MON-15 reset the reactivation count after every one of them.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_crash_loop_is_paced_then_reaches_the_final_action() {
    // Boot took 10 ms: the first process (pid 1001) started at t = 0 and dies at 0.3 s.
    let mut sim = boot(LOOP_TO_STOP_GROUP, &[]).await;
    sim.run_for(MS(289)).await;
    assert_eq!(sim.take(), Vec::<String>::new());
    // A one-off crash is restarted at once, exactly as without a backoff.
    sim.run_for(MS(2)).await;
    assert_eq!(sim.take(), cat(&[&dies(1001), &reactivated()]));
    // pid 1002 dies at 0.6 s: it failed soon after its reactivation, so it waits 1 s.
    sim.run_for(MS(300)).await;
    assert_eq!(sim.take(), cat(&[&dies(1002), &[waits(1)]]));
    let pidw = sim.engine().board().monitor("pidw").expect("pidw");
    assert_eq!(pidw.phase, MonitorPhase::Backoff);
    assert!(pidw.next_attempt.is_some());
    assert_eq!(pidw.restarts, 1);
    let app = sim.engine().board().resource("app").expect("app");
    assert_eq!(app.pid, None);
    assert_eq!(app.last_exit, Some(upkeep_actors::host::ExitInfo::Code(1)));
    sim.run_for(MS(998)).await;
    assert_eq!(sim.take(), Vec::<String>::new(), "still waiting at 1.599 s");
    sim.run_for(MS(2)).await;
    assert_eq!(sim.take(), reactivated());
    // 1003 dies at 1.9 s, waits 2 s; 1004 dies at 4.2 s, waits 4 s; 1005 dies at 8.5 s, 8 s.
    sim.run_for(MS(300)).await;
    assert_eq!(sim.take(), cat(&[&dies(1003), &[waits(2)]]));
    sim.run_for(MS(2000)).await;
    assert_eq!(sim.take(), reactivated());
    sim.run_for(MS(300)).await;
    assert_eq!(sim.take(), cat(&[&dies(1004), &[waits(4)]]));
    sim.run_for(MS(4000)).await;
    assert_eq!(sim.take(), reactivated());
    sim.run_for(MS(300)).await;
    assert_eq!(sim.take(), cat(&[&dies(1005), &[waits(8)]]));
    sim.run_for(MS(8000)).await;
    assert_eq!(sim.take(), reactivated());
    // 1006 dies at 16.8 s: a 6th reactivation within 300 s is past the start limit of 5.
    sim.run_for(MS(300)).await;
    assert_eq!(
        sim.take(),
        cat(&[
            &dies(1006),
            &[
                ev!(
                    "rm",
                    17,
                    "Recovery target app of monitor pidw was reactivated more than 5 times within 300s: the reactivations have failed."
                ),
                ev!("rm", 14, "Final action of monitor pidw: StopGroup."),
                ev!("rc", 20, "The stop processing of a group g1 started."),
                ev!("rc", 40, "The stop processing of a resource app started."),
                ev!("rc", 41, "The stop processing of a resource app ended."),
                ev!("rc", 21, "The stop processing of a group g1 ended."),
            ],
        ])
    );
    // The loop is over, and says so: no more starts, and the monitor shows the failure.
    sim.run_for(Duration::from_secs(600)).await;
    assert_eq!(sim.take(), Vec::<String>::new());
    let pidw = sim.engine().board().monitor("pidw").expect("pidw");
    assert_eq!(pidw.failed.as_deref(), Some("final action StopGroup taken"));
    assert_eq!(pidw.restarts, 5);
}

/// `backoff: Off, start_limit: Off` is the seed's exact behaviour: the loop is restarted at
/// once, every time, and never reaches the final action (MON-15).
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn with_both_policies_off_the_seed_loops_forever() {
    let mut sim = boot(
        "(target: Resource(\"app\"), reactivation_threshold: 3, final_action: StopGroup, backoff: Off, start_limit: Off)",
        &[],
    )
    .await;
    // Deaths at 0.3, 0.6, 0.9 s ...: each is reactivated at once.
    let mut expected = Vec::new();
    for pid in 1001..=1033 {
        expected.extend(dies(pid));
        expected.extend(reactivated());
    }
    sim.run_for(MS(9_995)).await;
    assert_eq!(sim.take(), expected);
}

/// The backoff starts over once the target stayed up for `reset_after` (60 s by default): a
/// crash after a healthy minute is restarted at once again.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_backoff_starts_over_after_a_healthy_spell() {
    // 1001 dies at 0.3 s, 1002 at 0.6 s (waits 1 s); 1003 (started at 1.6 s) runs 61 s.
    let mut sim = boot(
        LOOP_TO_STOP_GROUP,
        &[
            SimRun::ExitAfter(1, MS(300)),
            SimRun::ExitAfter(1, MS(300)),
            SimRun::ExitAfter(1, Duration::from_secs(61)),
        ],
    )
    .await;
    sim.run_for(MS(1_595)).await;
    assert_eq!(
        sim.take(),
        cat(&[
            &dies(1001),
            &reactivated(),
            &dies(1002),
            &[waits(1)],
            &reactivated()
        ])
    );
    sim.run_for(Duration::from_secs(61)).await;
    assert_eq!(sim.take(), cat(&[&dies(1003), &reactivated()]));
}

/// A monitor whose error episode ended in its final action does not declare the error and run
/// the final action again at every interval; a normal check starts a new episode.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_final_action_runs_once_per_error_episode() {
    let mut sim = boot(
        "(target: Resource(\"app\"), reactivation_threshold: 0, final_action: NoOp)",
        &[],
    )
    .await;
    sim.run_for(Duration::from_secs(60)).await;
    assert_eq!(
        sim.take(),
        cat(&[
            &dies(1001),
            &[ev!("rm", 14, "Final action of monitor pidw: NoOp.")]
        ]),
        "12 more checks saw the process gone, and stayed quiet"
    );
    let pidw = sim.engine().board().monitor("pidw").expect("pidw");
    assert_eq!(pidw.failed.as_deref(), Some("final action NoOp taken"));
    // The operator starts it again: a new process is a new episode.
    sim.engine().resource("app", false).await.expect("stop app");
    sim.engine().resource("app", true).await.expect("start app");
    sim.run_for(MS(400)).await;
    let lines = sim.take();
    assert!(lines.len() >= 4, "{lines:#?}");
    assert_eq!(
        lines[lines.len() - 4..],
        cat(&[
            &dies(1002),
            &[ev!("rm", 14, "Final action of monitor pidw: NoOp.")]
        ])
    );
}

/// `status --json` as the control socket would answer it now.
fn status(sim: &Sim) -> serde_json::Value {
    let engine = sim.engine();
    let life = upkeep::control::life::follow(engine.events(), engine.board());
    let facts = upkeep::control::snapshot::ServerFacts {
        host: "server1".into(),
        pid: 1,
        started: tokio::time::Instant::now(),
        containment: "simulated".into(),
    };
    let reply = upkeep::control::snapshot::status(
        &engine.ctx.config,
        engine.board(),
        &facts,
        *life.borrow(),
        0,
    );
    serde_json::to_value(reply).expect("json")
}

fn find_node<'a>(
    node: &'a upkeep_actors::tree::TreeNode,
    path: &str,
) -> Option<&'a upkeep_actors::tree::TreeNode> {
    if node.path == path {
        return Some(node);
    }
    node.children.iter().find_map(|c| find_node(c, path))
}

/// Honest status (issue 9): a crash-looping resource is never `online` without a process; it
/// shows `backoff` with the next attempt, or `failed` with the reason, and its restart count;
/// its group is not online when none of its resources is; the monitor says its episode failed.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn status_shows_backoff_then_failed_with_reason_and_restarts() {
    let mut sim = boot(LOOP_TO_STOP_GROUP, &[]).await;
    sim.run_for(MS(600)).await; // 1002 died at 0.6 s: the restart waits 1 s.
    let s = status(&sim);
    let g1 = &s["groups"][0];
    let app = &g1["resources"][0];
    assert_eq!(g1["state"], "failed", "{s:#}");
    assert_eq!(app["state"], "backoff", "{s:#}");
    assert_eq!(app["pid"], serde_json::Value::Null);
    assert_eq!(app["restarts"], 1);
    assert_eq!(app["last_exit"], serde_json::json!({"code": 1}));
    assert_eq!(app["reason"], "process ended with exit code 1");
    assert!(app["next_attempt"].is_string(), "{s:#}");
    let pidw = &s["monitors"][0];
    assert_eq!(pidw["phase"], "backoff");
    assert_eq!(pidw["restarts"], 1);
    assert!(pidw["next_attempt"].is_string(), "{s:#}");

    // With final action NoOp the last process stays dead: `failed`, not `online`.
    let mut sim = boot(
        "(target: Resource(\"app\"), reactivation_threshold: 3, final_action: NoOp)",
        &[],
    )
    .await;
    sim.run_for(Duration::from_secs(30)).await;
    let s = status(&sim);
    let g1 = &s["groups"][0];
    let app = &g1["resources"][0];
    assert_eq!(g1["state"], "failed", "{s:#}");
    assert_eq!(app["state"], "failed", "{s:#}");
    assert_eq!(app["restarts"], 5);
    assert_eq!(app["reason"], "process ended with exit code 1");
    assert_eq!(s["monitors"][0]["failed"], "final action NoOp taken");
    // `tree` counts the program's restarts on its resource, while the actors never crashed.
    let tree = sim.engine().tree();
    let app_node = find_node(&tree, "rc/g1/app").expect("rc/g1/app in the tree");
    assert_eq!(app_node.process_restarts, Some(5), "{app_node:#?}");
    assert_eq!(app_node.restarts, 0, "{app_node:#?}");
    let text = upkeep::cli::status::render(&serde_json::from_value(s).expect("reply"));
    assert!(
        text.lines().any(|l| l.starts_with("  app ")
            && l.contains(" failed ")
            && l.ends_with("process ended with exit code 1"))
            && text.contains("failed (final action NoOp taken)"),
        "{text}"
    );
}

/// `app` with an Http monitor `httpw` (default `start_wait: 0`) that restarts it.
const HTTP_APP: &str = r#"(
    name: "SSS", edition: "SSS",
    groups: [(name: "g1", resources: [
        (name: "app", start: (program: "/sim/app"), mode: Async),
    ])],
    monitors: [(name: "httpw", kind: Http(url: "http://127.0.0.1:8080/"), interval: "5s",
        recovery: (target: Resource("app"), reactivation_threshold: 3, final_action: StopGroup))],
)"#;

fn refused() -> upkeep_actors::sim::SimProbe {
    upkeep_actors::sim::SimProbe::Answer(upkeep_actors::host::ProbeResult::error(
        1,
        "connection refused".to_string(),
    ))
}

/// Start grace (issue 9): an Http monitor does not judge its app before it could be up. The
/// app needs 7 s to answer, at boot and again after an operator's `group start`; the seed's
/// default (no start wait) reactivated it at once, stopping it while it started.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_starting_app_is_not_judged_by_its_http_monitor() {
    let host = SimulatedHost::default();
    // Boot: the check at once and at 5 s are refused, the one at 10 s answers.
    host.probe("httpw", [refused(), refused()]);
    let mut sim = Sim::boot_on(HTTP_APP, host).await;
    sim.take();
    let s = status(&sim);
    assert!(s["monitors"][0]["grace_until"].is_string(), "{s:#}");
    sim.run_for(Duration::from_secs(11)).await;
    assert_eq!(sim.take(), Vec::<String>::new(), "nothing was counted");
    let s = status(&sim);
    assert_eq!(s["monitors"][0]["grace_until"], serde_json::Value::Null);
    assert_eq!(s["monitors"][0]["last_verdict"], "normal");

    // The operator restarts the group: the next two checks are refused, and not counted.
    sim.engine().group("g1", false).await.expect("stop g1");
    sim.engine().group("g1", true).await.expect("start g1");
    sim.host.probe("httpw", [refused(), refused()]);
    sim.run_for(Duration::from_secs(20)).await;
    let lines: Vec<String> = sim
        .take()
        .into_iter()
        .filter(|l| l.contains("<type: rm>"))
        .collect();
    assert_eq!(
        lines,
        Vec::<String>::new(),
        "no check counted, no reactivation"
    );

    // After the grace an abnormal check counts as always.
    sim.host.probe("httpw", [refused()]);
    sim.run_for(Duration::from_secs(5)).await;
    let lines = sim.take();
    assert_eq!(
        lines[..2],
        [
            ev!(
                "rm",
                3,
                "Monitor httpw detected a failure (1/1). (connection refused)"
            ),
            ev!("rm", 9, "Monitor httpw failed. (connection refused)"),
        ]
    );
}

/// A suspension during the backoff cancels the waiting reactivation: nothing is restarted while
/// monitoring is suspended (OPS-2), and status no longer shows a next attempt.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_suspension_cancels_the_waiting_reactivation() {
    let mut sim = boot(LOOP_TO_STOP_GROUP, &[]).await;
    sim.run_for(MS(600)).await; // 1002 died at 0.6 s: the restart waits 1 s.
    assert_eq!(sim.take().last(), Some(&waits(1)), "the reactivation waits");
    sim.engine().suspend(true).await.expect("suspend");
    sim.run_for(Duration::from_secs(10)).await;
    assert_eq!(
        sim.take(),
        [
            ev!("pm", 4, "Cluster daemon has been suspended."),
            ev!("rm", 20, "All monitors have been suspended."),
        ]
    );
    let pidw = sim.engine().board().monitor("pidw").expect("pidw");
    assert_eq!(pidw.phase, MonitorPhase::Suspended);
    assert_eq!(pidw.next_attempt, None);
}

/// Honest status (issue 9): a started group none of whose resources came up is `failed`, not
/// `online_partial`, and the resource says why its start failed.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_group_with_no_resource_up_is_failed_with_the_reason() {
    let host = SimulatedHost::default();
    host.script("/sim/job", [SimRun::Exit(3)]);
    let sim = Sim::boot_on(
        r#"(
    name: "SSS", edition: "SSS",
    groups: [(name: "g1", resources: [(name: "job", start: (program: "/sim/job"))])],
)"#,
        host,
    )
    .await;
    let s = status(&sim);
    let g1 = &s["groups"][0];
    assert_eq!(g1["state"], "failed", "{s:#}");
    assert_eq!(g1["resources"][0]["state"], "start_failed", "{s:#}");
    assert_eq!(g1["resources"][0]["reason"], "exit code 3", "{s:#}");
}
