//! The control protocol's wire types: the only types that cross the Unix socket, and the only
//! ones `--json` prints (STYLE-ANCHORS item 11, ARCHITECTURE §5 Edges; CMD-1..9, OPS-1..5,
//! APPLY-2). docs/PROTOCOL.md shows every message; a test parses its examples.
//!
//! Framing: one JSON object per line (UTF-8, `\n`-terminated) each way; one reply line per
//! request line. Every message is an object with a `type` tag and a `version` field
//! ([`PROTOCOL_VERSION`]). Compatibility rules, so the full CLI can grow this without breaking
//! older peers:
//!
//! * new requests and replies are new `type`s; a daemon answers an unknown `type` with an
//!   `Error` reply rather than closing the connection;
//! * new fields are optional (`#[serde(default)]`) and unknown fields are ignored, never denied;
//! * `version` only changes when an existing field changes meaning.
//!
//! Times are RFC 3339 UTC strings with millisecond precision (`2026-01-31T05:47:58.123Z`);
//! durations are whole seconds in fields named `*_s`. States are lower snake case strings
//! (`online`, `online_partial`, `waiting_for_target`, ...) so scripts can match on them.

use serde::{Deserialize, Serialize};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// Longest request line the daemon reads; a longer one gets an `Error` reply and the connection
/// is closed (a bad client must not make the daemon buffer without bound).
pub const MAX_LINE: usize = 1024 * 1024;

/// Client → daemon.
///
/// `Status`, `Events`, `Follow`, `Tree`, `Explain` and `Alerts` only read and are served to readers;
/// every other request changes state or may reveal secrets and is served only to operators:
/// root, the daemon's own user or the operator groups (SO_PEERCRED, docs/SECURITY.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Request {
    /// A snapshot of the server, its groups, resources, monitors and the reboot governor.
    Status { version: u32 },
    /// The events still kept by the daemon whose `seq` is greater than `since` (0 = all).
    Events { version: u32, since: u64 },
    /// Like `Events`, then one `Event` line per new event until the client hangs up.
    Follow { version: u32, since: u64 },
    /// The live supervision tree.
    Tree { version: u32 },
    /// The persistent alert log (MSG-1 `alert`, issue 11): its entries with `seq > since`, the
    /// oldest first, at most `limit` (0: the daemon's maximum); `all` includes the events whose
    /// message is not marked `alert`. Readers may ask.
    Alerts {
        version: u32,
        #[serde(default)]
        since: u64,
        #[serde(default)]
        limit: u32,
        #[serde(default)]
        all: bool,
    },
    /// The escalation ladder of one monitor or resource, in plain words.
    Explain { version: u32, name: String },
    /// CMD-2 (`clpcl`): start / stop / suspend / resume the daemon (OPS-1..3, OPS-5).
    Daemon { version: u32, action: DaemonAction },
    /// CMD-4 (`clpgrp`): start or stop one group.
    Group {
        version: u32,
        name: String,
        action: Toggle,
    },
    /// Start or stop one exec resource.
    Resource {
        version: u32,
        name: String,
        action: Toggle,
    },
    /// CMD-9 (`clpmonctrl`): suspend or resume monitors (all when `names` is empty); a
    /// suspension with `for_s` ends by itself (OPS-4).
    Monitors {
        version: u32,
        action: MonitorAction,
        #[serde(default)]
        names: Vec<String>,
        #[serde(default)]
        for_s: Option<u64>,
    },
    /// CMD-3 (`clpdown`): orderly stop, then shutdown or reboot (simulated unless OS actions are
    /// real); the daemon process ends after the reply.
    Down {
        version: u32,
        #[serde(default)]
        reboot: bool,
    },
    /// CMD-6 / APPLY-1..6: classify the change from the configuration in force to `text` and,
    /// unless `dry_run`, apply it (a stop/restart only with `restart`).
    ConfigApply {
        version: u32,
        text: String,
        /// The file name for messages.
        #[serde(default)]
        origin: String,
        #[serde(default)]
        restart: bool,
        #[serde(default)]
        dry_run: bool,
    },
    /// CMD-6c / BAK-3: the configuration text in force.
    ConfigPull { version: u32 },
    /// CMD-7 (`clplogcf`): replace the daemon's log filter at run time.
    LogLevel { version: u32, filter: String },
    /// Inject a fault into the live daemon to rehearse recovery.
    Inject { version: u32, fault: FaultDto },
}

/// `Daemon` actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DaemonAction {
    Start,
    Stop,
    Suspend,
    Resume,
}

/// Start or stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Toggle {
    Start,
    Stop,
    /// Stop, then start (issue 13).
    Restart,
}

/// `Monitors` actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MonitorAction {
    Suspend,
    Resume,
}

/// A fault for `Inject`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum FaultDto {
    /// The next `times` checks of the monitor fail.
    ProbeFails { monitor: String, times: u32 },
    /// Every check of the monitor hangs until `clear`.
    ProbeHangs { monitor: String },
    /// The next `times` runs of `program` exit with `code`.
    ScriptFails {
        program: String,
        times: u32,
        code: i32,
    },
    /// SIGKILL the resource's current process.
    ProcessKilled { resource: String },
    /// Remove every injected fault.
    Clear,
}

/// The most runs an injected fault may take (`times`): a rehearsal, not a siege.
pub const MAX_FAULT_TIMES: u32 = 1000;

/// The exit codes an injected script failure may take (`code`): a failure, as a process can
/// report it.
pub const FAULT_CODES: std::ops::RangeInclusive<i32> = 1..=255;

impl Request {
    /// Issue 8, defect 4: every number a request carries is bounded before anything acts on it,
    /// so no operator input can reach a clock or a counter out of range. `Err` names the field
    /// and its allowed range; the daemon answers it as [`ErrorKind::Invalid`] (exit 64).
    pub fn check(&self) -> Result<(), String> {
        match self {
            // OPS-4: `for_s` only means something to a suspension; a resume ignores it.
            Request::Monitors {
                action: MonitorAction::Suspend,
                for_s: Some(secs),
                ..
            } => upkeep_actors::check_suspension(std::time::Duration::from_secs(*secs))
                .map_err(|e| e.to_string()),
            Request::Inject { fault, .. } => match fault {
                FaultDto::ProbeFails { times, .. } => check_times(*times),
                FaultDto::ScriptFails { times, code, .. } => {
                    check_times(*times)?;
                    if FAULT_CODES.contains(code) {
                        Ok(())
                    } else {
                        Err(format!(
                            "`code` must be between {} and {}, got {code}",
                            FAULT_CODES.start(),
                            FAULT_CODES.end()
                        ))
                    }
                }
                FaultDto::ProbeHangs { .. } | FaultDto::ProcessKilled { .. } | FaultDto::Clear => {
                    Ok(())
                }
            },
            _ => Ok(()),
        }
    }

    pub fn status() -> Request {
        Request::Status {
            version: PROTOCOL_VERSION,
        }
    }

    pub fn events(since: u64) -> Request {
        Request::Events {
            version: PROTOCOL_VERSION,
            since,
        }
    }

    /// The version the client spoke.
    pub fn version(&self) -> u32 {
        match self {
            Request::Status { version }
            | Request::Events { version, .. }
            | Request::Follow { version, .. }
            | Request::Tree { version }
            | Request::Alerts { version, .. }
            | Request::Explain { version, .. }
            | Request::Daemon { version, .. }
            | Request::Group { version, .. }
            | Request::Resource { version, .. }
            | Request::Monitors { version, .. }
            | Request::Down { version, .. }
            | Request::ConfigApply { version, .. }
            | Request::ConfigPull { version }
            | Request::LogLevel { version, .. }
            | Request::Inject { version, .. } => *version,
        }
    }

    /// Whether serving it needs an operator (root, the daemon's user or an operator group);
    /// everything else is for readers too (docs/SECURITY.md). `ConfigPull` counts: a
    /// configuration may carry secrets in its environment variables. So does every
    /// `ConfigApply`, a dry run (`config diff`) too (issue 10): comparing a guessed file with
    /// the one in force would tell a reader whether its guess of a secret was right.
    pub fn changes_state(&self) -> bool {
        !matches!(
            self,
            Request::Status { .. }
                | Request::Events { .. }
                | Request::Follow { .. }
                | Request::Tree { .. }
                | Request::Alerts { .. }
                | Request::Explain { .. }
        )
    }

    /// The `type` tag, for logs and messages.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Status { .. } => "Status",
            Request::Events { .. } => "Events",
            Request::Follow { .. } => "Follow",
            Request::Tree { .. } => "Tree",
            Request::Alerts { .. } => "Alerts",
            Request::Explain { .. } => "Explain",
            Request::Daemon { .. } => "Daemon",
            Request::Group { .. } => "Group",
            Request::Resource { .. } => "Resource",
            Request::Monitors { .. } => "Monitors",
            Request::Down { .. } => "Down",
            Request::ConfigApply { .. } => "ConfigApply",
            Request::ConfigPull { .. } => "ConfigPull",
            Request::LogLevel { .. } => "LogLevel",
            Request::Inject { .. } => "Inject",
        }
    }
}

/// One request line, as the daemon's control server reads it from a client (with or without
/// its `\n`), decoded: `None` for a blank line (skipped), the request, or the `Error` reply to
/// send back. Any bytes are accepted: invalid UTF-8 is replaced (the JSON parser then reports
/// where), and an unsupported `version` is refused here, before anything acts on the request.
/// Numbers inside the request are checked later by [`Request::check`]. This is the code the
/// fuzz target `control_line` drives (fuzz/README.md), so it must never panic.
pub fn decode_request_line(line: &[u8]) -> Option<Result<Request, Box<Response>>> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let request: Request = match serde_json::from_str(text) {
        Ok(r) => r,
        Err(e) => return Some(Err(Box::new(Response::error(format!("bad request: {e}"))))),
    };
    let version = request.version();
    if version == 0 || version > PROTOCOL_VERSION {
        return Some(Err(Box::new(Response::error(format!(
            "protocol version {version} is not supported (this daemon speaks {PROTOCOL_VERSION})"
        )))));
    }
    Some(Ok(request))
}

fn check_times(times: u32) -> Result<(), String> {
    if (1..=MAX_FAULT_TIMES).contains(&times) {
        Ok(())
    } else {
        Err(format!(
            "`times` must be between 1 and {MAX_FAULT_TIMES}, got {times}"
        ))
    }
}

/// Daemon → client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Response {
    Status(StatusReply),
    Events(EventsReply),
    /// One new event of a `Follow` stream.
    Event(EventDto),
    Tree(TreeReply),
    Explain(ExplainReply),
    /// A state-changing request succeeded.
    Done(DoneReply),
    Apply(ApplyReply),
    Config(ConfigReply),
    Error(ErrorReply),
    Alerts(AlertsReply),
}

impl Response {
    pub fn error(message: impl Into<String>) -> Response {
        Response::failure(ErrorKind::BadRequest, message)
    }

    pub fn failure(kind: ErrorKind, message: impl Into<String>) -> Response {
        Response::Error(ErrorReply {
            version: PROTOCOL_VERSION,
            kind,
            message: message.into(),
        })
    }

    pub fn done(message: impl Into<String>) -> Response {
        Response::Done(DoneReply {
            version: PROTOCOL_VERSION,
            message: message.into(),
        })
    }
}

/// Why a request failed; the CLI maps each to an exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Malformed, oversized or unsupported request.
    #[default]
    BadRequest,
    /// The caller may not change state.
    Denied,
    /// No group, resource or monitor of that name.
    Unknown,
    /// Not possible now (wrong state, needs a restart, ...); `message` says why.
    Refused,
    /// Tried and failed; see the events.
    Failed,
    /// A value of the request is outside its allowed range; `message` names the field and the
    /// range (the CLI exits 64, like a wrong command line).
    Invalid,
    /// The daemon is busy (too many connections).
    Busy,
    /// The daemon is not running or cannot be reached. Never sent by a daemon: the CLI's
    /// `--json` uses it for its own failure to connect, so that every failure is one JSON line.
    Unavailable,
}

/// A state-changing request succeeded; `message` says what happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoneReply {
    pub version: u32,
    pub message: String,
}

/// Answer to `Tree`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeReply {
    pub version: u32,
    pub root: TreeNodeDto,
}

/// One actor of the supervision tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeNodeDto {
    /// `rc/web/exec1`; the root is the instance name.
    pub path: String,
    /// `daemon`, `governor`, `rc`, `rm`, `group`, `resource`, `retry-counter`, `monitor`, `probe`.
    pub kind: String,
    /// ractor's lifecycle status (`running`, `stopping`, ...).
    pub status: String,
    /// Crashes within the restart period.
    pub restarts: u32,
    pub last_failure: Option<String>,
    pub last_failure_at: Option<String>,
    pub pid: Option<u32>,
    /// An exec resource's process restarts (as `status` counts them); absent for other actors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_restarts: Option<u32>,
    #[serde(default)]
    pub children: Vec<TreeNodeDto>,
}

/// Answer to `Explain`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExplainReply {
    pub version: u32,
    /// `monitor` or `resource`.
    pub kind: String,
    pub name: String,
    /// The ladder, one step per line, in plain words.
    pub lines: Vec<String>,
}

/// APPLY-2 apply methods, least to most disruptive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyMethod {
    /// #1: nothing is interrupted.
    UploadOnly,
    /// #2: monitors stopped while suspended; groups keep running.
    SuspendResume,
    /// #3: groups and monitors stopped while the daemon restarts.
    StopRestart,
    /// #3': as #3 plus a server reboot.
    Reboot,
}

impl ApplyMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplyMethod::UploadOnly => "upload only",
            ApplyMethod::SuspendResume => "suspend/resume",
            ApplyMethod::StopRestart => "stop/restart",
            ApplyMethod::Reboot => "shutdown/reboot",
        }
    }
}

/// One changed field of a configuration and the method it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeDto {
    /// `monitors[web-pid]`, `groups[web]`, `os_actions`, ...
    pub field: String,
    /// `added`, `removed` or `changed`.
    pub what: String,
    pub method: ApplyMethod,
}

/// Answer to `ConfigApply`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyReply {
    pub version: u32,
    /// The most disruptive method among `changes`; `upload_only` when nothing changed.
    pub method: ApplyMethod,
    pub changes: Vec<ChangeDto>,
    /// The new configuration is in force.
    pub applied: bool,
    /// Where the new text was installed (the daemon's configuration file), if it was.
    pub installed: Option<String>,
    pub message: String,
}

/// Answer to `ConfigPull`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigReply {
    pub version: u32,
    /// Where the text in force came from.
    pub origin: String,
    pub text: String,
}

/// The daemon could not answer the request; `message` is meant for humans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    pub version: u32,
    #[serde(default)]
    pub kind: ErrorKind,
    pub message: String,
}

/// Answer to `Status` (CMD-1); `upkeep status --json` prints exactly this object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusReply {
    pub version: u32,
    pub server: ServerDto,
    /// In configuration order.
    pub groups: Vec<GroupDto>,
    /// In configuration order.
    pub monitors: Vec<MonitorDto>,
    pub governor: GovernorDto,
    /// The `seq` of the newest event when the snapshot was taken: pass it to `Events` to read
    /// only what happened afterwards.
    #[serde(default)]
    pub last_event_seq: u64,
}

/// The server (the daemon itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerDto {
    /// The configuration's SSS name (GEN-3).
    pub name: String,
    /// This machine's host name.
    pub host: String,
    /// `starting`, `online`, `stopping` or `stopped`.
    pub state: String,
    /// Monitoring suspended by the operator (OPS-2).
    pub suspended: bool,
    pub uptime_s: u64,
    /// The daemon's process id.
    #[serde(default)]
    pub pid: u32,
    /// `simulated` or `real`: whether final actions really shut down or reboot the machine.
    #[serde(default)]
    pub os_actions: String,
    /// Where resources' processes are contained: `cgroup2 <dir>` or `process-group` (issue 9
    /// §2); empty from a daemon that does not say.
    #[serde(default)]
    pub containment: String,
    /// Issue 13: the daemon's own folders and configuration file, so that `logs collect`
    /// bundles this daemon's files, not the defaults; empty from a daemon that does not say.
    #[serde(default)]
    pub state_dir: String,
    #[serde(default)]
    pub log_dir: String,
    #[serde(default)]
    pub config_file: String,
}

/// One group with its resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDto {
    pub name: String,
    /// `offline`, `starting`, `online`, `online_partial`, `stopping` or `offline_partial`.
    pub state: String,
    pub since: String,
    /// In configuration order.
    pub resources: Vec<ResourceDto>,
}

/// One exec resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceDto {
    pub name: String,
    /// `offline`, `starting`, `online`, `stopping`, `start_failed` or `stop_failed`; and
    /// (issue 9) `failed` for an async resource whose process ended and is not being restarted,
    /// or `backoff` while its restart waits (`next_attempt`). Never `online` without a process.
    pub state: String,
    /// The async process (also its process group id) while it runs.
    pub pid: Option<u32>,
    /// How the last process ended, while no new one runs.
    pub last_exit: Option<ExitDto>,
    pub since: String,
    /// Starts after the first one (retries and reactivations), since the daemon started.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub restarts: u32,
    /// With `failed`, `backoff`, `start_failed` or `stop_failed`: why (`exit code 1`, `signal
    /// 9`, the start script's failure such as `program not found` or a timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// With `backoff`: when the restart runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// How a process ended: `{"code": 1}` or `{"signal": 9}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitDto {
    Code(i32),
    Signal(i32),
}

/// One monitor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorDto {
    pub name: String,
    /// The MON-1 key: `pid`, `disk`, `raw`, `ip`, `nic_link`, `soft_raid`, `userspace`,
    /// `multi_target`, `custom`, `tcp` or `http`.
    pub kind: String,
    /// `stopped`, `waiting_for_target`, `start_wait`, `monitoring`, `recovering`, `suspended` or
    /// `backoff` (issue 9: a reactivation waits until `next_attempt`).
    pub phase: String,
    /// `normal`, `warning` or `error`; none before the first check.
    pub last_verdict: Option<String>,
    pub last_detail: String,
    /// Consecutive abnormal checks, and how many declare an error (MON-5).
    pub failures: u32,
    pub needed: u32,
    /// Reactivations used, and allowed before the final action (MON-12).
    pub reactivations: u32,
    pub reactivation_threshold: u32,
    pub since: String,
    /// OPS-4: suspended by the operator, and until when when it was for a while (`--for`).
    #[serde(default)]
    pub operator_suspended: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended_until: Option<String>,
    /// Reactivations this monitor started since the daemon started (issue 9).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub restarts: u32,
    /// Phase `backoff`: when the delayed reactivation runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt: Option<String>,
    /// The error episode ended in the final action (or in nothing, MON-14) and is not
    /// repeated until a normal check: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
    /// upkeep's start grace (issue 9): the target started recently, so abnormal checks are
    /// not counted until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_until: Option<String>,
}

/// The reboot governor (CFG-5..9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GovernorDto {
    pub count: u32,
    pub max: u32,
    /// When the last error that counted was declared.
    pub last_error: Option<String>,
    /// The persisted count could not be read: treated as the limit reached.
    pub damaged: bool,
}

/// Answer to `Events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsReply {
    pub version: u32,
    /// Oldest first.
    pub events: Vec<EventDto>,
}

/// Answer to `Alerts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertsReply {
    pub version: u32,
    /// Oldest first; `send` is always present.
    pub alerts: Vec<EventDto>,
    /// The oldest `seq` the log still keeps (0: empty): history before it was rotated away.
    pub first_seq: u64,
    /// The newest `seq` written to the log.
    pub last_seq: u64,
    /// What each channel did since the daemon started.
    pub channels: Vec<ChannelDto>,
}

/// One alert channel's counters since the daemon started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelDto {
    /// `syslog`, `alert`, `mail` or `program`.
    pub name: String,
    pub enabled: bool,
    /// Messages dropped because its queue was full (or syslog unreachable).
    pub dropped: u64,
    /// Messages it could not deliver (mail after every retry, a program that failed).
    pub failed: u64,
}

/// One event of the engine's feed (MSG-5, MSG-6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventDto {
    /// Position in the daemon's feed, from 1.
    pub seq: u64,
    pub at: String,
    /// The seed's module type: `pm`, `rc`, `rm` or `nm`.
    pub module: String,
    pub event_id: u32,
    /// `info`, `warning` or `error`.
    pub level: String,
    /// The text without the prefix.
    pub text: String,
    /// The seed's syslog body: `<type: rc><event: 30> The start processing of ...`.
    pub line: String,
    /// The channels its message goes to (`syslog.alert.mail`, MSG-2); absent when the daemon
    /// routes no alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_tagged_objects_with_a_version() {
        let json = serde_json::to_string(&Request::events(7)).expect("serialize");
        assert_eq!(json, r#"{"type":"Events","version":1,"since":7}"#);
        let back: Request =
            serde_json::from_str(r#"{"type":"Status","version":1,"later_field":true}"#)
                .expect("unknown fields are ignored");
        assert_eq!(back, Request::status());
    }

    #[test]
    fn a_request_line_decodes_like_the_server_reads_it() {
        // Blank lines (also with only `\r\n`) are skipped, not answered.
        assert!(decode_request_line(b"\n").is_none());
        assert!(decode_request_line(b" \r\n").is_none());
        let status = decode_request_line(b"{\"type\":\"Status\",\"version\":1}\r\n");
        assert_eq!(status, Some(Ok(Request::status())));
        let refused = |line: &[u8]| match decode_request_line(line) {
            Some(Err(reply)) => match *reply {
                Response::Error(e) => e.message,
                other => panic!("not an error reply: {other:?}"),
            },
            other => panic!("not refused: {other:?}"),
        };
        assert!(refused(b"{\"type\":\"Status\",\"version\":0}").contains("version 0"));
        assert!(refused(b"{\"type\":\"Status\",\"version\":2}").contains("version 2"));
        assert!(refused(b"{\"type\":\"Nope\",\"version\":1}").starts_with("bad request:"));
        // Invalid UTF-8 is replaced, as the server always did: the name then matches nothing.
        let explain =
            decode_request_line(b"{\"type\":\"Explain\",\"version\":1,\"name\":\"a\xffb\"}");
        let name = "a\u{fffd}b".to_string();
        assert_eq!(explain, Some(Ok(Request::Explain { version: 1, name })));
    }

    #[test]
    fn every_number_is_checked_against_its_range() {
        let suspend = |for_s| Request::Monitors {
            version: PROTOCOL_VERSION,
            action: MonitorAction::Suspend,
            names: vec![],
            for_s,
        };
        for ok in [None, Some(1), Some(1800), Some(7 * 24 * 3600)] {
            assert_eq!(suspend(ok).check(), Ok(()), "{ok:?}");
        }
        for bad in [0, 7 * 24 * 3600 + 1, 1_000_000_000_000, 1 << 63, u64::MAX] {
            let why = suspend(Some(bad)).check().expect_err("out of range");
            assert!(why.contains("`for_s`") && why.contains("604800"), "{why}");
        }
        // A resume ignores `for_s`.
        let resume = Request::Monitors {
            version: PROTOCOL_VERSION,
            action: MonitorAction::Resume,
            names: vec![],
            for_s: Some(u64::MAX),
        };
        assert_eq!(resume.check(), Ok(()));
        let inject = |fault| Request::Inject {
            version: PROTOCOL_VERSION,
            fault,
        };
        let probe = |times| FaultDto::ProbeFails {
            monitor: "m".into(),
            times,
        };
        let script = |times, code| FaultDto::ScriptFails {
            program: "/p".into(),
            times,
            code,
        };
        assert_eq!(inject(probe(1)).check(), Ok(()));
        assert_eq!(inject(probe(MAX_FAULT_TIMES)).check(), Ok(()));
        assert_eq!(inject(script(3, 255)).check(), Ok(()));
        for (bad, field) in [
            (probe(0), "`times`"),
            (probe(MAX_FAULT_TIMES + 1), "`times`"),
            (script(0, 1), "`times`"),
            (script(1, 0), "`code`"),
            (script(1, 256), "`code`"),
            (script(1, -1), "`code`"),
        ] {
            let why = inject(bad).check().expect_err("out of range");
            assert!(why.contains(field), "{why}");
        }
    }

    #[test]
    fn replies_carry_their_type_and_version() {
        let json = serde_json::to_string(&Response::error("nope")).expect("serialize");
        assert_eq!(
            json,
            r#"{"type":"Error","version":1,"kind":"bad_request","message":"nope"}"#
        );
        let exit = serde_json::to_string(&ExitDto::Signal(9)).expect("serialize");
        assert_eq!(exit, r#"{"signal":9}"#);
    }
}
