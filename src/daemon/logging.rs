//! Logging of the daemon (ARCHITECTURE §5 Edges; STYLE-ANCHORS item 13): tracing to stderr and
//! to a daily rolling file in the log folder. The filter comes from `UPKEEP_LOG`, else the
//! configuration's `log.level`; `upkeep log level` (CMD-7) swaps it at run time through a reload
//! layer. Every engine event is logged by the event feed itself (MSG-6).

use std::io::IsTerminal;
use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;

/// Log lines queued for the file writer before new ones are dropped.
const LOG_QUEUE_LINES: usize = 4096;
use tracing_appender::rolling::{Builder, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};
use upkeep_config::LogSettings;

/// The environment variable that overrides `log.level`.
pub const LOG_ENV: &str = "UPKEEP_LOG";

/// Why logging could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("invalid log filter `{directive}` in {origin}: {reason}")]
    Filter {
        origin: &'static str,
        directive: String,
        reason: String,
    },
    #[error("cannot open the log file in `{}`: {reason}", dir.display())]
    File {
        dir: std::path::PathBuf,
        reason: String,
    },
    #[error("cannot install the logger: {0}")]
    Install(String),
}

impl LoggingError {
    /// Whether the configuration file (rather than the environment) is to blame.
    pub fn from_config(&self) -> bool {
        matches!(self, LoggingError::Filter { origin, .. } if *origin == "log.level")
    }
}

/// Keeps the file writer's worker alive: drop it only after the last log line (it flushes).
pub struct LogGuard {
    _file: WorkerGuard,
    reload: reload::Handle<EnvFilter, Registry>,
}

impl LogGuard {
    /// CMD-7 (`upkeep log level`): a setter for the filter, for the control socket.
    pub fn filter_setter(&self) -> crate::control::ops::LogFilter {
        let handle = self.reload.clone();
        std::sync::Arc::new(move |directive: &str| {
            // CMD-7: refused here too, for clients that skip the CLI's check.
            upkeep_config::check_log_filter(directive)?;
            let filter = EnvFilter::try_new(directive).map_err(|e| e.to_string())?;
            handle.reload(filter).map_err(|e| e.to_string())
        })
    }
}

/// Install the global subscriber.
pub fn init(log_dir: &Path, settings: &LogSettings) -> Result<LogGuard, LoggingError> {
    let (origin, directive) = match std::env::var(LOG_ENV) {
        Ok(value) if !value.trim().is_empty() => (LOG_ENV, value),
        _ => ("log.level", settings.level.clone()),
    };
    let filter = EnvFilter::try_new(&directive).map_err(|e| LoggingError::Filter {
        origin,
        directive: directive.clone(),
        reason: e.to_string(),
    })?;
    let mut builder = Builder::new()
        .rotation(Rotation::DAILY)
        .filename_prefix("upkeep")
        .filename_suffix("log");
    if settings.keep_files > 0 {
        builder = builder.max_log_files(settings.keep_files);
    }
    let appender = builder.build(log_dir).map_err(|e| LoggingError::File {
        dir: log_dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    // tracing-appender's default queue holds 128,000 lines and is allocated (and touched) up
    // front: about 5 MiB, a third of the daemon's memory. A few thousand lines absorb any burst
    // the engine makes (an event is one line); past that, lines are dropped, never the daemon
    // blocked.
    let (file_writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .lossy(true)
        .finish(appender);
    let (filter, reload) = reload::Layer::new(filter);
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal()),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(file_writer)
                .with_ansi(false),
        )
        .try_init()
        .map_err(|e| LoggingError::Install(e.to_string()))?;
    Ok(LogGuard {
        _file: guard,
        reload,
    })
}
