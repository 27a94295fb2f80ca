//! The one supervisor piece every supervising actor of the tree embeds (OTP's model; ractor
//! ships no restart strategies, RACTOR-NOTES §2).
//!
//! A [`Supervisor`] holds its children as data — a key (what the child is to its parent), the
//! registered name, the start order, the incarnation running now — and the restart intensity.
//! It decides in one place what a child's exit means: ignored (a stale incarnation, or a stop
//! the supervisor asked for), restart, or escalate past the intensity. Every crash, a panic as
//! much as a kill, is recorded in the [`Journal`] `upkeep tree` shows and announced as an event
//! at the moment of the decision. The owning actor only carries the decision out: it spawns the
//! child (its actor type is its own business), or escalates as its level prescribes
//! (docs/ARCHITECTURE.md, "Supervision").
//!
//! A spawn that fails during a restart is counted like a crash and tried again later through a
//! self-message (OTP's `try_again_restart`); it never fails the supervisor by itself. Children
//! stop in reverse start order, each with a bounded graceful stop and a kill after it.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use ractor::{ActorCell, SupervisionEvent};
use tokio::time::Instant;

use crate::ctx::{Ctx, Journal};
use crate::event::EventKind;
use crate::ladder::{Intensity, RestartWindow};
use crate::task::Task;

/// What the owning actor does about a child's exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision<K> {
    /// Not about a child running now, or an exit the supervisor asked for.
    Ignore,
    /// Start the child again (the crash is journaled and announced already).
    Restart(K),
    /// The intensity is exceeded: the supervisor's escalation applies.
    Escalate(K),
}

/// How the events of a supervisor read: the daemon's own children are the seed's internal
/// processes (`pm`, DOWN-3); below them crashes are announced in the subtree's module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The daemon's children: governor, rc, rm, user-space monitor.
    Core,
    /// Everything below.
    Inner,
}

/// What to do with a child that exits while the supervisor runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restart {
    /// Always restarted (every child while its parent runs).
    Permanent,
    /// Never restarted: its parent is winding down. A crash is still journaled.
    Temporary,
}

struct Child<K> {
    key: K,
    name: String,
    cell: Option<ActorCell>,
    restart: Restart,
    /// Which start of this child runs now (1 = the first).
    incarnation: u64,
}

/// The children of one supervisor, its restart intensity, and its pending retries.
pub struct Supervisor<K> {
    ctx: Ctx,
    level: Level,
    /// Children in start order.
    children: Vec<Child<K>>,
    window: RestartWindow,
    try_again: Arc<dyn Fn(K) + Send + Sync>,
    retries: Vec<Task>,
}

/// How long a failed restart waits before it is tried again: the usual cause is a name still
/// held by a dying incarnation's descendants, gone within a scheduler round.
const TRY_AGAIN: Duration = Duration::from_millis(100);

/// How long a supervisor waits for one child to stop before it is killed.
const CHILD_STOP: Duration = Duration::from_secs(10);

impl<K: Clone + PartialEq + Debug + Send + 'static> Supervisor<K> {
    /// A supervisor under the daemon's restart intensity (`core_restart`, default 3 in 60 s).
    /// `try_again` sends the owning actor the self-message that retries a failed restart.
    pub fn new(ctx: &Ctx, level: Level, try_again: impl Fn(K) + Send + Sync + 'static) -> Self {
        let intensity = ctx.config.core_restart;
        Supervisor {
            ctx: ctx.clone(),
            level,
            children: Vec::new(),
            window: RestartWindow::new(intensity.max_restarts, intensity.period),
            try_again: Arc::new(try_again),
            retries: Vec::new(),
        }
    }

    fn find(&self, key: &K) -> Option<usize> {
        self.children.iter().position(|c| &c.key == key)
    }

    /// The incarnation the next start of `key` will be.
    pub fn next_incarnation(&self, key: &K) -> u64 {
        self.find(key)
            .map(|i| self.children[i].incarnation + 1)
            .unwrap_or(1)
    }

    /// The incarnation of `key` running now (0 = none yet).
    pub fn incarnation(&self, key: &K) -> u64 {
        self.find(key)
            .map(|i| self.children[i].incarnation)
            .unwrap_or(0)
    }

    /// Record a started child. A new key goes last in the start order; a restarted one keeps
    /// its place.
    pub fn started(&mut self, key: K, cell: ActorCell) -> u64 {
        let name = cell
            .get_name()
            .unwrap_or_else(|| format!("{}", cell.get_id()));
        match self.find(&key) {
            Some(i) => {
                let child = &mut self.children[i];
                child.incarnation += 1;
                child.name = name;
                child.cell = Some(cell);
                child.restart = Restart::Permanent;
                child.incarnation
            }
            None => {
                self.children.push(Child {
                    key,
                    name,
                    cell: Some(cell),
                    restart: Restart::Permanent,
                    incarnation: 1,
                });
                1
            }
        }
    }

    /// The tree path of child `key` (its registered name without the instance).
    pub fn path(&self, key: &K) -> Option<String> {
        self.find(key)
            .map(|i| self.ctx.names.display(&self.children[i].name).to_string())
    }

    /// Stop restarting every child but those `keep` accepts (the owner is winding down).
    pub fn wind_down(&mut self, keep: impl Fn(&K) -> bool) {
        for child in &mut self.children {
            if !keep(&child.key) {
                child.restart = Restart::Temporary;
            }
        }
    }

    /// Classify a supervision event and decide. A crash of a running child is journaled here,
    /// and announced unless the child is no longer restarted (its supervisor winds down).
    pub fn on_event(&mut self, event: &SupervisionEvent) -> Decision<K> {
        let (cell, reason) = match event {
            SupervisionEvent::ActorFailed(cell, err) => (cell, err.to_string()),
            SupervisionEvent::ActorTerminated(cell, _, reason) => (
                cell,
                match reason.as_deref() {
                    Some("killed") => "killed".to_string(),
                    _ => "terminated unexpectedly".to_string(),
                },
            ),
            _ => return Decision::Ignore,
        };
        let id = cell.get_id();
        let Some(i) = self
            .children
            .iter()
            .position(|c| c.cell.as_ref().is_some_and(|c| c.get_id() == id))
        else {
            // A stale incarnation, or a child stopped on purpose (its cell was taken).
            return Decision::Ignore;
        };
        let child = &mut self.children[i];
        child.cell = None;
        let key = child.key.clone();
        let name = child.name.clone();
        let restart = child.restart;
        self.journal()
            .crashed(&name, &reason, self.ctx.host.now_wall());
        if restart == Restart::Temporary {
            tracing::warn!(actor = %self.ctx.names.display(&name), %reason, "actor ended while its supervisor winds down");
            return Decision::Ignore;
        }
        self.decide(key, &name, reason)
    }

    /// A restart of `key` could not spawn it: counted like a crash, tried again later, or
    /// escalated past the intensity.
    pub fn spawn_failed(&mut self, key: K, error: &dyn std::fmt::Display) -> Decision<K> {
        let name = self
            .find(&key)
            .map(|i| self.children[i].name.clone())
            .unwrap_or_else(|| format!("{key:?}"));
        let reason = format!("restart failed: {error}");
        self.journal()
            .crashed(&name, &reason, self.ctx.host.now_wall());
        match self.decide(key.clone(), &name, reason) {
            Decision::Restart(key) => {
                let try_again = self.try_again.clone();
                self.retries.retain(|t| !t.is_finished());
                self.retries.push(Task::spawn(async move {
                    tokio::time::sleep(TRY_AGAIN).await;
                    try_again(key);
                }));
                Decision::Ignore
            }
            other => other,
        }
    }

    fn journal(&self) -> &Journal {
        &self.ctx.journal
    }

    fn decide(&mut self, key: K, name: &str, reason: String) -> Decision<K> {
        let actor = self.ctx.names.display(name).to_string();
        let intensity = self.window.record(Instant::now());
        let event = match (self.level, intensity) {
            (Level::Core, Intensity::Restart) => EventKind::CoreRestarted {
                actor,
                reason: reason.clone(),
            },
            (Level::Core, Intensity::Escalate) => EventKind::CoreFailed {
                actor,
                reason: reason.clone(),
            },
            (Level::Inner, Intensity::Restart) => EventKind::ActorRestarted {
                actor,
                reason: reason.clone(),
            },
            (Level::Inner, Intensity::Escalate) => EventKind::ActorGaveUp {
                actor,
                reason: reason.clone(),
            },
        };
        self.ctx.emit(event);
        match intensity {
            Intensity::Restart => Decision::Restart(key),
            Intensity::Escalate => Decision::Escalate(key),
        }
    }

    /// Stop every child in reverse start order (in `post_stop`, and before a supervisor replaces
    /// its children). ractor's own `stop_children_and_wait` stops them all at once, and after
    /// a panic or a kill it only kills (RACTOR-NOTES §5).
    pub async fn stop_all(&mut self) {
        self.retries.clear();
        for i in (0..self.children.len()).rev() {
            if let Some(cell) = self.children[i].cell.take() {
                stop_or_kill(cell).await;
            }
        }
    }
}

/// Why a spawn failed, in words: ractor words every startup error as a panic (RACTOR-NOTES §6).
pub fn spawn_error(err: &(dyn std::error::Error + 'static)) -> String {
    match err.downcast_ref::<ractor::SpawnErr>() {
        Some(ractor::SpawnErr::StartupFailed(inner)) => inner.to_string(),
        Some(ractor::SpawnErr::ActorAlreadyRegistered(name)) => {
            format!("the name {name} is still taken")
        }
        _ => err.to_string(),
    }
}

async fn stop_or_kill(cell: ActorCell) {
    if cell.get_status() == ractor::ActorStatus::Stopped {
        return;
    }
    if cell
        .stop_and_wait(Some("parent stopped".into()), Some(CHILD_STOP))
        .await
        .is_err()
    {
        tracing::warn!(actor = ?cell.get_name(), "did not stop in time; killed");
        let _ = cell.kill_and_wait(Some(CHILD_STOP)).await;
    }
}
