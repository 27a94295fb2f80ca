//! Fault injection as a Host decorator: `Faulty<H>` wraps any host (simulated or Linux) and makes
//! scripts fail, processes die and probes fail or hang as a [`FaultPlan`] says. The same faults
//! can be added while the daemon runs (`upkeep inject`, issue 3), so operators can rehearse
//! recovery on a real host with OS actions still simulated.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use upkeep_config::{Monitor, UserSpace, WatchdogMethod};

use crate::host::{
    BoxFuture, Clock, ExitInfo, Host, HostError, OsAction, OsActionOutcome, Power, ProbeResult,
    Probes, ProcessHandle, Processes, ScriptOutcome, ScriptRun, StateFiles, Watchdog, Watchdogs,
};

/// One injected fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The next `times` runs of `program` exit with `code` instead of running.
    ScriptFails {
        program: String,
        times: u32,
        code: i32,
    },
    /// Every process started from `program` is killed `after` its start (SIGTERM, then SIGKILL).
    ProcessDies { program: String, after: Duration },
    /// The next `times` checks of `monitor` fail.
    ProbeFails { monitor: String, times: u32 },
    /// Every check of `monitor` hangs (until the fault is cleared).
    ProbeHangs { monitor: String },
}

/// Faults to inject, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultPlan {
    pub faults: Vec<Fault>,
}

/// A host with faults injected.
pub struct Faulty<H: Host> {
    inner: Arc<H>,
    plan: Arc<Mutex<FaultPlan>>,
}

fn lock(m: &Mutex<FaultPlan>) -> MutexGuard<'_, FaultPlan> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<H: Host> Faulty<H> {
    pub fn new(inner: Arc<H>, plan: FaultPlan) -> Self {
        Faulty {
            inner,
            plan: Arc::new(Mutex::new(plan)),
        }
    }

    /// Add a fault while running.
    pub fn inject(&self, fault: Fault) {
        lock(&self.plan).faults.push(fault);
    }

    /// Remove every fault.
    pub fn clear(&self) {
        lock(&self.plan).faults.clear();
    }

    /// Consume one use of a counted fault matching `pick`; true when one applied.
    fn take(&self, pick: impl Fn(&Fault) -> bool) -> Option<Fault> {
        let mut plan = lock(&self.plan);
        let index = plan.faults.iter().position(pick)?;
        let fault = plan.faults[index].clone();
        match &mut plan.faults[index] {
            Fault::ScriptFails { times, .. } | Fault::ProbeFails { times, .. } => {
                *times -= 1;
                if *times == 0 {
                    plan.faults.remove(index);
                }
            }
            Fault::ProcessDies { .. } | Fault::ProbeHangs { .. } => {}
        }
        Some(fault)
    }
}

impl<H: Host> Processes for Faulty<H> {
    fn run_script(&self, run: ScriptRun) -> BoxFuture<'static, ScriptOutcome> {
        let program = run.command.program.display().to_string();
        let fault = self.take(|f| matches!(f, Fault::ScriptFails { program: p, times, .. } if *p == program && *times > 0));
        match fault {
            Some(Fault::ScriptFails { code, .. }) => {
                Box::pin(async move { ScriptOutcome::Exited(ExitInfo::Code(code)) })
            }
            _ => self.inner.run_script(run),
        }
    }

    fn spawn(&self, run: ScriptRun) -> Result<Box<dyn ProcessHandle>, HostError> {
        let program = run.command.program.display().to_string();
        if let Some(Fault::ScriptFails { code, .. }) =
            self.take(|f| matches!(f, Fault::ScriptFails { program: p, times, .. } if *p == program && *times > 0))
        {
            return Err(HostError::Spawn { program, reason: format!("injected fault: exit code {code}") });
        }
        let process = self.inner.spawn(run)?;
        let dies = lock(&self.plan).faults.iter().find_map(|f| match f {
            Fault::ProcessDies { program: p, after } if *p == program => Some(*after),
            _ => None,
        });
        if let Some(after) = dies {
            let kill = process.terminate(Duration::ZERO);
            let wait = process.wait();
            // Cancelled by the process's own exit: only a still-running process is killed.
            tokio::spawn(async move {
                tokio::select! {
                    _ = wait => {}
                    _ = tokio::time::sleep(after) => { kill.await; }
                }
            });
        }
        Ok(process)
    }

    fn release(&self, group: &str, resource: &str, grace: Duration) -> BoxFuture<'static, ()> {
        self.inner.release(group, resource, grace)
    }
}

impl<H: Host> Probes for Faulty<H> {
    fn probe(&self, monitor: &Monitor) -> BoxFuture<'static, ProbeResult> {
        let name = monitor.name.clone();
        if lock(&self.plan)
            .faults
            .iter()
            .any(|f| matches!(f, Fault::ProbeHangs { monitor } if *monitor == name))
        {
            return Box::pin(std::future::pending());
        }
        if self.take(|f| matches!(f, Fault::ProbeFails { monitor, times } if *monitor == name && *times > 0)).is_some() {
            return Box::pin(async { ProbeResult::error(1, "injected fault") });
        }
        self.inner.probe(monitor)
    }

    fn userspace_check(&self, spec: &UserSpace) -> BoxFuture<'static, Result<(), String>> {
        self.inner.userspace_check(spec)
    }
}

impl<H: Host> StateFiles for Faulty<H> {
    fn load_state(&self, name: &str) -> BoxFuture<'static, Result<Option<Vec<u8>>, HostError>> {
        self.inner.load_state(name)
    }

    fn store_state(&self, name: &str, bytes: Vec<u8>) -> BoxFuture<'static, Result<(), HostError>> {
        self.inner.store_state(name, bytes)
    }

    fn quarantine_state(&self, name: &str) -> BoxFuture<'static, Result<String, HostError>> {
        self.inner.quarantine_state(name)
    }
}

impl<H: Host> Clock for Faulty<H> {
    fn now_wall(&self) -> SystemTime {
        self.inner.now_wall()
    }

    fn hostname(&self) -> String {
        self.inner.hostname()
    }
}

impl<H: Host> Power for Faulty<H> {
    fn os_action(
        &self,
        action: OsAction,
    ) -> BoxFuture<'static, Result<OsActionOutcome, HostError>> {
        self.inner.os_action(action)
    }
}

impl<H: Host> Watchdogs for Faulty<H> {
    fn open_watchdog(
        &self,
        method: WatchdogMethod,
        timeout: Duration,
    ) -> Result<Box<dyn Watchdog>, HostError> {
        self.inner.open_watchdog(method, timeout)
    }
}
