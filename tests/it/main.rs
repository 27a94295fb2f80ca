//! One integration test binary.

mod bond;
mod cli;
mod containment;
mod context;
mod control;
mod crashloop;
mod daemon;
mod escalation;
mod exits;
mod governor;
mod governor_daemon;
mod hijack;
mod install;
mod linux_host;
mod monitors;
mod probe_cli;
mod probes;
mod probes_netns;
mod real_daemon;
mod real_engine;
mod rights;
mod sim;
mod simulate;
mod supervision;
