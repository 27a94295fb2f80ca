//! One integration test binary.

mod linux_host;
mod escalation;
mod sim;
