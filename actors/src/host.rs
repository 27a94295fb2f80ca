//! The Host boundary: the only door from the engine to the operating system.
//!
//! The engine (actors, escalation, governor) never touches processes, files, clocks of the wall
//! or the machine's power directly; it asks a `Host`. Two hosts are first-class: `LinuxHost` in the
//! binary crate (real processes via tokio and nix) and [`crate::sim::SimulatedHost`] (scripted,
//! records every action). [`crate::fault::Faulty`] decorates either with injected faults.
//!
//! Safety rule: `os_action` only shuts down, reboots or resets the machine when the configuration
//! says `os_actions: Real`; every host decides that itself from the `OsActions` it was built with,
//! so the engine cannot bypass it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use upkeep_config::{Command, ExecContext, Monitor, UserSpace, WatchdogMethod};

/// A boxed, sendable future: the Host trait is used as `Arc<dyn Host>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitInfo {
    /// Exited on its own with this status code.
    Code(i32),
    /// Killed by this signal number.
    Signal(i32),
}

impl ExitInfo {
    pub fn success(self) -> bool {
        self == ExitInfo::Code(0)
    }
}

impl fmt::Display for ExitInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitInfo::Code(c) => write!(f, "exit code {c}"),
            ExitInfo::Signal(s) => write!(f, "signal {s}"),
        }
    }
}

/// How a script that runs to completion (sync start, stop) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptOutcome {
    Exited(ExitInfo),
    /// Still running at its timeout: its whole process group was killed.
    TimedOut,
    /// Could not be started at all (missing file, not executable, ...).
    SpawnFailed(String),
}

impl ScriptOutcome {
    pub fn success(&self) -> bool {
        matches!(self, ScriptOutcome::Exited(e) if e.success())
    }
}

impl fmt::Display for ScriptOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScriptOutcome::Exited(e) => write!(f, "{e}"),
            ScriptOutcome::TimedOut => write!(f, "timed out"),
            ScriptOutcome::SpawnFailed(why) => write!(f, "could not start: {why}"),
        }
    }
}

/// One run of a command: what to run, with which extra environment, for how long.
#[derive(Debug, Clone)]
pub struct ScriptRun {
    pub command: Command,
    /// UPKEEP_* variables (group, resource, event, reason), MAP-8.
    pub env: Vec<(String, String)>,
    /// Kill the process group when the script is still running after this long.
    pub timeout: Duration,
    /// SIGTERM first, SIGKILL after this grace.
    pub kill_grace: Duration,
    /// User, group, working directory, umask and environment policy (issue 9 §2).
    pub context: ExecContext,
}

/// What [`ProcessHandle::on_exit`] calls with the exit.
pub type ExitNotify = Box<dyn FnOnce(ExitInfo) + Send>;

/// A long-lived process the host started for an async exec resource (RES-11).
///
/// Dropping the handle kills the whole process group (SIGKILL): an actor that dies without its
/// `post_stop` (ractor skips it after a panic or a kill) must not leak its process.
pub trait ProcessHandle: Send + Sync {
    /// The process id (also its process group id).
    fn pid(&self) -> u32;
    /// Resolves once the process has exited and been reaped. May be called any number of times.
    fn wait(&self) -> BoxFuture<'static, ExitInfo>;
    /// Calls `notify` once with the exit once the process has exited and been reaped (at once if
    /// it has): how the engine hears of an exit without a task waiting per process (issue 14).
    /// It may run on any thread, so it must only hand the exit over (a cast), never block.
    fn on_exit(&self, notify: ExitNotify);
    /// SIGTERM to the process group, SIGKILL after `grace`; resolves when the leader is reaped.
    fn terminate(&self, grace: Duration) -> BoxFuture<'static, ExitInfo>;
    /// SIGKILL the process group now, as a crash would (`upkeep inject kill`); the exit is
    /// reported by `wait` as usual. `Err` when the process has already exited.
    fn kill(&self) -> Result<(), HostError>;
}

/// An OS-level action; only the RebootGovernor asks for one (DOWN-1..6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OsAction {
    /// Orderly OS shutdown (power off).
    Shutdown,
    /// Orderly OS reboot.
    Reboot,
    /// Immediate reset without an orderly shutdown (DOWN-5, DOWN-6).
    Reset,
}

impl fmt::Display for OsAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OsAction::Shutdown => "shutdown",
            OsAction::Reboot => "reboot",
            OsAction::Reset => "reset",
        })
    }
}

/// What the host did with an OS action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OsActionOutcome {
    /// The machine is going down.
    Performed,
    /// OS actions are simulated: recorded and logged as "would <action>".
    Simulated,
}

/// Verdict of one monitor check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Normal,
    /// Alert only, no recovery (RAID-2, MAP-12).
    Warning,
    Error,
}

/// Result of one probe run: verdict, the spec's return code where it has one, and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    pub verdict: Verdict,
    pub code: i32,
    pub message: String,
}

impl ProbeResult {
    pub fn normal() -> Self {
        ProbeResult {
            verdict: Verdict::Normal,
            code: 0,
            message: "Success.".into(),
        }
    }
    pub fn error(code: i32, message: impl Into<String>) -> Self {
        ProbeResult {
            verdict: Verdict::Error,
            code,
            message: message.into(),
        }
    }
}

/// Errors at the host boundary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("cannot start `{program}`: {reason}")]
    Spawn { program: String, reason: String },
    #[error("state file `{name}`: {reason}")]
    State { name: String, reason: String },
    #[error("{action} failed: {reason}")]
    OsAction { action: OsAction, reason: String },
    #[error("monitor `{monitor}`: {reason}")]
    Probe { monitor: String, reason: String },
    #[error("process {pid}: {reason}")]
    Process { pid: u32, reason: String },
    #[error("watchdog {method:?}: {reason}")]
    Watchdog {
        method: WatchdogMethod,
        reason: String,
    },
}

/// The longest a host's `os_action` may take, every fallback included. Timeouts nest: the engine
/// waits for the governor's `Perform` longer than this, so it always learns how the action ended
/// (and the daemon can exit non-zero when it failed), and a host bounds each of its steps so that
/// together they end within it.
pub const OS_ACTION_TIMEOUT: Duration = Duration::from_secs(60);

// The host is split into capabilities, none with a default method: a decorator (`Faulty`) or a
// new host that forgets one does not compile, instead of silently falling back to a default
// (the way `Faulty` once dropped the watchdog: issue 8, defect 3). The actors share
// `Arc<dyn EngineHost>`, which has neither `Power` nor `Watchdogs`: only the RebootGovernor holds
// the power (through `governor::PowerDoor`) and only the user-space monitor the watchdog
// (through `userspace::WatchdogDoor`).

/// Scripts and long-lived processes (RES-11, MAP-8).
pub trait Processes: Send + Sync + 'static {
    /// Run a command to completion (sync start script, stop script), killing its process group
    /// at the timeout.
    fn run_script(&self, run: ScriptRun) -> BoxFuture<'static, ScriptOutcome>;

    /// Start a long-lived process in its own process group (async start script).
    fn spawn(&self, run: ScriptRun) -> Result<Box<dyn ProcessHandle>, HostError>;

    /// The resource `resource` of `group` is stopped (its process terminated, its stop script
    /// run): stop whatever its scripts left running (SIGTERM, SIGKILL after `grace`) and free
    /// what contained them. Resolves when nothing of the resource runs any more; a host that
    /// cannot find such leftovers resolves at once.
    fn release(&self, group: &str, resource: &str, grace: Duration) -> BoxFuture<'static, ()>;
}

/// The checks of monitors and of the user-space monitor.
pub trait Probes: Send + Sync + 'static {
    /// Run one check of a monitor that is not the pid monitor (disk, ip, nic_link, ...).
    /// The caller bounds it with the monitor's timeout.
    fn probe(&self, monitor: &Monitor) -> BoxFuture<'static, ProbeResult>;

    /// One user-space liveness cycle (USW-5): open/close (and write) the dummy file, create
    /// the dummy thread. `Err` says what failed.
    fn userspace_check(&self, spec: &UserSpace) -> BoxFuture<'static, Result<(), String>>;
}

/// The small files that must survive a reboot (the reboot count, CFG-5..9).
pub trait StateFiles: Send + Sync + 'static {
    /// Read a small state file from the state folder; `Ok(None)` when it does not exist.
    fn load_state(&self, name: &str) -> BoxFuture<'static, Result<Option<Vec<u8>>, HostError>>;

    /// Replace a state file atomically and durably (write temp, fsync, rename, fsync folder).
    fn store_state(&self, name: &str, bytes: Vec<u8>) -> BoxFuture<'static, Result<(), HostError>>;

    /// Move a damaged state file aside for inspection; returns where it went.
    fn quarantine_state(&self, name: &str) -> BoxFuture<'static, Result<String, HostError>>;
}

/// Where and when: the wall clock and the server's name. Everything else in the engine runs on
/// tokio's clock, so that tests can pause it.
pub trait Clock: Send + Sync + 'static {
    /// Wall-clock time: the reboot-count reset window must survive reboots, so it cannot use
    /// the monotonic clock.
    fn now_wall(&self) -> SystemTime;

    /// This server's name (TRB-12: `Server <name> up.`).
    fn hostname(&self) -> String;
}

/// Shutting down, rebooting or resetting the machine (DOWN-1..6). Held by the RebootGovernor
/// alone.
pub trait Power: Send + Sync + 'static {
    /// Shut down, reboot or reset the machine, or record that it would (simulated). Resolves
    /// within [`OS_ACTION_TIMEOUT`], accepted or failed.
    fn os_action(&self, action: OsAction)
        -> BoxFuture<'static, Result<OsActionOutcome, HostError>>;
}

/// The hardware watchdog (USW-5). Held by the user-space monitor alone: a watchdog resets the
/// machine when it is not fed, so it is a power capability too.
pub trait Watchdogs: Send + Sync + 'static {
    /// Open the watchdog of the user-space monitor (USW-5): `softdog` (/dev/watchdog), `ipmi`.
    /// A real device is opened only when OS actions are real; otherwise the host gives a
    /// simulated one that records the reset it would cause. Method `none` never gets here.
    fn open_watchdog(
        &self,
        method: WatchdogMethod,
        timeout: Duration,
    ) -> Result<Box<dyn Watchdog>, HostError>;
}

/// What every actor of the tree may use: everything but the power and the watchdog.
pub trait EngineHost: Processes + Probes + StateFiles + Clock {}
impl<T: Processes + Probes + StateFiles + Clock> EngineHost for T {}

/// A whole host, as the daemon and the tests build it and hand it to `Engine::start`.
pub trait Host: EngineHost + Power + Watchdogs {}
impl<T: EngineHost + Power + Watchdogs> Host for T {}

/// An open watchdog: fed every cycle; closed with the magic close on an orderly stop so it does
/// not fire (USW-5, DOWN-5, DOWN-6). Dropping it without `close` leaves it armed, as closing
/// /dev/watchdog without the magic character does: that is what lets a hung shutdown be reset.
pub trait Watchdog: Send + Sync {
    /// Keep-alive: the machine is reset if this stops for longer than the timeout.
    fn feed(&self) -> Result<(), HostError>;
    /// Disarm (magic close). After this, `feed` is not called again.
    fn close(&self) -> Result<(), HostError>;
}
