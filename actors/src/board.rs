//! The status board: the live state of every group, resource and monitor, shared read-mostly.
//!
//! Each actor writes its own entry into a `tokio::sync::watch`; readers (status snapshots, the
//! pid monitor, `when_active` timing) read or await changes without sending a message, so a
//! wedged actor can never make `upkeep status` hang and the pid monitor learns of a process exit
//! the moment the resource records it (MON-10: event-driven, no polling delay).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
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
    /// Bumped every time a new process is started: a pid monitor compares it to tell a new
    /// process from an old exit.
    pub generation: u64,
    /// How the last process ended, while no new one runs.
    pub last_exit: Option<ExitInfo>,
    pub since: SystemTime,
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
                    last_exit: None,
                    since: now,
                });
                (r.name.clone(), tx)
            })
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
        })
    }

    /// Update a resource entry in place (no-op for an unknown name: the key set is fixed).
    pub fn update_resource(&self, name: &str, f: impl FnOnce(&mut ResourceStatus)) {
        if let Some(tx) = self.resources.get(name) {
            tx.send_modify(f);
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
    });
    tx
}
