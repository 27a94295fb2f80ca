//! The real operating system behind the engine's `Host` boundary (ARCHITECTURE §4): processes of
//! exec resources (MAP-8, RES-11), zombie reaping, state files (CFG-5..9), OS actions (DOWN-1..6),
//! probe dispatch (MON-1) and the default folders (DIR, MAP-3).
//!
//! `linux` wires the parts into [`LinuxHost`]; each part lives in its own module so it can be read
//! and tested alone.

pub mod cgroup;
pub mod linux;
mod os_action;
pub mod paths;
pub mod pgroups;
pub mod probe;
mod process;
pub mod procfs;
pub mod reaper;
pub mod safe_file;
mod state;
mod userspace;
pub mod vfork;
pub mod watchdog;

pub use linux::LinuxHost;
pub use process::{EVENT_VAR, LOST_EXIT};
