//! One integration test binary.

mod bond;
mod cli;
mod daemon;
mod escalation;
mod governor;
mod linux_host;
mod monitors;
mod probe_cli;
mod probes;
mod probes_netns;
mod real_engine;
mod sim;
mod supervision;
