//! The alert log (MSG-1 `alert`): every routed event, one JSON line each, in the state folder's
//! `alerts/` folder. Append-only and durable: a writer thread appends what the queue holds and
//! fsyncs once per batch. Size-bounded: past `max_file_bytes` the file is rotated
//! (`alerts.log` → `alerts.log.1` → … `alerts.log.<keep>`, the oldest removed). It survives
//! daemon restarts and reboots, so "why did it reboot?" still has an answer, and it carries the
//! feed's sequence numbers, so they keep growing across restarts.
//!
//! Files are opened through a checked folder handle, never following a link (issue 10).
//! [`AlertLog::read`] is the read API for other modules (`upkeep alerts`, `events --since`,
//! the web manager).

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;

use upkeep_config::AlertLog as Settings;

use crate::control::proto::EventDto;
use crate::host::safe_file::{Dir, Trust};

/// The folder in the state folder.
pub const FOLDER: &str = "alerts";
/// The current file.
pub const FILE: &str = "alerts.log";
/// Lines written per fsync at most.
const BATCH: usize = 256;

/// One line of the alert log: the event as the feed shows it, with `send` (the channels of its
/// message) filled in.
pub type Entry = EventDto;

/// Whether an entry's message is marked for the alert channel (what `upkeep alerts` shows).
pub fn is_alert(entry: &Entry) -> bool {
    entry
        .send
        .as_deref()
        .is_some_and(|s| s.split('.').any(|c| c == "alert"))
}

/// What [`AlertLog::read`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// Oldest first.
    pub entries: Vec<Entry>,
    /// The oldest `seq` still kept (0 when the log is empty).
    pub first_seq: u64,
    /// The newest `seq` written.
    pub last_seq: u64,
}

/// Why the alert log could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("alert log `{}`: {reason}", path.display())]
pub struct AlertLogError {
    pub path: PathBuf,
    pub reason: String,
}

/// A reader of one alert log folder; cheap to clone.
#[derive(Debug, Clone)]
pub struct AlertLog {
    dir: PathBuf,
    keep: u32,
}

impl AlertLog {
    pub fn new(state_dir: &Path, settings: &Settings) -> AlertLog {
        AlertLog {
            dir: state_dir.join(FOLDER),
            keep: settings.keep_files,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn names(&self) -> Vec<OsString> {
        // Oldest first.
        let mut names: Vec<OsString> = (1..=self.keep)
            .rev()
            .map(|n| OsString::from(format!("{FILE}.{n}")))
            .collect();
        names.push(OsString::from(FILE));
        names
    }

    /// Entries with `seq > since`, oldest first, at most `limit` (the oldest ones after
    /// `since`). Lines that do not parse (a line torn by a power cut) are skipped.
    pub fn read(&self, since: u64, limit: usize) -> History {
        let mut history = History::default();
        let Ok(dir) = Dir::open(&self.dir, Trust::Any) else {
            return history;
        };
        for name in self.names() {
            let Ok(file) = dir.open_read(&name) else {
                continue;
            };
            for line in BufReader::new(file).lines() {
                let Ok(line) = line else { break };
                let Ok(entry) = serde_json::from_str::<Entry>(&line) else {
                    continue;
                };
                let seq = entry.seq;
                if history.first_seq == 0 {
                    history.first_seq = seq;
                }
                history.last_seq = history.last_seq.max(seq);
                if seq > since && history.entries.len() < limit {
                    history.entries.push(entry);
                }
            }
        }
        history
    }

    /// Start the writer thread.
    pub fn writer(
        &self,
        settings: &Settings,
        queue: usize,
    ) -> Result<(Writer, std::thread::JoinHandle<()>), AlertLogError> {
        let err = |reason: String| AlertLogError {
            path: self.dir.clone(),
            reason,
        };
        crate::daemon::dirs::create(&self.dir, 0o700).map_err(|e| err(e.to_string()))?;
        let dir = Dir::open(&self.dir, Trust::Private).map_err(err)?;
        let file = dir
            .open_append(FILE.as_ref(), 0o600)
            .map_err(|e| err(format!("cannot open {FILE}: {e}")))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        // Unbounded channel, bounded by `pending`: std's `sync_channel(n)` allocates all n slots
        // up front (1.3 MiB at 8,192), this one grows only while entries wait (issue 14).
        let (tx, rx) = std::sync::mpsc::channel();
        let dropped = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let pending = Arc::new(AtomicU64::new(0));
        let mut state = WriterState {
            dir,
            file,
            size,
            max: settings.max_file_bytes,
            keep: settings.keep_files,
            failed: failed.clone(),
            pending: pending.clone(),
            failing: false,
        };
        let thread = std::thread::Builder::new()
            .name("upkeep-alert-log".into())
            .spawn(move || state.run(rx))
            .map_err(|e| err(format!("cannot start its writer: {e}")))?;
        Ok((
            Writer {
                tx,
                capacity: u64::try_from(queue).unwrap_or(u64::MAX),
                dropped,
                failed,
                pending,
            },
            thread,
        ))
    }
}

/// The sending side of the writer; dropping every clone ends the thread after it wrote the rest.
#[derive(Clone)]
pub struct Writer {
    tx: Sender<Entry>,
    /// Entries that may wait (queued or in the batch being written) before new ones drop.
    capacity: u64,
    pub dropped: Arc<AtomicU64>,
    pub failed: Arc<AtomicU64>,
    /// Queued and not yet written.
    pending: Arc<AtomicU64>,
}

impl Writer {
    /// Whether everything queued has been written (or failed).
    pub fn idle(&self) -> bool {
        self.pending.load(Ordering::SeqCst) == 0
    }

    /// Queue one entry; never waits. A full queue drops and counts it.
    pub fn offer(&self, entry: Entry) {
        let waiting = self.pending.fetch_add(1, Ordering::SeqCst);
        if waiting >= self.capacity || self.tx.send(entry).is_err() {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

struct WriterState {
    dir: Dir,
    file: std::fs::File,
    size: u64,
    max: u64,
    keep: u32,
    failed: Arc<AtomicU64>,
    pending: Arc<AtomicU64>,
    failing: bool,
}

impl WriterState {
    fn run(&mut self, rx: Receiver<Entry>) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(e) => batch.push(e),
                    Err(_) => break,
                }
            }
            let count = batch.len() as u64;
            let written = self.write(&batch);
            self.pending.fetch_sub(count, Ordering::SeqCst);
            match written {
                Ok(()) => {
                    if self.failing {
                        tracing::info!("alert log: writing again");
                        self.failing = false;
                    }
                }
                Err(e) => {
                    self.failed.fetch_add(count, Ordering::Relaxed);
                    // Said once per failing spell, not once per batch.
                    if !self.failing {
                        tracing::error!(
                            "alert log: cannot write to `{}`: {e}; events are lost until it works again",
                            self.dir.path().display()
                        );
                        self.failing = true;
                    }
                }
            }
        }
        let _ = self.file.sync_all();
    }

    fn write(&mut self, batch: &[Entry]) -> std::io::Result<()> {
        let mut text = Vec::with_capacity(batch.len() * 200);
        for entry in batch {
            let Ok(line) = serde_json::to_string(entry) else {
                continue;
            };
            let len = line.len() as u64 + 1;
            let so_far = self.size + text.len() as u64;
            if so_far > 0 && so_far + len > self.max {
                self.file.write_all(&text)?;
                self.file.sync_data()?;
                text.clear();
                self.rotate()?;
            }
            text.extend_from_slice(line.as_bytes());
            text.push(b'\n');
        }
        self.file.write_all(&text)?;
        self.size += text.len() as u64;
        // MSG: durable per batch, so an entry written before a power cut is there after it.
        self.file.sync_data()
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let name = |n: u32| OsString::from(format!("{FILE}.{n}"));
        for n in (1..self.keep).rev() {
            match self.dir.rename_durably(&name(n), &name(n + 1)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        self.dir.rename_durably(FILE.as_ref(), &name(1))?;
        self.file = self.dir.open_append(FILE.as_ref(), 0o600)?;
        self.size = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64) -> Entry {
        crate::alerts::sample_event(seq)
    }

    #[test]
    fn entries_survive_the_writer_and_rotation_keeps_the_newest_within_bounds() {
        let state = tempfile::tempdir().expect("tempdir");
        let settings = Settings {
            max_file_bytes: 2048,
            keep_files: 2,
        };
        let log = AlertLog::new(state.path(), &settings);
        let (writer, thread) = log.writer(&settings, 1000).expect("writer");
        for seq in 1..=100 {
            writer.offer(entry(seq));
        }
        drop(writer);
        thread.join().expect("joined");
        let history = log.read(0, usize::MAX);
        // 3 files of at most 2 KiB: the oldest entries went, the newest are all there in order.
        assert_eq!(history.last_seq, 100);
        assert!(history.first_seq > 1, "rotation dropped the oldest");
        let seqs: Vec<u64> = history.entries.iter().map(|e| e.seq).collect();
        let expected: Vec<u64> = (history.first_seq..=100).collect();
        assert_eq!(seqs, expected);
        let total: u64 = std::fs::read_dir(log.dir())
            .expect("dir")
            .map(|e| e.expect("entry").metadata().expect("meta").len())
            .sum();
        assert!(total <= 3 * 2048, "{total} bytes");
        // A reader asking after a seq gets only what follows, limited.
        let after = log.read(95, 3);
        assert_eq!(
            after.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![96, 97, 98]
        );
    }

    #[test]
    fn a_link_planted_at_the_log_name_is_refused() {
        let state = tempfile::tempdir().expect("tempdir");
        let dir = state.path().join(FOLDER);
        std::fs::create_dir(&dir).expect("mkdir");
        std::os::unix::fs::symlink("/etc/passwd", dir.join(FILE)).expect("link");
        let settings = Settings::default();
        let err = AlertLog::new(state.path(), &settings)
            .writer(&settings, 10)
            .err()
            .expect("refused");
        assert!(err.reason.contains("cannot open"), "{err}");
    }
}
