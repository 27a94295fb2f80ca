//! A resource's stdout and stderr, logged line by line under its name (issue 9 §2), as journald
//! does per unit.
//!
//! # Choices
//!
//! * One task per pipe always drains it: a child never blocks on a full pipe because of us.
//!   Lines over the rate are dropped, not queued (no backpressure, no memory growth).
//! * The rate is per resource, shared by its stdout and stderr and by its successive runs, so a
//!   crash loop does not get a fresh budget each restart: a token bucket of [`RATE`] lines per
//!   second with a burst of [`BURST`]. While lines are dropped, at most one "N lines suppressed"
//!   line per second says so; whatever is left is reported when the pipe closes.
//! * A line is cut at [`MAX_LINE`] bytes: a program writing without newlines cannot make us
//!   buffer without bound.
//! * stdout is logged at info, stderr at warn.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};
use upkeep_actors::host::ScriptRun;

use super::env_of;

/// Lines per second a resource may log in the long run.
pub const RATE: f64 = 100.0;
/// Lines a resource may log at once after a quiet spell.
pub const BURST: f64 = 200.0;
/// Longest line kept, in bytes; the rest of the line is dropped.
pub const MAX_LINE: usize = 4096;
/// At most one "suppressed" line per this long.
const REPORT_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
    suppressed: u64,
    reported: Option<Instant>,
}

impl Bucket {
    fn new(now: Instant) -> Self {
        Bucket {
            tokens: BURST,
            refilled: now,
            suppressed: 0,
            reported: None,
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * RATE).min(BURST);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            self.suppressed = self.suppressed.saturating_add(1);
            false
        }
    }

    /// The count to report now, if any: due once a second, or at once when `flush`.
    fn due(&mut self, now: Instant, flush: bool) -> Option<u64> {
        if self.suppressed == 0 {
            return None;
        }
        let on_time = self
            .reported
            .is_none_or(|at| now.saturating_duration_since(at) >= REPORT_EVERY);
        if !(flush || on_time) {
            return None;
        }
        self.reported = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

type Shared = Arc<Mutex<Bucket>>;

/// The bucket of a resource, the same for all its runs while the daemon lives.
fn bucket_of(name: &str) -> Shared {
    static BUCKETS: OnceLock<Mutex<HashMap<String, Shared>>> = OnceLock::new();
    let mut map = BUCKETS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    Arc::clone(
        map.entry(name.to_owned())
            .or_insert_with(|| Arc::new(Mutex::new(Bucket::new(Instant::now())))),
    )
}

#[derive(Debug, Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

/// Starts the tasks that log the child's stdout and stderr. Needs a runtime (the caller has one).
pub(super) fn capture(run: &ScriptRun, child: &mut tokio::process::Child) {
    let name: Arc<str> = env_of(run, "UPKEEP_RESOURCE")
        .map(str::to_owned)
        .unwrap_or_else(|| run.command.program.display().to_string())
        .into();
    let bucket = bucket_of(&name);
    if let Some(out) = child.stdout.take() {
        tokio::spawn(pump(
            out,
            Arc::clone(&name),
            Stream::Stdout,
            Arc::clone(&bucket),
        ));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(pump(err, name, Stream::Stderr, bucket));
    }
}

fn report(name: &str, suppressed: u64) {
    tracing::warn!(
        resource = name,
        suppressed,
        "{suppressed} lines of output suppressed"
    );
}

fn emit(name: &str, stream: Stream, bucket: &Shared, line: &[u8]) {
    let now = Instant::now();
    let (allowed, due) = {
        let mut b = bucket.lock().unwrap_or_else(PoisonError::into_inner);
        let allowed = b.take(now);
        (allowed, b.due(now, false))
    };
    if let Some(n) = due {
        report(name, n);
    }
    if !allowed {
        return;
    }
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches('\r');
    match stream {
        Stream::Stdout => tracing::info!(resource = name, stream = "stdout", "{text}"),
        Stream::Stderr => tracing::warn!(resource = name, stream = "stderr", "{text}"),
    }
}

async fn pump(mut pipe: impl AsyncRead + Unpin, name: Arc<str>, stream: Stream, bucket: Shared) {
    let mut buf = vec![0u8; 8192];
    let mut line: Vec<u8> = Vec::new();
    loop {
        let n = match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut rest = buf.get(..n).unwrap_or_default();
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let (head, tail) = rest.split_at(end);
            keep(&mut line, head);
            emit(&name, stream, &bucket, &line);
            line.clear();
            rest = tail.get(1..).unwrap_or_default();
        }
        keep(&mut line, rest);
    }
    if !line.is_empty() {
        emit(&name, stream, &bucket, &line);
    }
    let due = bucket
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .due(Instant::now(), true);
    if let Some(n) = due {
        report(&name, n);
    }
}

/// Appends to the line up to [`MAX_LINE`] bytes.
fn keep(line: &mut Vec<u8>, bytes: &[u8]) {
    let room = MAX_LINE.saturating_sub(line.len());
    line.extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate_and_reports_once_a_second() {
        let t0 = Instant::now();
        let mut b = Bucket::new(t0);
        let allowed = (0..1000).filter(|_| b.take(t0)).count();
        assert_eq!(allowed, 200);
        assert_eq!(b.due(t0, false), Some(800));
        assert!(!b.take(t0));
        assert_eq!(b.due(t0, false), None, "one report a second");
        let t1 = t0 + Duration::from_secs(1);
        let allowed = (0..1000).filter(|_| b.take(t1)).count();
        assert_eq!(allowed, 100);
        assert_eq!(b.due(t1, false), Some(901));
    }
}
