//! Alerts (MSG-1..7): every engine event, looked up in the message catalogue, goes to the
//! channels its message names: syslog, the persistent alert log, mail, and upkeep's program
//! channel. The engine only emits typed events; the routing lives here, fed by the daemon's
//! event feed (`control::feed`). A slow channel never blocks the event path: each has its own
//! bounded queue, and what does not fit is dropped and counted.

pub mod catalogue;
pub mod messages;

#[cfg(test)]
mod catalogue_tests;

pub mod alert_log;
pub mod hub;
pub mod mail;
pub mod program;
pub mod syslog;

/// One mailed, logged error event numbered `seq`, for the channels' unit tests.
#[cfg(test)]
pub(crate) fn sample_event(seq: u64) -> crate::control::proto::EventDto {
    crate::control::proto::EventDto {
        seq,
        at: "2026-12-02T03:00:00.000Z".into(),
        module: "rm".into(),
        event_id: 9,
        level: "error".into(),
        text: format!("Monitor m{seq} failed. (gone)"),
        line: format!("<type: rm><event: 9> Monitor m{seq} failed. (gone)"),
        send: Some("syslog.alert.mail".into()),
    }
}

pub use hub::{load_messages, AlertsError, Hub};
