//! ResourceMonitor ("rm"): starts, stops, suspends and resumes the monitors (OPS-2..4) and
//! restarts a crashed one within its budget. If it crashes beyond its own budget the daemon makes
//! an emergency shutdown (DOWN-3, PROC-2 `clprm`).

use std::collections::BTreeMap;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};

use crate::ctx::Ctx;
use crate::event::EventKind;
use crate::ladder::Intensity;
use crate::monitor::{MonitorActor, MonitorArgs, MonitorMsg};
use crate::supervise::{ChildExit, Children};

pub struct ResourceMonitor;

pub enum RmMsg {
    /// Start every monitor (TRB-17: `Monitor <name> start.` each).
    Start {
        done: Option<RpcReplyPort<()>>,
    },
    /// Stop every monitor.
    Stop {
        done: Option<RpcReplyPort<()>>,
    },
    /// OPS-2 / OPS-4: no checks and no actions until resumed.
    Suspend {
        done: Option<RpcReplyPort<()>>,
    },
    Resume {
        done: Option<RpcReplyPort<()>>,
    },
}

pub struct RmState {
    ctx: Ctx,
    monitors: BTreeMap<String, ActorRef<MonitorMsg>>,
    children: Children<String>,
    started: bool,
    suspended: bool,
}

impl RmState {
    async fn spawn_monitor(
        &mut self,
        me: &ActorRef<RmMsg>,
        name: &str,
    ) -> Result<(), ActorProcessingErr> {
        let Some(spec) = self.ctx.config.monitor(name).cloned() else {
            return Err(format!("unknown monitor {name}").into());
        };
        let (actor, _) = me
            .get_cell()
            .spawn_linked(
                Some(self.ctx.names.monitor(name)),
                MonitorActor,
                MonitorArgs {
                    ctx: self.ctx.clone(),
                    spec,
                    suspended: self.suspended,
                },
            )
            .await?;
        self.children.insert(actor.get_cell(), name.to_string());
        self.monitors.insert(name.to_string(), actor);
        Ok(())
    }

    fn broadcast(&self, msg: impl Fn() -> MonitorMsg) {
        for monitor in self.monitors.values() {
            let _ = monitor.cast(msg());
        }
    }
}

fn reply(done: Option<RpcReplyPort<()>>) {
    if let Some(done) = done {
        let _ = done.send(());
    }
}

impl Actor for ResourceMonitor {
    type Msg = RmMsg;
    type State = RmState;
    type Arguments = (Ctx, bool);

    async fn pre_start(
        &self,
        _me: ActorRef<RmMsg>,
        (ctx, started): (Ctx, bool),
    ) -> Result<RmState, ActorProcessingErr> {
        // A restarted rm resumes monitoring if the daemon had started it.
        Ok(RmState {
            children: Children::new(ctx.config.core_restart),
            ctx,
            monitors: BTreeMap::new(),
            started,
            suspended: false,
        })
    }

    async fn post_start(
        &self,
        me: ActorRef<RmMsg>,
        state: &mut RmState,
    ) -> Result<(), ActorProcessingErr> {
        if state.started {
            let _ = me.cast(RmMsg::Start { done: None });
            state.started = false;
        }
        Ok(())
    }

    async fn handle(
        &self,
        me: ActorRef<RmMsg>,
        msg: RmMsg,
        state: &mut RmState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RmMsg::Start { done } => {
                if !state.started {
                    state.started = true;
                    let names: Vec<String> = state
                        .ctx
                        .config
                        .monitors
                        .iter()
                        .map(|m| m.name.clone())
                        .collect();
                    for name in names {
                        state.spawn_monitor(&me, &name).await?;
                    }
                }
                reply(done);
            }
            RmMsg::Stop { done } => {
                state.started = false;
                let monitors: Vec<_> = std::mem::take(&mut state.monitors)
                    .into_values()
                    .rev()
                    .collect();
                for monitor in monitors {
                    let _ = monitor
                        .stop_and_wait(Some("daemon stop".into()), Some(Duration::from_secs(5)))
                        .await;
                }
                reply(done);
            }
            RmMsg::Suspend { done } => {
                if !state.suspended {
                    state.suspended = true;
                    state.broadcast(|| MonitorMsg::Suspend);
                    state.ctx.emit(EventKind::MonitorsSuspended);
                }
                reply(done);
            }
            RmMsg::Resume { done } => {
                if state.suspended {
                    state.suspended = false;
                    state.broadcast(|| MonitorMsg::Resume);
                    state.ctx.emit(EventKind::MonitorsResumed);
                }
                reply(done);
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        me: ActorRef<RmMsg>,
        event: SupervisionEvent,
        state: &mut RmState,
    ) -> Result<(), ActorProcessingErr> {
        let Some(ChildExit::Crashed {
            key: monitor,
            reason,
        }) = state.children.exit(&event)
        else {
            return Ok(());
        };
        state.monitors.remove(&monitor);
        if state.children.record_crash() == Intensity::Escalate {
            return Err(format!("monitor {monitor} keeps crashing: {reason}").into());
        }
        tracing::warn!(%monitor, %reason, "monitor actor crashed; restarting it");
        if state.started {
            state.spawn_monitor(&me, &monitor).await?;
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _me: ActorRef<RmMsg>,
        state: &mut RmState,
    ) -> Result<(), ActorProcessingErr> {
        for monitor in std::mem::take(&mut state.monitors).into_values().rev() {
            let _ = monitor
                .stop_and_wait(Some("shutdown".into()), Some(Duration::from_secs(5)))
                .await;
        }
        Ok(())
    }
}
