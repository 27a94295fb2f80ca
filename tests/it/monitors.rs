//! The monitor catalogue through the engine, in virtual time on the simulated host: every type
//! goes error -> final action and warning -> alert only; the multi-target monitor holds its
//! members' actions and decides (MTM-1); the delay warning; the user-space monitor's stall
//! detection, watchdog reset (DOWN-5), magic close, and the watchdog left armed during an OS
//! action (DOWN-6).

use std::time::Duration;

use upkeep_actors::host::{OsAction, ProbeResult, Verdict};
use upkeep_actors::sim::{HostAction, SimCycle, SimProbe};

use crate::ev;
use crate::sim::Sim;

/// `kind` as the monitor `m`, target SSS, final action NoOp.
fn one_monitor(kind: &str) -> String {
    format!(
        r#"(
    name: "SSS", edition: "SSS",
    monitors: [(name: "m", kind: {kind}, interval: "5s", timeout: "10s",
        recovery: (target: Sss, final_action: NoOp))],
)"#
    )
}

const KINDS: [&str; 8] = [
    r#"Disk(path: "/dev/sda")"#,
    r#"Raw(path: "/dev/sdb")"#,
    r#"Ip(addresses: ["127.0.0.1"])"#,
    r#"NicLink(interface: "eth0")"#,
    r#"SoftRaid(device: "md0")"#,
    r#"Custom(program: "/usr/local/bin/check")"#,
    r#"Tcp(host: "127.0.0.1", port: 5432)"#,
    r#"Http(url: "http://127.0.0.1:8080/health")"#,
];

fn answer(verdict: Verdict, code: i32, message: &str) -> SimProbe {
    SimProbe::Answer(ProbeResult {
        verdict,
        code,
        message: message.into(),
    })
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn every_monitor_type_takes_its_final_action_on_error_and_only_alerts_on_warning() {
    for kind in KINDS {
        let mut sim = Sim::boot(&one_monitor(kind)).await;
        sim.take();
        sim.host.probe(
            "m",
            [
                answer(
                    Verdict::Warning,
                    101,
                    "Bad disks(sdb1) are detected in Soft RAID.",
                ),
                answer(Verdict::Normal, 0, "Success."),
                answer(Verdict::Error, 3, "Soft RAID is abnormal."),
            ],
        );
        sim.run_for(Duration::from_secs(16)).await;
        assert_eq!(
            sim.take(),
            [
                ev!(
                    "rm",
                    4,
                    "Monitor m warn .(Bad disks(sdb1) are detected in Soft RAID.)"
                ),
                ev!("rm", 5, "Monitor m is normal again."),
                ev!(
                    "rm",
                    3,
                    "Monitor m detected a failure (1/1). (Soft RAID is abnormal.)"
                ),
                ev!("rm", 9, "Monitor m failed. (Soft RAID is abnormal.)"),
                ev!("rm", 14, "Final action of monitor m: NoOp."),
            ],
            "{kind}"
        );
        let status = sim.engine().board().monitor("m");
        assert_eq!(
            status.map(|m| m.last_verdict),
            Some(Some(Verdict::Error)),
            "{kind}"
        );
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_warning_is_shown_in_the_status_and_never_recovers_anything() {
    let mut sim = Sim::boot(&one_monitor(KINDS[4])).await;
    sim.take();
    sim.host.steady_probe(
        "m",
        answer(
            Verdict::Warning,
            100,
            "Soft RAID is in recovery progress(12.6%).",
        ),
    );
    sim.run_for(Duration::from_secs(60)).await;
    let lines = sim.take();
    assert_eq!(
        lines,
        [ev!(
            "rm",
            4,
            "Monitor m warn .(Soft RAID is in recovery progress(12.6%).)"
        )],
        "alerted once"
    );
    let status = sim.engine().board().monitor("m");
    assert_eq!(
        status.as_ref().map(|m| m.last_verdict),
        Some(Some(Verdict::Warning))
    );
    assert_eq!(status.map(|m| m.failures), Some(0));
    assert!(sim.host.os_actions().is_empty());
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_slow_check_gets_a_delay_warning() {
    let ron = one_monitor(KINDS[0]).replace(
        "timeout: \"10s\",",
        "timeout: \"10s\", delay_warning_percent: 80,",
    );
    let mut sim = Sim::boot(&ron).await;
    sim.take();
    sim.host.probe(
        "m",
        [SimProbe::After(
            Duration::from_secs(9),
            ProbeResult::normal(),
        )],
    );
    sim.run_for(Duration::from_secs(15)).await;
    assert_eq!(
        sim.take(),
        [ev!(
            "rm",
            71,
            "Detected a monitor delay in monitor m. (timeout=10s actual-time=9000ms delay warning rate=80%)"
        )]
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_multi_target_monitor_holds_its_members_and_decides_at_its_threshold() {
    // MTM-1: two disk members; the multi-target errs when both are in error (the default).
    let ron = r#"(
    name: "SSS", edition: "SSS",
    monitors: [
        (name: "d1", kind: Disk(path: "/dev/sda"), interval: "5s", timeout: "10s",
            recovery: (target: Sss, final_action: StopDaemonReboot)),
        (name: "d2", kind: Disk(path: "/dev/sdb"), interval: "5s", timeout: "10s",
            recovery: (target: Sss, final_action: StopDaemonReboot)),
        (name: "both", kind: MultiTarget(members: ["d1", "d2"], warning_threshold: 1),
            interval: "5s", timeout: "10s", recovery: (target: Sss, final_action: StopDaemon)),
    ],
)"#;
    let mut sim = Sim::boot(ron).await;
    sim.take();
    let down = answer(Verdict::Error, 1, "I/O error");
    sim.host.steady_probe("d1", down.clone());
    sim.run_for(Duration::from_secs(5)).await;
    let lines = sim.take();
    assert!(
        lines.contains(&ev!(
            "rm",
            15,
            "Recovery of monitor d1 is held: multi-target monitor both decides."
        )),
        "{lines:#?}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("Final action of monitor d1")),
        "{lines:#?}"
    );
    sim.run_for(Duration::from_secs(5)).await;
    let lines = sim.take();
    assert!(
        lines.contains(&ev!(
            "rm",
            4,
            "Monitor both warn .(1 of 2 members in error: d1)"
        )),
        "{lines:#?}"
    );
    sim.host.steady_probe("d2", down);
    sim.run_for(Duration::from_secs(10)).await;
    let lines = sim.take();
    assert!(
        lines.contains(&ev!(
            "rm",
            9,
            "Monitor both failed. (2 of 2 members in error: d1, d2)"
        )),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&ev!("rm", 14, "Final action of monitor both: StopDaemon.")),
        "{lines:#?}"
    );
    assert!(sim.daemon_stopped());
    assert!(
        sim.host.os_actions().is_empty(),
        "the members' reboot was held"
    );
}

fn userspace(method: &str) -> String {
    format!(
        r#"(
    name: "SSS", edition: "SSS",
    groups: [(name: "g1", resources: [(name: "app", start: (program: "/sim/app"), mode: Async)])],
    monitors: [(name: "userw", kind: UserSpace(method: {method}), interval: "3s", timeout: "90s")],
)"#
    )
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_user_space_stall_is_reset_by_the_watchdog() {
    // USW-1, DOWN-5: cycles stop completing; the simulated softdog goes unfed and fires.
    let mut sim = Sim::boot(&userspace("Softdog")).await;
    assert!(sim.take().contains(&ev!("rm", 1, "Monitor userw start.")));
    sim.run_for(Duration::from_secs(30)).await;
    assert!(
        sim.host.os_actions().is_empty(),
        "fed while cycles complete"
    );
    sim.host.userspace_cycles([SimCycle::Hang]);
    sim.run_for(Duration::from_secs(80)).await;
    assert!(sim.host.os_actions().is_empty(), "not yet at the timeout");
    sim.run_for(Duration::from_secs(20)).await;
    let lines = sim.take();
    assert!(
        lines.iter().any(|l| l.starts_with(
            "<type: rm><event: 9> Monitor userw failed. (user space did not complete a cycle for"
        ) && l.ends_with("the watchdog will reset the server)")),
        "{lines:#?}"
    );
    assert_eq!(sim.host.os_actions(), [OsAction::Reset]);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn method_none_reports_the_stall_without_a_reset() {
    let mut sim = Sim::boot(&userspace("None")).await;
    sim.take();
    sim.host.userspace_cycles([SimCycle::Hang]);
    sim.run_for(Duration::from_secs(120)).await;
    let lines = sim.take();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Monitor userw failed.") && l.ends_with("method none: no reset)")),
        "{lines:#?}"
    );
    assert!(sim.host.os_actions().is_empty());
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_watchdog_is_closed_on_an_orderly_stop_and_left_armed_during_an_os_action() {
    // Orderly stop: magic close, never fires.
    let mut sim = Sim::boot(&userspace("Softdog")).await;
    sim.stop().await;
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert!(sim.host.actions().contains(&HostAction::WatchdogClosed));
    assert!(sim.host.os_actions().is_empty());

    // DOWN-6: a final action reboots; the watchdog stays armed, so a shutdown that hangs is
    // reset once it goes unfed for the timeout.
    let ron = userspace("Softdog").replace(
        "monitors: [",
        r#"monitors: [(name: "pidw", kind: Pid(resource: "app"), recovery: (target: Sss, final_action: StopDaemonReboot)), "#,
    );
    let mut sim = Sim::boot(&ron).await;
    sim.take();
    assert!(sim.host.kill("/sim/app", 9).is_some());
    sim.run_for(Duration::from_secs(1)).await;
    assert_eq!(sim.host.os_actions(), [OsAction::Reboot]);
    assert!(!sim.host.actions().contains(&HostAction::WatchdogClosed));
    tokio::time::sleep(Duration::from_secs(100)).await;
    assert_eq!(sim.host.os_actions(), [OsAction::Reboot, OsAction::Reset]);
}
