//! The reboot governor (CFG-5..9, DOWN-3, DOWN-7, MAP-6) in virtual time on the simulated host:
//! the count, its persistence across a simulated reboot, the reset after a quiet window, refusal
//! at the limit, a damaged state file, and DOWN-3 after a core actor keeps crashing.

use std::time::{Duration, SystemTime};

use upkeep_actors::host::OsAction;
use upkeep_actors::sim::{SimDisk, SimProbe, SimulatedHost};

use crate::ev;
use crate::sim::Sim;

/// A disk monitor whose final action reboots; max 2 reboots, reset after 60 minutes.
const REBOOTING: &str = r#"(
    name: "SSS", edition: "SSS",
    reboot_limit: (max_reboot_count: 2, reset_after: "60m"),
    monitors: [(name: "diskw", kind: Disk(path: "/dev/sda"), interval: "5s", timeout: "10s",
        recovery: (target: Sss, final_action: StopDaemonReboot))],
)"#;

fn failing_disk(host: &SimulatedHost) {
    host.steady_probe(
        "diskw",
        SimProbe::Answer(upkeep_actors::host::ProbeResult::error(1, "I/O error")),
    );
}

/// Boot on `disk` at wall time `at`, with the disk monitor failing, and run 6 s.
async fn boot_failing(disk: &SimDisk, at: SystemTime) -> Sim {
    let host = SimulatedHost::new(disk.clone(), at);
    failing_disk(&host);
    let mut sim = Sim::boot_on(REBOOTING, host).await;
    sim.run_for(Duration::from_secs(6)).await;
    sim
}

fn stored(disk: &SimDisk) -> String {
    String::from_utf8_lossy(&disk.read("reboot-count").unwrap_or_default()).into_owned()
}

fn base() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn reboots_are_counted_persisted_across_boots_and_refused_at_the_limit() {
    let disk = SimDisk::default();
    // Boot 1 and 2: the fault reboots the host; the count is on disk before the action.
    for (boot, minutes) in [(1u32, 0u64), (2, 2)] {
        let mut sim = boot_failing(&disk, base() + Duration::from_secs(minutes * 60)).await;
        assert_eq!(
            sim.take(),
            [
                ev!("pm", 1, "Cluster daemon has started properly..."),
                ev!("nm", 1, "Server server1 up."),
                ev!("rm", 1, "Monitor diskw start."),
                ev!(
                    "rm",
                    3,
                    "Monitor diskw detected a failure (1/1). (I/O error)"
                ),
                ev!("rm", 9, "Monitor diskw failed. (I/O error)"),
                ev!("rm", 14, "Final action of monitor diskw: StopDaemonReboot."),
                ev!(
                    "pm",
                    20,
                    "Final action of monitor diskw (StopDaemonReboot) is being executed."
                ),
                ev!("pm", 2, "Cluster daemon is stopping. (monitor diskw)"),
                ev!("rm", 2, "Monitor diskw stop."),
                ev!(
                    "pm",
                    22,
                    "OS actions are simulated: would reboot now. (reboot count {boot}/2)"
                ),
                ev!("pm", 3, "Cluster daemon has stopped."),
            ],
            "boot {boot}"
        );
        assert!(sim.daemon_stopped(), "boot {boot}");
        assert_eq!(sim.host.os_actions(), [OsAction::Reboot], "boot {boot}");
        assert!(
            stored(&disk).contains(&format!("count {boot}\n")),
            "boot {boot}: {}",
            stored(&disk)
        );
    }
    // Boot 3: the limit is reached; the final action is refused and the daemon stays up.
    let mut sim = boot_failing(&disk, base() + Duration::from_secs(4 * 60)).await;
    let lines = sim.take();
    let refusal = ev!(
        "pm",
        21,
        "Reboot count 2 has reached the maximum of 2. Final action of monitor diskw (StopDaemonReboot) will not be executed."
    );
    // The fault is still there: each declared error meets the same refusal (checks at 0 s and 5 s).
    let failing = [
        ev!(
            "rm",
            3,
            "Monitor diskw detected a failure (1/1). (I/O error)"
        ),
        ev!("rm", 9, "Monitor diskw failed. (I/O error)"),
        ev!("rm", 14, "Final action of monitor diskw: StopDaemonReboot."),
        refusal,
    ];
    let mut expected = vec![
        ev!("pm", 1, "Cluster daemon has started properly..."),
        ev!("nm", 1, "Server server1 up."),
        ev!("rm", 1, "Monitor diskw start."),
    ];
    expected.extend(failing.iter().cloned());
    expected.extend(failing.iter().cloned());
    assert_eq!(lines, expected);
    assert!(sim.host.os_actions().is_empty());
    assert!(!sim.daemon_stopped());
    assert_eq!(sim.engine().board().governor.borrow().count, 2);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_count_resets_after_the_window_passes_without_an_error() {
    let disk = SimDisk::default();
    disk.write(
        "reboot-count",
        b"upkeep reboot count v1\ncount 2\nlast_error 1800000000\n",
    );
    // Booted 10 minutes after the last error, with a healthy disk.
    let mut sim = Sim::boot_on(
        REBOOTING,
        SimulatedHost::new(disk.clone(), base() + Duration::from_secs(600)),
    )
    .await;
    assert_eq!(sim.engine().board().governor.borrow().count, 2);
    sim.take();
    sim.run_for(Duration::from_secs(49 * 60)).await;
    assert!(sim.take().is_empty(), "59 minutes after the error: not yet");
    sim.run_for(Duration::from_secs(2 * 60)).await;
    assert_eq!(
        sim.take(),
        [ev!(
            "pm",
            24,
            "Reboot count was reset to 0 (was 2): no error within the reset time."
        )]
    );
    assert_eq!(sim.engine().board().governor.borrow().count, 0);
    assert!(stored(&disk).contains("count 0\n"));
    // With the budget back, the next fault may reboot again.
    failing_disk(&sim.host);
    sim.run_for(Duration::from_secs(6)).await;
    assert_eq!(sim.host.os_actions(), [OsAction::Reboot]);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_damaged_state_file_is_kept_aside_and_counts_as_the_limit_reached() {
    for damage in ["garbage", "unreadable"] {
        let disk = SimDisk::default();
        let host = SimulatedHost::new(disk.clone(), base());
        if damage == "garbage" {
            disk.write("reboot-count", b"\x00\x01 not a count");
        } else {
            disk.write(
                "reboot-count",
                b"upkeep reboot count v1\ncount 0\nlast_error none\n",
            );
            host.make_unreadable("reboot-count");
        }
        failing_disk(&host);
        let mut sim = Sim::boot_on(REBOOTING, host).await;
        sim.run_for(Duration::from_secs(6)).await;
        let reason = match damage {
            "garbage" => "unknown header",
            _ => "state file `reboot-count`: Input/output error",
        };
        let failing = [
            ev!("rm", 3, "Monitor diskw detected a failure (1/1). (I/O error)"),
            ev!("rm", 9, "Monitor diskw failed. (I/O error)"),
            ev!("rm", 14, "Final action of monitor diskw: StopDaemonReboot."),
            ev!(
                "pm",
                21,
                "Reboot count 2 has reached the maximum of 2. Final action of monitor diskw (StopDaemonReboot) will not be executed."
            ),
        ];
        let mut expected = vec![
            ev!(
                "pm",
                25,
                "Reboot count could not be read ({reason}); kept at reboot-count.corrupt. Treated as the limit reached until the reset time passes."
            ),
            ev!("pm", 1, "Cluster daemon has started properly..."),
            ev!("nm", 1, "Server server1 up."),
            ev!("rm", 1, "Monitor diskw start."),
        ];
        expected.extend(failing.iter().cloned());
        expected.extend(failing.iter().cloned());
        assert_eq!(sim.take(), expected, "{damage}");
        assert!(
            sim.host.os_actions().is_empty(),
            "{damage}: damage never reboots"
        );
        assert!(
            disk.read("reboot-count.corrupt").is_some() || damage == "unreadable",
            "{damage}"
        );
        // A quiet window after the damage lifts the refusal.
        sim.host.steady_probe(
            "diskw",
            SimProbe::Answer(upkeep_actors::host::ProbeResult::normal()),
        );
        sim.run_for(Duration::from_secs(61 * 60)).await;
        failing_disk(&sim.host);
        sim.run_for(Duration::from_secs(6)).await;
        assert_eq!(sim.host.os_actions(), [OsAction::Reboot], "{damage}");
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_core_actor_that_keeps_crashing_makes_an_emergency_shutdown() {
    // DOWN-3: rc is restarted within its budget (3 in 60 s by default), then the daemon stops
    // the groups and shuts the OS down (not reboot), counted by the governor.
    let ron = r#"(
    name: "SSS", edition: "SSS",
    groups: [(name: "g1", resources: [(name: "app", start: (program: "/sim/app"), mode: Async)])],
)"#;
    let mut sim = Sim::boot(ron).await;
    sim.take();
    let rc = format!("{}/rc", sim.engine().ctx.names.instance());
    for round in 1..=4 {
        let Some(cell) = ractor::registry::where_is(rc.clone()) else {
            panic!("rc is running before round {round}");
        };
        cell.kill();
        sim.run_for(Duration::from_secs(1)).await;
        let lines = sim.take();
        if round <= 3 {
            assert_eq!(
                lines,
                [
                    ev!(
                        "pm",
                        10,
                        "Internal process rc terminated abnormally and was restarted. (killed)"
                    ),
                    // The group's process died with rc; the new rc starts it again.
                    ev!("rc", 10, "The start processing of a group g1 started."),
                    ev!("rc", 30, "The start processing of a resource app started."),
                    ev!("rc", 31, "The start processing of a resource app ended."),
                    ev!("rc", 11, "The start processing of a group g1 ended."),
                ],
                "round {round}"
            );
        } else {
            assert_eq!(
                lines,
                [
                    ev!("pm", 11, "Internal process rc terminated abnormally too often; emergency shutdown. (killed)"),
                    ev!("pm", 20, "Final action of internal process rc (EmergencyShutdown) is being executed."),
                    ev!("pm", 2, "Cluster daemon is stopping. (internal process rc)"),
                    ev!("pm", 22, "OS actions are simulated: would shutdown now. (reboot count 1/3)"),
                    ev!("pm", 3, "Cluster daemon has stopped."),
                ]
            );
        }
    }
    assert_eq!(sim.host.os_actions(), [OsAction::Shutdown]);
    assert!(
        sim.host.running().is_empty(),
        "the killed rc took its processes with it"
    );
}
