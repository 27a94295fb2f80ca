//! Failure scenarios for `upkeep simulate` (issue 15): RON text in, a validated [`Scenario`] out,
//! checked against the [`Config`] it rehearses.
//!
//! A scenario says which faults happen when (a process exits, a script fails or hangs, a probe
//! answers an error for a while, the daemon restarts, the host reboots), how long to run and,
//! optionally, what must be seen, so `simulate` doubles as a test runner for a configuration.
//! Errors have the configuration's shape (`file:line:col: field: message`, "did you mean" for a
//! misspelt resource or monitor), through the same span index and ron error mapping.
//! Pure like the rest of the crate: no I/O, no clock. docs/SIMULATE.md documents the format.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::bounds::ErrorList;
use crate::error::{did_you_mean, from_ron, ConfigError, ConfigErrors};
use crate::model::{Config, MonitorKind, StartMode};
use crate::raw::RawDuration;
use crate::span::SpanIndex;

/// The longest horizon: a month of virtual time with a 5 s pid monitor takes about 6 s of CPU
/// in a debug build, and the time arithmetic stays far from overflow.
pub const MAX_RUN_FOR: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// At most this many faults and expectations in one scenario.
pub const MAX_STEPS: usize = 1_000;
/// A counted fault (`times`) applies at most this often.
pub const MAX_TIMES: u32 = 10_000;
/// How long a simulated reboot takes when the scenario does not say.
pub const DEFAULT_REBOOT_TAKES: Duration = Duration::from_secs(60);

/// One validated scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// What it rehearses, for the report; the file name when not given.
    pub name: String,
    /// The horizon: the simulation ends here at the latest.
    pub run_for: Duration,
    /// The time between a (simulated) reboot and the daemon's next start.
    pub reboot_takes: Duration,
    /// In time order (faults at the same time keep the file's order).
    pub faults: Vec<TimedFault>,
    pub expect: Vec<Expectation>,
}

/// A fault and when it happens, from the daemon's first start.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedFault {
    pub at: Duration,
    pub fault: Fault,
}

/// What a probe fault answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ProbeAnswer {
    Error,
    Warning,
    /// No answer at all: the monitor's timeout catches it.
    Timeout,
}

/// One fault of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// The resource's running process exits with `code`.
    ProcessExits { resource: String, code: i32 },
    /// The resource's running process is killed by `signal`.
    ProcessKilled { resource: String, signal: i32 },
    /// From now on (for `lasting`, else for good) every process of the resource exits with `code`
    /// `after` its start; the running one `after` now.
    CrashLoop {
        resource: String,
        code: i32,
        after: Duration,
        lasting: Option<Duration>,
    },
    /// The next `times` start scripts of the resource exit with `code` (an async resource's
    /// process exits at once).
    StartFails {
        resource: String,
        code: i32,
        times: u32,
    },
    /// The next `times` start scripts of a sync resource hang until their timeout.
    StartHangs { resource: String, times: u32 },
    /// The next `times` stop scripts of the resource exit with `code`.
    StopFails {
        resource: String,
        code: i32,
        times: u32,
    },
    /// The next `times` stop scripts of the resource hang until their timeout.
    StopHangs { resource: String, times: u32 },
    /// The monitor's checks answer `answer` for `lasting` (for good without it).
    Probe {
        monitor: String,
        answer: ProbeAnswer,
        lasting: Option<Duration>,
        message: String,
    },
    /// The daemon is stopped (orderly) and started again; the host keeps running.
    DaemonRestart,
    /// The host reboots (an orderly, manual reboot: not counted); the daemon starts again after
    /// `reboot_takes` with the state files it left.
    Reboot,
}

impl fmt::Display for Fault {
    /// How the timeline announces it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let span = |lasting: &Option<Duration>| match lasting {
            Some(d) => format!(" for {}", humantime::format_duration(*d)),
            None => String::new(),
        };
        match self {
            Fault::ProcessExits { resource, code } => {
                write!(f, "the process of {resource} exits with code {code}")
            }
            Fault::ProcessKilled { resource, signal } => {
                write!(f, "the process of {resource} is killed by signal {signal}")
            }
            Fault::CrashLoop {
                resource,
                code,
                after,
                lasting,
            } => write!(
                f,
                "every process of {resource} exits with code {code} {} after its start{}",
                humantime::format_duration(*after),
                span(lasting)
            ),
            Fault::StartFails {
                resource,
                code,
                times,
            } => write!(
                f,
                "the next {times} start(s) of {resource} fail with exit code {code}"
            ),
            Fault::StartHangs { resource, times } => {
                write!(f, "the next {times} start script(s) of {resource} hang")
            }
            Fault::StopFails {
                resource,
                code,
                times,
            } => write!(
                f,
                "the next {times} stop script(s) of {resource} fail with exit code {code}"
            ),
            Fault::StopHangs { resource, times } => {
                write!(f, "the next {times} stop script(s) of {resource} hang")
            }
            Fault::Probe {
                monitor,
                answer,
                lasting,
                ..
            } => {
                let what = match answer {
                    ProbeAnswer::Error => "an error",
                    ProbeAnswer::Warning => "a warning",
                    ProbeAnswer::Timeout => "nothing (timeout)",
                };
                write!(f, "the checks of {monitor} answer {what}{}", span(lasting))
            }
            Fault::DaemonRestart => f.write_str("the daemon is restarted"),
            Fault::Reboot => f.write_str("the host is rebooted by hand"),
        }
    }
}

/// How a simulation ended, from the most serious down: any OS action, the daemon stopped by a
/// final action, a group not running, or everything running again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub enum Outcome {
    Recovered,
    GroupsStopped,
    DaemonStopped,
    OsAction,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Recovered => "recovered",
            Outcome::GroupsStopped => "groups_stopped",
            Outcome::DaemonStopped => "daemon_stopped",
            Outcome::OsAction => "os_action",
        }
    }
}

/// What must be true of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    /// Some event line contains this text.
    Event(String),
    /// No event line contains this text.
    NoEvent(String),
    /// At the end, the group is in this state (`Online`, `Offline`, ...).
    Group {
        name: String,
        state: String,
    },
    Resource {
        name: String,
        state: String,
    },
    /// At the end, the monitor is in this phase (`Monitoring`, `Stopped`, ...).
    Monitor {
        name: String,
        phase: String,
    },
    /// The reboot count at the end.
    RebootCount(u32),
    Outcome(Outcome),
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expectation::Event(t) => write!(f, "Event({t:?})"),
            Expectation::NoEvent(t) => write!(f, "NoEvent({t:?})"),
            Expectation::Group { name, state } => write!(f, "Group({name:?}, {state})"),
            Expectation::Resource { name, state } => write!(f, "Resource({name:?}, {state})"),
            Expectation::Monitor { name, phase } => write!(f, "Monitor({name:?}, {phase})"),
            Expectation::RebootCount(n) => write!(f, "RebootCount({n})"),
            Expectation::Outcome(o) => write!(f, "Outcome({o:?})"),
        }
    }
}

/// The board's state names an expectation may use (they are `upkeep status`'s).
pub const GROUP_STATES: &[&str] = &[
    "Offline",
    "Starting",
    "Online",
    "OnlinePartial",
    "Stopping",
    "OfflinePartial",
];
pub const RESOURCE_STATES: &[&str] = &[
    "Offline",
    "Starting",
    "Online",
    "Stopping",
    "StartFailed",
    "StopFailed",
];
pub const MONITOR_PHASES: &[&str] = &[
    "Stopped",
    "WaitingForTarget",
    "StartWait",
    "Monitoring",
    "Recovering",
    "Suspended",
    "Backoff",
];

// --- The file's shape ------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(rename = "Scenario", deny_unknown_fields)]
struct RawScenario {
    name: Option<String>,
    run_for: Option<RawDuration>,
    reboot_takes: Option<RawDuration>,
    #[serde(default)]
    faults: Vec<RawTimed>,
    #[serde(default)]
    expect: Vec<RawExpect>,
}

#[derive(Debug, Deserialize)]
#[serde(rename = "Fault", deny_unknown_fields)]
struct RawTimed {
    at: Option<RawDuration>,
    fault: Option<RawFault>,
}

#[derive(Debug, Deserialize)]
enum RawFault {
    ProcessExits {
        resource: String,
        #[serde(default = "one")]
        code: i64,
    },
    ProcessKilled {
        resource: String,
        #[serde(default = "nine")]
        signal: i64,
    },
    CrashLoop {
        resource: String,
        #[serde(default = "one")]
        code: i64,
        after: Option<RawDuration>,
        #[serde(rename = "for")]
        lasting: Option<RawDuration>,
    },
    StartFails {
        resource: String,
        #[serde(default = "one")]
        code: i64,
        #[serde(default = "one")]
        times: i64,
    },
    StartHangs {
        resource: String,
        #[serde(default = "one")]
        times: i64,
    },
    StopFails {
        resource: String,
        #[serde(default = "one")]
        code: i64,
        #[serde(default = "one")]
        times: i64,
    },
    StopHangs {
        resource: String,
        #[serde(default = "one")]
        times: i64,
    },
    Probe {
        monitor: String,
        answer: ProbeAnswer,
        #[serde(rename = "for")]
        lasting: Option<RawDuration>,
        message: Option<String>,
    },
    DaemonRestart,
    Reboot,
}

fn one() -> i64 {
    1
}

fn nine() -> i64 {
    9
}

#[derive(Debug, Deserialize)]
enum RawState {
    Offline,
    Starting,
    Online,
    OnlinePartial,
    Stopping,
    OfflinePartial,
    StartFailed,
    StopFailed,
    WaitingForTarget,
    StartWait,
    Monitoring,
    Recovering,
    Suspended,
    Backoff,
    Stopped,
}

#[derive(Debug, Deserialize)]
enum RawExpect {
    Event(String),
    NoEvent(String),
    Group { name: String, state: RawState },
    Resource { name: String, state: RawState },
    Monitor { name: String, phase: RawState },
    RebootCount(i64),
    Outcome(Outcome),
}

// --- Parsing and checking --------------------------------------------------------------------

/// Parse and check a scenario for `config`. Every problem is collected, each at its
/// `file:line:col`, like a configuration's.
pub fn parse(text: &str, path: &Path, config: &Config) -> Result<Scenario, ConfigErrors> {
    crate::bounds::size(text, path).map_err(|e| ConfigErrors(vec![e]))?;
    let spans = SpanIndex::build(text);
    let options =
        ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    let raw: RawScenario = options
        .from_str(text)
        .map_err(|e| ConfigErrors(vec![from_ron(path, text, &spans, &e)]))?;
    let mut c = Checker {
        file: path,
        spans: &spans,
        config,
        errors: ErrorList::default(),
    };
    let scenario = c.scenario(raw, path);
    if c.errors.is_empty() {
        Ok(scenario)
    } else {
        Err(ConfigErrors(c.errors.finish(path)))
    }
}

/// "; did you mean `x`?" for a near miss, else the names there are (a few of them), so a
/// scenario run against the wrong configuration says so.
fn hint(name: &str, names: &[&str]) -> String {
    const SHOWN: usize = 8;
    let near = did_you_mean(name, names.iter().copied());
    if !near.is_empty() {
        return near;
    }
    match names.len() {
        0 => "; it has none".to_owned(),
        n if n <= SHOWN => format!("; it has {}", crate::error::backticked(names)),
        n => format!(
            "; it has {}, ... ({n} in all)",
            crate::error::backticked(&names[..SHOWN])
        ),
    }
}

struct Checker<'a> {
    file: &'a Path,
    spans: &'a SpanIndex,
    config: &'a Config,
    errors: ErrorList,
}

impl Checker<'_> {
    fn err(&mut self, path: &str, message: impl Into<String>) {
        let (file, spans) = (self.file, self.spans);
        self.errors
            .push(|| ConfigError::at(file, spans.position(path), path, message));
    }

    fn scenario(&mut self, raw: RawScenario, path: &Path) -> Scenario {
        let name = raw.name.unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        let run_for = match &raw.run_for {
            None => {
                self.err(
                    "run_for",
                    "missing field `run_for`: how long to simulate, e.g. `run_for: \"10m\"`",
                );
                Duration::ZERO
            }
            Some(d) => self.duration("run_for", d, true).unwrap_or_default(),
        };
        if run_for > MAX_RUN_FOR {
            self.err("run_for", "must be at most 30 days");
        }
        let reboot_takes = match &raw.reboot_takes {
            None => DEFAULT_REBOOT_TAKES,
            Some(d) => self
                .duration("reboot_takes", d, false)
                .unwrap_or(DEFAULT_REBOOT_TAKES),
        };
        if raw.faults.len() > MAX_STEPS {
            self.err("faults", format!("at most {MAX_STEPS} faults are allowed"));
        }
        if raw.expect.len() > MAX_STEPS {
            self.err(
                "expect",
                format!("at most {MAX_STEPS} expectations are allowed"),
            );
        }
        let mut faults = Vec::new();
        for (i, t) in raw.faults.iter().enumerate().take(MAX_STEPS) {
            let p = format!("faults[{i}]");
            let at = match &t.at {
                None => {
                    self.err(
                        &p,
                        "missing field `at`: when the fault happens, e.g. `at: \"30s\"`",
                    );
                    None
                }
                Some(d) => self.duration(&format!("{p}.at"), d, false),
            };
            if let Some(at) = at {
                if run_for > Duration::ZERO && at > run_for {
                    self.err(
                        &format!("{p}.at"),
                        format!(
                            "is after `run_for` ({}), so it would never happen",
                            humantime::format_duration(run_for)
                        ),
                    );
                }
            }
            let fault = match &t.fault {
                None => {
                    self.err(&p, "missing field `fault`, e.g. `fault: ProcessExits(resource: \"web\", code: 1)`");
                    None
                }
                Some(f) => self.fault(&format!("{p}.fault"), f),
            };
            if let (Some(at), Some(fault)) = (at, fault) {
                faults.push(TimedFault { at, fault });
            }
        }
        // Stable: faults at the same time keep the file's order.
        faults.sort_by_key(|f| f.at);
        let expect = raw
            .expect
            .iter()
            .enumerate()
            .take(MAX_STEPS)
            .filter_map(|(i, e)| self.expectation(&format!("expect[{i}]"), e))
            .collect();
        Scenario {
            name,
            run_for,
            reboot_takes,
            faults,
            expect,
        }
    }

    fn duration(&mut self, path: &str, raw: &RawDuration, nonzero: bool) -> Option<Duration> {
        let d = match raw {
            RawDuration::Number(n) => {
                self.err(
                    path,
                    format!("a duration needs a unit: write `\"{n}s\"` (got `{n}`)"),
                );
                return None;
            }
            RawDuration::Text(s) => {
                match humantime::parse_duration(s.trim()) {
                    Ok(d) => d,
                    Err(_) => {
                        self.err(
                        path,
                        format!("invalid duration `{s}`; write e.g. `\"5s\"`, `\"2m\"` or `\"1h 30m\"`"),
                    );
                        return None;
                    }
                }
            }
        };
        if nonzero && d.is_zero() {
            self.err(path, "must be above zero");
            return None;
        }
        if d > MAX_RUN_FOR {
            self.err(path, "must be at most 30 days");
            return None;
        }
        Some(d)
    }

    /// A resource of the configuration, with "did you mean" when it is not one.
    fn resource(&mut self, path: &str, name: &str) -> bool {
        if self.config.resource(name).is_some() {
            return true;
        }
        let names: Vec<&str> = self
            .config
            .groups
            .iter()
            .flat_map(|g| g.resources.iter().map(|r| r.name.as_str()))
            .collect();
        let hint = hint(name, &names);
        self.err(
            path,
            format!("unknown resource `{name}` (not in the configuration){hint}"),
        );
        false
    }

    fn monitor(&mut self, path: &str, name: &str) -> bool {
        if self.config.monitor(name).is_some() {
            return true;
        }
        let names: Vec<&str> = self
            .config
            .monitors
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        let hint = hint(name, &names);
        self.err(
            path,
            format!("unknown monitor `{name}` (not in the configuration){hint}"),
        );
        false
    }

    fn group(&mut self, path: &str, name: &str) -> bool {
        if self.config.group(name).is_some() {
            return true;
        }
        let names: Vec<&str> = self.config.groups.iter().map(|g| g.name.as_str()).collect();
        let hint = hint(name, &names);
        self.err(
            path,
            format!("unknown group `{name}` (not in the configuration){hint}"),
        );
        false
    }

    fn code(&mut self, path: &str, code: i64) -> Option<i32> {
        match u8::try_from(code) {
            Ok(c) => Some(i32::from(c)),
            Err(_) => {
                self.err(path, format!("an exit code is 0..=255 (got {code})"));
                None
            }
        }
    }

    fn times(&mut self, path: &str, times: i64) -> Option<u32> {
        match u32::try_from(times) {
            Ok(t) if (1..=MAX_TIMES).contains(&t) => Some(t),
            _ => {
                self.err(path, format!("must be 1..={MAX_TIMES} (got {times})"));
                None
            }
        }
    }

    fn fault(&mut self, p: &str, raw: &RawFault) -> Option<Fault> {
        let rp = format!("{p}.resource");
        match raw {
            RawFault::ProcessExits { resource, code } => {
                let known = self.resource(&rp, resource) && self.is_async(&rp, resource, true);
                let code = self.code(&format!("{p}.code"), *code);
                Some(Fault::ProcessExits {
                    resource: known.then(|| resource.clone())?,
                    code: code?,
                })
            }
            RawFault::ProcessKilled { resource, signal } => {
                let known = self.resource(&rp, resource) && self.is_async(&rp, resource, true);
                let signal = match i32::try_from(*signal) {
                    Ok(s) if (1..=64).contains(&s) => Some(s),
                    _ => {
                        self.err(
                            &format!("{p}.signal"),
                            format!("a signal is 1..=64 (got {signal})"),
                        );
                        None
                    }
                };
                Some(Fault::ProcessKilled {
                    resource: known.then(|| resource.clone())?,
                    signal: signal?,
                })
            }
            RawFault::CrashLoop {
                resource,
                code,
                after,
                lasting,
            } => {
                let known = self.resource(&rp, resource) && self.is_async(&rp, resource, true);
                let code = self.code(&format!("{p}.code"), *code);
                let after = match after {
                    None => Some(Duration::ZERO),
                    Some(d) => self.duration(&format!("{p}.after"), d, false),
                };
                let lasting = match lasting {
                    None => Some(None),
                    Some(d) => self.duration(&format!("{p}.for"), d, true).map(Some),
                };
                Some(Fault::CrashLoop {
                    resource: known.then(|| resource.clone())?,
                    code: code?,
                    after: after?,
                    lasting: lasting?,
                })
            }
            RawFault::StartFails {
                resource,
                code,
                times,
            } => {
                let known = self.resource(&rp, resource);
                let code = self.code(&format!("{p}.code"), *code);
                let times = self.times(&format!("{p}.times"), *times);
                Some(Fault::StartFails {
                    resource: known.then(|| resource.clone())?,
                    code: code?,
                    times: times?,
                })
            }
            RawFault::StartHangs { resource, times } => {
                let known = self.resource(&rp, resource) && self.is_async(&rp, resource, false);
                let times = self.times(&format!("{p}.times"), *times);
                Some(Fault::StartHangs {
                    resource: known.then(|| resource.clone())?,
                    times: times?,
                })
            }
            RawFault::StopFails {
                resource,
                code,
                times,
            } => {
                let known = self.resource(&rp, resource) && self.has_stop(&rp, resource);
                let code = self.code(&format!("{p}.code"), *code);
                let times = self.times(&format!("{p}.times"), *times);
                Some(Fault::StopFails {
                    resource: known.then(|| resource.clone())?,
                    code: code?,
                    times: times?,
                })
            }
            RawFault::StopHangs { resource, times } => {
                let known = self.resource(&rp, resource) && self.has_stop(&rp, resource);
                let times = self.times(&format!("{p}.times"), *times);
                Some(Fault::StopHangs {
                    resource: known.then(|| resource.clone())?,
                    times: times?,
                })
            }
            RawFault::Probe {
                monitor,
                answer,
                lasting,
                message,
            } => {
                let mp = format!("{p}.monitor");
                let known = self.monitor(&mp, monitor) && self.probed(&mp, monitor);
                let lasting = match lasting {
                    None => Some(None),
                    Some(d) => self.duration(&format!("{p}.for"), d, true).map(Some),
                };
                let message = message.clone().unwrap_or_else(|| match answer {
                    ProbeAnswer::Error => "simulated error".into(),
                    ProbeAnswer::Warning => "simulated warning".into(),
                    ProbeAnswer::Timeout => String::new(),
                });
                Some(Fault::Probe {
                    monitor: known.then(|| monitor.clone())?,
                    answer: *answer,
                    lasting: lasting?,
                    message,
                })
            }
            RawFault::DaemonRestart => Some(Fault::DaemonRestart),
            RawFault::Reboot => Some(Fault::Reboot),
        }
    }

    /// Process faults need a process (async); a hanging start needs a script that can hang (sync).
    fn is_async(&mut self, path: &str, resource: &str, want_async: bool) -> bool {
        let mode = self.config.resource(resource).map(|r| r.mode);
        let is_async = mode == Some(StartMode::Async);
        if is_async == want_async {
            return true;
        }
        if want_async {
            self.err(path, format!("resource `{resource}` is sync: it has no long-lived process to exit; use `StartFails`"));
        } else {
            self.err(path, format!("resource `{resource}` is async: its start is its process, which runs until stopped; use `StartFails` or `CrashLoop`"));
        }
        false
    }

    fn has_stop(&mut self, path: &str, resource: &str) -> bool {
        if self
            .config
            .resource(resource)
            .is_some_and(|r| r.stop.is_some())
        {
            return true;
        }
        self.err(
            path,
            format!("resource `{resource}` has no stop script (a stop only signals its process)"),
        );
        false
    }

    /// Probe faults need a check the host runs: pid and multi-target monitors read the board,
    /// the user-space monitor runs its own cycle.
    fn probed(&mut self, path: &str, monitor: &str) -> bool {
        let kind = self.config.monitor(monitor).map(|m| &m.kind);
        let why = match kind {
            Some(MonitorKind::Pid { resource }) => format!(
                "`{monitor}` is a pid monitor: it watches the process of `{resource}`; make the process exit (`ProcessExits`, `CrashLoop`) instead"
            ),
            Some(MonitorKind::MultiTarget { .. }) => format!(
                "`{monitor}` is a multi-target monitor: it counts its members' verdicts; give the fault to a member"
            ),
            Some(MonitorKind::UserSpace(_)) => format!(
                "`{monitor}` is the user-space monitor; its stalls cannot be simulated yet"
            ),
            _ => return true,
        };
        self.err(path, why);
        false
    }

    fn expectation(&mut self, p: &str, raw: &RawExpect) -> Option<Expectation> {
        let np = format!("{p}.name");
        let state_in = |this: &mut Self, field: &str, state: &RawState, allowed: &[&str]| {
            let s = format!("{state:?}");
            if allowed.contains(&s.as_str()) {
                Some(s)
            } else {
                let list = allowed.join("`, `");
                this.err(
                    &format!("{p}.{field}"),
                    format!("`{s}` is not one of `{list}`"),
                );
                None
            }
        };
        match raw {
            RawExpect::Event(t) | RawExpect::NoEvent(t) if t.trim().is_empty() => {
                self.err(p, "the text to look for is empty");
                None
            }
            RawExpect::Event(t) => Some(Expectation::Event(t.clone())),
            RawExpect::NoEvent(t) => Some(Expectation::NoEvent(t.clone())),
            RawExpect::Group { name, state } => {
                let known = self.group(&np, name);
                let state = state_in(self, "state", state, GROUP_STATES)?;
                known.then(|| Expectation::Group {
                    name: name.clone(),
                    state,
                })
            }
            RawExpect::Resource { name, state } => {
                let known = self.resource(&np, name);
                let state = state_in(self, "state", state, RESOURCE_STATES)?;
                known.then(|| Expectation::Resource {
                    name: name.clone(),
                    state,
                })
            }
            RawExpect::Monitor { name, phase } => {
                let known = self.monitor(&np, name);
                let phase = state_in(self, "phase", phase, MONITOR_PHASES)?;
                known.then(|| Expectation::Monitor {
                    name: name.clone(),
                    phase,
                })
            }
            RawExpect::RebootCount(n) => match u32::try_from(*n) {
                Ok(n) => Some(Expectation::RebootCount(n)),
                Err(_) => {
                    self.err(p, format!("a reboot count is 0 or more (got {n})"));
                    None
                }
            },
            RawExpect::Outcome(o) => Some(Expectation::Outcome(*o)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"(
    name: "SSS", edition: "SSS",
    groups: [(name: "web", resources: [
        (name: "api", start: (program: "/sim/api"), stop: (program: "/sim/api-stop"), mode: Async),
        (name: "db", start: (program: "/sim/db"), mode: Sync),
    ])],
    monitors: [
        (name: "apiw", kind: Pid(resource: "api"), recovery: (target: Resource("api"))),
        (name: "diskw", kind: Disk(path: "/dev/sda"), recovery: (target: Sss, final_action: StopDaemonReboot)),
    ],
)"#;

    fn config() -> Config {
        crate::parse(CONFIG, Path::new("/etc/upkeep/test.ron")).expect("valid test config")
    }

    fn check(text: &str) -> Result<Scenario, Vec<String>> {
        parse(text, Path::new("s.ron"), &config())
            .map_err(|e| e.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_scenario_parses_in_time_order() {
        let s = check(
            r#"(run_for: "10m", faults: [
                (at: "2m", fault: Probe(monitor: "diskw", answer: Error, for: "30s")),
                (at: "30s", fault: CrashLoop(resource: "api", code: 3, after: "300ms")),
                (at: "5m", fault: Reboot),
            ], expect: [Event("rm 14"), Group(name: "web", state: Online), Outcome(OsAction)])"#,
        )
        .expect("valid");
        assert_eq!(s.name, "s");
        assert_eq!(s.run_for, Duration::from_secs(600));
        let at: Vec<u64> = s.faults.iter().map(|f| f.at.as_secs()).collect();
        assert_eq!(at, [30, 120, 300]);
        assert_eq!(
            s.faults[0].fault,
            Fault::CrashLoop {
                resource: "api".into(),
                code: 3,
                after: Duration::from_millis(300),
                lasting: None
            }
        );
        assert_eq!(s.expect.len(), 3);
    }

    #[test]
    fn unknown_names_point_at_the_value_with_a_suggestion() {
        let errors = check(
            "(run_for: \"1m\", faults: [\n  (at: \"1s\", fault: ProcessExits(resource: \"apu\")),\n  (at: \"2s\", fault: Probe(monitor: \"diskx\", answer: Error)),\n], expect: [Group(name: \"wbe\", state: Online)])",
        )
        .expect_err("invalid");
        assert_eq!(
            errors,
            [
                "s.ron:2:44: faults[0].fault.resource: unknown resource `apu` (not in the configuration); did you mean `api`?",
                "s.ron:3:36: faults[1].fault.monitor: unknown monitor `diskx` (not in the configuration); did you mean `diskw`?",
                "s.ron:4:25: expect[0].name: unknown group `wbe` (not in the configuration); did you mean `web`?",
            ]
        );
    }

    #[test]
    fn a_name_far_from_every_one_lists_the_names_there_are() {
        let errors = check(r#"(run_for: "1m", expect: [Group(name: "database", state: Online)])"#)
            .expect_err("invalid");
        assert!(
            errors[0]
                .ends_with("unknown group `database` (not in the configuration); it has `web`"),
            "{errors:?}"
        );
    }

    #[test]
    fn a_misspelt_fault_gets_a_suggestion_from_ron() {
        let errors = check(
            "(run_for: \"1m\", faults: [(at: \"1s\", fault: ProcesExits(resource: \"api\"))])",
        )
        .expect_err("invalid");
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].contains("did you mean `ProcessExits`?"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn faults_that_cannot_happen_are_refused() {
        let errors = check(
            r#"(run_for: "1m", faults: [
                (at: "2m", fault: Reboot),
                (at: "1s", fault: ProcessExits(resource: "db")),
                (at: "1s", fault: StopHangs(resource: "db")),
                (at: "1s", fault: Probe(monitor: "apiw", answer: Error)),
                (at: "1s", fault: StartFails(resource: "api", code: 300, times: 0)),
            ])"#,
        )
        .expect_err("invalid");
        let text = errors.join("\n");
        for part in [
            "faults[0].at: is after `run_for`",
            "resource `db` is sync",
            "resource `db` has no stop script",
            "`apiw` is a pid monitor",
            "an exit code is 0..=255 (got 300)",
            "must be 1..=10000 (got 0)",
        ] {
            assert!(text.contains(part), "{part} missing from:\n{text}");
        }
    }

    #[test]
    fn run_for_is_required() {
        let errors = check("(faults: [])").expect_err("invalid");
        assert!(errors[0].contains("missing field `run_for`"), "{errors:?}");
    }
}
