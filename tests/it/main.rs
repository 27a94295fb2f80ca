//! One integration test binary.

mod bond;
mod daemon;
mod escalation;
mod governor;
mod linux_host;
mod probes;
mod probes;
mod monitors;
mod real_engine;
mod sim;
