//! The `upkeep` binary's library: CLI, daemon wiring, the Linux host and the control socket.

pub mod alerts;
pub mod bond;
pub mod cli;
pub mod control;
pub mod daemon;
pub mod host;
pub mod web;
