//! Escalation paths of the engine in virtual time against the simulated host: retry count
//! (MON-5), reactivation of a resource and of a group up to the threshold (MON-11, MON-12), every
//! final action of RES-4, RES-5, MON-13 and HWM-6, the counter reset (MON-15), an inactive
//! target (MON-14), and DOWN-3. Each test asserts the ordered events a user would see.

use std::time::Duration;

use upkeep_actors::host::OsAction;

use crate::ev;
use crate::sim::Sim;

/// A group `g1` with one async resource `app` (program /sim/app) watched by `pidw`.
fn pid_config(recovery: &str) -> String {
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

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn boot_starts_groups_then_monitors_with_the_seed_lines() {
    let mut sim = Sim::boot(&pid_config(
        "(target: Resource(\"app\"), reactivation_threshold: 1, final_action: NoOp)",
    ))
    .await;
    assert_eq!(
        sim.take(),
        vec![
            ev!("pm", 1, "Cluster daemon has started properly..."),
            ev!("nm", 1, "Server server1 up."),
            ev!("rc", 10, "The start processing of a group g1 started."),
            ev!("rc", 30, "The start processing of a resource app started."),
            ev!("rc", 31, "The start processing of a resource app ended."),
            ev!("rc", 11, "The start processing of a group g1 ended."),
            ev!("rm", 1, "Monitor pidw start."),
        ]
    );
    let stop = sim.stop().await;
    assert_eq!(
        stop,
        vec![
            ev!("pm", 2, "Cluster daemon is stopping. (test)"),
            ev!("rm", 2, "Monitor pidw stop."),
            ev!("rc", 20, "The stop processing of a group g1 started."),
            ev!("rc", 40, "The stop processing of a resource app started."),
            ev!("rc", 41, "The stop processing of a resource app ended."),
            ev!("rc", 21, "The stop processing of a group g1 ended."),
            ev!("pm", 3, "Cluster daemon has stopped."),
        ]
    );
    assert!(
        sim.host.running().is_empty(),
        "no process survives the stop"
    );
}

/// Issue 14: independent groups start at once, so a group whose start script takes 20 s
/// holds no other group back; each group's own lines stay in order.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_slow_group_start_holds_no_other_group_back() {
    let host = upkeep_actors::sim::SimulatedHost::default();
    host.script(
        "/sim/slow",
        [upkeep_actors::sim::SimRun::ExitAfter(
            0,
            Duration::from_secs(20),
        )],
    );
    let mut sim = Sim::boot_on(
        r#"(
    name: "SSS", edition: "SSS",
    groups: [
        (name: "slow", resources: [(name: "init", start: (program: "/sim/slow"), mode: Sync)]),
        (name: "fast", resources: [(name: "app", start: (program: "/sim/app"), mode: Async)]),
    ],
)"#,
        host,
    )
    .await;
    let state = |sim: &Sim, g: &str| sim.engine().board().group(g).map(|s| s.state);
    assert_eq!(
        state(&sim, "fast"),
        Some(upkeep_actors::board::GroupState::Online)
    );
    assert_eq!(
        state(&sim, "slow"),
        Some(upkeep_actors::board::GroupState::Starting)
    );
    assert_eq!(
        sim.take()[2..],
        [
            ev!("rc", 10, "The start processing of a group slow started."),
            ev!("rc", 10, "The start processing of a group fast started."),
            ev!("rc", 30, "The start processing of a resource init started."),
            ev!("rc", 30, "The start processing of a resource app started."),
            ev!("rc", 31, "The start processing of a resource app ended."),
            ev!("rc", 11, "The start processing of a group fast ended."),
        ]
    );
    sim.run_for(Duration::from_secs(20)).await;
    assert_eq!(
        state(&sim, "slow"),
        Some(upkeep_actors::board::GroupState::Online)
    );
    assert_eq!(
        sim.take(),
        [
            ev!("rc", 31, "The start processing of a resource init ended."),
            ev!("rc", 11, "The start processing of a group slow ended."),
        ]
    );
}

fn kill_app(sim: &Sim) {
    assert!(
        sim.host.kill("/sim/app", 9).is_some(),
        "the app process was running"
    );
}

const PID_LOST: &str = "process of resource app is not running (ended with signal 9)";

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn killed_process_is_reactivated_and_the_count_resets_after_a_normal_check() {
    // MON-11 (resource target), MON-15: the first normal check after the reactivation resets
    // the count, so a fault that comes back later is reactivated again, never the final action.
    let mut sim = Sim::boot(&pid_config(
        // The seed's exact timing: upkeep's backoff and start limit are off.
        "(target: Resource(\"app\"), reactivation_threshold: 1, final_action: StopDaemon, backoff: Off, start_limit: Off)",
    ))
    .await;
    sim.take();
    for _ in 0..2 {
        kill_app(&sim);
        sim.run_for(Duration::from_millis(10)).await;
        let pid = sim.engine().board().resource("app").and_then(|r| r.pid);
        assert!(pid.is_some(), "a new process runs");
        let lines = sim.take();
        assert_eq!(
            lines[1..],
            [
                ev!(
                    "rm",
                    3,
                    "Monitor pidw detected a failure (1/1). ({PID_LOST})"
                ),
                ev!("rm", 9, "Monitor pidw failed. ({PID_LOST})"),
                ev!(
                    "rm",
                    11,
                    "Monitor pidw reactivates the recovery target app. (1/1)"
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
        );
        assert!(lines[0].starts_with("<type: rc><event: 50> The process of the resource app (pid "));
        assert!(lines[0].ends_with(") ended with signal 9."));
    }
    assert!(!sim.daemon_stopped());
    assert!(sim.host.os_actions().is_empty());
}

/// After a reactivation, each new process dies 1 s after its start, before the 3 s start wait
/// ends: the first check after the wait is abnormal, so the ladder climbs (MON-12).
fn dying_app(sim: &Sim, times: usize) {
    sim.host.script(
        "/sim/app",
        std::iter::repeat_n(
            upkeep_actors::sim::SimRun::ExitAfter(1, Duration::from_secs(1)),
            times,
        ),
    );
}

fn pid_config_waiting(recovery: &str) -> String {
    pid_config(recovery).replace("timeout: \"60s\",", "timeout: \"60s\", start_wait: \"3s\",")
}

const PID_DIED: &str = "process of resource app is not running (ended with exit code 1)";

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn resource_is_reactivated_up_to_the_threshold_then_its_group_is_stopped() {
    let mut sim = Sim::boot(&pid_config_waiting(
        // The seed's exact timing: upkeep's backoff and start limit are off.
        "(target: Resource(\"app\"), reactivation_threshold: 2, final_action: StopGroup, backoff: Off, start_limit: Off)",
    ))
    .await;
    sim.run_for(Duration::from_secs(3)).await;
    sim.take();
    dying_app(&sim, 2);
    kill_app(&sim);
    sim.run_for(Duration::from_secs(10)).await;
    let lines: Vec<String> = sim
        .take()
        .into_iter()
        .filter(|l| !l.contains("<event: 50>"))
        .collect();
    assert_eq!(
        lines,
        [
            ev!(
                "rm",
                3,
                "Monitor pidw detected a failure (1/1). ({PID_LOST})"
            ),
            ev!("rm", 9, "Monitor pidw failed. ({PID_LOST})"),
            ev!(
                "rm",
                11,
                "Monitor pidw reactivates the recovery target app. (1/2)"
            ),
            ev!("rc", 40, "The stop processing of a resource app started."),
            ev!("rc", 41, "The stop processing of a resource app ended."),
            ev!("rc", 30, "The start processing of a resource app started."),
            ev!("rc", 31, "The start processing of a resource app ended."),
            ev!(
                "rm",
                3,
                "Monitor pidw detected a failure (1/1). ({PID_DIED})"
            ),
            ev!("rm", 9, "Monitor pidw failed. ({PID_DIED})"),
            ev!(
                "rm",
                11,
                "Monitor pidw reactivates the recovery target app. (2/2)"
            ),
            ev!("rc", 40, "The stop processing of a resource app started."),
            ev!("rc", 41, "The stop processing of a resource app ended."),
            ev!("rc", 30, "The start processing of a resource app started."),
            ev!("rc", 31, "The start processing of a resource app ended."),
            ev!(
                "rm",
                3,
                "Monitor pidw detected a failure (1/1). ({PID_DIED})"
            ),
            ev!("rm", 9, "Monitor pidw failed. ({PID_DIED})"),
            ev!("rm", 14, "Final action of monitor pidw: StopGroup."),
            ev!("rc", 20, "The stop processing of a group g1 started."),
            ev!("rc", 40, "The stop processing of a resource app started."),
            ev!("rc", 41, "The stop processing of a resource app ended."),
            ev!("rc", 21, "The stop processing of a group g1 ended."),
        ]
    );
    assert_eq!(
        sim.engine()
            .board()
            .monitor("pidw")
            .map(|m| m.reactivations),
        Some(2)
    );
    assert!(!sim.daemon_stopped(), "StopGroup leaves the daemon up");
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn group_is_restarted_up_to_the_threshold_then_the_daemon_stops() {
    let mut sim = Sim::boot(&pid_config_waiting(
        "(target: Group(\"g1\"), reactivation_threshold: 1, final_action: StopDaemon)",
    ))
    .await;
    sim.run_for(Duration::from_secs(3)).await;
    sim.take();
    dying_app(&sim, 1);
    kill_app(&sim);
    sim.run_for(Duration::from_secs(10)).await;
    let lines: Vec<String> = sim
        .take()
        .into_iter()
        .filter(|l| !l.contains("<event: 50>"))
        .collect();
    assert_eq!(
        lines,
        [
            ev!(
                "rm",
                3,
                "Monitor pidw detected a failure (1/1). ({PID_LOST})"
            ),
            ev!("rm", 9, "Monitor pidw failed. ({PID_LOST})"),
            ev!(
                "rm",
                11,
                "Monitor pidw reactivates the recovery target g1. (1/1)"
            ),
            ev!("rc", 20, "The stop processing of a group g1 started."),
            ev!("rc", 40, "The stop processing of a resource app started."),
            ev!("rc", 41, "The stop processing of a resource app ended."),
            ev!("rc", 21, "The stop processing of a group g1 ended."),
            ev!("rc", 10, "The start processing of a group g1 started."),
            ev!("rc", 30, "The start processing of a resource app started."),
            ev!("rc", 31, "The start processing of a resource app ended."),
            ev!("rc", 11, "The start processing of a group g1 ended."),
            ev!(
                "rm",
                3,
                "Monitor pidw detected a failure (1/1). ({PID_DIED})"
            ),
            ev!("rm", 9, "Monitor pidw failed. ({PID_DIED})"),
            ev!("rm", 14, "Final action of monitor pidw: StopDaemon."),
            ev!(
                "pm",
                20,
                "Final action of monitor pidw (StopDaemon) is being executed."
            ),
            ev!("pm", 2, "Cluster daemon is stopping. (monitor pidw)"),
            ev!("rm", 2, "Monitor pidw stop."),
            ev!("rc", 20, "The stop processing of a group g1 started."),
            ev!("rc", 40, "The stop processing of a resource app started."),
            ev!("rc", 41, "The stop processing of a resource app ended."),
            ev!("rc", 21, "The stop processing of a group g1 ended."),
            ev!("pm", 3, "Cluster daemon has stopped."),
        ]
    );
    assert!(sim.daemon_stopped());
    assert!(
        sim.host.os_actions().is_empty(),
        "StopDaemon does not touch the OS"
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_inactive_recovery_target_is_left_alone() {
    // MON-14: the pid monitor of `app` recovers group g2, which was never started.
    let ron = r#"(
    name: "SSS", edition: "SSS",
    groups: [
        (name: "g1", resources: [(name: "app", start: (program: "/sim/app"), mode: Async)]),
        (name: "g2", startup: Manual, resources: [(name: "other", start: (program: "/sim/other"), mode: Async)]),
    ],
    monitors: [(name: "pidw", kind: Pid(resource: "app"),
        recovery: (target: Group("g2"), reactivation_threshold: 3, final_action: StopDaemon))],
)"#;
    let mut sim = Sim::boot(ron).await;
    sim.take();
    kill_app(&sim);
    sim.run_for(Duration::from_secs(1)).await;
    let lines = sim.take();
    assert_eq!(
        lines[1..],
        [
            ev!(
                "rm",
                3,
                "Monitor pidw detected a failure (1/1). ({PID_LOST})"
            ),
            ev!("rm", 9, "Monitor pidw failed. ({PID_LOST})"),
            ev!(
                "rm",
                10,
                "Recovery target g2 of monitor pidw is not active, so no recovery action is taken."
            ),
        ]
    );
    assert!(!sim.daemon_stopped());
}

/// Kill `app` once with the MON-13 final action `action` at threshold 0.
async fn pid_final_action(action: &str) -> (Sim, Vec<String>) {
    let mut sim = Sim::boot(&pid_config(&format!(
        "(target: Resource(\"app\"), reactivation_threshold: 0, final_action: {action})"
    )))
    .await;
    sim.take();
    kill_app(&sim);
    sim.run_for(Duration::from_secs(1)).await;
    let lines = sim.take();
    assert_eq!(
        lines[1..4],
        [
            ev!(
                "rm",
                3,
                "Monitor pidw detected a failure (1/1). ({PID_LOST})"
            ),
            ev!("rm", 9, "Monitor pidw failed. ({PID_LOST})"),
            ev!("rm", 14, "Final action of monitor pidw: {action}."),
        ]
    );
    (sim, lines[4..].to_vec())
}

const DAEMON_STOP_TAIL: [&str; 5] = [
    "<type: rm><event: 2> Monitor pidw stop.",
    "<type: rc><event: 20> The stop processing of a group g1 started.",
    "<type: rc><event: 40> The stop processing of a resource app started.",
    "<type: rc><event: 41> The stop processing of a resource app ended.",
    "<type: rc><event: 21> The stop processing of a group g1 ended.",
];

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn monitor_final_action_no_op_leaves_everything_as_it_is() {
    let (sim, rest) = pid_final_action("NoOp").await;
    assert!(rest.is_empty(), "{rest:?}");
    assert!(!sim.daemon_stopped());
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn monitor_final_action_stop_group_stops_the_group_of_the_resource() {
    let (sim, rest) = pid_final_action("StopGroup").await;
    assert_eq!(
        rest,
        [
            DAEMON_STOP_TAIL[1],
            DAEMON_STOP_TAIL[2],
            DAEMON_STOP_TAIL[3],
            DAEMON_STOP_TAIL[4]
        ]
    );
    assert!(!sim.daemon_stopped());
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn monitor_final_actions_that_stop_the_daemon_and_the_os() {
    for (action, os) in [
        ("StopDaemon", None),
        ("StopDaemonShutdown", Some(OsAction::Shutdown)),
        ("StopDaemonReboot", Some(OsAction::Reboot)),
    ] {
        let (sim, rest) = pid_final_action(action).await;
        let mut expected = vec![
            ev!(
                "pm",
                20,
                "Final action of monitor pidw ({action}) is being executed."
            ),
            ev!("pm", 2, "Cluster daemon is stopping. (monitor pidw)"),
        ];
        expected.extend(DAEMON_STOP_TAIL.iter().map(|s| s.to_string()));
        expected.push(ev!("pm", 3, "Cluster daemon has stopped."));
        if let Some(os) = os {
            // DOWN-2: groups stopped first, then the OS action, counted by the governor.
            expected.insert(
                expected.len() - 1,
                ev!(
                    "pm",
                    22,
                    "OS actions are simulated: would {os} now. (reboot count 1/3)"
                ),
            );
        }
        assert_eq!(rest, expected, "{action}");
        assert!(sim.daemon_stopped(), "{action}");
        assert_eq!(
            sim.host.os_actions(),
            os.into_iter().collect::<Vec<_>>(),
            "{action}"
        );
    }
}

/// A hardware monitor (HWM-2..5): target SSS, reactivation 0, final action at once.
fn disk_config(retries: u32, action: &str) -> String {
    format!(
        r#"(
    name: "SSS", edition: "SSS",
    groups: [(name: "g1", resources: [(name: "app", start: (program: "/sim/app"), mode: Async)])],
    monitors: [(name: "diskw", kind: Disk(path: "/dev/sda"), interval: "5s", timeout: "10s",
        retries: {retries}, recovery: (target: Sss, final_action: {action}))],
)"#
    )
}

fn disk_error(detail: &str) -> upkeep_actors::sim::SimProbe {
    upkeep_actors::sim::SimProbe::Answer(upkeep_actors::host::ProbeResult::error(1, detail))
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn retry_count_needs_consecutive_failures_and_a_normal_check_starts_over() {
    // MON-5: retries 2 = error on the 3rd abnormal check in a row.
    let mut sim = Sim::boot(&disk_config(2, "NoOp")).await;
    sim.take();
    let ok = upkeep_actors::sim::SimProbe::Answer(upkeep_actors::host::ProbeResult::normal());
    sim.host.probe(
        "diskw",
        [
            disk_error("read error"),
            disk_error("read error"),
            ok,
            disk_error("read error"),
            disk_error("read error"),
            disk_error("read error"),
        ],
    );
    sim.run_for(Duration::from_secs(30)).await;
    assert_eq!(
        sim.take(),
        [
            ev!(
                "rm",
                3,
                "Monitor diskw detected a failure (1/3). (read error)"
            ),
            ev!(
                "rm",
                3,
                "Monitor diskw detected a failure (2/3). (read error)"
            ),
            ev!("rm", 5, "Monitor diskw is normal again."),
            ev!(
                "rm",
                3,
                "Monitor diskw detected a failure (1/3). (read error)"
            ),
            ev!(
                "rm",
                3,
                "Monitor diskw detected a failure (2/3). (read error)"
            ),
            ev!(
                "rm",
                3,
                "Monitor diskw detected a failure (3/3). (read error)"
            ),
            ev!("rm", 9, "Monitor diskw failed. (read error)"),
            ev!("rm", 14, "Final action of monitor diskw: NoOp."),
        ]
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_hung_probe_counts_as_abnormal_at_its_timeout() {
    // MON-4: no normal state confirmed within the timeout.
    let mut sim = Sim::boot(&disk_config(0, "NoOp")).await;
    sim.take();
    sim.host
        .probe("diskw", [upkeep_actors::sim::SimProbe::Hang]);
    sim.run_for(Duration::from_secs(5)).await;
    assert!(sim.take().is_empty(), "nothing before the timeout");
    // The timeout strikes at 10 s; the next check (15 s) answers normally again.
    sim.run_for(Duration::from_secs(11)).await;
    assert_eq!(
        sim.take(),
        [
            ev!(
                "rm",
                3,
                "Monitor diskw detected a failure (1/1). (no answer within the timeout of 10s)"
            ),
            ev!(
                "rm",
                9,
                "Monitor diskw failed. (no answer within the timeout of 10s)"
            ),
            ev!("rm", 14, "Final action of monitor diskw: NoOp."),
            ev!("rm", 5, "Monitor diskw is normal again."),
        ]
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn hardware_monitor_final_actions_run_at_once() {
    // HWM-5 / HWM-6: NoOp, StopDaemon, StopDaemonShutdown, StopDaemonReboot.
    for (action, os) in [
        ("NoOp", None),
        ("StopDaemon", None),
        ("StopDaemonShutdown", Some(OsAction::Shutdown)),
        ("StopDaemonReboot", Some(OsAction::Reboot)),
    ] {
        let mut sim = Sim::boot(&disk_config(0, action)).await;
        sim.take();
        sim.host.probe("diskw", [disk_error("I/O error")]);
        sim.run_for(Duration::from_secs(5)).await;
        let mut expected = vec![
            ev!(
                "rm",
                3,
                "Monitor diskw detected a failure (1/1). (I/O error)"
            ),
            ev!("rm", 9, "Monitor diskw failed. (I/O error)"),
            ev!("rm", 14, "Final action of monitor diskw: {action}."),
        ];
        if action != "NoOp" {
            expected.extend([
                ev!(
                    "pm",
                    20,
                    "Final action of monitor diskw ({action}) is being executed."
                ),
                ev!("pm", 2, "Cluster daemon is stopping. (monitor diskw)"),
                ev!("rm", 2, "Monitor diskw stop."),
                ev!("rc", 20, "The stop processing of a group g1 started."),
                ev!("rc", 40, "The stop processing of a resource app started."),
                ev!("rc", 41, "The stop processing of a resource app ended."),
                ev!("rc", 21, "The stop processing of a group g1 ended."),
            ]);
            if let Some(os) = os {
                expected.push(ev!(
                    "pm",
                    22,
                    "OS actions are simulated: would {os} now. (reboot count 1/3)"
                ));
            }
            expected.push(ev!("pm", 3, "Cluster daemon has stopped."));
        }
        assert_eq!(sim.take(), expected, "{action}");
        assert_eq!(sim.daemon_stopped(), action != "NoOp", "{action}");
        assert_eq!(
            sim.host.os_actions(),
            os.into_iter().collect::<Vec<_>>(),
            "{action}"
        );
    }
}

/// Group g1: sync resource `a` (start /sim/a-start, 1 retry, final action `action`) and `b`,
/// which depends on `a`.
fn activation_config(action: &str) -> String {
    format!(
        r#"(
    name: "SSS", edition: "SSS",
    groups: [(name: "g1", resources: [
        (name: "a", start: (program: "/sim/a-start"), activation: (retries: 1, final_action: {action})),
        (name: "b", start: (program: "/sim/b-start"), depends_on: ["a"]),
    ])],
)"#
    )
}

async fn failing_activation(action: &str) -> (Sim, Vec<String>) {
    let host = upkeep_actors::sim::SimulatedHost::default();
    host.script(
        "/sim/a-start",
        [
            upkeep_actors::sim::SimRun::Exit(1),
            upkeep_actors::sim::SimRun::Exit(1),
        ],
    );
    let mut sim = Sim::boot_on(&activation_config(action), host).await;
    let lines = sim.take();
    assert_eq!(
        lines[2..8],
        [
            ev!("rc", 10, "The start processing of a group g1 started."),
            ev!("rc", 30, "The start processing of a resource a started."),
            ev!("rc", 32, "Failed to start the resource a. (exit code 1)"),
            ev!("rc", 33, "Retrying activation of the resource a. (1/1)"),
            ev!("rc", 32, "Failed to start the resource a. (exit code 1)"),
            ev!(
                "rc",
                34,
                "Final action of activation failure of the resource a: {action}."
            ),
        ],
        "{action}"
    );
    (sim, lines[8..].to_vec())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn activation_final_action_no_op_activate_next_starts_the_dependents() {
    let (sim, rest) = failing_activation("NoOpActivateNext").await;
    assert_eq!(
        rest,
        [
            ev!("rc", 30, "The start processing of a resource b started."),
            ev!("rc", 31, "The start processing of a resource b ended."),
            ev!("rc", 12, "The start processing of a group g1 failed."),
        ]
    );
    assert!(!sim.daemon_stopped());
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn activation_final_action_no_op_stop_chain_skips_the_dependents() {
    let (sim, rest) = failing_activation("NoOpStopChain").await;
    assert_eq!(
        rest,
        [
            ev!(
                "rc",
                35,
                "The resource b was not activated, because a was not activated."
            ),
            ev!("rc", 12, "The start processing of a group g1 failed."),
        ]
    );
    assert!(!sim.daemon_stopped());
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn activation_final_action_stop_group_deactivates_the_group() {
    let (sim, rest) = failing_activation("StopGroup").await;
    assert_eq!(
        rest,
        [
            ev!("rc", 12, "The start processing of a group g1 failed."),
            ev!("rc", 20, "The stop processing of a group g1 started."),
            ev!("rc", 21, "The stop processing of a group g1 ended."),
        ]
    );
    assert!(!sim.daemon_stopped());
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn activation_final_actions_that_stop_the_daemon_and_the_os() {
    for (action, os) in [
        ("StopDaemon", None),
        ("StopDaemonShutdown", Some(OsAction::Shutdown)),
        ("StopDaemonReboot", Some(OsAction::Reboot)),
    ] {
        let (sim, rest) = failing_activation(action).await;
        // DOWN-1: the daemon stops its groups, then the OS action.
        let mut expected = vec![
            ev!(
                "rc",
                35,
                "The resource b was not activated, because a was not activated."
            ),
            ev!("rc", 12, "The start processing of a group g1 failed."),
            ev!(
                "pm",
                20,
                "Final action of resource a ({action}) is being executed."
            ),
            ev!("pm", 2, "Cluster daemon is stopping. (resource a)"),
            ev!("rc", 20, "The stop processing of a group g1 started."),
            ev!("rc", 21, "The stop processing of a group g1 ended."),
        ];
        if let Some(os) = os {
            expected.push(ev!(
                "pm",
                22,
                "OS actions are simulated: would {os} now. (reboot count 1/3)"
            ));
        }
        expected.push(ev!("pm", 3, "Cluster daemon has stopped."));
        assert_eq!(rest, expected, "{action}");
        assert!(sim.daemon_stopped(), "{action}");
        assert_eq!(
            sim.host.os_actions(),
            os.into_iter().collect::<Vec<_>>(),
            "{action}"
        );
    }
}

/// Group g1: async `a` and `b` (b depends on a), each with a stop script; b's stop script fails
/// once with deactivation final action `action`.
async fn failing_deactivation(action: &str) -> (Sim, Vec<String>) {
    let ron = format!(
        r#"(
    name: "SSS", edition: "SSS",
    groups: [(name: "g1", resources: [
        (name: "a", start: (program: "/sim/a"), stop: (program: "/sim/a-stop"), mode: Async),
        (name: "b", start: (program: "/sim/b"), stop: (program: "/sim/b-stop"), mode: Async,
            depends_on: ["a"], deactivation: (retries: 0, final_action: {action})),
    ])],
)"#
    );
    let mut sim = Sim::boot(&ron).await;
    sim.take();
    sim.host
        .script("/sim/b-stop", [upkeep_actors::sim::SimRun::Exit(1)]);
    let lines = sim.stop().await;
    assert_eq!(
        lines[..6],
        [
            ev!("pm", 2, "Cluster daemon is stopping. (test)"),
            ev!("rc", 20, "The stop processing of a group g1 started."),
            ev!("rc", 40, "The stop processing of a resource b started."),
            ev!("rc", 42, "Failed to stop the resource b. (exit code 1)"),
            ev!(
                "rc",
                44,
                "Final action of deactivation failure of the resource b: {action}."
            ),
            lines[5].clone(),
        ],
        "{action}"
    );
    (sim, lines[5..].to_vec())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn deactivation_final_action_no_op_deactivate_next_stops_what_it_depends_on() {
    let (sim, rest) = failing_deactivation("NoOpDeactivateNext").await;
    assert_eq!(
        rest,
        [
            ev!("rc", 40, "The stop processing of a resource a started."),
            ev!("rc", 41, "The stop processing of a resource a ended."),
            ev!("rc", 22, "The stop processing of a group g1 failed."),
            ev!("pm", 3, "Cluster daemon has stopped."),
        ]
    );
    assert!(sim.host.os_actions().is_empty());
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn deactivation_final_action_no_op_stop_chain_keeps_what_it_depends_on() {
    let (sim, rest) = failing_deactivation("NoOpStopChain").await;
    assert_eq!(
        rest,
        [
            ev!(
                "rc",
                45,
                "The resource a was not deactivated, because b was not deactivated."
            ),
            ev!("rc", 22, "The stop processing of a group g1 failed."),
            ev!("pm", 3, "Cluster daemon has stopped."),
        ]
    );
    assert!(sim.host.os_actions().is_empty());
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn deactivation_final_actions_shut_down_or_reboot_after_the_stop() {
    for (action, os) in [
        ("StopDaemonShutdown", OsAction::Shutdown),
        ("StopDaemonReboot", OsAction::Reboot),
    ] {
        let (sim, rest) = failing_deactivation(action).await;
        // DOWN-1 / DOWN-4 (MAP-14): the configured final action applies during a daemon stop.
        assert_eq!(
            rest,
            [
                // The group goes on stopping while the daemon asks the governor for a permit.
                ev!("rc", 40, "The stop processing of a resource a started."),
                ev!(
                    "pm",
                    20,
                    "Final action of resource b ({action}) is being executed."
                ),
                ev!("rc", 41, "The stop processing of a resource a ended."),
                ev!("rc", 22, "The stop processing of a group g1 failed."),
                ev!(
                    "pm",
                    22,
                    "OS actions are simulated: would {os} now. (reboot count 1/3)"
                ),
                ev!("pm", 3, "Cluster daemon has stopped."),
            ],
            "{action}"
        );
        assert_eq!(sim.host.os_actions(), [os], "{action}");
    }
}

/// The paths of the actors under `node` (itself included).
fn tree_paths(node: &upkeep_actors::tree::TreeNode) -> Vec<String> {
    let mut paths = vec![node.path.clone()];
    for child in &node.children {
        paths.extend(tree_paths(child));
    }
    paths
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_recovery_counter_starts_with_the_first_error_and_the_ladder_is_unchanged() {
    // Issue 14: a monitor that never failed has no `recovery` counter actor; the first error
    // starts it, and the ladder climbs exactly as with a counter started at boot (MON-11,
    // MON-12, MON-15), the counter surviving the reset.
    let mut sim = Sim::boot(&pid_config(
        "(target: Resource(\"app\"), reactivation_threshold: 1, final_action: NoOp, backoff: Off, start_limit: Off)",
    ))
    .await;
    sim.run_for(Duration::from_secs(30)).await;
    sim.take();
    let before = tree_paths(&sim.engine().tree());
    assert!(before.iter().any(|p| p == "rm/pidw"), "{before:?}");
    assert!(
        !before.iter().any(|p| p.starts_with("rm/pidw/")),
        "a monitor without failures has no children: {before:?}"
    );
    let reactivated = [
        ev!(
            "rm",
            3,
            "Monitor pidw detected a failure (1/1). ({PID_LOST})"
        ),
        ev!("rm", 9, "Monitor pidw failed. ({PID_LOST})"),
        ev!(
            "rm",
            11,
            "Monitor pidw reactivates the recovery target app. (1/1)"
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
    ];
    for round in 0..2 {
        kill_app(&sim);
        sim.run_for(Duration::from_millis(10)).await;
        let lines = sim.take();
        assert_eq!(lines[1..], reactivated, "round {round}");
        let tree = sim.engine().tree();
        let counter = tree
            .children
            .iter()
            .flat_map(|c| &c.children)
            .flat_map(|c| &c.children)
            .find(|n| n.path == "rm/pidw/recovery");
        let Some(counter) = counter else {
            panic!("the counter runs after an error: {:?}", tree_paths(&tree));
        };
        assert_eq!(
            (counter.kind, counter.status.as_str(), counter.restarts),
            ("retry-counter", "running", 0)
        );
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_first_error_with_no_reactivation_left_goes_to_the_final_action() {
    // The counter started by the first error answers `Exhausted` at once (MON-13).
    let mut sim = Sim::boot(&pid_config(
        "(target: Resource(\"app\"), reactivation_threshold: 0, final_action: NoOp)",
    ))
    .await;
    sim.take();
    kill_app(&sim);
    sim.run_for(Duration::from_millis(10)).await;
    let lines = sim.take();
    assert_eq!(
        lines[1..],
        [
            ev!(
                "rm",
                3,
                "Monitor pidw detected a failure (1/1). ({PID_LOST})"
            ),
            ev!("rm", 9, "Monitor pidw failed. ({PID_LOST})"),
            ev!("rm", 14, "Final action of monitor pidw: NoOp."),
        ]
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_retry_counter_starts_with_a_resources_first_failure_and_the_retries_are_unchanged() {
    // Issue 14: a resource that never failed a start or stop has no `retry` counter actor; the
    // first failed start spawns it, and the retry count runs exactly as with a counter started
    // with the resource (RES-2, RES-4). The counter stays, and the next failure climbs a ladder
    // that was reset by the success (the Reset of a resource without a counter is a no-op).
    let host = upkeep_actors::sim::SimulatedHost::default();
    host.script(
        "/sim/a-start",
        [
            upkeep_actors::sim::SimRun::Exit(1),
            upkeep_actors::sim::SimRun::Exit(0),
        ],
    );
    let mut sim = Sim::boot_on(&activation_config("NoOpActivateNext"), host.clone()).await;
    let lines = sim.take();
    assert_eq!(
        lines[2..],
        [
            ev!("rc", 10, "The start processing of a group g1 started."),
            ev!("rc", 30, "The start processing of a resource a started."),
            ev!("rc", 32, "Failed to start the resource a. (exit code 1)"),
            ev!("rc", 33, "Retrying activation of the resource a. (1/1)"),
            ev!("rc", 31, "The start processing of a resource a ended."),
            ev!("rc", 30, "The start processing of a resource b started."),
            ev!("rc", 31, "The start processing of a resource b ended."),
            ev!("rc", 11, "The start processing of a group g1 ended."),
        ]
    );
    let paths = tree_paths(&sim.engine().tree());
    assert!(
        paths.iter().any(|p| p == "rc/g1/a/retry"),
        "the failed start started the counter: {paths:?}"
    );
    assert!(
        paths.iter().any(|p| p == "rc/g1/b") && !paths.iter().any(|p| p.starts_with("rc/g1/b/")),
        "a resource that never failed has no retry counter: {paths:?}"
    );

    // The ladder starts over after the success: two failures in a row now exhaust it.
    host.script(
        "/sim/a-start",
        [
            upkeep_actors::sim::SimRun::Exit(2),
            upkeep_actors::sim::SimRun::Exit(2),
        ],
    );
    assert_eq!(sim.engine().group("g1", false).await, Ok(()));
    sim.run_for(Duration::from_millis(10)).await;
    sim.take();
    assert!(
        sim.engine().group("g1", true).await.is_err(),
        "the start of g1 failed (RES-4)"
    );
    sim.run_for(Duration::from_millis(10)).await;
    assert_eq!(
        sim.take(),
        [
            ev!("rc", 10, "The start processing of a group g1 started."),
            ev!("rc", 30, "The start processing of a resource a started."),
            ev!("rc", 32, "Failed to start the resource a. (exit code 2)"),
            ev!("rc", 33, "Retrying activation of the resource a. (1/1)"),
            ev!("rc", 32, "Failed to start the resource a. (exit code 2)"),
            ev!(
                "rc",
                34,
                "Final action of activation failure of the resource a: NoOpActivateNext."
            ),
            ev!("rc", 30, "The start processing of a resource b started."),
            ev!("rc", 31, "The start processing of a resource b ended."),
            ev!("rc", 12, "The start processing of a group g1 failed."),
        ]
    );
    let paths = tree_paths(&sim.engine().tree());
    assert!(
        !paths.iter().any(|p| p.starts_with("rc/g1/b/")),
        "{paths:?}"
    );
}
