//! ExecResource: one exec resource (GLOS-3) — its start and stop scripts, its async process, and
//! its activation / deactivation retry ladders (RES-2..5, RES-10, RES-11, MAP-8).
//!
//! The ladders live in a RetryCounter child spawned on demand, by the first failed start or stop
//! that consults them: almost no resource ever fails one, and an idle actor would be most of a
//! resource's memory (issue 14). Once started, the counter stays.
//!
//! The actor never awaits a script or a process inside a handler: helper tasks run them and cast
//! the outcome back, so a hung script cannot wedge the mailbox. A process's life is tied to the
//! actor's: the `ProcessHandle` kills the whole process group when dropped.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use upkeep_config::{ActivationFinalAction, DeactivationFinalAction, ExecResource, StartMode};

use crate::board::{ProcessExit, ResourceState};
use crate::ctx::Ctx;
use crate::event::{EventKind, FinalAction, Phase};
use crate::host::{ExitInfo, ProcessHandle, ScriptOutcome, ScriptRun};
use crate::ladder::Rung;
use crate::retry::{Ladders, RetryArgs, RetryCounter, RetryMsg};
use crate::supervise::{Decision, Level, Supervisor};
use crate::task::Task;

/// Lane of the activation ladder in this resource's RetryCounter.
const ACTIVATION: usize = 0;
/// Lane of the deactivation ladder.
const DEACTIVATION: usize = 1;

/// The resource's one child, its RetryCounter, known by its registered name (`rc/g/r/retry`), so
/// that a first spawn which fails (there is no started child yet to take the name from) is
/// journaled and announced under that name.
#[derive(Clone, PartialEq)]
struct RetryChild(Arc<str>);

impl fmt::Debug for RetryChild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a resource tells its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceReport {
    Activated,
    /// RES-4: activation failed after its retries; the group applies the final action.
    ActivationFailed(ActivationFinalAction),
    Deactivated,
    /// RES-5: deactivation failed after its retries.
    DeactivationFailed(DeactivationFinalAction),
}

/// Where reports go: `(index of the resource in its group, report)`.
pub type ReportSink = Box<dyn Fn(usize, ResourceReport) + Send + Sync>;

pub struct ExecResourceActor;

/// The process of one exec resource, held for it by its group: a crash of the resource's actor
/// hands the process back here and the restarted incarnation adopts it, so the application
/// keeps running. It dies with the group (the handle kills its process group when dropped).
#[derive(Clone, Default)]
pub struct ProcessKeeper(Arc<Mutex<Option<Box<dyn ProcessHandle>>>>);

impl ProcessKeeper {
    fn slot(&self) -> MutexGuard<'_, Option<Box<dyn ProcessHandle>>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub struct ExecArgs {
    pub ctx: Ctx,
    pub group: String,
    pub index: usize,
    pub spec: ExecResource,
    pub report: ReportSink,
    pub keeper: ProcessKeeper,
}

pub enum ExecMsg {
    Activate,
    Deactivate,
    StartFinished(ScriptOutcome),
    StopFinished(ScriptOutcome),
    Terminated,
    Exited {
        generation: u64,
        exit: ExitInfo,
    },
    Rung {
        lane: usize,
        rung: Rung,
    },
    Kill(KillReply),
    /// Try again to restart the retry counter after its restart could not spawn it.
    RestartCounter,
}

/// `Kill`: SIGKILL the process now, as a crash would (`upkeep inject kill`); the one owner of the
/// process does it, so the control plane never signals a pid read from the board. The answer
/// is the pid killed, or why nothing was.
pub type KillReply = ractor::RpcReplyPort<Result<u32, String>>;

/// Why a script runs: `UPKEEP_REASON` (MAP-8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    /// The first activation of the resource since the daemon started.
    Start,
    /// An activation after an earlier one: a monitor's or operator's restart, a group restart.
    Reactivation,
    /// The retry of a failed start or stop script (RES-2, RES-5).
    Retry,
    /// A deactivation.
    Stop,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Start => "start",
            Reason::Reactivation => "reactivation",
            Reason::Retry => "retry",
            Reason::Stop => "stop",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Idle,
    Starting,
    Stopping,
}

pub struct ExecState {
    ctx: Ctx,
    group: String,
    index: usize,
    spec: ExecResource,
    report: ReportSink,
    counter: Option<ActorRef<RetryMsg>>,
    /// The activation and deactivation ladders, kept across the counter's restarts; created
    /// with the counter's first start (RES-2, RES-5): none before the first failure.
    ladders: Option<Ladders>,
    /// The lane whose failure awaits its rung: asked again if the counter crashed meanwhile,
    /// and the reason the counter is started at all.
    awaiting_rung: Option<usize>,
    /// The counter's name, also its key in `children`.
    counter_name: RetryChild,
    children: Supervisor<RetryChild>,
    step: Step,
    process: Option<Box<dyn ProcessHandle>>,
    /// Where the process goes when this incarnation's state is dropped.
    keeper: ProcessKeeper,
    generation: u64,
    /// The script or terminate task in flight, and the waiter of the process.
    work: Option<Task>,
    waiter: Option<Waiter>,
}

/// Casts `Exited` when the current process exits, unless dropped before (a stop owns that
/// exit; a handled exit is not cast twice). Not a task: the host calls it back (issue 14).
struct Waiter(Arc<AtomicBool>);

impl Waiter {
    fn new(process: &dyn ProcessHandle, me: &ActorRef<ExecMsg>, generation: u64) -> Waiter {
        let dropped = Arc::new(AtomicBool::new(false));
        let seen = Arc::clone(&dropped);
        let me = me.clone();
        process.on_exit(Box::new(move |exit| {
            if !seen.load(Ordering::Acquire) {
                let _ = me.cast(ExecMsg::Exited { generation, exit });
            }
        }));
        Waiter(dropped)
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

impl ExecState {
    fn set_state(&self, state: ResourceState) {
        let now = self.ctx.host.now_wall();
        self.ctx.board.update_resource(&self.spec.name, |r| {
            if r.state != state {
                r.since = now;
            }
            r.state = state;
        });
    }

    fn run(
        &self,
        command: &upkeep_config::Command,
        event: &str,
        reason: Reason,
        timeout: Duration,
    ) -> ScriptRun {
        ScriptRun {
            command: command.clone(),
            env: vec![
                ("UPKEEP_GROUP".into(), self.group.clone()),
                ("UPKEEP_RESOURCE".into(), self.spec.name.clone()),
                ("UPKEEP_EVENT".into(), event.into()),
                // MAP-8: the design promises scripts learn why they run.
                ("UPKEEP_REASON".into(), reason.as_str().into()),
            ],
            timeout,
            kill_grace: self.spec.kill_grace,
            context: self.spec.context.clone(),
        }
    }

    /// Tell the counter. Without one yet a `Reset` has nothing to reset, and a `Failure` is
    /// asked of the counter that `spawn_counter_on_demand` starts at the end of the handler.
    fn counter(&mut self, msg: RetryMsg) {
        if let RetryMsg::Failure { lane } = msg {
            self.awaiting_rung = Some(lane);
        }
        if let Some(counter) = &self.counter {
            let _ = counter.cast(msg);
        }
    }

    /// A failure awaits its rung and the counter was never started. The ladders are created
    /// with the counter's first spawn: from then on its starts are the supervisor's business.
    fn counter_wanted(&self) -> bool {
        self.awaiting_rung.is_some() && self.ladders.is_none()
    }

    /// Run (or spawn) the start script once.
    fn begin_start(&mut self, me: &ActorRef<ExecMsg>, reason: Reason) {
        self.step = Step::Starting;
        self.set_state(ResourceState::Starting);
        self.ctx
            .board
            .update_resource(&self.spec.name, |r| r.starts = r.starts.saturating_add(1));
        let run = self.run(&self.spec.start, "START", reason, self.spec.start_timeout);
        match self.spec.mode {
            StartMode::Sync => {
                let host = self.ctx.host.clone();
                let me = me.clone();
                self.work = Some(Task::spawn(async move {
                    let outcome = host.run_script(run).await;
                    let _ = me.cast(ExecMsg::StartFinished(outcome));
                }));
            }
            // RES-11: the start script keeps running as the resource's process.
            StartMode::Async => match self.ctx.host.spawn(run) {
                Ok(process) => {
                    self.generation += 1;
                    let generation = self.generation;
                    let pid = process.pid();
                    self.ctx.board.update_resource(&self.spec.name, |r| {
                        r.pid = Some(pid);
                        r.generation = generation;
                        r.last_exit = None;
                    });
                    // Queued before the waiter exists, so even a process that dies at once is
                    // online before its exit is handled, and the exit is reported (MON-10).
                    let _ = me.cast(ExecMsg::StartFinished(ScriptOutcome::Exited(
                        ExitInfo::Code(0),
                    )));
                    self.waiter = Some(Waiter::new(process.as_ref(), me, generation));
                    self.process = Some(process);
                }
                Err(e) => {
                    let _ = me.cast(ExecMsg::StartFinished(ScriptOutcome::SpawnFailed(
                        e.to_string(),
                    )));
                }
            },
        }
    }

    /// Run the stop script (if any), then stop the process group.
    fn begin_stop(&mut self, me: &ActorRef<ExecMsg>, reason: Reason) {
        self.step = Step::Stopping;
        self.set_state(ResourceState::Stopping);
        match &self.spec.stop {
            Some(stop) => {
                let run = self.run(stop, "STOP", reason, self.spec.stop_timeout);
                let host = self.ctx.host.clone();
                let me = me.clone();
                self.work = Some(Task::spawn(async move {
                    let outcome = host.run_script(run).await;
                    let _ = me.cast(ExecMsg::StopFinished(outcome));
                }));
            }
            None => self.terminate(me),
        }
    }

    fn terminate(&mut self, me: &ActorRef<ExecMsg>) {
        let done = self
            .process
            .as_ref()
            .map(|process| process.terminate(self.spec.kill_grace));
        // Then what the scripts left running (a sync start script's children): the host's
        // containment reaches them, the engine does not know them (issue 9 §2).
        let release = self
            .ctx
            .host
            .release(&self.group, &self.spec.name, self.spec.kill_grace);
        let me = me.clone();
        self.work = Some(Task::spawn(async move {
            if let Some(done) = done {
                done.await;
            }
            release.await;
            let _ = me.cast(ExecMsg::Terminated);
        }));
    }

    fn finish_stop(&mut self) {
        self.step = Step::Idle;
        self.work = None;
        self.waiter = None;
        self.process = None;
        self.ctx
            .board
            .update_resource(&self.spec.name, |r| r.pid = None);
        self.set_state(ResourceState::Offline);
        self.ctx.emit(EventKind::ResourceStopEnd {
            resource: self.spec.name.clone(),
        });
        self.counter(RetryMsg::Reset { lane: DEACTIVATION });
        (self.report)(self.index, ResourceReport::Deactivated);
    }
}

impl Drop for ExecState {
    fn drop(&mut self) {
        // After a panic or a kill ractor drops the state without `post_stop`: the process
        // goes back to the group for the next incarnation instead of dying with this one.
        if let Some(process) = self.process.take() {
            *self.keeper.slot() = Some(process);
        }
    }
}

impl ExecState {
    async fn spawn_counter(&mut self, me: &ActorRef<ExecMsg>) -> Result<(), ActorProcessingErr> {
        let sink_to = me.clone();
        let limits = [self.spec.activation.retries, self.spec.deactivation.retries];
        let ladders = self
            .ladders
            .get_or_insert_with(|| Ladders::new(&limits))
            .clone();
        // Boxed: inline, the spawn (the counter's `pre_start` included) would size this actor's
        // every handler future, which ractor keeps allocated while the actor idles (issue 14).
        let (counter, _) = Box::pin(me.get_cell().spawn_linked(
            me.get_name().map(|_| self.counter_name.0.to_string()),
            RetryCounter,
            RetryArgs {
                ladders,
                sink: Box::new(move |lane, rung, _| {
                    let _ = sink_to.cast(ExecMsg::Rung { lane, rung });
                }),
                chaos: self.ctx.chaos.clone(),
            },
        ))
        .await?;
        self.children
            .started(self.counter_name.clone(), counter.get_cell());
        self.counter = Some(counter);
        Ok(())
    }

    /// The first failure that consults the retry count starts the counter (RES-2, RES-5) and
    /// asks it. Once started it stays, under the resource's supervision: a crashed counter is
    /// restarted (or retried) by `decided`, never here.
    async fn spawn_counter_on_demand(
        &mut self,
        me: &ActorRef<ExecMsg>,
    ) -> Result<(), ActorProcessingErr> {
        match self.spawn_counter(me).await {
            Ok(()) => {
                if let (Some(lane), Some(counter)) = (self.awaiting_rung, &self.counter) {
                    let _ = counter.cast(RetryMsg::Failure { lane });
                }
                Ok(())
            }
            Err(e) => {
                // Counted like a failed restart: tried again later (`RestartCounter`), and
                // `decided` asks the started counter about the pending failure.
                let next = self.children.spawn_failed(
                    self.counter_name.clone(),
                    &crate::supervise::spawn_error(e.as_ref()),
                );
                self.decided(me, next).await
            }
        }
    }

    /// Carry out the supervisor's decision about the counter's exit. Past the intensity the
    /// resource fails itself: without its counter it could never reach a final action, and
    /// the group restarts both.
    async fn decided(
        &mut self,
        me: &ActorRef<ExecMsg>,
        decision: Decision<RetryChild>,
    ) -> Result<(), ActorProcessingErr> {
        match decision {
            Decision::Ignore => Ok(()),
            Decision::Escalate(_) => Err("retry counter keeps crashing".into()),
            Decision::Restart(child) => {
                self.counter = None;
                if let Err(e) = self.spawn_counter(me).await {
                    let next = self
                        .children
                        .spawn_failed(child, &crate::supervise::spawn_error(e.as_ref()));
                    return Box::pin(self.decided(me, next)).await;
                }
                // The ladders are ours: a failure the crashed counter never answered is asked
                // again without being counted twice.
                if let (Some(lane), Some(counter)) = (self.awaiting_rung, &self.counter) {
                    let _ = counter.cast(RetryMsg::Failure { lane });
                }
                Ok(())
            }
        }
    }
}

impl Actor for ExecResourceActor {
    type Msg = ExecMsg;
    type State = ExecState;
    type Arguments = ExecArgs;

    async fn pre_start(
        &self,
        me: ActorRef<ExecMsg>,
        args: ExecArgs,
    ) -> Result<ExecState, ActorProcessingErr> {
        args.ctx.chaos_start(&me.get_cell())?;
        let adopted = args.keeper.slot().take();
        let counter_name = RetryChild(
            me.get_name()
                .map_or_else(|| "retry".to_string(), |n| format!("{n}/retry"))
                .into(),
        );
        let mut state = ExecState {
            ladders: None,
            awaiting_rung: None,
            counter_name,
            children: Supervisor::new(&args.ctx, Level::Inner, move |_| {
                let _ = me.cast(ExecMsg::RestartCounter);
            }),
            ctx: args.ctx,
            group: args.group,
            index: args.index,
            spec: args.spec,
            report: args.report,
            counter: None,
            step: Step::Idle,
            process: adopted,
            keeper: args.keeper,
            generation: 0,
            work: None,
            waiter: None,
        };
        let previous = state.ctx.board.resource(&state.spec.name);
        // Generations go on across incarnations, so an exit is never mistaken for another's.
        state.generation = previous.as_ref().map(|r| r.generation).unwrap_or(0);
        if state.process.is_none() {
            // A (re)started resource without a process to adopt starts from offline.
            state
                .ctx
                .board
                .update_resource(&state.spec.name, |r| r.pid = None);
            state.set_state(ResourceState::Offline);
        }
        Ok(state)
    }

    async fn post_start(
        &self,
        me: ActorRef<ExecMsg>,
        state: &mut ExecState,
    ) -> Result<(), ActorProcessingErr> {
        // No counter yet: the first failure that needs it starts it (issue 14).
        // An adopted process is waited for again (`wait` may be called any number of times):
        // an exit while nobody waited is reported at once.
        if let Some(process) = &state.process {
            state.waiter = Some(Waiter::new(process.as_ref(), &me, state.generation));
        }
        Ok(())
    }

    async fn handle(
        &self,
        me: ActorRef<ExecMsg>,
        msg: ExecMsg,
        state: &mut ExecState,
    ) -> Result<(), ActorProcessingErr> {
        state.ctx.chaos_check(&me.get_cell());
        let name = state.spec.name.clone();
        match msg {
            ExecMsg::RestartCounter => {
                if state.counter.is_none() {
                    let decision = Decision::Restart(state.counter_name.clone());
                    // Boxed, like every spawn path here: ractor keeps an actor's message loop,
                    // and so the largest future `handle` awaits, allocated for the actor's
                    // whole life (issue 14).
                    Box::pin(state.decided(&me, decision)).await?;
                }
            }
            ExecMsg::Activate => {
                if state.step != Step::Idle {
                    return Ok(());
                }
                // A resource that was started before (by this incarnation or an earlier one:
                // the board outlives actors) is being reactivated.
                let before = state.ctx.board.resource(&name).map_or(0, |r| r.starts);
                let reason = if before == 0 {
                    Reason::Start
                } else {
                    Reason::Reactivation
                };
                state
                    .ctx
                    .emit(EventKind::ResourceStartBegin { resource: name });
                state.begin_start(&me, reason);
            }
            ExecMsg::Deactivate => {
                if state.step == Step::Stopping {
                    return Ok(());
                }
                let board = state.ctx.board.resource(&name).map(|r| r.state);
                let nothing_to_stop = state.process.is_none()
                    && matches!(
                        board,
                        Some(ResourceState::Offline | ResourceState::StartFailed)
                    );
                if nothing_to_stop && state.step == Step::Idle {
                    state.set_state(ResourceState::Offline);
                    (state.report)(state.index, ResourceReport::Deactivated);
                    return Ok(());
                }
                // A start in flight is abandoned: its task is aborted by dropping it.
                state.work = None;
                state
                    .ctx
                    .emit(EventKind::ResourceStopBegin { resource: name });
                state.begin_stop(&me, Reason::Stop);
            }
            ExecMsg::StartFinished(outcome) => {
                if state.step != Step::Starting {
                    return Ok(());
                }
                state.work = None;
                if outcome.success() {
                    state.step = Step::Idle;
                    state
                        .ctx
                        .board
                        .update_resource(&name, |r| r.last_failure = None);
                    state.set_state(ResourceState::Online);
                    state
                        .ctx
                        .emit(EventKind::ResourceStartEnd { resource: name });
                    state.counter(RetryMsg::Reset { lane: ACTIVATION });
                    (state.report)(state.index, ResourceReport::Activated);
                } else {
                    let detail = outcome.to_string();
                    state
                        .ctx
                        .board
                        .update_resource(&name, |r| r.last_failure = Some(detail.clone()));
                    state.ctx.emit(EventKind::ResourceFailed {
                        resource: name,
                        phase: Phase::Activation,
                        detail,
                    });
                    state.counter(RetryMsg::Failure { lane: ACTIVATION });
                }
            }
            ExecMsg::StopFinished(outcome) => {
                if state.step != Step::Stopping {
                    return Ok(());
                }
                state.work = None;
                if outcome.success() {
                    state.terminate(&me);
                } else {
                    let detail = outcome.to_string();
                    state
                        .ctx
                        .board
                        .update_resource(&name, |r| r.last_failure = Some(detail.clone()));
                    state.ctx.emit(EventKind::ResourceFailed {
                        resource: name,
                        phase: Phase::Deactivation,
                        detail,
                    });
                    state.counter(RetryMsg::Failure { lane: DEACTIVATION });
                }
            }
            ExecMsg::Terminated => {
                if state.step == Step::Stopping {
                    state.finish_stop();
                }
            }
            ExecMsg::Exited { generation, exit } => {
                // Only the exit of the process this resource runs now counts.
                if generation != state.generation {
                    return Ok(());
                }
                let pid = state.process.as_ref().map(|p| p.pid()).unwrap_or_default();
                // While stopping, the terminate task owns the end of the process.
                let stopping = state.step == Step::Stopping;
                if !stopping {
                    state.waiter = None;
                    // Dropping the handle also kills what is left of its process group.
                    state.process = None;
                    // Announced before the board shows it: a monitor that happens to check
                    // right now cannot report the exit ahead of the exit itself.
                    state.ctx.emit(EventKind::ProcessExited {
                        resource: name.clone(),
                        pid,
                        exit,
                    });
                }
                state.ctx.board.update_resource(&name, |r| {
                    r.pid = None;
                    r.last_exit = Some(exit);
                });
                if !stopping {
                    // MON-10: every exit reaches the pid monitors as a message; none is lost
                    // between two looks at the board.
                    state.ctx.board.publish_exit(
                        &name,
                        ProcessExit {
                            generation,
                            pid,
                            exit,
                        },
                    );
                }
            }
            ExecMsg::Kill(done) => {
                let outcome = match &state.process {
                    Some(process) => {
                        let pid = process.pid();
                        tracing::warn!(resource = %name, pid, "an operator kills the resource's process");
                        process.kill().map(|()| pid).map_err(|e| e.to_string())
                    }
                    None => Err(format!("resource `{name}` has no running process")),
                };
                let _ = done.send(outcome);
            }
            ExecMsg::Rung { lane, rung } => {
                state.awaiting_rung = None;
                let (phase, step) = match lane {
                    ACTIVATION => (Phase::Activation, Step::Starting),
                    _ => (Phase::Deactivation, Step::Stopping),
                };
                if state.step != step {
                    return Ok(());
                }
                match rung {
                    Rung::Retry { attempt, of } => {
                        state.ctx.emit(EventKind::ResourceRetry {
                            resource: name,
                            phase,
                            attempt,
                            of,
                        });
                        match phase {
                            Phase::Activation => state.begin_start(&me, Reason::Retry),
                            Phase::Deactivation => state.begin_stop(&me, Reason::Retry),
                        }
                    }
                    Rung::Exhausted => {
                        state.step = Step::Idle;
                        state.counter(RetryMsg::Reset { lane });
                        let (board, action, report) = match phase {
                            Phase::Activation => {
                                let a = state.spec.activation.final_action;
                                (
                                    ResourceState::StartFailed,
                                    FinalAction::Activation(a),
                                    ResourceReport::ActivationFailed(a),
                                )
                            }
                            Phase::Deactivation => {
                                let a = state.spec.deactivation.final_action;
                                (
                                    ResourceState::StopFailed,
                                    FinalAction::Deactivation(a),
                                    ResourceReport::DeactivationFailed(a),
                                )
                            }
                        };
                        state.set_state(board);
                        state.ctx.emit(EventKind::ResourceFinalAction {
                            resource: name,
                            phase,
                            action,
                        });
                        (state.report)(state.index, report);
                    }
                }
            }
        }
        // After the handler's events: the counter answers the failure it declared.
        if state.counter_wanted() {
            Box::pin(state.spawn_counter_on_demand(&me)).await?;
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        me: ActorRef<ExecMsg>,
        event: ractor::SupervisionEvent,
        state: &mut ExecState,
    ) -> Result<(), ActorProcessingErr> {
        match state.children.on_event(&event) {
            Decision::Ignore => Ok(()),
            decision => Box::pin(state.decided(&me, decision)).await,
        }
    }

    async fn post_stop(
        &self,
        _me: ActorRef<ExecMsg>,
        state: &mut ExecState,
    ) -> Result<(), ActorProcessingErr> {
        state.children.stop_all().await;
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
    /// future its handlers await; the spawn paths are boxed so that an idle resource does not
    /// carry them (issue 14).
    #[test]
    fn an_idle_resource_does_not_carry_its_spawn_futures() {
        let handle = returned_size(
            |a: &'static ExecResourceActor,
             b: ActorRef<ExecMsg>,
             c: ExecMsg,
             d: &'static mut ExecState| a.handle(b, c, d),
        );
        let supervision = returned_size(
            |a: &'static ExecResourceActor,
             b: ActorRef<ExecMsg>,
             c: ractor::SupervisionEvent,
             d: &'static mut ExecState| a.handle_supervisor_evt(b, c, d),
        );
        assert!(
            handle <= 512 && supervision <= 512,
            "{handle} {supervision}"
        );
    }
}
