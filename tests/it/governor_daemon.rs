//! The reboot governor's state file through the real `upkeep` binary (CFG-9, MAP-6; upkeep issue
//! 8): a damaged `reboot-count` still refuses after a daemon restart, `status` works whatever
//! time the state file holds, and a state file that cannot be written is reported and never lets
//! a reboot through. OS actions are simulated.

use std::fs;

use upkeep::control::proto::StatusReply;

use crate::real_daemon::{output, text, upkeep, Daemon};

/// A sync resource that fails at once and reboots at the first failure (the issue's reproducer).
const FAILING: &str = r#"(
    name: "SSS", edition: "SSS", os_actions: Simulated,
    groups: [(name: "g", resources: [(name: "fails", start: (program: "/bin/false"),
        activation: (retries: 0, final_action: StopDaemonReboot))])],
)"#;

/// 300 bytes of noise that is not UTF-8 (what `head -c 300 /dev/urandom` leaves, reproducibly).
fn noise() -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..300)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if i == 7 {
                0xff
            } else {
                x.to_le_bytes()[0]
            }
        })
        .collect()
}

#[test]
fn a_damaged_reboot_count_still_refuses_after_a_restart() {
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path();
    fs::create_dir(dir.join("st")).expect("state folder");
    fs::write(dir.join("st/reboot-count"), noise()).expect("noise");
    let config = dir.join("failing.ron");
    fs::write(&config, FAILING).expect("config");
    let refused = "<type: pm><event: 21> Reboot count state is damaged since ";

    let mut first = Daemon::on(dir, Some(&config), "1");
    let lines = first.wait_for_event("<type: pm><event: 21>");
    assert!(
        lines.iter().any(|l| l.starts_with(
            "<type: pm><event: 25> Reboot count could not be read (not UTF-8); kept at "
        )) && lines.iter().any(|l| l.starts_with(refused)),
        "{lines:#?}"
    );
    assert_eq!(first.terminate().code(), Some(0), "{}", first.output());
    let state = fs::read_to_string(dir.join("st/reboot-count")).expect("state file");
    assert!(
        state.starts_with("upkeep reboot count v2\n") && state.contains("\ndamaged "),
        "{state}"
    );

    // Inside the reset window the second run must refuse too, saying why.
    let mut second = Daemon::on(dir, Some(&config), "2");
    // The feed also lists the first daemon's events (from the alert log, issue 11): only the
    // ones after the second start count.
    let started = "<type: pm><event: 1> ";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let lines = loop {
        let all = second.wait_for_event(started);
        let from = all
            .iter()
            .rposition(|l| l.starts_with(started))
            .unwrap_or(0);
        let restarted = all.iter().filter(|l| l.starts_with(started)).count() == 2;
        let mine = all[from..].to_vec();
        if restarted && mine.iter().any(|l| l.contains("<event: 21>")) {
            break mine;
        }
        assert!(std::time::Instant::now() < deadline, "{all:#?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let refusals: Vec<_> = lines.iter().filter(|l| l.contains("<event: 21>")).collect();
    assert!(
        !refusals.is_empty() && refusals.iter().all(|l| l.starts_with(refused)),
        "{lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("would reboot")),
        "{lines:#?}"
    );
    assert_eq!(second.terminate().code(), Some(0), "{}", second.output());
}

#[test]
fn status_works_with_a_last_error_after_the_year_9999() {
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path();
    fs::create_dir(dir.join("st")).expect("state folder");
    fs::write(
        dir.join("st/reboot-count"),
        "upkeep reboot count v1\ncount 1\nlast_error 253402300800\n",
    )
    .expect("state file");
    let config = dir.join("empty.ron");
    fs::write(
        &config,
        "(name: \"SSS\", edition: \"SSS\", os_actions: Simulated)",
    )
    .expect("config");

    let mut daemon = Daemon::on(dir, Some(&config), "1");
    daemon.wait_for_event("<type: pm><event: 1>");
    let json = output(
        upkeep(dir)
            .args(["status", "--json", "--socket"])
            .arg(&daemon.socket),
    );
    assert!(json.status.success(), "{}", text(&json.stderr));
    let status: StatusReply = serde_json::from_slice(&json.stdout).expect("a StatusReply");
    // Such a time was not written by upkeep: the state counts as damaged.
    assert!(status.governor.damaged, "{:?}", status.governor);
    let human = output(upkeep(dir).args(["status", "--socket"]).arg(&daemon.socket));
    assert!(
        human.status.success() && text(&human.stdout).contains("DAMAGED"),
        "{}{}",
        text(&human.stdout),
        text(&human.stderr)
    );
    assert_eq!(daemon.terminate().code(), Some(0), "{}", daemon.output());
}

#[test]
fn a_state_file_that_cannot_be_written_is_reported_and_refuses() {
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path();
    // A folder where the store's temp file goes: every write of the state fails (even as root).
    fs::create_dir_all(dir.join("st/reboot-count.tmp")).expect("state folder");
    let config = dir.join("failing.ron");
    fs::write(&config, FAILING).expect("config");

    let mut daemon = Daemon::on(dir, Some(&config), "1");
    let lines = daemon.wait_for_event("<type: pm><event: 21>");
    let written: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("<event: 27>") || l.contains("<event: 21>"))
        .collect();
    assert_eq!(written.len(), 2, "{lines:#?}");
    // Seen at start, before anything needs the count; once, not for every failed write.
    assert!(
        written[0].starts_with(
            "<type: pm><event: 27> Reboot count could not be written (state file `reboot-count`: "
        ) && written[0].ends_with(". No shutdown or reboot is permitted until it is written."),
        "{lines:#?}"
    );
    assert!(
        written[1].starts_with(
            "<type: pm><event: 21> Reboot count could not be written (state file `reboot-count`: "
        ) && written[1]
            .ends_with(". Final action of resource fails (StopDaemonReboot) will not be executed."),
        "{lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("would reboot")),
        "{lines:#?}"
    );
    assert_eq!(daemon.terminate().code(), Some(0), "{}", daemon.output());
}
