//! The small piece of OTP every supervisor here shares: which child is which, and the restart
//! intensity that decides between restarting a crashed child and escalating (ractor ships no
//! restart strategies, RACTOR-NOTES §2).

use std::collections::HashMap;

use ractor::{ActorCell, ActorId, SupervisionEvent};
use tokio::time::Instant;
use upkeep_config::RestartIntensity;

use crate::ctx::{Ctx, Journal};
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
pub struct Children<K> {
    by_id: HashMap<ActorId, (K, ActorCell)>,
    window: RestartWindow,
    journal: Journal,
    host: std::sync::Arc<dyn crate::host::EngineHost>,
}

impl<K: Clone> Children<K> {
    /// Children under the daemon's core restart intensity (`core_restart`).
    pub fn new(ctx: &Ctx) -> Self {
        let intensity: RestartIntensity = ctx.config.core_restart;
        Children {
            by_id: HashMap::new(),
            window: RestartWindow::new(intensity.max_restarts, intensity.period),
            journal: ctx.journal.clone(),
            host: ctx.host.clone(),
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
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                let (key, _) = self.by_id.remove(&cell.get_id())?;
                if reason.as_deref() == Some("killed") {
                    if let Some(name) = cell.get_name() {
                        self.journal.crashed(&name, "killed", self.host.now_wall());
                    }
                }
                Some(ChildExit::Stopped { key })
            }
            _ => None,
        }
    }

    /// Record a crash: restart, or escalate past the intensity.
    pub fn record_crash(&mut self) -> Intensity {
        self.window.record(Instant::now())
    }
}

/// How long a supervisor waits for its children to stop before they are killed.
const CHILD_STOP: std::time::Duration = std::time::Duration::from_secs(10);

/// Stop `me`'s children gracefully and wait for them, in every supervisor's `post_stop`: ractor
/// otherwise kills the descendants of a stopped actor without waiting (RACTOR-NOTES §5), and
/// their registered names would outlive the tree a new engine is about to start.
pub async fn stop_children(me: &ActorCell) {
    me.stop_children_and_wait(Some("parent stopped".into()), Some(CHILD_STOP))
        .await;
}
