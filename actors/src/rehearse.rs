//! Rehearsals (`upkeep simulate`, issue 15): the daemon's own engine, in virtual time, on the
//! simulated host, with a scenario's faults applied at their times.
//!
//! Nothing here decides anything about recovery: [`rehearse`] boots the real [`Engine`] on a
//! [`SimulatedHost`] wrapped in a [`StageHost`], which turns the scenario's faults into what the
//! host answers (a script's exit code, a probe's verdict, a process's end). Every event line is
//! the engine's own. A reboot (the engine's final action, or the scenario's) boots a new
//! simulated host on the same [`SimDisk`], so the governor's persisted count carries over as it
//! would across a real reboot.
//!
//! Run it on a tokio runtime with a paused clock (`start_paused`): an hour of virtual time then
//! takes a fraction of a second.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::broadcast;
use tokio::time::Instant;
use upkeep_config::scenario::{Expectation, Fault, Outcome, ProbeAnswer, Scenario, TimedFault};
use upkeep_config::{Config, Monitor, Startup, UserSpace, WatchdogMethod};

use crate::board::{Board, GroupState, MonitorPhase, ResourceState};
use crate::event::{Event, EventKind, Events, Module};
use crate::host::{
    BoxFuture, Clock, ExitInfo, HostError, OsAction, OsActionOutcome, Power, ProbeResult, Probes,
    ProcessHandle, Processes, ScriptOutcome, ScriptRun, StateFiles, Verdict, Watchdog, Watchdogs,
};
use crate::sim::{SimDisk, SimulatedHost};
use crate::{Engine, EngineError};

/// With `until_quiet`, how often the runner looks at the board again when it is not settled
/// yet (virtual time). Otherwise the runner sleeps until the next fault, boot or event.
const TICK: Duration = Duration::from_secs(1);
/// How soon to look again after the daemon said it stopped: its root actor ends just after.
const STOPPING: Duration = Duration::from_millis(1);

/// `pm 3`, "Cluster daemon has stopped.": the daemon's last event.
const DAEMON_STOPPED: u32 = 3;

static NEXT_INSTANCE: AtomicUsize = AtomicUsize::new(0);

/// How a rehearsal runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Stop once nothing is pending: every fault applied, no fault window about to close, every
    /// group, resource and monitor settled, and no event for a quiet span.
    pub until_quiet: bool,
}

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// An event of the engine, exactly as the daemon logs it.
    Event {
        boot: u32,
        module: &'static str,
        id: u32,
        line: String,
    },
    /// The scenario applied a fault.
    Fault(String),
    /// The simulated host (re)started; its daemon starts now.
    Boot(u32),
    /// The host is down: shut down, or rebooting.
    HostDown(String),
}

/// A timeline entry at a virtual time since the first boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub at: Duration,
    pub step: Step,
}

impl Entry {
    /// The text of the line without its time: the event line, or `-- <what happened>`.
    pub fn text(&self) -> String {
        match &self.step {
            Step::Event { line, .. } => line.clone(),
            Step::Fault(what) => format!("-- fault: {what}"),
            Step::Boot(n) => format!("-- boot {n}: the daemon starts"),
            Step::HostDown(why) => format!("-- {why}"),
        }
    }
}

/// An OS action the engine took (simulated: it would have happened).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsActionTaken {
    pub at: Duration,
    pub action: OsAction,
    pub count: u32,
    pub max: u32,
}

/// The board at the end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FinalState {
    pub groups: Vec<(String, GroupState)>,
    pub resources: Vec<ResourceEnd>,
    pub monitors: Vec<MonitorEnd>,
    pub reboot_count: u32,
    pub reboot_max: u32,
    /// The daemon still runs (it was not stopped by a final action or an OS action).
    pub daemon_running: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceEnd {
    pub name: String,
    pub state: ResourceState,
    pub pid: Option<u32>,
    pub starts: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorEnd {
    pub name: String,
    pub phase: MonitorPhase,
    pub failures: u32,
    pub needed: u32,
    pub reactivations: u32,
    pub threshold: u32,
    pub failed: bool,
}

/// Everything a rehearsal saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rehearsal {
    pub timeline: Vec<Entry>,
    pub os_actions: Vec<OsActionTaken>,
    pub state: FinalState,
    /// Virtual time when it ended.
    pub ended_at: Duration,
    /// Ended by `until_quiet` before the horizon.
    pub quiet: bool,
    pub boots: u32,
    pub outcome: Outcome,
}

impl Rehearsal {
    /// The engine's event lines, in order, without times: what the engine tests compare.
    pub fn event_lines(&self) -> Vec<String> {
        self.timeline
            .iter()
            .filter_map(|e| match &e.step {
                Step::Event { line, .. } => Some(line.clone()),
                _ => None,
            })
            .collect()
    }
}

/// `+0.000s`, `+2m13.250s`, `+1h02m03.000s`: a virtual time as the timeline shows it.
pub fn offset(d: Duration) -> String {
    let ms = d.as_millis();
    let (h, m, s, milli) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    match (h, m) {
        (0, 0) => format!("+{s}.{milli:03}s"),
        (0, _) => format!("+{m}m{s:02}.{milli:03}s"),
        _ => format!("+{h}h{m:02}m{s:02}.{milli:03}s"),
    }
}

// --- Faults as host answers ------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScriptPhase {
    Start,
    Stop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScriptFault {
    Fails(i32),
    Hangs,
}

#[derive(Debug)]
struct ArmedScript {
    from: Instant,
    resource: String,
    phase: ScriptPhase,
    fault: ScriptFault,
    remaining: u32,
}

#[derive(Debug)]
struct ArmedLoop {
    from: Instant,
    resource: String,
    code: i32,
    after: Duration,
    until: Option<Instant>,
}

#[derive(Debug)]
struct ArmedProbe {
    from: Instant,
    monitor: String,
    answer: ProbeAnswer,
    message: String,
    until: Option<Instant>,
}

/// The faults of the scenario, each in force from its time on: all armed at the start, so a
/// check or a script at the very instant of a fault sees it, whichever task tokio runs first.
/// Shared by the host of every boot, so a broken disk stays broken across a reboot.
#[derive(Debug, Default)]
struct Armed {
    scripts: Vec<ArmedScript>,
    loops: Vec<ArmedLoop>,
    probes: Vec<ArmedProbe>,
}

impl Armed {
    /// Arm the faults that change what the host answers; the others are actions (`apply`).
    fn arm(&mut self, fault: &Fault, from: Instant) {
        let until = |lasting: &Option<Duration>| lasting.map(|l| from + l);
        let mut script = |resource: &str, phase, fault, remaining| {
            self.scripts.push(ArmedScript {
                from,
                resource: resource.to_string(),
                phase,
                fault,
                remaining,
            })
        };
        match fault {
            Fault::StartFails {
                resource,
                code,
                times,
            } => script(
                resource,
                ScriptPhase::Start,
                ScriptFault::Fails(*code),
                *times,
            ),
            Fault::StartHangs { resource, times } => {
                script(resource, ScriptPhase::Start, ScriptFault::Hangs, *times)
            }
            Fault::StopFails {
                resource,
                code,
                times,
            } => script(
                resource,
                ScriptPhase::Stop,
                ScriptFault::Fails(*code),
                *times,
            ),
            Fault::StopHangs { resource, times } => {
                script(resource, ScriptPhase::Stop, ScriptFault::Hangs, *times)
            }
            Fault::CrashLoop {
                resource,
                code,
                after,
                lasting,
            } => self.loops.push(ArmedLoop {
                from,
                resource: resource.clone(),
                code: *code,
                after: *after,
                until: until(lasting),
            }),
            Fault::Probe {
                monitor,
                answer,
                lasting,
                message,
            } => self.probes.push(ArmedProbe {
                from,
                monitor: monitor.clone(),
                answer: *answer,
                message: message.clone(),
                until: until(lasting),
            }),
            Fault::ProcessExits { .. }
            | Fault::ProcessKilled { .. }
            | Fault::DaemonRestart
            | Fault::Reboot => {}
        }
    }

    fn take_script(
        &mut self,
        resource: &str,
        phase: ScriptPhase,
        now: Instant,
    ) -> Option<ScriptFault> {
        let i = self
            .scripts
            .iter()
            .position(|s| s.from <= now && s.resource == resource && s.phase == phase)?;
        let fault = self.scripts[i].fault;
        self.scripts[i].remaining -= 1;
        if self.scripts[i].remaining == 0 {
            self.scripts.remove(i);
        }
        Some(fault)
    }

    /// The latest crash loop of `resource` in force at `now`.
    fn crash_loop(&self, resource: &str, now: Instant) -> Option<(i32, Duration)> {
        self.loops
            .iter()
            .rev()
            .find(|l| l.from <= now && l.resource == resource && l.until.is_none_or(|u| now < u))
            .map(|l| (l.code, l.after))
    }

    /// The latest probe fault of `monitor` in force at `now`.
    fn probe(&self, monitor: &str, now: Instant) -> Option<(ProbeAnswer, String)> {
        self.probes
            .iter()
            .rev()
            .find(|p| p.from <= now && p.monitor == monitor && p.until.is_none_or(|u| now < u))
            .map(|p| (p.answer, p.message.clone()))
    }

    /// A fault window still to close: until then the run is not quiet.
    fn closes_later(&self, now: Instant) -> bool {
        let later = |u: Option<Instant>| u.is_some_and(|u| u > now);
        self.loops.iter().any(|l| later(l.until)) || self.probes.iter().any(|p| later(p.until))
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The simulated host with a scenario's faults: the script, process and probe answers the
/// faults in force dictate, the simulated host's everywhere else.
pub struct StageHost {
    sim: SimulatedHost,
    armed: Arc<Mutex<Armed>>,
}

/// The resource a script or process belongs to and whether it is a stop: the engine says so in
/// the script's environment (MAP-8), so faults follow resources even when programs are shared.
fn owner(run: &ScriptRun) -> (String, ScriptPhase) {
    let var = |name: &str| {
        run.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let phase = match var("UPKEEP_EVENT").as_str() {
        "STOP" => ScriptPhase::Stop,
        _ => ScriptPhase::Start,
    };
    (var("UPKEEP_RESOURCE"), phase)
}

impl Processes for StageHost {
    fn run_script(&self, run: ScriptRun) -> BoxFuture<'static, ScriptOutcome> {
        let (resource, phase) = owner(&run);
        let now = Instant::now();
        match lock(&self.armed).take_script(&resource, phase, now) {
            Some(ScriptFault::Fails(code)) => {
                Box::pin(async move { ScriptOutcome::Exited(ExitInfo::Code(code)) })
            }
            Some(ScriptFault::Hangs) => {
                let timeout = run.timeout;
                Box::pin(async move {
                    tokio::time::sleep(timeout).await;
                    ScriptOutcome::TimedOut
                })
            }
            None => self.sim.run_script(run),
        }
    }

    fn spawn(&self, run: ScriptRun) -> Result<Box<dyn ProcessHandle>, HostError> {
        let (resource, _) = owner(&run);
        let (fails, crash) = {
            let now = Instant::now();
            let mut armed = lock(&self.armed);
            let fails = armed.take_script(&resource, ScriptPhase::Start, now);
            (fails, armed.crash_loop(&resource, now))
        };
        let process = self.sim.spawn(run)?;
        let pid = process.pid();
        match (fails, crash) {
            // An async start "script" is its process: a failing one exits at once.
            (Some(ScriptFault::Fails(code)), _) => {
                self.sim.end_process(pid, ExitInfo::Code(code));
            }
            (_, Some((code, after))) if after.is_zero() => {
                self.sim.end_process(pid, ExitInfo::Code(code));
            }
            (_, Some((code, after))) => end_later(&self.sim, pid, code, after),
            _ => {}
        }
        Ok(process)
    }

    fn release(&self, group: &str, resource: &str, grace: Duration) -> BoxFuture<'static, ()> {
        self.sim.release(group, resource, grace)
    }
}

fn end_later(sim: &SimulatedHost, pid: u32, code: i32, after: Duration) {
    let sim = sim.clone();
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        sim.end_process(pid, ExitInfo::Code(code));
    });
}

impl Probes for StageHost {
    fn probe(&self, monitor: &Monitor) -> BoxFuture<'static, ProbeResult> {
        match lock(&self.armed).probe(&monitor.name, Instant::now()) {
            Some((ProbeAnswer::Error, message)) => {
                Box::pin(async move { ProbeResult::error(1, message) })
            }
            Some((ProbeAnswer::Warning, message)) => Box::pin(async move {
                ProbeResult {
                    verdict: Verdict::Warning,
                    code: 1,
                    message,
                }
            }),
            Some((ProbeAnswer::Timeout, _)) => Box::pin(std::future::pending()),
            None => Probes::probe(&self.sim, monitor),
        }
    }

    fn userspace_check(&self, spec: &UserSpace) -> BoxFuture<'static, Result<(), String>> {
        self.sim.userspace_check(spec)
    }
}

impl StateFiles for StageHost {
    fn load_state(&self, name: &str) -> BoxFuture<'static, Result<Option<Vec<u8>>, HostError>> {
        self.sim.load_state(name)
    }

    fn store_state(&self, name: &str, bytes: Vec<u8>) -> BoxFuture<'static, Result<(), HostError>> {
        self.sim.store_state(name, bytes)
    }

    fn quarantine_state(&self, name: &str) -> BoxFuture<'static, Result<String, HostError>> {
        self.sim.quarantine_state(name)
    }
}

impl Clock for StageHost {
    fn now_wall(&self) -> SystemTime {
        self.sim.now_wall()
    }

    fn hostname(&self) -> String {
        self.sim.hostname()
    }
}

impl Power for StageHost {
    fn os_action(
        &self,
        action: OsAction,
    ) -> BoxFuture<'static, Result<OsActionOutcome, HostError>> {
        self.sim.os_action(action)
    }
}

impl Watchdogs for StageHost {
    fn open_watchdog(
        &self,
        method: WatchdogMethod,
        timeout: Duration,
    ) -> Result<Box<dyn Watchdog>, HostError> {
        self.sim.open_watchdog(method, timeout)
    }
}

// --- The runner ------------------------------------------------------------------------------

/// One boot of the simulated host and its daemon.
struct Boot {
    number: u32,
    sim: SimulatedHost,
    host: Arc<StageHost>,
    engine: Option<Engine>,
    events: Events,
    rx: broadcast::Receiver<Event>,
    /// Wakes the runner on every event (their content is read from `rx`).
    wake: broadcast::Receiver<Event>,
    last_seq: u64,
    /// The daemon announced its stop (`pm 3`): its end is due at once.
    stop_seen: bool,
}

/// Whether the host is up, and what the daemon on it does.
enum Machine {
    Up(Box<Boot>),
    /// Rebooting: the next boot is due then.
    Rebooting(Instant),
    /// Shut down for good.
    Off,
}

struct Runner<'a> {
    config: Arc<Config>,
    scenario: &'a Scenario,
    t0: Instant,
    wall0: SystemTime,
    disk: SimDisk,
    armed: Arc<Mutex<Armed>>,
    machine: Machine,
    boots: u32,
    timeline: Vec<Entry>,
    os_actions: Vec<OsActionTaken>,
    state: FinalState,
    last_event: Instant,
}

/// Rehearse `scenario` against `config`: boot, apply the faults at their times, run to the
/// horizon (or until quiet), and report what happened.
pub async fn rehearse(
    config: Arc<Config>,
    scenario: &Scenario,
    options: Options,
) -> Result<Rehearsal, EngineError> {
    let t0 = Instant::now();
    let mut r = Runner {
        config,
        scenario,
        t0,
        wall0: UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        disk: SimDisk::default(),
        armed: Arc::default(),
        machine: Machine::Rebooting(t0),
        boots: 0,
        timeline: Vec::new(),
        os_actions: Vec::new(),
        state: FinalState::default(),
        last_event: t0,
    };
    for f in &scenario.faults {
        lock(&r.armed).arm(&f.fault, t0 + f.at);
    }
    let horizon = t0 + scenario.run_for;
    let mut pending = scenario.faults.iter().peekable();
    let mut quiet = false;
    loop {
        r.settle().await;
        let now = Instant::now();
        // Faults first: one due at a boot (at 0 s) is in force before the first script runs.
        while let Some(fault) = pending.next_if(|f| t0 + f.at <= now) {
            r.apply(fault).await?;
        }
        if let Machine::Rebooting(at) = r.machine {
            if at <= now {
                r.boot().await?;
                continue;
            }
        }
        if now >= horizon {
            break;
        }
        if options.until_quiet && pending.peek().is_none() && r.is_quiet(now) {
            quiet = true;
            break;
        }
        let mut wake = horizon;
        if let Some(f) = pending.peek() {
            wake = wake.min(t0 + f.at);
        }
        match &r.machine {
            Machine::Rebooting(at) => wake = wake.min(*at),
            Machine::Up(boot) if boot.stop_seen && boot.engine.is_some() => {
                wake = wake.min(now + STOPPING);
            }
            _ => {}
        }
        if options.until_quiet {
            let quiet_at = r.last_event + r.quiet_span();
            wake = wake.min(if quiet_at > now { quiet_at } else { now + TICK });
        }
        match &mut r.machine {
            Machine::Up(boot) => {
                tokio::select! {
                    () = tokio::time::sleep_until(wake) => {}
                    _ = boot.wake.recv() => {}
                }
            }
            _ => tokio::time::sleep_until(wake).await,
        }
    }
    r.finish(quiet).await
}

impl Runner<'_> {
    fn at(&self) -> Duration {
        Instant::now() - self.t0
    }

    fn note(&mut self, step: Step) {
        let at = self.at();
        // A fault is in force from its instant on (`Armed::arm`), so a check due at that
        // instant may already have seen it: its line goes before every event of the instant.
        let index = match step {
            Step::Fault(_) => self.timeline.partition_point(|e| e.at < at),
            _ => self.timeline.len(),
        };
        self.timeline.insert(index, Entry { at, step });
    }

    /// Start the daemon on a freshly booted host with the same disk.
    async fn boot(&mut self) -> Result<(), EngineError> {
        self.boots += 1;
        let sim = SimulatedHost::new(self.disk.clone(), self.wall0 + self.at());
        let host = Arc::new(StageHost {
            sim: sim.clone(),
            armed: self.armed.clone(),
        });
        self.note(Step::Boot(self.boots));
        let boot = self.start_engine(self.boots, sim, host).await?;
        self.machine = Machine::Up(Box::new(boot));
        Ok(())
    }

    async fn start_engine(
        &mut self,
        number: u32,
        sim: SimulatedHost,
        host: Arc<StageHost>,
    ) -> Result<Boot, EngineError> {
        let instance = format!("rehearsal{}", NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed));
        let engine = Engine::start(self.config.clone(), host.clone(), &instance).await?;
        let events = engine.events().clone();
        let (past, rx) = events.subscribe_since(0);
        let (_, wake) = events.subscribe_since(u64::MAX);
        let mut boot = Boot {
            number,
            sim,
            host,
            engine: Some(engine),
            events,
            rx,
            wake,
            last_seq: 0,
            stop_seen: false,
        };
        self.record(&mut boot, past);
        Ok(boot)
    }

    fn record(&mut self, boot: &mut Boot, events: Vec<Event>) {
        for e in events {
            if e.seq <= boot.last_seq {
                continue;
            }
            boot.last_seq = e.seq;
            let at = e.at.duration_since(self.wall0).unwrap_or_default();
            if let EventKind::OsAction {
                action, count, max, ..
            } = &e.kind
            {
                self.os_actions.push(OsActionTaken {
                    at,
                    action: *action,
                    count: *count,
                    max: *max,
                });
            }
            self.last_event = Instant::now();
            boot.stop_seen |= e.kind.module() == Module::Pm && e.kind.id() == DAEMON_STOPPED;
            self.timeline.push(Entry {
                at,
                step: Step::Event {
                    boot: boot.number,
                    module: e.kind.module().as_str(),
                    id: e.kind.id(),
                    line: e.line(),
                },
            });
        }
    }

    /// Read every event published so far (re-reading the ring if the live feed lagged).
    fn drain(&mut self, boot: &mut Boot) {
        while matches!(
            boot.wake.try_recv(),
            Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_))
        ) {}
        let mut fresh = Vec::new();
        loop {
            match boot.rx.try_recv() {
                Ok(e) => fresh.push(e),
                Err(broadcast::error::TryRecvError::Lagged(_)) => {
                    let (past, rx) = boot.events.subscribe_since(boot.last_seq);
                    boot.rx = rx;
                    fresh = past;
                }
                Err(_) => break,
            }
        }
        self.record(boot, fresh);
    }

    /// Let the work due now run, read its events, and notice a daemon that stopped itself.
    async fn settle(&mut self) {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        let mut boot = match std::mem::replace(&mut self.machine, Machine::Off) {
            Machine::Up(boot) => boot,
            other => {
                self.machine = other;
                return;
            }
        };
        self.drain(&mut boot);
        let stopped = boot.engine.as_ref().is_some_and(Engine::is_finished);
        if stopped {
            if let Some(engine) = boot.engine.take() {
                let board = engine.board().clone();
                engine.wait().await;
                self.state = snapshot(&board, false);
            }
            self.drain(&mut boot);
            // The OS action the daemon stopped for, if any, decides what the host does next.
            match power(&boot) {
                Some(OsAction::Reboot | OsAction::Reset) => return self.reboot_host(),
                Some(OsAction::Shutdown) => return self.shut_down_host(),
                None => {}
            }
        }
        self.machine = Machine::Up(boot);
    }

    fn reboot_host(&mut self) {
        self.note(Step::HostDown(format!(
            "the host reboots (back in {})",
            humantime::format_duration(self.scenario.reboot_takes)
        )));
        self.machine = Machine::Rebooting(Instant::now() + self.scenario.reboot_takes);
    }

    fn shut_down_host(&mut self) {
        self.note(Step::HostDown("the host is shut down".into()));
        self.machine = Machine::Off;
    }

    /// A fault's moment: announce it, and act for the faults that are actions.
    async fn apply(&mut self, timed: &TimedFault) -> Result<(), EngineError> {
        let fault = &timed.fault;
        let mut what = fault.to_string();
        match fault {
            Fault::ProcessExits { resource, code } => {
                if !self.end_process(resource, ExitInfo::Code(*code)) {
                    what.push_str(" (no process of it is running)");
                }
            }
            Fault::ProcessKilled { resource, signal } => {
                if !self.end_process(resource, ExitInfo::Signal(*signal)) {
                    what.push_str(" (no process of it is running)");
                }
            }
            // Armed at the start (`Armed::arm`); the running process ends `after` now.
            Fault::CrashLoop {
                resource,
                code,
                after,
                ..
            } => {
                if let Some((sim, pid)) = self.running_process(resource) {
                    end_later(&sim, pid, *code, *after);
                }
            }
            // Armed at the start: only the timeline says so now.
            Fault::StartFails { .. }
            | Fault::StartHangs { .. }
            | Fault::StopFails { .. }
            | Fault::StopHangs { .. }
            | Fault::Probe { .. } => {}
            Fault::DaemonRestart => {
                self.note(Step::Fault(what));
                return self.restart_daemon().await;
            }
            Fault::Reboot => {
                self.note(Step::Fault(what));
                match self.stop_daemon("reboot").await {
                    // Already rebooting: nothing more to do.
                    Stopped::HostDown if matches!(self.machine, Machine::Rebooting(_)) => {}
                    // A shutdown the daemon took while it stopped wins over the reboot.
                    Stopped::Daemon(Some(OsAction::Shutdown)) => self.shut_down_host(),
                    // A host that was off is powered on.
                    _ => self.reboot_host(),
                }
                return Ok(());
            }
        }
        self.note(Step::Fault(what));
        Ok(())
    }

    /// The running process of `resource`, as its board entry shows it.
    fn running_process(&self, resource: &str) -> Option<(SimulatedHost, u32)> {
        let Machine::Up(boot) = &self.machine else {
            return None;
        };
        let pid = boot.engine.as_ref()?.board().resource(resource)?.pid?;
        Some((boot.sim.clone(), pid))
    }

    fn end_process(&self, resource: &str, exit: ExitInfo) -> bool {
        self.running_process(resource)
            .is_some_and(|(sim, pid)| sim.end_process(pid, exit))
    }

    /// An orderly stop of the daemon (as systemd's SIGTERM would make it), its events kept.
    /// The host stays `Up` (with no engine) whatever the daemon did while it stopped.
    async fn stop_daemon(&mut self, reason: &str) -> Stopped {
        let mut boot = match std::mem::replace(&mut self.machine, Machine::Off) {
            Machine::Up(boot) => boot,
            other => {
                self.machine = other;
                return Stopped::HostDown;
            }
        };
        if let Some(engine) = boot.engine.take() {
            let board = engine.board().clone();
            engine.stop(reason).await;
            self.state = snapshot(&board, false);
        }
        self.drain(&mut boot);
        let action = power(&boot);
        self.machine = Machine::Up(boot);
        Stopped::Daemon(action)
    }

    /// DaemonRestart: stop and start the daemon on the same host (unless stopping it took an
    /// OS action, or the host is down).
    async fn restart_daemon(&mut self) -> Result<(), EngineError> {
        let action = match self.stop_daemon("restart").await {
            Stopped::HostDown => return Ok(()),
            Stopped::Daemon(action) => action,
        };
        match action {
            Some(OsAction::Reboot | OsAction::Reset) => {
                self.reboot_host();
                return Ok(());
            }
            Some(OsAction::Shutdown) => {
                self.shut_down_host();
                return Ok(());
            }
            None => {}
        }
        let boot = match std::mem::replace(&mut self.machine, Machine::Off) {
            Machine::Up(boot) => boot,
            other => {
                self.machine = other;
                return Ok(());
            }
        };
        let fresh = self.start_engine(boot.number, boot.sim, boot.host).await?;
        self.machine = Machine::Up(Box::new(fresh));
        Ok(())
    }

    /// Nothing is left to happen: no fault window to close, no reboot due, the board settled
    /// and no event for a quiet span (twice the longest monitor interval, at least 30 s).
    fn is_quiet(&self, now: Instant) -> bool {
        if lock(&self.armed).closes_later(now) {
            return false;
        }
        let boot = match &self.machine {
            Machine::Off => return true,
            Machine::Rebooting(_) => return false,
            Machine::Up(boot) => boot,
        };
        let Some(engine) = boot.engine.as_ref() else {
            return true;
        };
        now.saturating_duration_since(self.last_event) >= self.quiet_span()
            && settled(engine.board())
    }

    /// How long without an event counts as quiet: twice the longest monitor interval, at least
    /// 30 s, so every monitor has checked at least once more.
    fn quiet_span(&self) -> Duration {
        let longest = self
            .config
            .monitors
            .iter()
            .map(|m| m.interval)
            .max()
            .unwrap_or_default();
        (longest * 2).max(Duration::from_secs(30))
    }

    async fn finish(mut self, quiet: bool) -> Result<Rehearsal, EngineError> {
        let ended_at = self.at();
        if let Machine::Up(mut boot) = std::mem::replace(&mut self.machine, Machine::Off) {
            self.drain(&mut boot);
            if let Some(engine) = boot.engine.take() {
                self.state = snapshot(engine.board(), true);
                // The horizon is no stop of the daemon: its stop is not part of the timeline.
                engine.stop("the simulation ended").await;
            }
        }
        let outcome = outcome(&self.config, &self.state, !self.os_actions.is_empty());
        Ok(Rehearsal {
            timeline: self.timeline,
            os_actions: self.os_actions,
            state: self.state,
            ended_at,
            quiet,
            boots: self.boots,
            outcome,
        })
    }
}

/// What stopping the daemon found.
enum Stopped {
    /// The host was not up: no daemon to stop.
    HostDown,
    /// The daemon stopped; the OS action it took meanwhile, if any.
    Daemon(Option<OsAction>),
}

/// The OS action the daemon of this boot took, if any (at most one: it ends the boot).
fn power(boot: &Boot) -> Option<OsAction> {
    boot.sim.os_actions().first().copied()
}

/// No group, resource or monitor is on its way somewhere, and no monitor is counting failures.
fn settled(board: &Board) -> bool {
    let groups = board.groups.values().all(|g| {
        !matches!(
            g.borrow().state,
            GroupState::Starting | GroupState::Stopping
        )
    });
    let resources = board.resources.values().all(|r| {
        !matches!(
            r.borrow().state,
            ResourceState::Starting | ResourceState::Stopping
        )
    });
    let monitors = board.monitor_names().iter().all(|name| {
        board.monitor(name).is_none_or(|m| {
            !matches!(
                m.phase,
                MonitorPhase::Recovering | MonitorPhase::Backoff | MonitorPhase::StartWait
            ) && (m.failures == 0 || m.failed.is_some())
        })
    });
    groups && resources && monitors
}

fn snapshot(board: &Board, daemon_running: bool) -> FinalState {
    let governor = board.governor.borrow().clone();
    FinalState {
        groups: board
            .groups
            .iter()
            .map(|(name, g)| (name.clone(), g.borrow().state))
            .collect(),
        resources: board
            .resources
            .iter()
            .map(|(name, r)| {
                let r = r.borrow();
                ResourceEnd {
                    name: name.clone(),
                    state: r.state,
                    pid: r.pid,
                    starts: r.starts,
                }
            })
            .collect(),
        monitors: board
            .monitor_names()
            .into_iter()
            .filter_map(|name| {
                let m = board.monitor(&name)?;
                Some(MonitorEnd {
                    name,
                    phase: m.phase,
                    failures: m.failures,
                    needed: m.needed,
                    reactivations: m.reactivations,
                    threshold: m.reactivation_threshold,
                    failed: m.failed.is_some(),
                })
            })
            .collect(),
        reboot_count: governor.count,
        reboot_max: governor.max,
        daemon_running,
    }
}

/// The most serious thing that happened: an OS action, the daemon stopped, an auto-start group
/// not (fully) online at the end, or none of these.
fn outcome(config: &Config, state: &FinalState, os_action: bool) -> Outcome {
    if os_action {
        return Outcome::OsAction;
    }
    if !state.daemon_running {
        return Outcome::DaemonStopped;
    }
    let auto: HashMap<&str, bool> = config
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.startup == Startup::Auto))
        .collect();
    let down = state.groups.iter().any(|(name, s)| {
        auto.get(name.as_str()).copied().unwrap_or(false) && *s != GroupState::Online
    });
    if down {
        Outcome::GroupsStopped
    } else {
        Outcome::Recovered
    }
}

// --- Expectations ----------------------------------------------------------------------------

/// One expectation and whether the rehearsal met it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub expectation: String,
    pub passed: bool,
    /// What was found instead (or where it was found).
    pub detail: String,
}

/// Check the scenario's expectations against what the rehearsal saw.
pub fn check(expect: &[Expectation], r: &Rehearsal) -> Vec<Checked> {
    expect.iter().map(|e| check_one(e, r)).collect()
}

fn check_one(e: &Expectation, r: &Rehearsal) -> Checked {
    let find = |text: &str| {
        r.timeline.iter().find(|entry| match &entry.step {
            Step::Event { line, .. } => line.contains(text),
            _ => false,
        })
    };
    let seen = |entry: &Entry| format!("at {}: {}", offset(entry.at), entry.text());
    let (passed, detail) = match e {
        Expectation::Event(text) => match find(text) {
            Some(entry) => (true, seen(entry)),
            None => (false, "no event line contains it".into()),
        },
        Expectation::NoEvent(text) => match find(text) {
            Some(entry) => (false, seen(entry)),
            None => (true, String::new()),
        },
        Expectation::Group { name, state } => {
            let found = r
                .state
                .groups
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, s)| format!("{s:?}"));
            compare(state, found)
        }
        Expectation::Resource { name, state } => {
            let found = r
                .state
                .resources
                .iter()
                .find(|res| &res.name == name)
                .map(|res| format!("{:?}", res.state));
            compare(state, found)
        }
        Expectation::Monitor { name, phase } => {
            let found = r
                .state
                .monitors
                .iter()
                .find(|m| &m.name == name)
                .map(|m| format!("{:?}", m.phase));
            compare(phase, found)
        }
        Expectation::RebootCount(n) => (
            r.state.reboot_count == *n,
            format!("the reboot count is {}", r.state.reboot_count),
        ),
        Expectation::Outcome(o) => (r.outcome == *o, format!("the outcome is {:?}", r.outcome)),
    };
    Checked {
        expectation: e.to_string(),
        passed,
        detail,
    }
}

fn compare(want: &str, found: Option<String>) -> (bool, String) {
    match found {
        Some(s) => (s == want, format!("it is {s}")),
        None => (false, "not found".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_read_like_durations() {
        assert_eq!(offset(Duration::ZERO), "+0.000s");
        assert_eq!(offset(Duration::from_millis(1_250)), "+1.250s");
        assert_eq!(offset(Duration::from_millis(133_000)), "+2m13.000s");
        assert_eq!(offset(Duration::from_secs(3_723)), "+1h02m03.000s");
    }
}
