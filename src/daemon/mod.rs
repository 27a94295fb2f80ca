//! `upkeep daemon`: configuration → folders → logging → host → engine → control socket →
//! signals → orderly stop (OPS-1, OPS-5, PROC-2, PROC-3; ARCHITECTURE §5 Edges).
//!
//! The daemon refuses to start on an invalid configuration (PROC-2: "an invalid configuration
//! file" keeps the product from starting) and when another daemon already serves the socket or
//! holds the state folder (two governors would count reboots in one file, CFG-5..9). SIGTERM and
//! SIGINT stop it in order (groups deactivated, OPS-5); a final action that stops the daemon
//! (RES-4, RES-5, MON-13) and `upkeep down` (CMD-3) end it too. All exit 0: the daemon did what
//! it was told, and a service manager must not restart a daemon that was stopped on purpose.
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

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use tokio::signal::unix::{signal, Signal, SignalKind};
use upkeep_actors::fault::{Fault, FaultPlan, Faulty};
use upkeep_actors::host::{Host, HostError};
use upkeep_actors::EngineError;
use upkeep_config::{Config, OsActions};

use crate::cli::exit::Exit;
use crate::control::life::Phase;
use crate::control::ops::{Ending as OpsEnding, Ops, Setup, Source};
use crate::control::server::{self, Access, Control, ServerError};
use crate::control::snapshot::ServerFacts;
use crate::host::paths::{default_log_dir, default_state_dir};
use crate::host::reaper::SubreaperError;
use crate::host::LinuxHost;
use config::LoadError;
use logging::LoggingError;

/// The lock file in the state folder: one daemon per reboot history.
const LOCK_FILE: &str = "daemon.lock";
/// How long the runtime waits for stray blocking work after the engine is down.
const RUNTIME_GRACE: Duration = Duration::from_secs(5);

/// What `upkeep daemon` was asked for; `None` = the default.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub config: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub socket: Option<PathBuf>,
    pub log_dir: Option<PathBuf>,
    /// Members of this group may change state through the socket (besides root).
    pub operator_group: Option<String>,
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
    #[error("another upkeep daemon is already running with the state folder `{}` (it holds `{}`)", dir.display(), lock.display())]
    Locked { dir: PathBuf, lock: PathBuf },
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
}

impl DaemonError {
    pub fn exit(&self) -> Exit {
        match self {
            DaemonError::Config(LoadError::Read { .. }) => Exit::NoInput,
            DaemonError::Config(LoadError::Invalid(_)) => Exit::Config,
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
            DaemonError::Subreaper(_) | DaemonError::Runtime(_) | DaemonError::Signals(_) => {
                Exit::OsErr
            }
            DaemonError::Engine(_) => Exit::Software,
            DaemonError::OperatorGroup(_) => Exit::Usage,
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
}

/// Run the daemon until it is stopped; `Ok` on an orderly stop.
pub fn run(options: Options) -> Result<(), DaemonError> {
    let config = Arc::new(config::load(options.config.as_deref())?);
    let operator_group = match &options.operator_group {
        None => None,
        Some(name) => match nix::unistd::Group::from_name(name) {
            Ok(Some(g)) => Some((g.gid.as_raw(), name.clone())),
            _ => return Err(DaemonError::OperatorGroup(name.clone())),
        },
    };
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
    let paths = Paths {
        state: options.state_dir.unwrap_or_else(default_state_dir),
        // The caller resolved `--socket`, then UPKEEP_SOCKET.
        socket: options
            .socket
            .unwrap_or_else(crate::control::default_socket_path),
        logs: options.log_dir.unwrap_or_else(default_log_dir),
        access: Access {
            owner: nix::unistd::geteuid().as_raw(),
            operator_group,
        },
        socket_mode: options.socket_mode,
        source,
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
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

fn folder(what: &'static str, path: &Path, mode: u32) -> Result<(), DaemonError> {
    dirs::create(path, mode).map_err(|source| DaemonError::Folder {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// Hold an exclusive lock on the state folder for the daemon's life (released by the kernel
/// when the process ends, however it ends).
fn lock_state(dir: &Path) -> Result<Flock<File>, DaemonError> {
    let lock = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(|source| DaemonError::Lock {
            lock: lock.clone(),
            source,
        })?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(held) => Ok(held),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Err(DaemonError::Locked {
            dir: dir.to_path_buf(),
            lock,
        }),
        Err((_, errno)) => Err(DaemonError::Lock {
            lock,
            source: errno.into(),
        }),
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
    let mut signals = Signals::install().map_err(DaemonError::Signals)?;
    let host = Arc::new(contain(
        LinuxHost::new(config.os_actions, paths.state.clone())?
            .with_roots(config.paths.procfs.clone(), config.paths.sysfs.clone()),
        &paths.state,
    ));
    let containment = host.containment();
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
    // `upkeep inject`: every host call goes through the fault plan (empty unless an operator
    // injects); OS actions stay whatever the configuration says.
    let faulty = Arc::new(Faulty::new(host, FaultPlan::default()));
    // Bound before the engine starts, so `status` answers while the groups are starting.
    let group = paths.access.operator_group.as_ref().map(|(gid, _)| *gid);
    let bound = server::bind(&paths.socket, paths.socket_mode, group).await?;
    let dyn_host: Arc<dyn Host> = faulty.clone();
    let injector = faulty.clone();
    let setup = Setup {
        host: dyn_host,
        inject: Arc::new(move |fault: Option<Fault>| match fault {
            Some(f) => injector.inject(f),
            None => injector.clear(),
        }),
        log_filter: Some(log.filter_setter()),
        source: paths.source.clone(),
        state_dir: paths.state.clone(),
        facts: ServerFacts {
            host: hostname(),
            pid: std::process::id(),
            started: tokio::time::Instant::now(),
            containment: containment.to_string(),
        },
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
    let ready = ready_when_online(&ops);

    let mut ending = ops.ending();
    let ended = tokio::select! {
        name = signals.next() => Ending::Signal(name),
        why = ending.wait_for(Option::is_some) => {
            Ending::Ops(why.ok().and_then(|w| *w).unwrap_or(OpsEnding::FinalAction))
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
    server.shutdown().await;
    Ok(())
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

/// READY=1 once the first engine is online (groups started, PROC-3), then WATCHDOG=1 keep-alives
/// while the runtime is responsive.
fn ready_when_online(ops: &Arc<Ops>) -> tokio::task::JoinHandle<()> {
    let mut life = ops.view().life;
    tokio::spawn(async move {
        let _ = life
            .wait_for(|l| matches!(l.phase, Phase::Online | Phase::Stopped))
            .await;
        notify::notify("READY=1");
        tracing::info!("ready: groups started");
        let Some(every) = notify::watchdog_interval() else {
            return;
        };
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            notify::notify("WATCHDOG=1");
        }
    })
}

struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    fn install() -> io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}
