//! The daemon's event feed across engines (MSG-5, MSG-6; `upkeep events`): one numbering for the
//! life of the process.
//!
//! `upkeep stop` / `start` and a stop/restart apply (OPS-1, OPS-5, APPLY-5) replace the engine,
//! and each engine numbers its events from 1. Readers of `events --since N` need one sequence
//! that never goes back, so each engine's events are relayed here, renumbered, as wire DTOs.
//!
//! With alerts (issue 11), each event is also rendered with its message in force and handed to
//! the alert hub, whose alert log keeps it across restarts: the numbering continues from the
//! log's newest `seq`, and reads older than the ring are answered from the log.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;
use upkeep_actors::event::{Event, EventKind, Events};

use crate::alerts::Hub;

use super::proto::EventDto;
use super::snapshot;

/// How many events late readers can still get.
const RING: usize = 8192;
/// Events a live follower may fall behind before it re-reads them from the ring (every
/// follower handles `Lagged` so): tokio's broadcast allocates all its slots up front, 1.5 MiB
/// at `RING` (issue 14).
const LIVE: usize = 256;
/// At most this many events are read back from the alert log per request.
const HISTORY_LIMIT: usize = 100_000;

struct Ring {
    seq: u64,
    events: VecDeque<EventDto>,
    /// Issue 12: events since the daemon started, by (level, module), for `/metrics`.
    counts: std::collections::BTreeMap<(String, String), u64>,
}

/// The relayed feed; cheap to clone.
#[derive(Clone)]
pub struct Feed {
    ring: Arc<Mutex<Ring>>,
    tx: broadcast::Sender<EventDto>,
    alerts: Option<Hub>,
}

impl Default for Feed {
    fn default() -> Self {
        Feed::new()
    }
}

impl Feed {
    pub fn new() -> Feed {
        Feed::with_alerts(None, 0)
    }

    /// A feed that routes every event through `alerts` and numbers from `last_seq + 1` (the
    /// alert log's newest, so sequence numbers keep growing across restarts).
    pub fn with_alerts(alerts: Option<Hub>, last_seq: u64) -> Feed {
        let (tx, _) = broadcast::channel(LIVE);
        Feed {
            ring: Arc::new(Mutex::new(Ring {
                seq: last_seq,
                events: VecDeque::new(),
                counts: std::collections::BTreeMap::new(),
            })),
            tx,
            alerts,
        }
    }

    /// The alert hub, when the daemon routes alerts.
    pub fn alerts(&self) -> Option<&Hub> {
        self.alerts.as_ref()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, mut event: EventDto, kind: &EventKind) {
        let mut ring = self.lock();
        ring.seq += 1;
        event.seq = ring.seq;
        // Under the lock, so the channels get events in `seq` order; `route` never waits.
        if let Some(alerts) = &self.alerts {
            event = alerts.route(kind, event);
        }
        *ring
            .counts
            .entry((event.level.clone(), event.module.clone()))
            .or_default() += 1;
        if ring.events.len() == RING {
            ring.events.pop_front();
        }
        ring.events.push_back(event.clone());
        // Under the lock: subscribers see `seq` order, and a subscriber made under the lock
        // misses nothing between its snapshot and its receiver.
        let _ = self.tx.send(event);
    }

    /// The newest `seq` handed out.
    pub fn last_seq(&self) -> u64 {
        self.lock().seq
    }

    /// Events since the daemon started, by (level, module) (issue 12, `/metrics`).
    pub fn counts(&self) -> Vec<((String, String), u64)> {
        self.lock()
            .counts
            .iter()
            .map(|(k, n)| (k.clone(), *n))
            .collect()
    }

    /// Events after `since` still kept, and a receiver for the ones that follow. Events older
    /// than the ring come from the alert log (those of earlier daemons too).
    pub fn since(&self, since: u64) -> (Vec<EventDto>, broadcast::Receiver<EventDto>) {
        let (past, oldest, live) = {
            let ring = self.lock();
            let past: Vec<EventDto> = ring
                .events
                .iter()
                .filter(|e| e.seq > since)
                .cloned()
                .collect();
            let oldest = ring.events.front().map_or(ring.seq + 1, |e| e.seq);
            (past, oldest, self.tx.subscribe())
        };
        match &self.alerts {
            Some(alerts) if since + 1 < oldest => {
                let mut older: Vec<EventDto> = alerts
                    .read(since, HISTORY_LIMIT)
                    .entries
                    .into_iter()
                    .filter(|e| e.seq < oldest)
                    .collect();
                older.extend(past);
                (older, live)
            }
            _ => (past, live),
        }
    }

    /// Relay every event of one engine until [`Relay::finish`].
    pub fn relay(&self, events: &Events) -> Relay {
        let feed = self.clone();
        let source = events.clone();
        let last = Arc::new(AtomicU64::new(0));
        let seen = last.clone();
        let task = tokio::spawn(async move {
            loop {
                let (past, mut live) = source.subscribe_since(seen.load(Ordering::SeqCst));
                for e in past {
                    feed.forward(&seen, &e);
                }
                loop {
                    match live.recv().await {
                        Ok(e) => feed.forward(&seen, &e),
                        // Re-read from the ring: nothing lost unless a whole ring went by.
                        Err(broadcast::error::RecvError::Lagged(_)) => break,
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                }
            }
        });
        Relay {
            task,
            last,
            events: events.clone(),
            feed: self.clone(),
        }
    }

    fn forward(&self, seen: &AtomicU64, e: &Event) {
        // No await between the check and the push: an abort cannot split them.
        if e.seq > seen.load(Ordering::SeqCst) {
            seen.store(e.seq, Ordering::SeqCst);
            self.push(snapshot::event(e), &e.kind);
        }
    }
}

/// The relay of one engine's events.
pub struct Relay {
    task: tokio::task::JoinHandle<()>,
    last: Arc<AtomicU64>,
    events: Events,
    feed: Feed,
}

impl Relay {
    /// Stop relaying once the engine is down, after forwarding what it said last (its
    /// `stopped` event must not be lost to the abort).
    pub async fn finish(self) {
        self.task.abort();
        let _ = self.task.await;
        let (rest, _) = self
            .events
            .subscribe_since(self.last.load(Ordering::SeqCst));
        for e in rest {
            self.feed.forward(&self.last, &e);
        }
    }
}
