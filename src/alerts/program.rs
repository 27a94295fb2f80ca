//! The program channel (upkeep's addition, like monit's `exec`): for each message marked
//! `.mail`, run a configured program with the event in its environment, for pagers and chat
//! hooks. One run at a time, each bounded by `timeout` (killed past it); the queue is bounded
//! and what does not fit is dropped and counted. The environment is cleared but for `PATH`, so
//! nothing of the daemon's leaks into the hook.

use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;
use upkeep_config::Program as Settings;

use crate::control::proto::EventDto;

/// The program channel's counters.
#[derive(Debug, Default)]
pub struct ProgramStats {
    pub runs: AtomicU64,
    pub dropped: AtomicU64,
    /// Runs that failed to start, exited non-zero or timed out.
    pub failed: AtomicU64,
}

/// One event for the program: the feed's view and the message's values.
pub struct Job {
    pub event: EventDto,
    pub fields: Vec<(&'static str, String)>,
}

#[derive(Clone)]
pub struct ProgramChannel {
    tx: mpsc::Sender<Job>,
    pub stats: Arc<ProgramStats>,
}

impl ProgramChannel {
    pub fn start(settings: &Settings, server_name: &str) -> ProgramChannel {
        let (tx, rx) = mpsc::channel(settings.queue);
        let stats = Arc::new(ProgramStats::default());
        tokio::spawn(run(
            rx,
            settings.clone(),
            server_name.to_owned(),
            stats.clone(),
        ));
        ProgramChannel { tx, stats }
    }

    pub fn offer(&self, job: Job) {
        if self.tx.try_send(job).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The environment of one run: `UPKEEP_*` for the event, `UPKEEP_FIELD_<NAME>` per value.
pub fn environment(job: &Job, server: &str) -> Vec<(String, String)> {
    let e = &job.event;
    let mut env = vec![
        ("UPKEEP_SERVER".to_owned(), server.to_owned()),
        ("UPKEEP_SEQ".to_owned(), e.seq.to_string()),
        ("UPKEEP_AT".to_owned(), e.at.clone()),
        ("UPKEEP_MODULE".to_owned(), e.module.clone()),
        ("UPKEEP_EVENT_ID".to_owned(), e.event_id.to_string()),
        ("UPKEEP_LEVEL".to_owned(), e.level.clone()),
        ("UPKEEP_TEXT".to_owned(), e.text.clone()),
        ("UPKEEP_LINE".to_owned(), e.line.clone()),
        ("UPKEEP_SEND".to_owned(), e.send.clone().unwrap_or_default()),
    ];
    for (name, value) in &job.fields {
        env.push((
            format!("UPKEEP_FIELD_{}", name.to_ascii_uppercase()),
            value.clone(),
        ));
    }
    env
}

async fn run(mut rx: mpsc::Receiver<Job>, s: Settings, server: String, stats: Arc<ProgramStats>) {
    let mut failing = false;
    while let Some(job) = rx.recv().await {
        stats.runs.fetch_add(1, Ordering::Relaxed);
        let mut cmd = tokio::process::Command::new(&s.path);
        cmd.args(&s.args)
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .envs(environment(&job, &server))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // Dropping the future past the timeout kills the program.
        let outcome = tokio::time::timeout(s.timeout, cmd.output()).await;
        let problem = match outcome {
            Ok(Ok(out)) if out.status.success() => None,
            Ok(Ok(out)) => Some(format!(
                "{} ({})",
                out.status,
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim()
            )),
            Ok(Err(e)) => Some(format!("cannot start: {e}")),
            Err(_) => Some(format!(
                "still running after {}: killed",
                humantime::format_duration(s.timeout)
            )),
        };
        match problem {
            None => {
                if failing {
                    tracing::info!(program = %s.path.display(), "alert program: succeeds again");
                    failing = false;
                }
            }
            Some(p) => {
                stats.failed.fetch_add(1, Ordering::Relaxed);
                if !failing {
                    tracing::error!(program = %s.path.display(), "alert program failed: {p}; reported once until it succeeds again");
                    failing = true;
                }
            }
        }
    }
}
