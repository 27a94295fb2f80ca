//! Zombie hygiene for the daemon: the child subreaper flag, the registry of children someone is
//! waiting for, and the orphan reaper (MAP-8: a resource's descendants stay ours and are reaped).
//!
//! # Design
//!
//! With `PR_SET_CHILD_SUBREAPER`, descendants orphaned by a dying script are re-parented to the
//! daemon instead of to init, so their exits become ours to collect. Two kinds of children then
//! share one process:
//!
//! * children that someone waits for by pid: every `LinuxHost` child (the one reaper thread of
//!   `process/exits.rs` awaits it by pidfd), and whatever else the daemon starts with
//!   `tokio::process` or `std::process` (custom probes, the alert program, OS actions);
//! * re-parented orphans nobody waits for.
//!
//! `waitpid(-1)` would take exit statuses that tokio is about to collect (its `wait()` would then
//! fail with ECHILD), so the orphan reaper never reaps "any child". On SIGCHLD it waits
//! [`ORPHAN_GRACE`] so that owners collect their own children first, then *peeks* with
//! `waitid(P_ALL, WEXITED | WNOHANG | WNOWAIT)` (one syscall, reaps nothing). Only when a zombie
//! exists does it list its children from /proc, and it reaps by pid (`waitid(P_PID)`) a zombie that
//!
//! 1. is not in the tracked registry ([`track`]), and
//! 2. was already a zombie at the previous sweep, one grace earlier ("two strikes").
//!
//! Rule 2 is what protects children that other code in the daemon started without registering:
//! their owner has had at least two graces to collect them. Code that holds a child without
//! waiting for it for longer than that must [`track`] it.
//!
//! The subreaper flag is only set by an explicit [`become_subreaper`] call (the daemon's), never
//! as a side effect of building a host, so a test binary keeps init as the reaper of its orphans.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use tokio::signal::unix::{signal, SignalKind};
use tokio::task::JoinHandle;

use super::procfs;

/// How long owners get to collect a child after SIGCHLD before the orphan reaper looks at it; a
/// zombie is reaped at the earliest after two of these.
pub const ORPHAN_GRACE: Duration = Duration::from_millis(500);

/// Pids someone waits for by pid: the orphan reaper never touches them.
static TRACKED: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// Keeps a child's pid in the registry until dropped (drop it after the child is reaped).
#[derive(Debug)]
#[must_use = "the pid is only protected while the guard lives"]
pub struct Tracked {
    pid: i32,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        TRACKED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.pid);
    }
}

/// Protects the child `pid` from the orphan reaper while the returned guard lives.
pub fn track(pid: u32) -> Tracked {
    let pid = i32::try_from(pid).unwrap_or(i32::MAX);
    TRACKED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(pid);
    Tracked { pid }
}

fn is_tracked(pid: i32) -> bool {
    TRACKED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .contains(&pid)
}

/// Why the daemon could not become the reaper of its descendants.
#[derive(Debug, thiserror::Error)]
pub enum SubreaperError {
    #[error("prctl(PR_SET_CHILD_SUBREAPER): {0}")]
    Prctl(Errno),
    #[error("the orphan reaper needs a tokio runtime: {0}")]
    NoRuntime(String),
    #[error("cannot listen for SIGCHLD: {0}")]
    Signal(String),
}

/// Makes this process the child subreaper and starts the orphan reaper on the current runtime.
///
/// Aborting the returned task stops reaping orphans; the subreaper flag stays (it cannot be
/// given back safely while orphans may already have been re-parented to us).
pub fn become_subreaper() -> Result<JoinHandle<()>, SubreaperError> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|e| SubreaperError::NoRuntime(e.to_string()))?;
    // Listen before setting the flag so that no orphan's SIGCHLD can be missed.
    let sigchld = {
        let _enter = runtime.enter();
        signal(SignalKind::child()).map_err(|e| SubreaperError::Signal(e.to_string()))?
    };
    nix::sys::prctl::set_child_subreaper(true).map_err(SubreaperError::Prctl)?;
    tracing::info!("child subreaper: orphaned descendants are reaped by this daemon");
    Ok(runtime.spawn(orphan_reaper(sigchld)))
}

async fn orphan_reaper(mut sigchld: tokio::signal::unix::Signal) {
    let mut suspects = BTreeSet::new();
    loop {
        if suspects.is_empty() && sigchld.recv().await.is_none() {
            return;
        }
        tokio::time::sleep(ORPHAN_GRACE).await;
        let previous = std::mem::take(&mut suspects);
        suspects = match tokio::task::spawn_blocking(move || sweep(&previous)).await {
            Ok(next) => next,
            Err(e) => {
                tracing::error!(error = %e, "orphan reaper sweep failed; retrying at the next SIGCHLD");
                BTreeSet::new()
            }
        };
    }
}

/// One sweep: reaps the untracked zombies already seen by the previous sweep and returns the
/// untracked zombies seen for the first time (the next sweep's suspects).
fn sweep(previous: &BTreeSet<i32>) -> BTreeSet<i32> {
    let mut next = BTreeSet::new();
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    match waitid(Id::All, flags) {
        Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return next,
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "orphan reaper: waitid peek failed");
            return next;
        }
    }
    let children = match procfs::own_children() {
        Ok(children) => children,
        Err(e) => {
            tracing::warn!(error = %e, "orphan reaper: cannot list children");
            return next;
        }
    };
    for pid in children {
        let Ok(Some(stat)) = procfs::read_stat(pid) else {
            continue;
        };
        if !stat.is_zombie() || is_tracked(pid) {
            continue;
        }
        if previous.contains(&pid) {
            reap(pid, &stat.comm);
        } else {
            next.insert(pid);
        }
    }
    next
}

fn reap(pid: i32, comm: &str) {
    match waitid(
        Id::Pid(Pid::from_raw(pid)),
        WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG,
    ) {
        Ok(WaitStatus::Exited(_, code)) => {
            tracing::debug!(pid, comm, code, "reaped orphaned descendant");
        }
        Ok(WaitStatus::Signaled(_, sig, _)) => {
            tracing::debug!(pid, comm, signal = %sig, "reaped orphaned descendant");
        }
        // Its owner collected it in the meantime: nothing to do.
        Ok(_) | Err(Errno::ECHILD) => {}
        Err(e) => tracing::warn!(pid, error = %e, "orphan reaper: waitid failed"),
    }
}
