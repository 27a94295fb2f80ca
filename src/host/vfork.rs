//! Spawning a child without copying the daemon (issue 14).
//!
//! `fork` copies the daemon's page tables and marks every writable page copy-on-write, and the
//! child's `exec` then tears that copy down again. With a 1,000-resource daemon that was the
//! largest cost of bringing the resources up and a good part of a restart (perf: `copy_page_range`
//! alone 10 % of all CPU on the machine during a bring-up of 1,000, plus the COW faults that
//! followed in the daemon). `clone(CLONE_VM | CLONE_VFORK)`, what glibc's `posix_spawn` does,
//! shares the memory instead: the calling thread waits until the child has called `exec` (or
//! died), and the child runs on a stack of its own.
//!
//! `posix_spawn` itself cannot be used: it cannot join a cgroup, set the umask or drop to another
//! user, which every resource needs between fork and exec. So the child here does exactly what
//! `prepare_child` does after a fork, in the same order, then `execve`.
//!
//! # What the child may do
//!
//! It shares the daemon's memory while the daemon's other threads keep running, so it calls only
//! async-signal-safe system calls on values the parent prepared (C strings, pointer arrays, fds,
//! numbers): no allocation, no lock, no Rust panic. It reports a failure by writing the step and
//! errno into the shared [`Outcome`] before `_exit(127)`; the parent reads it once the child is
//! gone, reaps it and returns the error, so a bad working directory or user is an error of the
//! spawn, as with `std::process::Command`.
//!
//! Signals: all are blocked in the calling thread across the clone, so no handler of the daemon
//! (tokio's signal pipe) can run in the child; the child resets every caught signal and SIGPIPE
//! (which the Rust runtime ignores) to the default and unblocks everything just before `exec`.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::io;
use std::os::fd::RawFd;

/// Everything the child needs, prepared by the parent before the clone.
pub struct Spawn {
    program: CString,
    /// `argv` and `envp` as the C strings they point into, kept alive here.
    _strings: Vec<CString>,
    argv: Vec<*const c_char>,
    envp: Vec<*const c_char>,
    cwd: CString,
    /// Duplicated onto 0, 1 and 2.
    pub stdio: [RawFd; 3],
    /// `cgroup.procs` of the cgroup to join, opened by the parent.
    pub cgroup_procs: Option<RawFd>,
    pub umask: libc::mode_t,
    pub groups: Option<Vec<libc::gid_t>>,
    pub gid: Option<libc::gid_t>,
    pub uid: Option<libc::uid_t>,
}

/// Which step of the child failed, for the error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Step {
    None = 0,
    Pgroup,
    Cgroup,
    Chdir,
    Stdio,
    Groups,
    Gid,
    Uid,
    Exec,
}

impl Step {
    fn what(self) -> &'static str {
        match self {
            Step::None => "start",
            Step::Pgroup => "lead a process group of its own",
            Step::Cgroup => "join its cgroup",
            Step::Chdir => "enter its working directory",
            Step::Stdio => "set up its standard streams",
            Step::Groups => "set its supplementary groups",
            Step::Gid => "set its group",
            Step::Uid => "set its user",
            Step::Exec => "exec",
        }
    }
}

/// Written by the child (shared memory), read by the parent after the child has exec'd or died.
#[repr(C)]
struct Outcome {
    step: u8,
    errno: c_int,
}

struct ChildArgs<'a> {
    spawn: &'a Spawn,
    outcome: *mut Outcome,
}

/// Stack of the child until it calls `exec`: it runs only the system calls below.
const CHILD_STACK: usize = 64 * 1024;

impl Spawn {
    /// `program` must contain a `/` (no PATH search in the child); `args` without argv[0].
    pub fn new(
        program: &CStr,
        args: &[CString],
        env: &[CString],
        cwd: &CStr,
        stdio: [RawFd; 3],
    ) -> Spawn {
        let mut strings: Vec<CString> = Vec::with_capacity(args.len() + env.len() + 1);
        strings.push(program.to_owned());
        strings.extend(args.iter().cloned());
        let argc = strings.len();
        strings.extend(env.iter().cloned());
        let argv = strings[..argc]
            .iter()
            .map(|s| s.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        let envp = strings[argc..]
            .iter()
            .map(|s| s.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        Spawn {
            program: program.to_owned(),
            _strings: strings,
            argv,
            envp,
            cwd: cwd.to_owned(),
            stdio,
            cgroup_procs: None,
            umask: 0o022,
            groups: None,
            gid: None,
            uid: None,
        }
    }

    /// Start the child; it leads a new process group. Returns its pid once it has exec'd.
    #[allow(unsafe_code)]
    pub fn spawn(&self) -> io::Result<libc::pid_t> {
        let mut stack = vec![0u8; CHILD_STACK];
        let mut outcome = Outcome {
            step: Step::None as u8,
            errno: 0,
        };
        let mut args = ChildArgs {
            spawn: self,
            outcome: &mut outcome,
        };
        // SAFETY: the stack grows down from its 16-byte aligned top, inside `stack`, which lives
        // until this function returns; with CLONE_VFORK the clone returns only after the child
        // has exec'd or exited, so nothing the child reads (`args`, `self`) is dropped or moved
        // while it runs. All signals are blocked across the clone and restored after it.
        let pid = unsafe {
            let top = stack.as_mut_ptr().add(CHILD_STACK);
            let top = top.sub(top as usize % 16);
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            let pid = libc::clone(
                child,
                top.cast(),
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                (&mut args as *mut ChildArgs<'_>).cast(),
            );
            let clone_error = io::Error::last_os_error();
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
            if pid < 0 {
                return Err(clone_error);
            }
            pid
        };
        // SAFETY: the child is gone from this memory (exec'd or exited): reading is race-free.
        let (step, errno) = unsafe { (std::ptr::read_volatile(&outcome.step), outcome.errno) };
        if step == Step::None as u8 {
            return Ok(pid);
        }
        // It failed before or at exec: reap it, say which step.
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        let step = [
            Step::Pgroup,
            Step::Cgroup,
            Step::Chdir,
            Step::Stdio,
            Step::Groups,
            Step::Gid,
            Step::Uid,
            Step::Exec,
        ]
        .into_iter()
        .find(|s| *s as u8 == step)
        .unwrap_or(Step::Exec);
        let source = io::Error::from_raw_os_error(errno);
        match step {
            // As `Command` reports it, so messages do not depend on how the child was started.
            Step::Exec => Err(source),
            _ => Err(io::Error::new(
                source.kind(),
                format!("cannot {}: {source}", step.what()),
            )),
        }
    }
}

/// The child, on its own stack, sharing the daemon's memory until `exec`.
#[allow(unsafe_code)]
extern "C" fn child(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the parent's `ChildArgs`, alive and unchanged while the parent waits.
    unsafe {
        let args = &*(arg as *const ChildArgs<'_>);
        let s = args.spawn;
        let fail = |step: Step| -> c_int {
            let errno = *libc::__errno_location();
            std::ptr::write_volatile(&mut (*args.outcome).errno, errno);
            std::ptr::write_volatile(&mut (*args.outcome).step, step as u8);
            libc::_exit(127)
        };
        // Handlers of the daemon must not run here: back to the defaults (ignored ones stay
        // ignored, as across any exec), and SIGPIPE, which the Rust runtime ignores, too.
        let mut action: libc::sigaction = std::mem::zeroed();
        for sig in 1..libc::SIGRTMAX() {
            if sig == libc::SIGKILL || sig == libc::SIGSTOP {
                continue;
            }
            if libc::sigaction(sig, std::ptr::null(), &mut action) == 0
                && (action.sa_sigaction != libc::SIG_IGN || sig == libc::SIGPIPE)
                && action.sa_sigaction != libc::SIG_DFL
            {
                action.sa_sigaction = libc::SIG_DFL;
                action.sa_flags = 0;
                libc::sigaction(sig, &action, std::ptr::null_mut());
            }
        }
        if libc::setpgid(0, 0) != 0 {
            return fail(Step::Pgroup);
        }
        // "0" written to cgroup.procs means the writing process itself.
        if let Some(fd) = s.cgroup_procs {
            if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                return fail(Step::Cgroup);
            }
        }
        libc::umask(s.umask);
        if libc::chdir(s.cwd.as_ptr()) != 0 {
            return fail(Step::Chdir);
        }
        for (target, &fd) in s.stdio.iter().enumerate() {
            let target = target as c_int;
            let ok = if fd == target {
                // dup2 onto itself keeps close-on-exec: clear it instead.
                libc::fcntl(fd, libc::F_SETFD, 0) == 0
            } else {
                libc::dup2(fd, target) == target
            };
            if !ok {
                return fail(Step::Stdio);
            }
        }
        // Root's steps first, setuid last: afterwards nothing else is allowed.
        if let Some(groups) = &s.groups {
            if libc::setgroups(groups.len(), groups.as_ptr()) != 0 {
                return fail(Step::Groups);
            }
        }
        if let Some(gid) = s.gid {
            if libc::setgid(gid) != 0 {
                return fail(Step::Gid);
            }
        }
        if let Some(uid) = s.uid {
            if libc::setuid(uid) != 0 {
                return fail(Step::Uid);
            }
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        libc::execve(s.program.as_ptr(), s.argv.as_ptr(), s.envp.as_ptr());
        fail(Step::Exec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::{AsRawFd, OwnedFd};

    fn c(s: &str) -> CString {
        CString::new(s).expect("no NUL")
    }

    fn pipe() -> (std::fs::File, OwnedFd) {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe");
        (std::fs::File::from(r), w)
    }

    fn wait(pid: libc::pid_t) -> nix::sys::wait::WaitStatus {
        nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).expect("wait")
    }

    #[test]
    fn the_child_runs_in_its_own_group_directory_umask_and_environment() {
        let (mut out, w) = pipe();
        let null = std::fs::File::open("/dev/null").expect("null");
        let mut spawn = Spawn::new(
            &c("/bin/sh"),
            &[
                c("-c"),
                c("echo \"$$ $(cut -d' ' -f5 /proc/$$/stat) $(pwd) $(umask) $GREETING\""),
            ],
            &[c("GREETING=hello"), c("PATH=/usr/bin:/bin")],
            &c("/tmp"),
            [null.as_raw_fd(), w.as_raw_fd(), w.as_raw_fd()],
        );
        spawn.umask = 0o027;
        let pid = spawn.spawn().expect("spawn");
        drop(w);
        drop(spawn);
        let mut text = String::new();
        out.read_to_string(&mut text).expect("read");
        let fields: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(fields[0], pid.to_string(), "{text}");
        assert_eq!(
            fields[1],
            pid.to_string(),
            "leads its own process group: {text}"
        );
        assert_eq!(&fields[2..], ["/tmp", "0027", "hello"], "{text}");
        assert_eq!(
            wait(pid),
            nix::sys::wait::WaitStatus::Exited(nix::unistd::Pid::from_raw(pid), 0)
        );
    }

    #[test]
    fn a_missing_program_or_directory_is_an_error_of_the_spawn() {
        let null = std::fs::File::open("/dev/null").expect("null");
        let fds = [null.as_raw_fd(); 3];
        let missing = Spawn::new(&c("/nonexistent/program"), &[], &[], &c("/"), fds);
        let e = missing.spawn().expect_err("no such program");
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        let no_dir = Spawn::new(&c("/bin/true"), &[], &[], &c("/nonexistent/dir"), fds);
        let e = no_dir.spawn().expect_err("no such directory");
        assert!(
            e.to_string().contains("cannot enter its working directory"),
            "{e}"
        );
    }

    #[test]
    fn sigpipe_is_back_to_the_default_in_the_child() {
        // The Rust runtime ignores SIGPIPE; a child writing to a closed pipe must die of it, as
        // it would when started by a shell.
        let (r, w) = pipe();
        drop(r);
        let null = std::fs::File::open("/dev/null").expect("null");
        let spawn = Spawn::new(
            &c("/bin/sh"),
            &[c("-c"), c("sleep 0.05; echo x; echo y; exit 0")],
            &[],
            &c("/"),
            [null.as_raw_fd(), w.as_raw_fd(), null.as_raw_fd()],
        );
        let pid = spawn.spawn().expect("spawn");
        drop(w);
        assert_eq!(
            wait(pid),
            nix::sys::wait::WaitStatus::Signaled(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGPIPE,
                false
            )
        );
    }
}
