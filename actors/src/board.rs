//! The status board: the live state of every group, resource and monitor, shared read-mostly.
//!
//! Each actor writes its own entry into a `tokio::sync::watch`; readers (status snapshots, the
//! pid monitor, `when_active` timing) read or await changes without sending a message, so a
//! wedged actor can never make `upkeep status` hang.
//!
//! A watch keeps only the latest value, so it cannot carry events: a process that dies right
//! after its spawn turns pid none → some → none between two looks of a reader. Process exits
//! therefore also go out as messages: each resource entry has a list of exit subscribers (the
//! pid monitors of that resource), and the resource hands every exit to each of them (MON-10:
//! event-driven, no polling delay, nothing coalesced).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use std::time::SystemTime;

use tokio::sync::watch;
use upkeep_config::{Config, Monitor};

use crate::host::{ExitInfo, Verdict};

/// State of an exec resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceState {
    Offline,
    Starting,
    Online,
    Stopping,
    /// Activation failed and its final action was taken.
    StartFailed,
    /// Deactivation failed and its final action was taken.
    StopFailed,
}

impl ResourceState {
    /// MON-14: an active target may be recovered; an inactive one is left alone.
    pub fn is_active(self) -> bool {
        matches!(self, ResourceState::Online | ResourceState::Starting)
    }
}

/// An exec resource's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceStatus {
    pub group: String,
    pub state: ResourceState,
    /// The async process while it runs.
    pub pid: Option<u32>,
    /// The incarnation of the current (or last) process: bumped every time a new process is
    /// started, never reused within the engine's life (a restarted resource actor continues the
    /// count). Exit reports carry it, so a late report of an old process cannot act on its
    /// successor.
    pub generation: u64,
    /// How the last process ended, while no new one runs.
    pub last_exit: Option<ExitInfo>,
    pub since: SystemTime,
    /// Starts of this resource since the engine started (activations, their retries and every
    /// reactivation), so status can show how often it was restarted.
    pub starts: u32,
    /// Why the last start or stop failed (`program not found`, a timeout, an exit code), until
    /// the next successful one.
    pub last_failure: Option<String>,
}

/// One exit of a resource's process, as the resource that owned it reports it (MON-10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessExit {
    /// The process's incarnation ([`ResourceStatus::generation`]).
    pub generation: u64,
    pub pid: u32,
    pub exit: ExitInfo,
}

/// Where a resource's exits go. Returns `false` once its receiver is gone; it is then dropped.
/// Called from the resource's handler: it must only hand the report on (a cast), never wait.
pub type ExitSink = Box<dyn Fn(ProcessExit) -> bool + Send + Sync>;

/// Where a resource's state changes go (a `WhenActive` monitor's timing, MON-7), with the new
/// state. Same contract as [`ExitSink`]: `false` drops it, and it must only cast.
pub type StateSink = Box<dyn Fn(ResourceState) -> bool + Send + Sync>;

/// One subscriber's callback: `false` once its receiver is gone.
type Sink<T> = Box<dyn Fn(T) -> bool + Send + Sync>;

/// The subscribers of one resource to one kind of report.
struct Sinks<T> {
    next_id: u64,
    sinks: Vec<(u64, Sink<T>)>,
}

impl<T> Default for Sinks<T> {
    fn default() -> Self {
        Sinks {
            next_id: 0,
            sinks: Vec::new(),
        }
    }
}

impl<T> fmt::Debug for Sinks<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} subscribers", self.sinks.len())
    }
}

impl<T: Copy> Sinks<T> {
    fn add(&mut self, sink: Sink<T>) -> u64 {
        self.next_id += 1;
        self.sinks.push((self.next_id, sink));
        self.next_id
    }

    fn publish(&mut self, report: T) {
        self.sinks.retain(|(_, sink)| sink(report));
    }
}

#[derive(Debug, Clone, Copy)]
enum Reports {
    Exits,
    States,
}

/// A subscription to a resource's exits or state changes; dropping it unsubscribes.
#[derive(Debug)]
pub struct BoardSubscription {
    board: Weak<Board>,
    resource: String,
    reports: Reports,
    id: u64,
}

impl Drop for BoardSubscription {
    fn drop(&mut self) {
        if let Some(board) = self.board.upgrade() {
            let id = self.id;
            match self.reports {
                Reports::Exits => {
                    if let Some(sinks) = board.exits.get(&self.resource) {
                        lock(sinks).sinks.retain(|(x, _)| *x != id);
                    }
                }
                Reports::States => {
                    if let Some(sinks) = board.states.get(&self.resource) {
                        lock(sinks).sinks.retain(|(x, _)| *x != id);
                    }
                }
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// State of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    Offline,
    Starting,
    Online,
    /// Started, but at least one resource failed to activate.
    OnlinePartial,
    Stopping,
    /// Stopped, but at least one resource failed to deactivate.
    OfflinePartial,
}

impl GroupState {
    pub fn is_active(self) -> bool {
        matches!(
            self,
            GroupState::Online | GroupState::OnlinePartial | GroupState::Starting
        )
    }
}

/// A group's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupStatus {
    pub state: GroupState,
    pub since: SystemTime,
}

/// Where a monitor is in its state machine (MON-16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MonitorPhase {
    /// Not running (daemon stopped).
    Stopped,
    /// Timing `when_active`: waiting for the target resource to be activated (MON-7).
    WaitingForTarget,
    /// Waiting the start wait (MON-6).
    StartWait,
    Monitoring,
    /// A recovery it asked for is in progress.
    Recovering,
    /// Suspended by the operator (OPS-2, OPS-4).
    Suspended,
    /// upkeep's restart backoff: a reactivation waits until `MonitorStatus::next_attempt`.
    Backoff,
}

/// A monitor's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorStatus {
    pub phase: MonitorPhase,
    pub last_verdict: Option<Verdict>,
    pub last_detail: String,
    /// Consecutive abnormal checks (MON-5).
    pub failures: u32,
    /// Abnormal checks that declare an error (`retries + 1`).
    pub needed: u32,
    /// Reactivations used and allowed (MON-12).
    pub reactivations: u32,
    pub reactivation_threshold: u32,
    pub since: SystemTime,
    /// Suspended by the operator (OPS-4); with `--for`, until when.
    pub operator_suspended: bool,
    pub suspended_until: Option<SystemTime>,
    /// Reactivations this monitor started since the engine started (never reset).
    pub restarts: u32,
    /// In phase `Backoff`: when the delayed reactivation runs.
    pub next_attempt: Option<SystemTime>,
    /// The final action (or a start limit) ended this error episode; it lasts until a normal
    /// check, and the error is not declared again meanwhile.
    pub failed: Option<String>,
    /// upkeep's start grace: abnormal checks are not counted until then.
    pub grace_until: Option<SystemTime>,
}

/// The reboot governor's entry (CFG-5..9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GovernorStatus {
    pub count: u32,
    pub max: u32,
    pub last_error: Option<SystemTime>,
    /// The state file was damaged: the limit is treated as reached.
    pub damaged: bool,
}

/// All entries of one daemon. The key sets are fixed by the configuration.
#[derive(Debug)]
pub struct Board {
    pub groups: BTreeMap<String, watch::Sender<GroupStatus>>,
    pub resources: BTreeMap<String, watch::Sender<ResourceStatus>>,
    /// Behind a lock because a hot configuration apply adds and removes monitors (APPLY-2 #2).
    monitors: RwLock<BTreeMap<String, watch::Sender<MonitorStatus>>>,
    pub governor: watch::Sender<GovernorStatus>,
    /// The auto-start groups have finished starting (OPS-1, PROC-3), whatever their outcome:
    /// only then is the daemon online and ready for a service manager.
    pub groups_started: watch::Sender<bool>,
    /// Per resource, who hears of its process exits. Kept here rather than in the resource
    /// actor so a subscription outlives restarts of the resource and of the subscriber's peers.
    exits: BTreeMap<String, Mutex<Sinks<ProcessExit>>>,
    /// Per resource, who hears of its state changes: a callback rather than a task per
    /// `WhenActive` monitor awaiting the watch (issue 14: no idle task per monitor).
    states: BTreeMap<String, Mutex<Sinks<ResourceState>>>,
}

impl Board {
    /// Entries for every object of `config`, all offline / stopped.
    pub fn new(config: &Config, now: SystemTime) -> Arc<Board> {
        let groups = config
            .groups
            .iter()
            .map(|g| {
                let (tx, _) = watch::channel(GroupStatus {
                    state: GroupState::Offline,
                    since: now,
                });
                (g.name.clone(), tx)
            })
            .collect();
        let resources = config
            .groups
            .iter()
            .flat_map(|g| g.resources.iter().map(move |r| (g, r)))
            .map(|(g, r)| {
                let (tx, _) = watch::channel(ResourceStatus {
                    group: g.name.clone(),
                    state: ResourceState::Offline,
                    pid: None,
                    generation: 0,
                    starts: 0,
                    last_failure: None,
                    last_exit: None,
                    since: now,
                });
                (r.name.clone(), tx)
            })
            .collect();
        let exits = config
            .groups
            .iter()
            .flat_map(|g| g.resources.iter())
            .map(|r| (r.name.clone(), Mutex::default()))
            .collect();
        let states = config
            .groups
            .iter()
            .flat_map(|g| g.resources.iter())
            .map(|r| (r.name.clone(), Mutex::default()))
            .collect();
        let monitors = RwLock::new(
            config
                .monitors
                .iter()
                .map(|m| (m.name.clone(), monitor_entry(m, now)))
                .collect(),
        );
        let (governor, _) = watch::channel(GovernorStatus {
            count: 0,
            max: config.reboot_limit.max_reboot_count,
            last_error: None,
            damaged: false,
        });
        Arc::new(Board {
            groups,
            resources,
            monitors,
            governor,
            groups_started: watch::channel(false).0,
            exits,
            states,
        })
    }

    /// Hear of every exit of `resource`'s processes from now on, until the subscription is
    /// dropped. `None` for an unknown resource (the key set is fixed).
    pub fn subscribe_exits(
        self: &Arc<Self>,
        resource: &str,
        sink: ExitSink,
    ) -> Option<BoardSubscription> {
        let id = lock(self.exits.get(resource)?).add(sink);
        Some(BoardSubscription {
            board: Arc::downgrade(self),
            resource: resource.to_string(),
            reports: Reports::Exits,
            id,
        })
    }

    /// Hear of every change of `resource`'s state from now on (MON-7), until the subscription
    /// is dropped. `None` for an unknown resource.
    pub fn subscribe_states(
        self: &Arc<Self>,
        resource: &str,
        sink: StateSink,
    ) -> Option<BoardSubscription> {
        let id = lock(self.states.get(resource)?).add(sink);
        Some(BoardSubscription {
            board: Arc::downgrade(self),
            resource: resource.to_string(),
            reports: Reports::States,
            id,
        })
    }

    /// Hand one exit of `resource`'s process to every subscriber. The resource calls this after
    /// recording the exit on its entry, so a subscriber reading the board sees it there too.
    pub fn publish_exit(&self, resource: &str, exit: ProcessExit) {
        if let Some(sinks) = self.exits.get(resource) {
            lock(sinks).publish(exit);
        }
    }

    /// Update a resource entry in place (no-op for an unknown name: the key set is fixed).
    /// A change of its state goes to the state subscribers, after the entry shows it.
    pub fn update_resource(&self, name: &str, f: impl FnOnce(&mut ResourceStatus)) {
        if let Some(tx) = self.resources.get(name) {
            let mut changed = None;
            tx.send_modify(|s| {
                let before = s.state;
                f(s);
                if s.state != before {
                    changed = Some(s.state);
                }
            });
            if let (Some(state), Some(sinks)) = (changed, self.states.get(name)) {
                lock(sinks).publish(state);
            }
        }
    }

    pub fn update_group(&self, name: &str, f: impl FnOnce(&mut GroupStatus)) {
        if let Some(tx) = self.groups.get(name) {
            tx.send_modify(f);
        }
    }

    pub fn update_monitor(&self, name: &str, f: impl FnOnce(&mut MonitorStatus)) {
        let monitors = self.monitors.read().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = monitors.get(name) {
            tx.send_modify(f);
        }
    }

    /// Change a monitor entry only if `f` says it changed something; returns `f`'s answer.
    /// The frequent normal check changes nothing, and then costs no notification.
    pub fn modify_monitor<R>(
        &self,
        name: &str,
        f: impl FnOnce(&mut MonitorStatus) -> (bool, R),
    ) -> Option<R> {
        let monitors = self.monitors.read().unwrap_or_else(|p| p.into_inner());
        let tx = monitors.get(name)?;
        let mut out = None;
        tx.send_if_modified(|m| {
            let (changed, r) = f(m);
            out = Some(r);
            changed
        });
        out
    }

    /// Make the monitor entries match `monitors`: new ones start stopped, gone ones go.
    pub fn set_monitors(&self, monitors: &[Monitor], now: SystemTime) {
        let mut map = self.monitors.write().unwrap_or_else(|p| p.into_inner());
        map.retain(|name, _| monitors.iter().any(|m| &m.name == name));
        for m in monitors {
            let fresh = monitor_entry(m, now);
            map.entry(m.name.clone())
                .and_modify(|tx| {
                    tx.send_modify(|s| {
                        s.needed = m.retries + 1;
                        s.reactivation_threshold = m.recovery.reactivation_threshold;
                    })
                })
                .or_insert(fresh);
        }
    }

    pub fn resource(&self, name: &str) -> Option<ResourceStatus> {
        self.resources.get(name).map(|tx| tx.borrow().clone())
    }

    pub fn group(&self, name: &str) -> Option<GroupStatus> {
        self.groups.get(name).map(|tx| tx.borrow().clone())
    }

    /// The monitors on the board, by name (a hot apply may have changed them).
    pub fn monitor_names(&self) -> Vec<String> {
        let monitors = self.monitors.read().unwrap_or_else(|p| p.into_inner());
        monitors.keys().cloned().collect()
    }

    pub fn monitor(&self, name: &str) -> Option<MonitorStatus> {
        let monitors = self.monitors.read().unwrap_or_else(|p| p.into_inner());
        monitors.get(name).map(|tx| tx.borrow().clone())
    }
}

fn monitor_entry(m: &Monitor, now: SystemTime) -> watch::Sender<MonitorStatus> {
    let (tx, _) = watch::channel(MonitorStatus {
        phase: MonitorPhase::Stopped,
        last_verdict: None,
        last_detail: String::new(),
        failures: 0,
        needed: m.retries + 1,
        reactivations: 0,
        reactivation_threshold: m.recovery.reactivation_threshold,
        since: now,
        operator_suspended: false,
        suspended_until: None,
        restarts: 0,
        next_attempt: None,
        failed: None,
        grace_until: None,
    });
    tx
}
