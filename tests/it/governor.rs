//! The reboot governor (CFG-5..9, DOWN-3, DOWN-7, MAP-6) in virtual time on the simulated host:
//! the count, its persistence across a simulated reboot, the reset after a quiet window, refusal
//! at the limit, a damaged state file (kept across restarts), the window measured from the last
//! refusal across a restart, the v1 → v2 state migration, and DOWN-3 after a core actor keeps
//! crashing.

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
    // The fault is still there, but this error episode already ended in its final action: it is
    // not declared (nor refused) again every interval (issue 9, once per error episode).
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

/// pm 21 while the state is damaged since `since` (`unknown header`, say) for the disk monitor.
fn damaged_refusal(since: &str, reason: &str, origin: &str) -> String {
    ev!(
        "pm",
        21,
        "Reboot count state is damaged since {since} ({reason}; kept at reboot-count.corrupt); treated as the limit reached. Final action of {origin} (StopDaemonReboot) will not be executed."
    )
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_damaged_state_file_is_kept_aside_and_counts_as_the_limit_reached() {
    // Each: what is on disk, and the reason the damage event gives.
    let v1 = |last: &str| format!("upkeep reboot count v1\ncount 1\nlast_error {last}\n");
    for (damage, bytes, reason) in [
        (
            "garbage",
            b"\x00\x01 not a count".to_vec(),
            "unknown header",
        ),
        ("zero-length", Vec::new(), "empty file"),
        (
            "unreadable",
            v1("none").into_bytes(),
            "state file `reboot-count`: Input/output error",
        ),
        // A time RFC 3339 cannot show was not written by upkeep (and `status` must show it).
        (
            "year 10000",
            v1("253402300800").into_bytes(),
            "last_error is after the year 9999",
        ),
        (
            "u64::MAX",
            v1("18446744073709551615").into_bytes(),
            "last_error is after the year 9999",
        ),
        (
            "v2 time past 9999",
            b"upkeep reboot count v2\ncount 0\nlast_error none\ndamaged 253402300800 x\n".to_vec(),
            "damaged is after the year 9999",
        ),
    ] {
        let disk = SimDisk::default();
        let host = SimulatedHost::new(disk.clone(), base());
        disk.write("reboot-count", &bytes);
        if damage == "unreadable" {
            host.make_unreadable("reboot-count");
        }
        failing_disk(&host);
        let mut sim = Sim::boot_on(REBOOTING, host).await;
        sim.run_for(Duration::from_secs(6)).await;
        let failing = [
            ev!(
                "rm",
                3,
                "Monitor diskw detected a failure (1/1). (I/O error)"
            ),
            ev!("rm", 9, "Monitor diskw failed. (I/O error)"),
            ev!("rm", 14, "Final action of monitor diskw: StopDaemonReboot."),
            damaged_refusal("2027-01-15T08:00:00Z", reason, "monitor diskw"),
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
        assert_eq!(sim.take(), expected, "{damage}");
        assert!(
            sim.host.os_actions().is_empty(),
            "{damage}: damage never reboots"
        );
        assert!(
            disk.read("reboot-count.corrupt").is_some() || damage == "unreadable",
            "{damage}"
        );
        // The damage is on disk, so a restart cannot forget it.
        assert_eq!(
            stored(&disk),
            format!(
                "upkeep reboot count v2\ncount 0\nlast_error 1800000000\ndamaged 1800000000 {reason}; kept at reboot-count.corrupt\n"
            ),
            "{damage}"
        );
        {
            let governor = sim.engine().board().governor.borrow().clone();
            assert!(governor.damaged, "{damage}");
            assert_eq!(governor.last_error, Some(base()), "{damage}");
        }
        if !matches!(damage, "garbage" | "unreadable") {
            continue; // The window is the same whatever the damage was; once is enough.
        }
        // A quiet window after the last error lifts the refusal.
        sim.host.steady_probe(
            "diskw",
            SimProbe::Answer(upkeep_actors::host::ProbeResult::normal()),
        );
        sim.run_for(Duration::from_secs(61 * 60)).await;
        assert_eq!(
            sim.take(),
            [
                ev!("rm", 5, "Monitor diskw is normal again."),
                ev!(
                    "pm",
                    24,
                    "Reboot count was reset to 0 (was damaged): no error within the reset time."
                ),
            ],
            "{damage}"
        );
        assert!(stored(&disk).ends_with("\ndamaged none\n"), "{damage}");
        failing_disk(&sim.host);
        sim.run_for(Duration::from_secs(6)).await;
        assert_eq!(sim.host.os_actions(), [OsAction::Reboot], "{damage}");
    }
}

/// Group g1 with one sync resource whose start fails at once and reboots at the first failure
/// (the reproducer of upkeep issue 8, defects 1 and 2, in virtual time).
const FAILING_START: &str = r#"(
    name: "SSS", edition: "SSS",
    reboot_limit: (max_reboot_count: 2, reset_after: "60m"),
    groups: [(name: "g1", resources: [(name: "a", start: (program: "/sim/a-start"),
        activation: (retries: 0, final_action: StopDaemonReboot))])],
)"#;

/// Boot FAILING_START on `disk` at `at`, the start script failing once; its event lines.
async fn boot_failing_start(disk: &SimDisk, at: SystemTime) -> (Sim, Vec<String>) {
    let host = SimulatedHost::new(disk.clone(), at);
    host.script("/sim/a-start", [upkeep_actors::sim::SimRun::Exit(1)]);
    let mut sim = Sim::boot_on(FAILING_START, host).await;
    sim.run_for(Duration::from_secs(1)).await;
    let lines = sim.take();
    (sim, lines)
}

/// The lines of a boot of FAILING_START whose reboot is refused with `refusal`.
fn refused_start(refusal: String) -> Vec<String> {
    vec![
        ev!("pm", 1, "Cluster daemon has started properly..."),
        ev!("nm", 1, "Server server1 up."),
        ev!("rc", 10, "The start processing of a group g1 started."),
        ev!("rc", 30, "The start processing of a resource a started."),
        ev!("rc", 32, "Failed to start the resource a. (exit code 1)"),
        ev!(
            "rc",
            34,
            "Final action of activation failure of the resource a: StopDaemonReboot."
        ),
        ev!("rc", 12, "The start processing of a group g1 failed."),
        refusal,
    ]
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn damage_is_not_forgotten_by_a_restart_inside_the_reset_window() {
    let disk = SimDisk::default();
    disk.write("reboot-count", b"\x8f\x00 random bytes");
    let (mut sim, lines) = boot_failing_start(&disk, base()).await;
    let refusal = damaged_refusal("2027-01-15T08:00:00Z", "not UTF-8", "resource a");
    let mut expected = vec![ev!(
        "pm",
        25,
        "Reboot count could not be read (not UTF-8); kept at reboot-count.corrupt. Treated as the limit reached until the reset time passes."
    )];
    expected.extend(refused_start(refusal.clone()));
    assert_eq!(lines, expected);
    sim.stop().await;

    // Restarted 10 minutes later: still damaged (no new damage event: the file is a valid v2).
    let (mut sim, lines) = boot_failing_start(&disk, base() + Duration::from_secs(600)).await;
    assert_eq!(lines, refused_start(refusal));
    assert!(sim.host.os_actions().is_empty(), "damage never reboots");
    assert!(sim.engine().board().governor.borrow().damaged);
    sim.stop().await;

    // Restarted a full quiet window after the last refusal: the damage is forgotten at start,
    // and the reboot is granted.
    let (sim, lines) = boot_failing_start(&disk, base() + Duration::from_secs(600 + 3600)).await;
    assert_eq!(
        lines[..2],
        [
            ev!(
                "pm",
                24,
                "Reboot count was reset to 0 (was damaged): no error within the reset time."
            ),
            ev!("pm", 1, "Cluster daemon has started properly..."),
        ]
    );
    assert!(
        lines.contains(&ev!(
            "pm",
            22,
            "OS actions are simulated: would reboot now. (reboot count 1/2)"
        )),
        "{lines:#?}"
    );
    assert_eq!(sim.host.os_actions(), [OsAction::Reboot]);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_refusal_restarts_the_reset_window_across_a_restart() {
    // CFG-7: the window runs from the last error, and a refused request is one.
    let disk = SimDisk::default();
    disk.write(
        "reboot-count",
        b"upkeep reboot count v1\ncount 2\nlast_error 1800000000\n",
    );
    let limit = ev!(
        "pm",
        21,
        "Reboot count 2 has reached the maximum of 2. Final action of resource a (StopDaemonReboot) will not be executed."
    );
    let (mut sim, lines) = boot_failing_start(&disk, base() + Duration::from_secs(50 * 60)).await;
    assert_eq!(lines, refused_start(limit.clone()));
    assert_eq!(
        stored(&disk),
        "upkeep reboot count v2\ncount 2\nlast_error 1800003000\ndamaged none\n"
    );
    sim.stop().await;
    // 70 minutes after the last granted reboot, but only 20 after the refusal: still at the limit.
    let (sim, lines) = boot_failing_start(&disk, base() + Duration::from_secs(70 * 60)).await;
    assert_eq!(lines, refused_start(limit));
    assert!(sim.host.os_actions().is_empty());
    assert_eq!(sim.engine().board().governor.borrow().count, 2);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_v1_state_file_is_migrated_and_a_time_after_now_counts_from_now() {
    let disk = SimDisk::default();
    // Written by an older upkeep; its last error is in 2100 (the clock was set back since).
    disk.write(
        "reboot-count",
        b"upkeep reboot count v1\ncount 1\nlast_error 4102444800\n",
    );
    let mut sim = Sim::boot_on(
        REBOOTING,
        SimulatedHost::new(disk.clone(), base() + Duration::from_secs(60)),
    )
    .await;
    assert_eq!(
        sim.take(),
        [
            ev!("pm", 1, "Cluster daemon has started properly..."),
            ev!("nm", 1, "Server server1 up."),
            ev!("rm", 1, "Monitor diskw start."),
        ]
    );
    {
        let governor = sim.engine().board().governor.borrow().clone();
        assert_eq!(governor.count, 1);
        assert_eq!(governor.last_error, Some(base() + Duration::from_secs(60)));
        assert!(!governor.damaged);
    }
    assert_eq!(
        stored(&disk),
        "upkeep reboot count v2\ncount 1\nlast_error 1800000060\ndamaged none\n"
    );
    // The window runs from the boot, not from 2100.
    sim.run_for(Duration::from_secs(60 * 60)).await;
    assert_eq!(
        sim.take(),
        [ev!(
            "pm",
            24,
            "Reboot count was reset to 0 (was 1): no error within the reset time."
        )]
    );
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
