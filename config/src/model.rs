//! The validated configuration model the engine consumes.
//!
//! Every value here has passed validation (`crate::validate`): ranges, cross references and the
//! spec's rules hold, defaults are filled in, durations are `Duration`s. The engine never sees the
//! raw file shape, so the file format can change without touching the engine.
//! Implements the object tree of CFG-1 (SSS -> groups -> exec resources, SSS -> monitors) and
//! carries the fields of CFG-6/7, GRP-2, RES-1..11, MON-3..13, USW-5, RAID-1 and MTM-1.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The whole configuration (CFG-1): the SSS, its groups and its monitors.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The SSS name (GEN-3); shown in status and events.
    pub name: String,
    /// Whether shutdown / reboot / reset really happen (safety rule: `Simulated` unless the file
    /// says `os_actions: Real`).
    pub os_actions: OsActions,
    /// CFG-5..9.
    pub reboot_limit: RebootLimit,
    /// Folder the config file lives in: relative script paths resolve against it (MAP-4).
    pub base_dir: PathBuf,
    /// Groups in file order (GRP-1..4).
    pub groups: Vec<Group>,
    /// Monitors in file order (MON-1..17).
    pub monitors: Vec<Monitor>,
    /// Logging settings (CMD-7 later grows these).
    pub log: LogSettings,
    /// Restart intensity of the engine's core supervisors (DOWN-3).
    pub core_restart: RestartIntensity,
    /// Where the probes read the kernel's procfs and sysfs (MAP-20).
    pub paths: Paths,
    /// Issue 10: who may use the control socket besides root and the daemon's user; merged
    /// with the daemon's `--operator-group` / `--reader-group` flags.
    pub access: AccessGroups,
    /// Where events are sent: syslog, the alert log, mail, a program (MSG-1..7).
    pub alerts: Alerts,
    /// Issue 12: the web manager, HTTP API and `/metrics`; off when `None`.
    pub web: Option<WebSettings>,
}

/// Groups whose members are operators or readers on the control socket (docs/SECURITY.md).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccessGroups {
    /// Members may do everything the CLI does.
    pub operator_groups: Vec<String>,
    /// Members may read the state (`status`, `tree`, `events`, `explain`); `*` is every local
    /// user.
    pub reader_groups: Vec<String>,
}

/// MSG-1..7, docs/ALERTS.md.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Alerts {
    /// The message folder (MSG-2); `None`: `messages/` beside the configuration file when it
    /// exists, else the built-in messages.
    pub messages: Option<PathBuf>,
    pub syslog: Syslog,
    pub alert_log: AlertLog,
    pub mail: Option<Mail>,
    pub program: Option<Program>,
}

/// The syslog channel (MSG-6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syslog {
    pub enabled: bool,
    /// The local syslog socket.
    pub socket: PathBuf,
    /// The tag before the body: `upkeep`, or `CLUSTERPRO` for scripts that grep the seed's lines.
    pub ident: String,
}

impl Default for Syslog {
    fn default() -> Self {
        Syslog {
            enabled: true,
            socket: PathBuf::from("/dev/log"),
            ident: "upkeep".into(),
        }
    }
}

/// The persistent alert log in the state folder; always on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertLog {
    /// A file is rotated when it would grow past this many bytes.
    pub max_file_bytes: u64,
    /// Rotated files kept besides the current one.
    pub keep_files: u32,
}

impl Default for AlertLog {
    fn default() -> Self {
        AlertLog {
            max_file_bytes: 1024 * 1024,
            keep_files: 4,
        }
    }
}

/// How the mail channel talks to its server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MailSecurity {
    /// STARTTLS required (port 587).
    #[default]
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS: only for a relay on this host.
    Plain,
}

/// The mail channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub server: String,
    pub port: u16,
    pub security: MailSecurity,
    pub from: String,
    pub to: Vec<String>,
    pub username: Option<String>,
    /// The password is read from this file (never written in the configuration).
    pub password_file: Option<PathBuf>,
    /// A PEM certificate trusted for the server besides the system's (a private CA).
    pub ca_file: Option<PathBuf>,
    /// Events within this window after the first go out in one mail.
    pub window: Duration,
    /// One attempt's limit.
    pub timeout: Duration,
    /// Attempts after the first, with a doubling wait.
    pub retries: u32,
    /// Events waiting for mail before new ones are dropped (and counted).
    pub queue: usize,
}

/// The program channel: run for each message that is mailed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub path: PathBuf,
    pub args: Vec<String>,
    pub timeout: Duration,
    pub queue: usize,
}

/// Issue 12: where and how the daemon serves HTTP (docs/WEB.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSettings {
    /// Loopback unless `tls` is set or `behind_proxy` acknowledged.
    pub listen: std::net::SocketAddr,
    pub tls: Option<TlsFiles>,
    /// The accounts file (argon2 hashes); `None` = `web-accounts` in the state folder.
    pub accounts: Option<PathBuf>,
    /// The operator acknowledged that a reverse proxy terminates TLS in front of `listen`.
    pub behind_proxy: bool,
    /// Serve `/metrics` (Prometheus text format).
    pub metrics: bool,
    /// A session unused for this long is logged out.
    pub idle_timeout: std::time::Duration,
}

/// PEM files for HTTPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The procfs and sysfs roots the probes read (soft RAID, NIC link). Settable so that a
/// containerised upkeep can watch the host through bind mounts (like node_exporter's
/// `--path.procfs` / `--path.sysfs`), and so that tests can point them at fixtures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            procfs: PathBuf::from("/proc"),
            sysfs: PathBuf::from("/sys"),
        }
    }
}

/// Whether OS actions (shutdown, reboot, reset, watchdog) are performed or only recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OsActions {
    /// Record "would reboot" and carry on; the default everywhere.
    #[default]
    Simulated,
    /// Really shut down / reboot / reset the machine.
    Real,
}

/// CFG-6 / CFG-7: the persistent reboot limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebootLimit {
    /// CFG-6, 0..=99, default 3. 0 = recovery never shuts down or reboots (MAP-6).
    pub max_reboot_count: u32,
    /// CFG-7, 0..=999 minutes, default 60 minutes.
    pub reset_after: Duration,
}

impl Default for RebootLimit {
    fn default() -> Self {
        RebootLimit {
            max_reboot_count: 3,
            reset_after: Duration::from_secs(60 * 60),
        }
    }
}

/// OTP restart intensity: at most `max_restarts` restarts within `period`, else escalate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartIntensity {
    pub max_restarts: u32,
    pub period: Duration,
}

impl Default for RestartIntensity {
    fn default() -> Self {
        RestartIntensity {
            max_restarts: 3,
            period: Duration::from_secs(60),
        }
    }
}

/// Log settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// tracing `EnvFilter` directive, e.g. `info` or `upkeep=debug`.
    pub level: String,
    /// Rolled log files kept.
    pub keep_files: usize,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            level: "info".into(),
            keep_files: 7,
        }
    }
}

/// GRP-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Startup {
    #[default]
    Auto,
    Manual,
}

/// A group of exec resources (GRP-1).
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub name: String,
    pub startup: Startup,
    /// Resources in file order; `depends_on` orders activation (RES-1).
    pub resources: Vec<ExecResource>,
}

impl Group {
    /// The resource called `name`, if this group has it.
    pub fn resource(&self, name: &str) -> Option<&ExecResource> {
        self.resources.iter().find(|r| r.name == name)
    }
}

/// RES-11 / MAP-8: how the start script runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartMode {
    /// Activation succeeds when the start script exits 0 within its timeout.
    #[default]
    Sync,
    /// The start script keeps running as the resource's process; the pid monitor watches it.
    Async,
}

/// One command of an exec resource: a program and its arguments, run directly (no shell) unless
/// the program is a script with a `#!` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Absolute path, resolved against the config folder when it was relative (RES-8, RES-9).
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Extra environment variables, on top of the UPKEEP_* ones (MAP-8).
    pub env: BTreeMap<String, String>,
}

/// An exec resource (GLOS-3, RES-1..11).
#[derive(Debug, Clone, PartialEq)]
pub struct ExecResource {
    pub name: String,
    pub start: Command,
    /// Optional: without one, deactivation only signals the process group.
    pub stop: Option<Command>,
    pub mode: StartMode,
    /// Start script timeout (sync: until exit; async: until spawned).
    pub start_timeout: Duration,
    /// Stop script timeout.
    pub stop_timeout: Duration,
    /// Grace between SIGTERM and SIGKILL when the process group is stopped (MAP-8).
    pub kill_grace: Duration,
    /// Names of resources in the same group this one is activated after (RES-1).
    pub depends_on: Vec<String>,
    /// RES-2..4.
    pub activation: Retry<ActivationFinalAction>,
    /// RES-5, RES-10.
    pub deactivation: Retry<DeactivationFinalAction>,
    /// Who, where and with which environment its scripts run (issue 9 §2).
    pub context: ExecContext,
}

/// The execution context of a resource's scripts and process: the same for start and stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecContext {
    /// User name to run as; `None` keeps the daemon's user. Resolved when a script starts, so a
    /// user created after the config was loaded is found, and a missing one fails that start.
    pub user: Option<String>,
    /// Group name; `None` = the user's primary group (or the daemon's group without a user).
    pub group: Option<String>,
    /// Current directory of the child; `/` by default, never the daemon's own cwd (which
    /// depends on how it was started and may be unmounted or deleted later).
    pub working_dir: PathBuf,
    /// File mode creation mask, 0..=0o777.
    pub umask: u32,
    /// Keep the daemon's environment (minus NOTIFY_SOCKET, WATCHDOG_*, LISTEN_*) instead of a
    /// clean PATH + LANG one.
    pub inherit_env: bool,
}

impl Default for ExecContext {
    fn default() -> Self {
        ExecContext {
            user: None,
            group: None,
            working_dir: PathBuf::from("/"),
            umask: 0o022,
            inherit_env: false,
        }
    }
}

/// A retry threshold and the final action taken once it is exhausted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry<A> {
    /// 0..=99; 0 = no retry.
    pub retries: u32,
    pub final_action: A,
}

/// RES-4: the six activation final actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActivationFinalAction {
    NoOpActivateNext,
    NoOpStopChain,
    StopGroup,
    StopDaemon,
    StopDaemonShutdown,
    StopDaemonReboot,
}

/// RES-5: the four deactivation final actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeactivationFinalAction {
    NoOpDeactivateNext,
    NoOpStopChain,
    StopDaemonShutdown,
    StopDaemonReboot,
}

/// MON-13 (all five) and HWM-6 (all but `StopGroup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MonitorFinalAction {
    NoOp,
    StopGroup,
    StopDaemon,
    StopDaemonShutdown,
    StopDaemonReboot,
}

/// MON-7.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timing {
    Always,
    /// Monitor only while this exec resource is activated (MON-8).
    WhenActive {
        resource: String,
    },
}

/// MON-11: what a monitor acts on when it declares an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoveryTarget {
    /// The whole server: final action at once.
    Sss,
    Group(String),
    Resource(String),
}

/// MON-11..13.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    pub target: RecoveryTarget,
    /// 0..=99; MUST be 0 for target SSS and hardware monitors (MON-12, HWM-4).
    pub reactivation_threshold: u32,
    pub final_action: MonitorFinalAction,
    /// upkeep's addition (not in the seed): the pause between reactivations of a target that
    /// keeps failing. `Off` is the seed's timing.
    pub backoff: Backoff,
    /// upkeep's addition (not in the seed): a crash loop reaches the final action even though
    /// MON-15 resets the reactivation count. `Off` is the seed's behaviour.
    pub start_limit: StartLimit,
}

/// The pause before a reactivation (docs/CONFIG.md, "Crash loops").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// Every reactivation at once, as the seed does.
    Off,
    /// The first reactivation at once; each following one, while the target keeps failing
    /// within `reset_after` of its last reactivation, waits `first`, then twice as long, up to
    /// `max`.
    Exponential {
        first: Duration,
        max: Duration,
        reset_after: Duration,
    },
}

/// A limit on reactivations (docs/CONFIG.md, "Crash loops").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLimit {
    /// No limit: only the reactivation threshold (MON-12) counts, as in the seed.
    Off,
    /// More than `burst` reactivations within `window` count as failed reactivations: the
    /// next one is replaced by the final action.
    Within { burst: u32, window: Duration },
}

/// A monitor resource (GLOS-5).
#[derive(Debug, Clone, PartialEq)]
pub struct Monitor {
    pub name: String,
    pub kind: MonitorKind,
    /// MON-3, 1..=999 s.
    pub interval: Duration,
    /// MON-4, 5..=999 s.
    pub timeout: Duration,
    /// MON-5, 0..=999.
    pub retries: u32,
    /// MON-6, 0..=9999 s.
    pub start_wait: Duration,
    /// upkeep's addition (issue 9), 0..=9999 s: an abnormal check within this time after its
    /// recovery target (or `WhenActive` resource) was started is not counted, because the
    /// application may not be up yet. Default 10 s for tcp, http and custom, else 0.
    pub start_grace: Duration,
    /// MON-7 / MON-8.
    pub timing: Timing,
    /// MON-9, -20..=19.
    pub nice: i32,
    pub recovery: Recovery,
    /// The engine reports a delay warning when one check takes more than this share (percent)
    /// of `timeout`; `None` = never. 1..=99, default 80.
    pub delay_warning_percent: Option<u8>,
}

impl Monitor {
    /// HWM-1..7 apply to these (MON-2).
    pub fn is_hardware(&self) -> bool {
        matches!(
            self.kind,
            MonitorKind::Disk { .. }
                | MonitorKind::Raw { .. }
                | MonitorKind::Ip { .. }
                | MonitorKind::NicLink { .. }
                | MonitorKind::SoftRaid { .. }
        )
    }

    /// The exec resource a pid monitor watches.
    pub fn pid_target(&self) -> Option<&str> {
        match &self.kind {
            MonitorKind::Pid { resource } => Some(resource),
            _ => None,
        }
    }
}

/// MON-1: the monitor types. The engine implements `Pid` itself; the other probes are run by
/// the Host (issue: monitor catalogue), so their parameters are carried as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorKind {
    /// MON-10: watches the process of an async exec resource.
    Pid { resource: String },
    /// Read `read_size` bytes from a block device or file. With `write_test`, `path` is a
    /// folder on the mount point to check: a test file is written, synced, read back and removed.
    Disk {
        path: PathBuf,
        read_size: u32,
        direct: bool,
        write_test: bool,
    },
    /// Read from a raw device with O_DIRECT.
    Raw { path: PathBuf, read_size: u32 },
    /// ICMP echo; error when none of the addresses answers.
    Ip { addresses: Vec<String> },
    /// Link state of an interface.
    NicLink { interface: String },
    /// RAID-1: an md device name (at most 1023 bytes).
    SoftRaid { device: String },
    /// USW-1..8.
    UserSpace(UserSpace),
    /// Run a program: exit 0 = normal, `warning_exit_code` = warning, anything else = error.
    /// Runs with the monitor's nice value (MON-9).
    Custom {
        /// Absolute, resolved against the config folder when it was relative.
        program: PathBuf,
        args: Vec<String>,
        warning_exit_code: Option<i32>,
    },
    /// A TCP connect to `host:port`.
    Tcp { host: String, port: u16 },
    /// A plain HTTP/1.1 GET of `url` (`http://` only), which must answer `expect_status`.
    Http { url: String, expect_status: u16 },
    /// MTM-1: members and thresholds (counts of members in error).
    MultiTarget {
        members: Vec<String>,
        error_threshold: Option<u32>,
        warning_threshold: Option<u32>,
    },
}

/// USW-5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpace {
    pub method: WatchdogMethod,
    pub dummy_file: Option<DummyFile>,
    pub dummy_thread: bool,
}

/// USW-5 monitoring method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WatchdogMethod {
    Softdog,
    Ipmi,
    Keepalive,
    #[default]
    None,
}

/// USW-5 dummy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DummyFile {
    pub path: PathBuf,
    /// Bytes written each interval; `None` = open/close only.
    pub write_size: Option<u32>,
}

impl Config {
    /// The group that holds the exec resource `resource`.
    pub fn group_of(&self, resource: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.resource(resource).is_some())
    }

    /// The group called `name`.
    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// The exec resource called `name` (names are unique across groups).
    pub fn resource(&self, name: &str) -> Option<&ExecResource> {
        self.groups.iter().find_map(|g| g.resource(name))
    }

    /// The monitor called `name`.
    pub fn monitor(&self, name: &str) -> Option<&Monitor> {
        self.monitors.iter().find(|m| m.name == name)
    }
}
