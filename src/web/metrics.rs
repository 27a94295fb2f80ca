//! `/metrics` in the Prometheus text format 0.0.4 (issue 12; docs/WEB.md lists every metric).
//!
//! Written by hand from the same [`StatusReply`] the control socket serves, so a scrape never
//! disagrees with `upkeep status`. Not `prometheus-client`: its OpenMetrics output (`info`
//! type, `_total` samples under a bare `# TYPE`) fails `promtool check metrics`; the text format
//! is a few lines of code and has no registry to keep in step with the board.

use std::fmt::Write;

use crate::control::proto::StatusReply;
use crate::host::probe::timing::{Histogram, BUCKETS};

/// The content type Prometheus expects for this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const SERVER_STATES: &[&str] = &["starting", "online", "stopping", "stopped"];
const GROUP_STATES: &[&str] = &[
    "offline",
    "starting",
    "online",
    "online_partial",
    "stopping",
    "offline_partial",
    "failed",
];
const RESOURCE_STATES: &[&str] = &[
    "offline",
    "starting",
    "online",
    "stopping",
    "start_failed",
    "stop_failed",
    "failed",
    "backoff",
];
const VERDICTS: &[&str] = &["normal", "warning", "error"];

/// Everything `/metrics` shows, besides the status.
pub struct Extra<'a> {
    pub version: &'a str,
    /// (level, module) → events since the daemon started.
    pub events: &'a [((String, String), u64)],
    pub probes: &'a std::collections::BTreeMap<&'static str, Histogram>,
}

pub fn render(status: &StatusReply, extra: &Extra<'_>) -> String {
    let mut m = Metrics::default();
    m.family(
        "upkeep_build_info",
        "gauge",
        "Always 1; the labels say which upkeep runs.",
    );
    m.sample("upkeep_build_info", &[("version", extra.version)], 1.0);

    m.family(
        "upkeep_server_state",
        "gauge",
        "1 for the daemon's current state (`upkeep status` Server line), 0 for the others.",
    );
    for s in with_current(SERVER_STATES, &status.server.state) {
        let v = f64::from(u8::from(s == status.server.state));
        m.sample("upkeep_server_state", &[("state", &s)], v);
    }
    m.family(
        "upkeep_server_suspended",
        "gauge",
        "1 while monitoring is suspended by an operator.",
    );
    m.sample(
        "upkeep_server_suspended",
        &[],
        f64::from(u8::from(status.server.suspended)),
    );
    m.family(
        "upkeep_uptime_seconds",
        "gauge",
        "Seconds since the daemon started.",
    );
    m.sample("upkeep_uptime_seconds", &[], status.server.uptime_s as f64);

    m.family(
        "upkeep_group_state",
        "gauge",
        "1 for each group's current state, 0 for the others.",
    );
    for g in &status.groups {
        for s in with_current(GROUP_STATES, &g.state) {
            let v = f64::from(u8::from(s == g.state));
            m.sample(
                "upkeep_group_state",
                &[("group", &g.name), ("state", &s)],
                v,
            );
        }
    }

    m.family(
        "upkeep_resource_up",
        "gauge",
        "1 while the resource is online.",
    );
    for g in &status.groups {
        for r in &g.resources {
            let up = f64::from(u8::from(r.state == "online"));
            m.sample(
                "upkeep_resource_up",
                &[("group", &g.name), ("resource", &r.name)],
                up,
            );
        }
    }
    m.family(
        "upkeep_resource_state",
        "gauge",
        "1 for each resource's current state, 0 for the others.",
    );
    for g in &status.groups {
        for r in &g.resources {
            for s in with_current(RESOURCE_STATES, &r.state) {
                let v = f64::from(u8::from(s == r.state));
                let labels = [
                    ("group", g.name.as_str()),
                    ("resource", &r.name),
                    ("state", &s),
                ];
                m.sample("upkeep_resource_state", &labels, v);
            }
        }
    }
    m.family(
        "upkeep_resource_restarts_total",
        "counter",
        "Starts after the first one (retries and reactivations) since the engine started.",
    );
    for g in &status.groups {
        for r in &g.resources {
            let labels = [("group", g.name.as_str()), ("resource", &r.name)];
            m.sample(
                "upkeep_resource_restarts_total",
                &labels,
                f64::from(r.restarts),
            );
        }
    }

    m.family(
        "upkeep_monitor_verdict",
        "gauge",
        "1 for the monitor's last verdict, 0 for the others; all 0 before the first check.",
    );
    for mon in &status.monitors {
        let last = mon.last_verdict.as_deref().unwrap_or("");
        for v in VERDICTS {
            let labels = [
                ("monitor", mon.name.as_str()),
                ("kind", &mon.kind),
                ("verdict", v),
            ];
            m.sample(
                "upkeep_monitor_verdict",
                &labels,
                f64::from(u8::from(*v == last)),
            );
        }
    }
    m.family(
        "upkeep_monitor_consecutive_failures",
        "gauge",
        "Abnormal checks in a row (MON-5).",
    );
    for mon in &status.monitors {
        let labels = [("monitor", mon.name.as_str()), ("kind", &mon.kind)];
        m.sample(
            "upkeep_monitor_consecutive_failures",
            &labels,
            f64::from(mon.failures),
        );
    }
    m.family(
        "upkeep_monitor_failures_needed",
        "gauge",
        "Abnormal checks in a row that declare an error (retries + 1).",
    );
    for mon in &status.monitors {
        let labels = [("monitor", mon.name.as_str()), ("kind", &mon.kind)];
        m.sample(
            "upkeep_monitor_failures_needed",
            &labels,
            f64::from(mon.needed),
        );
    }
    m.family(
        "upkeep_monitor_reactivations",
        "gauge",
        "Reactivations used in the current error episode (MON-12).",
    );
    for mon in &status.monitors {
        let labels = [("monitor", mon.name.as_str()), ("kind", &mon.kind)];
        m.sample(
            "upkeep_monitor_reactivations",
            &labels,
            f64::from(mon.reactivations),
        );
    }
    m.family(
        "upkeep_monitor_reactivation_threshold",
        "gauge",
        "Reactivations allowed before the final action (MON-12).",
    );
    for mon in &status.monitors {
        let labels = [("monitor", mon.name.as_str()), ("kind", &mon.kind)];
        let v = f64::from(mon.reactivation_threshold);
        m.sample("upkeep_monitor_reactivation_threshold", &labels, v);
    }
    m.family(
        "upkeep_monitor_reactivations_total",
        "counter",
        "Reactivations the monitor started since the engine started.",
    );
    for mon in &status.monitors {
        let labels = [("monitor", mon.name.as_str()), ("kind", &mon.kind)];
        m.sample(
            "upkeep_monitor_reactivations_total",
            &labels,
            f64::from(mon.restarts),
        );
    }

    m.family(
        "upkeep_probe_duration_seconds",
        "histogram",
        "How long checks took, per monitor kind (the pid monitor is not probed).",
    );
    for (kind, h) in extra.probes {
        for (bound, n) in BUCKETS.iter().zip(h.buckets.iter()) {
            let le = bound.to_string();
            m.sample(
                "upkeep_probe_duration_seconds_bucket",
                &[("kind", kind), ("le", &le)],
                *n as f64,
            );
        }
        let inf = [("kind", *kind), ("le", "+Inf")];
        m.sample("upkeep_probe_duration_seconds_bucket", &inf, h.count as f64);
        m.sample(
            "upkeep_probe_duration_seconds_sum",
            &[("kind", kind)],
            h.sum,
        );
        m.sample(
            "upkeep_probe_duration_seconds_count",
            &[("kind", kind)],
            h.count as f64,
        );
    }

    m.family(
        "upkeep_recovery_reboots",
        "gauge",
        "Recovery shutdowns and reboots counted (CFG-5).",
    );
    m.sample(
        "upkeep_recovery_reboots",
        &[],
        f64::from(status.governor.count),
    );
    m.family(
        "upkeep_recovery_reboot_limit",
        "gauge",
        "The most recovery reboots allowed (CFG-6); 0 = never.",
    );
    m.sample(
        "upkeep_recovery_reboot_limit",
        &[],
        f64::from(status.governor.max),
    );
    m.family(
        "upkeep_recovery_reboots_damaged",
        "gauge",
        "1 when the persisted count could not be read (treated as the limit reached).",
    );
    m.sample(
        "upkeep_recovery_reboots_damaged",
        &[],
        f64::from(u8::from(status.governor.damaged)),
    );

    m.family(
        "upkeep_events_total",
        "counter",
        "Events since the daemon started (MSG-6).",
    );
    for ((level, module), n) in extra.events {
        m.sample(
            "upkeep_events_total",
            &[("level", level), ("module", module)],
            *n as f64,
        );
    }
    m.out
}

/// The known values, plus the current one when it is new to this build.
fn with_current(known: &[&str], current: &str) -> Vec<String> {
    let mut all: Vec<String> = known.iter().map(|s| s.to_string()).collect();
    if !current.is_empty() && !known.contains(&current) {
        all.push(current.to_string());
    }
    all
}

#[derive(Default)]
struct Metrics {
    out: String,
}

impl Metrics {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(
            self.out,
            "# HELP {name} {}",
            help.replace('\\', "\\\\").replace('\n', "\\n")
        );
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let v = v
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                let _ = write!(self.out, "{k}=\"{v}\"");
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::proto::{GovernorDto, GroupDto, ResourceDto, ServerDto};

    #[test]
    fn labels_are_escaped_and_unknown_states_still_show() {
        let status = StatusReply {
            version: 1,
            server: ServerDto {
                name: "SSS".into(),
                host: "h".into(),
                state: "online".into(),
                suspended: false,
                uptime_s: 5,
                pid: 1,
                os_actions: "simulated".into(),
                containment: String::new(),
                state_dir: String::new(),
                log_dir: String::new(),
                config_file: String::new(),
            },
            groups: vec![GroupDto {
                name: "we\"b\\".into(),
                state: "brand_new_state".into(),
                since: String::new(),
                resources: vec![ResourceDto {
                    name: "app".into(),
                    state: "online".into(),
                    pid: Some(7),
                    last_exit: None,
                    since: String::new(),
                    restarts: 4,
                    reason: None,
                    next_attempt: None,
                }],
            }],
            monitors: vec![],
            governor: GovernorDto {
                count: 1,
                max: 3,
                last_error: None,
                damaged: false,
            },
            last_event_seq: 0,
        };
        let mut probes = std::collections::BTreeMap::new();
        let mut h = Histogram::default();
        h.buckets[3] = 1;
        h.count = 1;
        h.sum = 0.02;
        probes.insert("tcp", h);
        let text = render(
            &status,
            &Extra {
                version: "9.9",
                events: &[(("error".into(), "rm".into()), 2)],
                probes: &probes,
            },
        );
        assert!(
            text.contains(r#"upkeep_group_state{group="we\"b\\",state="brand_new_state"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"upkeep_resource_restarts_total{group="we\"b\\",resource="app"} 4"#)
        );
        assert!(text.contains(r#"upkeep_probe_duration_seconds_bucket{kind="tcp",le="+Inf"} 1"#));
        assert!(text.contains(r#"upkeep_events_total{level="error",module="rm"} 2"#));
        assert!(text.contains("upkeep_recovery_reboots 1\n"));
        // Every sample belongs to a family announced just before it.
        let mut family = "";
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                family = rest.split(' ').next().unwrap_or_default();
            } else if !line.starts_with('#') {
                assert!(line.starts_with(family), "{line} outside {family}");
            }
        }
    }
}
