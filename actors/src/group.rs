//! Group: activation of its exec resources in dependency order and deactivation in reverse
//! (RES-1), the chain rules of the activation and deactivation final actions (RES-4, RES-5),
//! group restart and resource reactivation (MON-11, MAP-29).
//!
//! Independent resources are started concurrently; `depends_on` only orders what depends on what.
//! One operation runs at a time; later requests queue behind it.

use std::collections::VecDeque;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use upkeep_config::{ActivationFinalAction, DeactivationFinalAction, Group};

use crate::board::{GroupState, ResourceState};
use crate::ctx::Ctx;
use crate::daemon::{DaemonAction, DaemonMsg};
use crate::event::{EventKind, Phase};
use crate::exec::{ExecArgs, ExecMsg, ExecResourceActor, ProcessKeeper, ResourceReport};
use crate::supervise::{Decision, Level, Supervisor};

pub struct GroupActor;

pub struct GroupArgs {
    pub ctx: Ctx,
    pub spec: Group,
}

pub enum GroupMsg {
    /// Activate every resource that is not online (OPS-1, `group start`).
    Start {
        reason: String,
        done: Option<RpcReplyPort<bool>>,
    },
    /// Deactivate every resource (OPS-5, `group stop`, final action StopGroup).
    Stop {
        reason: String,
        done: Option<RpcReplyPort<bool>>,
    },
    /// Stop then start the group (monitor recovery target = group).
    Restart {
        reason: String,
        done: Option<RpcReplyPort<bool>>,
    },
    /// Deactivate then activate one resource (monitor recovery target = resource).
    Reactivate {
        resource: String,
        reason: String,
        done: Option<RpcReplyPort<bool>>,
    },
    /// Activate or deactivate one resource alone (`upkeep resource start|stop`).
    Single {
        resource: String,
        start: bool,
        done: Option<RpcReplyPort<bool>>,
    },
    /// From resource `index`'s incarnation `incarnation`: a report of an incarnation that has
    /// since crashed (a helper task's late message) never acts on its restarted successor.
    Report {
        index: usize,
        incarnation: u64,
        report: ResourceReport,
    },
    /// Try again to restart a resource whose restart could not spawn it.
    RestartResource(usize),
}

/// The group's view of one resource during an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Offline,
    PendingStart,
    Activating,
    Online,
    /// Activation failed with this final action.
    StartFailed(ActivationFinalAction),
    /// Not activated because something it depends on was not (RES-4 #2).
    Skipped,
    PendingStop,
    Deactivating,
    /// Deactivation failed with this final action.
    StopFailed(DeactivationFinalAction),
    /// Not deactivated because a dependent failed to deactivate (RES-5 #2).
    Held,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Start,
    Stop,
    /// Reactivation of one resource: first its stop, then its start.
    Reactivate {
        index: usize,
        restarting: bool,
    },
    /// One resource started or stopped on its own.
    Single {
        index: usize,
        start: bool,
    },
}

struct Op {
    kind: OpKind,
    done: Option<RpcReplyPort<bool>>,
    /// Set when a StopGroup final action interrupts a start: stop once the start settles.
    then_stop: bool,
}

pub struct GroupData {
    ctx: Ctx,
    spec: Group,
    /// For each resource, the indices of the resources it depends on.
    deps: Vec<Vec<usize>>,
    slots: Vec<Slot>,
    actors: Vec<Option<ActorRef<ExecMsg>>>,
    /// Each resource's process, kept across the resource actor's restarts.
    keepers: Vec<ProcessKeeper>,
    children: Supervisor<usize>,
    current: Option<Op>,
    queue: VecDeque<Op>,
}

impl GroupData {
    fn name(&self, index: usize) -> String {
        self.spec.resources[index].name.clone()
    }

    fn set_group_state(&self, state: GroupState) {
        let now = self.ctx.host.now_wall();
        self.ctx.board.update_group(&self.spec.name, |g| {
            if g.state != state {
                g.since = now;
            }
            g.state = state;
        });
    }

    fn send(&self, index: usize, msg: ExecMsg) {
        if let Some(Some(actor)) = self.actors.get(index) {
            let _ = actor.cast(msg);
        }
    }

    fn escalate(&self, origin: String, action: DaemonAction) {
        let daemon = self.ctx.names.daemon();
        if let Some(daemon) = self.ctx.find::<DaemonMsg>(&daemon, &self.spec.name) {
            let _ = daemon.cast(DaemonMsg::FinalAction { origin, action });
        }
    }

    /// Begin the next queued operation when none is running.
    fn pump(&mut self) {
        while self.current.is_none() {
            let Some(op) = self.queue.pop_front() else {
                return;
            };
            self.begin(op);
        }
    }

    fn begin(&mut self, op: Op) {
        match op.kind {
            OpKind::Start => {
                if self.slots.iter().all(|s| *s == Slot::Online) {
                    finish(op, true);
                    return;
                }
                self.ctx.emit(EventKind::GroupStartBegin {
                    group: self.spec.name.clone(),
                });
                self.set_group_state(GroupState::Starting);
                for slot in &mut self.slots {
                    if *slot != Slot::Online {
                        *slot = Slot::PendingStart;
                    }
                }
                self.current = Some(op);
                self.advance();
            }
            OpKind::Stop => {
                if self
                    .slots
                    .iter()
                    .all(|s| matches!(s, Slot::Offline | Slot::Skipped))
                {
                    self.slots.iter_mut().for_each(|s| *s = Slot::Offline);
                    self.set_group_state(GroupState::Offline);
                    finish(op, true);
                    return;
                }
                self.ctx.emit(EventKind::GroupStopBegin {
                    group: self.spec.name.clone(),
                });
                self.set_group_state(GroupState::Stopping);
                for slot in &mut self.slots {
                    *slot = match slot {
                        Slot::Offline | Slot::Skipped => Slot::Offline,
                        _ => Slot::PendingStop,
                    };
                }
                self.current = Some(op);
                self.advance();
            }
            OpKind::Reactivate { index, .. } => {
                self.slots[index] = Slot::Deactivating;
                self.current = Some(op);
                self.send(index, ExecMsg::Deactivate);
            }
            OpKind::Single { index, start } => {
                let already = match start {
                    true => self.slots[index] == Slot::Online,
                    false => self.slots[index] == Slot::Offline,
                };
                if already {
                    finish(op, true);
                    return;
                }
                self.slots[index] = if start {
                    Slot::Activating
                } else {
                    Slot::Deactivating
                };
                self.current = Some(op);
                self.send(
                    index,
                    if start {
                        ExecMsg::Activate
                    } else {
                        ExecMsg::Deactivate
                    },
                );
            }
        }
    }

    /// Launch what has become ready and finish the operation once nothing is in flight.
    fn advance(&mut self) {
        let Some(op) = &self.current else { return };
        match op.kind {
            OpKind::Start => self.advance_start(),
            OpKind::Stop => self.advance_stop(),
            OpKind::Reactivate { .. } | OpKind::Single { .. } => {}
        }
    }

    fn advance_start(&mut self) {
        // RES-1: a resource starts once everything it depends on is online (or failed with
        // "activate next", RES-4 #1); it is skipped when one of them will never be.
        loop {
            let mut changed = false;
            for i in 0..self.slots.len() {
                if self.slots[i] != Slot::PendingStart {
                    continue;
                }
                let blocker = self.deps[i].iter().copied().find(|&d| {
                    matches!(self.slots[d], Slot::Skipped)
                        || matches!(self.slots[d], Slot::StartFailed(a) if a != ActivationFinalAction::NoOpActivateNext)
                });
                if let Some(d) = blocker {
                    self.slots[i] = Slot::Skipped;
                    self.ctx.emit(EventKind::ResourceSkipped {
                        resource: self.name(i),
                        phase: Phase::Activation,
                        because: format!("{} was not activated", self.name(d)),
                    });
                    changed = true;
                    continue;
                }
                let ready = self.deps[i].iter().all(|&d| {
                    matches!(
                        self.slots[d],
                        Slot::Online | Slot::StartFailed(ActivationFinalAction::NoOpActivateNext)
                    )
                });
                if ready {
                    self.slots[i] = Slot::Activating;
                    self.send(i, ExecMsg::Activate);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        self.settle(true);
    }

    fn advance_stop(&mut self) {
        // RES-1 in reverse: a resource stops once everything that depends on it has stopped.
        loop {
            let mut changed = false;
            for i in 0..self.slots.len() {
                if self.slots[i] != Slot::PendingStop {
                    continue;
                }
                let dependents: Vec<usize> = (0..self.slots.len())
                    .filter(|&j| self.deps[j].contains(&i))
                    .collect();
                let blocker = dependents.iter().copied().find(|&j| {
                    matches!(self.slots[j], Slot::Held)
                        || matches!(
                            self.slots[j],
                            Slot::StopFailed(DeactivationFinalAction::NoOpStopChain)
                        )
                });
                if let Some(j) = blocker {
                    self.slots[i] = Slot::Held;
                    self.ctx.emit(EventKind::ResourceSkipped {
                        resource: self.name(i),
                        phase: Phase::Deactivation,
                        because: format!("{} was not deactivated", self.name(j)),
                    });
                    changed = true;
                    continue;
                }
                let ready = dependents
                    .iter()
                    .all(|&j| matches!(self.slots[j], Slot::Offline | Slot::StopFailed(_)));
                if ready {
                    self.slots[i] = Slot::Deactivating;
                    self.send(i, ExecMsg::Deactivate);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        self.settle(false);
    }

    /// End the start (`starting`) or stop operation once nothing is pending or in flight:
    /// record the group's state, say how it ended, answer the requester.
    fn settle(&mut self, starting: bool) {
        let busy = |s: &Slot| match starting {
            true => matches!(s, Slot::PendingStart | Slot::Activating),
            false => matches!(s, Slot::PendingStop | Slot::Deactivating),
        };
        if self.slots.iter().any(busy) {
            return;
        }
        let target = if starting {
            Slot::Online
        } else {
            Slot::Offline
        };
        let ok = self.slots.iter().all(|s| *s == target);
        let group = self.spec.name.clone();
        let (state, event) = match (starting, ok) {
            (true, true) => (GroupState::Online, EventKind::GroupStartEnd { group }),
            (true, false) => (
                GroupState::OnlinePartial,
                EventKind::GroupStartFailed { group },
            ),
            (false, true) => (GroupState::Offline, EventKind::GroupStopEnd { group }),
            (false, false) => (
                GroupState::OfflinePartial,
                EventKind::GroupStopFailed { group },
            ),
        };
        self.set_group_state(state);
        self.ctx.emit(event);
        if let Some(op) = self.current.take() {
            if op.then_stop {
                self.queue.push_front(Op {
                    kind: OpKind::Stop,
                    done: None,
                    then_stop: false,
                });
            }
            finish(op, ok);
        }
    }

    fn on_report(&mut self, index: usize, report: ResourceReport) {
        let origin = format!("resource {}", self.name(index));
        match report {
            ResourceReport::Activated => self.slots[index] = Slot::Online,
            ResourceReport::Deactivated => self.slots[index] = Slot::Offline,
            ResourceReport::ActivationFailed(action) => {
                self.slots[index] = Slot::StartFailed(action);
                match action {
                    ActivationFinalAction::NoOpActivateNext
                    | ActivationFinalAction::NoOpStopChain => {}
                    ActivationFinalAction::StopGroup => {
                        // RES-4 #3: settle what is in flight, then deactivate the whole group.
                        for slot in &mut self.slots {
                            if *slot == Slot::PendingStart {
                                *slot = Slot::Skipped;
                            }
                        }
                        match &mut self.current {
                            Some(op) if op.kind == OpKind::Start => op.then_stop = true,
                            _ => self.queue.push_front(Op {
                                kind: OpKind::Stop,
                                done: None,
                                then_stop: false,
                            }),
                        }
                    }
                    ActivationFinalAction::StopDaemon => {
                        self.escalate(origin, DaemonAction::StopDaemon)
                    }
                    ActivationFinalAction::StopDaemonShutdown => {
                        self.escalate(origin, DaemonAction::StopDaemonShutdown)
                    }
                    ActivationFinalAction::StopDaemonReboot => {
                        self.escalate(origin, DaemonAction::StopDaemonReboot)
                    }
                }
            }
            ResourceReport::DeactivationFailed(action) => {
                self.slots[index] = Slot::StopFailed(action);
                match action {
                    DeactivationFinalAction::NoOpDeactivateNext
                    | DeactivationFinalAction::NoOpStopChain => {}
                    // DOWN-1 (and DOWN-4 during a daemon stop, MAP-14).
                    DeactivationFinalAction::StopDaemonShutdown => {
                        self.escalate(origin, DaemonAction::StopDaemonShutdown)
                    }
                    DeactivationFinalAction::StopDaemonReboot => {
                        self.escalate(origin, DaemonAction::StopDaemonReboot)
                    }
                }
            }
        }
        if let Some(Op {
            kind:
                OpKind::Single {
                    index: target,
                    start,
                },
            ..
        }) = self.current
        {
            if target == index {
                let ok = matches!(
                    (start, report),
                    (true, ResourceReport::Activated) | (false, ResourceReport::Deactivated)
                );
                if let Some(op) = self.current.take() {
                    finish(op, ok);
                }
                self.refresh_group_state();
            }
            return;
        }
        if let Some(Op {
            kind:
                OpKind::Reactivate {
                    index: target,
                    restarting,
                },
            ..
        }) = self.current
        {
            if target == index {
                self.continue_reactivation(index, restarting, report);
            }
            return;
        }
        self.advance();
    }

    fn continue_reactivation(&mut self, index: usize, restarting: bool, report: ResourceReport) {
        match (restarting, report) {
            (false, ResourceReport::Deactivated) => {
                if let Some(op) = &mut self.current {
                    op.kind = OpKind::Reactivate {
                        index,
                        restarting: true,
                    };
                }
                self.slots[index] = Slot::Activating;
                self.send(index, ExecMsg::Activate);
            }
            (true, ResourceReport::Activated) => {
                if let Some(op) = self.current.take() {
                    finish(op, true);
                }
            }
            _ => {
                if let Some(op) = self.current.take() {
                    finish(op, false);
                }
            }
        }
        self.refresh_group_state();
    }

    /// Outside an operation, the group's board state follows its resources.
    fn refresh_group_state(&self) {
        if self.current.is_some() {
            return;
        }
        let state = if self.slots.iter().all(|s| *s == Slot::Online) {
            GroupState::Online
        } else if self.slots.iter().all(|s| *s == Slot::Offline) {
            GroupState::Offline
        } else if self.slots.contains(&Slot::Online) {
            GroupState::OnlinePartial
        } else {
            GroupState::OfflinePartial
        };
        self.set_group_state(state);
    }

    async fn spawn_resource(
        &mut self,
        me: &ActorRef<GroupMsg>,
        index: usize,
    ) -> Result<(), ActorProcessingErr> {
        let spec = self.spec.resources[index].clone();
        let name = self.ctx.names.resource(&self.spec.name, &spec.name);
        let to_group = me.clone();
        let incarnation = self.children.next_incarnation(&index);
        let (actor, _) = me
            .get_cell()
            .spawn_linked(
                Some(name),
                ExecResourceActor,
                ExecArgs {
                    ctx: self.ctx.clone(),
                    group: self.spec.name.clone(),
                    index,
                    spec,
                    keeper: self.keepers[index].clone(),
                    report: Box::new(move |index, report| {
                        let _ = to_group.cast(GroupMsg::Report {
                            index,
                            incarnation,
                            report,
                        });
                    }),
                },
            )
            .await?;
        self.children.started(index, actor.get_cell());
        self.actors[index] = Some(actor);
        Ok(())
    }

    /// Carry out the supervisor's decision about a resource's exit; past the intensity the
    /// group fails itself, and rc restarts the whole group (which starts it again if it was
    /// active).
    async fn decided(
        &mut self,
        me: &ActorRef<GroupMsg>,
        decision: Decision<usize>,
    ) -> Result<(), ActorProcessingErr> {
        let index = match decision {
            Decision::Ignore => return Ok(()),
            Decision::Escalate(key) => {
                return Err(format!("resource {} keeps crashing", self.name(key)).into())
            }
            Decision::Restart(key) => key,
        };
        self.actors[index] = None;
        if let Err(e) = self.spawn_resource(me, index).await {
            let next = self
                .children
                .spawn_failed(index, &crate::supervise::spawn_error(e.as_ref()));
            return Box::pin(self.decided(me, next)).await;
        }
        // The new incarnation adopted the old one's process if there was one; an online
        // resource that has none any more is activated again, and an operation in flight is
        // asked again.
        let online = self
            .ctx
            .board
            .resource(&self.name(index))
            .is_some_and(|r| r.state == ResourceState::Online);
        match self.slots[index] {
            Slot::Activating => self.send(index, ExecMsg::Activate),
            Slot::Deactivating => self.send(index, ExecMsg::Deactivate),
            Slot::Online if !online => self.send(index, ExecMsg::Activate),
            _ => {}
        }
        self.pump();
        Ok(())
    }
}

fn finish(op: Op, ok: bool) {
    if let Some(done) = op.done {
        let _ = done.send(ok);
    }
}

/// Indices of each resource's dependencies (validated acyclic and same-group by the config).
fn dependency_indices(spec: &Group) -> Vec<Vec<usize>> {
    spec.resources
        .iter()
        .map(|r| {
            r.depends_on
                .iter()
                .filter_map(|d| spec.resources.iter().position(|x| &x.name == d))
                .collect()
        })
        .collect()
}

impl Actor for GroupActor {
    type Msg = GroupMsg;
    type State = GroupData;
    type Arguments = GroupArgs;

    async fn pre_start(
        &self,
        me: ActorRef<GroupMsg>,
        args: GroupArgs,
    ) -> Result<GroupData, ActorProcessingErr> {
        args.ctx.chaos_start(&me.get_cell())?;
        let n = args.spec.resources.len();
        let state = GroupData {
            deps: dependency_indices(&args.spec),
            slots: vec![Slot::Offline; n],
            actors: vec![None; n],
            keepers: vec![ProcessKeeper::default(); n],
            children: Supervisor::new(&args.ctx, Level::Inner, move |index| {
                let _ = me.cast(GroupMsg::RestartResource(index));
            }),
            ctx: args.ctx,
            spec: args.spec,
            current: None,
            queue: VecDeque::new(),
        };
        state.set_group_state(GroupState::Offline);
        Ok(state)
    }

    async fn post_start(
        &self,
        me: ActorRef<GroupMsg>,
        state: &mut GroupData,
    ) -> Result<(), ActorProcessingErr> {
        for index in 0..state.spec.resources.len() {
            state.spawn_resource(&me, index).await?;
        }
        Ok(())
    }

    async fn handle(
        &self,
        me: ActorRef<GroupMsg>,
        msg: GroupMsg,
        state: &mut GroupData,
    ) -> Result<(), ActorProcessingErr> {
        state.ctx.chaos_check(&me.get_cell());
        match msg {
            GroupMsg::RestartResource(index) => {
                if state.actors.get(index).is_some_and(|a| a.is_none()) {
                    let decision = Decision::Restart(index);
                    state.decided(&me, decision).await?;
                }
            }
            GroupMsg::Start { done, .. } => state.queue.push_back(Op {
                kind: OpKind::Start,
                done,
                then_stop: false,
            }),
            GroupMsg::Stop { done, .. } => state.queue.push_back(Op {
                kind: OpKind::Stop,
                done,
                then_stop: false,
            }),
            GroupMsg::Restart { done, .. } => {
                state.queue.push_back(Op {
                    kind: OpKind::Stop,
                    done: None,
                    then_stop: false,
                });
                state.queue.push_back(Op {
                    kind: OpKind::Start,
                    done,
                    then_stop: false,
                });
            }
            GroupMsg::Reactivate { resource, done, .. } => {
                match state.spec.resources.iter().position(|r| r.name == resource) {
                    Some(index) => state.queue.push_back(Op {
                        kind: OpKind::Reactivate {
                            index,
                            restarting: false,
                        },
                        done,
                        then_stop: false,
                    }),
                    None => {
                        if let Some(done) = done {
                            let _ = done.send(false);
                        }
                    }
                }
            }
            GroupMsg::Single {
                resource,
                start,
                done,
            } => match state.spec.resources.iter().position(|r| r.name == resource) {
                Some(index) => state.queue.push_back(Op {
                    kind: OpKind::Single { index, start },
                    done,
                    then_stop: false,
                }),
                None => {
                    if let Some(done) = done {
                        let _ = done.send(false);
                    }
                }
            },
            GroupMsg::Report {
                index,
                incarnation,
                report,
            } => {
                if index < state.slots.len() && incarnation == state.children.incarnation(&index) {
                    state.on_report(index, report);
                }
            }
        }
        state.pump();
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        me: ActorRef<GroupMsg>,
        event: SupervisionEvent,
        state: &mut GroupData,
    ) -> Result<(), ActorProcessingErr> {
        let decision = state.children.on_event(&event);
        state.decided(&me, decision).await
    }

    async fn post_stop(
        &self,
        _me: ActorRef<GroupMsg>,
        state: &mut GroupData,
    ) -> Result<(), ActorProcessingErr> {
        state.children.stop_all().await;
        Ok(())
    }
}
