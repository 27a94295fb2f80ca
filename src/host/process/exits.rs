//! One reaper for every async child of the daemon (issue 14): a thread blocked in `epoll_wait`
//! on one pidfd per child, instead of a tokio task (and its future, its registration and its
//! `Child`) per child awaiting its exit.
//!
//! # Choices
//!
//! * Event driven, no polling: a pidfd becomes readable when its process exits; the reaper then
//!   reaps that pid alone (`waitid(P_PID)`), never "any child", so it takes no status that
//!   someone else (tokio for scripts, the orphan reaper) is to collect (`reaper`'s design).
//! * The pid stays in the orphan reaper's registry ([`Tracked`]) until it is reaped here.
//! * A thread, not a task: it outlives any one tokio runtime (the daemon replaces its engine, and
//!   tests run many runtimes in one process), and it needs no runtime to reap. What an exit
//!   triggers runs in the child's `on_exit`, on this thread; it must not block.
//! * Its stack is small: it only waits, reaps, and calls `on_exit`.

use std::collections::HashMap;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::{Mutex, OnceLock, PoisonError};

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use upkeep_actors::host::ExitInfo;

use super::LOST_EXIT;
use crate::host::reaper::Tracked;

/// What to do with a child's exit, called on the reaper thread once the child is reaped.
pub(super) type OnExit = Box<dyn FnOnce(ExitInfo) + Send>;

/// The reaper thread's stack: it waits, reaps and calls the `on_exit`s, which only signal,
/// store and hand over (no deep recursion, no large frames).
const STACK: usize = 128 * 1024;
/// Exits handled per wake-up.
const EVENTS: usize = 32;

struct Waiting {
    pidfd: OwnedFd,
    on_exit: OnExit,
    _tracked: Tracked,
}

struct Reaper {
    epoll: Epoll,
    waiting: Mutex<HashMap<i32, Waiting>>,
}

fn reaper() -> Result<&'static Reaper, String> {
    static REAPER: OnceLock<Result<&'static Reaper, String>> = OnceLock::new();
    REAPER
        .get_or_init(|| {
            let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)
                .map_err(|e| format!("epoll_create: {e}"))?;
            let reaper: &'static Reaper = Box::leak(Box::new(Reaper {
                epoll,
                waiting: Mutex::new(HashMap::new()),
            }));
            std::thread::Builder::new()
                .name("upkeep-reaper".into())
                .stack_size(STACK)
                .spawn(move || reaper.run())
                .map_err(|e| format!("cannot start the reaper thread: {e}"))?;
            Ok(reaper)
        })
        .clone()
}

#[allow(unsafe_code)]
fn pidfd_open(pid: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open(2) takes a pid and flags (0) and returns a new file descriptor or -1;
    // it touches no memory of ours. A non-negative result is a fresh descriptor nobody else
    // owns, so `OwnedFd` may take it (PIDFD_NONBLOCK is not needed: only epoll reads it).
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(Errno::last());
    }
    let fd = i32::try_from(fd).map_err(|_| Errno::EBADF)?;
    // SAFETY: see above: `fd` is a new, open descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Calls `on_exit` with the exit of the child `pid` once it has exited and been reaped. `pid`
/// must be a child of this process that nobody else waits for; `tracked` keeps the orphan
/// reaper away from it until then. `Err` (no pidfd, no thread): the caller must kill the child.
pub(super) fn watch(pid: u32, tracked: Tracked, on_exit: OnExit) -> Result<(), String> {
    let reaper = reaper()?;
    let raw = i32::try_from(pid).map_err(|_| format!("pid {pid} out of range"))?;
    // A child that already exited is a zombie until reaped, so the pidfd still opens (and is
    // readable at once).
    let pidfd = pidfd_open(raw).map_err(|e| format!("pidfd_open({pid}): {e}"))?;
    let mut waiting = reaper
        .waiting
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    // Registered under the lock, so the reaper finds the entry once the pidfd fires.
    let event = EpollEvent::new(EpollFlags::EPOLLIN, u64::from(pid));
    reaper
        .epoll
        .add(&pidfd, event)
        .map_err(|e| format!("epoll_ctl({pid}): {e}"))?;
    waiting.insert(
        raw,
        Waiting {
            pidfd,
            on_exit,
            _tracked: tracked,
        },
    );
    Ok(())
}

impl Reaper {
    fn run(&self) {
        let mut events = [EpollEvent::empty(); EVENTS];
        loop {
            let n = match self.epoll.wait(&mut events, EpollTimeout::NONE) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    // Unreachable with a valid epoll fd; never spin on it.
                    tracing::error!(error = %e, "the reaper's epoll_wait failed; async exits are no longer seen");
                    return;
                }
            };
            for event in events.iter().take(n) {
                let pid = i32::try_from(event.data()).unwrap_or(i32::MAX);
                self.reap(pid);
            }
        }
    }

    fn reap(&self, pid: i32) {
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG;
        let exit = match waitid(Id::Pid(Pid::from_raw(pid)), flags) {
            Ok(WaitStatus::Exited(_, code)) => ExitInfo::Code(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => ExitInfo::Signal(sig as i32),
            // A readable pidfd means the process exited: not reapable yet is not expected;
            // wait for the next readiness (level-triggered, so it comes at once).
            Ok(WaitStatus::StillAlive) => return,
            Ok(other) => {
                tracing::error!(pid, status = ?other, "unexpected wait status of a process");
                LOST_EXIT
            }
            Err(e) => {
                tracing::error!(pid, error = %e, "lost the exit status of a process");
                LOST_EXIT
            }
        };
        let entry = self
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&pid);
        if let Some(Waiting {
            pidfd,
            on_exit,
            _tracked,
        }) = entry
        {
            // Closing the pidfd also takes it out of the epoll set.
            drop(pidfd);
            on_exit(exit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    fn child(args: &[&str]) -> u32 {
        std::process::Command::new("/bin/sh")
            .arg("-c")
            .args(args)
            .spawn()
            .expect("spawn")
            .id()
    }

    #[test]
    fn every_exit_is_reaped_and_reported_with_its_status() {
        let (tx, rx) = mpsc::channel();
        let codes = [0, 3, 7];
        for code in codes {
            let pid = child(&[&format!("exit {code}")]);
            let tx = tx.clone();
            let on_exit: OnExit = Box::new(move |exit| {
                let _ = tx.send((pid, exit));
            });
            watch(pid, crate::host::reaper::track(pid), on_exit).expect("watched");
        }
        let killed = child(&["sleep 30"]);
        let tx2 = tx.clone();
        watch(
            killed,
            crate::host::reaper::track(killed),
            Box::new(move |exit| {
                let _ = tx2.send((killed, exit));
            }),
        )
        .expect("watched");
        let raw = Pid::from_raw(i32::try_from(killed).expect("pid"));
        nix::sys::signal::kill(raw, nix::sys::signal::Signal::SIGKILL).expect("kill");
        let mut seen: Vec<ExitInfo> = (0..4)
            .map(|_| rx.recv_timeout(Duration::from_secs(10)).expect("exit").1)
            .collect();
        seen.sort_by_key(|e| format!("{e:?}"));
        let mut want: Vec<ExitInfo> = codes.iter().map(|&c| ExitInfo::Code(c)).collect();
        want.push(ExitInfo::Signal(9));
        want.sort_by_key(|e| format!("{e:?}"));
        assert_eq!(seen, want);
        // Reaped: no zombie is left behind.
        let alive = Pid::from_raw(i32::try_from(killed).expect("pid"));
        assert_eq!(
            waitid(Id::Pid(alive), WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG),
            Err(Errno::ECHILD)
        );
    }
}
