//! A resource's stdout and stderr, logged line by line under its name (issue 9 §2), as journald
//! does per unit.
//!
//! # Choices
//!
//! * One task per child always drains both pipes: a child never blocks on a full pipe because of us.
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

use std::os::fd::OwnedFd;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
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

/// Starts the task that logs the child's stdout and stderr. Needs a runtime (the caller has one).
///
/// One task for both pipes, and no buffer while they are quiet: a read buffer lives only for
/// the instant data is there (issue 14: 8 KiB per pipe and a task each were a tenth of an idle
/// daemon's heap at 100 resources).
pub(super) fn capture(
    run: &ScriptRun,
    stdout: Option<std::io::Result<OwnedFd>>,
    stderr: Option<std::io::Result<OwnedFd>>,
) {
    let name: Arc<str> = env_of(run, "UPKEEP_RESOURCE")
        .map(str::to_owned)
        .unwrap_or_else(|| run.command.program.display().to_string())
        .into();
    let out = stdout.and_then(|p| Pipe::new(p, Stream::Stdout));
    let err = stderr.and_then(|p| Pipe::new(p, Stream::Stderr));
    if out.is_none() && err.is_none() {
        return;
    }
    let bucket = bucket_of(&name);
    tokio::spawn(drain(out, err, name, bucket));
}

/// One end of a child's output pipe, with the part of a line read so far.
struct Pipe {
    fd: AsyncFd<OwnedFd>,
    stream: Stream,
    line: Vec<u8>,
}

impl Pipe {
    /// `None` when the pipe cannot be watched (then it is closed, and the child gets EPIPE
    /// rather than blocking on a pipe nobody reads). `fd` must be non-blocking.
    #[allow(unsafe_code)]
    fn new(fd: std::io::Result<OwnedFd>, stream: Stream) -> Option<Pipe> {
        let fd = fd.ok()?;
        // SAFETY (tokio #8587): the `OwnedFd` is moved into the `AsyncFd`, which owns it until
        // dropped; nobody else holds this descriptor, so it stays open and the same file for the
        // registration's whole life.
        match unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) } {
            Ok(fd) => Some(Pipe {
                fd,
                stream,
                line: Vec::new(),
            }),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch a child's output pipe");
                None
            }
        }
    }

    /// Waits for data and logs it; `false` once the pipe is closed. Cancel safe: nothing but
    /// the readiness wait is awaited, the read and the logging happen in one go after it.
    async fn ready(&mut self, name: &str, bucket: &Shared) -> bool {
        let Ok(mut guard) = self.fd.readable().await else {
            return false;
        };
        let mut buf = [0u8; READ_CHUNK];
        let read = guard
            .try_io(|fd| nix::unistd::read(fd.get_ref(), &mut buf).map_err(std::io::Error::from));
        let n = match read {
            // Spurious readiness: wait again.
            Err(_would_block) => return true,
            Ok(Ok(0)) | Ok(Err(_)) => return false,
            Ok(Ok(n)) => n,
        };
        let mut rest = buf.get(..n).unwrap_or_default();
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let (head, tail) = rest.split_at(end);
            keep(&mut self.line, head);
            emit(name, self.stream, bucket, &self.line);
            self.line.clear();
            rest = tail.get(1..).unwrap_or_default();
        }
        keep(&mut self.line, rest);
        if self.line.is_empty() {
            // A long line's buffer is not kept for the next one.
            self.line = Vec::new();
        }
        true
    }

    /// The pipe closed: its last partial line, and what was suppressed.
    fn close(self, name: &str, bucket: &Shared) {
        if !self.line.is_empty() {
            emit(name, self.stream, bucket, &self.line);
        }
        let due = bucket
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .due(Instant::now(), true);
        if let Some(n) = due {
            report(name, n);
        }
    }
}

/// Bytes read from a pipe at once (on the stack, only while reading).
const READ_CHUNK: usize = 4096;

async fn drain(mut out: Option<Pipe>, mut err: Option<Pipe>, name: Arc<str>, bucket: Shared) {
    loop {
        // Which pipe closed, if one did.
        let closed = match (out.as_mut(), err.as_mut()) {
            (None, None) => return,
            (Some(o), None) => (!o.ready(&name, &bucket).await).then_some(Stream::Stdout),
            (None, Some(e)) => (!e.ready(&name, &bucket).await).then_some(Stream::Stderr),
            (Some(o), Some(e)) => tokio::select! {
                open = o.ready(&name, &bucket) => (!open).then_some(Stream::Stdout),
                open = e.ready(&name, &bucket) => (!open).then_some(Stream::Stderr),
            },
        };
        let slot = match closed {
            None => continue,
            Some(Stream::Stdout) => &mut out,
            Some(Stream::Stderr) => &mut err,
        };
        if let Some(pipe) = slot.take() {
            pipe.close(&name, &bucket);
        }
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
