//! The public API the engine and the control protocol build on: defaults (MAP-5, CFG-6/7,
//! GRP-2), path resolution (RES-9), and the error types' shape.

use std::path::{Path, PathBuf};
use std::time::Duration;

use upkeep_config::*;

const MINIMAL: &str = r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [
        (name: "app", start: (program: "bin/start.sh"), mode: Async),
        (name: "job", start: (program: "/usr/bin/job", args: ["--once"], env: {"A": "1"}), stop: (program: "stop.sh")),
    ])],
    monitors: [
        (name: "app-pid", kind: Pid(resource: "app")),
        (name: "disk", kind: Disk(path: "/dev/sda")),
        (name: "us", kind: UserSpace()),
        (name: "set", kind: MultiTarget(members: ["disk"])),
    ],
)"#;

fn minimal() -> Config {
    parse(MINIMAL, Path::new("/etc/upkeep/upkeep.ron")).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn defaults_fill_every_omitted_field() {
    let c = minimal();
    assert_eq!(c.name, "SSS");
    assert_eq!(c.os_actions, OsActions::Simulated);
    assert_eq!(
        c.reboot_limit,
        RebootLimit {
            max_reboot_count: 3,
            reset_after: Duration::from_secs(3600)
        }
    );
    assert_eq!(c.core_restart, RestartIntensity::default());
    assert_eq!(c.log, LogSettings::default());

    let g = &c.groups[0];
    assert_eq!(g.startup, Startup::Auto);
    let job = g.resource("job").expect("job");
    assert_eq!(job.mode, StartMode::Sync);
    assert_eq!(job.start_timeout, Duration::from_secs(30));
    assert_eq!(job.stop_timeout, Duration::from_secs(30));
    assert_eq!(job.kill_grace, Duration::from_secs(5));
    assert!(job.depends_on.is_empty());
    assert_eq!(
        job.activation,
        Retry {
            retries: 0,
            final_action: ActivationFinalAction::NoOpStopChain
        }
    );
    assert_eq!(
        job.deactivation,
        Retry {
            retries: 0,
            final_action: DeactivationFinalAction::StopDaemonShutdown
        }
    );

    let pid = c.monitor("app-pid").expect("pid monitor");
    assert_eq!(
        (pid.interval, pid.timeout),
        (Duration::from_secs(5), Duration::from_secs(60))
    );
    assert_eq!(pid.retries, 0);
    assert_eq!(pid.start_wait, Duration::ZERO);
    assert_eq!(pid.start_grace, Duration::ZERO);
    assert_eq!(pid.nice, 0);
    assert_eq!(
        pid.timing,
        Timing::WhenActive {
            resource: "app".into()
        }
    );
    assert_eq!(
        pid.recovery,
        Recovery {
            target: RecoveryTarget::Resource("app".into()),
            reactivation_threshold: 3,
            final_action: MonitorFinalAction::NoOp,
            backoff: Backoff::Exponential {
                first: Duration::from_secs(1),
                max: Duration::from_secs(30),
                reset_after: Duration::from_secs(60),
            },
            start_limit: StartLimit::Within {
                burst: 5,
                window: Duration::from_secs(300),
            },
        }
    );

    let disk = c.monitor("disk").expect("disk monitor");
    assert!(disk.is_hardware());
    assert_eq!(
        (disk.interval, disk.timeout),
        (Duration::from_secs(60), Duration::from_secs(120))
    );
    assert_eq!(disk.timing, Timing::Always);
    assert_eq!(
        disk.kind,
        MonitorKind::Disk {
            path: "/dev/sda".into(),
            read_size: 512,
            direct: false,
            write_test: false,
        }
    );
    assert_eq!(
        disk.recovery,
        Recovery {
            target: RecoveryTarget::Sss,
            reactivation_threshold: 0,
            final_action: MonitorFinalAction::NoOp,
            backoff: Backoff::Exponential {
                first: Duration::from_secs(1),
                max: Duration::from_secs(30),
                reset_after: Duration::from_secs(60),
            },
            start_limit: StartLimit::Within {
                burst: 5,
                window: Duration::from_secs(300),
            },
        }
    );

    let us = c.monitor("us").expect("user-space monitor");
    assert_eq!(
        (us.interval, us.timeout),
        (Duration::from_secs(3), Duration::from_secs(90))
    );
    assert_eq!(
        us.kind,
        MonitorKind::UserSpace(UserSpace {
            method: WatchdogMethod::None,
            dummy_file: None,
            dummy_thread: false
        })
    );

    let set = c.monitor("set").expect("multi-target monitor");
    assert_eq!(
        set.kind,
        MonitorKind::MultiTarget {
            members: vec!["disk".into()],
            error_threshold: None,
            warning_threshold: None
        }
    );
}

#[test]
fn relative_programs_resolve_against_the_config_folder() {
    let c = minimal();
    assert_eq!(c.base_dir, Path::new("/etc/upkeep"));
    let app = c.resource("app").expect("app");
    assert_eq!(app.start.program, Path::new("/etc/upkeep/bin/start.sh"));
    let job = c.resource("job").expect("job");
    assert_eq!(job.start.program, Path::new("/usr/bin/job"));
    assert_eq!(job.start.args, ["--once"]);
    assert_eq!(job.start.env.get("A").map(String::as_str), Some("1"));
    assert_eq!(
        job.stop.as_ref().map(|s| s.program.clone()),
        Some(PathBuf::from("/etc/upkeep/stop.sh"))
    );

    // A bare file name has no folder: resolve against the working directory's `.`.
    let c = parse(MINIMAL, Path::new("upkeep.ron")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.base_dir, Path::new("."));
}

#[test]
fn explicit_some_and_struct_names_are_accepted() {
    let text = r#"Config(
        edition: Some("SSS"),
        groups: [Group(name: "g", resources: [
            (name: "a", start: (program: "/bin/true"), stop: Some((program: "/bin/true"))),
        ])],
        monitors: [(name: "us", kind: UserSpace(dummy_file: Some((path: "/tmp/d", write_size: Some(1)))))],
    )"#;
    let c = parse(text, Path::new("upkeep.ron")).unwrap_or_else(|e| panic!("{e}"));
    assert!(c.resource("a").and_then(|r| r.stop.as_ref()).is_some());
}

#[test]
fn errors_expose_plain_fields_and_render_one_per_line() {
    let text = "(\n    edition: \"SSS\",\n    reboot_limit: (max_reboot_count: 100, reset_after: \"1000m\"),\n)";
    let errors = parse(text, Path::new("/etc/upkeep/upkeep.ron")).expect_err("two range errors");
    assert_eq!(errors.len(), 2);
    let first = &errors.errors()[0];
    assert_eq!(first.file, Path::new("/etc/upkeep/upkeep.ron"));
    assert_eq!((first.line(), first.column()), (3, 38));
    assert_eq!(first.field_path(), "reboot_limit.max_reboot_count");
    assert_eq!(first.message(), "must be 0..=99 (got 100)");
    assert_eq!(
        errors.to_string(),
        "/etc/upkeep/upkeep.ron:3:38: reboot_limit.max_reboot_count: must be 0..=99 (got 100)\n\
         /etc/upkeep/upkeep.ron:3:56: reboot_limit.reset_after: must be 0..=999 minutes (got `1000m`)"
    );
    // Usable with `?` into Box<dyn Error> and anyhow at the edges.
    let boxed: Box<dyn std::error::Error> = Box::new(errors.clone());
    assert!(boxed.to_string().contains("3:38"));
    let single: &dyn std::error::Error = first;
    assert!(single
        .to_string()
        .starts_with("/etc/upkeep/upkeep.ron:3:38: "));
}

/// Issue 9: the start grace defaults per kind (the kinds that ask the application get 10 s), and
/// `Off` turns the crash-loop policies off.
#[test]
fn start_grace_and_crash_loop_policies_default_per_kind() {
    let c = parse(
        r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [(name: "app", start: (program: "/bin/app"), mode: Async)])],
    monitors: [
        (name: "web", kind: Http(url: "http://127.0.0.1:8080/"), recovery: (target: Resource("app"))),
        (name: "port", kind: Tcp(host: "127.0.0.1", port: 8080), start_grace: "0s",
            recovery: (target: Resource("app"), backoff: Off, start_limit: Off)),
        (name: "pid", kind: Pid(resource: "app")),
    ],
)"#,
        Path::new("/etc/upkeep/upkeep.ron"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let m = |n: &str| c.monitor(n).unwrap_or_else(|| panic!("{n}"));
    assert_eq!(m("web").start_grace, Duration::from_secs(10));
    assert_eq!(m("port").start_grace, Duration::ZERO);
    assert_eq!(m("pid").start_grace, Duration::ZERO);
    assert_eq!(m("port").recovery.backoff, Backoff::Off);
    assert_eq!(m("port").recovery.start_limit, StartLimit::Off);
    assert_eq!(
        m("web").recovery.start_limit,
        StartLimit::Within {
            burst: 5,
            window: Duration::from_secs(300)
        }
    );
}
