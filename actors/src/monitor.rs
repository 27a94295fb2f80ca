//! Monitor: one monitor resource's state machine (MON-3..16, HWM-5).
//!
//! Timing (always / when the target resource is active), start wait, interval, retry count, then
//! the recovery ladder held by its RetryCounter: reactivate the target while below the
//! reactivation threshold, else the final action. The counter is spawned on demand, by the
//! first error that needs the ladder: most monitors never fail, and an idle actor is the
//! largest part of a monitor's memory (issue 14). The first normal check after a reactivation
//! resets the ladder (MON-15); an inactive target is never recovered (MON-14). Checks run in the
//! Probe child; results carry an `epoch` so a result from before a suspend or a recovery is
//! ignored.
//!
//! upkeep's additions (issue 9, docs/CONFIG.md "Crash loops"): a start limit that turns too many
//! reactivations within a window into the final action, a backoff between the reactivations of
//! a target that keeps failing, one final action per error episode, and a start grace during
//! which a just-started target's abnormal checks are not counted. With `backoff: Off`,
//! `start_limit: Off` and no grace the ladder is the seed's.

use std::time::Duration;

use tokio::sync::watch;

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use upkeep_config::{Monitor, MonitorFinalAction, RecoveryTarget, StartLimit, Timing};

use crate::board::{BoardSubscription, MonitorPhase, ProcessExit, ResourceStatus};
use crate::clock::{Clock, Ticket};
use crate::ctx::Ctx;
use crate::daemon::{DaemonAction, DaemonMsg};
use crate::event::{EventKind, FinalAction};
use crate::governor::GovernorMsg;
use crate::host::{ProbeResult, Verdict};
use crate::ladder::{Intensity, Pacer, RestartWindow, Rung};
use crate::probe::{ProbeActor, ProbeArgs, ProbeMsg};
use crate::rc::RcMsg;
use crate::retry::{Ladders, RetryArgs, RetryCounter, RetryMsg};
use crate::supervise::{Decision, Level, Supervisor};
use crate::task::Task;

pub struct MonitorActor;

pub struct MonitorArgs {
    pub ctx: Ctx,
    pub spec: Monitor,
    /// Start suspended (the daemon is suspended while this monitor is (re)started).
    pub suspended: bool,
    /// Start suspended by the operator (`upkeep monitor suspend NAME`).
    pub operator_suspended: bool,
    /// MTM-1: the multi-target monitor this one is a member of; its own actions are held.
    pub held_by: Option<String>,
    /// rm's clock, which ticks every monitor's interval (MON-3).
    pub clock: Clock,
}

pub enum MonitorMsg {
    Tick,
    /// Re-evaluate timing and (re)start the start wait.
    Arm,
    StartWaitOver {
        epoch: u64,
    },
    /// The `when_active` target changed state.
    TargetChanged,
    CheckResult {
        epoch: u64,
        result: ProbeResult,
        /// How long the check took (for the delay warning).
        elapsed: Duration,
    },
    /// MON-10: the watched resource reports an exit of its process, the moment it happens.
    ProcessGone(ProcessExit),
    Rung {
        rung: Rung,
        used: u32,
    },
    RecoveryDone {
        ok: bool,
    },
    /// The restart backoff's wait for reactivation `attempt` of `of` is over.
    BackoffOver {
        epoch: u64,
        attempt: u32,
        of: u32,
    },
    Suspend,
    Resume,
    OperatorSuspend,
    OperatorResume,
    /// Try again to restart a child whose restart could not spawn it.
    RestartChild(MonitorChild),
}

/// A monitor's children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorChild {
    Probe,
    /// The RetryCounter holding the reactivation ladder (its ladder is `MonitorState::ladders`).
    Counter,
}

fn start_limit(limit: StartLimit) -> Option<RestartWindow> {
    match limit {
        StartLimit::Off => None,
        StartLimit::Within { burst, window } => Some(RestartWindow::new(burst, window)),
    }
}

pub struct MonitorState {
    ctx: Ctx,
    spec: Monitor,
    phase: MonitorPhase,
    epoch: u64,
    failures: u32,
    /// An error was declared and the counter's answer is awaited.
    awaiting_rung: bool,
    /// A reactivation happened: the next normal check resets the ladder (MON-15).
    pending_reset: bool,
    /// OPS-2 (daemon suspend) and OPS-4 (this monitor suspended): either one pauses it.
    suspended: bool,
    operator_suspended: bool,
    held_by: Option<String>,
    probe: Option<ActorRef<ProbeMsg>>,
    counter: Option<ActorRef<RetryMsg>>,
    /// The reactivation ladder (MON-12), kept here so it survives its counter's restart;
    /// created with the counter's first start.
    ladders: Option<Ladders>,
    children: Supervisor<MonitorChild>,
    clock: Clock,
    /// This monitor's place on rm's clock (MON-3), from `post_start` on.
    ticket: Option<Ticket>,
    /// A pid monitor's view of its resource's board entry as of its last check: while the
    /// entry is unchanged and the check was normal, another check would change nothing.
    seen: Option<watch::Receiver<ResourceStatus>>,
    /// `seen` is newer than what the clock was last told.
    seen_fresh: bool,
    /// The clock skips this monitor's ticks while `seen` is unchanged.
    quiet: bool,
    /// The last check's verdict was normal.
    last_normal: bool,
    waiting: Option<Task>,
    /// A `WhenActive` monitor's subscription to its target's state changes (MON-7).
    target_watch: Option<BoardSubscription>,
    recovery: Option<Task>,
    /// The pid monitor's subscription to its resource's exit reports.
    exits: Option<BoardSubscription>,
    /// The process incarnation whose exit a check has already counted, so its report does not
    /// count the same exit twice.
    exit_counted: Option<u64>,
    /// upkeep's restart backoff (issue 9).
    pacer: Pacer,
    /// upkeep's start limit (issue 9): the reactivations within its window.
    start_limit: Option<RestartWindow>,
    /// This error episode already ended in the final action (or in nothing, MON-14): the error
    /// is not declared again until a normal check ends the episode.
    episode_failed: bool,
    /// For a pid monitor: the process incarnation the failed episode was about. A process
    /// started since (the operator started the resource again) begins a new episode.
    episode_generation: u64,
    /// The last abnormal check fell in the start grace (shown on the board).
    graced: bool,
}

impl MonitorState {
    fn name(&self) -> String {
        self.spec.name.clone()
    }

    fn set_phase(&mut self, phase: MonitorPhase) {
        self.phase = phase;
        let now = self.ctx.host.now_wall();
        let failures = self.failures;
        self.ctx.board.update_monitor(&self.spec.name, |m| {
            if m.phase != phase {
                m.since = now;
            }
            m.phase = phase;
            m.failures = failures;
        });
    }

    fn when_active_target(&self) -> Option<&str> {
        match &self.spec.timing {
            Timing::WhenActive { resource } => Some(resource),
            Timing::Always => None,
        }
    }

    /// MON-7: may monitoring run now?
    fn timing_allows(&self) -> bool {
        match self.when_active_target() {
            Some(resource) => self
                .ctx
                .board
                .resource(resource)
                .is_some_and(|r| r.state == crate::board::ResourceState::Online),
            None => true,
        }
    }

    /// MON-14: is the recovery target active?
    fn target_active(&self) -> bool {
        match &self.spec.recovery.target {
            RecoveryTarget::Sss => true,
            RecoveryTarget::Resource(r) => self
                .ctx
                .board
                .resource(r)
                .is_some_and(|s| s.state.is_active()),
            RecoveryTarget::Group(g) => {
                self.ctx.board.group(g).is_some_and(|s| s.state.is_active())
            }
        }
    }

    fn target_label(&self) -> String {
        match &self.spec.recovery.target {
            RecoveryTarget::Sss => self.ctx.config.name.clone(),
            RecoveryTarget::Resource(r) => r.clone(),
            RecoveryTarget::Group(g) => g.clone(),
        }
    }

    /// MON-16 step 1.
    fn arm(&mut self, me: &ActorRef<MonitorMsg>) {
        self.epoch += 1;
        self.waiting = None;
        if self.phase == MonitorPhase::Backoff {
            // A suspension (or a stopped target) cancels the delayed reactivation.
            self.ctx
                .board
                .update_monitor(&self.spec.name, |m| m.next_attempt = None);
        }
        if self.suspended || self.operator_suspended {
            self.set_phase(MonitorPhase::Suspended);
            return;
        }
        if !self.timing_allows() {
            self.set_phase(MonitorPhase::WaitingForTarget);
            return;
        }
        if self.spec.start_wait.is_zero() {
            self.enter_monitoring();
        } else {
            self.set_phase(MonitorPhase::StartWait);
            let epoch = self.epoch;
            let wait = self.spec.start_wait;
            let me = me.clone();
            self.waiting = Some(Task::spawn(async move {
                tokio::time::sleep(wait).await;
                let _ = me.cast(MonitorMsg::StartWaitOver { epoch });
            }));
        }
    }

    fn enter_monitoring(&mut self) {
        self.set_phase(MonitorPhase::Monitoring);
        // The first check runs at once: MON-15's "first status after the start wait".
        self.check();
    }

    fn check(&mut self) {
        // A check that only reads the board (pid, multi-target) is done here, without a round
        // trip through the probe: it has no I/O that could hang or crash (PERFORMANCE.md: idle
        // CPU with many monitors).
        if let Some(resource) = self.spec.pid_target() {
            // One reading, so the incarnation noted is the one the verdict is about. The
            // receiver marks what this check saw: the clock skips the ticks that would read the
            // same (`publish_quiet`).
            let seen = self
                .ctx
                .board
                .resources
                .get(resource)
                .map(|tx| tx.subscribe());
            let (result, counted) = match &seen {
                Some(rx) => {
                    let status = rx.borrow();
                    let result = crate::probe::pid_result(resource, Some(&status));
                    (result, status.pid.is_none().then_some(status.generation))
                }
                None => (crate::probe::pid_result(resource, None), None),
            };
            self.exit_counted = counted;
            self.seen = seen;
            self.seen_fresh = true;
            self.on_result(result);
        } else if let Some(result) = crate::probe::board_check(&self.ctx.board, &self.spec.kind) {
            self.on_result(result);
        } else if let Some(probe) = &self.probe {
            let _ = probe.cast(ProbeMsg::Check { epoch: self.epoch });
        }
    }

    /// Tell the clock whether the next ticks can be skipped (after every handled message).
    /// Only a pid monitor in its steady normal state qualifies: monitoring, no error pending,
    /// no MON-15 reset pending, no failed episode or start grace, and the last check normal.
    /// Such a check reads only its resource's board entry, and a normal reading changes
    /// nothing, so while that entry is unchanged a tick would be a no-op; any message that
    /// changes this state comes here before the next skip decision matters (an exit report
    /// changes the entry first).
    fn publish_quiet(&mut self) {
        let quiet = self.seen.is_some()
            && self.phase == MonitorPhase::Monitoring
            && self.last_normal
            && self.failures == 0
            && !self.awaiting_rung
            && !self.pending_reset
            && !self.episode_failed
            && !self.graced;
        let Some(ticket) = &self.ticket else {
            return;
        };
        if quiet && (self.seen_fresh || !self.quiet) {
            ticket.quiet_while_unchanged(self.seen.clone());
        } else if !quiet && self.quiet {
            ticket.quiet_while_unchanged(None);
        }
        self.quiet = quiet;
        self.seen_fresh = false;
    }

    /// MON-10: an exit report of the watched resource counts as an abnormal check, unless it is
    /// about a process the resource no longer has (a successor runs: the report is stale) or a
    /// check already saw this very exit on the board.
    fn on_exit(&mut self, report: ProcessExit) {
        let Some(resource) = self.spec.pid_target().map(str::to_string) else {
            return;
        };
        let current = self
            .ctx
            .board
            .resource(&resource)
            .is_some_and(|s| s.generation == report.generation);
        if !current || self.exit_counted == Some(report.generation) {
            return;
        }
        self.exit_counted = Some(report.generation);
        self.on_result(ProbeResult::error(
            1,
            format!(
                "process of resource {resource} is not running (ended with {})",
                report.exit
            ),
        ));
    }

    /// A check that used more than its share of the timeout is reported before it fails
    /// outright (ECX's delay warning).
    fn check_delay(&self, elapsed: Duration) {
        let Some(percent) = self.spec.delay_warning_percent else {
            return;
        };
        let limit = self.spec.timeout.mul_f64(f64::from(percent) / 100.0);
        if elapsed > limit && elapsed < self.spec.timeout {
            self.ctx.emit(EventKind::MonitorDelay {
                monitor: self.name(),
                timeout_s: self.spec.timeout.as_secs(),
                actual_ms: elapsed.as_millis() as u64,
                percent,
            });
        }
    }

    /// upkeep's start grace (issue 9): until when an abnormal check is not counted, because the
    /// monitor's target (recovery target or `WhenActive` resource) is starting or started less
    /// than `start_grace` ago and may not answer yet.
    fn grace_until(&self) -> Option<std::time::SystemTime> {
        let grace = self.spec.start_grace;
        if grace.is_zero() {
            return None;
        }
        let now = self.ctx.host.now_wall();
        let mut starts = Vec::new();
        let mut resource = |r: &str| {
            if let Some(s) = self.ctx.board.resource(r) {
                match s.state {
                    crate::board::ResourceState::Starting => starts.push(now),
                    crate::board::ResourceState::Online => starts.push(s.since),
                    _ => {}
                }
            }
        };
        if let RecoveryTarget::Resource(r) = &self.spec.recovery.target {
            resource(r);
        }
        if let Some(r) = self.when_active_target() {
            resource(r);
        }
        if let RecoveryTarget::Group(g) = &self.spec.recovery.target {
            if let Some(s) = self.ctx.board.group(g) {
                match s.state {
                    crate::board::GroupState::Starting => starts.push(now),
                    crate::board::GroupState::Online | crate::board::GroupState::OnlinePartial => {
                        starts.push(s.since)
                    }
                    _ => {}
                }
            }
        }
        starts
            .into_iter()
            .map(|t| t + grace)
            .filter(|until| *until > now)
            .max()
    }

    fn on_result(&mut self, result: ProbeResult) {
        let name = self.name();
        self.last_normal = result.verdict == Verdict::Normal;
        if result.verdict == Verdict::Error {
            if let Some(until) = self.grace_until() {
                self.graced = true;
                // Not counted, nor shown as the verdict: the application may still be
                // starting. The board shows the grace instead.
                self.ctx
                    .board
                    .update_monitor(&name, |m| m.grace_until = Some(until));
                return;
            }
        }
        if self.graced {
            self.graced = false;
            self.ctx
                .board
                .update_monitor(&name, |m| m.grace_until = None);
        }
        // Once per error episode: after its final action the episode's abnormal checks are
        // not counted again (a new process of a pid monitor's resource starts a new episode).
        let quiet =
            result.verdict == Verdict::Error && self.episode_failed && !self.new_incarnation();
        let failures_after = match result.verdict {
            Verdict::Error if !quiet => self.failures + 1,
            _ => 0,
        };
        // One board update per check, and none at all when nothing changed.
        let previous = self
            .ctx
            .board
            .modify_monitor(&name, |m| {
                let previous = m.last_verdict;
                let changed = previous != Some(result.verdict)
                    || m.last_detail != result.message
                    || m.failures != failures_after;
                if changed {
                    m.last_verdict = Some(result.verdict);
                    m.last_detail.clone_from(&result.message);
                    m.failures = failures_after;
                }
                (changed, previous)
            })
            .flatten();
        match result.verdict {
            Verdict::Normal | Verdict::Warning => {
                if result.verdict == Verdict::Warning && previous != Some(Verdict::Warning) {
                    self.ctx.emit(EventKind::MonitorWarning {
                        monitor: name.clone(),
                        detail: result.message,
                    });
                } else if result.verdict == Verdict::Normal
                    && matches!(previous, Some(Verdict::Error | Verdict::Warning))
                {
                    self.ctx.emit(EventKind::MonitorRecovered {
                        monitor: name.clone(),
                    });
                }
                self.failures = 0;
                self.end_episode();
                if self.pending_reset {
                    // MON-15.
                    self.pending_reset = false;
                    if let Some(counter) = &self.counter {
                        let _ = counter.cast(RetryMsg::Reset { lane: 0 });
                    }
                    self.ctx
                        .board
                        .update_monitor(&name, |m| m.reactivations = 0);
                    self.ctx
                        .emit(EventKind::ReactivationCountReset { monitor: name });
                }
            }
            Verdict::Error if quiet => {
                // Once per error episode: the final action was taken (or the target is
                // inactive); repeating it every interval only floods the log.
                self.failures = 0;
            }
            Verdict::Error => {
                self.end_episode();
                self.failures = failures_after;
                let failures = self.failures;
                let needed = self.spec.retries + 1;
                self.ctx.emit(EventKind::MonitorCheckFailed {
                    monitor: name,
                    failures,
                    needed,
                    detail: result.message.clone(),
                });
                // MON-5: error after `retries + 1` consecutive abnormal checks.
                if failures >= needed {
                    self.declare_error(result.message);
                }
            }
        }
    }

    /// MON-16 step 3.
    fn declare_error(&mut self, detail: String) {
        let name = self.name();
        self.failures = 0;
        self.ctx.board.update_monitor(&name, |m| m.failures = 0);
        self.ctx.emit(EventKind::MonitorError {
            monitor: name.clone(),
            detail,
        });
        if let Some(by) = self.held_by.clone() {
            // MTM-1: the multi-target monitor decides from its members' states.
            self.ctx.emit(EventKind::MonitorHeld { monitor: name, by });
            return;
        }
        if let Some(governor) = self
            .ctx
            .find::<GovernorMsg>(&self.ctx.names.governor(), &self.spec.name)
        {
            let _ = governor.cast(GovernorMsg::ErrorDeclared);
        }
        if !self.target_active() {
            self.ctx.emit(EventKind::RecoverySkipped {
                monitor: name,
                target: self.target_label(),
            });
            self.fail_episode("recovery target is not active".into());
            return;
        }
        if self.spec.recovery.target == RecoveryTarget::Sss {
            // MON-11 / HWM-5: the final action at once.
            self.final_action();
            return;
        }
        self.awaiting_rung = true;
        // Without a counter yet, `spawn_counter_on_demand` starts it at the end of this
        // handler and asks it then.
        if let Some(counter) = &self.counter {
            let _ = counter.cast(RetryMsg::Failure { lane: 0 });
        }
    }

    fn reactivate(&mut self, me: &ActorRef<MonitorMsg>, attempt: u32, of: u32) {
        let name = self.name();
        self.ctx.emit(EventKind::Reactivation {
            monitor: name.clone(),
            target: self.target_label(),
            attempt,
            of,
        });
        self.epoch += 1;
        self.set_phase(MonitorPhase::Recovering);
        self.ctx.board.update_monitor(&self.spec.name, |m| {
            m.restarts = m.restarts.saturating_add(1);
            m.next_attempt = None;
        });
        let Some(rc) = self
            .ctx
            .find::<RcMsg>(&self.ctx.names.rc(), &self.spec.name)
        else {
            let _ = me.cast(MonitorMsg::RecoveryDone { ok: false });
            return;
        };
        let target = self.spec.recovery.target.clone();
        let me = me.clone();
        self.recovery = Some(Task::spawn(async move {
            let reply = rc
                .call(
                    |port| RcMsg::Recover {
                        target,
                        reason: format!("monitor {name}"),
                        done: Some(port),
                    },
                    None,
                )
                .await;
            let ok = matches!(reply, Ok(ractor::rpc::CallResult::Success(true)));
            let _ = me.cast(MonitorMsg::RecoveryDone { ok });
        }));
    }

    /// The error episode ends in a failure: shown in status, not repeated every interval.
    fn fail_episode(&mut self, reason: String) {
        self.episode_failed = true;
        self.episode_generation = self.target_generation();
        self.ctx
            .board
            .update_monitor(&self.spec.name, |m| m.failed = Some(reason));
    }

    /// The process incarnation the current verdict is about (the exit it counted).
    fn target_generation(&self) -> u64 {
        self.exit_counted.unwrap_or_else(|| {
            self.spec
                .pid_target()
                .and_then(|r| self.ctx.board.resource(r))
                .map_or(0, |r| r.generation)
        })
    }

    /// A pid monitor's target runs a process started after the episode failed.
    fn new_incarnation(&self) -> bool {
        self.spec.pid_target().is_some() && self.target_generation() > self.episode_generation
    }

    fn end_episode(&mut self) {
        if self.episode_failed {
            self.episode_failed = false;
            self.ctx
                .board
                .update_monitor(&self.spec.name, |m| m.failed = None);
        }
    }

    /// A rung of the reactivation ladder, through upkeep's start limit and backoff (issue 9).
    fn on_rung(&mut self, me: &ActorRef<MonitorMsg>, rung: Rung) {
        let (attempt, of) = match rung {
            Rung::Retry { attempt, of } => (attempt, of),
            Rung::Exhausted => {
                self.final_action();
                return;
            }
        };
        let now = tokio::time::Instant::now();
        if let Some(window) = &mut self.start_limit {
            if window.record(now) == Intensity::Escalate {
                // The reactivations keep "succeeding" only because MON-15 resets their count
                // after each one: past the limit they count as failed, so the final action
                // runs, as MON-13 intends for a target that cannot be kept up.
                if let StartLimit::Within { burst, window } = self.spec.recovery.start_limit {
                    self.ctx.emit(EventKind::StartLimitReached {
                        monitor: self.name(),
                        target: self.target_label(),
                        burst,
                        window,
                    });
                }
                self.final_action();
                return;
            }
        }
        let delay = self.pacer.next_delay(now);
        if delay.is_zero() {
            self.reactivate(me, attempt, of);
            return;
        }
        self.ctx.emit(EventKind::ReactivationDelayed {
            monitor: self.name(),
            target: self.target_label(),
            delay,
            attempt,
            of,
        });
        self.epoch += 1;
        self.set_phase(MonitorPhase::Backoff);
        let at = self.ctx.host.now_wall() + delay;
        self.ctx
            .board
            .update_monitor(&self.spec.name, |m| m.next_attempt = Some(at));
        let epoch = self.epoch;
        let me = me.clone();
        self.waiting = Some(Task::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = me.cast(MonitorMsg::BackoffOver { epoch, attempt, of });
        }));
    }

    /// MON-13 / HWM-6.
    fn final_action(&mut self) {
        let name = self.name();
        let action = self.spec.recovery.final_action;
        // A new episode starts its limit and backoff afresh; the ladder stays as the seed
        // leaves it (MON-15 resets it only after a reactivation).
        self.start_limit = start_limit(self.spec.recovery.start_limit);
        self.pacer.reset();
        self.fail_episode(format!("final action {action:?} taken"));
        self.ctx.emit(EventKind::MonitorFinalAction {
            monitor: name.clone(),
            action: FinalAction::Monitor(action),
        });
        let origin = format!("monitor {name}");
        let daemon_action = match action {
            MonitorFinalAction::NoOp => return,
            MonitorFinalAction::StopGroup => {
                let group = match &self.spec.recovery.target {
                    RecoveryTarget::Group(g) => Some(g.clone()),
                    RecoveryTarget::Resource(r) => {
                        self.ctx.config.group_of(r).map(|g| g.name.clone())
                    }
                    RecoveryTarget::Sss => None,
                };
                let rc = self.ctx.find::<RcMsg>(&self.ctx.names.rc(), &name);
                if let (Some(group), Some(rc)) = (group, rc) {
                    let _ = rc.cast(RcMsg::Group {
                        group,
                        start: false,
                        reason: origin,
                        done: None,
                    });
                }
                return;
            }
            MonitorFinalAction::StopDaemon => DaemonAction::StopDaemon,
            MonitorFinalAction::StopDaemonShutdown => DaemonAction::StopDaemonShutdown,
            MonitorFinalAction::StopDaemonReboot => DaemonAction::StopDaemonReboot,
        };
        if let Some(daemon) = self.ctx.find::<DaemonMsg>(&self.ctx.names.daemon(), &name) {
            let _ = daemon.cast(DaemonMsg::FinalAction {
                origin,
                action: daemon_action,
            });
        }
    }

    async fn spawn_probe(&mut self, me: &ActorRef<MonitorMsg>) -> Result<(), ActorProcessingErr> {
        let (probe, _) = me
            .get_cell()
            .spawn_linked(
                me.get_name().map(|n| format!("{n}/probe")),
                ProbeActor,
                ProbeArgs {
                    ctx: self.ctx.clone(),
                    spec: self.spec.clone(),
                    monitor: me.clone(),
                },
            )
            .await?;
        self.children.started(MonitorChild::Probe, probe.get_cell());
        self.probe = Some(probe);
        Ok(())
    }

    async fn spawn_counter(&mut self, me: &ActorRef<MonitorMsg>) -> Result<(), ActorProcessingErr> {
        let sink_to = me.clone();
        let threshold = self.spec.recovery.reactivation_threshold;
        let ladders = self
            .ladders
            .get_or_insert_with(|| Ladders::new(&[threshold]))
            .clone();
        let (counter, _) = me
            .get_cell()
            .spawn_linked(
                me.get_name().map(|n| format!("{n}/recovery")),
                RetryCounter,
                RetryArgs {
                    ladders,
                    sink: Box::new(move |_, rung, used| {
                        let _ = sink_to.cast(MonitorMsg::Rung { rung, used });
                    }),
                    chaos: self.ctx.chaos.clone(),
                },
            )
            .await?;
        self.children
            .started(MonitorChild::Counter, counter.get_cell());
        self.counter = Some(counter);
        Ok(())
    }

    /// An error awaits its rung and the counter was never started. The ladders are created
    /// with the counter's first spawn: from then on its starts are the supervisor's business.
    fn counter_wanted(&self) -> bool {
        self.awaiting_rung && self.ladders.is_none()
    }

    /// The first error that needs the reactivation ladder starts the counter (MON-12) and asks
    /// it. Once started it stays, under the monitor's supervision like the probe: a crashed
    /// counter is restarted (or retried) by `decided`, never here.
    async fn spawn_counter_on_demand(
        &mut self,
        me: &ActorRef<MonitorMsg>,
    ) -> Result<(), ActorProcessingErr> {
        match self.spawn_counter(me).await {
            Ok(()) => {
                if let Some(counter) = &self.counter {
                    let _ = counter.cast(RetryMsg::Failure { lane: 0 });
                }
                Ok(())
            }
            Err(e) => {
                // Counted like a failed restart: tried again later, and `decided` asks the
                // started counter about the pending failure.
                let next = self.children.spawn_failed(
                    MonitorChild::Counter,
                    &crate::supervise::spawn_error(e.as_ref()),
                );
                self.decided(me, next).await
            }
        }
    }

    /// Carry out the supervisor's decision about a child's exit; past the intensity the
    /// monitor fails itself, and rm restarts it whole.
    async fn decided(
        &mut self,
        me: &ActorRef<MonitorMsg>,
        decision: Decision<MonitorChild>,
    ) -> Result<(), ActorProcessingErr> {
        let child = match decision {
            Decision::Ignore => return Ok(()),
            Decision::Escalate(key) => {
                let what = match key {
                    MonitorChild::Probe => "probe",
                    MonitorChild::Counter => "recovery counter",
                };
                return Err(format!("{what} keeps crashing").into());
            }
            Decision::Restart(key) => key,
        };
        let spawned = match child {
            MonitorChild::Probe => {
                self.probe = None;
                self.spawn_probe(me).await
            }
            MonitorChild::Counter => {
                self.counter = None;
                self.spawn_counter(me).await
            }
        };
        if let Err(e) = spawned {
            let next = self
                .children
                .spawn_failed(child, &crate::supervise::spawn_error(e.as_ref()));
            return Box::pin(self.decided(me, next)).await;
        }
        // A failure the crashed counter never answered is asked again: the ladder it climbs
        // is ours, so nothing is counted twice.
        if child == MonitorChild::Counter && self.awaiting_rung {
            if let Some(counter) = &self.counter {
                let _ = counter.cast(RetryMsg::Failure { lane: 0 });
            }
        }
        Ok(())
    }
}

impl Actor for MonitorActor {
    type Msg = MonitorMsg;
    type State = MonitorState;
    type Arguments = MonitorArgs;

    async fn pre_start(
        &self,
        me: ActorRef<MonitorMsg>,
        args: MonitorArgs,
    ) -> Result<MonitorState, ActorProcessingErr> {
        args.ctx.chaos_start(&me.get_cell())?;
        Ok(MonitorState {
            children: Supervisor::new(&args.ctx, Level::Inner, move |child| {
                let _ = me.cast(MonitorMsg::RestartChild(child));
            }),
            ladders: None,
            ctx: args.ctx,
            phase: MonitorPhase::Stopped,
            epoch: 0,
            failures: 0,
            awaiting_rung: false,
            pending_reset: false,
            suspended: args.suspended,
            operator_suspended: args.operator_suspended,
            held_by: args.held_by,
            probe: None,
            counter: None,
            clock: args.clock,
            ticket: None,
            seen: None,
            seen_fresh: false,
            quiet: false,
            last_normal: false,
            waiting: None,
            target_watch: None,
            recovery: None,
            exits: None,
            exit_counted: None,
            pacer: Pacer::new(args.spec.recovery.backoff),
            start_limit: start_limit(args.spec.recovery.start_limit),
            episode_failed: false,
            episode_generation: 0,
            graced: false,
            spec: args.spec,
        })
    }

    async fn post_start(
        &self,
        me: ActorRef<MonitorMsg>,
        state: &mut MonitorState,
    ) -> Result<(), ActorProcessingErr> {
        // A board-only check (pid, multi-target) runs in the monitor itself: no probe actor.
        if crate::probe::needs_probe(&state.spec.kind) {
            state.spawn_probe(&me).await?;
        }

        // MON-3: on rm's clock; the first tick comes one interval from now.
        state.ticket = Some(state.clock.register(state.spec.interval, me.clone()));
        if let Some(resource) = state.when_active_target() {
            // MON-7: the board tells of the target's state changes (no task per monitor).
            let to = me.clone();
            state.target_watch = state.ctx.board.subscribe_states(
                resource,
                Box::new(move |_| to.cast(MonitorMsg::TargetChanged).is_ok()),
            );
        }
        if let Some(resource) = state.spec.pid_target() {
            // Subscribed before the first check: an exit before this point is on the board
            // for that check, any later one comes as a report.
            let to = me.clone();
            state.exits = state.ctx.board.subscribe_exits(
                resource,
                Box::new(move |exit| to.cast(MonitorMsg::ProcessGone(exit)).is_ok()),
            );
        }
        state.ctx.emit(EventKind::MonitorStart {
            monitor: state.name(),
        });
        state.arm(&me);
        if state.counter_wanted() {
            state.spawn_counter_on_demand(&me).await?;
        }
        state.publish_quiet();
        Ok(())
    }

    async fn handle(
        &self,
        me: ActorRef<MonitorMsg>,
        msg: MonitorMsg,
        state: &mut MonitorState,
    ) -> Result<(), ActorProcessingErr> {
        state.ctx.chaos_check(&me.get_cell());
        match msg {
            MonitorMsg::RestartChild(child) => {
                let missing = match child {
                    MonitorChild::Probe => {
                        state.probe.is_none() && crate::probe::needs_probe(&state.spec.kind)
                    }
                    MonitorChild::Counter => state.counter.is_none(),
                };
                if missing {
                    let decision = Decision::Restart(child);
                    // Boxed, like every spawn path here: ractor keeps an actor's message loop,
                    // and so the largest future `handle` awaits, allocated for the actor's
                    // whole life (issue 14).
                    Box::pin(state.decided(&me, decision)).await?;
                }
            }
            MonitorMsg::Tick => {
                if state.phase == MonitorPhase::Monitoring && !state.awaiting_rung {
                    state.check();
                }
            }
            MonitorMsg::Arm => state.arm(&me),
            MonitorMsg::StartWaitOver { epoch } => {
                if epoch == state.epoch && state.phase == MonitorPhase::StartWait {
                    state.enter_monitoring();
                }
            }
            MonitorMsg::TargetChanged => match state.phase {
                MonitorPhase::WaitingForTarget if state.timing_allows() => state.arm(&me),
                MonitorPhase::Monitoring | MonitorPhase::StartWait if !state.timing_allows() => {
                    // The target was deactivated: wait for its next activation (MON-7).
                    state.epoch += 1;
                    state.waiting = None;
                    state.set_phase(MonitorPhase::WaitingForTarget);
                }
                _ => {}
            },
            MonitorMsg::CheckResult {
                epoch,
                result,
                elapsed,
            } => {
                if epoch == state.epoch
                    && state.phase == MonitorPhase::Monitoring
                    && !state.awaiting_rung
                {
                    state.check_delay(elapsed);
                    state.on_result(result);
                }
            }
            MonitorMsg::ProcessGone(report) => {
                // Outside monitoring the report is moot: the check that starts monitoring
                // again reads the board, which shows the exit. While a declared error awaits
                // its rung, the exit is the one that error is about.
                if state.phase == MonitorPhase::Monitoring && !state.awaiting_rung {
                    state.on_exit(report);
                }
            }
            MonitorMsg::Rung { rung, used } => {
                if !state.awaiting_rung {
                    return Ok(());
                }
                state.awaiting_rung = false;
                state
                    .ctx
                    .board
                    .update_monitor(&state.spec.name, |m| m.reactivations = used);
                state.on_rung(&me, rung);
            }
            MonitorMsg::BackoffOver { epoch, attempt, of } => {
                if epoch != state.epoch || state.phase != MonitorPhase::Backoff {
                    return Ok(());
                }
                state.waiting = None;
                if state.target_active() {
                    state.reactivate(&me, attempt, of);
                } else {
                    // MON-14: the operator stopped the target meanwhile; it stays stopped.
                    state.ctx.emit(EventKind::RecoverySkipped {
                        monitor: state.name(),
                        target: state.target_label(),
                    });
                    state
                        .ctx
                        .board
                        .update_monitor(&state.spec.name, |m| m.next_attempt = None);
                    state.arm(&me);
                }
            }
            MonitorMsg::RecoveryDone { ok } => {
                state.recovery = None;
                state.pacer.reactivated(tokio::time::Instant::now());
                if !ok {
                    state.ctx.emit(EventKind::ReactivationFailed {
                        monitor: state.name(),
                        target: state.target_label(),
                    });
                }
                state.pending_reset = true;
                state.arm(&me);
            }
            MonitorMsg::Suspend => {
                state.suspended = true;
                state.awaiting_rung = false;
                state.failures = 0;
                state.arm(&me);
            }
            MonitorMsg::Resume => {
                state.suspended = false;
                state.arm(&me);
            }
            MonitorMsg::OperatorSuspend => {
                state.operator_suspended = true;
                state.awaiting_rung = false;
                state.failures = 0;
                state.arm(&me);
            }
            MonitorMsg::OperatorResume => {
                state.operator_suspended = false;
                state.arm(&me);
            }
        }
        if state.counter_wanted() {
            Box::pin(state.spawn_counter_on_demand(&me)).await?;
        }
        state.publish_quiet();
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        me: ActorRef<MonitorMsg>,
        event: SupervisionEvent,
        state: &mut MonitorState,
    ) -> Result<(), ActorProcessingErr> {
        match state.children.on_event(&event) {
            Decision::Ignore => Ok(()),
            decision => Box::pin(state.decided(&me, decision)).await,
        }
    }

    async fn post_stop(
        &self,
        _me: ActorRef<MonitorMsg>,
        state: &mut MonitorState,
    ) -> Result<(), ActorProcessingErr> {
        state.children.stop_all().await;
        state.ticket = None;
        state.waiting = None;
        state.target_watch = None;
        state.recovery = None;
        state.exits = None;
        state.set_phase(MonitorPhase::Stopped);
        state.ctx.emit(EventKind::MonitorStop {
            monitor: state.name(),
        });
        Ok(())
    }
}

#[cfg(test)]
mod future_sizes {
    use super::*;

    fn returned_size<A, B, C, D, R>(_: impl Fn(A, B, C, D) -> R) -> usize {
        std::mem::size_of::<R>()
    }

    /// ractor allocates an actor's message loop once for its whole life, sized by the largest
    /// future its handlers await; the spawn paths are boxed so that an idle monitor does not
    /// carry them (they made `handle` 2.7 KB in a debug build, issue 14).
    #[test]
    fn an_idle_monitor_does_not_carry_its_spawn_futures() {
        let handle = returned_size(
            |a: &'static MonitorActor,
             b: ActorRef<MonitorMsg>,
             c: MonitorMsg,
             d: &'static mut MonitorState| a.handle(b, c, d),
        );
        let supervision = returned_size(
            |a: &'static MonitorActor,
             b: ActorRef<MonitorMsg>,
             c: SupervisionEvent,
             d: &'static mut MonitorState| a.handle_supervisor_evt(b, c, d),
        );
        assert!(
            handle <= 512 && supervision <= 512,
            "{handle} {supervision}"
        );
    }
}
