//! The daemon's operations behind the control socket: one engine slot and what operators do to
//! it (OPS-1..5, CMD-2..4, CMD-6, CMD-7, CMD-9, DOWN-8, APPLY-2..6).
//!
//! `upkeep stop` stops the engine but keeps the process and the socket (state `stopped`);
//! `upkeep start` builds a new engine from the configuration in force. State-changing requests
//! take the slot's lock, so two operators cannot interleave a stop and a start; reads (status,
//! tree, explain) use the [`View`] and never wait on a running operation.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ractor::ActorRef;
use tokio::sync::{watch, Mutex};
use upkeep_actors::board::{Board, GroupState, ResourceState};
use upkeep_actors::ctx::Ctx;
use upkeep_actors::daemon::DaemonMsg;
use upkeep_actors::fault::Fault;
use upkeep_actors::host::{Host, OsActionOutcome};
use upkeep_actors::{Engine, EngineError, OpError, PowerPath};
use upkeep_config::Config;

use super::apply;
use super::explain;
use super::feed::{Feed, Relay};
use super::life::{self, Life, Phase};
use super::names::{self, Kind};
use super::proto::{
    ApplyMethod, ApplyReply, ConfigReply, DaemonAction, ErrorKind, FaultDto, MonitorAction,
    Request, Response, Toggle, TreeNodeDto, TreeReply, PROTOCOL_VERSION,
};
use super::snapshot::{self, ServerFacts};
use crate::host::safe_file::{self, Trust};

/// The registered-name prefix of the daemon's actor tree.
pub const INSTANCE: &str = "upkeep";

/// Injects faults into the live host (the daemon wraps its host in `Faulty`).
pub type Injector = Arc<dyn Fn(Option<Fault>) + Send + Sync>;
/// Replaces the log filter; `Err` says why the directive is invalid.
pub type LogFilter = Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// Why the daemon process should end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// A final action stopped the engine (RES-4, RES-5, MON-13).
    FinalAction,
    /// `upkeep down` (CMD-3).
    Down,
}

/// The configuration text in force and where it came from (for `config pull`, BAK-3).
#[derive(Debug, Clone)]
pub struct Source {
    pub text: String,
    pub origin: String,
    /// The daemon's `--config` file: `config apply` installs the new text there (CMD-6a).
    pub file: Option<PathBuf>,
}

/// What the operations need besides the engine.
pub struct Setup {
    pub host: Arc<dyn Host>,
    pub inject: Injector,
    pub log_filter: Option<LogFilter>,
    pub source: Source,
    pub state_dir: PathBuf,
    pub log_dir: PathBuf,
    pub facts: ServerFacts,
    /// The alert hub and the alert log's newest `seq` (issue 11); `None`: events stay in memory.
    pub alerts: Option<(crate::alerts::Hub, u64)>,
}

struct Slot {
    engine: Option<Engine>,
    relay: Option<Relay>,
    generation: u64,
}

/// What reads see: the newest engine's board and life, even after it stopped.
#[derive(Clone)]
pub struct View {
    pub config: Arc<Config>,
    pub board: Arc<Board>,
    pub life: watch::Receiver<Life>,
    tree: (Ctx, ActorRef<DaemonMsg>),
}

/// The operations; one per daemon, shared by every connection.
pub struct Ops {
    setup: Setup,
    slot: Mutex<Slot>,
    view: RwLock<View>,
    source: std::sync::Mutex<Source>,
    pub feed: Feed,
    ending: watch::Sender<Option<Ending>>,
    /// `down` finished; the process ends once its reply is written.
    down_pending: std::sync::atomic::AtomicBool,
}

impl Ops {
    /// Start the first engine (OPS-1) and return the operations around it.
    pub async fn start(config: Arc<Config>, setup: Setup) -> Result<Arc<Ops>, EngineError> {
        let feed = match &setup.alerts {
            Some((hub, last_seq)) => Feed::with_alerts(Some(hub.clone()), *last_seq),
            None => Feed::new(),
        };
        let engine = Engine::start(config.clone(), setup.host.clone(), INSTANCE).await?;
        let relay = feed.relay(engine.events());
        let view = view_of(&engine, config);
        let source = setup.source.clone();
        let ops = Arc::new(Ops {
            setup,
            slot: Mutex::new(Slot {
                engine: Some(engine),
                relay: Some(relay),
                generation: 1,
            }),
            view: RwLock::new(view),
            source: std::sync::Mutex::new(source),
            feed,
            ending: watch::channel(None).0,
            down_pending: std::sync::atomic::AtomicBool::new(false),
        });
        ops.watch_engine(1);
        Ok(ops)
    }

    /// The current view.
    pub fn view(&self) -> View {
        match self.view.read() {
            Ok(v) => v.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Resolves when the process should end.
    pub fn ending(&self) -> watch::Receiver<Option<Ending>> {
        self.ending.subscribe()
    }

    /// The server wrote the reply to `down` (or lost its client): end the process now.
    pub fn signal_reply_sent(&self) {
        if self.down_pending.load(std::sync::atomic::Ordering::SeqCst) {
            self.ending.send_replace(Some(Ending::Down));
        }
    }

    pub fn facts(&self) -> &ServerFacts {
        &self.setup.facts
    }

    /// SIGTERM / SIGINT: orderly stop of whatever engine runs (OPS-5).
    pub async fn shutdown(&self, reason: &str) {
        let mut slot = self.slot.lock().await;
        self.stop_engine(&mut slot, reason).await;
    }

    /// Notice an engine that stops by itself (a final action) and end the process then.
    fn watch_engine(self: &Arc<Self>, generation: u64) {
        let ops = Arc::downgrade(self);
        let mut life = self.view().life;
        tokio::spawn(async move {
            let mut poll = tokio::time::interval(Duration::from_millis(250));
            loop {
                tokio::select! {
                    _ = life.wait_for(|l| l.phase == Phase::Stopped) => {}
                    _ = poll.tick() => {}
                }
                let Some(ops) = ops.upgrade() else { return };
                let Ok(mut slot) = ops.slot.try_lock() else {
                    // An operation runs and decides this engine's fate; look again later
                    // (the life watch may stay "stopped", so wait on the clock, not on it).
                    poll.tick().await;
                    continue;
                };
                if slot.generation != generation || slot.engine.is_none() {
                    return;
                }
                let finished = slot.engine.as_ref().is_some_and(Engine::is_finished)
                    || life.borrow().phase == Phase::Stopped;
                if !finished {
                    continue;
                }
                tracing::warn!("the daemon was stopped by a final action");
                if let Some(engine) = slot.engine.take() {
                    engine.wait().await;
                }
                if let Some(relay) = slot.relay.take() {
                    relay.finish().await;
                }
                // `send_replace`, not `send`: with nobody subscribed yet (a final action in
                // the daemon's first milliseconds, before `serve_on` waits on it) `send` drops
                // the value, and the daemon would wait forever with its groups stopped.
                ops.ending.send_replace(Some(Ending::FinalAction));
                return;
            }
        });
    }

    async fn stop_engine(&self, slot: &mut Slot, reason: &str) -> bool {
        let Some(engine) = slot.engine.take() else {
            return false;
        };
        engine.stop(reason).await;
        if let Some(relay) = slot.relay.take() {
            relay.finish().await;
        }
        true
    }

    async fn start_engine(
        self: &Arc<Self>,
        slot: &mut Slot,
        config: Arc<Config>,
    ) -> Result<(), EngineError> {
        let engine = Engine::start(config.clone(), self.setup.host.clone(), INSTANCE).await?;
        slot.relay = Some(self.feed.relay(engine.events()));
        let view = view_of(&engine, config);
        slot.engine = Some(engine);
        slot.generation += 1;
        match self.view.write() {
            Ok(mut v) => *v = view,
            Err(p) => *p.into_inner() = view,
        }
        self.watch_engine(slot.generation);
        Ok(())
    }

    /// Serve one request (the caller checked the peer's right to it).
    pub async fn answer(self: &Arc<Self>, request: Request) -> Response {
        if let Err(why) = request.check() {
            return Response::failure(ErrorKind::Invalid, why);
        }
        match request {
            Request::Status { .. } => Response::Status(self.status()),
            Request::Events { since, .. } | Request::Follow { since, .. } => {
                let (events, _) = self.feed.since(since);
                Response::Events(super::proto::EventsReply {
                    version: PROTOCOL_VERSION,
                    events,
                })
            }
            Request::Alerts {
                since, limit, all, ..
            } => self.alerts(since, limit, all),
            Request::Tree { .. } => {
                let view = self.view();
                let root = upkeep_actors::tree::snapshot(&view.tree.0, &view.tree.1.get_cell());
                Response::Tree(TreeReply {
                    version: PROTOCOL_VERSION,
                    root: tree_dto(&root),
                })
            }
            Request::Explain { name, .. } => {
                let view = self.view();
                if let Some(unknown) =
                    names::check(&view.config, &[Kind::Monitor, Kind::Resource], &name)
                {
                    return unknown;
                }
                match explain::explain(&view.config, &view.board, &name) {
                    Ok(reply) => Response::Explain(reply),
                    Err(message) => Response::failure(ErrorKind::Unknown, message),
                }
            }
            Request::Daemon { action, .. } => self.daemon(action).await,
            Request::Group { name, action, .. } => {
                if let Some(unknown) = names::check(&self.view().config, &[Kind::Group], &name) {
                    return unknown;
                }
                let slot = self.slot.lock().await;
                let Some(engine) = running(&slot) else {
                    return stopped_error();
                };
                let state = engine.board().group(&name).map(|g| g.state);
                let what = format!("group `{name}`");
                match (action, state) {
                    // Issue 13: like systemctl, asking for the state it is in is no error.
                    (Toggle::Start, Some(GroupState::Online)) => already(&what, "online"),
                    (Toggle::Stop, Some(GroupState::Offline)) => already(&what, "offline"),
                    (Toggle::Start, _) => {
                        result(engine.group(&name, true).await, format!("{what} started"))
                    }
                    (Toggle::Stop, _) => {
                        result(engine.group(&name, false).await, format!("{what} stopped"))
                    }
                    (Toggle::Restart, _) => match engine.group(&name, false).await {
                        Ok(()) => result(
                            engine.group(&name, true).await,
                            format!("{what} restarted (stopped, then started)"),
                        ),
                        Err(e) => op_error(e),
                    },
                }
            }
            Request::Resource { name, action, .. } => {
                if let Some(unknown) = names::check(&self.view().config, &[Kind::Resource], &name) {
                    return unknown;
                }
                let slot = self.slot.lock().await;
                let Some(engine) = running(&slot) else {
                    return stopped_error();
                };
                let state = engine.board().resource(&name).map(|r| r.state);
                let what = format!("resource `{name}`");
                match (action, state) {
                    (Toggle::Start, Some(ResourceState::Online)) => already(&what, "online"),
                    (Toggle::Stop, Some(ResourceState::Offline)) => already(&what, "offline"),
                    (Toggle::Start, _) => result(
                        engine.resource(&name, true).await,
                        format!("{what} started"),
                    ),
                    (Toggle::Stop, _) => result(
                        engine.resource(&name, false).await,
                        format!("{what} stopped"),
                    ),
                    (Toggle::Restart, _) => match engine.resource(&name, false).await {
                        Ok(()) => result(
                            engine.resource(&name, true).await,
                            format!("{what} restarted (stopped, then started)"),
                        ),
                        Err(e) => op_error(e),
                    },
                }
            }
            Request::Monitors {
                action,
                names,
                for_s,
                ..
            } => {
                let config = self.view().config;
                if let Some(unknown) = names
                    .iter()
                    .find_map(|n| names::check(&config, &[Kind::Monitor], n))
                {
                    return unknown;
                }
                let slot = self.slot.lock().await;
                let Some(engine) = running(&slot) else {
                    return stopped_error();
                };
                let which = if names.is_empty() {
                    "all monitors".to_string()
                } else {
                    names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                match action {
                    MonitorAction::Suspend => {
                        let for_ = for_s.map(Duration::from_secs);
                        let until = for_.map_or(String::new(), |d| {
                            format!(" for {}", humantime::format_duration(d))
                        });
                        result(
                            engine.suspend_monitors(names, for_).await,
                            format!("suspended {which}{until}"),
                        )
                    }
                    MonitorAction::Resume => result(
                        engine.resume_monitors(names).await,
                        format!("resumed {which}"),
                    ),
                }
            }
            Request::Down { reboot, .. } => self.down(reboot).await,
            Request::ConfigApply {
                text,
                origin,
                restart,
                dry_run,
                ..
            } => self.apply(&text, &origin, restart, dry_run).await,
            Request::ConfigPull { .. } => {
                // After any apply in progress (it holds the slot until its text is installed):
                // its events come out before it ends, and a pull prompted by them must show
                // the new text, not the old.
                let source = {
                    let _applying = self.slot.lock().await;
                    self.source()
                };
                Response::Config(ConfigReply {
                    version: PROTOCOL_VERSION,
                    origin: source.origin,
                    text: source.text,
                })
            }
            Request::LogLevel { filter, .. } => match &self.setup.log_filter {
                None => Response::failure(
                    ErrorKind::Refused,
                    "this daemon's log filter cannot be changed",
                ),
                Some(set) => match set(&filter) {
                    Ok(()) => {
                        tracing::info!(filter = %filter, "log filter changed by an operator");
                        Response::done(format!("log filter is now `{filter}`"))
                    }
                    Err(e) => Response::failure(
                        ErrorKind::BadRequest,
                        format!("invalid log filter `{filter}`: {e}"),
                    ),
                },
            },
            Request::Inject { fault, .. } => self.inject(fault).await,
        }
    }

    /// `status` from the newest engine's board (its last states once stopped).
    pub fn status(&self) -> super::proto::StatusReply {
        let view = self.view();
        let life = *view.life.borrow();
        let mut reply = snapshot::status(
            &view.config,
            &view.board,
            &self.setup.facts,
            life,
            self.feed.last_seq(),
        );
        reply.server.state_dir = self.setup.state_dir.display().to_string();
        reply.server.log_dir = self.setup.log_dir.display().to_string();
        reply.server.config_file = self
            .source()
            .file
            .map(|f| f.display().to_string())
            .unwrap_or_default();
        reply
    }

    fn source(&self) -> Source {
        match self.source.lock() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    async fn daemon(self: &Arc<Self>, action: DaemonAction) -> Response {
        let mut slot = self.slot.lock().await;
        match action {
            DaemonAction::Start => {
                if running(&slot).is_some() {
                    return already("the daemon", "started");
                }
                let config = self.view().config;
                match self.start_engine(&mut slot, config).await {
                    Ok(()) => Response::done("daemon started"),
                    Err(e) => Response::failure(ErrorKind::Failed, e.to_string()),
                }
            }
            DaemonAction::Stop => {
                if self.stop_engine(&mut slot, "operator").await {
                    Response::done("daemon stopped: groups deactivated, monitors stopped")
                } else {
                    already("the daemon", "stopped")
                }
            }
            DaemonAction::Suspend | DaemonAction::Resume => {
                let Some(engine) = running(&slot) else {
                    return stopped_error();
                };
                let suspend = action == DaemonAction::Suspend;
                let done = engine.suspend(suspend).await;
                if done.is_ok() {
                    // The status reads `suspended` from the event feed, which follows the
                    // engine by a moment: answer once it shows, so a `status` right after
                    // `suspend` is true (bounded: the engine has done it either way).
                    let mut life = self.view().life;
                    let _ = tokio::time::timeout(
                        Duration::from_secs(2),
                        life.wait_for(|l| l.suspended == suspend),
                    )
                    .await;
                }
                result(
                    done,
                    if suspend {
                        "daemon suspended: monitors stopped, groups keep running"
                    } else {
                        "daemon resumed: monitors restarted"
                    },
                )
            }
        }
    }

    async fn down(&self, reboot: bool) -> Response {
        let mut slot = self.slot.lock().await;
        let action = if reboot { "reboot" } else { "shutdown" };
        let outcome = match slot.engine.take() {
            Some(engine) => {
                let done = engine.down(reboot).await;
                if let Some(relay) = slot.relay.take() {
                    relay.finish().await;
                }
                done.map(|()| None)
            }
            // Already stopped (OPS-5 done): only the OS action is left, and it still takes the
            // one power path, the governor (issue 8, defect 9).
            None => {
                let config = self.view().config;
                let path = match PowerPath::open(config, self.setup.host.clone(), INSTANCE).await {
                    Ok(path) => path,
                    Err(e) => return Response::failure(ErrorKind::Failed, e.to_string()),
                };
                let relay = self.feed.relay(path.events());
                let done = path.down(reboot).await;
                relay.finish().await;
                done.map(Some)
            }
        };
        match outcome {
            Ok(out) => {
                self.down_pending
                    .store(true, std::sync::atomic::Ordering::SeqCst);
                let how = match (out, self.view().config.os_actions) {
                    (Some(OsActionOutcome::Performed), _)
                    | (None, upkeep_config::OsActions::Real) => {
                        format!("the OS will {action} now")
                    }
                    _ => format!("OS actions are simulated: the OS would {action} now"),
                };
                Response::done(format!("daemon stopped; {how}"))
            }
            Err(e) => op_error(e),
        }
    }

    async fn apply(
        self: &Arc<Self>,
        text: &str,
        origin: &str,
        restart: bool,
        dry_run: bool,
    ) -> Response {
        let origin = if origin.is_empty() {
            "<request>"
        } else {
            origin
        };
        let new = match upkeep_config::parse(text, &self.base_path(origin)) {
            Ok(c) => Arc::new(c),
            Err(errors) => {
                return Response::failure(
                    ErrorKind::BadRequest,
                    format!("`{origin}` is not a valid configuration:\n{errors}"),
                )
            }
        };
        // Issue 10, StrictModes: what a root daemon would run must be changeable by root only.
        let unsafe_paths = crate::daemon::strict::check(&new, Some(&self.target()));
        if !unsafe_paths.is_empty() {
            return Response::failure(
                ErrorKind::BadRequest,
                format!(
                    "`{origin}` is refused: the daemon runs as root, and others could change what it runs:\n{}",
                    unsafe_paths.join("\n")
                ),
            );
        }
        // MSG-3: the message files are read again with every apply; a mistake in them refuses
        // the apply, as a mistake in the configuration does.
        let messages = match self.feed.alerts() {
            Some(_) => match crate::alerts::load_messages(&new, Some(&self.target())) {
                Ok(m) => Some(m),
                Err(e) => {
                    return Response::failure(ErrorKind::BadRequest, format!("`{origin}`: {e}"))
                }
            },
            None => None,
        };
        let mut slot = self.slot.lock().await;
        let old = self.view().config;
        let changes = apply::classify(&old, &new);
        let method = apply::method(&changes);
        let reply = |applied: bool, installed: Option<String>, message: String| {
            Response::Apply(ApplyReply {
                version: PROTOCOL_VERSION,
                method,
                changes: changes.clone(),
                applied,
                installed,
                message,
            })
        };
        if dry_run {
            return reply(false, None, format!("needs {}", method.as_str()));
        }
        let engine_runs = running(&slot).is_some();
        if engine_runs && method == ApplyMethod::StopRestart && !restart {
            return Response::failure(
                ErrorKind::Refused,
                format!(
                    "Need to stop cluster and restart: {} changed; nothing applied. Run again with `--restart` (groups and monitors stop while the daemon restarts)",
                    fields(&changes, ApplyMethod::StopRestart)
                ),
            );
        }
        // Issue 8, defect 8: the new text is written beside the file now (so a full disk
        // refuses the apply before anything changes) but put in place only once the swap
        // succeeded; a failed swap drops it, and the file and `config pull` keep the
        // configuration in force.
        let staged = match self.stage(text) {
            Ok(staged) => staged,
            Err(e) => return Response::failure(ErrorKind::Failed, e),
        };
        if method == ApplyMethod::Reboot {
            // APPLY-6: installed for the next start, never applied live.
            let installed = match self.commit(staged, text, origin) {
                Ok(path) => path,
                Err(e) => return Response::failure(ErrorKind::Failed, e),
            };
            return reply(
                false,
                Some(installed.clone()),
                format!(
                    "Need to shutdown system and reboot: {} changed. Installed as `{installed}`; please shutdown system after push: run `upkeep down --reboot`",
                    fields(&changes, ApplyMethod::Reboot)
                ),
            );
        }
        let log_changed = old.log.level != new.log.level;
        let mut trouble = None;
        let message = if !engine_runs {
            self.set_config(new.clone());
            "the daemon is stopped: the new configuration is used by `upkeep start`".to_string()
        } else {
            match method {
                ApplyMethod::UploadOnly => {
                    self.set_config(new.clone());
                    "applied (upload only): nothing was interrupted".into()
                }
                ApplyMethod::SuspendResume => {
                    let Some(engine) = running(&slot) else {
                        return stopped_error();
                    };
                    let was_suspended = self.view().life.borrow().suspended;
                    if !was_suspended {
                        if let Err(e) = engine.suspend(true).await {
                            return op_error(e);
                        }
                    }
                    let swapped = engine.reconfigure(new.clone()).await;
                    let resumed = if was_suspended {
                        Ok(())
                    } else {
                        engine.suspend(false).await
                    };
                    if let Err(e) = swapped {
                        return op_error(e);
                    }
                    self.set_config(new.clone());
                    if let Err(e) = resumed {
                        // In force, so installed below; but the operator must resume by hand.
                        trouble = Some(format!(
                            "the monitors were not resumed ({e}): run `upkeep resume`"
                        ));
                    }
                    "applied (suspend/resume): monitors were suspended, swapped and resumed; groups kept running".into()
                }
                ApplyMethod::StopRestart | ApplyMethod::Reboot => {
                    self.stop_engine(&mut slot, "configuration apply").await;
                    if let Err(e) = self.start_engine(&mut slot, new.clone()).await {
                        return Response::failure(
                            ErrorKind::Failed,
                            format!("the daemon stopped but did not start again: {e}"),
                        );
                    }
                    "applied (stop/restart): the daemon was stopped and started again".into()
                }
            }
        };
        if log_changed {
            if let Some(set) = &self.setup.log_filter {
                if let Err(e) = set(&new.log.level) {
                    tracing::warn!("the applied log.level is not a valid filter: {e}");
                }
            }
        }
        if let (Some(hub), Some(messages)) = (self.feed.alerts(), messages) {
            hub.set_messages(messages);
            if let Err(e) = hub.reconfigure(&new.alerts) {
                tracing::error!("the applied alert channels could not start: {e}; the previous ones keep running");
            }
        }
        tracing::info!(method = method.as_str(), "configuration applied");
        match self.commit(staged, text, origin) {
            Ok(installed) => match trouble {
                None => reply(true, Some(installed), message),
                Some(trouble) => Response::failure(
                    ErrorKind::Failed,
                    format!("applied and installed as `{installed}`, but {trouble}"),
                ),
            },
            Err(e) => {
                // In force but not on disk: say so, and let `config pull` show what runs.
                self.set_source(text, format!("{origin} (applied, not installed)"));
                tracing::error!("an applied configuration could not be installed: {e}");
                Response::failure(
                    ErrorKind::Failed,
                    format!(
                        "{message}; but {e}: the next daemon start would run the previous file"
                    ),
                )
            }
        }
    }

    /// `upkeep alerts`: the alert log, read without waiting on the engine.
    fn alerts(&self, since: u64, limit: u32, all: bool) -> Response {
        /// The most entries one answer carries.
        const MAX_ALERTS: usize = 10_000;
        let Some(hub) = self.feed.alerts() else {
            return Response::failure(
                ErrorKind::Failed,
                "this daemon keeps no alert log".to_string(),
            );
        };
        let limit = match limit {
            0 => MAX_ALERTS,
            n => (n as usize).min(MAX_ALERTS),
        };
        // Read whole, then filtered: `limit` counts the entries shown.
        let history = hub.read(since, usize::MAX);
        let alerts: Vec<_> = history
            .entries
            .into_iter()
            .filter(|e| all || crate::alerts::alert_log::is_alert(e))
            .take(limit)
            .collect();
        Response::Alerts(super::proto::AlertsReply {
            version: PROTOCOL_VERSION,
            alerts,
            first_seq: history.first_seq,
            last_seq: history.last_seq,
            channels: hub.channels(),
        })
    }

    fn set_config(&self, config: Arc<Config>) {
        match self.view.write() {
            Ok(mut v) => v.config = config,
            Err(p) => p.into_inner().config = config,
        }
    }

    /// Relative script paths in an applied text resolve against the installed file's folder.
    fn base_path(&self, origin: &str) -> PathBuf {
        match &self.source().file {
            Some(file) => file.clone(),
            None => self
                .setup
                .state_dir
                .join(origin.rsplit('/').next().unwrap_or("applied.ron")),
        }
    }

    /// Where `config apply` installs the text: the daemon's `--config` file, or the state
    /// folder's `applied.ron` for a daemon running the built-in demo.
    fn target(&self) -> PathBuf {
        self.source()
            .file
            .unwrap_or_else(|| self.setup.state_dir.join("applied.ron"))
    }

    /// CMD-6a, first half: back up the text in force (BAK-3) and write the new text beside the
    /// target; nothing the daemon reads has changed yet.
    fn stage(&self, text: &str) -> Result<Staged, String> {
        // Issue 10: both files are written through a checked folder handle, never through a
        // link planted at their names; a linked configuration file keeps its link.
        let backup = self.setup.state_dir.join("config.previous.ron");
        safe_file::replace(
            &backup,
            self.source().text.as_bytes(),
            0o600,
            Trust::Private,
            false,
        )
        .map_err(|e| {
            format!(
                "cannot back up the configuration to `{}`: {e}",
                backup.display()
            )
        })?;
        let target = self.target();
        let pending = safe_file::stage(&target, text.as_bytes(), 0o600, Trust::Private, true)
            .map_err(|e| {
                format!(
                    "cannot install the configuration as `{}`: {e}",
                    target.display()
                )
            })?;
        Ok(Staged { pending, target })
    }

    /// CMD-6a, second half: put the staged text in place, and make it what `config pull`
    /// shows.
    fn commit(&self, staged: Staged, text: &str, origin: &str) -> Result<String, String> {
        let Staged { pending, target } = staged;
        if let Err(e) = pending.commit() {
            return Err(format!(
                "cannot install the configuration as `{}`: {e}",
                target.display()
            ));
        }
        self.set_source(
            text,
            format!("{} (applied from {origin})", target.display()),
        );
        Ok(target.display().to_string())
    }

    fn set_source(&self, text: &str, origin: String) {
        let mut s = match self.source.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        s.text = text.to_string();
        s.origin = origin;
    }

    async fn inject(&self, fault: FaultDto) -> Response {
        let inject = &self.setup.inject;
        let view = self.view();
        match fault {
            FaultDto::ProbeFails { monitor, times } => {
                if let Some(refusal) = probe_fault_target(&view.config, &monitor) {
                    return refusal;
                }
                inject(Some(Fault::ProbeFails {
                    monitor: monitor.clone(),
                    times,
                }));
                Response::done(format!(
                    "the next {times} checks of monitor `{monitor}` fail"
                ))
            }
            FaultDto::ProbeHangs { monitor } => {
                if let Some(refusal) = probe_fault_target(&view.config, &monitor) {
                    return refusal;
                }
                inject(Some(Fault::ProbeHangs {
                    monitor: monitor.clone(),
                }));
                Response::done(format!(
                    "every check of monitor `{monitor}` hangs until `upkeep inject clear`"
                ))
            }
            FaultDto::ScriptFails {
                program,
                times,
                code,
            } => {
                if let Some(unknown) = names::check_program(&view.config, &program) {
                    return unknown;
                }
                inject(Some(Fault::ScriptFails {
                    program: program.clone(),
                    times,
                    code,
                }));
                Response::done(format!(
                    "the next {times} runs of `{program}` exit with code {code}"
                ))
            }
            // The resource's own actor kills its process (issue 8, defect 9): no pid is read
            // from the board, so nothing but that process can be hit.
            FaultDto::ProcessKilled { resource } => {
                if view.config.resource(&resource).is_none() {
                    let names: Vec<&String> = view
                        .config
                        .groups
                        .iter()
                        .flat_map(|g| g.resources.iter().map(|r| &r.name))
                        .collect();
                    return unknown("resource", &resource, names.into_iter());
                }
                let slot = self.slot.lock().await;
                let Some(engine) = running(&slot) else {
                    return stopped_error();
                };
                match engine.kill_process(&resource).await {
                    Ok(pid) => Response::done(format!(
                        "killed process {pid} of resource `{resource}` (SIGKILL)"
                    )),
                    Err(e) => op_error(e),
                }
            }
            FaultDto::Clear => {
                inject(None);
                Response::done("every injected fault was removed")
            }
        }
    }
}

/// Probe faults act on the host's checks; pid and multi-target monitors read the board instead,
/// so a fault there would silently do nothing: say so and name what works.
fn probe_fault_target(config: &Config, monitor: &str) -> Option<Response> {
    let Some(m) = config.monitor(monitor) else {
        return Some(unknown(
            "monitor",
            monitor,
            config.monitors.iter().map(|m| &m.name),
        ));
    };
    match &m.kind {
        upkeep_config::MonitorKind::Pid { resource } => Some(Response::failure(
            ErrorKind::Refused,
            format!(
                "monitor `{monitor}` watches the process of `{resource}` itself, without a probe; rehearse with `upkeep inject kill {resource}`"
            ),
        )),
        upkeep_config::MonitorKind::MultiTarget { .. } => Some(Response::failure(
            ErrorKind::Refused,
            format!("monitor `{monitor}` only combines its members; inject into a member instead"),
        )),
        _ => None,
    }
}

fn view_of(engine: &Engine, config: Arc<Config>) -> View {
    View {
        config,
        board: engine.board().clone(),
        life: life::follow(engine.events(), engine.board()),
        tree: (engine.ctx.clone(), engine.daemon.clone()),
    }
}

fn running(slot: &Slot) -> Option<&Engine> {
    slot.engine.as_ref().filter(|e| !e.is_finished())
}

fn stopped_error() -> Response {
    Response::failure(
        ErrorKind::Refused,
        "the daemon is stopped; start it with `upkeep start`",
    )
}

fn result(outcome: Result<(), OpError>, done: impl Into<String>) -> Response {
    match outcome {
        Ok(()) => Response::done(done),
        Err(e) => op_error(e),
    }
}

fn op_error(e: OpError) -> Response {
    let kind = match &e {
        OpError::NotRunning => ErrorKind::Refused,
        OpError::Invalid(_) => ErrorKind::Invalid,
        OpError::Unknown { .. } => ErrorKind::Unknown,
        OpError::Refused(_) => ErrorKind::Refused,
        OpError::Failed { .. } => ErrorKind::Failed,
    };
    Response::failure(kind, e.to_string())
}

/// Issue 13: a request for the state the object is in already succeeds, saying so (as
/// `systemctl start` of a running unit does).
fn already(what: &str, state: &str) -> Response {
    Response::done(format!("{what} is already {state}; nothing to do"))
}

/// `unknown monitor `x`; did you mean `y`?`
pub fn unknown<'a>(kind: &str, name: &str, known: impl Iterator<Item = &'a String>) -> Response {
    let known: Vec<&String> = known.collect();
    let hint = match did_you_mean(name, known.iter().map(|s| s.as_str())) {
        Some(best) => format!("; did you mean `{best}`?"),
        None if known.is_empty() => format!("; there is no {kind}"),
        None => format!(
            "; known: {}",
            known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Response::failure(ErrorKind::Unknown, format!("unknown {kind} `{name}`{hint}"))
}

/// The closest known name (the rule of `upkeep_config::closest_name`).
pub fn did_you_mean<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    upkeep_config::closest_name(name, known)
}

fn fields(changes: &[super::proto::ChangeDto], method: ApplyMethod) -> String {
    changes
        .iter()
        .filter(|c| c.method == method)
        .map(|c| format!("`{}`", c.field))
        .collect::<Vec<_>>()
        .join(", ")
}

fn tree_dto(node: &upkeep_actors::tree::TreeNode) -> TreeNodeDto {
    TreeNodeDto {
        path: node.path.clone(),
        kind: node.kind.to_string(),
        status: node.status.clone(),
        restarts: u32::try_from(node.restarts).unwrap_or(u32::MAX),
        last_failure: node.last_failure.clone(),
        last_failure_at: node.last_failure_at.map(snapshot::time),
        pid: node.pid,
        process_restarts: node.process_restarts,
        children: node.children.iter().map(tree_dto).collect(),
    }
}

/// A configuration text written beside its target and not yet renamed over it; dropped
/// without [`Ops::commit`] (the swap failed), the temp file goes.
struct Staged {
    pending: safe_file::Pending,
    target: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let known = ["web-pid", "db-pid", "disk"];
        assert_eq!(did_you_mean("web-pdi", known.into_iter()), Some("web-pid"));
        assert_eq!(did_you_mean("nothing-like", known.into_iter()), None);
    }
}
