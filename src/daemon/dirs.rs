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

/// Issue 10: give an existing folder that belongs to this process the traversal bits for group
/// and others, so the configured groups reach the socket inside (a service manager may have
/// made it `0750 root:root`). Nothing else changes: no read or write bits, and a folder of
/// another user (a shared `/tmp`-like place) is left alone.
pub fn let_traverse(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(path)?;
    if meta.uid() != nix::unistd::geteuid().as_raw() {
        return Ok(());
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o011 != 0o011 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode | 0o011))?;
    }
    Ok(())
}
