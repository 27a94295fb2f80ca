//! ResourceMonitor ("rm"): starts, stops, suspends and resumes the monitors (OPS-2..4) — all of
//! them or some by name, for a while or until resumed — swaps them on a hot configuration apply
//! (APPLY-2 #2), and restarts a crashed one within its budget. If it crashes beyond its own
//! budget the daemon makes an emergency shutdown (DOWN-3, PROC-2 `clprm`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use upkeep_config::Config;

use crate::ctx::Ctx;
use crate::event::EventKind;
use crate::ladder::Intensity;
use crate::monitor::{MonitorActor, MonitorArgs, MonitorMsg};
use crate::supervise::{ChildExit, Children};
use crate::task::Task;

pub struct ResourceMonitor;

/// The answer to an operation on named monitors: `Err` names what is wrong.
pub type NamedReply = RpcReplyPort<Result<(), String>>;

pub enum RmMsg {
    /// Start every monitor (TRB-17: `Monitor <name> start.` each).
    Start {
        done: Option<RpcReplyPort<()>>,
    },
    /// Stop every monitor.
    Stop {
        done: Option<RpcReplyPort<()>>,
    },
    /// OPS-2: no checks and no actions until resumed.
    Suspend {
        done: Option<RpcReplyPort<()>>,
    },
    Resume {
        done: Option<RpcReplyPort<()>>,
    },
    /// OPS-4 (`clpmonctrl -s`): suspend these monitors (all when empty), for a while if `for_`.
    SuspendMonitors {
        names: Vec<String>,
        for_: Option<Duration>,
        done: Option<NamedReply>,
    },
    /// OPS-4 (`clpmonctrl -r`).
    ResumeMonitors {
        names: Vec<String>,
        done: Option<NamedReply>,
    },
    /// A hot apply: stop the monitors, take the new configuration's, start them again.
    Replace {
        config: Arc<Config>,
        done: Option<RpcReplyPort<()>>,
    },
}

pub struct RmState {
    ctx: Ctx,
    monitors: BTreeMap<String, ActorRef<MonitorMsg>>,
    children: Children<String>,
    started: bool,
    suspended: bool,
    operator_suspended: BTreeSet<String>,
    /// Timed suspensions that end by themselves (`--for`).
    timers: Vec<Task>,
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
                    operator_suspended: self.operator_suspended.contains(name),
                    held_by: self.ctx.config.monitors.iter().find_map(|m| match &m.kind {
                        upkeep_config::MonitorKind::MultiTarget { members, .. }
                            if members.iter().any(|x| x == name) =>
                        {
                            Some(m.name.clone())
                        }
                        _ => None,
                    }),
                },
            )
            .await?;
        self.children.insert(actor.get_cell(), name.to_string());
        self.monitors.insert(name.to_string(), actor);
        Ok(())
    }

    async fn start_all(&mut self, me: &ActorRef<RmMsg>) -> Result<(), ActorProcessingErr> {
        self.started = true;
        // The user-space monitor is the daemon's own child (it guards the whole tree).
        let names: Vec<String> = self
            .ctx
            .config
            .monitors
            .iter()
            .filter(|m| !matches!(m.kind, upkeep_config::MonitorKind::UserSpace(_)))
            .map(|m| m.name.clone())
            .collect();
        for name in names {
            self.spawn_monitor(me, &name).await?;
        }
        Ok(())
    }

    async fn stop_all(&mut self) {
        for monitor in std::mem::take(&mut self.monitors).into_values().rev() {
            let _ = monitor
                .stop_and_wait(Some("stop".into()), Some(Duration::from_secs(5)))
                .await;
        }
    }

    fn broadcast(&self, msg: impl Fn() -> MonitorMsg) {
        for monitor in self.monitors.values() {
            let _ = monitor.cast(msg());
        }
    }

    /// The monitors `names` designates (all when empty), or which names are unknown.
    fn resolve(&self, names: Vec<String>) -> Result<Vec<String>, String> {
        let known: Vec<&str> = self
            .ctx
            .config
            .monitors
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        if names.is_empty() {
            return Ok(known.iter().map(|s| s.to_string()).collect());
        }
        let unknown: Vec<&String> = names
            .iter()
            .filter(|n| !known.contains(&n.as_str()))
            .collect();
        match unknown.as_slice() {
            [] => Ok(names),
            _ => Err(format!(
                "unknown monitor {}",
                unknown
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    fn suspend_named(
        &mut self,
        me: &ActorRef<RmMsg>,
        names: Vec<String>,
        for_: Option<Duration>,
    ) -> Result<(), String> {
        // OPS-4, issue 8 defect 4: the control plane bounds `--for`; rm checks again, because an
        // out-of-range span must never overflow a clock here (a crashed rm counts toward DOWN-3).
        let until_at = match for_ {
            None => None,
            Some(d) => Some(
                crate::suspension_end(self.ctx.host.now_wall(), d).map_err(|e| e.to_string())?,
            ),
        };
        let until = until_at.map(|at| humantime::format_rfc3339_seconds(at).to_string());
        for name in &names {
            self.ctx.board.update_monitor(name, |m| {
                m.operator_suspended = true;
                m.suspended_until = until_at;
            });
            if self.operator_suspended.insert(name.clone()) {
                if let Some(m) = self.monitors.get(name) {
                    let _ = m.cast(MonitorMsg::OperatorSuspend);
                }
                self.ctx.emit(EventKind::MonitorSuspended {
                    monitor: name.clone(),
                    until: until.clone(),
                });
            }
        }
        if let Some(d) = for_ {
            let me = me.clone();
            self.timers.retain(|t| !t.is_finished());
            self.timers.push(Task::spawn(async move {
                tokio::time::sleep(d).await;
                let _ = me.cast(RmMsg::ResumeMonitors { names, done: None });
            }));
        }
        Ok(())
    }

    fn resume_named(&mut self, names: Vec<String>) {
        for name in names {
            self.ctx.board.update_monitor(&name, |m| {
                m.operator_suspended = false;
                m.suspended_until = None;
            });
            if self.operator_suspended.remove(&name) {
                if let Some(m) = self.monitors.get(&name) {
                    let _ = m.cast(MonitorMsg::OperatorResume);
                }
                self.ctx.emit(EventKind::MonitorResumed { monitor: name });
            }
        }
    }
}

fn reply<T>(done: Option<RpcReplyPort<T>>, value: T) {
    if let Some(done) = done {
        let _ = done.send(value);
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
            children: Children::new(&ctx),
            ctx,
            monitors: BTreeMap::new(),
            started,
            suspended: false,
            operator_suspended: BTreeSet::new(),
            timers: Vec::new(),
        })
    }

    async fn post_start(
        &self,
        me: ActorRef<RmMsg>,
        state: &mut RmState,
    ) -> Result<(), ActorProcessingErr> {
        if state.started {
            state.start_all(&me).await?;
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
                if state.monitors.is_empty() {
                    state.start_all(&me).await?;
                }
                reply(done, ());
            }
            RmMsg::Stop { done } => {
                state.started = false;
                state.stop_all().await;
                reply(done, ());
            }
            RmMsg::Suspend { done } => {
                if !state.suspended {
                    state.suspended = true;
                    state.broadcast(|| MonitorMsg::Suspend);
                    state.ctx.emit(EventKind::MonitorsSuspended);
                }
                reply(done, ());
            }
            RmMsg::Resume { done } => {
                if state.suspended {
                    state.suspended = false;
                    state.broadcast(|| MonitorMsg::Resume);
                    state.ctx.emit(EventKind::MonitorsResumed);
                }
                reply(done, ());
            }
            RmMsg::SuspendMonitors { names, for_, done } => match state.resolve(names) {
                Ok(names) => {
                    let outcome = state.suspend_named(&me, names, for_);
                    reply(done, outcome);
                }
                Err(e) => reply(done, Err(e)),
            },
            RmMsg::ResumeMonitors { names, done } => match state.resolve(names) {
                Ok(names) => {
                    state.resume_named(names);
                    reply(done, Ok(()));
                }
                Err(e) => reply(done, Err(e)),
            },
            RmMsg::Replace { config, done } => {
                let was_started = state.started || !state.monitors.is_empty();
                state.stop_all().await;
                state
                    .ctx
                    .board
                    .set_monitors(&config.monitors, state.ctx.host.now_wall());
                state
                    .operator_suspended
                    .retain(|n| config.monitor(n).is_some());
                state.ctx.config = config;
                if was_started {
                    state.start_all(&me).await?;
                }
                reply(done, ());
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
        state.stop_all().await;
        Ok(())
    }
}
