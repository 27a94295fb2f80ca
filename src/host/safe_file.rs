//! Files the daemon and the CLI write as root, written so that nobody else can redirect them
//! (issue 10, "files that cannot be hijacked").
//!
//! A replacement is: open the folder once (`O_DIRECTORY|O_NOFOLLOW`) and check its owner and mode
//! on that handle, create a new temp file in it relative to the handle (`openat` with
//! `O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600 unless told), write and fsync it, then `renameat` it over
//! the target and fsync the folder. A symbolic link planted at the temp name makes the create
//! fail; one planted at the target name is itself replaced, never followed; and a folder swapped
//! for a link after the check changes nothing, because every step goes through the handle.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use nix::fcntl::{openat, renameat, OFlag};
use nix::sys::stat::{fstat, Mode};
use nix::unistd::{fsync, unlinkat, UnlinkatFlags};

/// How much a folder must be trusted before a file is put in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// Owned by root or by us, and writable by nobody else: the state folder, the folder of the
    /// daemon's configuration file.
    Private,
    /// Any folder (a user's chosen output, `/tmp`): the temp file is still created without
    /// following anything, and the target name is replaced, never followed.
    Any,
}

/// A folder opened once and checked; every later step goes through this handle.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

/// Why a folder is not trusted, in words that name the path and the fix.
pub fn check_dir_meta(path: &Path, uid: u32, mode: u32) -> Result<(), String> {
    let me = nix::unistd::geteuid().as_raw();
    let shown = path.display();
    if uid != 0 && uid != me {
        return Err(format!(
            "the folder `{shown}` belongs to uid {uid}, not to root or the daemon's user (uid {me}); `chown root {shown}`"
        ));
    }
    if mode & 0o022 != 0 {
        return Err(format!(
            "the folder `{shown}` is writable by others (mode {:o}); `chmod go-w {shown}`",
            mode & 0o7777
        ));
    }
    Ok(())
}

impl Dir {
    pub fn open(path: &Path, trust: Trust) -> Result<Dir, String> {
        let fd = openat(
            nix::fcntl::AT_FDCWD,
            path,
            OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| format!("cannot open the folder `{}`: {e}", path.display()))?;
        if trust == Trust::Private {
            let st = fstat(&fd).map_err(|e| format!("`{}`: {e}", path.display()))?;
            check_dir_meta(path, st.st_uid, st.st_mode)?;
        }
        Ok(Dir {
            fd,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A new file `name` in this folder; refuses anything already there, a link included.
    pub fn create_new(&self, name: &OsStr, mode: u32) -> io::Result<File> {
        let fd = openat(
            &self.fd,
            name,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(mode),
        )
        .map_err(io::Error::from)?;
        Ok(File::from(fd))
    }

    fn sync(&self) -> io::Result<()> {
        fsync(&self.fd).map_err(io::Error::from)
    }

    /// `name` in this folder opened to append, created when absent; a link is refused, not
    /// followed (the alert log, issue 11).
    pub fn open_append(&self, name: &OsStr, mode: u32) -> io::Result<File> {
        let fd = openat(
            &self.fd,
            name,
            OFlag::O_WRONLY
                | OFlag::O_APPEND
                | OFlag::O_CREAT
                | OFlag::O_NOFOLLOW
                | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(mode),
        )
        .map_err(io::Error::from)?;
        Ok(File::from(fd))
    }

    /// `name` in this folder opened to read; a link is refused.
    pub fn open_read(&self, name: &OsStr) -> io::Result<File> {
        let fd = openat(
            &self.fd,
            name,
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(io::Error::from)?;
        Ok(File::from(fd))
    }

    /// Renames within this folder, then makes the rename durable.
    pub fn rename_durably(&self, from: &OsStr, to: &OsStr) -> io::Result<()> {
        renameat(&self.fd, from, &self.fd, to).map_err(io::Error::from)?;
        self.sync()
    }
}

/// A file written whole beside its target and not yet renamed over it; dropped without
/// [`Pending::commit`], the temp file goes.
#[derive(Debug)]
pub struct Pending {
    dir: Dir,
    tmp: Option<OsString>,
    name: OsString,
}

impl Pending {
    /// The path the commit replaces.
    pub fn target(&self) -> PathBuf {
        self.dir.path.join(&self.name)
    }

    pub fn commit(mut self) -> Result<(), String> {
        let Some(tmp) = self.tmp.take() else {
            return Err("nothing staged".into());
        };
        if let Err(e) = renameat(
            &self.dir.fd,
            tmp.as_os_str(),
            &self.dir.fd,
            self.name.as_os_str(),
        ) {
            let _ = unlinkat(&self.dir.fd, tmp.as_os_str(), UnlinkatFlags::NoRemoveDir);
            return Err(format!("cannot replace `{}`: {e}", self.target().display()));
        }
        self.dir
            .sync()
            .map_err(|e| format!("fsync of `{}`: {e}", self.dir.path.display()))
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = unlinkat(&self.dir.fd, tmp.as_os_str(), UnlinkatFlags::NoRemoveDir);
        }
    }
}

/// A temp name nobody can guess ahead (pid, time, counter), so a name planted in a shared folder
/// can at worst make one attempt fail, and never be written through.
pub fn unpredictable_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut seed = [0u8; 8];
    if let Ok(mut f) = File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut seed);
    }
    format!(
        "{}-{:x}-{n}-{:x}",
        std::process::id(),
        nanos,
        u64::from_ne_bytes(seed)
    )
}

/// Where a write of `target` really lands: a symbolic link is resolved so `config apply` on a
/// linked configuration file updates the link's target and keeps the link (issue 10).
fn resolve(target: &Path, follow_link: bool) -> Result<PathBuf, String> {
    let is_link = std::fs::symlink_metadata(target)
        .map(|m| m.file_type().is_symlink())
        .unwrap_or(false);
    if follow_link && is_link {
        return std::fs::canonicalize(target)
            .map_err(|e| format!("cannot resolve the link `{}`: {e}", target.display()));
    }
    Ok(target.to_path_buf())
}

/// Writes `bytes` into a new temp file beside `target` (after resolving a link when
/// `follow_link`), in a folder trusted as `trust` says.
pub fn stage(
    target: &Path,
    bytes: &[u8],
    mode: u32,
    trust: Trust,
    follow_link: bool,
) -> Result<Pending, String> {
    let target = resolve(target, follow_link)?;
    let name = target
        .file_name()
        .filter(|n| !n.as_bytes().is_empty())
        .ok_or_else(|| format!("`{}` is not a file name", target.display()))?
        .to_os_string();
    let folder = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir = Dir::open(&folder, trust)?;
    let mut tmp = OsString::from(".");
    tmp.push(&name);
    tmp.push(format!(".{}.tmp", unpredictable_suffix()));
    let mut file = dir
        .create_new(&tmp, mode)
        .map_err(|e| format!("cannot create a temp file in `{}`: {e}", folder.display()))?;
    let pending = Pending {
        dir,
        tmp: Some(tmp),
        name,
    };
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write `{}`: {e}", pending.target().display()))?;
    Ok(pending)
}

/// [`stage`] and [`Pending::commit`] at once.
pub fn replace(
    target: &Path,
    bytes: &[u8],
    mode: u32,
    trust: Trust,
    follow_link: bool,
) -> Result<(), String> {
    stage(target, bytes, mode, trust, follow_link)?.commit()
}

/// A new file at `path`, mode `mode`, created without following a link and never reusing what
/// is already there (`O_CREAT|O_EXCL|O_NOFOLLOW`).
pub fn create_new(path: &Path, mode: u32) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .mode(mode)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn private_tmp() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        dir
    }

    #[test]
    fn replace_does_not_follow_a_link_at_the_target() {
        let dir = private_tmp();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let target = dir.path().join("out");
        symlink(&victim, &target).unwrap();
        replace(&target, b"new", 0o600, Trust::Private, false).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert!(!std::fs::symlink_metadata(&target)
            .unwrap()
            .file_type()
            .is_symlink());
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn following_a_link_keeps_it_and_writes_its_target() {
        let dir = private_tmp();
        let real = dir.path().join("real.ron");
        std::fs::write(&real, "old").unwrap();
        let link = dir.path().join("link.ron");
        symlink(&real, &link).unwrap();
        replace(&link, b"new", 0o600, Trust::Private, true).unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
    }

    #[test]
    fn a_folder_writable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = replace(&dir.path().join("x"), b"x", 0o600, Trust::Private, false).unwrap_err();
        assert!(e.contains("chmod go-w"), "{e}");
        assert!(!dir.path().join("x").exists());
    }

    #[test]
    fn create_new_refuses_a_planted_link() {
        let dir = private_tmp();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let planted = dir.path().join("bundle.tar.gz");
        symlink(&victim, &planted).unwrap();
        assert!(create_new(&planted, 0o600).is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    }
}
