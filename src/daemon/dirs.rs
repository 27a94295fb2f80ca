//! The daemon's folders (DIR, MAP-3): created when missing, never loosened when present.
//!
//! A folder that already exists keeps its mode: an administrator who opened the log folder to
//! a group did so on purpose.

use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

/// Mode for the folders of the runtime (socket) and the logs: the group may look in as root
/// (an operators' group reading logs or using the 0660 socket); a user daemon keeps them private.
pub fn private_mode() -> u32 {
    if nix::unistd::geteuid().is_root() {
        0o750
    } else {
        0o700
    }
}

/// Create `path` and its missing parents with `mode`.
pub fn create(path: &Path, mode: u32) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)?;
    if !std::fs::metadata(path)?.is_dir() {
        return Err(io::Error::new(io::ErrorKind::AlreadyExists, "not a folder"));
    }
    Ok(())
}
