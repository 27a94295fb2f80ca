//! Starting a run's child with [`crate::host::vfork`] instead of `fork` (issue 14): the same
//! steps as `prepare_child` (cgroup, umask, groups, gid, uid) and the same environment, working
//! directory and streams as `command`, without copying the daemon's page tables, and with the
//! cgroup joined as the child is created rather than by a migration afterwards.

use std::ffi::{CString, OsString};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use upkeep_actors::host::ScriptRun;

use super::{environment, Identity};
use crate::host::cgroup;
use crate::host::vfork::Spawn;

/// A started child: its pid and the daemon's ends of its stdout and stderr (non-blocking,
/// close-on-exec).
pub(super) struct Launched {
    pub pid: u32,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

fn c_string(bytes: &[u8], what: &str) -> Result<CString, String> {
    CString::new(bytes).map_err(|_| format!("{what} contains a NUL byte"))
}

/// A pipe whose read end (ours) does not block; the write end goes to the child.
fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC)
        .and_then(|(read, write)| {
            let flags = nix::fcntl::fcntl(&read, nix::fcntl::FcntlArg::F_GETFL)?;
            let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
            nix::fcntl::fcntl(&read, nix::fcntl::FcntlArg::F_SETFL(flags))?;
            Ok((read, write))
        })
        .map_err(|e| format!("cannot create a pipe: {e}"))
}

/// The file to execute: `program` itself when it names a path (configurations always do), else
/// the first executable of that name on the child's PATH, as `execvp` (and std's `Command`) would
/// find it.
fn resolve(program: &Path, env: &[(OsString, OsString)]) -> Option<PathBuf> {
    if program.as_os_str().as_bytes().contains(&b'/') {
        return Some(program.to_path_buf());
    }
    let path = env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|file| {
            file.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Start `run` as `id`, in `cell` when given. The working directory must have been checked.
pub(super) fn launch(
    run: &ScriptRun,
    id: &Identity,
    cell: Option<&cgroup::Cell>,
) -> Result<Launched, String> {
    let shown = run.command.program.display();
    let environment = environment(run, id);
    let program = resolve(&run.command.program, &environment).ok_or_else(|| {
        format!(
            "{shown}: {}",
            std::io::Error::from_raw_os_error(libc::ENOENT)
        )
    })?;
    let program_c = c_string(program.as_os_str().as_bytes(), "the program path")?;
    let args = run
        .command
        .args
        .iter()
        .map(|a| c_string(a.as_bytes(), "an argument"))
        .collect::<Result<Vec<_>, _>>()?;
    let env = environment
        .into_iter()
        .map(|(k, v)| {
            let mut pair = k.as_bytes().to_vec();
            pair.push(b'=');
            pair.extend_from_slice(v.as_bytes());
            c_string(&pair, "an environment variable")
        })
        .collect::<Result<Vec<_>, _>>()?;
    let cwd = c_string(
        run.context.working_dir.as_os_str().as_bytes(),
        "the working directory",
    )?;
    let null = File::open("/dev/null").map_err(|e| format!("cannot open /dev/null: {e}"))?;
    let (stdout, stdout_child) = pipe()?;
    let (stderr, stderr_child) = pipe()?;
    let cgroup_dir = cell
        .map(|cell| File::open(&cell.dir))
        .transpose()
        .map_err(|e| format!("cannot open its cgroup: {e}"))?;
    let mut spawn = Spawn::new(
        &program_c,
        &args,
        &env,
        &cwd,
        [
            null.as_raw_fd(),
            stdout_child.as_raw_fd(),
            stderr_child.as_raw_fd(),
        ],
    );
    spawn.cgroup = cell
        .zip(cgroup_dir.as_ref())
        .map(|(cell, dir)| (dir.as_raw_fd(), cell.procs.as_raw_fd()));
    spawn.umask = libc::mode_t::try_from(run.context.umask & 0o777).unwrap_or(0o022);
    spawn.groups = id.groups.clone();
    spawn.gid = id.gid;
    spawn.uid = id.uid;
    let pid = spawn.spawn().map_err(|e| format!("{shown}: {e}"))?;
    Ok(Launched {
        pid: u32::try_from(pid).unwrap_or(0),
        stdout,
        stderr,
    })
}
