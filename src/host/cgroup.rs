//! cgroup v2 containment of resource processes (MAP-8, RES-11; issue 9 §2): every process a
//! resource starts, its scripts' background, `setsid` and double-forked children included, lives
//! in the resource's own cgroup, so a stop reaches all of them and a daemon crash leaves a trail
//! the next daemon can follow.
//!
//! # Layout
//!
//! ```text
//! <instance>/<group>/<resource>/main    the async process (RES-11)
//! <instance>/<group>/<resource>/start   sync start scripts and what they leave running
//! <instance>/<group>/<resource>/stop    stop scripts
//! ```
//!
//! `<instance>` is found once, at daemon start ([`detect`]):
//!
//! * the daemon in the cgroup2 root (hosts without systemd, this project's CI):
//!   `<mount>/upkeep/<hash of the state folder>`, so two daemons with different state folders
//!   never share (nor reclaim) each other's cgroups;
//! * the daemon in a cgroup systemd delegated to it (`Delegate=yes`, seen as the `trusted.delegate`
//!   or `user.delegate` xattr): the daemon first moves itself into the leaf `<own>/supervisor`
//!   (systemd's "inner node xor leaf" rule) and uses `<own>/upkeep`;
//! * any other cgroup (a non-delegated unit, a login session) is not ours to write: process groups;
//! * `UPKEEP_CGROUP=off` forces process groups; `UPKEEP_CGROUP=<dir>` (a directory in a cgroup2
//!   mount) is used as the parent of `<hash of the state folder>` (tests, unusual layouts).
//!
//! Scripts get their own sub-cgroups beside `main` so that the async process's exit (which kills
//! `main` at once, like the process group before it) never kills a stop script still running.
//!
//! # Entering the cgroup
//!
//! The child must be in its cgroup before the program's first instruction, or a fast fork escapes.
//! The parent opens the cgroup's folder and `host::vfork` creates the child inside it with
//! `clone3(CLONE_INTO_CGROUP)` (issue 14): no migration afterwards, which waited for an RCU grace
//! period after any quiet while. Where clone3 cannot be used the child writes `0` to the
//! `cgroup.procs` the parent opened (close-on-exec) before it execs: the kernel reads pid 0 as
//! "the writer"; `write(2)` is async-signal-safe.
//!
//! # Stopping
//!
//! SIGTERM to every process of the cgroup (its subtree), `populated 0` in `cgroup.events` within
//! the grace or `1` into `cgroup.kill` (Linux ≥ 5.14, required: without it, process groups), then
//! `populated 0` again as the proof, then `rmdir`. Polled (at once, then backing off from 1 ms to
//! [`POLL`]) rather than watched with inotify: cgroupfs reads are in-memory and a stop is rare.

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// How often a stop looks at `cgroup.events`.
pub const POLL: Duration = Duration::from_millis(10);
/// How long a stop waits for `populated 0` after `cgroup.kill` before it reports a failure.
pub const KILL_WAIT: Duration = Duration::from_secs(5);
/// The environment variable that overrides where the instance lives (`off`, or a directory).
pub const ENV: &str = "UPKEEP_CGROUP";

/// The sub-cgroup of a resource's async process.
pub const MAIN: &str = "main";

/// upkeep's part of the cgroup2 hierarchy for one daemon instance.
#[derive(Debug)]
pub struct Tree {
    instance: PathBuf,
    /// The shared `<cgroup2>/upkeep` of root mode, removed with the last instance.
    shared_parent: bool,
}

impl Tree {
    /// A tree rooted at `instance` (created when missing). For tests and `UPKEEP_CGROUP`.
    pub fn at(instance: PathBuf) -> io::Result<Tree> {
        // Another daemon may remove the shared parent between our two mkdirs: once more.
        if fs::create_dir_all(&instance).is_err() {
            fs::create_dir_all(&instance)?;
        }
        if !instance.join("cgroup.kill").exists() {
            return Err(io::Error::other(format!(
                "`{}` has no cgroup.kill (not a cgroup2 directory, or Linux older than 5.14)",
                instance.display()
            )));
        }
        Ok(Tree {
            instance,
            shared_parent: false,
        })
    }

    pub fn instance(&self) -> &Path {
        &self.instance
    }

    /// The cgroup of resource `resource` of group `group`; `None` for names that are not a
    /// single path component (the config refuses those, MAP-3; this keeps a bug from writing
    /// elsewhere).
    pub fn resource(&self, group: &str, resource: &str) -> Option<PathBuf> {
        (is_component(group) && is_component(resource))
            .then(|| self.instance.join(group).join(resource))
    }

    /// Creates the sub-cgroup `sub` of a resource and opens its `cgroup.procs` for a child to
    /// join (see the module doc).
    pub fn prepare(&self, group: &str, resource: &str, sub: &str) -> io::Result<Cell> {
        let dir = self
            .resource(group, resource)
            .filter(|_| is_component(sub))
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("unusable cgroup name {group}/{resource}/{sub}"),
                )
            })?
            .join(sub);
        fs::create_dir_all(&dir)?;
        let procs = OpenOptions::new()
            .write(true)
            .open(dir.join("cgroup.procs"))?;
        Ok(Cell { dir, procs })
    }

    /// Every populated cgroup under the instance, deepest first: what a previous daemon left.
    pub fn populated(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for dir in subtree(&self.instance) {
            if dir != self.instance && populated(&dir).unwrap_or(false) {
                found.push(dir);
            }
        }
        found
    }

    /// Stops every process a previous daemon left under the instance (SIGTERM, `grace`,
    /// `cgroup.kill`) and removes the empty cgroups. Returns one line per resource cgroup that
    /// still had processes: `<group>/<resource>: <n> process(es) (<pid> <comm>, ...)`.
    pub async fn reclaim(&self, grace: Duration) -> Vec<String> {
        let mut lines = Vec::new();
        for dir in self.resource_dirs() {
            let pids = procs(&dir);
            if pids.is_empty() {
                remove(&dir);
                continue;
            }
            let named: Vec<String> = pids
                .iter()
                .map(|pid| format!("{pid} {}", comm(*pid)))
                .collect();
            let name = dir
                .strip_prefix(&self.instance)
                .unwrap_or(&dir)
                .display()
                .to_string();
            let outcome = match stop(&dir, grace).await {
                Ok(()) => "stopped".to_string(),
                Err(e) => format!("NOT stopped: {e}"),
            };
            lines.push(format!(
                "{name}: {} process(es) {outcome} ({})",
                pids.len(),
                named.join(", ")
            ));
            remove(&dir);
        }
        // Group folders that are now empty.
        for dir in subtree(&self.instance) {
            if dir != self.instance {
                let _ = fs::remove_dir(&dir);
            }
        }
        lines
    }

    /// `<instance>/<group>/<resource>` folders that exist.
    fn resource_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        for group in child_dirs(&self.instance) {
            dirs.extend(child_dirs(&group));
        }
        dirs
    }
}

impl Tree {
    /// Removes the instance's empty cgroups (a resource that never stopped, e.g. after a failed
    /// start, or a sync start script's leaves its folders); one still populated stays for the
    /// next daemon's reclaim. The daemon calls it on its way out: helper tasks may still hold the
    /// tree then, so `Drop` alone would come too late or never.
    pub fn tidy(&self) {
        remove(&self.instance);
        if self.shared_parent {
            if let Some(parent) = self.instance.parent() {
                let _ = fs::remove_dir(parent);
            }
        }
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        self.tidy();
    }
}

/// A sub-cgroup ready for a child to join: its folder and its `cgroup.procs`, open for writing.
#[derive(Debug)]
pub struct Cell {
    pub dir: PathBuf,
    pub procs: File,
}

fn is_component(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// `dir` and every cgroup below it, deepest first (the order `rmdir` needs).
fn subtree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for child in child_dirs(dir) {
        out.extend(subtree(&child));
    }
    out.push(dir.to_path_buf());
    out
}

fn child_dirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}

/// `populated` of `cgroup.events`: whether a live process is in `dir` or below.
pub fn populated(dir: &Path) -> io::Result<bool> {
    let events = fs::read_to_string(dir.join("cgroup.events"))?;
    events
        .lines()
        .find_map(|l| l.strip_prefix("populated "))
        .map(|v| v.trim() == "1")
        .ok_or_else(|| io::Error::other("cgroup.events has no `populated` line"))
}

/// The processes in `dir` and below.
pub fn procs(dir: &Path) -> Vec<i32> {
    let mut pids = Vec::new();
    for d in subtree(dir) {
        if let Ok(text) = fs::read_to_string(d.join("cgroup.procs")) {
            pids.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
        }
    }
    pids
}

/// Sends `sig` to every process in `dir` and below. A pid read from `cgroup.procs` is not reused
/// before its zombie is reaped, so the window for hitting a stranger is the read-to-kill gap.
pub fn signal_all(dir: &Path, sig: Signal) {
    for pid in procs(dir) {
        if pid > 1 {
            match kill(Pid::from_raw(pid), sig) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(e) => tracing::warn!(pid, signal = %sig, error = %e, "kill failed"),
            }
        }
    }
}

/// SIGKILLs `dir`'s whole subtree, forks racing the kill included (`cgroup.kill`).
pub fn kill_all(dir: &Path) -> io::Result<()> {
    match OpenOptions::new().write(true).open(dir.join("cgroup.kill")) {
        Ok(mut f) => f.write_all(b"1"),
        // Already removed: nothing left to kill.
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Waits until `dir` holds no live process, at most `limit`; true when it is empty.
pub async fn wait_empty(dir: &Path, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    // Killed processes are gone within microseconds to a millisecond; a restart waits on this
    // (PERFORMANCE: p99 <= 10 ms), so look again at once, then back off to [`POLL`].
    let mut pause = Duration::ZERO;
    loop {
        match populated(dir) {
            Ok(false) => return true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return true,
            _ => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        if pause.is_zero() {
            tokio::task::yield_now().await;
            pause = Duration::from_millis(1);
        } else {
            tokio::time::sleep(pause.min(deadline - tokio::time::Instant::now())).await;
            pause = (pause * 2).min(POLL);
        }
    }
}

/// The stop of issue 9 §2: SIGTERM to every process, `cgroup.kill` after `grace`, and
/// `populated 0` as the proof that all are gone.
pub async fn stop(dir: &Path, grace: Duration) -> io::Result<()> {
    if wait_empty(dir, Duration::ZERO).await {
        return Ok(());
    }
    signal_all(dir, Signal::SIGTERM);
    if wait_empty(dir, grace).await {
        return Ok(());
    }
    kill_all(dir)?;
    if wait_empty(dir, KILL_WAIT).await {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "`{}` still has processes {KILL_WAIT:?} after cgroup.kill",
            dir.display()
        )))
    }
}

/// Removes `dir` and its empty sub-cgroups (deepest first); a populated one stays.
pub fn remove(dir: &Path) {
    for d in subtree(dir) {
        if let Err(e) = fs::remove_dir(&d) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::debug!(cgroup = %d.display(), error = %e, "cannot remove cgroup");
            }
        }
    }
}

fn comm(pid: i32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| c.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// Where upkeep's processes are contained, as `upkeep status` and the start-up log show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Cgroup(PathBuf),
    ProcessGroup,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mode::Cgroup(dir) => write!(f, "cgroup2 {}", dir.display()),
            Mode::ProcessGroup => f.write_str("process-group"),
        }
    }
}

/// The cgroup2 mount point and the mount's root, from `/proc/self/mountinfo`.
pub fn cgroup2_mount(mountinfo: &str) -> Option<(PathBuf, String)> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        if right.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        let fields: Vec<&str> = left.split_whitespace().collect();
        let root = unescape(fields.get(3)?);
        let mount = unescape(fields.get(4)?);
        Some((PathBuf::from(mount), root))
    })
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let digits = bytes.get(i + 1..i + 4);
            if let Some(value) = digits
                .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)))
                .and_then(|d| std::str::from_utf8(d).ok())
                .and_then(|d| u8::from_str_radix(d, 8).ok())
            {
                out.push(value);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The daemon's own cgroup v2 path (`0::PATH` of `/proc/self/cgroup`).
pub fn own_cgroup(proc_self_cgroup: &str) -> Option<String> {
    proc_self_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(|p| p.trim().to_string())
}

/// A stable, short name for the state folder: FNV-1a 64 of its absolute path.
pub fn instance_name(state_dir: &Path) -> String {
    let path = std::path::absolute(state_dir).unwrap_or_else(|_| state_dir.to_path_buf());
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in path.as_os_str().as_bytes() {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// Finds (and creates) this daemon's instance, moving the daemon into a leaf first when it runs
/// in a delegated cgroup. `Err` says why processes are contained by process groups instead.
pub fn detect(state_dir: &Path) -> Result<Tree, String> {
    let name = instance_name(state_dir);
    match std::env::var_os(ENV) {
        Some(v) if v == "off" => return Err(format!("{ENV}=off")),
        Some(v) if !v.is_empty() => {
            return Tree::at(PathBuf::from(v).join(&name)).map_err(|e| format!("{ENV}: {e}"))
        }
        _ => {}
    }
    let mountinfo = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
    let (mount, root) = cgroup2_mount(&mountinfo).ok_or("no cgroup2 file system is mounted")?;
    let own = fs::read_to_string("/proc/self/cgroup")
        .ok()
        .as_deref()
        .and_then(own_cgroup)
        .ok_or("/proc/self/cgroup has no cgroup v2 line")?;
    let relative = own
        .strip_prefix(root.trim_end_matches('/'))
        .unwrap_or(&own)
        .trim_start_matches('/');
    if relative.is_empty() {
        let mut tree = Tree::at(mount.join("upkeep").join(&name)).map_err(|e| e.to_string())?;
        tree.shared_parent = true;
        return Ok(tree);
    }
    let own_dir = mount.join(relative);
    if !delegated(&own_dir) {
        return Err(format!(
            "the daemon's cgroup `{}` is not delegated to it (systemd: Delegate=yes)",
            own_dir.display()
        ));
    }
    let leaf = own_dir.join("supervisor");
    fs::create_dir_all(&leaf)
        .and_then(|()| fs::write(leaf.join("cgroup.procs"), b"0"))
        .map_err(|e| format!("cannot move the daemon into `{}`: {e}", leaf.display()))?;
    Tree::at(own_dir.join("upkeep")).map_err(|e| e.to_string())
}

/// systemd marks the cgroups it delegates with `trusted.delegate=1` (and, from v251,
/// `user.delegate=1`); never create cgroups in one it did not delegate.
fn delegated(dir: &Path) -> bool {
    ["trusted.delegate", "user.delegate"]
        .iter()
        .any(|name| xattr(dir, name).is_some_and(|v| v == b"1"))
}

#[allow(unsafe_code)]
fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let path = CString::new(path.as_os_str().as_bytes()).ok()?;
    let name = CString::new(name).ok()?;
    let mut buf = [0u8; 16];
    // SAFETY: both strings are NUL-terminated and live across the call; the kernel writes at
    // most `buf.len()` bytes into `buf`, which is valid for that length.
    let n = unsafe {
        libc::getxattr(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    let n = usize::try_from(n).ok()?;
    buf.get(..n).map(<[u8]>::to_vec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_cgroup2_mount_among_others() {
        let info = "22 1 0:21 / /proc rw,nosuid - proc proc rw\n\
            41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw\n\
            42 31 0:39 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n";
        assert_eq!(
            cgroup2_mount(info),
            Some((PathBuf::from("/sys/fs/cgroup/unified"), "/".to_string()))
        );
        let spaced = "41 31 0:38 /sub /mnt/cg\\040two rw - cgroup2 none rw\n";
        assert_eq!(
            cgroup2_mount(spaced),
            Some((PathBuf::from("/mnt/cg two"), "/sub".to_string()))
        );
        assert_eq!(cgroup2_mount("22 1 0:21 / /proc rw - proc proc rw\n"), None);
    }

    #[test]
    fn reads_the_v2_line_of_proc_self_cgroup() {
        let text = "9:name=systemd:/\n8:pids:/\n0::/system.slice/upkeep.service\n";
        assert_eq!(
            own_cgroup(text).as_deref(),
            Some("/system.slice/upkeep.service")
        );
        assert_eq!(own_cgroup("9:name=systemd:/\n"), None);
    }

    #[test]
    fn names_that_would_leave_the_tree_are_refused() {
        let tree = Tree {
            instance: PathBuf::from("/nonexistent/upkeep/x"),
            shared_parent: false,
        };
        assert!(tree.resource("web", "nginx").is_some());
        assert!(tree.resource("..", "nginx").is_none());
        assert!(tree.resource("web", "a/b").is_none());
        assert!(tree.resource("", "x").is_none());
        assert_ne!(
            instance_name(Path::new("/var/lib/upkeep")),
            instance_name(Path::new("/var/lib/upkeep2"))
        );
    }
}
