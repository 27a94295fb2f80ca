//! Daemon: the root of the tree (PROC-2 `clppm`). Starts and stops everything in order (OPS-1,
//! OPS-5, PROC-3), suspends and resumes monitoring (OPS-2, OPS-3), carries out the final actions
//! that stop the daemon or the OS (RES-4, RES-5, MON-13, DOWN-1..4), and turns a core actor that
//! keeps crashing into an emergency shutdown (DOWN-3).

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use upkeep_config::Config;

use crate::ctx::Ctx;
use crate::event::{EventKind, FinalAction};
use crate::governor::{GovernorMsg, Permit, RebootGovernor};
use crate::host::{OsAction, OS_ACTION_TIMEOUT};
use crate::rc::{RcMsg, ResourceControl};
use crate::rm::{ResourceMonitor, RmArgs, RmMsg};
use crate::supervise::{Decision, Level, Supervisor};
use crate::task::Task;
use crate::userspace::{UserSpaceActor, UserSpaceArgs, UserSpaceMsg, WatchdogSlot};

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
    /// The name operators see in events.
    pub fn name(self) -> &'static str {
        match self {
            DaemonAction::StopDaemon => "StopDaemon",
            DaemonAction::StopDaemonShutdown => "StopDaemonShutdown",
            DaemonAction::StopDaemonReboot => "StopDaemonReboot",
            DaemonAction::EmergencyShutdown => "EmergencyShutdown",
        }
    }

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
    /// Try again to restart a core actor whose restart could not spawn it.
    RestartCore(Core),
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

/// The daemon's children, the seed's internal processes (PROC-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Core {
    Governor,
    Rc,
    Rm,
    UserSpace,
}

impl Core {
    fn label(self) -> &'static str {
        match self {
            Core::Governor => "governor",
            Core::Rc => "rc",
            Core::Rm => "rm",
            Core::UserSpace => "userspace",
        }
    }
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
    children: Supervisor<Core>,
    /// Typed handles to the running incarnations, replaced on every restart.
    governor: Option<ActorRef<GovernorMsg>>,
    rc: Option<ActorRef<RcMsg>>,
    rm: Option<ActorRef<RmMsg>>,
    userspace: Option<ActorRef<UserSpaceMsg>>,
    /// The user-space monitor's watchdog, held here across its restarts (USW-1).
    watchdog: WatchdogSlot,
    phase: Phase,
    monitors_started: bool,
    suspended: bool,
    /// DOWN-3 was already tried once: a governor that fails the emergency shutdown too is not
    /// started again and again.
    emergency_tried: bool,
    /// A final action the governor never answered (it crashed on it): asked again of the
    /// governor's restarted incarnation.
    unanswered: Option<(String, DaemonAction)>,
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
    /// Start (or restart) one core actor and keep its typed handle.
    async fn start_core(&mut self, me: &ActorRef<DaemonMsg>, core: Core) -> Result<(), String> {
        let cell = me.get_cell();
        let names = &self.ctx.names;
        let failed = |e: ractor::SpawnErr| {
            format!(
                "cannot start {}: {}",
                core.label(),
                crate::supervise::spawn_error(&e)
            )
        };
        let started = match core {
            Core::Governor => {
                let (a, _) = cell
                    .spawn_linked(Some(names.governor()), RebootGovernor, self.ctx.clone())
                    .await
                    .map_err(failed)?;
                self.governor = Some(a.clone());
                a.get_cell()
            }
            Core::Rc => {
                let (a, _) = cell
                    .spawn_linked(Some(names.rc()), ResourceControl, self.ctx.clone())
                    .await
                    .map_err(failed)?;
                self.rc = Some(a.clone());
                a.get_cell()
            }
            Core::Rm => {
                // A restarted rm keeps the daemon's suspension (OPS-2) and, from the board,
                // each monitor's operator pause (OPS-4).
                let args = RmArgs {
                    ctx: self.ctx.clone(),
                    started: self.monitors_started,
                    suspended: self.suspended,
                };
                let (a, _) = cell
                    .spawn_linked(Some(names.rm()), ResourceMonitor, args)
                    .await
                    .map_err(failed)?;
                self.rm = Some(a.clone());
                a.get_cell()
            }
            Core::UserSpace => {
                let Some(spec) = user_space_monitor(&self.ctx.config) else {
                    return Ok(());
                };
                let (a, _) = cell
                    .spawn_linked(
                        Some(names.userspace(&spec.name)),
                        UserSpaceActor,
                        UserSpaceArgs {
                            ctx: self.ctx.clone(),
                            spec,
                            watchdog: self.watchdog.clone(),
                        },
                    )
                    .await
                    .map_err(failed)?;
                self.userspace = Some(a.clone());
                a.get_cell()
            }
        };
        self.children.started(core, started);
        Ok(())
    }

    /// Carry out the supervisor's decision about a core actor's exit.
    async fn decided(&mut self, me: &ActorRef<DaemonMsg>, decision: Decision<Core>) {
        match decision {
            Decision::Ignore => {}
            Decision::Restart(key) => {
                if let Err(e) = self.start_core(me, key).await {
                    let next = self.children.spawn_failed(key, &e);
                    Box::pin(self.decided(me, next)).await;
                    return;
                }
                if key == Core::Governor {
                    if let Some((origin, action)) = self.unanswered.take() {
                        let _ = me.cast(DaemonMsg::FinalAction { origin, action });
                    }
                }
            }
            Decision::Escalate(key) => self.core_failed(me, key).await,
        }
    }

    /// DOWN-3: a core actor failed for good. What is left is stopped, then the OS shuts down
    /// through the governor. A governor that failed for good is replaced once, uncounted, for
    /// this one shutdown: it is the only door to an OS action.
    async fn core_failed(&mut self, me: &ActorRef<DaemonMsg>, core: Core) {
        let actor = self
            .children
            .path(&core)
            .unwrap_or_else(|| core.label().to_string());
        if self.emergency_tried {
            self.begin_stop(me, format!("internal process {actor} keeps failing"));
            return;
        }
        self.emergency_tried = true;
        // The emergency shutdown supersedes a final action still waiting for an answer.
        self.unanswered = None;
        if core == Core::Governor {
            if let Err(e) = self.start_core(me, Core::Governor).await {
                self.ctx.emit(EventKind::OsActionFailed {
                    action: OsAction::Shutdown,
                    reason: e,
                });
                self.begin_stop(me, "the reboot governor keeps failing".into());
                return;
            }
        }
        let _ = me.cast(DaemonMsg::FinalAction {
            origin: format!("internal process {actor}"),
            action: DaemonAction::EmergencyShutdown,
        });
    }

    fn rc(&self) -> Option<ActorRef<RcMsg>> {
        self.rc.clone().filter(running)
    }

    fn rm(&self) -> Option<ActorRef<RmMsg>> {
        self.rm.clone().filter(running)
    }

    fn governor(&self) -> Option<ActorRef<GovernorMsg>> {
        self.governor.clone().filter(running)
    }

    fn begin_stop(&mut self, me: &ActorRef<DaemonMsg>, reason: String) {
        if self.phase == Phase::Stopping {
            return;
        }
        self.phase = Phase::Stopping;
        // Only the governor is restarted from here on: the OS action still needs it.
        self.children.wind_down(|c| *c == Core::Governor);
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
        let label = FinalAction::Daemon(action);
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
                    final_action: label,
                    reply,
                },
                Some(GOVERNOR_TIMEOUT),
            )
            .await;
        match permit {
            Ok(ractor::rpc::CallResult::Success(Permit::Granted { .. })) => {
                self.ctx.emit(EventKind::FinalActionStarted {
                    origin: origin.clone(),
                    action: label,
                });
                self.pending_os = Some(os);
                self.begin_stop(me, origin);
            }
            // Refused: the governor said so in an event.
            Ok(ractor::rpc::CallResult::Success(Permit::Refused { .. })) => {}
            // No answer (the governor crashed on it, or hangs): never act blindly, but ask
            // its restarted successor, so a crash cannot swallow a final action.
            _ => self.unanswered = Some((origin, action)),
        }
    }
}

impl Actor for Daemon {
    type Msg = DaemonMsg;
    type State = DaemonState;
    type Arguments = Ctx;

    async fn pre_start(
        &self,
        me: ActorRef<DaemonMsg>,
        ctx: Ctx,
    ) -> Result<DaemonState, ActorProcessingErr> {
        let to_me = me.clone();
        Ok(DaemonState {
            children: Supervisor::new(&ctx, Level::Core, move |core| {
                let _ = to_me.cast(DaemonMsg::RestartCore(core));
            }),
            ctx,
            governor: None,
            rc: None,
            rm: None,
            userspace: None,
            watchdog: WatchdogSlot::default(),
            phase: Phase::Starting,
            monitors_started: false,
            suspended: false,
            emergency_tried: false,
            unanswered: None,
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
            state.start_core(&me, core).await?;
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
        state.ctx.chaos_check(&me.get_cell());
        match msg {
            DaemonMsg::RestartCore(core) => {
                if state.phase != Phase::Stopping || core == Core::Governor {
                    let decision = Decision::Restart(core);
                    state.decided(&me, decision).await;
                }
            }
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
                    state.ctx.board.groups_started.send_replace(true);
                    state.monitors_started = true;
                    if let Err(e) = state.start_core(&me, Core::UserSpace).await {
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
                if user_space_monitor(&state.ctx.config).is_some() {
                    if let Some(us) = state.userspace.clone().filter(running) {
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
        // (PROC-2: abnormal termination of clprc / clprm); past the intensity, DOWN-3.
        let decision = state.children.on_event(&event);
        state.decided(&me, decision).await;
        Ok(())
    }

    async fn post_stop(
        &self,
        _me: ActorRef<DaemonMsg>,
        state: &mut DaemonState,
    ) -> Result<(), ActorProcessingErr> {
        // Reverse start order: the user-space monitor and rm first, the governor last.
        state.children.stop_all().await;
        Ok(())
    }
}

/// Whether a handle kept by a supervisor still points at a live incarnation; a miss is
/// reported, never silent.
fn running<M>(actor: &ActorRef<M>) -> bool {
    let up = actor.get_status() < ractor::ActorStatus::Stopping;
    if !up {
        tracing::warn!(actor = ?actor.get_name(), "actor not running; message not sent");
    }
    up
}
