//! The small piece of OTP every supervisor here shares: which child is which, and the restart
//! intensity that decides between restarting a crashed child and escalating (ractor ships no
//! restart strategies, RACTOR-NOTES §2).

use std::collections::HashMap;

use ractor::{ActorCell, ActorId, SupervisionEvent};
use tokio::time::Instant;
use upkeep_config::RestartIntensity;

use crate::ladder::{Intensity, RestartWindow};

/// How a child left.
#[derive(Debug)]
pub enum ChildExit<K> {
    /// Panicked or returned an error: a candidate for restart.
    Crashed { key: K, reason: String },
    /// Stopped on purpose (or killed as part of a stop).
    Stopped { key: K },
}

/// The children of one supervisor, keyed by what they are (a group name, a monitor name, ...).
#[derive(Debug)]
pub struct Children<K> {
    by_id: HashMap<ActorId, (K, ActorCell)>,
    window: RestartWindow,
}

impl<K: Clone> Children<K> {
    pub fn new(intensity: RestartIntensity) -> Self {
        Children {
            by_id: HashMap::new(),
            window: RestartWindow::new(intensity.max_restarts, intensity.period),
        }
    }

    pub fn insert(&mut self, cell: ActorCell, key: K) {
        self.by_id.insert(cell.get_id(), (key, cell));
    }

    /// Classify a supervision event; `None` for events about children we don't track (a stale
    /// incarnation, or an `ActorStarted`).
    pub fn exit(&mut self, event: &SupervisionEvent) -> Option<ChildExit<K>> {
        match event {
            SupervisionEvent::ActorFailed(cell, err) => {
                let (key, _) = self.by_id.remove(&cell.get_id())?;
                Some(ChildExit::Crashed {
                    key,
                    reason: err.to_string(),
                })
            }
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                let (key, _) = self.by_id.remove(&cell.get_id())?;
                Some(ChildExit::Stopped { key })
            }
            _ => None,
        }
    }

    /// Record a crash: restart, or escalate past the intensity.
    pub fn record_crash(&mut self) -> Intensity {
        self.window.record(Instant::now())
    }

    /// Restarts inside the window now (for `upkeep tree`).
    pub fn recent_restarts(&self) -> usize {
        self.window.recent(Instant::now())
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}
