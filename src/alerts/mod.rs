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

pub use hub::{load_messages, AlertsError, Hub};
