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
    /// The cgroup to join: its directory (for `CLONE_INTO_CGROUP`) and its `cgroup.procs`
    /// (written by the child where `clone3` cannot be used), both opened by the parent.
    pub cgroup: Option<(RawFd, RawFd)>,
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
    step: Step,
    errno: c_int,
}

struct ChildArgs<'a> {
    spawn: &'a Spawn,
    outcome: *mut Outcome,
    /// The kernel put the child into its cgroup as it created it (`CLONE_INTO_CGROUP`).
    joined: bool,
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
            cgroup: None,
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
            step: Step::None,
            errno: 0,
        };
        let mut args = ChildArgs {
            spawn: self,
            outcome: &mut outcome,
            joined: false,
        };
        // SAFETY: the stack grows down from its 16-byte aligned top, inside `stack`, which lives
        // until this function returns; with CLONE_VFORK the clone returns only after the child
        // has exec'd or exited, so nothing the child reads (`args`, `self`) is dropped or moved
        // while it runs. All signals are blocked across the clone and restored after it.
        let pid = unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            let mut pid = -1;
            let mut error = io::Error::from_raw_os_error(libc::ENOSYS);
            if let Some((dir, _)) = self.cgroup {
                args.joined = true;
                match clone_into_cgroup(&mut stack, dir, &mut args) {
                    Ok(child) => pid = child,
                    Err(e) => {
                        args.joined = false;
                        error = e;
                    }
                }
            }
            if pid < 0 && matches!(error.raw_os_error(), Some(libc::ENOSYS | libc::E2BIG)) {
                let top = stack.as_mut_ptr().add(CHILD_STACK);
                let top = top.sub(top as usize % 16);
                pid = libc::clone(
                    child,
                    top.cast(),
                    libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                    (&mut args as *mut ChildArgs<'_>).cast(),
                );
                error = io::Error::last_os_error();
            }
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
            if pid < 0 {
                return Err(error);
            }
            pid
        };
        // SAFETY: the child is gone from this memory (exec'd or exited): reading is race-free.
        let (step, errno) = unsafe { (std::ptr::read_volatile(&outcome.step), outcome.errno) };
        if step == Step::None {
            return Ok(pid);
        }
        // It failed before or at exec: reap it, say which step.
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
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

/// `struct clone_args` of clone3(2), up to `cgroup` (CLONE_ARGS_SIZE_VER2).
#[repr(C)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `clone3(CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP)`: the kernel creates the child inside the
/// cgroup `dir`. Writing the child's pid to `cgroup.procs` instead migrates it, which waits for
/// an RCU grace period when no migration ran lately: 9–10 ms of every restart after a quiet
/// while (strace of the daemon: `write(cgroup.procs) <0.0091>`), against microseconds here.
/// glibc (2.36) has no clone3 wrapper that runs a function on the new stack, so the few
/// instructions that do are here; `ENOSYS` elsewhere, and the caller falls back.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
unsafe fn clone_into_cgroup(
    stack: &mut [u8],
    dir: RawFd,
    args: &mut ChildArgs<'_>,
) -> io::Result<libc::pid_t> {
    let clone = CloneArgs {
        flags: (libc::CLONE_VM | libc::CLONE_VFORK) as u64 | CLONE_INTO_CGROUP,
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        exit_signal: libc::SIGCHLD as u64,
        // The kernel starts the child with its stack pointer at stack + stack_size.
        stack: stack.as_mut_ptr() as u64,
        stack_size: ((stack.as_ptr() as usize + stack.len()) & !15) as u64 - stack.as_ptr() as u64,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: dir as u64,
    };
    let ret: i64;
    // SAFETY: in the parent this is a plain system call (rax, rcx and r11 change). The child
    // starts on its own stack with the same registers, calls `child(args)` (which ends in execve
    // or _exit) and never comes back into this function; exit_group follows only to be safe.
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r13",
            "call r12",
            "mov edi, eax",
            "mov eax, 231",
            "syscall",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone3 => ret,
            in("rdi") &clone as *const CloneArgs,
            in("rsi") std::mem::size_of::<CloneArgs>(),
            in("r12") child as extern "C" fn(*mut c_void) -> c_int,
            in("r13") (args as *mut ChildArgs<'_>).cast::<c_void>(),
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    if ret < 0 {
        return Err(io::Error::from_raw_os_error(-ret as i32));
    }
    Ok(ret as libc::pid_t)
}

#[cfg(not(target_arch = "x86_64"))]
#[allow(unsafe_code)]
unsafe fn clone_into_cgroup(
    _stack: &mut [u8],
    _dir: RawFd,
    _args: &mut ChildArgs<'_>,
) -> io::Result<libc::pid_t> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
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
            std::ptr::write_volatile(&mut (*args.outcome).step, step);
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
        if let (Some((_, procs)), false) = (s.cgroup, args.joined) {
            if libc::write(procs, b"0".as_ptr().cast(), 1) != 1 {
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

    #[test]
    fn the_child_is_created_inside_its_cgroup() {
        // Needs root and a writable cgroup2 (as the daemon's containment does); else skipped.
        let Ok(tree) = crate::host::cgroup::detect(std::path::Path::new("/tmp")) else {
            println!("skipped: no writable cgroup2 here");
            return;
        };
        let cell = match tree.prepare("vforktest", &format!("p{}", std::process::id()), "main") {
            Ok(cell) => cell,
            Err(e) => {
                println!("skipped: cannot create a cgroup: {e}");
                return;
            }
        };
        let dir = std::fs::File::open(&cell.dir).expect("cgroup dir");
        let (mut out, w) = pipe();
        let null = std::fs::File::open("/dev/null").expect("null");
        let mut spawn = Spawn::new(
            &c("/bin/cat"),
            &[c("/proc/self/cgroup")],
            &[],
            &c("/"),
            [null.as_raw_fd(), w.as_raw_fd(), w.as_raw_fd()],
        );
        spawn.cgroup = Some((dir.as_raw_fd(), cell.procs.as_raw_fd()));
        let pid = spawn.spawn().expect("spawn");
        drop(w);
        let mut text = String::new();
        out.read_to_string(&mut text).expect("read");
        wait(pid);
        let inside = text
            .trim()
            .ends_with(&format!("/vforktest/p{}/main", std::process::id()));
        let _ = std::fs::remove_dir(&cell.dir);
        if let Some(parent) = cell.dir.parent() {
            let _ = std::fs::remove_dir(parent);
            if let Some(group) = parent.parent() {
                let _ = std::fs::remove_dir(group);
            }
        }
        // The instance of a test state dir; another test may be using it, then it stays.
        if tree
            .instance()
            .ends_with(crate::host::cgroup::instance_name(std::path::Path::new(
                "/tmp",
            )))
        {
            let _ = std::fs::remove_dir(tree.instance());
        }
        assert!(inside, "the child ran in {text}");
    }
}
