//! The control protocol's wire types: the only types that cross the Unix socket, and the only
//! ones `--json` prints (STYLE-ANCHORS item 11, ARCHITECTURE §5 Edges; CMD-1 status).
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
pub const MAX_LINE: usize = 64 * 1024;

/// Client → daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Request {
    /// A snapshot of the server, its groups, resources, monitors and the reboot governor.
    Status { version: u32 },
    /// The events still kept by the daemon whose `seq` is greater than `since` (0 = all).
    Events { version: u32, since: u64 },
}

impl Request {
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
            Request::Status { version } | Request::Events { version, .. } => *version,
        }
    }
}

/// Daemon → client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Response {
    Status(StatusReply),
    Events(EventsReply),
    Error(ErrorReply),
}

impl Response {
    pub fn error(message: impl Into<String>) -> Response {
        Response::Error(ErrorReply {
            version: PROTOCOL_VERSION,
            message: message.into(),
        })
    }
}

/// The daemon could not answer the request; `message` is meant for humans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    pub version: u32,
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
    /// `offline`, `starting`, `online`, `stopping`, `start_failed` or `stop_failed`.
    pub state: String,
    /// The async process (also its process group id) while it runs.
    pub pid: Option<u32>,
    /// How the last process ended, while no new one runs.
    pub last_exit: Option<ExitDto>,
    pub since: String,
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
    /// `pid`, `disk`, `raw`, `ip`, `nic_link`, `soft_raid`, `user_space` or `multi_target`.
    pub kind: String,
    /// `stopped`, `waiting_for_target`, `start_wait`, `monitoring`, `recovering` or `suspended`.
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
    fn replies_carry_their_type_and_version() {
        let json = serde_json::to_string(&Response::error("nope")).expect("serialize");
        assert_eq!(json, r#"{"type":"Error","version":1,"message":"nope"}"#);
        let exit = serde_json::to_string(&ExitDto::Signal(9)).expect("serialize");
        assert_eq!(exit, r#"{"signal":9}"#);
    }
}
