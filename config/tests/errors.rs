//! One case per configuration rule: the exact text a user sees, position and field path
//! included (STYLE-ANCHORS item 10). Covers GEN-3, CFG-6..8, RES-1..11, MON-1..13, HWM-2..6,
//! USW-2..6, RAID-1, MTM-1 and the format decisions of MAP-4, MAP-8, MAP-10.

use std::path::Path;

struct Case {
    /// Test name, then the spec ID (or topic) of the rule.
    name: &'static str,
    rule: &'static str,
    text: &'static str,
    /// Rendered errors, in order; empty = the text must parse.
    expected: &'static [&'static str],
}

/// Stands for a 1024-byte soft RAID device name, one byte past RAID-1's limit.
const LONG: &str = "LONG_DEVICE_NAME";

const CASES: &[Case] = &[
    Case {
        name: "edition_missing",
        rule: "GEN-3",
        text: r#"(
    name: "SSS",
)
"#,
        expected: &[r#"upkeep.ron:1:1: edition: missing field `edition`; write `edition: "SSS"`"#],
    },
    Case {
        name: "edition_wrong",
        rule: "GEN-3",
        text: r#"(
    edition: "CLUSTER",
)
"#,
        expected: &[r#"upkeep.ron:2:14: edition: must be `SSS` (got `CLUSTER`)"#],
    },
    Case {
        name: "sss_name_bad",
        rule: "names",
        text: r#"(
    name: "my server",
    edition: "SSS",
)
"#,
        expected: &[
            r#"upkeep.ron:2:11: name: `my server` contains ' '; names may only use ASCII letters, digits, `_`, `.` and `-`"#,
        ],
    },
    Case {
        name: "reboot_count_range",
        rule: "CFG-6",
        text: r#"(
    edition: "SSS",
    reboot_limit: (max_reboot_count: 100, reset_after: "60m"),
)
"#,
        expected: &[r#"upkeep.ron:3:38: reboot_limit.max_reboot_count: must be 0..=99 (got 100)"#],
    },
    Case {
        name: "reboot_count_negative",
        rule: "CFG-6",
        text: r#"(
    edition: "SSS",
    reboot_limit: (max_reboot_count: -1),
)
"#,
        expected: &[r#"upkeep.ron:3:38: reboot_limit.max_reboot_count: must be 0..=99 (got -1)"#],
    },
    Case {
        name: "reset_after_range",
        rule: "CFG-7",
        text: r#"(
    edition: "SSS",
    reboot_limit: (max_reboot_count: 3, reset_after: "1000m"),
)
"#,
        expected: &[
            r#"upkeep.ron:3:54: reboot_limit.reset_after: must be 0..=999 minutes (got `1000m`)"#,
        ],
    },
    Case {
        name: "reset_after_whole_minutes",
        rule: "CFG-7",
        text: r#"(
    edition: "SSS",
    reboot_limit: (max_reboot_count: 3, reset_after: "90s"),
)
"#,
        expected: &[
            r#"upkeep.ron:3:54: reboot_limit.reset_after: must be a whole number of minutes (got `90s`)"#,
        ],
    },
    Case {
        name: "cfg8_reset_zero",
        rule: "CFG-8",
        text: r#"(
    edition: "SSS",
    reboot_limit: (max_reboot_count: 1, reset_after: "0m"),
)
"#,
        expected: &[
            r#"upkeep.ron:3:54: reboot_limit.reset_after: must be at least 1 minute when `max_reboot_count` is 1 (got 0)"#,
        ],
    },
    Case {
        name: "cfg8_zero_count_zero_reset_ok",
        rule: "CFG-8",
        text: r#"(
    edition: "SSS",
    reboot_limit: (max_reboot_count: 0, reset_after: "0m"),
)
"#,
        expected: &[],
    },
    Case {
        name: "activation_retries",
        rule: "RES-3",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [
        (name: "a", start: (program: "/bin/true")),
        (name: "b", start: (program: "/bin/true"), activation: (retries: 120)),
    ])],
)
"#,
        expected: &[
            r#"upkeep.ron:5:74: groups[0].resources[1].activation.retries: must be 0..=99 (got 120)"#,
        ],
    },
    Case {
        name: "deactivation_retries",
        rule: "RES-10",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [
        (name: "a", start: (program: "/bin/true"), deactivation: (retries: 100, final_action: StopDaemonReboot)),
    ])],
)
"#,
        expected: &[
            r#"upkeep.ron:4:76: groups[0].resources[0].deactivation.retries: must be 0..=99 (got 100)"#,
        ],
    },
    Case {
        name: "start_timeout_zero",
        rule: "MAP-8",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [
        (name: "a", start: (program: "/bin/true"), start_timeout: "0s", stop_timeout: "2days"),
    ])],
)
"#,
        expected: &[
            r#"upkeep.ron:4:67: groups[0].resources[0].start_timeout: must be greater than 0 (got `0s`)"#,
            r#"upkeep.ron:4:87: groups[0].resources[0].stop_timeout: must be at most 24h (got `2days`)"#,
        ],
    },
    Case {
        name: "script_timeouts_any_positive_ok",
        rule: "MAP-8",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [
        (name: "a", start: (program: "/bin/true"), start_timeout: "1500ms", stop_timeout: "2.5s", kill_grace: "0s"),
    ])],
)
"#,
        expected: &[],
    },
    Case {
        name: "duration_needs_unit",
        rule: "MAP-4",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [
        (name: "a", start: (program: "/bin/true"), start_timeout: 30),
    ])],
)
"#,
        expected: &[
            r#"upkeep.ron:4:67: groups[0].resources[0].start_timeout: a duration needs a unit: write `"30s"` (got `30`)"#,
        ],
    },
    Case {
        name: "exec_context_ok",
        rule: "issue 9 §2",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [
        (name: "a", start: (program: "/bin/true"), user: "nobody", group: "nogroup", working_dir: "/srv", umask: 0o027, inherit_env: true),
    ])],
)
"#,
        expected: &[],
    },
    Case {
        name: "exec_context_bad",
        rule: "issue 9 §2",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [
        (name: "a", start: (program: "/bin/true"), user: "", group: "web admins", working_dir: "srv", umask: 0o1777),
    ])],
)
"#,
        expected: &[
            r#"upkeep.ron:4:58: groups[0].resources[0].user: must not be empty; leave the field out to keep the daemon's"#,
            r#"upkeep.ron:4:69: groups[0].resources[0].group: `web admins` is no group name"#,
            r#"upkeep.ron:4:96: groups[0].resources[0].working_dir: must be an absolute path (got `srv`)"#,
            r#"upkeep.ron:4:110: groups[0].resources[0].umask: must be 0o000..=0o777 (got 0o1777); write e.g. `umask: 0o027`"#,
        ],
    },
    Case {
        name: "exec_context_typo",
        rule: "issue 9 §2",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [
        (name: "a", start: (program: "/bin/true"), working_dri: "/srv"),
    ])],
)
"#,
        expected: &[
            r#"upkeep.ron:4:52: groups[0].resources[0].working_dri: unknown field `working_dri`, expected one of `name`, `start`, `stop`, `mode`, `start_timeout`, `stop_timeout`, `kill_grace`, `depends_on`, `activation`, `deactivation`, `user`, `group`, `working_dir`, `umask`, `inherit_env`; did you mean `working_dir`?"#,
        ],
    },
    Case {
        name: "duration_unknown_unit",
        rule: "MAP-4",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [
        (name: "a", start: (program: "/bin/true"), kill_grace: "5x"),
    ])],
)
"#,
        expected: &[
            r#"upkeep.ron:4:64: groups[0].resources[0].kill_grace: invalid duration `5x`: unknown unit `x`; write e.g. `"5s"`, `"2m"` or `"1h 30m"`"#,
        ],
    },
    Case {
        name: "missing_start",
        rule: "RES-7",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [
        (name: "a"),
    ])],
)
"#,
        expected: &[
            r#"upkeep.ron:4:9: groups[0].resources[0].start: missing field `start`; write e.g. `start: (program: "/usr/bin/app")`"#,
        ],
    },
    Case {
        name: "program_empty",
        rule: "RES-8",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [
        (name: "a", start: (program: ""), stop: (args: ["x"])),
    ])],
)
"#,
        expected: &[
            r#"upkeep.ron:4:38: groups[0].resources[0].start.program: must not be empty"#,
            r#"upkeep.ron:4:49: groups[0].resources[0].stop.program: missing field `program`"#,
        ],
    },
    Case {
        name: "env_bad_key",
        rule: "MAP-8",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [
        (name: "a", start: (program: "/bin/true", env: {"1X": "v", "UPKEEP_GROUP": "x"})),
    ])],
)
"#,
        expected: &[
            r#"upkeep.ron:4:63: groups[0].resources[0].start.env["1X"]: `1X` is not a valid environment variable name (letters, digits and `_`, not starting with a digit)"#,
            r#"upkeep.ron:4:84: groups[0].resources[0].start.env["UPKEEP_GROUP"]: `UPKEEP_GROUP` is reserved: upkeep sets the `UPKEEP_*` variables itself"#,
        ],
    },
    Case {
        name: "name_empty",
        rule: "names",
        text: r#"(
    edition: "SSS",
    groups: [(name: "", resources: [])],
)
"#,
        expected: &[r#"upkeep.ron:3:21: groups[0].name: must not be empty"#],
    },
    Case {
        name: "name_missing",
        rule: "names",
        text: r#"(
    edition: "SSS",
    groups: [(resources: [])],
)
"#,
        expected: &[r#"upkeep.ron:3:14: groups[0].name: missing field `name`"#],
    },
    Case {
        name: "name_bad_chars",
        rule: "names",
        text: r#"(
    edition: "SSS",
    groups: [(name: "web/app", resources: [])],
)
"#,
        expected: &[
            r#"upkeep.ron:3:21: groups[0].name: `web/app` contains '/'; names may only use ASCII letters, digits, `_`, `.` and `-`"#,
        ],
    },
    Case {
        name: "name_dotdot",
        rule: "names",
        text: r#"(
    edition: "SSS",
    groups: [(name: "..", resources: [])],
)
"#,
        expected: &[r#"upkeep.ron:3:21: groups[0].name: `..` is not a usable name"#],
    },
    Case {
        name: "duplicate_group",
        rule: "names",
        text: r#"(
    edition: "SSS",
    groups: [
        (name: "web"),
        (name: "web"),
    ],
)
"#,
        expected: &[r#"upkeep.ron:5:16: groups[1].name: group `web` is already defined at 4:16"#],
    },
    Case {
        name: "duplicate_resource_across_groups",
        rule: "names",
        text: r#"(
    edition: "SSS",
    groups: [
        (name: "g1", resources: [(name: "a", start: (program: "/bin/true"))]),
        (name: "g2", resources: [(name: "a", start: (program: "/bin/true"))]),
    ],
)
"#,
        expected: &[
            r#"upkeep.ron:5:41: groups[1].resources[0].name: resource `a` is already defined at 4:41"#,
        ],
    },
    Case {
        name: "duplicate_monitor",
        rule: "names",
        text: r#"(
    edition: "SSS",
    monitors: [
        (name: "m", kind: Ip(addresses: ["127.0.0.1"])),
        (name: "m", kind: Ip(addresses: ["127.0.0.1"])),
    ],
)
"#,
        expected: &[r#"upkeep.ron:5:16: monitors[1].name: monitor `m` is already defined at 4:16"#],
    },
    Case {
        name: "depends_on_other_group",
        rule: "RES-1",
        text: r#"(
    edition: "SSS",
    groups: [
        (name: "g1", resources: [(name: "a", start: (program: "/bin/true"))]),
        (name: "g2", resources: [(name: "b", start: (program: "/bin/true"), depends_on: ["a"])]),
    ],
)
"#,
        expected: &[
            r#"upkeep.ron:5:90: groups[1].resources[0].depends_on[0]: resource `a` is in group `g1`; `depends_on` must name a resource of the same group"#,
        ],
    },
    Case {
        name: "depends_on_typo",
        rule: "RES-1",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [
        (name: "web", start: (program: "/bin/true")),
        (name: "db", start: (program: "/bin/true"), depends_on: ["wbe"]),
    ])],
)
"#,
        expected: &[
            r#"upkeep.ron:5:66: groups[0].resources[1].depends_on[0]: resource `wbe` does not exist in this group; did you mean `web`?"#,
        ],
    },
    Case {
        name: "depends_on_self",
        rule: "RES-1",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [
        (name: "a", start: (program: "/bin/true"), depends_on: ["a"]),
    ])],
)
"#,
        expected: &[
            r#"upkeep.ron:4:65: groups[0].resources[0].depends_on[0]: resource `a` cannot depend on itself"#,
        ],
    },
    Case {
        name: "depends_on_cycle",
        rule: "RES-1",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [
        (name: "a", start: (program: "/bin/true"), depends_on: ["b"]),
        (name: "b", start: (program: "/bin/true"), depends_on: ["c"]),
        (name: "c", start: (program: "/bin/true"), depends_on: ["a"]),
    ])],
)
"#,
        expected: &[
            r#"upkeep.ron:4:65: groups[0].resources[0].depends_on[0]: dependency cycle: a -> b -> c -> a"#,
        ],
    },
    Case {
        name: "depends_on_twice",
        rule: "RES-1",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [
        (name: "a", start: (program: "/bin/true")),
        (name: "b", start: (program: "/bin/true"), depends_on: ["a", "a"]),
    ])],
)
"#,
        expected: &[
            r#"upkeep.ron:5:70: groups[0].resources[1].depends_on[1]: `a` is listed more than once"#,
        ],
    },
    Case {
        name: "pid_unknown_resource",
        rule: "MON-10",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [(name: "web", start: (program: "/bin/true"), mode: Async)])],
    monitors: [(name: "m", kind: Pid(resource: "wbe"))],
)
"#,
        expected: &[
            r#"upkeep.ron:4:48: monitors[0].kind.resource: resource `wbe` does not exist; did you mean `web`?"#,
        ],
    },
    Case {
        name: "pid_sync_resource",
        rule: "MON-10, RES-11",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [(name: "web", start: (program: "/bin/true"))])],
    monitors: [(name: "m", kind: Pid(resource: "web"))],
)
"#,
        expected: &[
            r#"upkeep.ron:4:48: monitors[0].kind.resource: resource `web` must have `mode: Async` to be watched by a pid monitor"#,
        ],
    },
    Case {
        name: "pid_timing_always",
        rule: "MON-10",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [(name: "web", start: (program: "/bin/true"), mode: Async)])],
    monitors: [(name: "m", kind: Pid(resource: "web"), timing: Always)],
)
"#,
        expected: &[
            r#"upkeep.ron:4:64: monitors[0].timing: a pid monitor must use `WhenActive(resource: "web")` (got `Always`)"#,
        ],
    },
    Case {
        name: "pid_timing_other_resource",
        rule: "MON-10",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [
        (name: "web", start: (program: "/bin/true"), mode: Async),
        (name: "db", start: (program: "/bin/true"), mode: Async),
    ])],
    monitors: [(name: "m", kind: Pid(resource: "web"), timing: WhenActive(resource: "db"))],
)
"#,
        expected: &[
            r#"upkeep.ron:7:85: monitors[0].timing.resource: must be `web`, the resource the pid monitor watches (got `db`)"#,
        ],
    },
    Case {
        name: "when_active_unknown",
        rule: "MON-8",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [(name: "web", start: (program: "/bin/true"))])],
    monitors: [
        (name: "ping", kind: Ip(addresses: ["127.0.0.1"])),
        (name: "m", kind: MultiTarget(members: ["ping"]), timing: WhenActive(resource: "wbe")),
    ],
)
"#,
        expected: &[
            r#"upkeep.ron:6:88: monitors[1].timing.resource: resource `wbe` does not exist; did you mean `web`?"#,
        ],
    },
    Case {
        name: "monitor_interval_range",
        rule: "MON-3, MON-4",
        text: r#"(
    edition: "SSS",
    monitors: [(name: "m", kind: Ip(addresses: ["127.0.0.1"]), interval: "0s", timeout: "1000s")],
)
"#,
        expected: &[
            r#"upkeep.ron:3:74: monitors[0].interval: must be 1..=999 seconds (got `0s`)"#,
            r#"upkeep.ron:3:89: monitors[0].timeout: must be 5..=999 seconds (got `1000s`)"#,
        ],
    },
    Case {
        name: "monitor_interval_fraction",
        rule: "MON-3",
        text: r#"(
    edition: "SSS",
    monitors: [(name: "m", kind: Ip(addresses: ["127.0.0.1"]), interval: "1.5s")],
)
"#,
        expected: &[
            r#"upkeep.ron:3:74: monitors[0].interval: must be a whole number of seconds (got `1.5s`)"#,
        ],
    },
    Case {
        name: "monitor_timeout_small",
        rule: "MON-4",
        text: r#"(
    edition: "SSS",
    monitors: [(name: "m", kind: Ip(addresses: ["127.0.0.1"]), timeout: "4s")],
)
"#,
        expected: &[r#"upkeep.ron:3:73: monitors[0].timeout: must be 5..=999 seconds (got `4s`)"#],
    },
    Case {
        name: "monitor_retries_range",
        rule: "MON-5",
        text: r#"(
    edition: "SSS",
    monitors: [(name: "m", kind: Ip(addresses: ["127.0.0.1"]), retries: 1000)],
)
"#,
        expected: &[r#"upkeep.ron:3:73: monitors[0].retries: must be 0..=999 (got 1000)"#],
    },
    Case {
        name: "monitor_start_wait_range",
        rule: "MON-6",
        text: r#"(
    edition: "SSS",
    monitors: [(name: "m", kind: Ip(addresses: ["127.0.0.1"]), start_wait: "10000s")],
)
"#,
        expected: &[
            r#"upkeep.ron:3:76: monitors[0].start_wait: must be 0..=9999 seconds (got `10000s`)"#,
        ],
    },
    Case {
        name: "monitor_nice_range",
        rule: "MON-9",
        text: r#"(
    edition: "SSS",
    monitors: [
        (name: "m1", kind: Ip(addresses: ["127.0.0.1"]), nice: -21),
        (name: "m2", kind: Ip(addresses: ["127.0.0.1"]), nice: 20),
    ],
)
"#,
        expected: &[
            r#"upkeep.ron:4:64: monitors[0].nice: must be -20..=19 (got -21)"#,
            r#"upkeep.ron:5:64: monitors[1].nice: must be -20..=19 (got 20)"#,
        ],
    },
    Case {
        name: "reactivation_threshold_range",
        rule: "MON-12",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [(name: "web", start: (program: "/bin/true"), mode: Async)])],
    monitors: [(name: "m", kind: Pid(resource: "web"), recovery: (target: Group("g"), reactivation_threshold: 100))],
)
"#,
        expected: &[
            r#"upkeep.ron:4:111: monitors[0].recovery.reactivation_threshold: must be 0..=99 (got 100)"#,
        ],
    },
    Case {
        name: "target_group_typo",
        rule: "MON-11",
        text: r#"(
    edition: "SSS",
    groups: [(name: "web", resources: [(name: "a", start: (program: "/bin/true"), mode: Async)])],
    monitors: [(name: "m", kind: Pid(resource: "a"), recovery: (target: Group("wbe")))],
)
"#,
        expected: &[
            r#"upkeep.ron:4:73: monitors[0].recovery.target: group `wbe` does not exist; did you mean `web`?"#,
        ],
    },
    Case {
        name: "target_resource_unknown",
        rule: "MON-11",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [(name: "web", start: (program: "/bin/true"), mode: Async)])],
    monitors: [(name: "m", kind: Pid(resource: "web"), recovery: (target: Resource("nothing")))],
)
"#,
        expected: &[
            r#"upkeep.ron:4:75: monitors[0].recovery.target: resource `nothing` does not exist"#,
        ],
    },
    Case {
        name: "target_sss_rules",
        rule: "MON-12, MON-13",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [(name: "web", start: (program: "/bin/true"), mode: Async)])],
    monitors: [(name: "m", kind: Pid(resource: "web"), recovery: (target: Sss, reactivation_threshold: 1, final_action: StopGroup))],
)
"#,
        expected: &[
            r#"upkeep.ron:4:104: monitors[0].recovery.reactivation_threshold: must be 0 when the recovery target is `Sss` (got 1)"#,
            r#"upkeep.ron:4:121: monitors[0].recovery.final_action: `StopGroup` is not allowed when the recovery target is `Sss`"#,
        ],
    },
    Case {
        name: "hardware_rules",
        rule: "HWM-2, HWM-3, HWM-4, HWM-6",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [(name: "web", start: (program: "/bin/true"))])],
    monitors: [
        (
            name: "disk",
            kind: Disk(path: "/dev/sda"),
            timing: WhenActive(resource: "web"),
            recovery: (target: Group("g"), reactivation_threshold: 1, final_action: StopGroup),
        ),
    ],
)
"#,
        expected: &[
            r#"upkeep.ron:8:21: monitors[0].timing: a hardware monitor must use `timing: Always`"#,
            r#"upkeep.ron:9:32: monitors[0].recovery.target: a hardware monitor's recovery target must be `Sss`"#,
            r#"upkeep.ron:9:68: monitors[0].recovery.reactivation_threshold: must be 0 for a hardware monitor (got 1)"#,
            r#"upkeep.ron:9:85: monitors[0].recovery.final_action: `StopGroup` is not allowed for a hardware monitor; use `NoOp`, `StopDaemon`, `StopDaemonShutdown` or `StopDaemonReboot`"#,
        ],
    },
    Case {
        name: "hardware_sss_stop_group",
        rule: "HWM-6",
        text: r#"(
    edition: "SSS",
    monitors: [(name: "link", kind: NicLink(interface: "eth0"), recovery: (final_action: StopGroup))],
)
"#,
        expected: &[
            r#"upkeep.ron:3:90: monitors[0].recovery.final_action: `StopGroup` is not allowed for a hardware monitor; use `NoOp`, `StopDaemon`, `StopDaemonShutdown` or `StopDaemonReboot`"#,
        ],
    },
    Case {
        name: "userspace_two",
        rule: "USW-2",
        text: r#"(
    edition: "SSS",
    monitors: [
        (name: "us1", kind: UserSpace()),
        (name: "us2", kind: UserSpace(method: Softdog)),
    ],
)
"#,
        expected: &[
            r#"upkeep.ron:5:29: monitors[1].kind: at most one user-space monitor is allowed; `us1` is already one"#,
        ],
    },
    Case {
        name: "userspace_timeout_not_above_interval",
        rule: "USW-3",
        text: r#"(
    edition: "SSS",
    monitors: [(name: "us", kind: UserSpace(), interval: "10s", timeout: "10s")],
)
"#,
        expected: &[
            r#"upkeep.ron:3:74: monitors[0].timeout: must be greater than `interval` (10s) (got 10s)"#,
        ],
    },
    Case {
        name: "userspace_ipmi_timeout",
        rule: "USW-6",
        text: r#"(
    edition: "SSS",
    monitors: [(name: "us", kind: UserSpace(method: Ipmi), timeout: "300s")],
)
"#,
        expected: &[
            r#"upkeep.ron:3:69: monitors[0].timeout: must be at most 255s with method `ipmi` (got 300s)"#,
        ],
    },
    Case {
        name: "userspace_keepalive",
        rule: "USW-5",
        text: r#"(
    edition: "SSS",
    monitors: [(name: "us", kind: UserSpace(method: Keepalive))],
)
"#,
        expected: &[
            r#"upkeep.ron:3:53: monitors[0].kind.method: method `keepalive` needs the clpkhb/clpka drivers, which upkeep does not ship; use softdog, ipmi or none"#,
        ],
    },
    Case {
        name: "userspace_write_size",
        rule: "USW-5",
        text: r#"(
    edition: "SSS",
    monitors: [(name: "us", kind: UserSpace(dummy_file: (path: "/tmp/d", write_size: 10000000)))],
)
"#,
        expected: &[
            r#"upkeep.ron:3:86: monitors[0].kind.dummy_file.write_size: must be 1..=9999999 (got 10000000)"#,
        ],
    },
    Case {
        name: "userspace_extra_fields",
        rule: "USW-3, USW-4",
        text: r#"(
    edition: "SSS",
    monitors: [(name: "us", kind: UserSpace(), retries: 1, nice: 5)],
)
"#,
        expected: &[
            r#"upkeep.ron:3:57: monitors[0].retries: a user-space monitor has no `retries`: on a stall the OS is reset"#,
            r#"upkeep.ron:3:66: monitors[0].nice: a user-space monitor has no `nice`: on a stall the OS is reset"#,
        ],
    },
    Case {
        name: "soft_raid_device_long",
        rule: "RAID-1",
        text: r#"(
    edition: "SSS",
    monitors: [(name: "md", kind: SoftRaid(device: "LONG_DEVICE_NAME"))],
)
"#,
        expected: &[
            r#"upkeep.ron:3:52: monitors[0].kind.device: must be at most 1023 bytes (got 1024)"#,
        ],
    },
    Case {
        name: "multi_target_members",
        rule: "MTM-1",
        text: r#"(
    edition: "SSS",
    monitors: [
        (name: "ping", kind: Ip(addresses: ["127.0.0.1"])),
        (name: "all", kind: MultiTarget(members: ["pign", "all", "inner"], error_threshold: 4)),
        (name: "inner", kind: MultiTarget(members: ["ping"], warning_threshold: 0)),
    ],
)
"#,
        expected: &[
            r#"upkeep.ron:5:51: monitors[1].kind.members[0]: monitor `pign` does not exist; did you mean `ping`?"#,
            r#"upkeep.ron:5:59: monitors[1].kind.members[1]: a multi-target monitor cannot be its own member"#,
            r#"upkeep.ron:5:66: monitors[1].kind.members[2]: monitor `inner` is a multi-target monitor; members must be monitors of other kinds"#,
            r#"upkeep.ron:5:93: monitors[1].kind.error_threshold: must be 1..=3, the number of members (got 4)"#,
            r#"upkeep.ron:6:81: monitors[2].kind.warning_threshold: must be 1..=1, the number of members (got 0)"#,
        ],
    },
    Case {
        name: "ip_addresses",
        rule: "MAP-10",
        text: r#"(
    edition: "SSS",
    monitors: [
        (name: "none", kind: Ip(addresses: [])),
        (name: "bad", kind: Ip(addresses: ["10.0.0.300"])),
    ],
)
"#,
        expected: &[
            r#"upkeep.ron:4:44: monitors[0].kind.addresses: must list at least one address"#,
            r#"upkeep.ron:5:44: monitors[1].kind.addresses[0]: `10.0.0.300` is not an IPv4 or IPv6 address"#,
        ],
    },
    Case {
        name: "disk_raw_params",
        rule: "MAP-10",
        text: r#"(
    edition: "SSS",
    monitors: [
        (name: "d", kind: Disk(path: "dev/sda", read_size: 0)),
        (name: "r", kind: Raw(path: "/dev/raw/raw1", read_size: 1000)),
        (name: "n", kind: NicLink(interface: "a-very-long-interface-name")),
    ],
)
"#,
        expected: &[
            r#"upkeep.ron:4:38: monitors[0].kind.path: must be an absolute path (got `dev/sda`)"#,
            r#"upkeep.ron:4:60: monitors[0].kind.read_size: must be 1..=99999999 (got 0)"#,
            r#"upkeep.ron:5:65: monitors[1].kind.read_size: must be a multiple of 512 for direct reads (got 1000)"#,
            r#"upkeep.ron:6:46: monitors[2].kind.interface: `a-very-long-interface-name` is not a valid interface name (at most 15 bytes, no `/`, `:` or spaces)"#,
        ],
    },
    Case {
        name: "missing_kind",
        rule: "MON-1",
        text: r#"(
    edition: "SSS",
    monitors: [(name: "m")],
)
"#,
        expected: &[
            r#"upkeep.ron:3:16: monitors[0].kind: missing field `kind`; write e.g. `kind: Pid(resource: "web")`"#,
        ],
    },
    Case {
        name: "syntax_missing_comma",
        rule: "syntax",
        text: r#"(
    edition: "SSS"
    groups: [],
)
"#,
        expected: &[r#"upkeep.ron:3:5: expected comma"#],
    },
    Case {
        name: "unknown_field",
        rule: "schema",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [
        (name: "a", start: (program: "/bin/true"), activation: (retires: 3)),
    ])],
)
"#,
        expected: &[
            r#"upkeep.ron:4:65: groups[0].resources[0].activation.retires: unknown field `retires`, expected one of `retries`, `final_action`; did you mean `retries`?"#,
        ],
    },
    Case {
        name: "unknown_variant",
        rule: "schema",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", startup: Automatic)],
)
"#,
        expected: &[
            r#"upkeep.ron:3:35: groups[0].startup: unknown variant `Automatic`, expected one of `Auto`, `Manual`"#,
        ],
    },
    Case {
        name: "quoted_variant",
        rule: "schema",
        text: r#"(
    edition: "SSS",
    os_actions: "Real",
)"#,
        expected: &[
            r#"upkeep.ron:3:17: os_actions: expected a field name or a variant name, without quotes"#,
        ],
    },
    Case {
        name: "positional_kind",
        rule: "schema",
        text: r#"(
    edition: "SSS",
    monitors: [(name: "m", kind: Pid("web"))],
)"#,
        expected: &[
            r#"upkeep.ron:3:38: monitors[0].kind: expected a field name or a variant name, without quotes"#,
        ],
    },
    Case {
        name: "wrong_struct_name",
        rule: "schema",
        text: r#"(
    edition: "SSS",
    groups: [Monitor(name: "g")],
)"#,
        expected: &[
            r#"upkeep.ron:3:14: groups[0]: expected `Group(...)` or just `(...)` here, found `Monitor(...)`"#,
        ],
    },
    Case {
        name: "wrong_type",
        rule: "schema",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [(name: "a", start: (program: "/bin/true"), depends_on: "b")])],
)
"#,
        expected: &[r#"upkeep.ron:3:93: groups[0].resources[0].depends_on: expected opening `[`"#],
    },
    Case {
        name: "truncated",
        rule: "syntax",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [
"#,
        expected: &[r#"upkeep.ron:4:1: groups[0].resources: unexpected end of file"#],
    },
    Case {
        name: "kind_without_parens",
        rule: "schema",
        text: r#"(
    edition: "SSS",
    monitors: [(name: "us", kind: UserSpace)],
)
"#,
        expected: &[r#"upkeep.ron:3:35: monitors[0].kind: expected opening `(` after this name"#],
    },
    Case {
        name: "backoff_values",
        rule: "crash loops (upkeep)",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [(name: "web", mode: Async, start: (program: "/bin/true"))])],
    monitors: [(name: "m", kind: Pid(resource: "web"), recovery: (backoff: Exponential(first: "0s", max: "2h", reset_after: "5")))],
)
"#,
        expected: &[
            r#"upkeep.ron:4:95: monitors[0].recovery.backoff.first: must be greater than 0 (got `0s`)"#,
            r#"upkeep.ron:4:106: monitors[0].recovery.backoff.max: must be at most 1h (got `2h`)"#,
            r#"upkeep.ron:4:125: monitors[0].recovery.backoff.reset_after: invalid duration `5`: it needs a unit; write e.g. `"5s"`, `"2m"` or `"1h 30m"`"#,
        ],
    },
    Case {
        name: "backoff_max_below_first",
        rule: "crash loops (upkeep)",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [(name: "web", mode: Async, start: (program: "/bin/true"))])],
    monitors: [(name: "m", kind: Pid(resource: "web"), recovery: (backoff: Exponential(first: "10s", max: "2s")))],
)
"#,
        expected: &[
            r#"upkeep.ron:4:107: monitors[0].recovery.backoff.max: must be at least `first` = `10s` (got `2s`)"#,
        ],
    },
    Case {
        name: "start_limit_values",
        rule: "crash loops (upkeep)",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [(name: "web", mode: Async, start: (program: "/bin/true"))])],
    monitors: [(name: "m", kind: Pid(resource: "web"), recovery: (start_limit: Within(burst: 0, window: "0s")))],
)
"#,
        expected: &[
            r#"upkeep.ron:4:94: monitors[0].recovery.start_limit.burst: must be 1..=999 (got 0)"#,
            r#"upkeep.ron:4:105: monitors[0].recovery.start_limit.window: must be greater than 0 (got `0s`)"#,
        ],
    },
    Case {
        name: "start_limit_unknown_field",
        rule: "crash loops (upkeep)",
        text: r#"(
    edition: "SSS",
    groups: [(name: "g", resources: [(name: "web", mode: Async, start: (program: "/bin/true"))])],
    monitors: [(name: "m", kind: Pid(resource: "web"), recovery: (start_limit: Within(bursts: 3)))],
)
"#,
        expected: &[
            r#"upkeep.ron:4:87: monitors[0].recovery.start_limit.bursts: unknown field `bursts`, expected one of `burst`, `window`; did you mean `burst`?"#,
        ],
    },
    Case {
        name: "many_errors",
        rule: "collecting",
        text: r#"(
    edition: "SSS",
    reboot_limit: (max_reboot_count: 100),
    groups: [(name: "g", resources: [
        (name: "a", start: (program: "/bin/true"), activation: (retries: 120), depends_on: ["zz"]),
    ])],
    monitors: [
        (name: "m", kind: Pid(resource: "a"), interval: "1000s", nice: 30),
    ],
)
"#,
        expected: &[
            r#"upkeep.ron:3:38: reboot_limit.max_reboot_count: must be 0..=99 (got 100)"#,
            r#"upkeep.ron:5:74: groups[0].resources[0].activation.retries: must be 0..=99 (got 120)"#,
            r#"upkeep.ron:5:93: groups[0].resources[0].depends_on[0]: resource `zz` does not exist in this group"#,
            r#"upkeep.ron:8:41: monitors[0].kind.resource: resource `a` must have `mode: Async` to be watched by a pid monitor"#,
            r#"upkeep.ron:8:57: monitors[0].interval: must be 1..=999 seconds (got `1000s`)"#,
            r#"upkeep.ron:8:72: monitors[0].nice: must be -20..=19 (got 30)"#,
        ],
    },
];

#[test]
fn every_rule_renders_exactly() {
    let mut failures = Vec::new();
    for case in CASES {
        let text = case.text.replace(LONG, &"x".repeat(1024));
        let got: Vec<String> = match upkeep_config::parse(&text, Path::new("upkeep.ron")) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.iter().map(ToString::to_string).collect(),
        };
        if got != case.expected {
            failures.push(format!(
                "case `{}` ({}):\n  expected: {:#?}\n  got: {:#?}",
                case.name, case.rule, case.expected, got
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// STYLE-ANCHORS item 10: lowercase, no trailing period; positions are 1-based.
#[test]
fn every_message_follows_the_house_style() {
    for case in CASES {
        let text = case.text.replace(LONG, &"x".repeat(1024));
        let Err(errors) = upkeep_config::parse(&text, Path::new("upkeep.ron")) else {
            continue;
        };
        for e in &errors {
            let first = e.message.chars().next().unwrap_or('?');
            assert!(!first.is_uppercase(), "case `{}`: {e}", case.name);
            assert!(!e.message.ends_with('.'), "case `{}`: {e}", case.name);
            assert!(e.line >= 1 && e.column >= 1, "case `{}`: {e}", case.name);
        }
    }
}
