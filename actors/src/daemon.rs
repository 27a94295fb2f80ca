//! Daemon: the root of the tree (PROC-2 `clppm`). Starts and stops everything in order (OPS-1,
//! OPS-5, PROC-3), suspends and resumes monitoring (OPS-2, OPS-3), carries out the final actions
//! that stop the daemon or the OS (RES-4, RES-5, MON-13, DOWN-1..4), and turns a core actor that
//! keeps crashing into an emergency shutdown (DOWN-3).

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use upkeep_config::Config;

use crate::ctx::Ctx;
use crate::event::EventKind;
use crate::governor::{GovernorMsg, Permit, RebootGovernor};
use crate::host::{OsAction, OS_ACTION_TIMEOUT};
use crate::ladder::Intensity;
use crate::rc::{RcMsg, ResourceControl};
use crate::rm::{ResourceMonitor, RmMsg};
use crate::supervise::{ChildExit, Children};
use crate::task::Task;
use crate::userspace::{UserSpaceActor, UserSpaceArgs, UserSpaceMsg};

/// USW-2: at most one user-space monitor.
fn user_space_monitor(config: &Config) -> Option<upkeep_config::Monitor> {
    config
        .monitors
        .iter()
        .find(|m| matches!(m.kind, upkeep_config::MonitorKind::UserSpace(_)))
        .cloned()
}

/// A final action that reaches the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaemonAction {
    StopDaemon,
    StopDaemonShutdown,
    StopDaemonReboot,
    /// DOWN-3: a core actor failed for good; stop the groups, then shut down (not reboot).
    EmergencyShutdown,
}

impl DaemonAction {
    fn os_action(self) -> Option<OsAction> {
        match self {
            DaemonAction::StopDaemon => None,
            DaemonAction::StopDaemonShutdown | DaemonAction::EmergencyShutdown => {
                Some(OsAction::Shutdown)
            }
            DaemonAction::StopDaemonReboot => Some(OsAction::Reboot),
        }
    }
}

pub enum DaemonMsg {
    /// OPS-1: start the groups, then the monitors.
    Start,
    GroupsStarted,
    /// OPS-5: orderly stop; groups deactivated in reverse order.
    Stop {
        reason: String,
        done: Option<RpcReplyPort<()>>,
    },
    StopComplete,
    /// OPS-2 / OPS-3.
    Suspend {
        done: Option<RpcReplyPort<()>>,
    },
    Resume {
        done: Option<RpcReplyPort<()>>,
    },
    FinalAction {
        origin: String,
        action: DaemonAction,
    },
    /// CMD-3 `upkeep down [--reboot]`: orderly stop, then the OS action; manual, so not
    /// counted by the governor (MAP-6). Simulated unless OS actions are real.
    Down {
        reboot: bool,
        done: Option<RpcReplyPort<()>>,
    },
    /// APPLY-2 #2 (suspend / resume): swap the monitors and the reboot limit while the groups
    /// keep running. Refused when groups or resources differ (those need a stop / restart).
    Reconfigure {
        config: Arc<Config>,
        done: Option<RpcReplyPort<Result<(), String>>>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Core {
    Governor,
    Rc,
    Rm,
    UserSpace,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Starting,
    Running,
    Stopping,
}

pub struct Daemon;

pub struct DaemonState {
    ctx: Ctx,
    children: Children<Core>,
    phase: Phase,
    monitors_started: bool,
    suspended: bool,
    /// An OS action granted by the governor, carried out once the stop completes.
    pending_os: Option<OsAction>,
    stop_waiters: Vec<RpcReplyPort<()>>,
    work: Vec<Task>,
}

/// How long the daemon waits for the governor (it persists with fsync).
const GOVERNOR_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the daemon waits for the governor to `Perform` an OS action. Timeouts nest: never
/// less than the host may take (`OS_ACTION_TIMEOUT`, every fallback included), plus the governor's
/// own time for a message queued before (a persist), so the outcome always arrives.
const PERFORM_TIMEOUT: Duration = OS_ACTION_TIMEOUT.saturating_add(GOVERNOR_TIMEOUT);

impl DaemonState {
    async fn spawn_core(
        &mut self,
        me: &ActorRef<DaemonMsg>,
        core: Core,
    ) -> Result<(), ActorProcessingErr> {
        let cell = me.get_cell();
        let names = &self.ctx.names;
        let spawned = match core {
            Core::Governor => cell
                .spawn_linked(Some(names.governor()), RebootGovernor, self.ctx.clone())
                .await
                .map(|(a, _)| a.get_cell()),
            Core::Rc => cell
                .spawn_linked(Some(names.rc()), ResourceControl, self.ctx.clone())
                .await
                .map(|(a, _)| a.get_cell()),
            Core::Rm => cell
                .spawn_linked(
                    Some(names.rm()),
                    ResourceMonitor,
                    (self.ctx.clone(), self.monitors_started),
                )
                .await
                .map(|(a, _)| a.get_cell()),
            Core::UserSpace => {
                let Some(spec) = user_space_monitor(&self.ctx.config) else {
                    return Ok(());
                };
                cell.spawn_linked(
                    Some(names.userspace(&spec.name)),
                    UserSpaceActor,
                    UserSpaceArgs {
                        ctx: self.ctx.clone(),
                        spec,
                    },
                )
                .await
                .map(|(a, _)| a.get_cell())
            }
        };
        match spawned {
            Ok(cell) => {
                self.children.insert(cell, core);
                Ok(())
            }
            Err(e) => Err(format!("cannot start {core:?}: {e}").into()),
        }
    }

    fn rc(&self) -> Option<ActorRef<RcMsg>> {
        ActorRef::where_is(self.ctx.names.rc())
    }

    fn rm(&self) -> Option<ActorRef<RmMsg>> {
        ActorRef::where_is(self.ctx.names.rm())
    }

    fn governor(&self) -> Option<ActorRef<GovernorMsg>> {
        ActorRef::where_is(self.ctx.names.governor())
    }

    fn begin_stop(&mut self, me: &ActorRef<DaemonMsg>, reason: String) {
        if self.phase == Phase::Stopping {
            return;
        }
        self.phase = Phase::Stopping;
        self.ctx.emit(EventKind::DaemonStopping { reason });
        let rm = self.rm();
        let rc = self.rc();
        let me = me.clone();
        self.work.push(Task::spawn(async move {
            if let Some(rm) = rm {
                let _ = rm.call(|port| RmMsg::Stop { done: Some(port) }, None).await;
            }
            if let Some(rc) = rc {
                let _ = rc
                    .call(|port| RcMsg::StopGroups { done: Some(port) }, None)
                    .await;
            }
            let _ = me.cast(DaemonMsg::StopComplete);
        }));
    }

    async fn reconfigure(&mut self, config: Arc<Config>) -> Result<(), String> {
        if self.phase == Phase::Stopping {
            return Err("the daemon is stopping".into());
        }
        let current = self.ctx.config.clone();
        if current.groups != config.groups || current.os_actions != config.os_actions {
            return Err(
                "groups, resources or os_actions changed: that needs a stop and restart".into(),
            );
        }
        if let Some(governor) = self.governor() {
            let _ = governor.cast(GovernorMsg::SetLimit(config.reboot_limit));
        }
        if let Some(rm) = self.rm() {
            let swap = config.clone();
            rm.call(
                |port| RmMsg::Replace {
                    config: swap,
                    done: Some(port),
                },
                Some(Duration::from_secs(60)),
            )
            .await
            .map_err(|e| format!("the monitors could not be swapped: {e}"))?;
        }
        self.ctx.config = config.clone();
        if let Ok(mut live) = self.ctx.live.write() {
            *live = config;
        }
        self.ctx.emit(EventKind::ConfigApplied {
            method: "suspend/resume".into(),
        });
        Ok(())
    }

    async fn final_action(
        &mut self,
        me: &ActorRef<DaemonMsg>,
        origin: String,
        action: DaemonAction,
    ) {
        let label = format!("{action:?}");
        let Some(os) = action.os_action() else {
            self.ctx.emit(EventKind::FinalActionStarted {
                origin: origin.clone(),
                action: label,
            });
            self.begin_stop(me, origin);
            return;
        };
        if self.pending_os.is_some() {
            return; // Already going down.
        }
        let Some(governor) = self.governor() else {
            self.ctx.emit(EventKind::OsActionFailed {
                action: os,
                reason: "the reboot governor is not running".into(),
            });
            return;
        };
        let permit = governor
            .call(
                |reply| GovernorMsg::Request {
                    action: os,
                    origin: origin.clone(),
                    final_action: label.clone(),
                    reply,
                },
                Some(GOVERNOR_TIMEOUT),
            )
            .await;
        // Refused (the governor said so in an event) or no answer: never act blindly.
        if let Ok(ractor::rpc::CallResult::Success(Permit::Granted { .. })) = permit {
            self.ctx.emit(EventKind::FinalActionStarted {
                origin: origin.clone(),
                action: label,
            });
            self.pending_os = Some(os);
            self.begin_stop(me, origin);
        }
    }
}

impl Actor for Daemon {
    type Msg = DaemonMsg;
    type State = DaemonState;
    type Arguments = Ctx;

    async fn pre_start(
        &self,
        _me: ActorRef<DaemonMsg>,
        ctx: Ctx,
    ) -> Result<DaemonState, ActorProcessingErr> {
        Ok(DaemonState {
            children: Children::new(&ctx),
            ctx,
            phase: Phase::Starting,
            monitors_started: false,
            suspended: false,
            pending_os: None,
            stop_waiters: Vec::new(),
            work: Vec::new(),
        })
    }

    async fn post_start(
        &self,
        me: ActorRef<DaemonMsg>,
        state: &mut DaemonState,
    ) -> Result<(), ActorProcessingErr> {
        for core in [Core::Governor, Core::Rc, Core::Rm] {
            state.spawn_core(&me, core).await?;
        }
        // TRB-10, TRB-12.
        state.ctx.emit(EventKind::DaemonStarted);
        state.ctx.emit(EventKind::ServerUp {
            server: state.ctx.host.hostname(),
        });
        let _ = me.cast(DaemonMsg::Start);
        Ok(())
    }

    async fn handle(
        &self,
        me: ActorRef<DaemonMsg>,
        msg: DaemonMsg,
        state: &mut DaemonState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            DaemonMsg::Start => {
                if let Some(rc) = state.rc() {
                    let me = me.clone();
                    state.work.push(Task::spawn(async move {
                        let _ = rc
                            .call(
                                |port| RcMsg::StartGroups {
                                    only_auto: true,
                                    done: Some(port),
                                },
                                None,
                            )
                            .await;
                        let _ = me.cast(DaemonMsg::GroupsStarted);
                    }));
                }
            }
            DaemonMsg::GroupsStarted => {
                if state.phase == Phase::Starting {
                    state.phase = Phase::Running;
                    state.monitors_started = true;
                    if let Err(e) = state.spawn_core(&me, Core::UserSpace).await {
                        tracing::error!(error = %e, "cannot start the user-space monitor");
                    }
                    if let Some(rm) = state.rm() {
                        let _ = rm.cast(RmMsg::Start { done: None });
                    }
                }
            }
            DaemonMsg::Stop { reason, done } => {
                state.stop_waiters.extend(done);
                state.begin_stop(&me, reason);
            }
            DaemonMsg::StopComplete => {
                // USW-5: closed (magic close) on an orderly stop; left armed while the OS goes
                // down, so a hung shutdown is reset (DOWN-6).
                if let Some(spec) = user_space_monitor(&state.ctx.config) {
                    if let Some(us) =
                        ActorRef::<UserSpaceMsg>::where_is(state.ctx.names.userspace(&spec.name))
                    {
                        let keep_armed = state.pending_os.is_some();
                        let _ = us
                            .call(
                                |done| UserSpaceMsg::Disarm {
                                    keep_armed,
                                    done: Some(done),
                                },
                                Some(GOVERNOR_TIMEOUT),
                            )
                            .await;
                    }
                }
                if let Some(os) = state.pending_os {
                    // DOWN-1..4: groups are stopped; now the OS action through the governor.
                    if let Some(governor) = state.governor() {
                        let _ = governor
                            .call(
                                |reply| GovernorMsg::Perform {
                                    action: os,
                                    reply: Some(reply),
                                },
                                Some(PERFORM_TIMEOUT),
                            )
                            .await;
                    }
                }
                state.ctx.emit(EventKind::DaemonStopped);
                for waiter in state.stop_waiters.drain(..) {
                    let _ = waiter.send(());
                }
                me.stop(Some("stopped".into()));
            }
            DaemonMsg::Suspend { done } => {
                if !state.suspended {
                    state.suspended = true;
                    state.ctx.emit(EventKind::Suspended);
                    if let Some(rm) = state.rm() {
                        let _ = rm.cast(RmMsg::Suspend { done });
                        return Ok(());
                    }
                }
                if let Some(done) = done {
                    let _ = done.send(());
                }
            }
            DaemonMsg::Resume { done } => {
                if state.suspended {
                    state.suspended = false;
                    state.ctx.emit(EventKind::Resumed);
                    if let Some(rm) = state.rm() {
                        let _ = rm.cast(RmMsg::Resume { done });
                        return Ok(());
                    }
                }
                if let Some(done) = done {
                    let _ = done.send(());
                }
            }
            DaemonMsg::FinalAction { origin, action } => {
                state.final_action(&me, origin, action).await
            }
            DaemonMsg::Down { reboot, done } => {
                let action = if reboot {
                    OsAction::Reboot
                } else {
                    OsAction::Shutdown
                };
                state.stop_waiters.extend(done);
                if state.pending_os.is_none() {
                    state.ctx.emit(EventKind::ManualDown { action });
                    state.pending_os = Some(action);
                }
                state.begin_stop(&me, format!("manual {action}"));
            }
            DaemonMsg::Reconfigure { config, done } => {
                let result = state.reconfigure(config).await;
                if let Some(done) = done {
                    let _ = done.send(result);
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        me: ActorRef<DaemonMsg>,
        event: SupervisionEvent,
        state: &mut DaemonState,
    ) -> Result<(), ActorProcessingErr> {
        // A core actor is never stopped on purpose while the daemon runs: any exit is abnormal
        // (PROC-2: abnormal termination of clprc / clprm).
        let (core, reason) = match state.children.exit(&event) {
            Some(ChildExit::Crashed { key, reason }) => (key, reason),
            Some(ChildExit::Stopped { key }) if state.phase != Phase::Stopping => {
                (key, "terminated unexpectedly".to_string())
            }
            _ => return Ok(()),
        };
        if state.phase == Phase::Stopping && core != Core::Governor {
            return Ok(());
        }
        let actor = match core {
            Core::Governor => "governor",
            Core::Rc => "rc",
            Core::Rm => "rm",
            Core::UserSpace => "userspace",
        }
        .to_string();
        if state.children.record_crash() == Intensity::Restart {
            state.ctx.emit(EventKind::CoreRestarted { actor, reason });
            state.spawn_core(&me, core).await?;
            return Ok(());
        }
        state.ctx.emit(EventKind::CoreFailed {
            actor: actor.clone(),
            reason,
        });
        if core == Core::Governor {
            // Without a governor no OS action may happen: stop the daemon only.
            state.begin_stop(&me, "the reboot governor keeps failing".into());
            return Ok(());
        }
        // DOWN-3: the failed core stays down; what is left is stopped, then the OS shuts down.
        let _ = me.cast(DaemonMsg::FinalAction {
            origin: format!("internal process {actor}"),
            action: DaemonAction::EmergencyShutdown,
        });
        Ok(())
    }

    async fn post_stop(
        &self,
        me: ActorRef<DaemonMsg>,
        _state: &mut DaemonState,
    ) -> Result<(), ActorProcessingErr> {
        crate::supervise::stop_children(&me.get_cell()).await;
        Ok(())
    }
}
