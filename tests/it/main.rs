//! One integration test binary.

mod linux_host;
mod escalation;
mod governor;
mod sim;
mod real_engine;
mod bond;
mod daemon;
