//! upkeep's engine: the supervision tree, escalation ladders and the reboot governor.
//!
//! See docs/ARCHITECTURE.md for the map. The engine reaches the OS only through [`host::Host`];
//! [`sim::SimulatedHost`] and the binary's `LinuxHost` are its two hosts, [`fault::Faulty`]
//! decorates either. [`Engine`] starts one daemon tree and hands out what the edges need: the
//! root actor, the event feed and the status board.

#![forbid(unsafe_code)]

pub mod board;
pub mod chaos;
pub mod clock;
pub mod ctx;
pub mod daemon;
pub mod event;
pub mod exec;
pub mod fault;
pub mod governor;
pub mod group;
pub mod host;
pub mod ladder;
pub mod monitor;
pub mod probe;
pub mod rc;
pub mod rehearse;
pub mod retry;
pub mod rm;
pub mod sim;
pub mod supervise;
pub mod task;
pub mod tree;
pub mod userspace;

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorRef};
use upkeep_config::Config;

use crate::board::Board;
use crate::chaos::CrashPlan;
use crate::ctx::{Ctx, Names};
use crate::daemon::{Daemon, DaemonMsg};
use crate::event::Events;
use crate::exec::ExecMsg;
use crate::governor::GovernorMsg;
use crate::governor::PowerDoor;
use crate::host::Host;
use crate::rc::RcMsg;
use crate::rm::RmMsg;
use crate::userspace::WatchdogDoor;

/// Errors starting the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot start the daemon's actor tree: {0}")]
    Spawn(String),
}

/// OPS-4: the longest timed monitor suspension (`monitor suspend --for`). A longer pause is a
/// suspension without `--for`, resumed by hand; the bound keeps an operator's typo
/// (`--for 100000years`) from reaching a clock (issue 8, defect 4).
pub const MAX_MONITOR_SUSPENSION: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// A timed suspension outside `1 s ..= MAX_MONITOR_SUSPENSION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("`for_s` must be between 1 and {max} seconds (7 days), got {got}; for a longer pause suspend without a duration and resume by hand", max = MAX_MONITOR_SUSPENSION.as_secs())]
pub struct SuspensionOutOfRange {
    pub got: u64,
}

/// Whether `span` may be a timed suspension (1 s ..= [`MAX_MONITOR_SUSPENSION`]).
pub fn check_suspension(span: Duration) -> Result<(), SuspensionOutOfRange> {
    if span < Duration::from_secs(1) || span > MAX_MONITOR_SUSPENSION {
        return Err(SuspensionOutOfRange {
            got: span.as_secs(),
        });
    }
    Ok(())
}

/// Check a timed suspension and say when it ends: never panics, whatever `span` is.
pub fn suspension_end(
    now: std::time::SystemTime,
    span: Duration,
) -> Result<std::time::SystemTime, SuspensionOutOfRange> {
    check_suspension(span)?;
    now.checked_add(span).ok_or(SuspensionOutOfRange {
        got: span.as_secs(),
    })
}

/// Errors of an operator operation on a running engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    #[error("the daemon is not running")]
    NotRunning,
    /// A value of the request is outside its allowed range.
    #[error("{0}")]
    Invalid(String),
    #[error("unknown {kind} `{name}`")]
    Unknown { kind: &'static str, name: String },
    #[error("{0}")]
    Refused(String),
    #[error("{what} did not succeed; see `upkeep events`")]
    Failed { what: String },
}

/// How long an operator operation may take before the caller is told (scripts have their own
/// timeouts; this only bounds the wait for the answer).
const OP_TIMEOUT: Duration = Duration::from_secs(3600);

fn answer<T>(
    reply: Result<ractor::rpc::CallResult<T>, ractor::MessagingErr<impl Sized>>,
) -> Result<T, OpError> {
    match reply {
        Ok(ractor::rpc::CallResult::Success(v)) => Ok(v),
        _ => Err(OpError::NotRunning),
    }
}

/// One running daemon tree.
pub struct Engine {
    pub daemon: ActorRef<DaemonMsg>,
    pub ctx: Ctx,
    join: tokio::task::JoinHandle<()>,
}

impl Engine {
    /// Start the tree: governor, rc and rm under the daemon root; the auto-start groups start,
    /// then the monitors (OPS-1, PROC-3). `instance` prefixes every registered actor name.
    pub async fn start(
        config: Arc<Config>,
        host: Arc<dyn Host>,
        instance: &str,
    ) -> Result<Engine, EngineError> {
        Engine::start_with_crash_plan(config, host, instance, CrashPlan::default()).await
    }

    /// [`Engine::start`] with a crash plan from `SimulatedHost::crash_plan`, for supervision
    /// tests: the actors it names panic in their next handler (`chaos.rs`).
    pub async fn start_with_crash_plan(
        config: Arc<Config>,
        host: Arc<dyn Host>,
        instance: &str,
        chaos: CrashPlan,
    ) -> Result<Engine, EngineError> {
        let ctx = Ctx {
            chaos,
            ..context(config, host, instance)
        };
        let (daemon, join) = Actor::spawn(Some(ctx.names.daemon()), Daemon, ctx.clone())
            .await
            .map_err(|e| EngineError::Spawn(e.to_string()))?;
        Ok(Engine { daemon, ctx, join })
    }

    pub fn events(&self) -> &Events {
        &self.ctx.events
    }

    pub fn board(&self) -> &Arc<Board> {
        &self.ctx.board
    }

    /// OPS-5: orderly stop; returns once the groups are deactivated and the tree is down.
    pub async fn stop(self, reason: &str) {
        let reason = reason.to_string();
        let _ = self
            .daemon
            .call(
                |port| DaemonMsg::Stop {
                    reason,
                    done: Some(port),
                },
                Some(Duration::from_secs(3600)),
            )
            .await;
        let _ = self.join.await;
        gone(&self.ctx).await;
    }

    /// Wait until the daemon stops by itself (a final action stopped it).
    pub async fn wait(self) {
        let _ = self.join.await;
        gone(&self.ctx).await;
    }

    /// Whether the root actor has stopped.
    pub fn is_finished(&self) -> bool {
        self.join.is_finished()
    }

    /// The configuration in force (a hot apply replaces it).
    pub fn config(&self) -> Arc<Config> {
        match self.ctx.live.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The live supervision tree (`upkeep tree`).
    pub fn tree(&self) -> tree::TreeNode {
        tree::snapshot(&self.ctx, &self.daemon.get_cell())
    }

    /// OPS-2 / OPS-3: suspend or resume all monitoring; groups keep running.
    pub async fn suspend(&self, suspend: bool) -> Result<(), OpError> {
        let reply = self
            .daemon
            .call(
                |done| match suspend {
                    true => DaemonMsg::Suspend { done: Some(done) },
                    false => DaemonMsg::Resume { done: Some(done) },
                },
                Some(OP_TIMEOUT),
            )
            .await;
        answer(reply)
    }

    /// `group start|stop NAME` (CMD-4).
    pub async fn group(&self, name: &str, start: bool) -> Result<(), OpError> {
        let known = self.config().group(name).is_some();
        let group = name.to_string();
        self.rc_operation("group", name, known, start, |done| RcMsg::Group {
            group,
            start,
            reason: "operator".into(),
            done: Some(done),
        })
        .await
    }

    /// `resource start|stop NAME`: one exec resource alone.
    pub async fn resource(&self, name: &str, start: bool) -> Result<(), OpError> {
        let known = self.config().resource(name).is_some();
        let resource = name.to_string();
        self.rc_operation("resource", name, known, start, |done| RcMsg::Resource {
            resource,
            start,
            done: Some(done),
        })
        .await
    }

    /// `inject kill RESOURCE`: the resource's own actor SIGKILLs its process, as a crash would;
    /// returns the pid it killed. Only the owner of a process signals it (issue 8, defect 9).
    pub async fn kill_process(&self, resource: &str) -> Result<u32, OpError> {
        let unknown = || OpError::Unknown {
            kind: "resource",
            name: resource.into(),
        };
        let config = self.config();
        let group = config.group_of(resource).ok_or_else(unknown)?;
        let actor = ActorRef::<ExecMsg>::where_is(self.ctx.names.resource(&group.name, resource))
            .ok_or_else(|| {
            OpError::Refused(format!("resource `{resource}` has no running process"))
        })?;
        let reply = actor.call(ExecMsg::Kill, Some(OP_TIMEOUT)).await;
        answer(reply)?.map_err(OpError::Refused)
    }

    /// Ask rc to start or stop `name` (a `kind`) and wait for the outcome.
    async fn rc_operation(
        &self,
        kind: &'static str,
        name: &str,
        known: bool,
        start: bool,
        msg: impl FnOnce(ractor::RpcReplyPort<bool>) -> RcMsg,
    ) -> Result<(), OpError> {
        if !known {
            return Err(OpError::Unknown {
                kind,
                name: name.into(),
            });
        }
        let rc = ActorRef::<RcMsg>::where_is(self.ctx.names.rc()).ok_or(OpError::NotRunning)?;
        match answer(rc.call(msg, Some(OP_TIMEOUT)).await)? {
            true => Ok(()),
            false => Err(OpError::Failed {
                what: format!("{} of {kind} `{name}`", verb(start)),
            }),
        }
    }

    /// OPS-4 (`clpmonctrl -s`): suspend monitors by name (all when `names` is empty), for
    /// `for_` if given (the suspension then ends by itself).
    pub async fn suspend_monitors(
        &self,
        names: Vec<String>,
        for_: Option<Duration>,
    ) -> Result<(), OpError> {
        if let Some(span) = for_ {
            check_suspension(span).map_err(|e| OpError::Invalid(e.to_string()))?;
        }
        let rm = ActorRef::<RmMsg>::where_is(self.ctx.names.rm()).ok_or(OpError::NotRunning)?;
        let reply = rm
            .call(
                |done| RmMsg::SuspendMonitors {
                    names,
                    for_,
                    done: Some(done),
                },
                Some(OP_TIMEOUT),
            )
            .await;
        answer(reply)?.map_err(OpError::Refused)
    }

    /// OPS-4 (`clpmonctrl -r`).
    pub async fn resume_monitors(&self, names: Vec<String>) -> Result<(), OpError> {
        let rm = ActorRef::<RmMsg>::where_is(self.ctx.names.rm()).ok_or(OpError::NotRunning)?;
        let reply = rm
            .call(
                |done| RmMsg::ResumeMonitors {
                    names,
                    done: Some(done),
                },
                Some(OP_TIMEOUT),
            )
            .await;
        answer(reply)?.map_err(OpError::Refused)
    }

    /// CMD-3 `upkeep down [--reboot]`: orderly stop, then shutdown or reboot (manual: not
    /// counted; simulated unless OS actions are real). Returns once the daemon has stopped.
    pub async fn down(self, reboot: bool) -> Result<(), OpError> {
        let reply = self
            .daemon
            .call(
                |done| DaemonMsg::Down {
                    reboot,
                    done: Some(done),
                },
                Some(OP_TIMEOUT),
            )
            .await;
        answer(reply)?;
        let _ = self.join.await;
        gone(&self.ctx).await;
        Ok(())
    }

    /// APPLY-2 #2: apply a configuration whose changes need only a suspend / resume
    /// (monitors, reboot limit) while the groups keep running.
    pub async fn reconfigure(&self, config: Arc<Config>) -> Result<(), OpError> {
        let reply = self
            .daemon
            .call(
                |done| DaemonMsg::Reconfigure {
                    config,
                    done: Some(done),
                },
                Some(OP_TIMEOUT),
            )
            .await;
        answer(reply)?.map_err(OpError::Refused)
    }
}

/// The shared context of one tree (an engine, or the power path alone).
fn context(config: Arc<Config>, host: Arc<dyn Host>, instance: &str) -> Ctx {
    let clock_host = host.clone();
    let events = Events::new(Arc::new(move || clock_host.now_wall()));
    let board = Board::new(&config, host.now_wall());
    let live = Arc::new(std::sync::RwLock::new(config.clone()));
    Ctx {
        power: PowerDoor::new(host.clone()),
        watchdogs: WatchdogDoor::new(host.clone()),
        host,
        events,
        board,
        config,
        live,
        names: Names::new(instance),
        journal: Default::default(),
        chaos: CrashPlan::default(),
    }
}

/// CMD-3 `upkeep down` when no engine runs (`upkeep stop` came first): the OS action still
/// takes the one power path, a RebootGovernor calling `Power::os_action`, so the host's
/// `os_actions` switch and the `pm` events are those of a down with an engine (issue 8,
/// defect 9). Manual, so the reboot count is not touched.
pub struct PowerPath {
    ctx: Ctx,
    governor: ActorRef<GovernorMsg>,
    join: tokio::task::JoinHandle<()>,
}

impl PowerPath {
    /// Start a governor alone (it reads the reboot count like an engine's would).
    pub async fn open(
        config: Arc<Config>,
        host: Arc<dyn Host>,
        instance: &str,
    ) -> Result<PowerPath, EngineError> {
        let ctx = context(config, host, instance);
        let (governor, join) = Actor::spawn(
            Some(ctx.names.governor()),
            governor::RebootGovernor,
            ctx.clone(),
        )
        .await
        .map_err(|e| EngineError::Spawn(e.to_string()))?;
        Ok(PowerPath {
            ctx,
            governor,
            join,
        })
    }

    /// Its events (`pm 26`, then `pm 22` or `pm 23`), for the daemon's feed.
    pub fn events(&self) -> &Events {
        &self.ctx.events
    }

    /// Shut down or reboot through the governor; returns once the governor has stopped.
    pub async fn down(self, reboot: bool) -> Result<host::OsActionOutcome, OpError> {
        let action = if reboot {
            host::OsAction::Reboot
        } else {
            host::OsAction::Shutdown
        };
        self.ctx.emit(event::EventKind::ManualDown { action });
        let reply = self
            .governor
            .call(
                |reply| GovernorMsg::Perform {
                    action,
                    reply: Some(reply),
                },
                Some(OP_TIMEOUT),
            )
            .await;
        self.governor.stop(Some("manual OS action done".into()));
        let _ = self.join.await;
        gone(&self.ctx).await;
        answer(reply)?.map_err(|_| OpError::Failed {
            what: format!("the manual {action}"),
        })
    }
}

/// Wait (bounded) until no actor of this tree is registered any more, so a new engine with the
/// same instance name can start at once (`upkeep stop` / `start`, a stop-restart apply).
async fn gone(ctx: &Ctx) {
    let prefix = format!("{}/", ctx.names.instance());
    let ours = |name: &String| name == ctx.names.instance() || name.starts_with(&prefix);
    for _ in 0..5000 {
        if !ractor::registry::registered().iter().any(ours) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tracing::warn!(
        instance = ctx.names.instance(),
        "actors of a stopped engine are still registered"
    );
}

fn verb(start: bool) -> &'static str {
    if start {
        "start"
    } else {
        "stop"
    }
}
