//! ResourceControl ("rc"): supervises the groups, runs group operations in order and carries out
//! monitor recovery requests (MON-11). If it crashes beyond its restart budget the daemon makes
//! an emergency shutdown (DOWN-3, PROC-2 `clprc`).

use std::collections::BTreeMap;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use upkeep_config::{RecoveryTarget, Startup};

use crate::ctx::Ctx;
use crate::group::{GroupActor, GroupArgs, GroupMsg};
use crate::supervise::{Decision, Level, Supervisor};
use crate::task::Task;

pub struct ResourceControl;

pub enum RcMsg {
    /// OPS-1: start the groups (all, or only those with `startup: Auto`), all at once.
    StartGroups {
        only_auto: bool,
        done: Option<RpcReplyPort<bool>>,
    },
    /// OPS-5: stop every group, all at once.
    StopGroups { done: Option<RpcReplyPort<bool>> },
    /// `group start|stop NAME`, final action StopGroup.
    Group {
        group: String,
        start: bool,
        reason: String,
        done: Option<RpcReplyPort<bool>>,
    },
    /// `resource start|stop NAME`: one resource alone.
    Resource {
        resource: String,
        start: bool,
        done: Option<RpcReplyPort<bool>>,
    },
    /// Try again to restart a group whose restart could not spawn it.
    RestartGroup(String),
    /// MON-11: reactivate a resource or restart a group.
    Recover {
        target: RecoveryTarget,
        reason: String,
        done: Option<RpcReplyPort<bool>>,
    },
}

pub struct RcState {
    ctx: Ctx,
    groups: BTreeMap<String, ActorRef<GroupMsg>>,
    children: Supervisor<String>,
    /// Sequences of group operations run by helper tasks; aborted with the actor.
    work: Vec<Task>,
}

impl RcState {
    async fn spawn_group(
        &mut self,
        me: &ActorRef<RcMsg>,
        name: &str,
    ) -> Result<ActorRef<GroupMsg>, ActorProcessingErr> {
        let Some(spec) = self.ctx.config.group(name).cloned() else {
            return Err(format!("unknown group {name}").into());
        };
        let (actor, _) = me
            .get_cell()
            .spawn_linked(
                Some(self.ctx.names.group(name)),
                GroupActor,
                GroupArgs {
                    ctx: self.ctx.clone(),
                    spec,
                },
            )
            .await?;
        self.children.started(name.to_string(), actor.get_cell());
        self.groups.insert(name.to_string(), actor.clone());
        Ok(actor)
    }

    /// Carry out the supervisor's decision about a group's exit; past the intensity rc fails
    /// itself, and the daemon restarts it or makes the emergency shutdown (DOWN-3).
    async fn decided(
        &mut self,
        me: &ActorRef<RcMsg>,
        decision: Decision<String>,
    ) -> Result<(), ActorProcessingErr> {
        let group = match decision {
            Decision::Ignore => return Ok(()),
            Decision::Escalate(key) => return Err(format!("group {key} keeps crashing").into()),
            Decision::Restart(key) => key,
        };
        self.groups.remove(&group);
        // The group's processes died with it (their handles kill their process groups); a
        // group that was active is started again.
        let was_active = self
            .ctx
            .board
            .group(&group)
            .is_some_and(|s| s.state.is_active());
        match self.spawn_group(me, &group).await {
            Ok(actor) => {
                if was_active {
                    let _ = actor.cast(GroupMsg::Start {
                        reason: "restart after crash".into(),
                        done: None,
                    });
                }
                Ok(())
            }
            Err(e) => {
                let next = self
                    .children
                    .spawn_failed(group, &crate::supervise::spawn_error(e.as_ref()));
                Box::pin(self.decided(me, next)).await
            }
        }
    }

    /// Run the group operations `ops` at once and reply, when every one has answered, whether
    /// all succeeded (issue 14). Groups do not depend on one another (RES-1 orders resources
    /// inside a group only), so one slow start never holds the others back; each group still
    /// runs its own steps, and emits its own events, in order.
    fn all_at_once(
        &mut self,
        ops: Vec<(ActorRef<GroupMsg>, bool)>,
        done: Option<RpcReplyPort<bool>>,
    ) {
        self.work.retain(|t| !t.is_finished());
        let mut answers = Vec::with_capacity(ops.len());
        for (group, start) in ops {
            let (port, answer) = ractor::concurrency::oneshot();
            let reason = "operation".to_string();
            let done = Some(RpcReplyPort::from(port));
            let sent = group.cast(if start {
                GroupMsg::Start { reason, done }
            } else {
                GroupMsg::Stop { reason, done }
            });
            answers.push(sent.ok().map(|()| answer));
        }
        self.work.push(Task::spawn(async move {
            let mut all_ok = true;
            for answer in answers {
                all_ok &= match answer {
                    Some(answer) => answer.await.unwrap_or(false),
                    None => false,
                };
            }
            if let Some(done) = done {
                let _ = done.send(all_ok);
            }
        }));
    }
}

impl Actor for ResourceControl {
    type Msg = RcMsg;
    type State = RcState;
    type Arguments = Ctx;

    async fn pre_start(
        &self,
        me: ActorRef<RcMsg>,
        ctx: Ctx,
    ) -> Result<RcState, ActorProcessingErr> {
        ctx.chaos_start(&me.get_cell())?;
        Ok(RcState {
            children: Supervisor::new(&ctx, Level::Inner, move |group| {
                let _ = me.cast(RcMsg::RestartGroup(group));
            }),
            ctx,
            groups: BTreeMap::new(),
            work: Vec::new(),
        })
    }

    async fn post_start(
        &self,
        me: ActorRef<RcMsg>,
        state: &mut RcState,
    ) -> Result<(), ActorProcessingErr> {
        // After a crash of rc, the processes of its groups died with it (their handles kill
        // their process groups). Groups the board still shows active are started again.
        let was_active: Vec<String> = state
            .ctx
            .config
            .groups
            .iter()
            .filter(|g| {
                state
                    .ctx
                    .board
                    .group(&g.name)
                    .is_some_and(|s| s.state.is_active())
            })
            .map(|g| g.name.clone())
            .collect();
        let names: Vec<String> = state
            .ctx
            .config
            .groups
            .iter()
            .map(|g| g.name.clone())
            .collect();
        for name in &names {
            state.spawn_group(&me, name).await?;
        }
        let ops = was_active
            .iter()
            .filter_map(|g| state.groups.get(g).map(|a| (a.clone(), true)))
            .collect::<Vec<_>>();
        if !ops.is_empty() {
            state.all_at_once(ops, None);
        }
        Ok(())
    }

    async fn handle(
        &self,
        me: ActorRef<RcMsg>,
        msg: RcMsg,
        state: &mut RcState,
    ) -> Result<(), ActorProcessingErr> {
        state.ctx.chaos_check(&me.get_cell());
        match msg {
            RcMsg::RestartGroup(group) => {
                if !state.groups.contains_key(&group) {
                    let decision = Decision::Restart(group);
                    state.decided(&me, decision).await?;
                }
            }
            RcMsg::StartGroups { only_auto, done } => {
                let ops = state
                    .ctx
                    .config
                    .groups
                    .iter()
                    .filter(|g| !only_auto || g.startup == Startup::Auto)
                    .filter_map(|g| state.groups.get(&g.name).map(|a| (a.clone(), true)))
                    .collect();
                state.all_at_once(ops, done);
            }
            RcMsg::StopGroups { done } => {
                let ops = state
                    .ctx
                    .config
                    .groups
                    .iter()
                    .rev()
                    .filter_map(|g| state.groups.get(&g.name).map(|a| (a.clone(), false)))
                    .collect();
                state.all_at_once(ops, done);
            }
            RcMsg::Group {
                group,
                start,
                reason,
                done,
            } => match state.groups.get(&group) {
                Some(actor) => {
                    let _ = actor.cast(if start {
                        GroupMsg::Start { reason, done }
                    } else {
                        GroupMsg::Stop { reason, done }
                    });
                }
                None => {
                    if let Some(done) = done {
                        let _ = done.send(false);
                    }
                }
            },
            RcMsg::Resource {
                resource,
                start,
                done,
            } => {
                let group = state.ctx.config.group_of(&resource).map(|g| g.name.clone());
                match group.and_then(|g| state.groups.get(&g)) {
                    Some(actor) => {
                        let _ = actor.cast(GroupMsg::Single {
                            resource,
                            start,
                            done,
                        });
                    }
                    None => {
                        if let Some(done) = done {
                            let _ = done.send(false);
                        }
                    }
                }
            }
            RcMsg::Recover {
                target,
                reason,
                done,
            } => {
                let group = match &target {
                    RecoveryTarget::Resource(r) => {
                        state.ctx.config.group_of(r).map(|g| g.name.clone())
                    }
                    RecoveryTarget::Group(g) => Some(g.clone()),
                    RecoveryTarget::Sss => None,
                };
                match group.and_then(|g| state.groups.get(&g)) {
                    Some(actor) => {
                        let _ = actor.cast(match target {
                            RecoveryTarget::Resource(resource) => GroupMsg::Reactivate {
                                resource,
                                reason,
                                done,
                            },
                            _ => GroupMsg::Restart { reason, done },
                        });
                    }
                    None => {
                        if let Some(done) = done {
                            let _ = done.send(false);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        me: ActorRef<RcMsg>,
        event: SupervisionEvent,
        state: &mut RcState,
    ) -> Result<(), ActorProcessingErr> {
        let decision = state.children.on_event(&event);
        state.decided(&me, decision).await
    }

    async fn post_stop(
        &self,
        _me: ActorRef<RcMsg>,
        state: &mut RcState,
    ) -> Result<(), ActorProcessingErr> {
        state.children.stop_all().await;
        Ok(())
    }
}
