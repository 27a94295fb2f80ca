//! The disk monitor (MON-1 `disk`, HWM-1..7, MAP-10): read the first `read_size` bytes of a
//! block device or file, optionally with O_DIRECT so the page cache cannot answer for a dead
//! disk, or write a test file on a mount point, sync it, read it back and remove it.
//!
//! The I/O runs on an abandonable thread (see `probe`): a read that never returns (a FIFO, a
//! hung NFS mount, a disk stuck in error recovery) costs one parked thread, is reported as a
//! timeout at the deadline, and blocks nothing else.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use upkeep_actors::host::ProbeResult;

use super::{abandonable, FAILED, INVALID};

/// O_DIRECT buffers must be aligned to the logical block size; 4096 covers every common disk.
const ALIGN: usize = 4096;

pub(super) struct Spec {
    pub path: PathBuf,
    pub read_size: u32,
    pub direct: bool,
    pub write_test: bool,
}

pub(super) async fn check(monitor: String, spec: Spec, deadline: Duration) -> ProbeResult {
    let what = format!(
        "{} {}",
        if spec.write_test {
            "write test in"
        } else {
            "read of"
        },
        spec.path.display()
    );
    let key = format!("disk:{monitor}");
    let result = abandonable(key, what, deadline, move || {
        if spec.write_test {
            write_test(&monitor, &spec)
        } else {
            read(&spec.path, spec.read_size, spec.direct).map(|_| ())
        }
    })
    .await;
    match result {
        Ok(()) => ProbeResult::normal(),
        Err(verdict) => verdict,
    }
}

/// Reads up to `size` bytes from the start of `path`; `Ok` with the bytes read (a file shorter
/// than `size` is fine: only I/O errors count).
pub(super) fn read(path: &Path, size: u32, direct: bool) -> Result<Vec<u8>, ProbeResult> {
    let mut options = OpenOptions::new();
    options.read(true);
    if direct {
        options.custom_flags(libc::O_DIRECT);
    }
    let file = options
        .open(path)
        .map_err(|e| open_error(path, direct, &e))?;
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    if direct {
        direct_read(&file, path, size)
    } else {
        let mut buf = Vec::with_capacity(size.min(1 << 20));
        file.take(size as u64)
            .read_to_end(&mut buf)
            .map_err(|e| io_error("read", path, &e))?;
        Ok(buf)
    }
}

fn direct_read(file: &File, path: &Path, size: usize) -> Result<Vec<u8>, ProbeResult> {
    // Over-allocate and start at the first aligned byte: no unsafe allocation needed.
    let len = size.div_ceil(ALIGN) * ALIGN;
    let mut raw = vec![0u8; len + ALIGN];
    let skip = (ALIGN - raw.as_ptr() as usize % ALIGN) % ALIGN;
    let buf = &mut raw[skip..skip + len];
    let mut done = 0;
    while done < len {
        match file.read_at(&mut buf[done..], done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error("read", path, &e)),
        }
    }
    Ok(buf[..done.min(size)].to_vec())
}

/// Write, sync, read back and compare a small file in the folder `spec.path`, then remove it.
fn write_test(monitor: &str, spec: &Spec) -> Result<(), ProbeResult> {
    let file = spec.path.join(format!(".upkeep-disk-check.{monitor}"));
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    // A pattern that changes every check, so a stale copy cannot pass the comparison.
    let pattern: Vec<u8> = format!("upkeep disk check {monitor} {stamp}\n")
        .into_bytes()
        .into_iter()
        .cycle()
        .take(usize::try_from(spec.read_size).unwrap_or(512).max(1))
        .collect();
    let result = (|| {
        let mut out = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&file)
            .map_err(|e| io_error("create", &file, &e))?;
        out.write_all(&pattern)
            .map_err(|e| io_error("write", &file, &e))?;
        out.sync_all().map_err(|e| io_error("sync", &file, &e))?;
        drop(out);
        let back = read(&file, spec.read_size, spec.direct)?;
        if back != pattern {
            return Err(ProbeResult::error(
                FAILED,
                format!(
                    "{}: read back {} bytes that differ from the {} written",
                    file.display(),
                    back.len(),
                    pattern.len()
                ),
            ));
        }
        Ok(())
    })();
    let removed = std::fs::remove_file(&file);
    result?;
    removed.map_err(|e| io_error("remove", &file, &e))
}

fn open_error(path: &Path, direct: bool, e: &io::Error) -> ProbeResult {
    match e.raw_os_error() {
        Some(libc::ENOENT) => {
            ProbeResult::error(INVALID, format!("{} does not exist", path.display()))
        }
        Some(libc::EINVAL) if direct => ProbeResult::error(
            INVALID,
            format!(
                "{} cannot be opened with O_DIRECT (the file system does not support it): {e}",
                path.display()
            ),
        ),
        _ => io_error("open", path, e),
    }
}

fn io_error(op: &str, path: &Path, e: &io::Error) -> ProbeResult {
    ProbeResult::error(FAILED, format!("cannot {op} {}: {e}", path.display()))
}
