//! Small persistent state files (CFG-5..9: the reboot count must survive a reboot; MAP-6, DIR).
//!
//! A store is write-to-`<name>.tmp`, fsync, rename over `<name>`, fsync the folder: after a crash
//! or power loss the file holds either the old bytes or the new ones, never a mix. These functions
//! block; the host calls them from `spawn_blocking`.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use upkeep_actors::host::HostError;

const TMP_SUFFIX: &str = ".tmp";
/// State files are a few lines; anything bigger is not ours and is not read into memory whole.
const MAX_STATE_BYTES: u64 = 64 * 1024;

/// The state folder. One writer at a time: two stores of one name would share its temp file.
#[derive(Debug)]
pub(crate) struct StateDir {
    dir: PathBuf,
    writer: Mutex<()>,
}

fn state_error(name: &str, reason: impl ToString) -> HostError {
    HostError::State {
        name: name.to_string(),
        reason: reason.to_string(),
    }
}

impl StateDir {
    /// Opens the folder, creating it (and its parents) with mode 0700 when missing: the reboot
    /// history is the daemon's business only. An existing folder keeps its mode.
    pub(crate) fn open(dir: PathBuf) -> Result<StateDir, HostError> {
        let shown = dir.display().to_string();
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| state_error(&shown, format!("cannot create the state folder: {e}")))?;
        let meta = fs::metadata(&dir).map_err(|e| state_error(&shown, e))?;
        if !meta.is_dir() {
            return Err(state_error(&shown, "not a folder"));
        }
        // Whoever can write this folder can replace the reboot count: only the daemon's own
        // user (or root) may (issue 10).
        let me = nix::unistd::geteuid().as_raw();
        if meta.uid() != me && meta.uid() != 0 {
            return Err(state_error(
                &shown,
                format!(
                    "the state folder belongs to uid {}, not to the daemon's user (uid {me}); `chown {me} {shown}`",
                    meta.uid()
                ),
            ));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(state_error(
                &shown,
                format!(
                    "the state folder is writable by others (mode {:o}); `chmod go-w {shown}`",
                    meta.mode() & 0o7777
                ),
            ));
        }
        Ok(StateDir {
            dir,
            writer: Mutex::new(()),
        })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// A state name is one plain file name; anything that could leave the folder or collide with
    /// our own temp files is refused.
    fn path(&self, name: &str) -> Result<PathBuf, HostError> {
        let plain = !name.is_empty()
            && name != "."
            && name != ".."
            && !name.contains(['/', '\0'])
            && !name.ends_with(TMP_SUFFIX);
        if !plain {
            return Err(state_error(name, "not a valid state file name"));
        }
        Ok(self.dir.join(name))
    }

    /// Only a regular file of ours counts (CFG-9: anything else is damage, never "no count
    /// yet"): a symbolic link, even a dangling one, is refused rather than followed, and a FIFO or
    /// device is refused without blocking the daemon's start on it.
    pub(crate) fn load(&self, name: &str) -> Result<Option<Vec<u8>>, HostError> {
        let path = self.path(name)?;
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path);
        let file = match file {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(state_error(name, "is a symbolic link"))
            }
            Err(e) => return Err(state_error(name, e)),
        };
        let meta = file.metadata().map_err(|e| state_error(name, e))?;
        if !meta.is_file() {
            return Err(state_error(name, "not a regular file"));
        }
        let mut bytes = Vec::new();
        file.take(MAX_STATE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| state_error(name, e))?;
        if bytes.len() as u64 > MAX_STATE_BYTES {
            return Err(state_error(name, "larger than a state file can be"));
        }
        Ok(Some(bytes))
    }

    pub(crate) fn store(&self, name: &str, bytes: &[u8]) -> Result<(), HostError> {
        let path = self.path(name)?;
        let tmp = self.dir.join(format!("{name}{TMP_SUFFIX}"));
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let written = write_synced(&tmp, bytes).and_then(|()| fs::rename(&tmp, &path));
        if let Err(e) = written {
            // Best effort: a stale temp file is harmless (the next store truncates it).
            let _ = fs::remove_file(&tmp);
            return Err(state_error(name, e));
        }
        sync_dir(&self.dir).map_err(|e| state_error(name, format!("fsync of the folder: {e}")))
    }

    /// Renames `name` to `name.corrupt-<unix seconds>` (plus `.<n>` if that exists already) and
    /// returns the new path.
    pub(crate) fn quarantine(&self, name: &str) -> Result<String, HostError> {
        let path = self.path(name)?;
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        // symlink_metadata: a dangling link is kept aside too, not mistaken for "no file".
        if fs::symlink_metadata(&path).is_err() {
            return Err(state_error(
                name,
                "nothing to quarantine: the file does not exist",
            ));
        }
        let base = format!("{name}.corrupt-{secs}");
        let target = (0..1000)
            .map(|n| {
                if n == 0 {
                    base.clone()
                } else {
                    format!("{base}.{n}")
                }
            })
            .map(|candidate| self.dir.join(candidate))
            .find(|candidate| fs::symlink_metadata(candidate).is_err())
            .ok_or_else(|| state_error(name, "too many quarantined copies this second"))?;
        fs::rename(&path, &target).map_err(|e| state_error(name, e))?;
        sync_dir(&self.dir).map_err(|e| state_error(name, format!("fsync of the folder: {e}")))?;
        Ok(target.display().to_string())
    }
}

/// The temp file is always a new file: whatever is at its name is removed first (a symlink is
/// removed itself, never followed), and the open refuses to follow or reuse anything that
/// appears there in between (O_CREAT|O_EXCL, O_NOFOLLOW). A symlink planted at
/// `reboot-count.tmp` by anyone who could write the folder would otherwise have the root daemon
/// overwrite its target (issue 10).
fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(result: Result<Option<Vec<u8>>, HostError>) -> String {
        match result {
            Err(HostError::State { reason, .. }) => reason,
            other => panic!("expected a state error, got {other:?}"),
        }
    }

    /// Issue 10: a symlink planted at the temp name does not make the daemon write through it.
    #[test]
    fn a_planted_symlink_at_the_temp_file_is_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = StateDir::open(dir.path().join("st")).expect("state dir");
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious\n").expect("victim");
        std::os::unix::fs::symlink(&victim, state.dir().join("reboot-count.tmp")).expect("plant");
        state.store("reboot-count", b"count 1\n").expect("store");
        assert_eq!(fs::read_to_string(&victim).expect("victim"), "precious\n");
        assert_eq!(
            fs::read_to_string(state.dir().join("reboot-count")).expect("state"),
            "count 1\n"
        );
        let kind = fs::symlink_metadata(state.dir().join("reboot-count")).expect("meta");
        assert!(kind.is_file(), "the state file is a plain file");
    }

    /// Issue 10: a state folder others can write is refused, with the fix in the message.
    #[test]
    fn a_state_folder_others_can_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let open = dir.path().join("open");
        fs::create_dir(&open).expect("mkdir");
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).expect("chmod");
        match StateDir::open(open.clone()) {
            Err(HostError::State { reason, .. }) => assert!(
                reason.contains("writable by others (mode 777); `chmod go-w"),
                "{reason}"
            ),
            other => panic!(
                "accepted a world-writable state folder: {:?}",
                other.map(|_| ())
            ),
        }
    }

    #[test]
    fn only_a_regular_file_is_read_and_anything_else_is_kept_aside() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = StateDir::open(dir.path().to_path_buf()).expect("state dir");
        let path = dir.path().join("reboot-count");

        std::os::unix::fs::symlink(dir.path().join("nowhere"), &path).expect("symlink");
        assert_eq!(reason(state.load("reboot-count")), "is a symbolic link");
        let kept = state
            .quarantine("reboot-count")
            .expect("a dangling link is kept");
        assert!(fs::symlink_metadata(&kept).is_ok() && fs::symlink_metadata(&path).is_err());

        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("fifo");
        assert_eq!(reason(state.load("reboot-count")), "not a regular file");
        state.quarantine("reboot-count").expect("kept");

        fs::create_dir(&path).expect("dir");
        assert_eq!(reason(state.load("reboot-count")), "not a regular file");
        state.quarantine("reboot-count").expect("kept");

        fs::write(&path, vec![b'x'; 64 * 1024 + 1]).expect("big");
        assert_eq!(
            reason(state.load("reboot-count")),
            "larger than a state file can be"
        );
        fs::write(&path, b"ok").expect("small");
        assert_eq!(state.load("reboot-count"), Ok(Some(b"ok".to_vec())));
    }
}
