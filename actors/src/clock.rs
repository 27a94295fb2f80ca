//! Clock: one timer for the intervals of all monitors (MON-3), owned by rm.
//!
//! A monitor registers when it starts and holds the [`Ticket`]; dropping the ticket (the
//! monitor's state is dropped after a stop, a panic or a kill alike) takes it off the schedule,
//! so a dead monitor leaves no entry behind. The schedule is a map from deadline to the batch of
//! monitors due then; one task sleeps until the first deadline and ticks that whole batch, so the
//! runtime wakes once per deadline, not once per monitor.
//!
//! Timing is the one a per-monitor `tokio::time::interval` gave: the first tick one interval
//! after the monitor starts, then every interval, and a tick that comes late (a busy runtime)
//! moves the following ones (`MissedTickBehavior::Delay`). One allowance: a monitor whose first
//! tick would fall within [`JOIN_SLACK`] (and 1 % of its interval) of a batch already scheduled
//! joins that batch, so monitors started one after another at boot share one wake. Its first
//! tick is then that little (at most 10 ms, intervals being whole seconds) off one interval;
//! monitors started at the same instant, as in virtual time, are not moved at all.
//!
//! A monitor may tell the clock that its next ticks change nothing as long as one board entry
//! stays as it was ([`Ticket::quiet_while_unchanged`]): the steady normal state of a pid
//! monitor. The clock then skips the message until that entry changes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ractor::ActorRef;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use crate::board::ResourceStatus;
use crate::monitor::MonitorMsg;
use crate::task::Task;

/// At most this much off one interval may a monitor's first tick be, to join a batch.
pub const JOIN_SLACK: Duration = Duration::from_millis(10);

/// A tick this much behind its deadline counts as missed (tokio's own tolerance for `interval`).
const LATE: Duration = Duration::from_millis(5);

/// A handle on the schedule; clones share it. The task that ticks lives as long as the
/// [`ClockTask`] that [`Clock::start`] returns.
#[derive(Clone)]
pub struct Clock(Arc<Shared>);

/// The clock's ticking task: aborted when dropped (by rm's state, so a restarted rm starts
/// a fresh clock).
pub struct ClockTask(#[allow(dead_code)] Task);

struct Shared {
    schedule: Mutex<Schedule>,
    /// An earlier deadline was registered: the task re-plans its sleep.
    replan: Notify,
}

/// The entries live in slots (no hashing on the hot path, 10,000 monitors at 1 s); a batch names
/// them by slot and generation, so a dropped entry is only freed, and the stale key left in its
/// batch is skipped when that batch comes due (at most one interval later), never matched to a
/// later entry in the same slot.
#[derive(Default)]
struct Schedule {
    slots: Vec<Slot>,
    free: Vec<usize>,
    live: usize,
    /// Deadline -> the entries due then, in the order they came to it.
    due: BTreeMap<Instant, Vec<Key>>,
}

#[derive(Default)]
struct Slot {
    generation: u64,
    entry: Option<Entry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    slot: usize,
    generation: u64,
}

struct Entry {
    interval: Duration,
    monitor: ActorRef<MonitorMsg>,
    /// Skip the tick while this board entry has not changed since the monitor looked.
    quiet: Option<watch::Receiver<ResourceStatus>>,
}

/// A monitor's place on the schedule; dropping it unregisters.
pub struct Ticket {
    clock: Arc<Shared>,
    key: Key,
}

impl Clock {
    /// A clock and its ticking task.
    pub fn start() -> (Clock, ClockTask) {
        let shared = Arc::new(Shared {
            schedule: Mutex::new(Schedule::default()),
            replan: Notify::new(),
        });
        let task = Task::spawn(run(shared.clone()));
        (Clock(shared), ClockTask(task))
    }

    /// MON-3: tick `monitor` every `interval`, the first time one interval from now.
    pub fn register(&self, interval: Duration, monitor: ActorRef<MonitorMsg>) -> Ticket {
        let interval = interval.max(Duration::from_millis(1));
        let first = Instant::now() + interval;
        let mut schedule = self.0.lock();
        let slack = JOIN_SLACK.min(interval / 100);
        let deadline = schedule
            .due
            .range(first.checked_sub(slack).unwrap_or(first)..=first + slack)
            .map(|(at, _)| *at)
            .min_by_key(|at| at.max(&first).duration_since(*at.min(&first)))
            .unwrap_or(first);
        let earliest = schedule.due.keys().next().is_none_or(|at| deadline < *at);
        let key = schedule.insert(Entry {
            interval,
            monitor,
            quiet: None,
        });
        schedule.due.entry(deadline).or_default().push(key);
        drop(schedule);
        if earliest {
            self.0.replan.notify_one();
        }
        Ticket {
            clock: self.0.clone(),
            key,
        }
    }

    /// How many monitors are on the schedule (tests: nothing leaks).
    pub fn len(&self) -> usize {
        self.0.lock().live
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Ticket {
    /// The ticks change nothing while `entry` shows what the monitor last read from it; the
    /// monitor's own state allows it (it says so again after every message it handles).
    pub fn quiet_while_unchanged(&self, entry: Option<watch::Receiver<ResourceStatus>>) {
        if let Some(e) = self.clock.lock().get_mut(self.key) {
            e.quiet = entry;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.clock.lock().remove(self.key);
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Schedule> {
        self.schedule
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Schedule {
    fn insert(&mut self, entry: Entry) -> Key {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(Slot::default());
            self.slots.len() - 1
        });
        let s = &mut self.slots[slot];
        s.generation += 1;
        s.entry = Some(entry);
        self.live += 1;
        Key {
            slot,
            generation: s.generation,
        }
    }

    fn get_mut(&mut self, key: Key) -> Option<&mut Entry> {
        live_entry(&mut self.slots, key)
    }

    fn remove(&mut self, key: Key) {
        if let Some(s) = self.slots.get_mut(key.slot) {
            if s.generation == key.generation && s.entry.take().is_some() {
                self.free.push(key.slot);
                self.live -= 1;
            }
        }
    }

    /// Take every batch due by `now`, schedule each entry's next tick, and return the
    /// monitors to tick (quiet ones left out).
    fn fire(&mut self, now: Instant) -> Vec<ActorRef<MonitorMsg>> {
        let mut ticks = Vec::new();
        while let Some(entry) = self.due.first_entry() {
            if *entry.key() > now {
                break;
            }
            let (deadline, batch) = entry.remove_entry();
            let base = if now > deadline + LATE { now } else { deadline };
            // Entries of one interval stay one batch: moved together, in one map insert.
            let mut moved: Option<(Instant, Vec<Key>)> = None;
            for key in batch {
                let Some(e) = live_entry(&mut self.slots, key) else {
                    continue; // dropped since: its stale key ends here
                };
                let next = base + e.interval;
                let quiet = e
                    .quiet
                    .as_ref()
                    .is_some_and(|rx| matches!(rx.has_changed(), Ok(false)));
                if !quiet {
                    ticks.push(e.monitor.clone());
                }
                match &mut moved {
                    Some((at, keys)) if *at == next => keys.push(key),
                    None => moved = Some((next, vec![key])),
                    Some(_) => self.due.entry(next).or_default().push(key),
                }
            }
            if let Some((at, keys)) = moved {
                self.due.entry(at).or_default().extend(keys);
            }
        }
        ticks
    }
}

fn live_entry(slots: &mut [Slot], key: Key) -> Option<&mut Entry> {
    slots
        .get_mut(key.slot)
        .filter(|s| s.generation == key.generation)
        .and_then(|s| s.entry.as_mut())
}

async fn run(shared: Arc<Shared>) {
    loop {
        let next = shared.lock().due.keys().next().copied();
        match next {
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = shared.replan.notified() => continue,
                }
            }
            None => {
                shared.replan.notified().await;
                continue;
            }
        }
        let ticks = shared.lock().fire(Instant::now());
        for monitor in ticks {
            // A monitor that is gone drops its ticket with its state; nothing to do here.
            let _ = monitor.cast(MonitorMsg::Tick);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ractor::{Actor, ActorProcessingErr};
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Counts the ticks it gets.
    struct Counter;

    impl Actor for Counter {
        type Msg = MonitorMsg;
        type State = Arc<AtomicU32>;
        type Arguments = Arc<AtomicU32>;

        async fn pre_start(
            &self,
            _me: ActorRef<MonitorMsg>,
            count: Arc<AtomicU32>,
        ) -> Result<Arc<AtomicU32>, ActorProcessingErr> {
            Ok(count)
        }

        async fn handle(
            &self,
            _me: ActorRef<MonitorMsg>,
            msg: MonitorMsg,
            count: &mut Arc<AtomicU32>,
        ) -> Result<(), ActorProcessingErr> {
            if matches!(msg, MonitorMsg::Tick) {
                count.fetch_add(1, Ordering::SeqCst);
            }
            Ok(())
        }
    }

    async fn counter() -> (ActorRef<MonitorMsg>, Arc<AtomicU32>) {
        let count = Arc::new(AtomicU32::new(0));
        let (actor, _) = Actor::spawn(None, Counter, count.clone())
            .await
            .expect("spawn");
        (actor, count)
    }

    async fn run_for(ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    fn status() -> ResourceStatus {
        ResourceStatus {
            group: "g".into(),
            state: crate::board::ResourceState::Online,
            pid: Some(1),
            generation: 1,
            last_exit: None,
            since: std::time::SystemTime::UNIX_EPOCH,
            starts: 1,
            last_failure: None,
        }
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn monitors_started_together_share_one_deadline_and_tick_every_interval() {
        let (clock, _task) = Clock::start();
        let (a, ca) = counter().await;
        let (b, cb) = counter().await;
        let _ta = clock.register(Duration::from_secs(1), a);
        run_for(3).await; // within the join slack (10 ms): b joins a's batch
        let _tb = clock.register(Duration::from_secs(1), b);
        assert_eq!(clock.0.lock().due.len(), 1, "one batch");
        run_for(990).await;
        assert_eq!(
            (ca.load(Ordering::SeqCst), cb.load(Ordering::SeqCst)),
            (0, 0)
        );
        run_for(10).await; // t = 1.003
        assert_eq!(
            (ca.load(Ordering::SeqCst), cb.load(Ordering::SeqCst)),
            (1, 1)
        );
        run_for(3_000).await;
        assert_eq!(
            (ca.load(Ordering::SeqCst), cb.load(Ordering::SeqCst)),
            (4, 4)
        );
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_dropped_ticket_leaves_no_entry_and_gets_no_tick() {
        let (clock, _task) = Clock::start();
        let (a, ca) = counter().await;
        let ticket = clock.register(Duration::from_secs(1), a);
        run_for(1_500).await;
        assert_eq!(ca.load(Ordering::SeqCst), 1);
        drop(ticket);
        assert!(clock.is_empty());
        run_for(3_000).await;
        assert_eq!(ca.load(Ordering::SeqCst), 1);
        // Its stale key went with the batch it was in; the slot serves the next monitor.
        assert!(clock.0.lock().due.is_empty());
        let (b, cb) = counter().await;
        let _tb = clock.register(Duration::from_secs(1), b);
        run_for(2_000).await;
        assert_eq!(
            (ca.load(Ordering::SeqCst), cb.load(Ordering::SeqCst)),
            (1, 2)
        );
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_quiet_monitor_is_skipped_until_its_board_entry_changes() {
        let (clock, _task) = Clock::start();
        let (a, ca) = counter().await;
        let ticket = clock.register(Duration::from_secs(1), a);
        let (tx, _) = watch::channel(status());
        ticket.quiet_while_unchanged(Some(tx.subscribe()));
        run_for(3_500).await;
        assert_eq!(ca.load(Ordering::SeqCst), 0, "quiet: no tick");
        tx.send_modify(|s| s.pid = None);
        run_for(1_000).await;
        assert_eq!(ca.load(Ordering::SeqCst), 1, "changed: ticked");
        ticket.quiet_while_unchanged(None);
        run_for(1_000).await;
        assert_eq!(ca.load(Ordering::SeqCst), 2, "not quiet: ticked");
    }
}
