//! All-or-nothing file changes (issue 4: "never a partial write").
//!
//! Each file is replaced atomically (temporary file in the same folder, fsync, rename, fsync of
//! the folder), so a crash leaves either the old or the new content, never half of one. A
//! [`Transaction`] remembers what every path held before the tool touched it; when a later step
//! fails, [`Transaction::rollback`] puts every file back the same atomic way, deletes the files
//! the tool created and removes the folders it created. This is independent of the user-visible
//! `-b` backup (BOND-13), which is a copy for people, not for the program.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What a failed step was doing, so the caller can choose the seed's exit code.
#[derive(Debug)]
pub enum TxnError {
    /// Creating a parent folder failed.
    Mkdir(PathBuf, io::Error),
    /// Reading the old content, writing, syncing or renaming failed.
    Write(PathBuf, io::Error),
}

impl std::fmt::Display for TxnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TxnError::Mkdir(p, e) => write!(f, "cannot create folder {}: {e}", p.display()),
            TxnError::Write(p, e) => write!(f, "cannot write {}: {e}", p.display()),
        }
    }
}

enum Undo {
    Restore {
        path: PathBuf,
        content: Vec<u8>,
        mode: u32,
    },
    Remove(PathBuf),
    RemoveDir(PathBuf),
}

/// The changes made so far, newest last.
#[derive(Default)]
pub struct Transaction {
    undo: Vec<Undo>,
}

impl Transaction {
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces (or creates) `path` with `content`. `mode` None keeps an existing file's mode
    /// (the seed only appended to slave files, so their permissions are the admin's) and uses
    /// 0644 for new files.
    pub fn write(
        &mut self,
        path: &Path,
        content: &[u8],
        mode: Option<u32>,
    ) -> Result<(), TxnError> {
        let old = match fs::symlink_metadata(path) {
            Ok(meta) if meta.is_dir() => {
                return Err(TxnError::Write(
                    path.to_path_buf(),
                    io::Error::other("a folder is in the way"),
                ));
            }
            Ok(meta) => {
                let content = fs::read(path).map_err(|e| TxnError::Write(path.to_path_buf(), e))?;
                Some((content, meta.permissions().mode() & 0o7777))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(TxnError::Write(path.to_path_buf(), e)),
        };
        if let Some(parent) = path.parent() {
            self.create_dirs(parent)?;
        }
        let new_mode = mode.or(old.as_ref().map(|o| o.1)).unwrap_or(0o644);
        atomic_write(path, content, new_mode)
            .map_err(|e| TxnError::Write(path.to_path_buf(), e))?;
        self.undo.push(match old {
            Some((content, mode)) => Undo::Restore {
                path: path.to_path_buf(),
                content,
                mode,
            },
            None => Undo::Remove(path.to_path_buf()),
        });
        Ok(())
    }

    fn create_dirs(&mut self, dir: &Path) -> Result<(), TxnError> {
        let mut missing = Vec::new();
        let mut cur = Some(dir);
        while let Some(d) = cur {
            if d.as_os_str().is_empty() || d.exists() {
                break;
            }
            missing.push(d.to_path_buf());
            cur = d.parent();
        }
        for d in missing.into_iter().rev() {
            fs::create_dir(&d).map_err(|e| TxnError::Mkdir(d.clone(), e))?;
            self.undo.push(Undo::RemoveDir(d));
        }
        Ok(())
    }

    /// Undoes every change, newest first. Returns the paths that could not be restored (the
    /// caller reports them; the `-b` backup still holds their old content).
    pub fn rollback(self) -> Vec<String> {
        let mut failed = Vec::new();
        for undo in self.undo.into_iter().rev() {
            let result = match &undo {
                Undo::Restore {
                    path,
                    content,
                    mode,
                } => atomic_write(path, content, *mode),
                Undo::Remove(path) => fs::remove_file(path),
                Undo::RemoveDir(path) => fs::remove_dir(path),
            };
            if let Err(e) = result {
                let path = match &undo {
                    Undo::Restore { path, .. } | Undo::Remove(path) | Undo::RemoveDir(path) => path,
                };
                failed.push(format!("{}: {e}", path.display()));
            }
        }
        failed
    }

    /// Keeps the changes.
    pub fn commit(self) {}
}

/// Writes `content` to a temporary file beside `path`, syncs it, renames it over `path` and
/// syncs the folder, so readers and crashes see the old or the new file, never a mix.
pub fn atomic_write(path: &Path, content: &[u8], mode: u32) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other("path has no file name"))?;
    let tmp = dir.join(format!(
        ".{}.upkeep-tmp.{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask may have narrowed the creation mode; NetworkManager insists on exactly 0600.
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(content)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_restores_everything() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old");
        fs::write(&old, "before\n").unwrap();
        let created = dir.path().join("a/b/new");
        let mut txn = Transaction::new();
        txn.write(&old, b"after\n", None).unwrap();
        txn.write(&created, b"x", Some(0o600)).unwrap();
        assert_eq!(
            fs::metadata(&created).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(txn.rollback().is_empty());
        assert_eq!(fs::read_to_string(&old).unwrap(), "before\n");
        assert!(!dir.path().join("a").exists());
    }

    #[test]
    fn folder_in_the_way_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("x")).unwrap();
        let mut txn = Transaction::new();
        assert!(txn.write(&dir.path().join("x"), b"1", None).is_err());
    }
}
