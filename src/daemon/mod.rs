//! `upkeep daemon`: configuration → folders → logging → host → engine → control socket →
//! signals → orderly stop (OPS-1, OPS-5, PROC-2, PROC-3; ARCHITECTURE §5 Edges).
//!
//! The daemon refuses to start on an invalid configuration (PROC-2: "an invalid configuration
//! file" keeps the product from starting) and when another daemon already serves the socket or
//! holds the state folder (two governors would count reboots in one file, CFG-5..9). SIGTERM and
//! SIGINT stop it in order (groups deactivated, OPS-5); a final action that stops the daemon
//! (RES-4, RES-5, MON-13) and `upkeep down` (CMD-3) end it too. All exit 0: the daemon did what
//! it was told, and a service manager must not restart a daemon that was stopped on purpose.
//! Except when the shutdown or reboot it stopped the groups for then failed (DOWN-1, DOWN-2):
//! nothing runs and the server stays up, so it exits non-zero (EX_OSERR) for a service manager
//! to restart it.
//! `upkeep stop` / `start` and a stop/restart apply replace the engine inside this process
//! (`control::ops`); the socket stays up throughout. Under systemd it reports readiness and
//! keep-alives (`notify`).
//!
//! Safety: the host performs OS actions only when the configuration says `os_actions: Real`;
//! the built-in demo and every default are `Simulated`. Injected faults (`upkeep inject`) wrap
//! the host but never change what it may do to the machine.

pub mod config;
pub mod dirs;
pub mod logging;
pub mod notify;
pub mod strict;
pub mod trim;

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use tokio::signal::unix::{signal, Signal, SignalKind};
use upkeep_actors::event::EventKind;
use upkeep_actors::fault::{Fault, FaultPlan, Faulty};
use upkeep_actors::host::{Host, HostError, OsAction};
use upkeep_actors::EngineError;
use upkeep_config::{Config, OsActions};

use crate::cli::exit::Exit;
use crate::control::feed::Feed;
use crate::control::life::Phase;
use crate::control::ops::{Ending as OpsEnding, Ops, Setup, Source};
use crate::control::proto::{EventDto, Request, Response, PROTOCOL_VERSION};
use crate::control::server::{self, Access, Control, ServerError};
use crate::control::snapshot::ServerFacts;
use crate::host::paths::{default_log_dir, default_state_dir};
use crate::host::reaper::SubreaperError;
use crate::host::LinuxHost;
use config::LoadError;
use logging::LoggingError;

/// The lock file in the state folder: one daemon per reboot history.
const LOCK_FILE: &str = "daemon.lock";
/// How long after READY the start-up memory is released (issue 14): the first checks and the
/// first status requests have run by then.
const TRIM_AFTER: Duration = Duration::from_secs(1);
/// The runtime's worker threads (issue 14).
const RUNTIME_WORKERS: usize = 2;
/// How long the runtime waits for stray blocking work after the engine is down.
const RUNTIME_GRACE: Duration = Duration::from_secs(5);

/// What `upkeep daemon` was asked for; `None` = the default.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub config: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub socket: Option<PathBuf>,
    pub log_dir: Option<PathBuf>,
    /// Members of these groups may change state through the socket (besides root).
    pub operator_groups: Vec<String>,
    /// Members of these groups may read through the socket (`*`: every local user).
    pub reader_groups: Vec<String>,
    /// The socket's mode instead of 0660 (root) / 0600 (user).
    pub socket_mode: Option<u32>,
}

/// Why the daemon could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Config(#[from] LoadError),
    #[error("cannot create the {what} folder `{}`: {source}", path.display())]
    Folder {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error(transparent)]
    Logging(#[from] LoggingError),
    #[error("another upkeep daemon{} is already running with the state folder `{}` (it holds `{}`)", holder.map(|p| format!(" (pid {p})")).unwrap_or_default(), dir.display(), lock.display())]
    Locked {
        dir: PathBuf,
        lock: PathBuf,
        holder: Option<u32>,
    },
    #[error("cannot lock `{}`: {source}", lock.display())]
    Lock { lock: PathBuf, source: io::Error },
    #[error(transparent)]
    Socket(#[from] ServerError),
    #[error("cannot set up the host: {0}")]
    Host(#[from] HostError),
    #[error("cannot become the reaper of orphaned processes: {0}")]
    Subreaper(#[from] SubreaperError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(io::Error),
    #[error("cannot install the signal handlers: {0}")]
    Signals(io::Error),
    #[error(
        "unknown operator group `{0}`; create it with `groupadd {0}` or pick an existing group"
    )]
    OperatorGroup(String),
    #[error("unknown reader group `{0}`; create it with `groupadd {0}`, pick an existing group, or give `*` for every local user")]
    ReaderGroup(String),
    /// Issue 10, StrictModes: a root daemon would run something others can change.
    #[error("refusing to start: the daemon runs as root, and others could change what it runs:\n{}", .0.join("\n"))]
    Unsafe(Vec<String>),
    /// Issue 11: the message files, the alert log or a channel's settings.
    #[error(transparent)]
    Alerts(#[from] crate::alerts::AlertsError),
    /// Issue 12: the web manager could not listen.
    #[error(transparent)]
    Web(#[from] crate::web::WebError),
    /// DOWN-1, DOWN-2: the groups were stopped for an OS action that then failed.
    #[error("{0} The groups are stopped: exiting non-zero so that a service manager restarts the daemon")]
    OsAction(String),
}

impl DaemonError {
    pub fn exit(&self) -> Exit {
        match self {
            DaemonError::Config(LoadError::Read { .. }) => Exit::NoInput,
            DaemonError::Config(LoadError::Invalid(_)) | DaemonError::Unsafe(_) => Exit::Config,
            DaemonError::Logging(e) if e.from_config() => Exit::Config,
            DaemonError::Logging(LoggingError::Filter { .. }) => Exit::Usage,
            DaemonError::Logging(_) => Exit::CantCreate,
            DaemonError::Folder { .. } => Exit::CantCreate,
            DaemonError::Locked { .. } | DaemonError::Socket(ServerError::InUse { .. }) => {
                Exit::Unavailable
            }
            DaemonError::Socket(ServerError::NotASocket { .. }) => Exit::Usage,
            DaemonError::Socket(_) => Exit::CantCreate,
            DaemonError::Lock { .. } | DaemonError::Host(_) => Exit::CantCreate,
            DaemonError::Subreaper(_)
            | DaemonError::Runtime(_)
            | DaemonError::Signals(_)
            | DaemonError::OsAction(_) => Exit::OsErr,
            DaemonError::Engine(_) => Exit::Software,
            DaemonError::Alerts(crate::alerts::AlertsError::Log(_)) => Exit::CantCreate,
            DaemonError::Alerts(_) => Exit::Config,
            DaemonError::Web(_) => Exit::CantCreate,
            DaemonError::OperatorGroup(_) | DaemonError::ReaderGroup(_) => Exit::Usage,
        }
    }
}

/// The resolved places and access settings.
#[derive(Debug, Clone)]
struct Paths {
    state: PathBuf,
    socket: PathBuf,
    logs: PathBuf,
    access: Access,
    socket_mode: Option<u32>,
    source: Source,
    /// The message files in force at start (MSG-3).
    messages: crate::alerts::messages::Messages,
}

/// Run the daemon until it is stopped; `Ok` on an orderly stop.
pub fn run(options: Options) -> Result<(), DaemonError> {
    let config = Arc::new(config::load(options.config.as_deref())?);
    let unsafe_paths = strict::check(&config, options.config.as_deref());
    if !unsafe_paths.is_empty() {
        return Err(DaemonError::Unsafe(unsafe_paths));
    }
    let access = access(&options, &config.access)?;
    let messages = crate::alerts::load_messages(&config, options.config.as_deref())?;
    let source = match &options.config {
        // Read again for `config pull`: the model does not keep the text.
        Some(path) => Source {
            text: std::fs::read_to_string(path).map_err(|source| LoadError::Read {
                path: path.clone(),
                source,
            })?,
            origin: path.display().to_string(),
            file: Some(std::path::absolute(path).unwrap_or_else(|_| path.clone())),
        },
        None => Source {
            text: upkeep_config::DEFAULT_CONFIG.to_string(),
            origin: config::BUILT_IN.to_string(),
            file: None,
        },
    };
    // Issue 11: a daemon given its own state folder keeps its own log files there too, unless
    // told otherwise; two daemons never write one file.
    let log_dir = options.log_dir.clone().or_else(|| {
        options
            .state_dir
            .as_ref()
            .filter(|s| **s != default_state_dir())
            .map(|s| s.join("log"))
    });
    let paths = Paths {
        state: options.state_dir.unwrap_or_else(default_state_dir),
        // The caller resolved `--socket`, then UPKEEP_SOCKET.
        socket: options
            .socket
            .unwrap_or_else(crate::control::default_socket_path),
        logs: log_dir.unwrap_or_else(default_log_dir),
        access,
        socket_mode: options.socket_mode,
        source,
        messages,
    };
    folder("state", &paths.state, 0o700)?;
    folder("log", &paths.logs, dirs::private_mode())?;
    let _lock = lock_state(&paths.state)?;
    let log_guard = logging::init(&paths.logs, &config.log)?;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        profile = if cfg!(debug_assertions) { "debug" } else { "release" },
        pid = std::process::id(),
        uid = nix::unistd::geteuid().as_raw(),
        config = %options.config.as_deref().map_or_else(|| config::BUILT_IN.into(), |p| p.display().to_string()),
        state_dir = %paths.state.display(),
        log_dir = %paths.logs.display(),
        os_actions = ?config.os_actions,
        "upkeep daemon starting"
    );
    match config.os_actions {
        OsActions::Simulated => {
            tracing::info!("OS actions are simulated: a final action only logs \"would reboot\"")
        }
        OsActions::Real => tracing::warn!(
            "OS actions are REAL: a final action may shut down or reboot this machine"
        ),
    }
    // Two workers whatever the core count (issue 14): the daemon's work is small, and each
    // worker costs a stack and, once it allocates, a malloc arena of its own.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(RUNTIME_WORKERS)
        .enable_all()
        .thread_name("upkeep")
        .build()
        .map_err(DaemonError::Runtime)?;
    let result = runtime.block_on(serve(config, paths, &log_guard));
    runtime.shutdown_timeout(RUNTIME_GRACE);
    match &result {
        Ok(()) => tracing::info!("upkeep daemon stopped"),
        Err(e) => tracing::error!("upkeep daemon failed: {e}"),
    }
    result
}

/// Issue 10: the reader and operator groups by name (`--reader-group '*'`: everyone reads), from
/// the flags and the configuration's `access` section together.
fn access(
    options: &Options,
    configured: &upkeep_config::AccessGroups,
) -> Result<Access, DaemonError> {
    let gid = |name: &str| match nix::unistd::Group::from_name(name) {
        Ok(Some(g)) => Some((g.gid.as_raw(), name.to_string())),
        _ => None,
    };
    let mut access = Access {
        owner: nix::unistd::geteuid().as_raw(),
        ..Access::default()
    };
    let mut operators = options.operator_groups.clone();
    operators.extend(configured.operator_groups.iter().cloned());
    let mut readers = options.reader_groups.clone();
    readers.extend(configured.reader_groups.iter().cloned());
    operators.dedup();
    readers.dedup();
    for name in &operators {
        let g = gid(name).ok_or_else(|| DaemonError::OperatorGroup(name.clone()))?;
        if !access.operators.contains(&g) {
            access.operators.push(g);
        }
    }
    for name in &readers {
        if name == "*" {
            access.everyone_reads = true;
            continue;
        }
        let g = gid(name).ok_or_else(|| DaemonError::ReaderGroup(name.clone()))?;
        if !access.readers.contains(&g) {
            access.readers.push(g);
        }
    }
    Ok(access)
}

fn folder(what: &'static str, path: &Path, mode: u32) -> Result<(), DaemonError> {
    dirs::create(path, mode).map_err(|source| DaemonError::Folder {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// Hold an exclusive lock on the state folder for the daemon's life (released by the kernel
/// when the process ends, however it ends). The file says which pid holds it.
///
/// The descriptor is close-on-exec (std opens every file so), but a child forked by the previous
/// daemon holds it until its `exec`; after a `kill -9` that window briefly keeps the lock taken
/// with nobody alive behind it. So a lock held by a process that no longer runs the daemon is
/// waited for a short while before the start is refused.
fn lock_state(dir: &Path) -> Result<Flock<File>, DaemonError> {
    use std::io::{Read, Seek, Write};
    use std::os::unix::fs::OpenOptionsExt;
    /// How long a start waits for a lock left behind by a dead daemon's half-forked child.
    const LOCK_WAIT: Duration = Duration::from_secs(2);
    let lock = dir.join(LOCK_FILE);
    let open = || {
        // Issue 10: a link planted at the lock's name is refused, not followed (the folder
        // itself was checked by the state store).
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&lock)
            .map_err(|source| DaemonError::Lock {
                lock: lock.clone(),
                source,
            })
    };
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    let mut file = open()?;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(mut held) => {
                let mine = format!("{}\n", std::process::id());
                let written = held
                    .set_len(0)
                    .and_then(|()| held.rewind())
                    .and_then(|()| held.write_all(mine.as_bytes()));
                if let Err(e) = written {
                    tracing::warn!(lock = %lock.display(), "cannot write the daemon's pid into the lock file: {e}");
                }
                return Ok(held);
            }
            Err((mut back, nix::errno::Errno::EWOULDBLOCK)) => {
                let mut text = String::new();
                let _ = back.read_to_string(&mut text);
                let holder = text.trim().parse::<u32>().ok();
                let alive = holder.is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
                if alive || std::time::Instant::now() >= deadline {
                    return Err(DaemonError::Locked {
                        dir: dir.to_path_buf(),
                        lock,
                        holder,
                    });
                }
                std::thread::sleep(Duration::from_millis(50));
                let _ = back.rewind();
                file = back;
            }
            Err((_, errno)) => {
                return Err(DaemonError::Lock {
                    lock,
                    source: errno.into(),
                })
            }
        }
    }
}

/// How the main loop ended.
enum Ending {
    Signal(&'static str),
    /// The engine stopped by itself (a final action) or `upkeep down` ran.
    Ops(OpsEnding),
}

async fn serve(
    config: Arc<Config>,
    paths: Paths,
    log: &logging::LogGuard,
) -> Result<(), DaemonError> {
    // Before anything can take long: a SIGTERM during start-up must become an orderly stop,
    // not the default "die and leave the processes behind".
    let signals = Signals::install().map_err(DaemonError::Signals)?;
    let host = Arc::new(contain(
        LinuxHost::new(config.os_actions, paths.state.clone())?
            .with_roots(config.paths.procfs.clone(), config.paths.sysfs.clone()),
        &paths.state,
    ));
    let containment = host.containment().to_string();
    // Scripts that daemonize leave orphans; as their reaper we collect them (no zombies).
    host.become_subreaper()?;
    // A daemon killed before it stopped its resources left them running: stop them before the
    // groups start a second copy (issue 9 §2).
    let grace = config
        .groups
        .iter()
        .flat_map(|g| g.resources.iter().map(|r| r.kill_grace))
        .max()
        .unwrap_or(Duration::from_secs(5));
    for line in host.reclaim_leftovers(grace).await {
        tracing::warn!("left running by a previous daemon, now stopped: {line}");
    }
    let ended = serve_on(
        config,
        paths,
        Some(log.filter_setter()),
        host.clone(),
        signals,
        containment,
    )
    .await;
    host.tidy_cgroups();
    ended
}

/// The daemon's life on a host that is set up: engine, socket, the wait for its end, and the
/// exit status.
async fn serve_on<H: Host>(
    config: Arc<Config>,
    paths: Paths,
    log_filter: Option<crate::control::ops::LogFilter>,
    host: Arc<H>,
    mut signals: Signals,
    containment: String,
) -> Result<(), DaemonError> {
    // `upkeep inject`: every host call goes through the fault plan (empty unless an operator
    // injects); OS actions stay whatever the configuration says.
    let faulty = Arc::new(Faulty::new(host, FaultPlan::default()));
    // Bound before the engine starts, so `status` answers while the groups are starting.
    let group = paths.access.operators.first().map(|(gid, _)| *gid);
    // Issue 10: with groups, root opens the folder and socket and decides per connection.
    let shared = paths.access.has_groups() && nix::unistd::geteuid().is_root();
    let bound = server::bind(&paths.socket, paths.socket_mode, group, shared).await?;
    // Issue 11: the alert log and channels, before the first event.
    let (hub, last_seq) = match crate::alerts::Hub::start(
        &config.alerts,
        paths.messages.clone(),
        &paths.state,
        &hostname(),
    ) {
        Ok(started) => started,
        Err(e) => {
            bound.discard();
            return Err(e.into());
        }
    };
    let dyn_host: Arc<dyn Host> = faulty.clone();
    let injector = faulty.clone();
    let setup = Setup {
        host: dyn_host,
        inject: Arc::new(move |fault: Option<Fault>| match fault {
            Some(f) => injector.inject(f),
            None => injector.clear(),
        }),
        log_filter,
        source: paths.source.clone(),
        state_dir: paths.state.clone(),
        log_dir: paths.logs.clone(),
        facts: ServerFacts {
            host: hostname(),
            pid: std::process::id(),
            started: tokio::time::Instant::now(),
            containment,
        },
        alerts: Some((hub.clone(), last_seq)),
    };
    let ops = match Ops::start(config.clone(), setup).await {
        Ok(ops) => ops,
        Err(e) => {
            bound.discard();
            return Err(e.into());
        }
    };
    let control = Control {
        ops: ops.clone(),
        access: paths.access.clone(),
    };
    let server = server::serve(bound, control);
    tracing::info!(socket = %server.path().display(), "control socket listening");
    // Issue 12: the web manager, API and /metrics, only when configured.
    let web = match &config.web {
        Some(settings) => {
            match crate::web::WebServer::start(settings.clone(), ops.clone(), &paths.state).await {
                Ok(web) => Some(web),
                Err(e) => {
                    ops.shutdown("web server failed").await;
                    server.shutdown().await;
                    return Err(e.into());
                }
            }
        }
        None => None,
    };
    let ready = ready_when_online(&ops);

    let mut ending = ops.ending();
    let ended = loop {
        tokio::select! {
            signal = signals.next_any() => match signal {
                Some(name) => break Ending::Signal(name),
                None => reload(&ops, paths.source.file.as_deref()).await,
            },
            why = ending.wait_for(Option::is_some) => {
                break Ending::Ops(why.ok().and_then(|w| *w).unwrap_or(OpsEnding::FinalAction))
            }
        }
    };
    ready.abort();
    notify::notify("STOPPING=1");
    match ended {
        Ending::Signal(name) => {
            tracing::info!("received {name}: stopping (groups are deactivated first)");
            let stop = ops.shutdown("signal");
            tokio::pin!(stop);
            loop {
                tokio::select! {
                    () = &mut stop => break,
                    name = signals.next() => tracing::warn!(
                        "received {name} again: the orderly stop is still in progress"
                    ),
                }
            }
        }
        Ending::Ops(OpsEnding::FinalAction) => {
            tracing::warn!("the daemon was stopped by a final action")
        }
        Ending::Ops(OpsEnding::Down) => tracing::warn!("the daemon was stopped by `upkeep down`"),
    }
    if let Some(web) = web {
        web.shutdown().await;
    }
    server.shutdown().await;
    // The last events (`pm 3`) into the alert log and syslog before the process ends.
    hub.settle(Duration::from_secs(2)).await;
    match (&ended, failed_os_action(&ops.feed)) {
        (Ending::Ops(_), Some(failure)) => Err(DaemonError::OsAction(failure)),
        _ => Ok(()),
    }
}

/// Puts every resource in its own cgroup where cgroup2 is writable; else says once, loudly, that
/// process groups are all there is (issue 9 §2).
fn contain(host: LinuxHost, state: &Path) -> LinuxHost {
    match crate::host::cgroup::detect(state) {
        Ok(tree) => {
            let host = host.with_cgroups(tree);
            tracing::info!(containment = %host.containment(), "each resource runs in its own cgroup");
            host
        }
        Err(why) => {
            tracing::warn!(
                containment = "process-group",
                "no cgroup containment ({why}): a stop reaches each resource's process groups only, so setsid or double-forked children survive it; async process groups are recorded in the state folder for the next daemon"
            );
            host.with_process_group_record()
        }
    }
}

/// DOWN-1, DOWN-2: the text of the OS action that failed, when the newest OS-action event
/// (`pm 22` done, `pm 23` failed) of the last engine is a failure. An engine ends after every OS
/// action it performs, so that is the one it stopped the groups for.
fn failed_os_action(feed: &Feed) -> Option<String> {
    let reboot = OsAction::Reboot;
    let started = EventKind::DaemonStarted;
    let failed = EventKind::OsActionFailed {
        action: reboot,
        reason: String::new(),
    };
    let done = EventKind::OsAction {
        action: reboot,
        simulated: true,
        count: 0,
        max: 0,
    };
    let is = |e: &EventDto, kind: &EventKind| {
        e.module == kind.module().as_str() && e.event_id == kind.id()
    };
    let (events, _) = feed.since(0);
    let last = events
        .iter()
        .rev()
        .take_while(|e| !is(e, &started))
        .find(|e| is(e, &failed) || is(e, &done))?;
    is(last, &failed).then(|| last.text.clone())
}

/// SIGHUP: apply the configuration file again, as `upkeep config apply` does for the changes
/// that apply while the groups run (monitors, the reboot limit; APPLY-2). A change that needs a
/// stop and restart is refused and logged, and nothing else changes: a reload never takes the
/// groups down.
async fn reload(ops: &Arc<Ops>, file: Option<&Path>) {
    let Some(file) = file else {
        tracing::warn!("SIGHUP: the daemon runs the built-in configuration; nothing to reload");
        return;
    };
    tracing::info!(config = %file.display(), "SIGHUP: reloading the configuration");
    notify::notify("RELOADING=1");
    let text = match tokio::fs::read_to_string(file).await {
        Ok(text) => text,
        Err(e) => {
            tracing::error!(config = %file.display(), "SIGHUP: cannot read the configuration: {e}");
            notify::notify("READY=1");
            return;
        }
    };
    let answer = ops
        .answer(Request::ConfigApply {
            version: PROTOCOL_VERSION,
            text,
            origin: file.display().to_string(),
            restart: false,
            dry_run: false,
        })
        .await;
    match answer {
        Response::Apply(reply) => tracing::info!("SIGHUP: {}", reply.message),
        Response::Done(done) => tracing::info!("SIGHUP: {}", done.message),
        Response::Error(e) => tracing::error!("SIGHUP: reload refused: {}", e.message),
        other => tracing::warn!("SIGHUP: unexpected answer {other:?}"),
    }
    notify::notify("READY=1");
}

/// READY=1 once the first engine is online (the auto-start groups have finished starting,
/// PROC-3), with a STATUS= line that `systemctl status` shows and keeps current; then
/// WATCHDOG=1 keep-alives while the runtime is responsive.
fn ready_when_online(ops: &Arc<Ops>) -> tokio::task::JoinHandle<()> {
    let ops = ops.clone();
    let mut life = ops.view().life;
    tokio::spawn(async move {
        let _ = life
            .wait_for(|l| matches!(l.phase, Phase::Online | Phase::Stopped))
            .await;
        let mut status = notify::status_line(&ops.view().board);
        notify::notify(&format!("READY=1\nSTATUS={status}"));
        tracing::info!("ready: groups started ({status})");
        // Issue 14: start-up is over; the memory only it used goes back (see `trim`).
        tokio::spawn(async {
            tokio::time::sleep(TRIM_AFTER).await;
            let text = trim::release_startup_memory();
            tracing::debug!(bytes = text, "start-up code pages released");
        });
        let every = notify::watchdog_interval();
        let mut watchdog = tokio::time::interval(every.unwrap_or(Duration::from_secs(3600)));
        // How often the STATUS= line is brought up to date (only sent when it changed).
        let mut refresh = tokio::time::interval(notify::STATUS_REFRESH);
        loop {
            tokio::select! {
                _ = watchdog.tick() => {
                    if every.is_some() {
                        notify::notify("WATCHDOG=1");
                    }
                }
                _ = refresh.tick() => {
                    let now = notify::status_line(&ops.view().board);
                    if now != status {
                        notify::notify(&format!("STATUS={now}"));
                        status = now;
                    }
                }
            }
        }
    })
}

/// SIGTERM and SIGINT; `None` in the in-process tests, which must not take the test runner's
/// signals.
struct Signals(Option<(Signal, Signal, Signal)>);

impl Signals {
    fn install() -> io::Result<Signals> {
        Ok(Signals(Some((
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
            // Without a handler SIGHUP's default action ends the process at once: no orderly
            // stop, the resources orphaned. It reloads the configuration instead (issue 9).
            signal(SignalKind::hangup())?,
        ))))
    }

    async fn next(&mut self) -> &'static str {
        loop {
            match self.next_any().await {
                Some(name) => return name,
                None => tracing::info!("SIGHUP while stopping: ignored"),
            }
        }
    }

    /// The next SIGTERM or SIGINT (`Some`) or SIGHUP (`None`).
    async fn next_any(&mut self) -> Option<&'static str> {
        let Some((term, int, hup)) = &mut self.0 else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => Some("SIGTERM"),
            _ = int.recv() => Some("SIGINT"),
            _ = hup.recv() => None,
        }
    }
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use upkeep_actors::host::{
        BoxFuture, Clock, OsActionOutcome, Power, ProbeResult, Probes, ProcessHandle, Processes,
        ScriptOutcome, ScriptRun, StateFiles, Watchdog, Watchdogs,
    };
    use upkeep_actors::sim::{SimRun, SimulatedHost};
    use upkeep_config::{Monitor, UserSpace, WatchdogMethod};

    use super::*;

    /// The simulated host, except that an OS action fails the way it does on a host without
    /// `systemctl`, `shutdown` and the right to call reboot(2) (a container): never the machine.
    struct NoWayDown {
        sim: SimulatedHost,
        fail: bool,
    }

    impl Processes for NoWayDown {
        fn run_script(&self, run: ScriptRun) -> BoxFuture<'static, ScriptOutcome> {
            self.sim.run_script(run)
        }
        fn spawn(&self, run: ScriptRun) -> Result<Box<dyn ProcessHandle>, HostError> {
            self.sim.spawn(run)
        }
        fn release(
            &self,
            group: &str,
            resource: &str,
            grace: std::time::Duration,
        ) -> BoxFuture<'static, ()> {
            self.sim.release(group, resource, grace)
        }
    }

    impl Probes for NoWayDown {
        fn probe(&self, monitor: &Monitor) -> BoxFuture<'static, ProbeResult> {
            Probes::probe(&self.sim, monitor)
        }
        fn userspace_check(&self, spec: &UserSpace) -> BoxFuture<'static, Result<(), String>> {
            self.sim.userspace_check(spec)
        }
    }

    impl StateFiles for NoWayDown {
        fn load_state(&self, name: &str) -> BoxFuture<'static, Result<Option<Vec<u8>>, HostError>> {
            self.sim.load_state(name)
        }
        fn store_state(
            &self,
            name: &str,
            bytes: Vec<u8>,
        ) -> BoxFuture<'static, Result<(), HostError>> {
            self.sim.store_state(name, bytes)
        }
        fn quarantine_state(&self, name: &str) -> BoxFuture<'static, Result<String, HostError>> {
            self.sim.quarantine_state(name)
        }
    }

    impl Clock for NoWayDown {
        fn now_wall(&self) -> SystemTime {
            self.sim.now_wall()
        }
        fn hostname(&self) -> String {
            self.sim.hostname()
        }
    }

    impl Watchdogs for NoWayDown {
        fn open_watchdog(
            &self,
            method: WatchdogMethod,
            timeout: std::time::Duration,
        ) -> Result<Box<dyn Watchdog>, HostError> {
            self.sim.open_watchdog(method, timeout)
        }
    }

    impl Power for NoWayDown {
        fn os_action(
            &self,
            action: OsAction,
        ) -> BoxFuture<'static, Result<OsActionOutcome, HostError>> {
            let simulated = self.sim.os_action(action);
            let fail = self.fail;
            Box::pin(async move {
                let outcome = simulated.await;
                if !fail {
                    return outcome;
                }
                Err(HostError::OsAction {
                    action,
                    reason: "`systemctl reboot`: No such file or directory (os error 2); \
                             sync + reboot(2) RB_AUTOBOOT: reboot(2): EPERM"
                        .into(),
                })
            })
        }
    }

    /// One resource whose start fails once; its final action reboots (DOWN-1).
    const REBOOTS: &str = r#"(
        name: "SSS", edition: "SSS",
        os_actions: Simulated,
        reboot_limit: (max_reboot_count: 3, reset_after: "60m"),
        groups: [(name: "g", resources: [(
            name: "app",
            start: (program: "/opt/app/start"),
            activation: (retries: 0, final_action: StopDaemonReboot),
            deactivation: (retries: 0, final_action: NoOpDeactivateNext),
        )])],
    )"#;

    /// The whole daemon in this process, on `NoWayDown`, until its engine ends by itself.
    async fn daemon(fail: bool) -> Result<(), DaemonError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = match upkeep_config::parse(REBOOTS, Path::new("/etc/upkeep/test.ron")) {
            Ok(c) => Arc::new(c),
            Err(e) => panic!("test config is invalid:\n{e}"),
        };
        assert_eq!(config.os_actions, OsActions::Simulated);
        let sim = SimulatedHost::default();
        sim.script("/opt/app/start", [SimRun::Exit(1)]);
        let host = Arc::new(NoWayDown {
            sim: sim.clone(),
            fail,
        });
        let paths = Paths {
            state: dir.path().join("state"),
            socket: dir.path().join("s.sock"),
            logs: dir.path().join("log"),
            access: Access {
                owner: nix::unistd::geteuid().as_raw(),
                ..Access::default()
            },
            socket_mode: None,
            source: Source {
                text: REBOOTS.into(),
                origin: "test".into(),
                file: None,
            },
            messages: Default::default(),
        };
        let served = tokio::time::timeout(
            Duration::from_secs(20),
            serve_on(config, paths, None, host, Signals(None), "simulated".into()),
        )
        .await
        .expect("the daemon did not end after its final action");
        // The reboot was asked for once, after the count was stored.
        assert_eq!(sim.os_actions(), [OsAction::Reboot]);
        served
    }

    /// Defect 7: "Failed to reboot" and exit 0 left a server with its groups stopped, and a
    /// service manager would not restart the daemon.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_granted_reboot_that_fails_ends_the_daemon_non_zero() {
        let err = daemon(true)
            .await
            .expect_err("the daemon exited 0 after its reboot failed");
        assert_eq!(err.exit(), Exit::OsErr, "{err}");
        let text = err.to_string();
        assert!(text.starts_with("Failed to reboot the OS."), "{text}");
        assert!(text.contains("service manager restarts"), "{text}");
        // The same daemon when the reboot is accepted: exit 0.
        daemon(false)
            .await
            .expect("an accepted reboot ends the daemon with 0");
    }
}
