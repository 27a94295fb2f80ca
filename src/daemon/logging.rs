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
    let journal = stderr_is_journal();
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(StderrWriter { journal })
                .with_ansi(!journal && std::io::stderr().is_terminal()),
        )
        .with(
            tracing_subscriber::fmt::layer()
                // Its own field formatter type: span fields are cached per formatter type, and
                // sharing DefaultFields with the terminal layer put its colour codes into the
                // file (issue 11).
                .fmt_fields(PlainFields::default())
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

/// Whether stderr is the journal (systemd.exec(5) `$JOURNAL_STREAM` = `dev:ino` of the stream):
/// compared with fd 2 itself, because children inherit the variable with other stderrs.
pub fn stderr_is_journal() -> bool {
    let Ok(value) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = value.split_once(':') else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    match nix::sys::stat::fstat(std::io::stderr()) {
        Ok(st) => st.st_dev == dev && st.st_ino == ino,
        Err(_) => false,
    }
}

/// sd-daemon(3) priority of a tracing level: `<3>` err, `<4>` warning, `<6>` info, `<7>` debug.
pub fn journal_priority(level: &tracing::Level) -> u8 {
    match *level {
        tracing::Level::ERROR => 3,
        tracing::Level::WARN => 4,
        tracing::Level::INFO => 6,
        _ => 7,
    }
}

/// Puts `<N>` before every line of `text` (journald strips it and takes it as the priority,
/// so `journalctl -p err` finds errors).
pub fn prefix_lines(text: &[u8], priority: u8) -> Vec<u8> {
    let prefix = format!("<{priority}>");
    let mut out = Vec::with_capacity(text.len() + 8);
    let mut at_start = true;
    for &b in text {
        if at_start {
            out.extend_from_slice(prefix.as_bytes());
            at_start = false;
        }
        out.push(b);
        if b == b'\n' {
            at_start = true;
        }
    }
    out
}

/// stderr, with the journal's priority prefix when stderr is the journal.
struct StderrWriter {
    journal: bool,
}

/// One event's write to stderr.
struct PrefixedStderr {
    priority: Option<u8>,
}

impl std::io::Write for PrefixedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut err = std::io::stderr().lock();
        match self.priority {
            // One event is formatted whole, then written once.
            Some(p) => err.write_all(&prefix_lines(buf, p))?,
            None => err.write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for StderrWriter {
    type Writer = PrefixedStderr;

    fn make_writer(&'a self) -> PrefixedStderr {
        PrefixedStderr {
            priority: self.journal.then_some(6),
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> PrefixedStderr {
        PrefixedStderr {
            priority: self.journal.then(|| journal_priority(meta.level())),
        }
    }
}

/// The file layer's field formatter: the default one under its own type.
#[derive(Default)]
struct PlainFields(tracing_subscriber::fmt::format::DefaultFields);

impl<'w> tracing_subscriber::fmt::FormatFields<'w> for PlainFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        writer: tracing_subscriber::fmt::format::Writer<'w>,
        fields: R,
    ) -> std::fmt::Result {
        self.0.format_fields(writer, fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_gets_the_journal_priority() {
        assert_eq!(
            prefix_lines(b"first\nsecond\n", 3),
            b"<3>first\n<3>second\n".to_vec()
        );
        assert_eq!(journal_priority(&tracing::Level::WARN), 4);
        assert_eq!(journal_priority(&tracing::Level::DEBUG), 7);
    }

    #[test]
    fn a_journal_stream_of_another_file_is_not_the_journal() {
        // The test's stderr is not the stream the variable names.
        std::env::set_var("JOURNAL_STREAM", "1:1");
        assert!(!stderr_is_journal());
        std::env::remove_var("JOURNAL_STREAM");
    }
}
