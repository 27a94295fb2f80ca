//! Supervision at every level of the tree, in virtual time on the simulated host: an injected
//! panic (restarted, announced, state kept) and a restart-intensity overflow (the level's
//! escalation) for resource, retry counter, group, rc, monitor, probe, recovery counter, rm,
//! governor and user-space monitor; each asserts the ordered event lines a user sees, and that
//! escalation still works afterwards (docs/ARCHITECTURE.md, "Supervision"; DOWN-3).

use std::sync::Arc;
use std::time::Duration;

use ractor::{ActorRef, Message};
use upkeep_actors::exec::ExecMsg;
use upkeep_actors::fault::{Fault, FaultPlan, Faulty};
use upkeep_actors::governor::GovernorMsg;
use upkeep_actors::group::GroupMsg;
use upkeep_actors::host::{OsAction, ProbeResult};
use upkeep_actors::monitor::MonitorMsg;
use upkeep_actors::probe::ProbeMsg;
use upkeep_actors::rc::RcMsg;
use upkeep_actors::retry::RetryMsg;
use upkeep_actors::rm::RmMsg;
use upkeep_actors::sim::{SimProbe, SimulatedHost};

use crate::ev;
use crate::sim::Sim;

/// One group `g1` with the async resource `app`, its pid monitor `pidw` (reactivate `app` once,
/// then stop the daemon), a disk monitor `diskw` for the probe level, and a user-space monitor
/// `usw`. Every supervisor restarts once per minute; the second crash escalates.
const CONFIG: &str = r#"(
    name: "SSS", edition: "SSS",
    core_restart: (max_restarts: 1, period: "1m"),
    groups: [(name: "g1", resources: [(name: "app", start: (program: "/sim/app"), mode: Async)])],
    monitors: [
        (name: "pidw", kind: Pid(resource: "app"), interval: "5s", timeout: "60s",
            recovery: (target: Resource("app"), reactivation_threshold: 1, final_action: StopDaemon,
                backoff: Off, start_limit: Off)),
        (name: "diskw", kind: Disk(path: "/dev/sda"), interval: "5s", timeout: "10s",
            recovery: (target: Sss, final_action: NoOp)),
        (name: "usw", kind: UserSpace(method: Softdog), interval: "3s", timeout: "90s"),
    ],
)"#;

async fn boot() -> Sim {
    let mut sim = Sim::boot(CONFIG).await;
    sim.host
        .steady_probe("diskw", SimProbe::Answer(ProbeResult::normal()));
    sim.run_for(Duration::from_secs(1)).await;
    sim.take();
    sim
}

/// Make the actor at `path` panic in the handler of `poke` (a message it would shrug off).
async fn crash<M: Message>(sim: &mut Sim, path: &str, poke: M) {
    sim.panic_next(path);
    let name = format!("{}/{path}", sim.engine().ctx.names.instance());
    let Some(actor) = ActorRef::<M>::where_is(name) else {
        panic!("{path} is not running");
    };
    if actor.cast(poke).is_err() {
        panic!("{path} does not take messages");
    }
    sim.run_for(Duration::from_millis(10)).await;
}

fn app_pid(sim: &Sim) -> Option<u32> {
    sim.engine().board().resource("app").and_then(|r| r.pid)
}

const PID_LOST: &str = "process of resource app is not running (ended with signal 9)";

/// Escalation still works: the killed process is seen, reactivated, and the count resets.
async fn kill_app_and_see_it_reactivated(sim: &mut Sim) {
    sim.take();
    assert!(
        sim.host.kill("/sim/app", 9).is_some(),
        "the app process was running"
    );
    sim.run_for(Duration::from_millis(10)).await;
    let lines = sim.take();
    assert!(
        lines[0].starts_with("<type: rc><event: 50> The process of the resource app (pid "),
        "{lines:#?}"
    );
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
    assert!(app_pid(sim).is_some(), "a new process runs");
}

/// DOWN-3 after a core actor failed for good: groups stopped, then a counted shutdown.
fn emergency_shutdown(actor: &str, reason: &str) -> Vec<String> {
    vec![
        ev!(
            "pm",
            11,
            "Internal process {actor} terminated abnormally too often; emergency shutdown. ({reason})"
        ),
        ev!(
            "pm",
            20,
            "Final action of internal process {actor} (EmergencyShutdown) is being executed."
        ),
        ev!("pm", 2, "Cluster daemon is stopping. (internal process {actor})"),
    ]
}

fn group_start() -> Vec<String> {
    vec![
        ev!("rc", 10, "The start processing of a group g1 started."),
        ev!("rc", 30, "The start processing of a resource app started."),
        ev!("rc", 31, "The start processing of a resource app ended."),
        ev!("rc", 11, "The start processing of a group g1 ended."),
    ]
}

fn group_stop() -> Vec<String> {
    vec![
        ev!("rc", 20, "The stop processing of a group g1 started."),
        ev!("rc", 40, "The stop processing of a resource app started."),
        ev!("rc", 41, "The stop processing of a resource app ended."),
        ev!("rc", 21, "The stop processing of a group g1 ended."),
    ]
}

fn restarted(module: &str, id: u32, actor: &str, reason: &str) -> String {
    format!("<type: {module}><event: {id}> Internal process {actor} terminated abnormally and was restarted. ({reason})")
}

fn gave_up(module: &str, id: u32, actor: &str, reason: &str) -> String {
    format!("<type: {module}><event: {id}> Internal process {actor} terminated abnormally too often; its supervisor gives up. ({reason})")
}

const PANIC: &str = "injected panic";

/// The crashes `path` has in the journal `upkeep tree` shows.
fn tree_restarts(sim: &Sim, path: &str) -> (usize, Option<String>) {
    fn find(node: &upkeep_actors::tree::TreeNode, path: &str) -> Option<(usize, Option<String>)> {
        if node.path == path {
            return Some((node.restarts, node.last_failure.clone()));
        }
        node.children.iter().find_map(|c| find(c, path))
    }
    match find(&sim.engine().tree(), path) {
        Some(found) => found,
        None => panic!("{path} is not in the tree"),
    }
}

// --- resource (rc/g1/app) under its group ----------------------------------------------------

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_resource_that_panics_is_restarted_by_its_group_and_keeps_working() {
    // The restarted incarnation adopts the process: the application is not restarted.
    let mut sim = boot().await;
    let pid = app_pid(&sim);
    crash(&mut sim, "rc/g1/app", ExecMsg::Terminated).await;
    assert_eq!(sim.take(), [restarted("rc", 60, "rc/g1/app", PANIC)]);
    assert_eq!(app_pid(&sim), pid);
    assert_eq!(sim.host.running(), pid.into_iter().collect::<Vec<_>>());
    assert_eq!(tree_restarts(&sim, "rc/g1/app"), (1, Some(PANIC.into())));
    sim.run_for(Duration::from_secs(5)).await;
    kill_app_and_see_it_reactivated(&mut sim).await;
    assert_eq!(sim.host.running().len(), 1, "one app process, no orphan");
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_resource_whose_process_died_while_it_was_down_sees_the_exit() {
    // The exit happens between the crash and the restart: the new incarnation waits for the
    // adopted process again, so the exit is reported and the monitor recovers it.
    let mut sim = boot().await;
    sim.panic_next("rc/g1/app");
    assert!(sim.host.kill("/sim/app", 9).is_some());
    sim.run_for(Duration::from_millis(10)).await;
    let lines = sim.take();
    assert_eq!(lines[0], restarted("rc", 60, "rc/g1/app", PANIC));
    assert!(
        lines[1].starts_with("<type: rc><event: 50> The process of the resource app (pid "),
        "{lines:#?}"
    );
    assert_eq!(
        lines[2..5],
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
        ]
    );
    assert!(app_pid(&sim).is_some(), "reactivated");
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_resource_that_keeps_panicking_makes_rc_restart_its_group() {
    let mut sim = boot().await;
    crash(&mut sim, "rc/g1/app", ExecMsg::Terminated).await;
    sim.take();
    crash(&mut sim, "rc/g1/app", ExecMsg::Terminated).await;
    let mut expected = vec![
        gave_up("rc", 61, "rc/g1/app", PANIC),
        restarted("rc", 60, "rc/g1", "resource app keeps crashing"),
    ];
    expected.extend(group_start());
    assert_eq!(sim.take(), expected);
    sim.run_for(Duration::from_secs(5)).await;
    kill_app_and_see_it_reactivated(&mut sim).await;
    assert_eq!(sim.host.running().len(), 1);
}

// --- retry counter (rc/g1/app/retry) under its resource ----------------------------------------

/// `boot`, with one activation retry for `app` and its starts failing as `Faulty` is told: the
/// retry counter exists only from the first failed start on (issue 14).
async fn boot_with_start_faults() -> (Sim, Arc<Faulty<SimulatedHost>>) {
    let host = SimulatedHost::default();
    let faulty = Arc::new(Faulty::new(Arc::new(host.clone()), FaultPlan::default()));
    let config = CONFIG.replace("mode: Async)", "mode: Async, activation: (retries: 1))");
    let mut sim = Sim::boot_with(&config, host, faulty.clone()).await;
    sim.host
        .steady_probe("diskw", SimProbe::Answer(ProbeResult::normal()));
    sim.run_for(Duration::from_secs(1)).await;
    sim.take();
    (sim, faulty)
}

fn fail_next_app_start(faulty: &Faulty<SimulatedHost>) {
    faulty.inject(Fault::ScriptFails {
        program: "/sim/app".into(),
        times: 1,
        code: 1,
    });
}

const APP_START_FAILED: &str =
    "could not start: cannot start `/sim/app`: injected fault: exit code 1";

/// The app process is killed, pidw reactivates it, the start fails once: up to the failure.
fn reactivation_until_the_failed_start() -> Vec<String> {
    vec![
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
        ev!(
            "rc",
            32,
            "Failed to start the resource app. ({APP_START_FAILED})"
        ),
    ]
}

/// After the retried start: the app runs and pidw is normal again.
fn retried_start() -> Vec<String> {
    vec![
        ev!("rc", 33, "Retrying activation of the resource app. (1/1)"),
        ev!("rc", 31, "The start processing of a resource app ended."),
        ev!("rm", 5, "Monitor pidw is normal again."),
        ev!(
            "rm",
            13,
            "Monitor pidw is normal after reactivation: reactivation count reset."
        ),
    ]
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_retry_counter_that_panics_is_restarted_and_one_that_keeps_panicking_fails_its_resource()
{
    let (mut sim, faulty) = boot_with_start_faults().await;
    // The failed start spawns the counter and asks it; it dies on that failure, and its
    // restarted incarnation is asked again: the start is retried once.
    sim.panic_next("rc/g1/app/retry");
    fail_next_app_start(&faulty);
    assert!(sim.host.kill("/sim/app", 9).is_some());
    sim.run_for(Duration::from_millis(10)).await;
    let lines = sim.take();
    let mut expected = reactivation_until_the_failed_start();
    expected.push(restarted("rc", 60, "rc/g1/app/retry", PANIC));
    expected.extend(retried_start());
    assert_eq!(lines[1..], expected);
    crash(&mut sim, "rc/g1/app/retry", RetryMsg::Reset { lane: 0 }).await;
    let pid = app_pid(&sim);
    assert_eq!(
        sim.take(),
        [
            gave_up("rc", 61, "rc/g1/app/retry", PANIC),
            restarted("rc", 60, "rc/g1/app", "retry counter keeps crashing"),
        ]
    );
    assert_eq!(
        app_pid(&sim),
        pid,
        "the process outlived its resource actor"
    );
    sim.run_for(Duration::from_secs(5)).await;
    kill_app_and_see_it_reactivated(&mut sim).await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_retry_counter_that_cannot_be_spawned_on_demand_is_tried_again_and_answers() {
    // The first spawn of the counter fails: counted like a failed restart and tried again
    // later, and the started counter answers the pending failure; the resource keeps running.
    let (mut sim, faulty) = boot_with_start_faults().await;
    sim.fail_next_start("rc/g1/app/retry");
    fail_next_app_start(&faulty);
    assert!(sim.host.kill("/sim/app", 9).is_some());
    sim.run_for(Duration::from_millis(200)).await;
    let lines = sim.take();
    let mut expected = reactivation_until_the_failed_start();
    expected.push(restarted(
        "rc",
        60,
        "rc/g1/app/retry",
        "restart failed: injected start failure",
    ));
    expected.extend(retried_start());
    assert_eq!(lines[1..], expected);
    assert_eq!(tree_restarts(&sim, "rc/g1/app/retry").0, 1);
    assert_eq!(
        tree_restarts(&sim, "rc/g1/app").0,
        0,
        "the resource never failed"
    );
    assert!(app_pid(&sim).is_some());
}

// --- group (rc/g1) under rc --------------------------------------------------------------------

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_group_that_panics_is_restarted_by_rc_and_started_again() {
    let mut sim = boot().await;
    let poke = || GroupMsg::Start {
        reason: "test".into(),
        done: None,
    };
    crash(&mut sim, "rc/g1", poke()).await;
    let mut expected = vec![restarted("rc", 60, "rc/g1", PANIC)];
    expected.extend(group_start());
    assert_eq!(sim.take(), expected);
    sim.run_for(Duration::from_secs(5)).await;
    kill_app_and_see_it_reactivated(&mut sim).await;

    // Past rc's intensity rc fails, and the daemon restarts it (within its own).
    crash(&mut sim, "rc/g1", poke()).await;
    let mut expected = vec![
        gave_up("rc", 61, "rc/g1", PANIC),
        restarted("pm", 10, "rc", "group g1 keeps crashing"),
    ];
    expected.extend(group_start());
    assert_eq!(sim.take(), expected);
    sim.run_for(Duration::from_secs(5)).await;
    kill_app_and_see_it_reactivated(&mut sim).await;
    assert_eq!(sim.host.running().len(), 1);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_killed_group_is_journaled_and_announced_like_a_panic() {
    let mut sim = boot().await;
    let name = format!("{}/rc/g1", sim.engine().ctx.names.instance());
    let Some(group) = ractor::registry::where_is(name) else {
        panic!("g1 is running");
    };
    group.kill();
    sim.run_for(Duration::from_millis(10)).await;
    let mut expected = vec![restarted("rc", 60, "rc/g1", "killed")];
    expected.extend(group_start());
    assert_eq!(sim.take(), expected);
    assert_eq!(tree_restarts(&sim, "rc/g1"), (1, Some("killed".into())));
    sim.run_for(Duration::from_secs(5)).await;
    kill_app_and_see_it_reactivated(&mut sim).await;
}

// --- rc under the daemon ----------------------------------------------------------------------

fn rc_poke() -> RcMsg {
    RcMsg::StartGroups {
        only_auto: true,
        done: None,
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn rc_that_panics_is_restarted_then_a_second_crash_is_an_emergency_shutdown() {
    let mut sim = boot().await;
    crash(&mut sim, "rc", rc_poke()).await;
    let mut expected = vec![restarted("pm", 10, "rc", PANIC)];
    expected.extend(group_start());
    assert_eq!(sim.take(), expected);
    assert_eq!(tree_restarts(&sim, "rc"), (1, Some(PANIC.into())));
    sim.run_for(Duration::from_secs(5)).await;
    kill_app_and_see_it_reactivated(&mut sim).await;

    crash(&mut sim, "rc", rc_poke()).await;
    sim.run_for(Duration::from_secs(1)).await;
    let mut expected = emergency_shutdown("rc", PANIC);
    expected.extend([
        // Reverse start order.
        ev!("rm", 2, "Monitor diskw stop."),
        ev!("rm", 2, "Monitor pidw stop."),
        ev!("rm", 2, "Monitor usw stop."),
        ev!(
            "pm",
            22,
            "OS actions are simulated: would shutdown now. (reboot count 1/3)"
        ),
        ev!("pm", 3, "Cluster daemon has stopped."),
    ]);
    assert_eq!(sim.take(), expected);
    assert_eq!(sim.host.os_actions(), [OsAction::Shutdown]);
    assert!(sim.host.running().is_empty());
}

// --- monitor (rm/pidw), its probe and its recovery counter under rm ---------------------------------

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_monitor_that_panics_is_restarted_by_rm_and_one_that_keeps_panicking_restarts_rm() {
    let mut sim = boot().await;
    crash(&mut sim, "rm/pidw", MonitorMsg::TargetChanged).await;
    assert_eq!(
        sim.take(),
        [
            restarted("rm", 30, "rm/pidw", PANIC),
            ev!("rm", 1, "Monitor pidw start."),
        ]
    );
    kill_app_and_see_it_reactivated(&mut sim).await;

    crash(&mut sim, "rm/pidw", MonitorMsg::TargetChanged).await;
    assert_eq!(
        sim.take(),
        [
            gave_up("rm", 31, "rm/pidw", PANIC),
            restarted("pm", 10, "rm", "monitor pidw keeps crashing"),
            ev!("rm", 1, "Monitor pidw start."),
            ev!("rm", 1, "Monitor diskw start."),
        ]
    );
    kill_app_and_see_it_reactivated(&mut sim).await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_probe_that_panics_is_restarted_and_one_that_keeps_panicking_restarts_its_monitor() {
    let mut sim = boot().await;
    crash(&mut sim, "rm/diskw/probe", ProbeMsg::Check { epoch: 0 }).await;
    assert_eq!(sim.take(), [restarted("rm", 30, "rm/diskw/probe", PANIC)]);
    crash(&mut sim, "rm/diskw/probe", ProbeMsg::Check { epoch: 0 }).await;
    assert_eq!(
        sim.take(),
        [
            gave_up("rm", 31, "rm/diskw/probe", PANIC),
            restarted("rm", 30, "rm/diskw", "probe keeps crashing"),
            ev!("rm", 1, "Monitor diskw start."),
        ]
    );
    // The restarted monitor's probe still checks: a failing disk is declared.
    sim.host.steady_probe(
        "diskw",
        SimProbe::Answer(ProbeResult::error(1, "I/O error")),
    );
    sim.run_for(Duration::from_secs(5)).await;
    assert_eq!(
        sim.take(),
        [
            ev!(
                "rm",
                3,
                "Monitor diskw detected a failure (1/1). (I/O error)"
            ),
            ev!("rm", 9, "Monitor diskw failed. (I/O error)"),
            ev!("rm", 14, "Final action of monitor diskw: NoOp."),
        ]
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_recovery_counter_that_panics_on_a_failure_answers_it_after_its_restart() {
    // The counter dies on the failure it was asked about; its restarted incarnation is asked
    // again and climbs the ladder the monitor kept: the reactivation still happens, once.
    let mut sim = boot().await;
    sim.panic_next("rm/pidw/recovery");
    assert!(sim.host.kill("/sim/app", 9).is_some());
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
            restarted("rm", 30, "rm/pidw/recovery", PANIC),
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
    crash(&mut sim, "rm/pidw/recovery", RetryMsg::Reset { lane: 0 }).await;
    assert_eq!(
        sim.take(),
        [
            gave_up("rm", 31, "rm/pidw/recovery", PANIC),
            restarted("rm", 30, "rm/pidw", "recovery counter keeps crashing"),
            ev!("rm", 1, "Monitor pidw start."),
        ]
    );
    kill_app_and_see_it_reactivated(&mut sim).await;
}

// --- rm under the daemon ----------------------------------------------------------------------

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn rm_restarted_after_a_panic_keeps_the_suspensions_then_a_second_crash_shuts_down() {
    let mut sim = boot().await;
    // OPS-4: the operator pauses pidw; OPS-2: the daemon is suspended.
    let engine = sim.engine();
    assert_eq!(
        engine.suspend_monitors(vec!["pidw".into()], None).await,
        Ok(())
    );
    assert_eq!(engine.suspend(true).await, Ok(()));
    sim.run_for(Duration::from_millis(10)).await;
    sim.take();
    crash(&mut sim, "rm", RmMsg::Resume { done: None }).await;
    assert_eq!(
        sim.take(),
        [
            restarted("pm", 10, "rm", PANIC),
            ev!("rm", 1, "Monitor pidw start."),
            ev!("rm", 1, "Monitor diskw start."),
        ]
    );
    let paused = |sim: &Sim, m: &str| {
        sim.engine()
            .board()
            .monitor(m)
            .map(|s| (s.phase, s.operator_suspended))
    };
    use upkeep_actors::board::MonitorPhase::Suspended;
    assert_eq!(paused(&sim, "pidw"), Some((Suspended, true)));
    assert_eq!(paused(&sim, "diskw"), Some((Suspended, false)));
    // Still suspended: a dead process is not recovered.
    assert!(sim.host.kill("/sim/app", 9).is_some());
    sim.run_for(Duration::from_secs(10)).await;
    let lines = sim.take();
    assert_eq!(lines.len(), 1, "only the exit is reported: {lines:#?}");
    // Resumed (daemon, then the operator's pause): the monitor recovers the resource.
    let engine = sim.engine();
    assert_eq!(engine.suspend(false).await, Ok(()));
    assert_eq!(engine.resume_monitors(vec!["pidw".into()]).await, Ok(()));
    sim.run_for(Duration::from_millis(10)).await;
    let lines = sim.take();
    assert!(
        lines.contains(&ev!(
            "rm",
            11,
            "Monitor pidw reactivates the recovery target app. (1/1)"
        )),
        "{lines:#?}"
    );
    sim.run_for(Duration::from_secs(5)).await;
    kill_app_and_see_it_reactivated(&mut sim).await;

    crash(&mut sim, "rm", RmMsg::Resume { done: None }).await;
    sim.run_for(Duration::from_secs(1)).await;
    let mut expected = emergency_shutdown("rm", PANIC);
    expected.extend(group_stop());
    expected.extend([
        ev!("rm", 2, "Monitor usw stop."),
        ev!(
            "pm",
            22,
            "OS actions are simulated: would shutdown now. (reboot count 1/3)"
        ),
        ev!("pm", 3, "Cluster daemon has stopped."),
    ]);
    assert_eq!(sim.take(), expected);
    assert_eq!(sim.host.os_actions(), [OsAction::Shutdown]);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_timed_pause_ends_on_time_after_rm_restarted() {
    // OPS-4 `--for`: the end of the pause is on the board, so a restarted rm still ends it.
    let mut sim = boot().await;
    let engine = sim.engine();
    let pause = Some(Duration::from_secs(60));
    assert_eq!(
        engine.suspend_monitors(vec!["pidw".into()], pause).await,
        Ok(())
    );
    sim.run_for(Duration::from_secs(10)).await;
    crash(&mut sim, "rm", RmMsg::Resume { done: None }).await;
    let paused = |sim: &Sim| {
        sim.engine()
            .board()
            .monitor("pidw")
            .is_some_and(|m| m.operator_suspended)
    };
    assert!(paused(&sim), "still paused after the restart");
    sim.run_for(Duration::from_secs(51)).await;
    assert!(!paused(&sim), "the pause ended on time");
    assert!(sim.take().contains(&ev!("rm", 23, "Monitor pidw resumed.")));
    sim.run_for(Duration::from_secs(5)).await;
    kill_app_and_see_it_reactivated(&mut sim).await;
}

// --- governor under the daemon ----------------------------------------------------------------

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_governor_restarted_after_a_panic_keeps_its_count_and_a_second_crash_still_shuts_down()
{
    let mut sim = boot().await;
    crash(&mut sim, "governor", GovernorMsg::Tick).await;
    assert_eq!(sim.take(), [restarted("pm", 10, "governor", PANIC)]);
    assert_eq!(tree_restarts(&sim, "governor"), (1, Some(PANIC.into())));
    sim.run_for(Duration::from_secs(5)).await;
    kill_app_and_see_it_reactivated(&mut sim).await;

    // Past the intensity the governor is replaced once, for the emergency shutdown alone: it
    // is the only door to an OS action (DOWN-3).
    crash(&mut sim, "governor", GovernorMsg::Tick).await;
    sim.run_for(Duration::from_secs(1)).await;
    let mut expected = emergency_shutdown("governor", PANIC);
    expected.extend([
        ev!("rm", 2, "Monitor diskw stop."),
        ev!("rm", 2, "Monitor pidw stop."),
    ]);
    expected.extend(group_stop());
    expected.extend([
        ev!("rm", 2, "Monitor usw stop."),
        ev!(
            "pm",
            22,
            "OS actions are simulated: would shutdown now. (reboot count 1/3)"
        ),
        ev!("pm", 3, "Cluster daemon has stopped."),
    ]);
    assert_eq!(sim.take(), expected);
    assert_eq!(sim.host.os_actions(), [OsAction::Shutdown]);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_final_action_the_governor_crashed_on_is_asked_again_of_its_successor() {
    // The activation of `bad` fails for good and its final action reboots; the governor
    // panics on that very request. Its restarted incarnation is asked again and counts it.
    let ron = CONFIG.replace(
        "groups: [",
        r#"groups: [(name: "g2", startup: Manual, resources: [(name: "bad", start: (program: "/sim/bad"),
            activation: (retries: 0, final_action: StopDaemonReboot))]), "#,
    );
    let mut sim = Sim::boot(&ron).await;
    sim.host
        .steady_probe("diskw", SimProbe::Answer(ProbeResult::normal()));
    sim.run_for(Duration::from_secs(1)).await;
    sim.take();
    sim.host
        .script("/sim/bad", [upkeep_actors::sim::SimRun::Exit(1)]);
    sim.panic_next("governor");
    let engine = sim.engine();
    let _ = engine.group("g2", true).await;
    sim.run_for(Duration::from_secs(1)).await;
    let mut expected = vec![
        ev!("rc", 10, "The start processing of a group g2 started."),
        ev!("rc", 30, "The start processing of a resource bad started."),
        ev!("rc", 32, "Failed to start the resource bad. (exit code 1)"),
        ev!(
            "rc",
            34,
            "Final action of activation failure of the resource bad: StopDaemonReboot."
        ),
        ev!("rc", 12, "The start processing of a group g2 failed."),
        restarted("pm", 10, "governor", PANIC),
        ev!(
            "pm",
            20,
            "Final action of resource bad (StopDaemonReboot) is being executed."
        ),
        ev!("pm", 2, "Cluster daemon is stopping. (resource bad)"),
        ev!("rm", 2, "Monitor diskw stop."),
        ev!("rm", 2, "Monitor pidw stop."),
    ];
    // The groups stop at once (issue 14); each one's own lines stay in order.
    expected.extend([
        ev!("rc", 20, "The stop processing of a group g1 started."),
        ev!("rc", 20, "The stop processing of a group g2 started."),
        ev!("rc", 40, "The stop processing of a resource app started."),
        ev!("rc", 21, "The stop processing of a group g2 ended."),
        ev!("rc", 41, "The stop processing of a resource app ended."),
        ev!("rc", 21, "The stop processing of a group g1 ended."),
        ev!("rm", 2, "Monitor usw stop."),
        ev!(
            "pm",
            22,
            "OS actions are simulated: would reboot now. (reboot count 1/3)"
        ),
        ev!("pm", 3, "Cluster daemon has stopped."),
    ]);
    assert_eq!(sim.take(), expected);
    assert_eq!(sim.host.os_actions(), [OsAction::Reboot]);
}

// --- user-space monitor under the daemon ------------------------------------------------------

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_user_space_monitor_restarted_after_a_panic_feeds_again_and_a_second_crash_shuts_down()
{
    let mut sim = boot().await;
    sim.panic_next("userspace/usw");
    sim.run_for(Duration::from_secs(3)).await;
    assert_eq!(
        sim.take(),
        [
            restarted("pm", 10, "userspace/usw", PANIC),
            ev!("rm", 1, "Monitor usw start."),
        ]
    );
    // Fed again: no reset long past the timeout.
    sim.run_for(Duration::from_secs(120)).await;
    assert!(sim.host.os_actions().is_empty());
    kill_app_and_see_it_reactivated(&mut sim).await;

    // The first crash has left the one-minute window: this one is restarted, the next one
    // within the minute is not.
    sim.panic_next("userspace/usw");
    sim.run_for(Duration::from_secs(3)).await;
    assert_eq!(
        sim.take(),
        [
            restarted("pm", 10, "userspace/usw", PANIC),
            ev!("rm", 1, "Monitor usw start."),
        ]
    );
    sim.panic_next("userspace/usw");
    sim.run_for(Duration::from_secs(3)).await;
    sim.run_for(Duration::from_secs(1)).await;
    let mut expected = emergency_shutdown("userspace/usw", PANIC);
    expected.extend([
        ev!("rm", 2, "Monitor diskw stop."),
        ev!("rm", 2, "Monitor pidw stop."),
    ]);
    expected.extend(group_stop());
    expected.extend([
        ev!(
            "pm",
            22,
            "OS actions are simulated: would shutdown now. (reboot count 1/3)"
        ),
        ev!("pm", 3, "Cluster daemon has stopped."),
    ]);
    assert_eq!(sim.take(), expected);
    assert_eq!(sim.host.os_actions(), [OsAction::Shutdown]);
}

// --- a restart that cannot spawn -----------------------------------------------------------------

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_restart_that_cannot_spawn_is_tried_again_and_never_fails_the_supervisor() {
    // OTP's try_again_restart: the failed spawn is counted like a crash and retried later by a
    // self-message; rm itself keeps running.
    let mut sim = Sim::boot(&CONFIG.replace("max_restarts: 1", "max_restarts: 3")).await;
    sim.run_for(Duration::from_secs(1)).await;
    sim.take();
    sim.fail_next_start("rm/pidw");
    crash(&mut sim, "rm/pidw", MonitorMsg::TargetChanged).await;
    sim.run_for(Duration::from_millis(200)).await;
    let lines = sim.take();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert_eq!(lines[0], restarted("rm", 30, "rm/pidw", PANIC));
    assert_eq!(
        lines[1],
        restarted(
            "rm",
            30,
            "rm/pidw",
            "restart failed: injected start failure"
        )
    );
    assert_eq!(lines[2], ev!("rm", 1, "Monitor pidw start."));
    assert_eq!(tree_restarts(&sim, "rm/pidw").0, 2);
    assert_eq!(tree_restarts(&sim, "rm").0, 0, "rm never failed");
    kill_app_and_see_it_reactivated(&mut sim).await;
}

// --- incarnations ------------------------------------------------------------------------------

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_report_of_a_crashed_resource_incarnation_does_not_act_on_its_successor() {
    // A late "deactivated" from the first incarnation arrives after the restart; the group
    // must not take the running successor for offline.
    let mut sim = boot().await;
    let group = format!("{}/rc/g1", sim.engine().ctx.names.instance());
    crash(&mut sim, "rc/g1/app", ExecMsg::Terminated).await;
    sim.take();
    let Some(group) = ActorRef::<GroupMsg>::where_is(group) else {
        panic!("g1 is running");
    };
    let _ = group.cast(GroupMsg::Report {
        index: 0,
        incarnation: 1,
        report: upkeep_actors::exec::ResourceReport::Deactivated,
    });
    sim.run_for(Duration::from_millis(10)).await;
    // Were it taken, the group would think app offline and start it again on `group start`.
    assert_eq!(sim.engine().group("g1", true).await, Ok(()));
    sim.run_for(Duration::from_millis(10)).await;
    assert_eq!(sim.take(), Vec::<String>::new());
}
