//! upkeep's engine: the supervision tree, escalation ladders and the reboot governor.
//!
//! See docs/ARCHITECTURE.md for the map. The engine reaches the OS only through [`host::Host`].

pub mod host;
