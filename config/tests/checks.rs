//! The monitor catalogue's configuration: custom / tcp / http checks, the disk write test, the
//! delay warning share and the procfs / sysfs roots (MON-1 plus upkeep's own checks, MAP-10,
//! MAP-20).

use std::path::{Path, PathBuf};

use upkeep_config::*;

fn parse_ok(text: &str) -> Config {
    parse(text, Path::new("/etc/upkeep/upkeep.ron")).unwrap_or_else(|e| panic!("{e}"))
}

fn errors(text: &str) -> Vec<String> {
    match parse(text, Path::new("/etc/upkeep/upkeep.ron")) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn checks_parse_with_defaults() {
    let c = parse_ok(
        r#"(
        edition: "SSS",
        groups: [(name: "g", resources: [(name: "web", start: (program: "/bin/true"))])],
        monitors: [
            (name: "script", kind: Custom(program: "checks/ok.sh", args: ["-v"], warning_exit_code: 3),
             recovery: (target: Group("g"))),
            (name: "port", kind: Tcp(host: "127.0.0.1", port: 8080), timing: WhenActive(resource: "web"),
             recovery: (target: Resource("web"))),
            (name: "health", kind: Http(url: "http://127.0.0.1:8080/health")),
            (name: "mnt", kind: Disk(path: "/var/lib", write_test: true), delay_warning_percent: 0),
        ],
    )"#,
    );
    let script = c.monitor("script").expect("script");
    assert_eq!(
        script.kind,
        MonitorKind::Custom {
            program: PathBuf::from("/etc/upkeep/checks/ok.sh"),
            args: vec!["-v".into()],
            warning_exit_code: Some(3),
        }
    );
    assert!(!script.is_hardware());
    assert_eq!(script.recovery.reactivation_threshold, 3);
    assert_eq!(script.delay_warning_percent, Some(80));
    let port = c.monitor("port").expect("port");
    assert_eq!(
        port.kind,
        MonitorKind::Tcp {
            host: "127.0.0.1".into(),
            port: 8080
        }
    );
    assert_eq!(
        port.timing,
        Timing::WhenActive {
            resource: "web".into()
        }
    );
    assert_eq!(
        c.monitor("health").expect("health").kind,
        MonitorKind::Http {
            url: "http://127.0.0.1:8080/health".into(),
            expect_status: 200
        }
    );
    let mnt = c.monitor("mnt").expect("mnt");
    assert!(matches!(
        mnt.kind,
        MonitorKind::Disk {
            write_test: true,
            ..
        }
    ));
    assert_eq!(mnt.delay_warning_percent, None);
    assert_eq!(c.paths, Paths::default());
}

#[test]
fn roots_are_settable_and_must_be_absolute() {
    let c = parse_ok(r#"(edition: "SSS", paths: (procfs: "/host/proc", sysfs: "/host/sys"))"#);
    assert_eq!(c.paths.procfs, Path::new("/host/proc"));
    assert_eq!(c.paths.sysfs, Path::new("/host/sys"));
    let c = parse_ok(r#"(edition: "SSS", paths: (sysfs: "/host/sys"))"#);
    assert_eq!(c.paths.procfs, Path::new("/proc"));
    let e = errors(r#"(edition: "SSS", paths: (procfs: "proc"))"#);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("paths.procfs: must be an absolute path"),
        "{e:?}"
    );
}

#[test]
fn check_parameters_are_range_checked() {
    let e = errors(
        r#"(
        edition: "SSS",
        monitors: [
            (name: "a", kind: Tcp(host: "db", port: 0)),
            (name: "b", kind: Tcp(port: 70000)),
            (name: "c", kind: Http(url: "https://example.invalid/")),
            (name: "d", kind: Http(url: "ftp://x/")),
            (name: "e", kind: Http(url: "http:///path", expect_status: 600)),
            (name: "f", kind: Custom(program: "/bin/check", warning_exit_code: 0)),
            (name: "g", kind: Custom()),
            (name: "h", kind: Ip(addresses: ["127.0.0.1"]), delay_warning_percent: 100),
        ],
    )"#,
    );
    let expect = [
        "monitors[0].kind.port: must be 1..=65535 (got 0)",
        "monitors[1].kind.host: missing field `host`",
        "monitors[1].kind.port: must be 1..=65535 (got 70000)",
        "monitors[2].kind.url: `https://` is not supported",
        "monitors[3].kind.url: must start with `http://`",
        "monitors[4].kind.url: must name a host",
        "monitors[4].kind.expect_status: must be 100..=599 (got 600)",
        "monitors[5].kind.warning_exit_code: must be 1..=255 (got 0)",
        "monitors[6].kind.program: missing field `program`",
        "monitors[7].delay_warning_percent: must be 0..=99 (got 100)",
    ];
    for want in expect {
        assert!(
            e.iter().any(|line| line.contains(want)),
            "no error containing {want:?} in {e:#?}"
        );
    }
    assert_eq!(e.len(), expect.len(), "{e:#?}");
}

#[test]
fn checks_are_not_hardware_so_any_target_is_allowed() {
    let c = parse_ok(
        r#"(
        edition: "SSS",
        groups: [(name: "g", resources: [(name: "web", start: (program: "/bin/true"))])],
        monitors: [(name: "h", kind: Http(url: "http://[::1]:80/"), recovery: (target: Group("g"), final_action: StopGroup))],
    )"#,
    );
    assert_eq!(
        c.monitor("h").expect("h").recovery.final_action,
        MonitorFinalAction::StopGroup
    );
}

/// Issue 10: the control socket's roles can be written in the file; a wrong entry is named
/// at its line and column.
#[test]
fn access_groups_are_read_and_checked() {
    let c = parse_ok(
        r#"(edition: "SSS", access: (operator_groups: ["upkeep"], reader_groups: ["*", "adm"]))"#,
    );
    assert_eq!(c.access.operator_groups, ["upkeep"]);
    assert_eq!(c.access.reader_groups, ["*", "adm"]);
    assert_eq!(
        parse_ok(r#"(edition: "SSS")"#).access,
        AccessGroups::default()
    );
    let e = errors(
        "(edition: \"SSS\",\n access: (operator_groups: [\"*\", \"ops team\", \"\"],\n reader_groups: [\"adm\", \"adm\"]))",
    );
    let expect = [
        "/etc/upkeep/upkeep.ron:2:29: access.operator_groups[0]: `*` (every local user) may read, never operate; put it in `reader_groups`",
        "/etc/upkeep/upkeep.ron:2:34: access.operator_groups[1]: `ops team` is not a group name: give the name of a local group, such as `\"upkeep\"`",
        "/etc/upkeep/upkeep.ron:2:46: access.operator_groups[2]: `` is not a group name: give the name of a local group, such as `\"upkeep\"`",
        "/etc/upkeep/upkeep.ron:3:25: access.reader_groups[1]: `adm` is listed twice",
    ];
    assert_eq!(e, expect);
    let e = errors(r#"(edition: "SSS", access: (operators: ["x"]))"#);
    assert_eq!(
        e,
        ["/etc/upkeep/upkeep.ron:1:27: access.operators: unknown field `operators`, expected one of `operator_groups`, `reader_groups`"]
    );
}
