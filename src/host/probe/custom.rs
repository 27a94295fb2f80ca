//! The custom check (upkeep's own, beside MON-1): run a program; exit 0 is normal, the
//! configured warning exit code is a Warning, anything else (or a signal, or the deadline) is
//! an Error. The program runs directly (no shell), in its own process group, with stdin from
//! /dev/null and at the monitor's nice value (MON-9). The first line it prints becomes part of
//! the message. At the deadline, or when the engine gives up on the check, the whole group is
//! killed.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::process::Command;
use upkeep_actors::host::ProbeResult;

use super::{secs, warning, FAILED, INVALID, TIMED_OUT};

/// Output kept for the message.
const OUTPUT_MAX: usize = 4096;

pub(super) struct Spec {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub warning_exit_code: Option<i32>,
    pub nice: i32,
}

/// SIGKILLs the program's process group unless disarmed after the program was reaped.
struct KillGroup(Option<Pid>);

impl Drop for KillGroup {
    fn drop(&mut self) {
        if let Some(pgid) = self.0.take() {
            // The leader is not reaped yet (we were dropped or timed out first), so the group
            // id cannot have been reused.
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

pub(super) async fn check(spec: Spec, deadline: Duration) -> ProbeResult {
    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    set_nice(&mut command, spec.nice);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            return ProbeResult::error(
                INVALID,
                format!("cannot run {}: {e}", spec.program.display()),
            )
        }
    };
    let mut guard = KillGroup(
        child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw),
    );
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let run = async {
        let (out, err, status) = tokio::join!(
            read_some(stdout.as_mut()),
            read_some(stderr.as_mut()),
            child.wait()
        );
        (out, err, status)
    };
    let (out, err, status) = match tokio::time::timeout(deadline, run).await {
        Ok(done) => done,
        Err(_) => {
            drop(guard);
            return ProbeResult::error(
                TIMED_OUT,
                format!(
                    "{} did not finish within {}; its process group was killed",
                    spec.program.display(),
                    secs(deadline)
                ),
            );
        }
    };
    guard.0 = None;
    let said = first_line(&out).or_else(|| first_line(&err));
    let with_output = |head: String| match &said {
        Some(line) => format!("{head}: {line}"),
        None => head,
    };
    let status = match status {
        Ok(status) => status,
        Err(e) => {
            return ProbeResult::error(
                FAILED,
                format!("lost the exit status of {}: {e}", spec.program.display()),
            )
        }
    };
    match status.code() {
        Some(0) => match said {
            Some(line) => ProbeResult {
                message: line,
                ..ProbeResult::normal()
            },
            None => ProbeResult::normal(),
        },
        Some(code) if Some(code) == spec.warning_exit_code => warning(
            code,
            with_output(format!("{} exited with {code}", spec.program.display())),
        ),
        Some(code) => ProbeResult::error(
            code,
            with_output(format!("{} exited with {code}", spec.program.display())),
        ),
        None => {
            use std::os::unix::process::ExitStatusExt;
            let signal = status.signal().unwrap_or(0);
            ProbeResult::error(
                FAILED,
                with_output(format!(
                    "{} was killed by signal {signal}",
                    spec.program.display()
                )),
            )
        }
    }
}

/// Up to `OUTPUT_MAX` bytes, then keeps draining so the program never blocks on a full pipe.
async fn read_some<R: tokio::io::AsyncRead + Unpin>(reader: Option<&mut R>) -> Vec<u8> {
    let Some(reader) = reader else {
        return Vec::new();
    };
    let mut kept = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = OUTPUT_MAX.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
    }
}

fn first_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| l.chars().take(200).collect())
}

/// MON-9: the child lowers (or, with CAP_SYS_NICE, raises) its own priority between fork and
/// exec, so not one instruction of the program runs at the daemon's priority.
#[allow(unsafe_code)]
fn set_nice(command: &mut Command, nice: i32) {
    if nice == 0 {
        return;
    }
    // SAFETY: the closure runs in the forked child before exec and only calls setpriority(2),
    // which is async-signal-safe, and reads errno; it allocates nothing and takes no lock.
    unsafe {
        command.pre_exec(move || {
            if libc::setpriority(libc::PRIO_PROCESS, 0, nice) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}
