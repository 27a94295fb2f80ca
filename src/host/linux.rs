//! `LinuxHost`: the engine's `Host` on a real Linux machine (ARCHITECTURE §4; MAP-8, RES-11,
//! CFG-5..9, DOWN-1..6, MON-1).
//!
//! This file only wires the trait to the modules that do the work: `process` (spawn, wait,
//! terminate, scripts), `cgroup` (containment of each resource's processes), `reaper` (subreaper and orphans), `state` (atomic state files),
//! `os_action` (the safety-switched shutdown / reboot / reset), `probe` (monitor dispatch, with
//! the procfs / sysfs roots of MAP-20), `watchdog` and `userspace` (USW-5).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::task::JoinHandle;
use upkeep_actors::host::{
    BoxFuture, Clock, HostError, OsAction, OsActionOutcome, Power, ProbeResult, Probes,
    ProcessHandle, Processes, ScriptOutcome, ScriptRun, StateFiles, Watchdog, Watchdogs,
};
use upkeep_config::{Monitor, OsActions, UserSpace, WatchdogMethod};

use super::cgroup::{Mode, Tree};
use super::pgroups::Record;
use super::probe::Roots;
use super::reaper::{self, SubreaperError};
use super::state::StateDir;
use super::watchdog::WatchdogSettings;
use super::{os_action, probe, process, userspace, watchdog};

/// The real host. Build one per daemon and share it as `Arc<dyn Host>`.
///
/// OS actions are performed only when built with [`OsActions::Real`]; with `Simulated` (the
/// default) they are logged as "would <action>" and reported as simulated.
#[derive(Debug)]
pub struct LinuxHost {
    os_actions: OsActions,
    state: Arc<StateDir>,
    orphan_reaper: Mutex<Option<JoinHandle<()>>>,
    roots: Roots,
    watchdog: WatchdogSettings,
    /// Where resources' processes are contained; `None` = process groups only.
    cgroups: Option<Arc<Tree>>,
    /// Process-group mode: the async groups, recorded for the next daemon (`pgroups`).
    record: Option<Arc<Record>>,
}

impl LinuxHost {
    /// A host that keeps its state files in `state_dir` (created with mode 0700 when missing).
    ///
    /// Does not change how this process reaps its children: see [`LinuxHost::become_subreaper`].
    pub fn new(os_actions: OsActions, state_dir: PathBuf) -> Result<LinuxHost, HostError> {
        Ok(LinuxHost {
            os_actions,
            state: Arc::new(StateDir::open(state_dir)?),
            orphan_reaper: Mutex::new(None),
            roots: Roots::default(),
            watchdog: WatchdogSettings::default(),
            cgroups: None,
            record: None,
        })
    }

    /// Contain every resource's processes in its own cgroup under `tree` (issue 9 §2; see
    /// `host::cgroup`). Without this call, a resource is its process groups (the fallback).
    /// Removes this daemon's empty cgroups (see [`Tree::tidy`]); nothing without cgroups.
    pub fn tidy_cgroups(&self) {
        if let Some(tree) = &self.cgroups {
            tree.tidy();
        }
    }

    pub fn with_cgroups(mut self, tree: Tree) -> LinuxHost {
        self.cgroups = Some(Arc::new(tree));
        self
    }

    /// Without cgroups: record every async process group in the state folder, so that the next
    /// daemon can stop them should this one crash (`host::pgroups`). For the daemon only.
    pub fn with_process_group_record(mut self) -> LinuxHost {
        self.record = Some(Arc::new(Record::new(self.state.dir())));
        self
    }

    /// How resources' processes are contained: `cgroup2 <instance>` or `process-group`.
    pub fn containment(&self) -> Mode {
        self.cgroups.as_ref().map_or(Mode::ProcessGroup, |t| {
            Mode::Cgroup(t.instance().to_path_buf())
        })
    }

    /// Stops what a previous daemon with the same state folder left running (it was killed
    /// before it could stop its resources) and returns one line per resource (cgroups) or
    /// process group (the record) it found; call before the groups start.
    pub async fn reclaim_leftovers(&self, grace: Duration) -> Vec<String> {
        match (&self.cgroups, &self.record) {
            (Some(tree), _) => tree.reclaim(grace).await,
            (None, Some(record)) => record.reclaim(grace).await,
            (None, None) => Vec::new(),
        }
    }

    /// Read the kernel's state under these roots instead of /proc and /sys (the config's
    /// `paths`, MAP-20).
    pub fn with_roots(mut self, procfs: PathBuf, sysfs: PathBuf) -> LinuxHost {
        self.roots = Roots { procfs, sysfs };
        self
    }

    /// Use this softdog device instead of /dev/watchdog, in either OS-action mode (see
    /// `host::watchdog`): for tests of the keep-alive protocol against a plain file.
    pub fn with_watchdog_device(mut self, path: PathBuf) -> LinuxHost {
        self.watchdog = WatchdogSettings {
            device: path,
            explicit: true,
        };
        self
    }

    pub fn os_actions(&self) -> OsActions {
        self.os_actions
    }

    pub fn state_dir(&self) -> &Path {
        self.state.dir()
    }

    /// Makes the daemon the reaper of every orphaned descendant and starts reaping them (see
    /// `reaper` for how this stays clear of children tokio is waiting for). Call once, from the
    /// daemon, inside the runtime; a second call does nothing. Tests should not call it: the
    /// process stays a subreaper for good.
    pub fn become_subreaper(&self) -> Result<(), SubreaperError> {
        let mut slot = self
            .orphan_reaper
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(reaper::become_subreaper()?);
        }
        Ok(())
    }

    fn blocking<T, F>(&self, name: &str, work: F) -> BoxFuture<'static, Result<T, HostError>>
    where
        T: Send + 'static,
        F: FnOnce(&StateDir) -> Result<T, HostError> + Send + 'static,
    {
        let state = Arc::clone(&self.state);
        let name = name.to_string();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || work(&state))
                .await
                .unwrap_or_else(|join| {
                    Err(HostError::State {
                        name,
                        reason: format!("state task failed: {join}"),
                    })
                })
        })
    }
}

impl Drop for LinuxHost {
    fn drop(&mut self) {
        if let Some(task) = self
            .orphan_reaper
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
    }
}

impl Processes for LinuxHost {
    fn run_script(&self, run: ScriptRun) -> BoxFuture<'static, ScriptOutcome> {
        Box::pin(process::run_script(run, self.cgroups.clone()))
    }

    fn spawn(&self, run: ScriptRun) -> Result<Box<dyn ProcessHandle>, HostError> {
        process::spawn(&run, self.cgroups.as_deref(), self.record.as_ref())
    }

    fn release(&self, group: &str, resource: &str, grace: Duration) -> BoxFuture<'static, ()> {
        Box::pin(process::release(
            self.cgroups.clone(),
            group.to_string(),
            resource.to_string(),
            grace,
        ))
    }
}

impl Probes for LinuxHost {
    fn probe(&self, monitor: &Monitor) -> BoxFuture<'static, ProbeResult> {
        // Issue 12: timed for `/metrics`; an abandoned (timed-out) probe is not counted.
        let kind = probe::kind_key(&monitor.kind);
        let check = probe::probe(monitor, &self.roots);
        Box::pin(async move {
            let started = std::time::Instant::now();
            let result = check.await;
            probe::timing::observe(kind, started.elapsed());
            result
        })
    }

    fn userspace_check(&self, spec: &UserSpace) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(userspace::check(spec.clone()))
    }
}

impl StateFiles for LinuxHost {
    fn load_state(&self, name: &str) -> BoxFuture<'static, Result<Option<Vec<u8>>, HostError>> {
        let owned = name.to_string();
        self.blocking(name, move |state| state.load(&owned))
    }

    fn store_state(&self, name: &str, bytes: Vec<u8>) -> BoxFuture<'static, Result<(), HostError>> {
        let owned = name.to_string();
        self.blocking(name, move |state| state.store(&owned, &bytes))
    }

    fn quarantine_state(&self, name: &str) -> BoxFuture<'static, Result<String, HostError>> {
        let owned = name.to_string();
        self.blocking(name, move |state| state.quarantine(&owned))
    }
}

impl Clock for LinuxHost {
    fn now_wall(&self) -> SystemTime {
        SystemTime::now()
    }

    /// TRB-12: the server's own name, as `hostname` prints it.
    fn hostname(&self) -> String {
        nix::unistd::gethostname()
            .ok()
            .and_then(|name| name.into_string().ok())
            .unwrap_or_else(|| "localhost".into())
    }
}

impl Power for LinuxHost {
    fn os_action(
        &self,
        action: OsAction,
    ) -> BoxFuture<'static, Result<OsActionOutcome, HostError>> {
        Box::pin(os_action::perform(self.os_actions, action))
    }
}

impl Watchdogs for LinuxHost {
    fn open_watchdog(
        &self,
        method: WatchdogMethod,
        timeout: Duration,
    ) -> Result<Box<dyn Watchdog>, HostError> {
        watchdog::open(method, timeout, self.os_actions, &self.watchdog)
    }
}
