//! Single-instance lock (BOND-4, exit 118): an exclusive, non-blocking `flock` on
//! `<work-dir>/.lock`. flock is released by the kernel when the process dies, so a crashed run
//! never leaves a stale lock behind, unlike a PID file.

use std::fs::{File, OpenOptions};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use super::errors::{code, BondError};

/// Held for the life of the value.
pub struct InstanceLock {
    _lock: Flock<File>,
}

/// Takes the lock, creating the work folder when needed (its absence is the seed's 105 cause).
pub fn acquire(work_dir: &Path) -> Result<InstanceLock, BondError> {
    std::fs::create_dir_all(work_dir).map_err(|e| BondError::WriteToolFile {
        code: code::MKDIR,
        detail: format!("{}: {e}", work_dir.display()),
    })?;
    let path = work_dir.join(".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| BondError::Internal {
            code: code::LOCK_FILE,
            detail: format!("{}: {e}", path.display()),
        })?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(InstanceLock { _lock: lock }),
        Err((_, Errno::EWOULDBLOCK)) => Err(BondError::AlreadyRunning),
        Err((_, e)) => Err(BondError::Internal {
            code: code::LOCK_FILE,
            detail: format!("{}: {e}", path.display()),
        }),
    }
}
