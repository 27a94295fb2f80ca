//! Crash injection for supervision tests: make a named actor's next handled message panic.
//!
//! Every actor of the tree calls [`CrashPlan::check`] first thing in its `handle`. The plan of a
//! production engine is disarmed (`Engine::start`), so the check is one branch on `None` and can
//! never panic. An armed plan has no public constructor: it is handed out only by
//! [`crate::sim::SimulatedHost::crash_plan`], and only `Engine::start_with_crash_plan` takes
//! one, which the `upkeep` binary never calls. A panic is the one way to exercise what a real
//! bug does (ractor skips `post_stop`, the state is dropped), so the tests need the real thing.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// Registered actor names whose next handled message panics, and names whose next start fails.
#[derive(Clone, Default)]
pub struct CrashPlan(Option<Arc<Mutex<Plan>>>);

#[derive(Default)]
struct Plan {
    panics: HashSet<String>,
    failed_starts: HashSet<String>,
}

/// The panic message an injected crash carries (and so the crash reason users see).
pub const INJECTED: &str = "injected panic";

/// The error an injected start failure returns from `pre_start`.
pub const INJECTED_START: &str = "injected start failure";

impl CrashPlan {
    /// An armed plan; only the simulated host hands one out.
    pub(crate) fn armed() -> Self {
        CrashPlan(Some(Arc::default()))
    }

    /// Make the actor registered as `name` panic in its next handler. No effect on a disarmed
    /// plan.
    pub fn panic_next(&self, name: &str) {
        if let Some(plan) = &self.0 {
            lock(plan).panics.insert(name.to_string());
        }
    }

    /// Make the next start of the actor registered as `name` fail in its `pre_start` (a
    /// restart that cannot spawn). No effect on a disarmed plan.
    pub fn fail_next_start(&self, name: &str) {
        if let Some(plan) = &self.0 {
            lock(plan).failed_starts.insert(name.to_string());
        }
    }

    /// The injected start failure of the actor registered as `name`, if the plan says so (once).
    pub fn check_start(&self, name: Option<String>) -> Result<(), &'static str> {
        let (Some(plan), Some(name)) = (&self.0, name) else {
            return Ok(());
        };
        match lock(plan).failed_starts.remove(&name) {
            true => Err(INJECTED_START),
            false => Ok(()),
        }
    }

    /// Panic if the plan says the actor registered as `name` crashes now (once).
    pub fn check(&self, name: Option<String>) {
        let (Some(plan), Some(name)) = (&self.0, name) else {
            return;
        };
        let hit = lock(plan).panics.remove(&name);
        if hit {
            // The test hook itself: the panic is the point.
            panic!("{INJECTED}");
        }
    }
}

fn lock(plan: &Mutex<Plan>) -> std::sync::MutexGuard<'_, Plan> {
    plan.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
