//! SimulatedHost: a first-class host with scripted processes, probes and state files, and a
//! record of every action — the host of the engine's tests and of rehearsals. OS actions are
//! always only recorded ("would reboot"). Time is tokio's, so a whole escalation runs in virtual
//! time; the wall clock is a fixed base plus tokio's elapsed time.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use upkeep_config::{Monitor, UserSpace, WatchdogMethod};

use crate::host::{
    BoxFuture, Clock, ExitInfo, HostError, OsAction, OsActionOutcome, Power, ProbeResult, Probes,
    ProcessHandle, Processes, ScriptOutcome, ScriptRun, StateFiles, Watchdog, Watchdogs,
};

/// What a scripted program does when run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimRun {
    /// Exit at once with this code.
    Exit(i32),
    /// Exit with this code after this long.
    ExitAfter(i32, Duration),
    /// Never exit by itself (a hung script, or a long-lived process).
    Hang,
}

/// What a scripted probe answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimProbe {
    Answer(ProbeResult),
    /// Never answers: the monitor's timeout must catch it.
    Hang,
    /// Answers after this long (a slow check).
    After(Duration, ProbeResult),
}

/// Everything the simulated host did, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostAction {
    Ran {
        program: String,
        outcome: ScriptOutcome,
    },
    Spawned {
        program: String,
        pid: u32,
    },
    /// SIGTERM (then SIGKILL after the grace) to a process group.
    Terminated {
        pid: u32,
    },
    /// A process group killed because its handle was dropped.
    Killed {
        pid: u32,
    },
    /// An OS action; always simulated here.
    OsAction(OsAction),
    StateWritten {
        name: String,
    },
    Quarantined {
        name: String,
    },
    WatchdogOpened {
        method: WatchdogMethod,
    },
    /// The magic close: disarmed.
    WatchdogClosed,
    /// Not fed within its timeout: the machine would be reset now (recorded as well as
    /// `OsAction(Reset)`).
    WatchdogFired,
}

/// What one user-space cycle (USW-5 dummy file / thread) does on the simulated host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimCycle {
    Ok,
    Fail(String),
    /// Never completes: user space is stalled.
    Hang,
}

/// State files that survive a simulated reboot: share one between two hosts to model a boot.
#[derive(Debug, Clone, Default)]
pub struct SimDisk(Arc<Mutex<HashMap<String, Vec<u8>>>>);

impl SimDisk {
    pub fn read(&self, name: &str) -> Option<Vec<u8>> {
        lock(&self.0).get(name).cloned()
    }
    pub fn write(&self, name: &str, bytes: &[u8]) {
        lock(&self.0).insert(name.to_string(), bytes.to_vec());
    }
}

struct Proc {
    program: String,
    exit: watch::Sender<Option<ExitInfo>>,
}

#[derive(Default)]
struct Inner {
    scripts: HashMap<String, VecDeque<SimRun>>,
    probes: HashMap<String, VecDeque<SimProbe>>,
    steady_probes: HashMap<String, SimProbe>,
    procs: HashMap<u32, Proc>,
    next_pid: u32,
    actions: Vec<HostAction>,
    unreadable: Vec<String>,
    cycles: VecDeque<SimCycle>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The simulated host. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct SimulatedHost {
    inner: Arc<Mutex<Inner>>,
    disk: SimDisk,
    wall_base: SystemTime,
    started: tokio::time::Instant,
}

impl Default for SimulatedHost {
    fn default() -> Self {
        SimulatedHost::new(
            SimDisk::default(),
            UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        )
    }
}

impl SimulatedHost {
    /// A host booted at wall time `wall_base`, with `disk` as its state folder.
    pub fn new(disk: SimDisk, wall_base: SystemTime) -> Self {
        SimulatedHost {
            inner: Arc::new(Mutex::new(Inner {
                next_pid: 1000,
                ..Inner::default()
            })),
            disk,
            wall_base,
            started: tokio::time::Instant::now(),
        }
    }

    /// The state folder.
    pub fn disk(&self) -> SimDisk {
        self.disk.clone()
    }

    /// The next runs of `program` do these, in order; after them it exits 0 (scripts) or runs
    /// until stopped (processes).
    pub fn script(&self, program: &str, runs: impl IntoIterator<Item = SimRun>) {
        lock(&self.inner)
            .scripts
            .entry(program.to_string())
            .or_default()
            .extend(runs);
    }

    /// The next checks of `monitor` answer these, in order; then the steady answer (Normal).
    pub fn probe(&self, monitor: &str, answers: impl IntoIterator<Item = SimProbe>) {
        lock(&self.inner)
            .probes
            .entry(monitor.to_string())
            .or_default()
            .extend(answers);
    }

    /// From now on, `monitor` answers this when nothing is queued.
    pub fn steady_probe(&self, monitor: &str, answer: SimProbe) {
        lock(&self.inner)
            .steady_probes
            .insert(monitor.to_string(), answer);
    }

    /// The next user-space cycles do these, in order; then they succeed.
    pub fn userspace_cycles(&self, cycles: impl IntoIterator<Item = SimCycle>) {
        lock(&self.inner).cycles.extend(cycles);
    }

    /// Make the state file `name` unreadable (an I/O error on load).
    pub fn make_unreadable(&self, name: &str) {
        lock(&self.inner).unreadable.push(name.to_string());
    }

    /// Kill the running process of `program` with `signal`, as an outside `kill` would.
    /// Returns its pid, if one was running.
    pub fn kill(&self, program: &str, signal: i32) -> Option<u32> {
        let inner = lock(&self.inner);
        let (pid, proc) = inner
            .procs
            .iter()
            .find(|(_, p)| p.program == program && p.exit.borrow().is_none())?;
        proc.exit.send_replace(Some(ExitInfo::Signal(signal)));
        Some(*pid)
    }

    /// End the running process `pid` as if it exited by itself with `exit` (a crash, an exit
    /// code); false when it is not running. For rehearsals (`rehearse.rs`).
    pub fn end_process(&self, pid: u32, exit: ExitInfo) -> bool {
        let inner = lock(&self.inner);
        match inner.procs.get(&pid) {
            Some(p) if p.exit.borrow().is_none() => {
                p.exit.send_replace(Some(exit));
                true
            }
            _ => false,
        }
    }

    /// Pids of processes still running.
    pub fn running(&self) -> Vec<u32> {
        let inner = lock(&self.inner);
        let mut pids: Vec<u32> = inner
            .procs
            .iter()
            .filter(|(_, p)| p.exit.borrow().is_none())
            .map(|(pid, _)| *pid)
            .collect();
        pids.sort();
        pids
    }

    /// Everything done so far.
    pub fn actions(&self) -> Vec<HostAction> {
        lock(&self.inner).actions.clone()
    }

    /// The OS actions requested so far.
    pub fn os_actions(&self) -> Vec<OsAction> {
        self.actions()
            .into_iter()
            .filter_map(|a| match a {
                HostAction::OsAction(a) => Some(a),
                _ => None,
            })
            .collect()
    }

    fn record(&self, action: HostAction) {
        lock(&self.inner).actions.push(action);
    }

    fn next_run(&self, program: &str) -> Option<SimRun> {
        lock(&self.inner)
            .scripts
            .get_mut(program)
            .and_then(VecDeque::pop_front)
    }
}

struct SimProcess {
    pid: u32,
    host: SimulatedHost,
    exit: watch::Receiver<Option<ExitInfo>>,
}

async fn exited(mut rx: watch::Receiver<Option<ExitInfo>>) -> ExitInfo {
    loop {
        if let Some(exit) = *rx.borrow_and_update() {
            return exit;
        }
        if rx.changed().await.is_err() {
            return ExitInfo::Signal(9);
        }
    }
}

impl SimProcess {
    fn end(&self, exit: ExitInfo) -> bool {
        let inner = lock(&self.host.inner);
        match inner.procs.get(&self.pid) {
            Some(p) if p.exit.borrow().is_none() => {
                p.exit.send_replace(Some(exit));
                true
            }
            _ => false,
        }
    }
}

impl ProcessHandle for SimProcess {
    fn pid(&self) -> u32 {
        self.pid
    }

    fn wait(&self) -> BoxFuture<'static, ExitInfo> {
        Box::pin(exited(self.exit.clone()))
    }

    fn on_exit(&self, notify: crate::host::ExitNotify) {
        // The simulated host needs no economy: a task per process is fine here.
        let exit = exited(self.exit.clone());
        tokio::spawn(async move { notify(exit.await) });
    }

    fn terminate(&self, _grace: Duration) -> BoxFuture<'static, ExitInfo> {
        self.host.record(HostAction::Terminated { pid: self.pid });
        self.end(ExitInfo::Signal(15));
        Box::pin(exited(self.exit.clone()))
    }

    fn kill(&self) -> Result<(), HostError> {
        if self.end(ExitInfo::Signal(9)) {
            self.host.record(HostAction::Killed { pid: self.pid });
            Ok(())
        } else {
            Err(HostError::Process {
                pid: self.pid,
                reason: "already exited".into(),
            })
        }
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        if self.end(ExitInfo::Signal(9)) {
            self.host.record(HostAction::Killed { pid: self.pid });
        }
    }
}

impl Processes for SimulatedHost {
    fn run_script(&self, run: ScriptRun) -> BoxFuture<'static, ScriptOutcome> {
        let program = run.command.program.display().to_string();
        let behaviour = self.next_run(&program).unwrap_or(SimRun::Exit(0));
        let host = self.clone();
        Box::pin(async move {
            let outcome = match behaviour {
                SimRun::Exit(code) => ScriptOutcome::Exited(ExitInfo::Code(code)),
                SimRun::ExitAfter(code, after) if after < run.timeout => {
                    tokio::time::sleep(after).await;
                    ScriptOutcome::Exited(ExitInfo::Code(code))
                }
                SimRun::ExitAfter(..) | SimRun::Hang => {
                    tokio::time::sleep(run.timeout).await;
                    ScriptOutcome::TimedOut
                }
            };
            host.record(HostAction::Ran {
                program,
                outcome: outcome.clone(),
            });
            outcome
        })
    }

    fn spawn(&self, run: ScriptRun) -> Result<Box<dyn ProcessHandle>, HostError> {
        let program = run.command.program.display().to_string();
        let behaviour = self.next_run(&program).unwrap_or(SimRun::Hang);
        let (tx, rx) = watch::channel(None);
        let pid = {
            let mut inner = lock(&self.inner);
            inner.next_pid += 1;
            let pid = inner.next_pid;
            inner.procs.insert(
                pid,
                Proc {
                    program: program.clone(),
                    exit: tx,
                },
            );
            pid
        };
        self.record(HostAction::Spawned { program, pid });
        let process = SimProcess {
            pid,
            host: self.clone(),
            exit: rx,
        };
        match behaviour {
            SimRun::Exit(code) => {
                process.end(ExitInfo::Code(code));
            }
            SimRun::ExitAfter(code, after) => {
                let host = self.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    let inner = lock(&host.inner);
                    if let Some(p) = inner.procs.get(&pid) {
                        if p.exit.borrow().is_none() {
                            p.exit.send_replace(Some(ExitInfo::Code(code)));
                        }
                    }
                });
            }
            SimRun::Hang => {}
        }
        Ok(Box::new(process))
    }

    /// Simulated processes leave no children behind.
    fn release(&self, _group: &str, _resource: &str, _grace: Duration) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

impl Probes for SimulatedHost {
    fn probe(&self, monitor: &Monitor) -> BoxFuture<'static, ProbeResult> {
        let answer = {
            let mut inner = lock(&self.inner);
            let queued = inner
                .probes
                .get_mut(&monitor.name)
                .and_then(VecDeque::pop_front);
            queued
                .or_else(|| inner.steady_probes.get(&monitor.name).cloned())
                .unwrap_or(SimProbe::Answer(ProbeResult::normal()))
        };
        Box::pin(async move {
            match answer {
                SimProbe::Answer(result) => result,
                SimProbe::Hang => std::future::pending().await,
                SimProbe::After(delay, result) => {
                    tokio::time::sleep(delay).await;
                    result
                }
            }
        })
    }

    fn userspace_check(&self, _spec: &UserSpace) -> BoxFuture<'static, Result<(), String>> {
        let cycle = lock(&self.inner).cycles.pop_front().unwrap_or(SimCycle::Ok);
        Box::pin(async move {
            match cycle {
                SimCycle::Ok => Ok(()),
                SimCycle::Fail(why) => Err(why),
                SimCycle::Hang => std::future::pending().await,
            }
        })
    }
}

impl StateFiles for SimulatedHost {
    fn load_state(&self, name: &str) -> BoxFuture<'static, Result<Option<Vec<u8>>, HostError>> {
        let result = if lock(&self.inner).unreadable.iter().any(|n| n == name) {
            Err(HostError::State {
                name: name.to_string(),
                reason: "Input/output error".into(),
            })
        } else {
            Ok(self.disk.read(name))
        };
        Box::pin(async move { result })
    }

    fn store_state(&self, name: &str, bytes: Vec<u8>) -> BoxFuture<'static, Result<(), HostError>> {
        self.disk.write(name, &bytes);
        lock(&self.inner).unreadable.retain(|n| n != name);
        self.record(HostAction::StateWritten {
            name: name.to_string(),
        });
        Box::pin(async { Ok(()) })
    }

    fn quarantine_state(&self, name: &str) -> BoxFuture<'static, Result<String, HostError>> {
        let kept = format!("{name}.corrupt");
        if let Some(bytes) = self.disk.read(name) {
            self.disk.write(&kept, &bytes);
        }
        lock(&self.disk.0).remove(name);
        lock(&self.inner).unreadable.retain(|n| n != name);
        self.record(HostAction::Quarantined {
            name: name.to_string(),
        });
        Box::pin(async move { Ok(kept) })
    }
}

impl Clock for SimulatedHost {
    fn now_wall(&self) -> SystemTime {
        self.wall_base + self.started.elapsed()
    }

    fn hostname(&self) -> String {
        "server1".into()
    }
}

impl Power for SimulatedHost {
    fn os_action(
        &self,
        action: OsAction,
    ) -> BoxFuture<'static, Result<OsActionOutcome, HostError>> {
        self.record(HostAction::OsAction(action));
        tracing::warn!(%action, "simulated host: would {action}");
        Box::pin(async { Ok(OsActionOutcome::Simulated) })
    }
}

impl Watchdogs for SimulatedHost {
    fn open_watchdog(
        &self,
        method: WatchdogMethod,
        timeout: Duration,
    ) -> Result<Box<dyn Watchdog>, HostError> {
        self.record(HostAction::WatchdogOpened { method });
        let state = Arc::new(Mutex::new(SimWatch {
            last_feed: tokio::time::Instant::now(),
            closed: false,
        }));
        let host = self.clone();
        let watched = state.clone();
        // The simulated device: like softdog, it fires once it goes unfed for `timeout`, whether
        // or not anyone still holds it.
        tokio::spawn(async move {
            loop {
                let deadline = {
                    let w = lock(&watched);
                    if w.closed {
                        return;
                    }
                    w.last_feed + timeout
                };
                tokio::time::sleep_until(deadline).await;
                let fire = {
                    let w = lock(&watched);
                    !w.closed && tokio::time::Instant::now() >= w.last_feed + timeout
                };
                if fire {
                    host.record(HostAction::WatchdogFired);
                    host.record(HostAction::OsAction(OsAction::Reset));
                    tracing::warn!("simulated watchdog: not fed for {timeout:?}; would reset");
                    return;
                }
            }
        });
        Ok(Box::new(SimWatchdog {
            state,
            host: self.clone(),
        }))
    }
}

struct SimWatch {
    last_feed: tokio::time::Instant,
    closed: bool,
}

struct SimWatchdog {
    state: Arc<Mutex<SimWatch>>,
    host: SimulatedHost,
}

impl Watchdog for SimWatchdog {
    fn feed(&self) -> Result<(), HostError> {
        lock(&self.state).last_feed = tokio::time::Instant::now();
        Ok(())
    }

    fn close(&self) -> Result<(), HostError> {
        lock(&self.state).closed = true;
        self.host.record(HostAction::WatchdogClosed);
        Ok(())
    }
}

// --- Crash injection (supervision tests) ------------------------------------------------------
// Kept apart from the Host implementation: it is no part of the Host boundary.

impl SimulatedHost {
    /// An armed crash plan for `Engine::start_with_crash_plan`: the only way to get one, so
    /// only a simulated daemon can have its actors panic on purpose (`chaos.rs`).
    pub fn crash_plan(&self) -> crate::chaos::CrashPlan {
        crate::chaos::CrashPlan::armed()
    }
}
