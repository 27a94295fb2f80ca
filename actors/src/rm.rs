//! ResourceMonitor ("rm"): starts, stops, suspends and resumes the monitors (OPS-2..4) — all of
//! them or some by name, for a while or until resumed — swaps them on a hot configuration apply
//! (APPLY-2 #2), and restarts a crashed one within its budget. If it crashes beyond its own
//! budget the daemon makes an emergency shutdown (DOWN-3, PROC-2 `clprm`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use upkeep_config::Config;

use crate::clock::{Clock, ClockTask};
use crate::ctx::Ctx;
use crate::event::EventKind;
use crate::monitor::{MonitorActor, MonitorArgs, MonitorMsg};
use crate::supervise::{Decision, Level, Supervisor};
use crate::task::Task;

pub struct ResourceMonitor;

pub struct RmArgs {
    pub ctx: Ctx,
    /// The daemon had started the monitors (a restarted rm starts them again).
    pub started: bool,
    /// OPS-2: the daemon is suspended.
    pub suspended: bool,
}

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
    /// Try again to restart a monitor whose restart could not spawn it.
    RestartMonitor(String),
    /// A hot apply: stop the monitors, take the new configuration's, start them again.
    Replace {
        config: Arc<Config>,
        done: Option<RpcReplyPort<()>>,
    },
}

pub struct RmState {
    ctx: Ctx,
    monitors: BTreeMap<String, ActorRef<MonitorMsg>>,
    children: Supervisor<String>,
    started: bool,
    suspended: bool,
    operator_suspended: BTreeSet<String>,
    /// Timed suspensions that end by themselves (`--for`).
    timers: Vec<Task>,
    /// The one timer of every monitor's interval (MON-3); its task ends with this state.
    clock: Clock,
    _clock_task: ClockTask,
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
                    clock: self.clock.clone(),
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
        self.children.started(name.to_string(), actor.get_cell());
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
        self.monitors.clear();
        self.children.stop_all().await;
    }

    /// Carry out the supervisor's decision about a monitor's exit; past the intensity rm fails
    /// itself, and the daemon restarts it or makes the emergency shutdown (DOWN-3).
    async fn decided(
        &mut self,
        me: &ActorRef<RmMsg>,
        decision: Decision<String>,
    ) -> Result<(), ActorProcessingErr> {
        let monitor = match decision {
            Decision::Ignore => return Ok(()),
            Decision::Escalate(key) => return Err(format!("monitor {key} keeps crashing").into()),
            Decision::Restart(key) => key,
        };
        self.monitors.remove(&monitor);
        if !self.started {
            return Ok(());
        }
        // The restarted monitor starts suspended when the daemon or the operator paused it.
        if let Err(e) = self.spawn_monitor(me, &monitor).await {
            let next = self
                .children
                .spawn_failed(monitor, &crate::supervise::spawn_error(e.as_ref()));
            return Box::pin(self.decided(me, next)).await;
        }
        Ok(())
    }

    /// A restarted rm takes the operator's pauses (OPS-4) back from the board, which outlives
    /// it; a timed pause ends when it was meant to.
    fn recover_pauses(&mut self, me: &ActorRef<RmMsg>) {
        let now = self.ctx.host.now_wall();
        for m in &self.ctx.config.monitors {
            let Some(status) = self.ctx.board.monitor(&m.name) else {
                continue;
            };
            if !status.operator_suspended {
                continue;
            }
            self.operator_suspended.insert(m.name.clone());
            if let Some(until) = status.suspended_until {
                let left = until.duration_since(now).unwrap_or_default();
                let me = me.clone();
                let names = vec![m.name.clone()];
                self.timers.push(Task::spawn(async move {
                    tokio::time::sleep(left).await;
                    let _ = me.cast(RmMsg::ResumeMonitors { names, done: None });
                }));
            }
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
    type Arguments = RmArgs;

    async fn pre_start(
        &self,
        me: ActorRef<RmMsg>,
        args: RmArgs,
    ) -> Result<RmState, ActorProcessingErr> {
        args.ctx.chaos_start(&me.get_cell())?;
        // A restarted rm resumes monitoring if the daemon had started it, suspended if the
        // daemon is (OPS-2), with the operator's pauses (OPS-4).
        let to_me = me.clone();
        let (clock, clock_task) = Clock::start();
        let mut state = RmState {
            clock,
            _clock_task: clock_task,
            children: Supervisor::new(&args.ctx, Level::Inner, move |monitor| {
                let _ = to_me.cast(RmMsg::RestartMonitor(monitor));
            }),
            ctx: args.ctx,
            monitors: BTreeMap::new(),
            started: args.started,
            suspended: args.suspended,
            operator_suspended: BTreeSet::new(),
            timers: Vec::new(),
        };
        state.recover_pauses(&me);
        Ok(state)
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
        state.ctx.chaos_check(&me.get_cell());
        match msg {
            RmMsg::RestartMonitor(monitor) => {
                if !state.monitors.contains_key(&monitor) {
                    let decision = Decision::Restart(monitor);
                    state.decided(&me, decision).await?;
                }
            }
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
        let decision = state.children.on_event(&event);
        state.decided(&me, decision).await
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
