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
//! tick would fall at most [`JOIN_SLACK`] (and 1 % of its interval) before a batch already
//! scheduled joins that batch, so monitors started one after another at boot share one wake.
//! Its first check is then that little later than one interval, never earlier.
//!
//! A monitor may tell the clock that its next ticks change nothing as long as one board entry
//! stays as it was ([`Ticket::quiet_while_unchanged`]): the steady normal state of a pid
//! monitor. The clock then skips the message until that entry changes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ractor::ActorRef;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use crate::board::ResourceStatus;
use crate::monitor::MonitorMsg;
use crate::task::Task;

/// At most this much later than one interval may a monitor's first tick be, to join a batch.
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

#[derive(Default)]
struct Schedule {
    next_id: u64,
    entries: HashMap<u64, Entry>,
    /// Deadline -> the entries due then, in registration order.
    due: BTreeMap<Instant, Vec<u64>>,
}

struct Entry {
    interval: Duration,
    deadline: Instant,
    monitor: ActorRef<MonitorMsg>,
    /// Skip the tick while this board entry has not changed since the monitor looked.
    quiet: Option<watch::Receiver<ResourceStatus>>,
}

/// A monitor's place on the schedule; dropping it unregisters.
pub struct Ticket {
    clock: Arc<Shared>,
    id: u64,
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
            .range(first..=first + slack)
            .next()
            .map(|(at, _)| *at)
            .unwrap_or(first);
        schedule.next_id += 1;
        let id = schedule.next_id;
        let earliest = schedule.due.keys().next().is_none_or(|at| deadline < *at);
        schedule.entries.insert(
            id,
            Entry {
                interval,
                deadline,
                monitor,
                quiet: None,
            },
        );
        schedule.due.entry(deadline).or_default().push(id);
        drop(schedule);
        if earliest {
            self.0.replan.notify_one();
        }
        Ticket {
            clock: self.0.clone(),
            id,
        }
    }

    /// How many monitors are on the schedule (tests: nothing leaks).
    pub fn len(&self) -> usize {
        self.0.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Ticket {
    /// The ticks change nothing while `entry` shows what the monitor last read from it; the
    /// monitor's own state allows it (it says so again after every message it handles).
    pub fn quiet_while_unchanged(&self, entry: Option<watch::Receiver<ResourceStatus>>) {
        if let Some(e) = self.clock.lock().entries.get_mut(&self.id) {
            e.quiet = entry;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut schedule = self.clock.lock();
        if let Some(entry) = schedule.entries.remove(&self.id) {
            schedule.unschedule(entry.deadline, self.id);
        }
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
    fn unschedule(&mut self, deadline: Instant, id: u64) {
        if let Some(batch) = self.due.get_mut(&deadline) {
            batch.retain(|x| *x != id);
            if batch.is_empty() {
                self.due.remove(&deadline);
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
            let late = now > deadline + LATE;
            for id in batch {
                let Some(e) = self.entries.get_mut(&id) else {
                    continue;
                };
                e.deadline = if late { now } else { deadline } + e.interval;
                let quiet = e
                    .quiet
                    .as_ref()
                    .is_some_and(|rx| matches!(rx.has_changed(), Ok(false)));
                if !quiet {
                    ticks.push(e.monitor.clone());
                }
                let next = e.deadline;
                self.due.entry(next).or_default().push(id);
            }
        }
        ticks
    }
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
