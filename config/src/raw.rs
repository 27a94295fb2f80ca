//! The file's shape: serde structs that mirror the RON text 1:1, and every default in one place.
//!
//! Implements the format decisions of MAP-4 (one RON file) and MAP-5 (defaults the spec leaves
//! open). Nothing here is checked: fields the spec requires are still `Option` so that a missing
//! one becomes a collected validation error instead of a serde error that hides every other one.
//! Numbers are read as `i64` for the same reason: `retries: 120` or `retries: -1` must reach
//! `validate` and come out as "must be 0..=99 (got 120)", not as a type error.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// Defaults the spec states (CFG-6, CFG-7, GRP-2) and the ones ARCHITECTURE §6 decides (MAP-5).
/// `validate` is the only reader; docs/CONFIG.md lists the same values.
pub(crate) mod defaults {
    use std::time::Duration;

    use crate::model::{ActivationFinalAction, DeactivationFinalAction, MonitorFinalAction};

    /// The SSS name offered by the spec's example (GEN-3).
    pub(crate) const SSS_NAME: &str = "SSS";
    /// CFG-6.
    pub(crate) const MAX_REBOOT_COUNT: u32 = 3;
    /// CFG-7: 60 minutes.
    pub(crate) const REBOOT_RESET: Duration = Duration::from_secs(60 * 60);
    /// DOWN-3: core supervisors may restart this often within `CORE_PERIOD`.
    pub(crate) const CORE_MAX_RESTARTS: u32 = 3;
    pub(crate) const CORE_PERIOD: Duration = Duration::from_secs(60);
    pub(crate) const LOG_LEVEL: &str = "info";
    pub(crate) const LOG_KEEP_FILES: usize = 7;

    /// MAP-8: long enough for an ordinary start script, short enough that a hung one is noticed.
    pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(30);
    pub(crate) const STOP_TIMEOUT: Duration = Duration::from_secs(30);
    /// MAP-8: SIGTERM, then SIGKILL after this grace.
    pub(crate) const KILL_GRACE: Duration = Duration::from_secs(5);
    /// RES-3 / RES-4 (MAP-5): no retry, and do not start what depends on the failed resource.
    pub(crate) const ACTIVATION_RETRIES: u32 = 0;
    pub(crate) const ACTIVATION_FINAL: ActivationFinalAction = ActivationFinalAction::NoOpStopChain;
    /// RES-10 / RES-5 (MAP-5): a resource that cannot be stopped leaves the host in an unknown
    /// state, so the safe default is to shut down (simulated unless `os_actions: Real`).
    pub(crate) const DEACTIVATION_RETRIES: u32 = 0;
    pub(crate) const DEACTIVATION_FINAL: DeactivationFinalAction =
        DeactivationFinalAction::StopDaemonShutdown;

    /// MON-5, MON-6, MON-9, MON-13 (MAP-5).
    pub(crate) const MONITOR_RETRIES: u32 = 0;
    pub(crate) const START_WAIT: Duration = Duration::ZERO;
    /// upkeep's start grace (issue 9) for the checks that ask the application itself (tcp,
    /// http, custom): long enough for an ordinary service to bind its port after its start, so
    /// a monitor with the default `start_wait: 0` does not stop its own app while it starts.
    /// Pid and hardware monitors judge at once (0).
    pub(crate) const APP_START_GRACE: Duration = Duration::from_secs(10);
    pub(crate) const NICE: i32 = 0;
    pub(crate) const MONITOR_FINAL: MonitorFinalAction = MonitorFinalAction::NoOp;
    /// MON-12: reactivations before the final action when the target is a group or a resource.
    /// Target SSS allows only 0, so that is its default.
    pub(crate) const REACTIVATION_THRESHOLD: u32 = 3;
    /// upkeep's addition (issue 9): the first reactivation is immediate, so a one-off crash
    /// recovers as fast as in the seed; a target that fails again within `BACKOFF_RESET` waits
    /// 1 s, 2 s, 4 s ... up to 30 s, like runit's 1 s pause but growing.
    pub(crate) const BACKOFF_FIRST: Duration = Duration::from_secs(1);
    pub(crate) const BACKOFF_MAX: Duration = Duration::from_secs(30);
    pub(crate) const BACKOFF_RESET: Duration = Duration::from_secs(60);
    /// upkeep's addition (issue 9, like systemd's StartLimitBurst / StartLimitIntervalSec):
    /// more than 5 reactivations within 5 minutes count as failed reactivations, so the final
    /// action runs even though MON-15 reset the count after each one. With the default backoff a
    /// target that dies at once is reactivated at about 0, 1, 3, 7 and 15 s; the 6th, near 31 s,
    /// takes the final action.
    pub(crate) const START_LIMIT_BURST: u32 = 5;
    pub(crate) const START_LIMIT_WINDOW: Duration = Duration::from_secs(300);

    /// MON-3 / MON-4 per type (MAP-5): the pid monitor is cheap and watches one process, so it
    /// looks often; probes that touch hardware look once a minute; the user-space monitor
    /// (USW-3) must beat its own timeout by a wide margin.
    pub(crate) const PID_INTERVAL: Duration = Duration::from_secs(5);
    pub(crate) const PID_TIMEOUT: Duration = Duration::from_secs(60);
    pub(crate) const OTHER_INTERVAL: Duration = Duration::from_secs(60);
    pub(crate) const OTHER_TIMEOUT: Duration = Duration::from_secs(120);
    pub(crate) const USERSPACE_INTERVAL: Duration = Duration::from_secs(3);
    pub(crate) const USERSPACE_TIMEOUT: Duration = Duration::from_secs(90);

    /// Disk / raw read size in bytes: one sector, which is also valid for O_DIRECT.
    pub(crate) const READ_SIZE: u32 = 512;
    /// Share of the timeout after which a slow check is reported (upkeep's own setting): late
    /// enough to stay quiet on normal jitter, early enough to warn before the timeout hits.
    pub(crate) const DELAY_WARNING_PERCENT: u8 = 80;
    /// The answer a healthy HTTP endpoint gives.
    pub(crate) const HTTP_STATUS: u16 = 200;
    pub(crate) const PROCFS: &str = "/proc";
    pub(crate) const SYSFS: &str = "/sys";
    /// Issue 12: loopback, so turning the web manager on never exposes it by itself.
    pub(crate) const WEB_LISTEN: &str = "127.0.0.1:9180";
    /// Issue 12: a forgotten browser tab stops being a live session after this long.
    pub(crate) const WEB_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
}

/// The top level of the file.
#[derive(Debug, Deserialize)]
#[serde(rename = "Config", deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub name: Option<String>,
    pub edition: Option<String>,
    pub os_actions: Option<RawOsActions>,
    pub reboot_limit: Option<RawRebootLimit>,
    pub core_restart: Option<RawRestartIntensity>,
    pub log: Option<RawLog>,
    pub paths: Option<RawPaths>,
    pub access: Option<RawAccess>,
    pub alerts: Option<RawAlerts>,
    pub web: Option<RawWeb>,
    #[serde(default)]
    pub groups: Vec<RawGroup>,
    #[serde(default)]
    pub monitors: Vec<RawMonitor>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename = "OsActions")]
pub(crate) enum RawOsActions {
    Simulated,
    Real,
}

#[derive(Debug, Deserialize)]
#[serde(rename = "RebootLimit", deny_unknown_fields)]
pub(crate) struct RawRebootLimit {
    pub max_reboot_count: Option<i64>,
    pub reset_after: Option<RawDuration>,
}

#[derive(Debug, Deserialize)]
#[serde(rename = "RestartIntensity", deny_unknown_fields)]
pub(crate) struct RawRestartIntensity {
    pub max_restarts: Option<i64>,
    pub period: Option<RawDuration>,
}

#[derive(Debug, Deserialize)]
#[serde(rename = "Log", deny_unknown_fields)]
pub(crate) struct RawLog {
    pub level: Option<String>,
    pub keep_files: Option<i64>,
}

/// MSG-1..7: where events are sent (docs/ALERTS.md).
#[derive(Debug, Deserialize)]
#[serde(rename = "Alerts", deny_unknown_fields)]
pub(crate) struct RawAlerts {
    pub messages: Option<String>,
    pub syslog: Option<RawSyslog>,
    pub alert_log: Option<RawAlertLog>,
    pub mail: Option<RawMail>,
    pub program: Option<RawProgram>,
}

#[derive(Debug, Deserialize)]
#[serde(rename = "Syslog", deny_unknown_fields)]
pub(crate) struct RawSyslog {
    pub enabled: Option<bool>,
    pub socket: Option<String>,
    pub ident: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename = "AlertLog", deny_unknown_fields)]
pub(crate) struct RawAlertLog {
    pub max_file_kib: Option<i64>,
    pub keep_files: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename = "Mail", deny_unknown_fields)]
pub(crate) struct RawMail {
    pub server: Option<String>,
    pub port: Option<i64>,
    pub security: Option<RawMailSecurity>,
    pub from: Option<String>,
    #[serde(default)]
    pub to: Vec<String>,
    pub username: Option<String>,
    pub password_file: Option<String>,
    pub ca_file: Option<String>,
    pub window: Option<RawDuration>,
    pub timeout: Option<RawDuration>,
    pub retries: Option<i64>,
    pub queue: Option<i64>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename = "MailSecurity")]
pub(crate) enum RawMailSecurity {
    StartTls,
    Tls,
    Plain,
}

#[derive(Debug, Deserialize)]
#[serde(rename = "Program", deny_unknown_fields)]
pub(crate) struct RawProgram {
    pub path: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    pub timeout: Option<RawDuration>,
    pub queue: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename = "Access", deny_unknown_fields)]
pub(crate) struct RawAccess {
    #[serde(default)]
    pub operator_groups: Vec<String>,
    #[serde(default)]
    pub reader_groups: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename = "Paths", deny_unknown_fields)]
pub(crate) struct RawPaths {
    pub procfs: Option<String>,
    pub sysfs: Option<String>,
}

/// Issue 12: the web manager, HTTP API and `/metrics`.
#[derive(Debug, Deserialize)]
#[serde(rename = "Web", deny_unknown_fields)]
pub(crate) struct RawWeb {
    pub listen: Option<String>,
    pub tls: Option<RawTls>,
    pub accounts: Option<String>,
    pub behind_proxy: Option<bool>,
    pub metrics: Option<bool>,
    pub idle_timeout: Option<RawDuration>,
}

#[derive(Debug, Deserialize)]
#[serde(rename = "Tls", deny_unknown_fields)]
pub(crate) struct RawTls {
    pub cert: Option<String>,
    pub key: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename = "Group", deny_unknown_fields)]
pub(crate) struct RawGroup {
    pub name: Option<String>,
    pub startup: Option<RawStartup>,
    #[serde(default)]
    pub resources: Vec<RawResource>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename = "Startup")]
pub(crate) enum RawStartup {
    Auto,
    Manual,
}

#[derive(Debug, Deserialize)]
#[serde(rename = "Resource", deny_unknown_fields)]
pub(crate) struct RawResource {
    pub name: Option<String>,
    pub start: Option<RawCommand>,
    pub stop: Option<RawCommand>,
    pub mode: Option<RawMode>,
    pub start_timeout: Option<RawDuration>,
    pub stop_timeout: Option<RawDuration>,
    pub kill_grace: Option<RawDuration>,
    #[serde(default)]
    pub depends_on: Vec<String>,
    pub activation: Option<RawActivation>,
    pub deactivation: Option<RawDeactivation>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub working_dir: Option<String>,
    pub umask: Option<i64>,
    pub inherit_env: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename = "Command", deny_unknown_fields)]
pub(crate) struct RawCommand {
    pub program: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename = "Mode")]
pub(crate) enum RawMode {
    Sync,
    Async,
}

#[derive(Debug, Deserialize)]
#[serde(rename = "Activation", deny_unknown_fields)]
pub(crate) struct RawActivation {
    pub retries: Option<i64>,
    pub final_action: Option<RawActivationFinal>,
}

#[derive(Debug, Deserialize)]
#[serde(rename = "Deactivation", deny_unknown_fields)]
pub(crate) struct RawDeactivation {
    pub retries: Option<i64>,
    pub final_action: Option<RawDeactivationFinal>,
}

/// RES-4.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename = "ActivationFinalAction")]
pub(crate) enum RawActivationFinal {
    NoOpActivateNext,
    NoOpStopChain,
    StopGroup,
    StopDaemon,
    StopDaemonShutdown,
    StopDaemonReboot,
}

/// RES-5.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename = "DeactivationFinalAction")]
pub(crate) enum RawDeactivationFinal {
    NoOpDeactivateNext,
    NoOpStopChain,
    StopDaemonShutdown,
    StopDaemonReboot,
}

#[derive(Debug, Deserialize)]
#[serde(rename = "Monitor", deny_unknown_fields)]
pub(crate) struct RawMonitor {
    pub name: Option<String>,
    pub kind: Option<RawKind>,
    pub interval: Option<RawDuration>,
    pub timeout: Option<RawDuration>,
    pub retries: Option<i64>,
    pub start_wait: Option<RawDuration>,
    pub start_grace: Option<RawDuration>,
    pub timing: Option<RawTiming>,
    pub nice: Option<i64>,
    pub recovery: Option<RawRecovery>,
    pub delay_warning_percent: Option<i64>,
}

/// MON-1. Struct variants, so the file reads `Pid(resource: "web")`.
#[derive(Debug, Deserialize)]
#[serde(rename = "MonitorKind", deny_unknown_fields)]
pub(crate) enum RawKind {
    Pid {
        resource: Option<String>,
    },
    Disk {
        path: Option<String>,
        read_size: Option<i64>,
        direct: Option<bool>,
        write_test: Option<bool>,
    },
    Raw {
        path: Option<String>,
        read_size: Option<i64>,
    },
    Ip {
        #[serde(default)]
        addresses: Vec<String>,
    },
    NicLink {
        interface: Option<String>,
    },
    SoftRaid {
        device: Option<String>,
    },
    UserSpace {
        method: Option<RawMethod>,
        dummy_file: Option<RawDummyFile>,
        dummy_thread: Option<bool>,
    },
    Custom {
        program: Option<String>,
        #[serde(default)]
        args: Vec<String>,
        warning_exit_code: Option<i64>,
    },
    Tcp {
        host: Option<String>,
        port: Option<i64>,
    },
    Http {
        url: Option<String>,
        expect_status: Option<i64>,
    },
    MultiTarget {
        #[serde(default)]
        members: Vec<String>,
        error_threshold: Option<i64>,
        warning_threshold: Option<i64>,
    },
}

/// USW-5.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename = "WatchdogMethod")]
pub(crate) enum RawMethod {
    Softdog,
    Ipmi,
    Keepalive,
    None,
}

#[derive(Debug, Deserialize)]
#[serde(rename = "DummyFile", deny_unknown_fields)]
pub(crate) struct RawDummyFile {
    pub path: Option<String>,
    pub write_size: Option<i64>,
}

/// MON-7 / MON-8.
#[derive(Debug, Deserialize)]
#[serde(rename = "Timing", deny_unknown_fields)]
pub(crate) enum RawTiming {
    Always,
    WhenActive { resource: Option<String> },
}

#[derive(Debug, Deserialize)]
#[serde(rename = "Recovery", deny_unknown_fields)]
pub(crate) struct RawRecovery {
    pub target: Option<RawTarget>,
    pub reactivation_threshold: Option<i64>,
    pub final_action: Option<RawMonitorFinal>,
    pub backoff: Option<RawBackoff>,
    pub start_limit: Option<RawStartLimit>,
}

/// upkeep's addition: the pause before a reactivation of a target that failed again soon.
#[derive(Debug, Deserialize)]
#[serde(rename = "Backoff", deny_unknown_fields)]
pub(crate) enum RawBackoff {
    Off,
    Exponential {
        first: Option<RawDuration>,
        max: Option<RawDuration>,
        reset_after: Option<RawDuration>,
    },
}

/// upkeep's addition: too many reactivations within a window take the final action.
#[derive(Debug, Deserialize)]
#[serde(rename = "StartLimit", deny_unknown_fields)]
pub(crate) enum RawStartLimit {
    Off,
    Within {
        burst: Option<i64>,
        window: Option<RawDuration>,
    },
}

/// MON-11.
#[derive(Debug, Deserialize)]
#[serde(rename = "RecoveryTarget")]
pub(crate) enum RawTarget {
    Sss,
    Group(String),
    Resource(String),
}

/// MON-13 / HWM-6.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename = "MonitorFinalAction")]
pub(crate) enum RawMonitorFinal {
    NoOp,
    StopGroup,
    StopDaemon,
    StopDaemonShutdown,
    StopDaemonReboot,
}

/// A duration as written. Bare numbers are accepted by the parser only so that `validate` can
/// say "needs a unit" at the right place instead of a bare serde type error.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawDuration {
    Text(String),
    Number(String),
}

impl<'de> Deserialize<'de> for RawDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string such as \"5s\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawDuration, E> {
                Ok(RawDuration::Text(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawDuration, E> {
                Ok(RawDuration::Number(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawDuration, E> {
                Ok(RawDuration::Number(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawDuration, E> {
                Ok(RawDuration::Number(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}
