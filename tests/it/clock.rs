//! rm's one clock for every monitor's interval (MON-3, issue 14), in virtual time on the
//! simulated host: monitors sharing an interval are checked together, on schedule, after a
//! suspend and resume, and after one of them is restarted by its supervisor (a restarted monitor
//! ticks one interval after its restart, the others keep theirs). Every check of a failing
//! monitor is a visible line (`detected a failure (n/100)`), so a tick lost or doubled shows.

use std::time::Duration;

use ractor::ActorRef;
use upkeep_actors::host::ProbeResult;
use upkeep_actors::monitor::MonitorMsg;
use upkeep_actors::sim::SimProbe;

use crate::ev;
use crate::sim::Sim;

const MS: fn(u64) -> Duration = Duration::from_millis;

/// Two disk monitors and two pid monitors, all at 5 s; 99 retries, so every check of a failing
/// one is counted and shown, never declared.
const CONFIG: &str = r#"(
    name: "SSS", edition: "SSS",
    core_restart: (max_restarts: 3, period: "1m"),
    groups: [(name: "g1", resources: [
        (name: "a", start: (program: "/sim/a"), mode: Async),
        (name: "b", start: (program: "/sim/b"), mode: Async),
    ])],
    monitors: [
        (name: "d1", kind: Disk(path: "/dev/sda"), interval: "5s", timeout: "10s", retries: 99,
            recovery: (target: Sss, final_action: NoOp)),
        (name: "d2", kind: Disk(path: "/dev/sdb"), interval: "5s", timeout: "10s", retries: 99,
            recovery: (target: Sss, final_action: NoOp)),
        (name: "pa", kind: Pid(resource: "a"), interval: "5s", timeout: "60s", retries: 99,
            recovery: (target: Resource("a"), final_action: NoOp)),
        (name: "pb", kind: Pid(resource: "b"), interval: "5s", timeout: "60s", retries: 99,
            recovery: (target: Resource("b"), final_action: NoOp)),
    ],
)"#;

const IO: &str = "I/O error";

fn failure(monitor: &str, n: u32, detail: &str) -> String {
    ev!(
        "rm",
        3,
        "Monitor {monitor} detected a failure ({n}/100). ({detail})"
    )
}

/// The check lines among `lines`.
fn checks(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.contains("detected a failure"))
        .cloned()
        .collect()
}

async fn crash_monitor(sim: &mut Sim, name: &str) {
    sim.panic_next(&format!("rm/{name}"));
    let path = format!("{}/rm/{name}", sim.engine().ctx.names.instance());
    let Some(actor) = ActorRef::<MonitorMsg>::where_is(path) else {
        panic!("{name} is not running");
    };
    assert!(actor.cast(MonitorMsg::TargetChanged).is_ok());
    sim.run_for(MS(10)).await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn monitors_sharing_an_interval_keep_their_schedule_through_suspend_resume_and_a_restart() {
    // t = 0: the monitors start and check at once (the disks answer normal until now).
    let mut sim = Sim::boot(CONFIG).await;
    sim.host
        .steady_probe("d1", SimProbe::Answer(ProbeResult::error(1, IO)));
    sim.host
        .steady_probe("d2", SimProbe::Answer(ProbeResult::error(1, IO)));
    sim.take();

    // t = 5: one batch, both disks; the pid monitors are normal (their ticks change nothing).
    sim.run_for(MS(4_980)).await;
    assert_eq!(checks(&sim.take()), Vec::<String>::new());
    sim.run_for(MS(20)).await;
    assert_eq!(
        checks(&sim.take()),
        [failure("d1", 1, IO), failure("d2", 1, IO)]
    );

    // t = 5.02 .. 15.02 suspended (OPS-2): no check at all.
    sim.run_for(MS(10)).await;
    sim.engine().suspend(true).await.expect("suspend");
    sim.run_for(Duration::from_secs(10)).await;
    let lines = sim.take();
    assert!(
        lines.iter().any(|l| l.starts_with("<type: rm><event: 20>")),
        "{lines:#?}"
    );
    assert_eq!(checks(&lines), Vec::<String>::new());

    // Resume at t = 15.02: a check at once (the count started over), then the ticks keep the
    // monitors' own schedule: t = 20, 25.
    sim.engine().suspend(false).await.expect("resume");
    sim.run_for(MS(10)).await;
    assert_eq!(
        checks(&sim.take()),
        [failure("d1", 1, IO), failure("d2", 1, IO)]
    );
    sim.run_for(MS(4_960)).await;
    assert_eq!(checks(&sim.take()), Vec::<String>::new());
    sim.run_for(MS(20)).await;
    assert_eq!(
        checks(&sim.take()),
        [failure("d1", 2, IO), failure("d2", 2, IO)]
    );

    // t = 22.49: d1 crashes and rm restarts it. The new incarnation checks at once and then
    // every 5 s from its start (27.49, 32.49); d2 keeps its schedule (25, 30); nothing twice.
    sim.run_for(MS(2_480)).await;
    crash_monitor(&mut sim, "d1").await;
    let lines = sim.take();
    assert!(
        lines.contains(&ev!("rm", 1, "Monitor d1 start.")),
        "{lines:#?}"
    );
    assert_eq!(checks(&lines), [failure("d1", 1, IO)]);
    sim.run_for(MS(2_510)).await; // t = 25.01
    assert_eq!(checks(&sim.take()), [failure("d2", 3, IO)]);
    sim.run_for(MS(2_500)).await; // t = 27.51
    assert_eq!(checks(&sim.take()), [failure("d1", 2, IO)]);
    sim.run_for(MS(5_000)).await; // t = 32.51
    assert_eq!(
        checks(&sim.take()),
        [failure("d2", 4, IO), failure("d1", 3, IO)]
    );

    // The pid monitors, quiet all along (no tick reached them while their resources stood
    // still), still see a process end at once after a restart and a suspend / resume.
    crash_monitor(&mut sim, "pb").await;
    sim.engine().suspend(true).await.expect("suspend");
    sim.engine().suspend(false).await.expect("resume");
    sim.run_for(MS(10)).await;
    sim.take();
    assert!(sim.host.kill("/sim/b", 9).is_some(), "b was running");
    sim.run_for(MS(10)).await;
    assert_eq!(
        checks(&sim.take()),
        [failure(
            "pb",
            1,
            "process of resource b is not running (ended with signal 9)"
        )]
    );
    sim.stop().await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_configuration_apply_takes_the_old_monitors_off_the_clock_and_puts_the_new_ones_on() {
    let config = |d2_interval: &str| {
        format!(
            r#"(
    name: "SSS", edition: "SSS",
    monitors: [
        (name: "d1", kind: Disk(path: "/dev/sda"), interval: "5s", timeout: "10s", retries: 99,
            recovery: (target: Sss, final_action: NoOp)),
        (name: "d2", kind: Disk(path: "/dev/sdb"), interval: "{d2_interval}", timeout: "10s",
            retries: 99, recovery: (target: Sss, final_action: NoOp)),
    ],
)"#
        )
    };
    let mut sim = Sim::boot(&config("5s")).await;
    sim.host
        .steady_probe("d1", SimProbe::Answer(ProbeResult::error(1, IO)));
    sim.host
        .steady_probe("d2", SimProbe::Answer(ProbeResult::error(1, IO)));
    sim.run_for(MS(2_480)).await; // t = 2.49
    sim.take();

    // APPLY-2 #2: the monitors are replaced; the new ones check at once and tick from now on
    // (d1 at 7.49, 12.49; d2, now at 10 s, at 12.49); the old schedule (5, 10) is gone.
    let new = std::sync::Arc::new(crate::sim::config(&config("10s")));
    sim.engine().reconfigure(new).await.expect("apply");
    sim.run_for(MS(10)).await; // t = 2.50
    assert_eq!(
        checks(&sim.take()),
        [failure("d1", 1, IO), failure("d2", 1, IO)]
    );
    sim.run_for(MS(4_980)).await; // t = 7.48: nothing at 5
    assert_eq!(checks(&sim.take()), Vec::<String>::new());
    sim.run_for(MS(20)).await; // t = 7.50
    assert_eq!(checks(&sim.take()), [failure("d1", 2, IO)]);
    sim.run_for(MS(4_980)).await; // t = 12.48: nothing at 10
    assert_eq!(checks(&sim.take()), Vec::<String>::new());
    sim.run_for(MS(20)).await; // t = 12.50: one batch (in the order they came to it)
    let mut both = checks(&sim.take());
    both.sort();
    assert_eq!(both, [failure("d1", 3, IO), failure("d2", 2, IO)]);
    sim.stop().await;
}
