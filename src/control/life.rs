//! The daemon's own life as the control socket reports it (`server.state`, `server.suspended`;
//! OPS-1..3, OPS-5), followed from the engine's event feed.
//!
//! The engine keeps its phase inside the root actor; asking the actor would let a wedged daemon
//! hang `upkeep status`. The feed already says every transition (TRB-10 started, stopping,
//! stopped, suspended, resumed) in causal order, so one task folds it into a `watch` that readers
//! borrow without waiting. The daemon's main loop also uses it to notice that the engine stopped
//! by itself (a final action).

use tokio::sync::{broadcast, watch};
use upkeep_actors::board::Board;
use upkeep_actors::event::{Event, EventKind, Events};

/// Where the daemon is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The tree is being built; no `Cluster daemon has started properly...` yet.
    Starting,
    Online,
    /// An orderly stop is deactivating the groups (OPS-5).
    Stopping,
    Stopped,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Online => "online",
            Phase::Stopping => "stopping",
            Phase::Stopped => "stopped",
        }
    }
}

/// The folded state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Life {
    pub phase: Phase,
    /// OPS-2: monitoring suspended by the operator.
    pub suspended: bool,
    /// TRB-10 was announced: the tree is built.
    announced: bool,
    /// The auto-start groups have finished starting (the board says so).
    groups_started: bool,
}

impl Life {
    fn new() -> Life {
        Life {
            phase: Phase::Starting,
            suspended: false,
            announced: false,
            groups_started: false,
        }
    }

    /// Online once the tree is built *and* the auto-start groups have finished starting: a
    /// service manager told READY=1 earlier would start dependent units while a start script
    /// still runs (issue 9).
    fn promote(&mut self) {
        if self.phase == Phase::Starting && self.announced && self.groups_started {
            self.phase = Phase::Online;
        }
    }

    fn apply(&mut self, kind: &EventKind) {
        match kind {
            EventKind::DaemonStarted => {
                self.announced = true;
                self.promote();
            }
            EventKind::DaemonStopping { .. } if self.phase != Phase::Stopped => {
                self.phase = Phase::Stopping
            }
            EventKind::DaemonStopped => self.phase = Phase::Stopped,
            EventKind::Suspended => self.suspended = true,
            EventKind::Resumed => self.suspended = false,
            _ => {}
        }
    }
}

/// Start following `events`; the task ends with the runtime or once the daemon has stopped.
pub fn follow(events: &Events, board: &Board) -> watch::Receiver<Life> {
    let (tx, rx) = watch::channel(Life::new());
    let mut started = board.groups_started.subscribe();
    let to = tx.clone();
    tokio::spawn(async move {
        if started.wait_for(|s| *s).await.is_ok() {
            to.send_if_modified(|life| {
                let before = *life;
                life.groups_started = true;
                life.promote();
                before != *life
            });
        }
    });
    let events = events.clone();
    tokio::spawn(async move {
        let mut last_seq = 0;
        loop {
            let (past, mut live) = events.subscribe_since(last_seq);
            for event in past {
                last_seq = fold(&tx, &event);
            }
            if tx.borrow().phase == Phase::Stopped {
                return;
            }
            loop {
                match live.recv().await {
                    Ok(event) if event.seq > last_seq => last_seq = fold(&tx, &event),
                    Ok(_) => {}
                    // Fell behind the ring: re-read from the last event seen, nothing is lost
                    // unless more than the whole ring went by, and then only old transitions.
                    Err(broadcast::error::RecvError::Lagged(_)) => break,
                    Err(broadcast::error::RecvError::Closed) => return,
                }
                if tx.borrow().phase == Phase::Stopped {
                    return;
                }
            }
        }
    });
    rx
}

fn fold(tx: &watch::Sender<Life>, event: &Event) -> u64 {
    tx.send_if_modified(|life| {
        let before = *life;
        life.apply(&event.kind);
        before != *life
    });
    event.seq
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_feed_drives_the_phase_and_the_suspension() {
        let mut life = Life::new();
        life.apply(&EventKind::DaemonStarted);
        assert_eq!(life.phase, Phase::Starting, "the groups are still starting");
        life.groups_started = true;
        life.promote();
        assert_eq!(life.phase, Phase::Online);
        life.apply(&EventKind::Suspended);
        assert!(life.suspended);
        life.apply(&EventKind::Resumed);
        assert!(!life.suspended);
        life.apply(&EventKind::DaemonStopping {
            reason: "signal".into(),
        });
        assert_eq!(life.phase, Phase::Stopping);
        life.apply(&EventKind::DaemonStopped);
        life.apply(&EventKind::DaemonStarted);
        assert_eq!(life.phase, Phase::Stopped);
    }
}
