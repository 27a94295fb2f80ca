//! ExecResource: one exec resource (GLOS-3) — its start and stop scripts, its async process, and
//! its activation / deactivation retry ladders (RES-2..5, RES-10, RES-11, MAP-8).
//!
//! The actor never awaits a script or a process inside a handler: helper tasks run them and cast
//! the outcome back, so a hung script cannot wedge the mailbox. A process's life is tied to the
//! actor's: the `ProcessHandle` kills the whole process group when dropped.

use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use upkeep_config::{ActivationFinalAction, DeactivationFinalAction, ExecResource, StartMode};

use crate::board::ResourceState;
use crate::ctx::Ctx;
use crate::event::{EventKind, Phase};
use crate::host::{ExitInfo, ProcessHandle, ScriptOutcome, ScriptRun};
use crate::ladder::Rung;
use crate::retry::{RetryArgs, RetryCounter, RetryMsg};
use crate::task::Task;

/// Lane of the activation ladder in this resource's RetryCounter.
const ACTIVATION: usize = 0;
/// Lane of the deactivation ladder.
const DEACTIVATION: usize = 1;

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

pub struct ExecArgs {
    pub ctx: Ctx,
    pub group: String,
    pub index: usize,
    pub spec: ExecResource,
    pub report: ReportSink,
}

pub enum ExecMsg {
    Activate,
    Deactivate,
    StartFinished(ScriptOutcome),
    StopFinished(ScriptOutcome),
    Terminated,
    Exited { generation: u64, exit: ExitInfo },
    Rung { lane: usize, rung: Rung },
    Kill(KillReply),
}

/// `Kill`: SIGKILL the process now, as a crash would (`upkeep inject kill`); the one owner of the
/// process does it, so the control plane never signals a pid read from the board. The answer
/// is the pid killed, or why nothing was.
pub type KillReply = ractor::RpcReplyPort<Result<u32, String>>;

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
    step: Step,
    process: Option<Box<dyn ProcessHandle>>,
    generation: u64,
    /// The script or terminate task in flight, and the waiter of the process.
    work: Option<Task>,
    waiter: Option<Task>,
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

    fn run(&self, command: &upkeep_config::Command, event: &str, timeout: Duration) -> ScriptRun {
        ScriptRun {
            command: command.clone(),
            env: vec![
                ("UPKEEP_GROUP".into(), self.group.clone()),
                ("UPKEEP_RESOURCE".into(), self.spec.name.clone()),
                ("UPKEEP_EVENT".into(), event.into()),
            ],
            timeout,
            kill_grace: self.spec.kill_grace,
        }
    }

    fn counter(&self, msg: RetryMsg) {
        if let Some(counter) = &self.counter {
            let _ = counter.cast(msg);
        }
    }

    /// Run (or spawn) the start script once.
    fn begin_start(&mut self, me: &ActorRef<ExecMsg>) {
        self.step = Step::Starting;
        self.set_state(ResourceState::Starting);
        let run = self.run(&self.spec.start, "START", self.spec.start_timeout);
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
                    let exited = process.wait();
                    let me2 = me.clone();
                    self.waiter = Some(Task::spawn(async move {
                        let exit = exited.await;
                        let _ = me2.cast(ExecMsg::Exited { generation, exit });
                    }));
                    self.process = Some(process);
                    self.ctx.board.update_resource(&self.spec.name, |r| {
                        r.pid = Some(pid);
                        r.generation = generation;
                        r.last_exit = None;
                    });
                    let _ = me.cast(ExecMsg::StartFinished(ScriptOutcome::Exited(
                        ExitInfo::Code(0),
                    )));
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
    fn begin_stop(&mut self, me: &ActorRef<ExecMsg>) {
        self.step = Step::Stopping;
        self.set_state(ResourceState::Stopping);
        match &self.spec.stop {
            Some(stop) => {
                let run = self.run(stop, "STOP", self.spec.stop_timeout);
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

impl Actor for ExecResourceActor {
    type Msg = ExecMsg;
    type State = ExecState;
    type Arguments = ExecArgs;

    async fn pre_start(
        &self,
        _me: ActorRef<ExecMsg>,
        args: ExecArgs,
    ) -> Result<ExecState, ActorProcessingErr> {
        let state = ExecState {
            ctx: args.ctx,
            group: args.group,
            index: args.index,
            spec: args.spec,
            report: args.report,
            counter: None,
            step: Step::Idle,
            process: None,
            generation: 0,
            work: None,
            waiter: None,
        };
        // A (re)started resource owns no process yet.
        state
            .ctx
            .board
            .update_resource(&state.spec.name, |r| r.pid = None);
        state.set_state(ResourceState::Offline);
        Ok(state)
    }

    async fn post_start(
        &self,
        me: ActorRef<ExecMsg>,
        state: &mut ExecState,
    ) -> Result<(), ActorProcessingErr> {
        let sink_to = me.clone();
        let (counter, _) = me
            .get_cell()
            .spawn_linked(
                me.get_name().map(|n| format!("{n}/retry")),
                RetryCounter,
                RetryArgs {
                    limits: vec![
                        state.spec.activation.retries,
                        state.spec.deactivation.retries,
                    ],
                    sink: Box::new(move |lane, rung, _| {
                        let _ = sink_to.cast(ExecMsg::Rung { lane, rung });
                    }),
                },
            )
            .await?;
        state.counter = Some(counter);
        Ok(())
    }

    async fn handle(
        &self,
        me: ActorRef<ExecMsg>,
        msg: ExecMsg,
        state: &mut ExecState,
    ) -> Result<(), ActorProcessingErr> {
        let name = state.spec.name.clone();
        match msg {
            ExecMsg::Activate => {
                if state.step != Step::Idle {
                    return Ok(());
                }
                state
                    .ctx
                    .emit(EventKind::ResourceStartBegin { resource: name });
                state.begin_start(&me);
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
                state.begin_stop(&me);
            }
            ExecMsg::StartFinished(outcome) => {
                if state.step != Step::Starting {
                    return Ok(());
                }
                state.work = None;
                if outcome.success() {
                    state.step = Step::Idle;
                    state.set_state(ResourceState::Online);
                    state
                        .ctx
                        .emit(EventKind::ResourceStartEnd { resource: name });
                    state.counter(RetryMsg::Reset { lane: ACTIVATION });
                    (state.report)(state.index, ResourceReport::Activated);
                } else {
                    state.ctx.emit(EventKind::ResourceFailed {
                        resource: name,
                        phase: Phase::Activation,
                        detail: outcome.to_string(),
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
                    state.ctx.emit(EventKind::ResourceFailed {
                        resource: name,
                        phase: Phase::Deactivation,
                        detail: outcome.to_string(),
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
                if generation != state.generation {
                    return Ok(());
                }
                let pid = state.process.as_ref().map(|p| p.pid()).unwrap_or_default();
                state.ctx.board.update_resource(&name, |r| {
                    r.pid = None;
                    r.last_exit = Some(exit);
                });
                // While stopping, the terminate task owns the end of the process.
                if state.step != Step::Stopping {
                    state.waiter = None;
                    // Dropping the handle also kills what is left of its process group.
                    state.process = None;
                    state.ctx.emit(EventKind::ProcessExited {
                        resource: name,
                        pid,
                        exit,
                    });
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
                            Phase::Activation => state.begin_start(&me),
                            Phase::Deactivation => state.begin_stop(&me),
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
                                    format!("{a:?}"),
                                    ResourceReport::ActivationFailed(a),
                                )
                            }
                            Phase::Deactivation => {
                                let a = state.spec.deactivation.final_action;
                                (
                                    ResourceState::StopFailed,
                                    format!("{a:?}"),
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
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _me: ActorRef<ExecMsg>,
        event: ractor::SupervisionEvent,
        _state: &mut ExecState,
    ) -> Result<(), ActorProcessingErr> {
        // A resource without its retry counter could never reach a final action: fail, and let
        // the group restart both.
        match event {
            ractor::SupervisionEvent::ActorFailed(_, err) => {
                Err(format!("retry counter failed: {err}").into())
            }
            _ => Ok(()),
        }
    }

    async fn post_stop(
        &self,
        me: ActorRef<ExecMsg>,
        _state: &mut ExecState,
    ) -> Result<(), ActorProcessingErr> {
        crate::supervise::stop_children(&me.get_cell()).await;
        Ok(())
    }
}
