//! The monitor catalogue on the real host (MON-1, HWM-7, RAID-1..4, USW-5): every probe type
//! through `LinuxHost`, the /proc/mdstat parser over real layouts (fixtures and their sources in
//! tests/fixtures/mdstat/SOURCES.md), a disk read that hangs forever, and the softdog keep-alive
//! protocol against a fake device file.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use upkeep::host::probe::mdstat;
use upkeep::host::LinuxHost;
use upkeep_actors::host::{ProbeResult, Probes, Verdict, Watchdogs};
use upkeep_config::{
    DummyFile, Monitor, MonitorFinalAction, MonitorKind, OsActions, Recovery, RecoveryTarget,
    Timing, UserSpace, WatchdogMethod,
};

pub(crate) fn monitor(name: &str, kind: MonitorKind, timeout: Duration) -> Monitor {
    Monitor {
        name: name.into(),
        kind,
        interval: Duration::from_secs(60),
        timeout,
        retries: 0,
        start_wait: Duration::ZERO,
        start_grace: Duration::ZERO,
        timing: Timing::Always,
        nice: 0,
        recovery: Recovery {
            target: RecoveryTarget::Sss,
            reactivation_threshold: 0,
            final_action: MonitorFinalAction::NoOp,
            backoff: upkeep_config::Backoff::Off,
            start_limit: upkeep_config::StartLimit::Off,
        },
        delay_warning_percent: Some(80),
    }
}

pub(crate) fn host(dir: &Path) -> LinuxHost {
    LinuxHost::new(OsActions::Simulated, dir.join("state")).expect("host")
}

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mdstat")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The soft RAID verdict for `device` with `fixture` as /proc/mdstat.
async fn raid(fixture_name: &str, device: &str) -> ProbeResult {
    let dir = tempfile::tempdir().expect("tempdir");
    let proc_dir = dir.path().join("proc");
    std::fs::create_dir_all(&proc_dir).expect("proc");
    std::fs::write(proc_dir.join("mdstat"), fixture(fixture_name)).expect("mdstat");
    let host = host(dir.path()).with_roots(proc_dir, dir.path().join("sys"));
    let m = monitor(
        "lmdw",
        MonitorKind::SoftRaid {
            device: device.into(),
        },
        Duration::from_secs(10),
    );
    host.probe(&m).await
}

fn expect(result: &ProbeResult, verdict: Verdict, code: i32, message: &str) {
    assert_eq!(
        (result.verdict, result.code, result.message.as_str()),
        (verdict, code, message),
        "{result:?}"
    );
}

#[tokio::test]
async fn soft_raid_verdicts_over_real_mdstat_layouts() {
    use Verdict::*;
    let ok = "Success.";
    let cases: &[(&str, &str, Verdict, i32, &str)] = &[
        ("raid1-raid5-healthy.txt", "/dev/md2", Normal, 0, ok),
        (
            "raid1-recovery-linux-raid-2003.txt",
            "md0",
            Warning,
            100,
            "soft_raid: Device=(md0): Soft RAID is in recovery progress(recovery =  6.6%).",
        ),
        ("raid1-raid5-healthy.txt", "md0", Normal, 0, ok),
        (
            "raid1-failed-members.txt",
            "/dev/md3",
            Warning,
            101,
            "soft_raid: Device=(/dev/md3): Bad disks(sdb1) are detected in Soft RAID.",
        ),
        (
            "raid1-recovery.txt",
            "/dev/md1",
            Warning,
            100,
            "soft_raid: Device=(/dev/md1): Soft RAID is in recovery progress(recovery =  8.1%).",
        ),
        (
            "raid1-recovery.txt",
            "/dev/md4",
            Warning,
            101,
            "soft_raid: Device=(/dev/md4): Bad disks(sdb4) are detected in Soft RAID.",
        ),
        (
            "raid1-recovery-delayed.txt",
            "/dev/md0",
            Warning,
            100,
            "soft_raid: Device=(/dev/md0): Soft RAID is in recovery progress(recovery =  7.8%).",
        ),
        (
            "raid1-recovery-delayed.txt",
            "/dev/md1",
            Warning,
            100,
            "soft_raid: Device=(/dev/md1): Soft RAID is in recovery progress(resync=DELAYED).",
        ),
        (
            "raid1-resync.txt",
            "/dev/md0",
            Warning,
            100,
            "soft_raid: Device=(/dev/md0): Soft RAID is in recovery progress(resync = 92.4%).",
        ),
        (
            "raid5-degraded-multi.txt",
            "/dev/md2",
            Warning,
            101,
            "soft_raid: Device=(/dev/md2): Bad disks(slot 0) are detected in Soft RAID.",
        ),
        ("raid5-degraded-multi.txt", "/dev/md1", Normal, 0, ok),
        (
            "raid5-faulty.txt",
            "/dev/md0",
            Warning,
            101,
            "soft_raid: Device=(/dev/md0): Bad disks(sdd1) are detected in Soft RAID.",
        ),
        (
            "raid5-recovery-spare.txt",
            "/dev/md0",
            Warning,
            100,
            "soft_raid: Device=(/dev/md0): Soft RAID is in recovery progress(recovery =  1.8%).",
        ),
        ("raid6-healthy-bitmap.txt", "/dev/md0", Normal, 0, ok),
        (
            "raid6-resync.txt",
            "/dev/md0",
            Warning,
            100,
            "soft_raid: Device=(/dev/md0): Soft RAID is in recovery progress(resync = 35.0%).",
        ),
        // A scheduled scrub of a healthy array is maintenance, not a warning.
        ("raid6-check.txt", "/dev/md2", Normal, 0, ok),
        ("raid10-healthy.txt", "/dev/md1", Normal, 0, ok),
        (
            "raid10-failed-spare-took-over.txt",
            "/dev/md0",
            Warning,
            101,
            "soft_raid: Device=(/dev/md0): Bad disks(sdb) are detected in Soft RAID.",
        ),
        ("inactive-imsm-container.txt", "/dev/md126", Normal, 0, ok),
        (
            "inactive-imsm-container.txt",
            "/dev/md127",
            Error,
            3,
            "soft_raid: Device=(/dev/md127): Soft RAID is abnormal.",
        ),
        (
            "inactive-all-spares.txt",
            "/dev/md127",
            Error,
            3,
            "soft_raid: Device=(/dev/md127): Soft RAID is abnormal.",
        ),
        (
            "mixed-degraded-inactive.txt",
            "/dev/md126",
            Warning,
            101,
            "soft_raid: Device=(/dev/md126): Bad disks(sdc1) are detected in Soft RAID.",
        ),
        (
            "mixed-degraded-inactive.txt",
            "/dev/md127",
            Error,
            3,
            "soft_raid: Device=(/dev/md127): Soft RAID is abnormal.",
        ),
        (
            "no-arrays.txt",
            "/dev/md0",
            Error,
            5,
            "soft_raid: Options or parameters are invalid.",
        ),
        (
            "raid10-healthy.txt",
            "/dev/md9",
            Error,
            5,
            "soft_raid: Options or parameters are invalid.",
        ),
    ];
    for (file, device, verdict, code, message) in cases {
        let result = raid(file, device).await;
        assert_eq!(
            (result.verdict, result.code, result.message.as_str()),
            (*verdict, *code, *message),
            "{file} {device}"
        );
    }
}

#[tokio::test]
async fn soft_raid_without_the_md_module_is_return_4() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path()).with_roots(dir.path().join("proc"), dir.path().join("sys"));
    let m = monitor(
        "lmdw",
        MonitorKind::SoftRaid {
            device: "/dev/md0".into(),
        },
        Duration::from_secs(10),
    );
    let r = host.probe(&m).await;
    assert_eq!((r.verdict, r.code), (Verdict::Error, 4), "{r:?}");
    assert!(
        r.message
            .starts_with("soft_raid: Soft RAID module is abnormal.(err="),
        "{r:?}"
    );
}

#[test]
fn mdstat_parser_reads_members_slots_and_progress() {
    let arrays = mdstat::parse(&fixture("mixed-degraded-inactive.txt"));
    assert_eq!(arrays.len(), 2);
    let md126 = &arrays[0];
    assert_eq!(md126.name, "md126");
    assert!(md126.active);
    assert_eq!(md126.level.as_deref(), Some("raid5"));
    assert_eq!(md126.members.len(), 4);
    assert!(md126.members[1].faulty && md126.members[2].spare);
    assert_eq!(md126.slots, Some((3, 2)));
    assert_eq!(md126.missing_slots(), vec![1]);
    let md127 = &arrays[1];
    assert!(!md127.active);
    assert_eq!(md127.level, None);

    let arrays = mdstat::parse(&fixture("raid1-recovery.txt"));
    let md1 = arrays.iter().find(|a| a.name == "md1").expect("md1");
    let sync = md1.sync.as_ref().expect("progress");
    assert_eq!(sync.action, "recovery");
    assert_eq!(sync.percent, Some(8.1));
    assert_eq!(arrays.len(), 4);
}

#[test]
fn mdstat_parser_survives_noise() {
    let noise = [
        "",
        "md",
        "md0 :",
        "md0 : active",
        "md0 : active raid1 [",
        "md0 : active raid1 x[]",
        "    [=>..]  recovery = ",
        "[/] [__]",
        "md0 : active raid1 a[0]\n [99999999999/1] [U]\n resync=",
        "\u{0}\u{ffff}md0 : inactive\n\n\n",
        "md0 : active raid1 sda[0](F)(S)(W)\n [2/0] [__]",
    ];
    for text in noise {
        let _ = mdstat::parse(text);
    }
    // Every byte-prefix of a real file parses without panicking.
    let real = fixture("raid6-check.txt");
    for end in 0..real.len() {
        if real.is_char_boundary(end) {
            let _ = mdstat::parse(&real[..end]);
        }
    }
}

#[tokio::test]
async fn disk_reads_a_file_and_reports_a_missing_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("data");
    std::fs::write(&file, vec![7u8; 4096]).expect("data");
    let host = host(dir.path());
    let kind = |path: PathBuf, direct| MonitorKind::Disk {
        path,
        read_size: 512,
        direct,
        write_test: false,
    };
    let r = host
        .probe(&monitor(
            "d",
            kind(file.clone(), false),
            Duration::from_secs(5),
        ))
        .await;
    expect(&r, Verdict::Normal, 0, "Success.");
    let r = host
        .probe(&monitor(
            "d2",
            kind(dir.path().join("missing"), false),
            Duration::from_secs(5),
        ))
        .await;
    assert_eq!((r.verdict, r.code), (Verdict::Error, 5), "{r:?}");
    // /dev/vda-like devices may be absent in CI; a loop-free check of O_DIRECT on the temp
    // file: either it works or the file system says it cannot, never a hang or a panic.
    let r = host
        .probe(&monitor("d3", kind(file, true), Duration::from_secs(5)))
        .await;
    assert!(r.verdict == Verdict::Normal || r.code == 5, "{r:?}");
}

#[tokio::test]
async fn disk_write_test_writes_reads_back_and_cleans_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mount = dir.path().join("mnt");
    std::fs::create_dir_all(&mount).expect("mnt");
    let host = host(dir.path());
    let m = monitor(
        "mnt",
        MonitorKind::Disk {
            path: mount.clone(),
            read_size: 4096,
            direct: false,
            write_test: true,
        },
        Duration::from_secs(5),
    );
    let r = host.probe(&m).await;
    expect(&r, Verdict::Normal, 0, "Success.");
    assert_eq!(
        std::fs::read_dir(&mount).expect("ls").count(),
        0,
        "test file left behind"
    );
    let m = monitor(
        "gone",
        MonitorKind::Disk {
            path: dir.path().join("nope"),
            read_size: 512,
            direct: false,
            write_test: true,
        },
        Duration::from_secs(5),
    );
    assert_eq!(host.probe(&m).await.verdict, Verdict::Error);
}

/// A FIFO without a writer blocks open(2) forever: the probe must time out on schedule, leave
/// the runtime free, and report the stuck thread on the next check instead of stacking another.
#[tokio::test(flavor = "current_thread")]
async fn disk_probe_on_a_fifo_times_out_on_schedule() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let host = host(dir.path());
    let m = monitor(
        "hang",
        MonitorKind::Disk {
            path: fifo.clone(),
            read_size: 512,
            direct: false,
            write_test: false,
        },
        Duration::from_secs(2),
    );
    // On a single-threaded runtime, a ticker proves the probe does not block the worker.
    let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let t = ticks.clone();
    let ticker = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            t.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let started = Instant::now();
    let r = host.probe(&m).await;
    let took = started.elapsed();
    assert_eq!((r.verdict, r.code), (Verdict::Error, 2), "{r:?}");
    assert!(r.message.contains("no answer within 1.8s"), "{r:?}");
    assert!(
        took >= Duration::from_millis(1700) && took < Duration::from_millis(2500),
        "took {took:?}"
    );
    assert!(
        ticks.load(std::sync::atomic::Ordering::Relaxed) >= 15,
        "runtime was blocked"
    );
    eprintln!("fifo hang probe returned after {took:?}");

    let started = Instant::now();
    let r = host.probe(&m).await;
    assert!(started.elapsed() < Duration::from_millis(200));
    assert!(r.message.contains("still blocked"), "{r:?}");
    ticker.abort();
    // Let the abandoned thread go: a writer opening the FIFO unblocks its open(2).
    let _w = std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .expect("open writer");
}

#[tokio::test]
async fn custom_exit_codes_map_to_verdicts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path());
    let run = |script: &str, warn: Option<i32>, nice: i32| {
        let mut m = monitor(
            "c",
            MonitorKind::Custom {
                program: "/bin/sh".into(),
                args: vec!["-c".into(), script.into()],
                warning_exit_code: warn,
            },
            Duration::from_secs(3),
        );
        m.nice = nice;
        m
    };
    let r = host.probe(&run("exit 0", None, 0)).await;
    expect(&r, Verdict::Normal, 0, "Success.");
    let r = host
        .probe(&run("echo disk 91% full; exit 3", Some(3), 0))
        .await;
    expect(
        &r,
        Verdict::Warning,
        3,
        "/bin/sh exited with 3: disk 91% full",
    );
    let r = host
        .probe(&run("echo broken >&2; exit 2", Some(3), 0))
        .await;
    expect(&r, Verdict::Error, 2, "/bin/sh exited with 2: broken");
    // MON-9: the program runs at the monitor's nice value.
    let r = host
        .probe(&run("echo $(cut -d' ' -f19 /proc/self/stat)", None, 7))
        .await;
    expect(&r, Verdict::Normal, 0, "7");
    let started = Instant::now();
    let r = host.probe(&run("sleep 30", None, 0)).await;
    assert_eq!((r.verdict, r.code), (Verdict::Error, 2), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(4));
    let mut missing = run("", None, 0);
    missing.kind = MonitorKind::Custom {
        program: dir.path().join("nope"),
        args: vec![],
        warning_exit_code: None,
    };
    assert_eq!(host.probe(&missing).await.code, 5);
}

#[tokio::test]
async fn tcp_and_http_follow_a_local_listener_that_stops() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path());
    // A loopback address of its own: once the listener stops, no other test's listener on
    // 127.0.0.1 can take the freed port and answer the probes that must now fail.
    let listener = tokio::net::TcpListener::bind("127.0.0.73:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let answer = if req.starts_with("GET /health ") {
                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                } else {
                    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
                };
                let _ = s.write_all(answer.as_bytes()).await;
            });
        }
    });
    let tcp = monitor(
        "tcp",
        MonitorKind::Tcp {
            host: "127.0.0.73".into(),
            port,
        },
        Duration::from_secs(5),
    );
    let http = |path: &str, expect_status| {
        monitor(
            "http",
            MonitorKind::Http {
                url: format!("http://127.0.0.73:{port}{path}"),
                expect_status,
            },
            Duration::from_secs(5),
        )
    };
    let started = Instant::now();
    expect(&host.probe(&tcp).await, Verdict::Normal, 0, "Success.");
    eprintln!("tcp probe on loopback took {:?}", started.elapsed());
    let started = Instant::now();
    expect(
        &host.probe(&http("/health", 200)).await,
        Verdict::Normal,
        0,
        "Success.",
    );
    eprintln!("http probe on loopback took {:?}", started.elapsed());
    let r = host.probe(&http("/other", 200)).await;
    expect(
        &r,
        Verdict::Error,
        1,
        &format!("GET http://127.0.0.73:{port}/other answered 503, expected 200"),
    );
    expect(
        &host.probe(&http("/other", 503)).await,
        Verdict::Normal,
        0,
        "Success.",
    );

    server.abort();
    let _ = server.await;
    // With many tests at once the listener's socket may take a moment to be gone from the
    // kernel's tables: the probe must follow it within a second.
    let mut r = host.probe(&tcp).await;
    for _ in 0..20 {
        if r.verdict == Verdict::Error {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        r = host.probe(&tcp).await;
    }
    assert_eq!((r.verdict, r.code), (Verdict::Error, 1), "{r:?}");
    assert!(
        r.message.contains("Connection refused") || r.message.contains("refused"),
        "{r:?}"
    );
    let r = host.probe(&http("/health", 200)).await;
    assert_eq!((r.verdict, r.code), (Verdict::Error, 1), "{r:?}");
}

#[tokio::test]
async fn nic_link_reads_sysfs_under_the_configured_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sys = dir.path().join("sys");
    let eth = sys.join("class/net/eth9");
    std::fs::create_dir_all(&eth).expect("sysfs");
    let host = host(dir.path()).with_roots(dir.path().join("proc"), sys);
    let m = monitor(
        "link",
        MonitorKind::NicLink {
            interface: "eth9".into(),
        },
        Duration::from_secs(5),
    );
    std::fs::write(eth.join("operstate"), "up\n").expect("w");
    std::fs::write(eth.join("carrier"), "1\n").expect("w");
    expect(&host.probe(&m).await, Verdict::Normal, 0, "Success.");
    std::fs::write(eth.join("operstate"), "down\n").expect("w");
    std::fs::write(eth.join("carrier"), "0\n").expect("w");
    expect(
        &host.probe(&m).await,
        Verdict::Error,
        1,
        "link of eth9 is down (operstate down, no carrier)",
    );
    let m = monitor(
        "link",
        MonitorKind::NicLink {
            interface: "eth8".into(),
        },
        Duration::from_secs(5),
    );
    expect(
        &host.probe(&m).await,
        Verdict::Error,
        5,
        "interface eth8 does not exist",
    );
    // The real loopback: operstate `unknown`, carrier 1.
    let real = LinuxHost::new(OsActions::Simulated, dir.path().join("s2")).expect("host");
    let lo = monitor(
        "lo",
        MonitorKind::NicLink {
            interface: "lo".into(),
        },
        Duration::from_secs(5),
    );
    expect(&real.probe(&lo).await, Verdict::Normal, 0, "Success.");
}

#[tokio::test]
async fn ip_answers_on_loopback() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path());
    let m = monitor(
        "ping",
        MonitorKind::Ip {
            addresses: vec!["127.0.0.1".into(), "::1".into()],
        },
        Duration::from_secs(5),
    );
    let started = Instant::now();
    expect(&host.probe(&m).await, Verdict::Normal, 0, "Success.");
    eprintln!("ip probe on loopback took {:?}", started.elapsed());
}

#[tokio::test]
async fn softdog_keep_alive_protocol_against_a_fake_device() {
    let dir = tempfile::tempdir().expect("tempdir");
    let device = dir.path().join("watchdog");
    std::fs::write(&device, b"").expect("fake device");
    let host = host(dir.path()).with_watchdog_device(device.clone());
    let wd = host
        .open_watchdog(WatchdogMethod::Softdog, Duration::from_secs(30))
        .expect("a plain file is accepted in test mode (ENOTTY reported, not fatal)");
    wd.feed().expect("feed");
    wd.feed().expect("feed");
    wd.feed().expect("feed");
    wd.close().expect("close");
    assert_eq!(std::fs::read(&device).expect("read"), b"\0\0\0V");
    assert!(wd.feed().is_err(), "a closed watchdog cannot be fed");
    // Not a device and not explicitly configured: a FIFO-less missing path is an error.
    let missing = upkeep::host::LinuxHost::new(OsActions::Simulated, dir.path().join("s2"))
        .expect("host")
        .with_watchdog_device(dir.path().join("missing"));
    assert!(missing
        .open_watchdog(WatchdogMethod::Softdog, Duration::from_secs(30))
        .is_err());
}

#[tokio::test(start_paused = true)]
async fn simulated_watchdog_says_would_reset_when_not_fed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path());
    let before = upkeep::host::watchdog::simulated_resets();
    let wd = host
        .open_watchdog(WatchdogMethod::Softdog, Duration::from_secs(10))
        .expect("simulated");
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(5)).await;
        wd.feed().expect("feed");
    }
    assert_eq!(upkeep::host::watchdog::simulated_resets(), before);
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(upkeep::host::watchdog::simulated_resets(), before + 1);
    wd.close().expect("close");
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(upkeep::host::watchdog::simulated_resets(), before + 1);
    assert!(host
        .open_watchdog(WatchdogMethod::Ipmi, Duration::from_secs(300))
        .is_err());
}

#[tokio::test]
async fn userspace_cycle_touches_the_dummy_file_and_thread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path());
    let file = dir.path().join("dummy");
    let spec = UserSpace {
        method: WatchdogMethod::None,
        dummy_file: Some(DummyFile {
            path: file.clone(),
            write_size: Some(1000),
        }),
        dummy_thread: true,
    };
    host.userspace_check(&spec).await.expect("cycle");
    assert_eq!(std::fs::metadata(&file).expect("dummy").len(), 1000);
    let bad = UserSpace {
        dummy_file: Some(DummyFile {
            path: dir.path().join("no/such/dir/f"),
            write_size: None,
        }),
        ..spec
    };
    let e = host
        .userspace_check(&bad)
        .await
        .expect_err("missing folder");
    assert!(e.contains("cannot open the dummy file"), "{e}");
}
