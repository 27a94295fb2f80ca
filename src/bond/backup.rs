//! `-b`: a copy of every file the run is about to change, made before the first change
//! (BOND-13, BOND-14), in `<work-dir>/backup/<bond>-<unix-seconds>/`.
//!
//! The seed did not name its backup files, which made restoring guesswork. Here the folder
//! mirrors the paths (`files/etc/...`) and `MANIFEST` says, per path, whether it existed
//! (`saved`) or was created by the run (`absent`, delete it to restore). docs/BOND.md has the
//! restore procedure (BOND-15).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::args::BondName;
use super::errors::{code, BondError};

fn backup_error(detail: String) -> BondError {
    BondError::WriteSetting {
        code: code::BACKUP,
        detail,
    }
}

/// Copies `targets` (absolute paths) and returns the backup folder.
pub fn make(work_dir: &Path, bond: BondName, targets: &[PathBuf]) -> Result<PathBuf, BondError> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let base = work_dir.join("backup");
    let mut dir = base.join(format!("{bond}-{secs}"));
    let mut n = 1;
    while dir.exists() {
        dir = base.join(format!("{bond}-{secs}-{n}"));
        n += 1;
    }
    let files = dir.join("files");
    fs::create_dir_all(&files).map_err(|e| backup_error(format!("{}: {e}", files.display())))?;
    let mut manifest = String::from(
        "# upkeep bond backup: saved = old copy under files/, absent = created by the run\n",
    );
    for target in targets {
        let rel = target.strip_prefix("/").unwrap_or(target);
        match fs::metadata(target) {
            Ok(meta) if meta.is_file() => {
                let copy = files.join(rel);
                if let Some(parent) = copy.parent() {
                    fs::create_dir_all(parent)
                        .map_err(|e| backup_error(format!("{}: {e}", parent.display())))?;
                }
                fs::copy(target, &copy)
                    .map_err(|e| backup_error(format!("{}: {e}", target.display())))?;
                let mode = meta.permissions().mode() & 0o7777;
                fs::set_permissions(&copy, fs::Permissions::from_mode(mode))
                    .map_err(|e| backup_error(format!("{}: {e}", copy.display())))?;
                manifest.push_str(&format!("saved {}\n", target.display()));
            }
            Ok(_) => {
                return Err(backup_error(format!(
                    "{} is not a regular file",
                    target.display()
                )))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                manifest.push_str(&format!("absent {}\n", target.display()));
            }
            Err(e) => return Err(backup_error(format!("{}: {e}", target.display()))),
        }
    }
    super::txn::atomic_write(&dir.join("MANIFEST"), manifest.as_bytes(), 0o644)
        .map_err(|e| backup_error(format!("{}: {e}", dir.display())))?;
    Ok(dir)
}
