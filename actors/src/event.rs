//! Events: one typed event per step of the engine (MSG-5, MSG-6, TRB-10..17).
//!
//! Every event carries the seed's module type (`pm`, `rc`, `rm`, `nm`) and event id, and renders
//! the seed's text where the spec quotes one (`<type: rc><event: 30> The start processing of a
//! resource exec1 started.`). The ids the spec leaves open (MAP-1) are ours and listed in
//! docs/EVENTS.md; they never reuse a quoted id for another meaning.
//!
//! [`Events`] is the single feed: it numbers each event, keeps a ring of recent ones for
//! `upkeep events`, fans out to subscribers (tests, alert routing, the control socket) and writes
//! the log line through `tracing`. Publishing is synchronous so the order a user sees is exactly
//! the causal order in which the engine took its steps.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::broadcast;

use upkeep_config::{ActivationFinalAction, DeactivationFinalAction, MonitorFinalAction};

use crate::daemon::DaemonAction;
use crate::host::{ExitInfo, OsAction};

/// The seed's module types (MSG-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Module {
    /// Process manager: the daemon itself.
    Pm,
    /// Resource control: groups and exec resources.
    Rc,
    /// Resource monitor: monitors.
    Rm,
    /// Node management: the server.
    Nm,
}

impl Module {
    pub fn as_str(self) -> &'static str {
        match self {
            Module::Pm => "pm",
            Module::Rc => "rc",
            Module::Rm => "rm",
            Module::Nm => "nm",
        }
    }
}

/// How serious an event is; maps to syslog levels later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Info,
    Warning,
    Error,
}

/// Which phase of an exec resource failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    Activation,
    Deactivation,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Activation => "activation",
            Phase::Deactivation => "deactivation",
        })
    }
}

/// Why the reboot governor refused a shutdown or reboot (pm 21, CFG-9, MAP-6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// CFG-6: the count reached the maximum.
    Limit,
    /// The persisted state was found damaged at `since`; until a quiet reset window passes it
    /// counts as the limit reached. `note` says what was wrong and where the file was kept.
    Damaged { since: SystemTime, note: String },
    /// The count could not be written durably, and an action is never taken uncounted.
    NotWritten { reason: String },
}

/// A final action, one typed value whatever took it (RES-4, RES-5, MON-13, HWM-6, DOWN-3),
/// shown to operators by its configured name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalAction {
    Activation(ActivationFinalAction),
    Deactivation(DeactivationFinalAction),
    Monitor(MonitorFinalAction),
    Daemon(DaemonAction),
}

impl FinalAction {
    /// The name as the configuration spells it.
    pub fn name(self) -> &'static str {
        use ActivationFinalAction as A;
        use DeactivationFinalAction as D;
        use MonitorFinalAction as M;
        match self {
            FinalAction::Activation(a) => match a {
                A::NoOpActivateNext => "NoOpActivateNext",
                A::NoOpStopChain => "NoOpStopChain",
                A::StopGroup => "StopGroup",
                A::StopDaemon => "StopDaemon",
                A::StopDaemonShutdown => "StopDaemonShutdown",
                A::StopDaemonReboot => "StopDaemonReboot",
            },
            FinalAction::Deactivation(d) => match d {
                D::NoOpDeactivateNext => "NoOpDeactivateNext",
                D::NoOpStopChain => "NoOpStopChain",
                D::StopDaemonShutdown => "StopDaemonShutdown",
                D::StopDaemonReboot => "StopDaemonReboot",
            },
            FinalAction::Monitor(m) => match m {
                M::NoOp => "NoOp",
                M::StopGroup => "StopGroup",
                M::StopDaemon => "StopDaemon",
                M::StopDaemonShutdown => "StopDaemonShutdown",
                M::StopDaemonReboot => "StopDaemonReboot",
            },
            FinalAction::Daemon(d) => d.name(),
        }
    }
}

impl fmt::Display for FinalAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything the engine reports. Names are the configured object names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    // --- pm: the daemon ---
    /// TRB-10.
    DaemonStarted,
    DaemonStopping {
        reason: String,
    },
    DaemonStopped,
    Suspended,
    Resumed,
    /// A core actor (rc, rm) crashed and was restarted within its budget.
    CoreRestarted {
        actor: String,
        reason: String,
    },
    /// DOWN-3: a core actor kept crashing.
    CoreFailed {
        actor: String,
        reason: String,
    },
    /// A final action that stops the daemon or the OS is being carried out.
    FinalActionStarted {
        origin: String,
        action: FinalAction,
    },
    /// Reboot limit (CFG-5..9): the final action is refused.
    FinalActionRefused {
        origin: String,
        action: FinalAction,
        count: u32,
        max: u32,
        why: Refusal,
    },
    /// The OS action was performed (or, simulated, would have been).
    OsAction {
        action: OsAction,
        simulated: bool,
        count: u32,
        max: u32,
    },
    OsActionFailed {
        action: OsAction,
        reason: String,
    },
    /// CFG-7: a quiet reset window passed; `damaged` if it ended a damaged state.
    RebootCountReset {
        previous: u32,
        damaged: bool,
    },
    /// The persisted reboot count could not be read; treated as "limit reached" (safety).
    RebootStateDamaged {
        reason: String,
        kept_at: String,
    },
    /// The reboot count state could not be written; no reboot is granted until it can be.
    RebootStateWriteFailed {
        reason: String,
    },

    // --- nm: the server ---
    /// TRB-12.
    ServerUp {
        server: String,
    },

    // --- rc: groups and exec resources ---
    /// TRB-13.
    GroupStartBegin {
        group: String,
    },
    /// TRB-16.
    GroupStartEnd {
        group: String,
    },
    GroupStartFailed {
        group: String,
    },
    GroupStopBegin {
        group: String,
    },
    GroupStopEnd {
        group: String,
    },
    GroupStopFailed {
        group: String,
    },
    /// TRB-14.
    ResourceStartBegin {
        resource: String,
    },
    /// TRB-15.
    ResourceStartEnd {
        resource: String,
    },
    ResourceStopBegin {
        resource: String,
    },
    ResourceStopEnd {
        resource: String,
    },
    /// A start or stop script failed; `detail` says how.
    ResourceFailed {
        resource: String,
        phase: Phase,
        detail: String,
    },
    ResourceRetry {
        resource: String,
        phase: Phase,
        attempt: u32,
        of: u32,
    },
    /// RES-4 / RES-5 final action taken.
    ResourceFinalAction {
        resource: String,
        phase: Phase,
        action: FinalAction,
    },
    /// Resources not activated / not deactivated because of a chain stop (RES-4 #2, RES-5 #2).
    ResourceSkipped {
        resource: String,
        phase: Phase,
        because: String,
    },
    /// The async process of a resource exited while the resource was active.
    ProcessExited {
        resource: String,
        pid: u32,
        exit: ExitInfo,
    },

    // --- rm: monitors ---
    /// TRB-17.
    MonitorStart {
        monitor: String,
    },
    MonitorStop {
        monitor: String,
    },
    /// A check found a problem; `failures` of `needed` to declare an error (MON-5).
    MonitorCheckFailed {
        monitor: String,
        failures: u32,
        needed: u32,
        detail: String,
    },
    MonitorWarning {
        monitor: String,
        detail: String,
    },
    MonitorRecovered {
        monitor: String,
    },
    /// MON-16 step 3: an error is declared.
    MonitorError {
        monitor: String,
        detail: String,
    },
    /// MON-14: the target is not active, so nothing is done.
    RecoverySkipped {
        monitor: String,
        target: String,
    },
    /// MON-11: reactivation `attempt` of `of`.
    Reactivation {
        monitor: String,
        target: String,
        attempt: u32,
        of: u32,
    },
    ReactivationFailed {
        monitor: String,
        target: String,
    },
    /// upkeep's restart backoff (issue 9): the reactivation waits `delay`.
    ReactivationDelayed {
        monitor: String,
        target: String,
        delay: Duration,
        attempt: u32,
        of: u32,
    },
    /// upkeep's start limit (issue 9): more than `burst` reactivations within `window`, so the
    /// reactivations count as failed and the final action follows.
    StartLimitReached {
        monitor: String,
        target: String,
        burst: u32,
        window: Duration,
    },
    /// MON-15.
    ReactivationCountReset {
        monitor: String,
    },
    /// MON-13 / HWM-6 final action taken.
    MonitorFinalAction {
        monitor: String,
        action: FinalAction,
    },
    MonitorsSuspended,
    MonitorsResumed,
    /// An actor below rc or rm crashed (panic or kill) and its supervisor restarted it. The
    /// module is the subtree's: `rc` below rc, `rm` below rm.
    ActorRestarted {
        actor: String,
        reason: String,
    },
    /// An actor below rc or rm crashed more often than its supervisor's restart intensity
    /// allows: the supervisor gives up and escalates (docs/ARCHITECTURE.md, "Supervision").
    ActorGaveUp {
        actor: String,
        reason: String,
    },
    /// `upkeep down [--reboot]` (CMD-3): manual, so not counted by the governor (MAP-6).
    ManualDown {
        action: OsAction,
    },
    /// A configuration was applied while running (APPLY-2).
    ConfigApplied {
        method: String,
    },
    /// OPS-4 for one monitor (`upkeep monitor suspend NAME [--for D]`).
    MonitorSuspended {
        monitor: String,
        until: Option<String>,
    },
    MonitorResumed {
        monitor: String,
    },
    /// A check took more than `percent` % of its timeout.
    MonitorDelay {
        monitor: String,
        timeout_s: u64,
        actual_ms: u64,
        percent: u8,
    },
    /// MTM-1: a member's own recovery is held; its multi-target monitor decides.
    MonitorHeld {
        monitor: String,
        by: String,
    },
}

impl EventKind {
    /// The seed's module type of this event.
    pub fn module(&self) -> Module {
        use EventKind::*;
        match self {
            ActorRestarted { actor, .. } | ActorGaveUp { actor, .. } => {
                match actor.split('/').next() {
                    Some("rm") => Module::Rm,
                    _ => Module::Rc,
                }
            }
            DaemonStarted
            | DaemonStopping { .. }
            | DaemonStopped
            | Suspended
            | Resumed
            | CoreRestarted { .. }
            | CoreFailed { .. }
            | FinalActionStarted { .. }
            | FinalActionRefused { .. }
            | OsAction { .. }
            | OsActionFailed { .. }
            | RebootCountReset { .. }
            | RebootStateDamaged { .. }
            | RebootStateWriteFailed { .. }
            | ManualDown { .. }
            | ConfigApplied { .. } => Module::Pm,
            ServerUp { .. } => Module::Nm,
            GroupStartBegin { .. }
            | GroupStartEnd { .. }
            | GroupStartFailed { .. }
            | GroupStopBegin { .. }
            | GroupStopEnd { .. }
            | GroupStopFailed { .. }
            | ResourceStartBegin { .. }
            | ResourceStartEnd { .. }
            | ResourceStopBegin { .. }
            | ResourceStopEnd { .. }
            | ResourceFailed { .. }
            | ResourceRetry { .. }
            | ResourceFinalAction { .. }
            | ResourceSkipped { .. }
            | ProcessExited { .. } => Module::Rc,
            MonitorStart { .. }
            | MonitorStop { .. }
            | MonitorCheckFailed { .. }
            | MonitorWarning { .. }
            | MonitorRecovered { .. }
            | MonitorError { .. }
            | RecoverySkipped { .. }
            | Reactivation { .. }
            | ReactivationFailed { .. }
            | ReactivationDelayed { .. }
            | StartLimitReached { .. }
            | ReactivationCountReset { .. }
            | MonitorFinalAction { .. }
            | MonitorsSuspended
            | MonitorsResumed
            | MonitorSuspended { .. }
            | MonitorResumed { .. }
            | MonitorDelay { .. }
            | MonitorHeld { .. } => Module::Rm,
        }
    }

    /// The event id within its module. Ids quoted by the spec (TRB-10..17) are kept; the others
    /// are ours (docs/EVENTS.md).
    pub fn id(&self) -> u32 {
        use EventKind::*;
        match self {
            DaemonStarted => 1,
            DaemonStopping { .. } => 2,
            DaemonStopped => 3,
            Suspended => 4,
            Resumed => 5,
            CoreRestarted { .. } => 10,
            CoreFailed { .. } => 11,
            FinalActionStarted { .. } => 20,
            FinalActionRefused { .. } => 21,
            OsAction { .. } => 22,
            OsActionFailed { .. } => 23,
            RebootCountReset { .. } => 24,
            RebootStateDamaged { .. } => 25,
            ManualDown { .. } => 26,
            RebootStateWriteFailed { .. } => 27,
            ConfigApplied { .. } => 30,
            ServerUp { .. } => 1,
            GroupStartBegin { .. } => 10,
            GroupStartEnd { .. } => 11,
            GroupStartFailed { .. } => 12,
            GroupStopBegin { .. } => 20,
            GroupStopEnd { .. } => 21,
            GroupStopFailed { .. } => 22,
            ResourceStartBegin { .. } => 30,
            ResourceStartEnd { .. } => 31,
            ResourceFailed {
                phase: Phase::Activation,
                ..
            } => 32,
            ResourceRetry {
                phase: Phase::Activation,
                ..
            } => 33,
            ResourceFinalAction {
                phase: Phase::Activation,
                ..
            } => 34,
            ResourceSkipped {
                phase: Phase::Activation,
                ..
            } => 35,
            ResourceStopBegin { .. } => 40,
            ResourceStopEnd { .. } => 41,
            ResourceFailed {
                phase: Phase::Deactivation,
                ..
            } => 42,
            ResourceRetry {
                phase: Phase::Deactivation,
                ..
            } => 43,
            ResourceFinalAction {
                phase: Phase::Deactivation,
                ..
            } => 44,
            ResourceSkipped {
                phase: Phase::Deactivation,
                ..
            } => 45,
            ProcessExited { .. } => 50,
            MonitorStart { .. } => 1,
            MonitorStop { .. } => 2,
            MonitorCheckFailed { .. } => 3,
            MonitorWarning { .. } => 4,
            MonitorRecovered { .. } => 5,
            MonitorError { .. } => 9,
            RecoverySkipped { .. } => 10,
            Reactivation { .. } => 11,
            ReactivationFailed { .. } => 12,
            ReactivationCountReset { .. } => 13,
            MonitorFinalAction { .. } => 14,
            MonitorsSuspended => 20,
            MonitorsResumed => 21,
            ActorRestarted { actor, .. } | ActorGaveUp { actor, .. } => {
                let below_rm = actor.starts_with("rm/");
                match (self, below_rm) {
                    (ActorRestarted { .. }, true) => 30,
                    (_, true) => 31,
                    (ActorRestarted { .. }, false) => 60,
                    (_, false) => 61,
                }
            }
            MonitorSuspended { .. } => 22,
            MonitorResumed { .. } => 23,
            MonitorDelay { .. } => 71,
            MonitorHeld { .. } => 15,
            ReactivationDelayed { .. } => 16,
            StartLimitReached { .. } => 17,
        }
    }

    /// How serious this event is.
    pub fn level(&self) -> Level {
        use EventKind::*;
        match self {
            CoreRestarted { .. }
            | MonitorDelay { .. }
            | MonitorHeld { .. }
            | MonitorCheckFailed { .. }
            | MonitorWarning { .. }
            | ResourceRetry { .. }
            | ResourceSkipped { .. }
            | ProcessExited { .. }
            | RecoverySkipped { .. }
            | Reactivation { .. }
            | ReactivationDelayed { .. }
            | ActorRestarted { .. }
            | FinalActionStarted { .. }
            | OsAction { .. }
            | DaemonStopping { .. }
            | MonitorsSuspended
            | Suspended => Level::Warning,
            CoreFailed { .. }
            | ActorGaveUp { .. }
            | FinalActionRefused { .. }
            | OsActionFailed { .. }
            | RebootStateDamaged { .. }
            | RebootStateWriteFailed { .. }
            | GroupStartFailed { .. }
            | GroupStopFailed { .. }
            | ResourceFailed { .. }
            | ResourceFinalAction { .. }
            | MonitorError { .. }
            | ReactivationFailed { .. }
            | StartLimitReached { .. }
            | MonitorFinalAction { .. } => Level::Error,
            _ => Level::Info,
        }
    }
}

/// `5s`, or `1500ms` when not a whole number of seconds.
struct ShortDuration(Duration);

impl fmt::Display for ShortDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.subsec_nanos() == 0 {
            write!(f, "{}s", self.0.as_secs())
        } else {
            write!(f, "{}ms", self.0.as_millis())
        }
    }
}

impl fmt::Display for EventKind {
    /// The event's text, without the `<type: ..><event: ..>` prefix.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use EventKind::*;
        match self {
            DaemonStarted => write!(f, "Cluster daemon has started properly..."),
            DaemonStopping { reason } => write!(f, "Cluster daemon is stopping. ({reason})"),
            DaemonStopped => write!(f, "Cluster daemon has stopped."),
            Suspended => write!(f, "Cluster daemon has been suspended."),
            Resumed => write!(f, "Cluster daemon has been resumed."),
            CoreRestarted { actor, reason } => {
                write!(f, "Internal process {actor} terminated abnormally and was restarted. ({reason})")
            }
            CoreFailed { actor, reason } => write!(
                f,
                "Internal process {actor} terminated abnormally too often; emergency shutdown. ({reason})"
            ),
            FinalActionStarted { origin, action } => {
                write!(f, "Final action of {origin} ({action}) is being executed.")
            }
            FinalActionRefused { origin, action, count, max, why: Refusal::Limit } => write!(
                f,
                "Reboot count {count} has reached the maximum of {max}. Final action of {origin} ({action}) will not be executed."
            ),
            FinalActionRefused { origin, action, why: Refusal::Damaged { since, note }, .. } => write!(
                f,
                "Reboot count state is damaged since {} ({note}); treated as the limit reached. Final action of {origin} ({action}) will not be executed.",
                rfc3339(*since)
            ),
            FinalActionRefused { origin, action, why: Refusal::NotWritten { reason }, .. } => write!(
                f,
                "Reboot count could not be written ({reason}). Final action of {origin} ({action}) will not be executed."
            ),
            OsAction { action, simulated: true, count, max } => write!(
                f,
                "OS actions are simulated: would {action} now. (reboot count {count}/{max})"
            ),
            OsAction { action, simulated: false, count, max } => {
                write!(f, "The OS will {action} now. (reboot count {count}/{max})")
            }
            OsActionFailed { action, reason } => write!(f, "Failed to {action} the OS. ({reason})"),
            RebootCountReset { damaged: false, previous } => write!(
                f,
                "Reboot count was reset to 0 (was {previous}): no error within the reset time."
            ),
            RebootCountReset { damaged: true, .. } => write!(
                f,
                "Reboot count was reset to 0 (was damaged): no error within the reset time."
            ),
            RebootStateDamaged { reason, kept_at } => write!(
                f,
                "Reboot count could not be read ({reason}); kept at {kept_at}. Treated as the limit reached until the reset time passes."
            ),
            RebootStateWriteFailed { reason } => write!(
                f,
                "Reboot count could not be written ({reason}). No shutdown or reboot is permitted until it is written."
            ),
            ServerUp { server } => write!(f, "Server {server} up."),
            GroupStartBegin { group } => write!(f, "The start processing of a group {group} started."),
            GroupStartEnd { group } => write!(f, "The start processing of a group {group} ended."),
            GroupStartFailed { group } => write!(f, "The start processing of a group {group} failed."),
            GroupStopBegin { group } => write!(f, "The stop processing of a group {group} started."),
            GroupStopEnd { group } => write!(f, "The stop processing of a group {group} ended."),
            GroupStopFailed { group } => write!(f, "The stop processing of a group {group} failed."),
            ResourceStartBegin { resource } => {
                write!(f, "The start processing of a resource {resource} started.")
            }
            ResourceStartEnd { resource } => {
                write!(f, "The start processing of a resource {resource} ended.")
            }
            ResourceStopBegin { resource } => {
                write!(f, "The stop processing of a resource {resource} started.")
            }
            ResourceStopEnd { resource } => {
                write!(f, "The stop processing of a resource {resource} ended.")
            }
            ResourceFailed { resource, phase: Phase::Activation, detail } => {
                write!(f, "Failed to start the resource {resource}. ({detail})")
            }
            ResourceFailed { resource, phase: Phase::Deactivation, detail } => {
                write!(f, "Failed to stop the resource {resource}. ({detail})")
            }
            ResourceRetry { resource, phase, attempt, of } => {
                write!(f, "Retrying {phase} of the resource {resource}. ({attempt}/{of})")
            }
            ResourceFinalAction { resource, phase, action } => {
                write!(f, "Final action of {phase} failure of the resource {resource}: {action}.")
            }
            ResourceSkipped { resource, phase, because } => write!(
                f,
                "The resource {resource} was not {}, because {because}.",
                match phase {
                    Phase::Activation => "activated",
                    Phase::Deactivation => "deactivated",
                }
            ),
            ProcessExited { resource, pid, exit } => {
                write!(f, "The process of the resource {resource} (pid {pid}) ended with {exit}.")
            }
            MonitorStart { monitor } => write!(f, "Monitor {monitor} start."),
            MonitorStop { monitor } => write!(f, "Monitor {monitor} stop."),
            MonitorCheckFailed { monitor, failures, needed, detail } => {
                write!(f, "Monitor {monitor} detected a failure ({failures}/{needed}). ({detail})")
            }
            MonitorWarning { monitor, detail } => write!(f, "Monitor {monitor} warn .({detail})"),
            MonitorRecovered { monitor } => write!(f, "Monitor {monitor} is normal again."),
            MonitorError { monitor, detail } => write!(f, "Monitor {monitor} failed. ({detail})"),
            RecoverySkipped { monitor, target } => write!(
                f,
                "Recovery target {target} of monitor {monitor} is not active, so no recovery action is taken."
            ),
            Reactivation { monitor, target, attempt, of } => write!(
                f,
                "Monitor {monitor} reactivates the recovery target {target}. ({attempt}/{of})"
            ),
            ReactivationFailed { monitor, target } => {
                write!(f, "Reactivation of {target} requested by monitor {monitor} failed.")
            }
            ReactivationDelayed { monitor, target, delay, attempt, of } => write!(
                f,
                "Monitor {monitor} reactivates the recovery target {target} in {}, because it failed again soon after its last reactivation. ({attempt}/{of})",
                ShortDuration(*delay)
            ),
            StartLimitReached { monitor, target, burst, window } => write!(
                f,
                "Recovery target {target} of monitor {monitor} was reactivated more than {burst} times within {}: the reactivations have failed.",
                ShortDuration(*window)
            ),
            ReactivationCountReset { monitor } => {
                write!(f, "Monitor {monitor} is normal after reactivation: reactivation count reset.")
            }
            MonitorFinalAction { monitor, action } => {
                write!(f, "Final action of monitor {monitor}: {action}.")
            }
            MonitorsSuspended => write!(f, "All monitors have been suspended."),
            MonitorsResumed => write!(f, "All monitors have been resumed."),
            ActorRestarted { actor, reason } => write!(
                f,
                "Internal process {actor} terminated abnormally and was restarted. ({reason})"
            ),
            ActorGaveUp { actor, reason } => write!(
                f,
                "Internal process {actor} terminated abnormally too often; its supervisor gives up. ({reason})"
            ),
            MonitorSuspended { monitor, until: None } => write!(f, "Monitor {monitor} suspended."),
            MonitorSuspended { monitor, until: Some(until) } => {
                write!(f, "Monitor {monitor} suspended until {until}.")
            }
            MonitorResumed { monitor } => write!(f, "Monitor {monitor} resumed."),
            MonitorDelay { monitor, timeout_s, actual_ms, percent } => write!(
                f,
                "Detected a monitor delay in monitor {monitor}. (timeout={timeout_s}s actual-time={actual_ms}ms delay warning rate={percent}%)"
            ),
            MonitorHeld { monitor, by } => write!(
                f,
                "Recovery of monitor {monitor} is held: multi-target monitor {by} decides."
            ),
            ManualDown { action } => write!(
                f,
                "Manual {action} requested: the daemon stops its groups, then the OS will {action}."
            ),
            ConfigApplied { method } => write!(f, "The configuration was applied ({method})."),
        }
    }
}

/// An event's named values, for message templates (MSG-2: the admin's `MSG=` text names them as
/// `{resource}`, `{monitor}`, …) and for the program channel's environment. Where the engine's
/// text varies by more than a name (pm 21's reason, pm 22's simulation, pm 24's damage, rm 22's
/// end time) the varying words are one value, so one template per id reproduces the text.
impl EventKind {
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        use EventKind::*;
        let s = |v: &dyn fmt::Display| v.to_string();
        match self {
            DaemonStarted | DaemonStopped | Suspended | Resumed | MonitorsSuspended
            | MonitorsResumed => vec![],
            DaemonStopping { reason } => vec![("reason", reason.clone())],
            CoreRestarted { actor, reason }
            | CoreFailed { actor, reason }
            | ActorRestarted { actor, reason }
            | ActorGaveUp { actor, reason } => {
                vec![("actor", actor.clone()), ("reason", reason.clone())]
            }
            FinalActionStarted { origin, action } => {
                vec![("origin", origin.clone()), ("action", s(action))]
            }
            FinalActionRefused {
                origin,
                action,
                count,
                max,
                why,
            } => {
                let why = match why {
                    Refusal::Limit => {
                        format!("Reboot count {count} has reached the maximum of {max}.")
                    }
                    Refusal::Damaged { since, note } => format!(
                        "Reboot count state is damaged since {} ({note}); treated as the limit reached.",
                        rfc3339(*since)
                    ),
                    Refusal::NotWritten { reason } => {
                        format!("Reboot count could not be written ({reason}).")
                    }
                };
                vec![
                    ("origin", origin.clone()),
                    ("action", s(action)),
                    ("count", s(count)),
                    ("max", s(max)),
                    ("why", why),
                ]
            }
            OsAction {
                action,
                simulated,
                count,
                max,
            } => {
                let what = if *simulated {
                    format!("OS actions are simulated: would {action} now.")
                } else {
                    format!("The OS will {action} now.")
                };
                vec![
                    ("action", s(action)),
                    ("what", what),
                    ("count", s(count)),
                    ("max", s(max)),
                ]
            }
            OsActionFailed { action, reason } => {
                vec![("action", s(action)), ("reason", reason.clone())]
            }
            RebootCountReset { previous, damaged } => vec![(
                "previous",
                if *damaged {
                    "damaged".to_owned()
                } else {
                    s(previous)
                },
            )],
            RebootStateDamaged { reason, kept_at } => {
                vec![("reason", reason.clone()), ("kept_at", kept_at.clone())]
            }
            RebootStateWriteFailed { reason } => vec![("reason", reason.clone())],
            ServerUp { server } => vec![("server", server.clone())],
            GroupStartBegin { group }
            | GroupStartEnd { group }
            | GroupStartFailed { group }
            | GroupStopBegin { group }
            | GroupStopEnd { group }
            | GroupStopFailed { group } => vec![("group", group.clone())],
            ResourceStartBegin { resource }
            | ResourceStartEnd { resource }
            | ResourceStopBegin { resource }
            | ResourceStopEnd { resource } => vec![("resource", resource.clone())],
            ResourceFailed {
                resource,
                phase,
                detail,
            } => vec![
                ("resource", resource.clone()),
                ("phase", s(phase)),
                ("detail", detail.clone()),
            ],
            ResourceRetry {
                resource,
                phase,
                attempt,
                of,
            } => vec![
                ("resource", resource.clone()),
                ("phase", s(phase)),
                ("attempt", s(attempt)),
                ("of", s(of)),
            ],
            ResourceFinalAction {
                resource,
                phase,
                action,
            } => vec![
                ("resource", resource.clone()),
                ("phase", s(phase)),
                ("action", s(action)),
            ],
            ResourceSkipped {
                resource,
                phase,
                because,
            } => vec![
                ("resource", resource.clone()),
                ("phase", s(phase)),
                ("because", because.clone()),
            ],
            ProcessExited {
                resource,
                pid,
                exit,
            } => vec![
                ("resource", resource.clone()),
                ("pid", s(pid)),
                ("exit", s(exit)),
            ],
            MonitorStart { monitor }
            | MonitorStop { monitor }
            | MonitorRecovered { monitor }
            | ReactivationCountReset { monitor }
            | MonitorResumed { monitor } => vec![("monitor", monitor.clone())],
            MonitorCheckFailed {
                monitor,
                failures,
                needed,
                detail,
            } => vec![
                ("monitor", monitor.clone()),
                ("failures", s(failures)),
                ("needed", s(needed)),
                ("detail", detail.clone()),
            ],
            MonitorWarning { monitor, detail } | MonitorError { monitor, detail } => {
                vec![("monitor", monitor.clone()), ("detail", detail.clone())]
            }
            RecoverySkipped { monitor, target } | ReactivationFailed { monitor, target } => {
                vec![("monitor", monitor.clone()), ("target", target.clone())]
            }
            Reactivation {
                monitor,
                target,
                attempt,
                of,
            } => vec![
                ("monitor", monitor.clone()),
                ("target", target.clone()),
                ("attempt", s(attempt)),
                ("of", s(of)),
            ],
            ReactivationDelayed {
                monitor,
                target,
                delay,
                attempt,
                of,
            } => vec![
                ("monitor", monitor.clone()),
                ("target", target.clone()),
                ("delay", s(&ShortDuration(*delay))),
                ("attempt", s(attempt)),
                ("of", s(of)),
            ],
            StartLimitReached {
                monitor,
                target,
                burst,
                window,
            } => vec![
                ("monitor", monitor.clone()),
                ("target", target.clone()),
                ("burst", s(burst)),
                ("window", s(&ShortDuration(*window))),
            ],
            MonitorFinalAction { monitor, action } => {
                vec![("monitor", monitor.clone()), ("action", s(action))]
            }
            ManualDown { action } => vec![("action", s(action))],
            ConfigApplied { method } => vec![("method", method.clone())],
            MonitorSuspended { monitor, until } => vec![
                ("monitor", monitor.clone()),
                (
                    "until",
                    until
                        .as_ref()
                        .map(|u| format!(" until {u}"))
                        .unwrap_or_default(),
                ),
            ],
            MonitorDelay {
                monitor,
                timeout_s,
                actual_ms,
                percent,
            } => vec![
                ("monitor", monitor.clone()),
                ("timeout_s", s(timeout_s)),
                ("actual_ms", s(actual_ms)),
                ("percent", s(percent)),
            ],
            MonitorHeld { monitor, by } => {
                vec![("monitor", monitor.clone()), ("by", by.clone())]
            }
        }
    }
}

/// A time in an event's text: RFC 3339 UTC, whole seconds. Total on any `SystemTime`: times
/// outside what RFC 3339 shows (before 1970, after 9999) are shown at the nearest end.
fn rfc3339(at: SystemTime) -> String {
    let latest = UNIX_EPOCH + Duration::from_secs(crate::governor::LATEST_SECS);
    humantime::format_rfc3339_seconds(at.clamp(UNIX_EPOCH, latest)).to_string()
}

/// One published event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Position in the feed, from 1; never reused within a daemon's life.
    pub seq: u64,
    pub at: SystemTime,
    pub kind: EventKind,
}

impl Event {
    /// The seed's syslog body (MSG-6): `<type: rc><event: 30> The start processing ...`.
    pub fn line(&self) -> String {
        format!(
            "<type: {}><event: {}> {}",
            self.kind.module().as_str(),
            self.kind.id(),
            self.kind
        )
    }
}

/// How many past events the feed keeps for late readers.
const RING: usize = 4096;
/// How far a live subscriber may fall behind before it is told it lagged (it can then re-read
/// the ring). tokio's broadcast allocates and initialises every slot up front, so this is kept
/// smaller than the ring.
const LIVE: usize = 1024;

struct Feed {
    seq: u64,
    ring: VecDeque<Event>,
}

/// The event feed; cheap to clone, shared by every actor of one daemon.
#[derive(Clone)]
pub struct Events {
    feed: Arc<Mutex<Feed>>,
    tx: broadcast::Sender<Event>,
    clock: Arc<dyn Fn() -> SystemTime + Send + Sync>,
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Events")
    }
}

impl Events {
    /// A feed stamping events with `clock` (the Host's wall clock).
    pub fn new(clock: Arc<dyn Fn() -> SystemTime + Send + Sync>) -> Self {
        let (tx, _) = broadcast::channel(LIVE);
        Events {
            feed: Arc::new(Mutex::new(Feed {
                seq: 0,
                ring: VecDeque::new(),
            })),
            tx,
            clock,
        }
    }

    /// Publish one event: number it, keep it, log it, fan it out.
    pub fn publish(&self, kind: EventKind) {
        let mut feed = self
            .feed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        feed.seq += 1;
        let event = Event {
            seq: feed.seq,
            at: (self.clock)(),
            kind,
        };
        let line = event.line();
        match event.kind.level() {
            Level::Info => tracing::info!(target: "upkeep::event", seq = event.seq, "{line}"),
            Level::Warning => tracing::warn!(target: "upkeep::event", seq = event.seq, "{line}"),
            Level::Error => tracing::error!(target: "upkeep::event", seq = event.seq, "{line}"),
        }
        if feed.ring.len() == RING {
            feed.ring.pop_front();
        }
        feed.ring.push_back(event.clone());
        // Sent under the lock so subscribers see events in `seq` order; no receiver is fine.
        let _ = self.tx.send(event);
    }

    /// Events after `seq` still in the ring, then a receiver for the ones that follow; together
    /// they miss nothing (the snapshot-then-deltas pattern).
    pub fn subscribe_since(&self, seq: u64) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let feed = self
            .feed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let past = feed.ring.iter().filter(|e| e.seq > seq).cloned().collect();
        (past, self.tx.subscribe())
    }

    /// A copy of the events still in the ring.
    pub fn recent(&self) -> Vec<Event> {
        let feed = self
            .feed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        feed.ring.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_actions_are_shown_by_their_configured_names() {
        use ActivationFinalAction as A;
        use DeactivationFinalAction as D;
        use MonitorFinalAction as M;
        let all = [
            FinalAction::Activation(A::NoOpActivateNext),
            FinalAction::Activation(A::NoOpStopChain),
            FinalAction::Activation(A::StopGroup),
            FinalAction::Activation(A::StopDaemon),
            FinalAction::Activation(A::StopDaemonShutdown),
            FinalAction::Activation(A::StopDaemonReboot),
            FinalAction::Deactivation(D::NoOpDeactivateNext),
            FinalAction::Deactivation(D::NoOpStopChain),
            FinalAction::Deactivation(D::StopDaemonShutdown),
            FinalAction::Deactivation(D::StopDaemonReboot),
            FinalAction::Monitor(M::NoOp),
            FinalAction::Monitor(M::StopGroup),
            FinalAction::Monitor(M::StopDaemon),
            FinalAction::Monitor(M::StopDaemonShutdown),
            FinalAction::Monitor(M::StopDaemonReboot),
            FinalAction::Daemon(DaemonAction::StopDaemon),
            FinalAction::Daemon(DaemonAction::StopDaemonShutdown),
            FinalAction::Daemon(DaemonAction::StopDaemonReboot),
            FinalAction::Daemon(DaemonAction::EmergencyShutdown),
        ];
        for action in all {
            // The configuration's spelling is the variant's name.
            let debug = format!("{action:?}");
            let inner = debug
                .split_once('(')
                .and_then(|(_, rest)| rest.strip_suffix(')'))
                .unwrap_or_default();
            assert_eq!(action.to_string(), inner);
        }
    }

    #[test]
    fn crashes_below_rc_and_rm_are_announced_in_their_subtree() {
        let restarted = |actor: &str| EventKind::ActorRestarted {
            actor: actor.into(),
            reason: "injected panic".into(),
        };
        let gave_up = |actor: &str| EventKind::ActorGaveUp {
            actor: actor.into(),
            reason: "injected panic".into(),
        };
        assert_eq!(
            (restarted("rc/g1/app").module(), restarted("rc/g1/app").id()),
            (Module::Rc, 60)
        );
        assert_eq!(
            (gave_up("rc/g1").module(), gave_up("rc/g1").id()),
            (Module::Rc, 61)
        );
        assert_eq!(
            (
                restarted("rm/pidw/probe").module(),
                restarted("rm/pidw/probe").id()
            ),
            (Module::Rm, 30)
        );
        assert_eq!(
            (gave_up("rm/pidw").module(), gave_up("rm/pidw").id()),
            (Module::Rm, 31)
        );
    }
}
