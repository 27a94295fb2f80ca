//! The message catalogue (MSG-1, MSG-2, MSG-5): for every event the engine emits, its module, id,
//! level, default channels and default text template. The defaults reproduce the engine's own
//! text exactly (tested); the admin's message files (`messages.rs`) may change the channels and
//! the text of each message, never add one.

use std::fmt;

/// A notification channel of MSG-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    Syslog,
    Alert,
    Mail,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Syslog, Channel::Alert, Channel::Mail];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Syslog => "syslog",
            Channel::Alert => "alert",
            Channel::Mail => "mail",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// The channels one message goes to, as `SEND=` spells them (`syslog.alert.mail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Send {
    pub syslog: bool,
    pub alert: bool,
    pub mail: bool,
}

impl Send {
    pub const SYSLOG_ALERT: Send = Send {
        syslog: true,
        alert: true,
        mail: false,
    };
    pub const ALL: Send = Send {
        syslog: true,
        alert: true,
        mail: true,
    };

    pub fn has(self, c: Channel) -> bool {
        match c {
            Channel::Syslog => self.syslog,
            Channel::Alert => self.alert,
            Channel::Mail => self.mail,
        }
    }

    pub fn with(mut self, c: Channel) -> Send {
        match c {
            Channel::Syslog => self.syslog = true,
            Channel::Alert => self.alert = true,
            Channel::Mail => self.mail = true,
        }
        self
    }

    pub fn channels(self) -> Vec<Channel> {
        Channel::ALL.into_iter().filter(|c| self.has(*c)).collect()
    }
}

impl fmt::Display for Send {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.channels().iter().map(|c| c.as_str()).collect();
        f.write_str(&names.join("."))
    }
}

/// A message's level as `LVL=` spells it (MSG-2 names `ERR`; `WARN` and `INFO` are upkeep's,
/// MAP-19). Maps to the syslog severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lvl {
    Info,
    Warn,
    Err,
}

impl Lvl {
    pub const ALL: [Lvl; 3] = [Lvl::Info, Lvl::Warn, Lvl::Err];

    pub fn as_str(self) -> &'static str {
        match self {
            Lvl::Info => "INFO",
            Lvl::Warn => "WARN",
            Lvl::Err => "ERR",
        }
    }

    pub fn parse(s: &str) -> Option<Lvl> {
        Lvl::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// RFC 5424 severity: err 3, warning 4, info 6.
    pub fn severity(self) -> u8 {
        match self {
            Lvl::Err => 3,
            Lvl::Warn => 4,
            Lvl::Info => 6,
        }
    }

    /// The engine's level of an event.
    pub fn of(level: upkeep_actors::event::Level) -> Lvl {
        use upkeep_actors::event::Level;
        match level {
            Level::Info => Lvl::Info,
            Level::Warning => Lvl::Warn,
            Level::Error => Lvl::Err,
        }
    }
}

/// One message of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub module: &'static str,
    pub id: u32,
    /// The engine's `EventKind` variant.
    pub variant: &'static str,
    pub level: Lvl,
    /// The values the text may name as `{name}`.
    pub fields: &'static [&'static str],
    /// The default text: the engine's own, with `{name}` for each value.
    pub template: &'static str,
}

impl Entry {
    /// The default channels: every message goes to syslog and the alert log; errors are also
    /// mailed (MSG-4: the admin adds or removes `.mail` per message).
    pub fn default_send(&self) -> Send {
        if self.level == Lvl::Err {
            Send::ALL
        } else {
            Send::SYSLOG_ALERT
        }
    }
}

/// The modules that have message files, in file order (MSG-3, MSG-5).
pub const MODULES: [&str; 4] = ["pm", "nm", "rc", "rm"];

const fn e(
    module: &'static str,
    id: u32,
    variant: &'static str,
    level: Lvl,
    fields: &'static [&'static str],
    template: &'static str,
) -> Entry {
    Entry {
        module,
        id,
        variant,
        level,
        fields,
        template,
    }
}

use Lvl::{Err, Info, Warn};

const ACTOR: &[&str] = &["actor", "reason"];
const GROUP: &[&str] = &["group"];
const RESOURCE: &[&str] = &["resource"];
const FAILED: &[&str] = &["resource", "phase", "detail"];
const RETRY: &[&str] = &["resource", "phase", "attempt", "of"];
const FINAL: &[&str] = &["resource", "phase", "action"];
const SKIPPED: &[&str] = &["resource", "phase", "because"];
const MONITOR: &[&str] = &["monitor"];
const DETAIL: &[&str] = &["monitor", "detail"];
const TARGET: &[&str] = &["monitor", "target"];

/// Every message upkeep sends, ordered by module then id.
pub const CATALOGUE: &[Entry] = &[
    e("pm", 1, "DaemonStarted", Info, &[], "Cluster daemon has started properly..."),
    e("pm", 2, "DaemonStopping", Warn, &["reason"], "Cluster daemon is stopping. ({reason})"),
    e("pm", 3, "DaemonStopped", Info, &[], "Cluster daemon has stopped."),
    e("pm", 4, "Suspended", Warn, &[], "Cluster daemon has been suspended."),
    e("pm", 5, "Resumed", Info, &[], "Cluster daemon has been resumed."),
    e("pm", 10, "CoreRestarted", Warn, ACTOR, "Internal process {actor} terminated abnormally and was restarted. ({reason})"),
    e("pm", 11, "CoreFailed", Err, ACTOR, "Internal process {actor} terminated abnormally too often; emergency shutdown. ({reason})"),
    e("pm", 20, "FinalActionStarted", Warn, &["origin", "action"], "Final action of {origin} ({action}) is being executed."),
    e("pm", 21, "FinalActionRefused", Err, &["origin", "action", "count", "max", "why"], "{why} Final action of {origin} ({action}) will not be executed."),
    e("pm", 22, "OsAction", Warn, &["action", "what", "count", "max"], "{what} (reboot count {count}/{max})"),
    e("pm", 23, "OsActionFailed", Err, &["action", "reason"], "Failed to {action} the OS. ({reason})"),
    e("pm", 24, "RebootCountReset", Info, &["previous"], "Reboot count was reset to 0 (was {previous}): no error within the reset time."),
    e("pm", 25, "RebootStateDamaged", Err, &["reason", "kept_at"], "Reboot count could not be read ({reason}); kept at {kept_at}. Treated as the limit reached until the reset time passes."),
    e("pm", 26, "ManualDown", Info, &["action"], "Manual {action} requested: the daemon stops its groups, then the OS will {action}."),
    e("pm", 27, "RebootStateWriteFailed", Err, &["reason"], "Reboot count could not be written ({reason}). No shutdown or reboot is permitted until it is written."),
    e("pm", 30, "ConfigApplied", Info, &["method"], "The configuration was applied ({method})."),
    e("nm", 1, "ServerUp", Info, &["server"], "Server {server} up."),
    e("rc", 10, "GroupStartBegin", Info, GROUP, "The start processing of a group {group} started."),
    e("rc", 11, "GroupStartEnd", Info, GROUP, "The start processing of a group {group} ended."),
    e("rc", 12, "GroupStartFailed", Err, GROUP, "The start processing of a group {group} failed."),
    e("rc", 20, "GroupStopBegin", Info, GROUP, "The stop processing of a group {group} started."),
    e("rc", 21, "GroupStopEnd", Info, GROUP, "The stop processing of a group {group} ended."),
    e("rc", 22, "GroupStopFailed", Err, GROUP, "The stop processing of a group {group} failed."),
    e("rc", 30, "ResourceStartBegin", Info, RESOURCE, "The start processing of a resource {resource} started."),
    e("rc", 31, "ResourceStartEnd", Info, RESOURCE, "The start processing of a resource {resource} ended."),
    e("rc", 32, "ResourceFailed", Err, FAILED, "Failed to start the resource {resource}. ({detail})"),
    e("rc", 33, "ResourceRetry", Warn, RETRY, "Retrying {phase} of the resource {resource}. ({attempt}/{of})"),
    e("rc", 34, "ResourceFinalAction", Err, FINAL, "Final action of {phase} failure of the resource {resource}: {action}."),
    e("rc", 35, "ResourceSkipped", Warn, SKIPPED, "The resource {resource} was not activated, because {because}."),
    e("rc", 40, "ResourceStopBegin", Info, RESOURCE, "The stop processing of a resource {resource} started."),
    e("rc", 41, "ResourceStopEnd", Info, RESOURCE, "The stop processing of a resource {resource} ended."),
    e("rc", 42, "ResourceFailed", Err, FAILED, "Failed to stop the resource {resource}. ({detail})"),
    e("rc", 43, "ResourceRetry", Warn, RETRY, "Retrying {phase} of the resource {resource}. ({attempt}/{of})"),
    e("rc", 44, "ResourceFinalAction", Err, FINAL, "Final action of {phase} failure of the resource {resource}: {action}."),
    e("rc", 45, "ResourceSkipped", Warn, SKIPPED, "The resource {resource} was not deactivated, because {because}."),
    e("rc", 50, "ProcessExited", Warn, &["resource", "pid", "exit"], "The process of the resource {resource} (pid {pid}) ended with {exit}."),
    e("rc", 60, "ActorRestarted", Warn, ACTOR, "Internal process {actor} terminated abnormally and was restarted. ({reason})"),
    e("rc", 61, "ActorGaveUp", Err, ACTOR, "Internal process {actor} terminated abnormally too often; its supervisor gives up. ({reason})"),
    e("rm", 1, "MonitorStart", Info, MONITOR, "Monitor {monitor} start."),
    e("rm", 2, "MonitorStop", Info, MONITOR, "Monitor {monitor} stop."),
    e("rm", 3, "MonitorCheckFailed", Warn, &["monitor", "failures", "needed", "detail"], "Monitor {monitor} detected a failure ({failures}/{needed}). ({detail})"),
    e("rm", 4, "MonitorWarning", Warn, DETAIL, "Monitor {monitor} warn .({detail})"),
    e("rm", 5, "MonitorRecovered", Info, MONITOR, "Monitor {monitor} is normal again."),
    e("rm", 9, "MonitorError", Err, DETAIL, "Monitor {monitor} failed. ({detail})"),
    e("rm", 10, "RecoverySkipped", Warn, TARGET, "Recovery target {target} of monitor {monitor} is not active, so no recovery action is taken."),
    e("rm", 11, "Reactivation", Warn, &["monitor", "target", "attempt", "of"], "Monitor {monitor} reactivates the recovery target {target}. ({attempt}/{of})"),
    e("rm", 12, "ReactivationFailed", Err, TARGET, "Reactivation of {target} requested by monitor {monitor} failed."),
    e("rm", 13, "ReactivationCountReset", Info, MONITOR, "Monitor {monitor} is normal after reactivation: reactivation count reset."),
    e("rm", 14, "MonitorFinalAction", Err, &["monitor", "action"], "Final action of monitor {monitor}: {action}."),
    e("rm", 15, "MonitorHeld", Warn, &["monitor", "by"], "Recovery of monitor {monitor} is held: multi-target monitor {by} decides."),
    e("rm", 16, "ReactivationDelayed", Warn, &["monitor", "target", "delay", "attempt", "of"], "Monitor {monitor} reactivates the recovery target {target} in {delay}, because it failed again soon after its last reactivation. ({attempt}/{of})"),
    e("rm", 17, "StartLimitReached", Err, &["monitor", "target", "burst", "window"], "Recovery target {target} of monitor {monitor} was reactivated more than {burst} times within {window}: the reactivations have failed."),
    e("rm", 20, "MonitorsSuspended", Warn, &[], "All monitors have been suspended."),
    e("rm", 21, "MonitorsResumed", Info, &[], "All monitors have been resumed."),
    e("rm", 22, "MonitorSuspended", Info, &["monitor", "until"], "Monitor {monitor} suspended{until}."),
    e("rm", 23, "MonitorResumed", Info, MONITOR, "Monitor {monitor} resumed."),
    e("rm", 30, "ActorRestarted", Warn, ACTOR, "Internal process {actor} terminated abnormally and was restarted. ({reason})"),
    e("rm", 31, "ActorGaveUp", Err, ACTOR, "Internal process {actor} terminated abnormally too often; its supervisor gives up. ({reason})"),
    e("rm", 71, "MonitorDelay", Warn, &["monitor", "timeout_s", "actual_ms", "percent"], "Detected a monitor delay in monitor {monitor}. (timeout={timeout_s}s actual-time={actual_ms}ms delay warning rate={percent}%)"),
];

/// The catalogue entry of one message.
pub fn lookup(module: &str, id: u32) -> Option<&'static Entry> {
    CATALOGUE.iter().find(|e| e.module == module && e.id == id)
}

/// Fills `{name}` with the event's value; a name the event has not is left as written (the
/// message files are checked against [`Entry::fields`] when loaded, so this only shows in an
/// unchecked template).
pub fn render(template: &str, fields: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if is_name(&after[..close]) => {
                let name = &after[..close];
                match fields.iter().find(|(n, _)| *n == name) {
                    Some((_, v)) => out.push_str(v),
                    None => out.push_str(&rest[open..open + close + 2]),
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `{name}`s a template uses.
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if is_name(&after[..close]) => {
                names.push(&after[..close]);
                rest = &after[close + 1..];
            }
            _ => rest = after,
        }
    }
    names
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// The catalogue as the Markdown table of docs/ALERTS.md (kept equal by a test).
pub fn markdown_table() -> String {
    let mut out = String::from("| module | id | level | default SEND | variant | default MSG |\n|---|---|---|---|---|---|\n");
    for e in CATALOGUE {
        out.push_str(&format!(
            "| {} | {} | {} | {} | `{}` | `{}` |\n",
            e.module,
            e.id,
            e.level.as_str(),
            e.default_send(),
            e.variant,
            e.template.replace('|', "\\|")
        ));
    }
    out
}
