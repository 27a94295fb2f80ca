//! OS shutdown, reboot and reset (DOWN-1..6), behind the `os_actions` safety switch.
//!
//! ┌──────────────────────────────────────────────────────────────────────────────────────────┐
//! │ DANGER: with `OsActions::Real` the functions here power off, reboot or hard-reset THE      │
//! │ MACHINE. `Simulated` (the default everywhere) only logs "would <action>". Tests and the    │
//! │ demo configuration never build a host with `Real`; only a configuration file that says    │
//! │ `os_actions: Real` does. Do not add a path that reaches `Machine` without that check.      │
//! └──────────────────────────────────────────────────────────────────────────────────────────┘
//!
//! Shutdown and reboot are orderly first: `systemctl poweroff` / `systemctl reboot`, then
//! `shutdown -h now` / `shutdown -r now`. A host without either (a minimal image, a container,
//! the initramfs of a recovery system) still has the kernel: the last step is `sync` and the
//! reboot(2) syscall (power off or restart). By then the governor has counted and the groups are
//! stopped, so giving up would leave a server with nothing running and no reboot (DOWN-1,
//! DOWN-2). Reset (DOWN-5, DOWN-6) is immediate by definition: only the last step.
//!
//! Which step comes next is decided by [`carry_out`] over a [`plan`], with the steps executed by
//! an [`Executor`]; the real one ([`Machine`]) is only built by `perform` with `Real`, so the
//! unit tests below drive the same decisions with a recording executor and never reach the OS.

use std::fmt;
use std::time::Duration;

use upkeep_actors::host::{HostError, OsAction, OsActionOutcome, OS_ACTION_TIMEOUT};
use upkeep_config::OsActions;

/// How long `systemctl` / `shutdown` get to accept the request (they return once it is queued).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `sync` may take before reboot(2) goes ahead without it: the reboot count is already
/// durable (CFG-9), and a hung file system must not keep the server from rebooting.
const SYNC_TIMEOUT: Duration = Duration::from_secs(10);
/// reboot(2) returns at once when it fails (EPERM in a container); a bound all the same, so every
/// step has one.
const SYSCALL_TIMEOUT: Duration = Duration::from_secs(5);

// Timeouts nest: the longest plan (two requests, then the forced step, each failing at its
// bound) ends before the engine stops waiting for the outcome (`OS_ACTION_TIMEOUT`); the test
// `every_plan_ends_within_the_os_action_timeout` checks this against the plans themselves.
const _: () = assert!(
    2 * REQUEST_TIMEOUT.as_secs() + SYNC_TIMEOUT.as_secs() + SYSCALL_TIMEOUT.as_secs()
        < OS_ACTION_TIMEOUT.as_secs()
);

/// One way to carry out an OS action; a plan tries them in order until one succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Ask the service manager for an orderly shutdown / reboot (it stops the other services).
    Request(&'static [&'static str]),
    /// `sync`, then reboot(2): no service manager is needed, nothing else is stopped.
    Force(Kernel),
}

/// What reboot(2) is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    /// RB_AUTOBOOT: restart.
    Restart,
    /// RB_POWER_OFF.
    PowerOff,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Request(argv) => write!(f, "`{}`", argv.join(" ")),
            Step::Force(Kernel::Restart) => f.write_str("sync + reboot(2) RB_AUTOBOOT"),
            Step::Force(Kernel::PowerOff) => f.write_str("sync + reboot(2) RB_POWER_OFF"),
        }
    }
}

#[cfg(test)]
impl Step {
    /// The longest this step may take before it counts as failed.
    fn bound(self) -> Duration {
        match self {
            Step::Request(_) => REQUEST_TIMEOUT,
            Step::Force(_) => SYNC_TIMEOUT + SYSCALL_TIMEOUT,
        }
    }
}

/// The steps for each action, in the order they are tried.
fn plan(action: OsAction) -> &'static [Step] {
    match action {
        OsAction::Shutdown => &[
            Step::Request(&["systemctl", "poweroff"]),
            Step::Request(&["shutdown", "-h", "now"]),
            Step::Force(Kernel::PowerOff),
        ],
        OsAction::Reboot => &[
            Step::Request(&["systemctl", "reboot"]),
            Step::Request(&["shutdown", "-r", "now"]),
            Step::Force(Kernel::Restart),
        ],
        // DOWN-5 / DOWN-6: the point of a reset is not to wait for anything.
        OsAction::Reset => &[Step::Force(Kernel::Restart)],
    }
}

/// The longest `carry_out` may take for `action`: every step failing at its bound.
#[cfg(test)]
fn worst_case(action: OsAction) -> Duration {
    plan(action).iter().map(|s| s.bound()).sum()
}

/// Carries out one step; `Err` says why it did not take (the next step is tried then).
trait Executor {
    async fn execute(&self, step: Step) -> Result<(), String>;
}

/// Try the plan's steps in order; `Performed` at the first that is accepted, else an error
/// naming every step and why it failed (the daemon then exits non-zero, so a service manager
/// restarts it rather than leave the server with its groups stopped).
async fn carry_out(
    action: OsAction,
    executor: &impl Executor,
) -> Result<OsActionOutcome, HostError> {
    let mut failures = Vec::new();
    for step in plan(action) {
        match executor.execute(*step).await {
            Ok(()) => return Ok(OsActionOutcome::Performed),
            Err(why) => {
                tracing::warn!(%action, step = %step, %why, "OS action step failed");
                failures.push(format!("{step}: {why}"));
            }
        }
    }
    Err(HostError::OsAction {
        action,
        reason: failures.join("; "),
    })
}

pub(crate) async fn perform(
    mode: OsActions,
    action: OsAction,
) -> Result<OsActionOutcome, HostError> {
    match mode {
        OsActions::Simulated => {
            tracing::warn!(%action, "would {action} (os_actions: Simulated)");
            Ok(OsActionOutcome::Simulated)
        }
        OsActions::Real => {
            tracing::error!(%action, "performing OS action now (os_actions: Real)");
            carry_out(action, &Machine).await
        }
    }
}

/// The real executor: runs commands and calls reboot(2). Only built by `perform` with
/// `OsActions::Real`.
struct Machine;

impl Executor for Machine {
    async fn execute(&self, step: Step) -> Result<(), String> {
        match step {
            Step::Request(argv) => request(argv).await,
            Step::Force(kernel) => force(kernel).await,
        }
    }
}

async fn request(argv: &[&str]) -> Result<(), String> {
    let (program, args) = argv.split_first().ok_or("empty command")?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    match tokio::time::timeout(REQUEST_TIMEOUT, cmd.status()).await {
        Err(_) => Err(format!("no answer within {REQUEST_TIMEOUT:?}")),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(status.to_string()),
    }
}

/// Flush the page cache (bounded), then reboot(2). Returns only when the kernel refused.
async fn force(kernel: Kernel) -> Result<(), String> {
    if tokio::time::timeout(SYNC_TIMEOUT, tokio::task::spawn_blocking(nix::unistd::sync))
        .await
        .is_err()
    {
        tracing::warn!("sync did not finish within {SYNC_TIMEOUT:?}; calling reboot(2) without it");
    }
    let mode = match kernel {
        Kernel::Restart => nix::sys::reboot::RebootMode::RB_AUTOBOOT,
        Kernel::PowerOff => nix::sys::reboot::RebootMode::RB_POWER_OFF,
    };
    // The last line this host may get to write: the syscall does not return when it works.
    tracing::warn!(step = %Step::Force(kernel), "calling reboot(2) now");
    let call = tokio::task::spawn_blocking(move || nix::sys::reboot::reboot(mode));
    match tokio::time::timeout(SYSCALL_TIMEOUT, call).await {
        Err(_) => Err(format!("reboot(2) did not act within {SYSCALL_TIMEOUT:?}")),
        // `reboot` only returns on failure (Infallible on success).
        Ok(Ok(Err(errno))) => Err(format!("reboot(2): {errno}")),
        Ok(Err(join)) => Err(format!("reboot task: {join}")),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use super::*;

    /// Answers each step from a script (missing answers: accepted) and records what was asked;
    /// it never touches the machine.
    struct Recorder {
        answers: Mutex<VecDeque<Result<(), String>>>,
        asked: Mutex<Vec<Step>>,
    }

    impl Recorder {
        fn new(answers: impl IntoIterator<Item = Result<(), &'static str>>) -> Recorder {
            Recorder {
                answers: Mutex::new(
                    answers
                        .into_iter()
                        .map(|a| a.map_err(String::from))
                        .collect(),
                ),
                asked: Mutex::new(Vec::new()),
            }
        }

        fn asked(&self) -> Vec<String> {
            let asked = self.asked.lock().unwrap_or_else(|p| p.into_inner());
            asked.iter().map(Step::to_string).collect()
        }
    }

    impl Executor for Recorder {
        async fn execute(&self, step: Step) -> Result<(), String> {
            self.asked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(step);
            self.answers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop_front()
                .unwrap_or(Ok(()))
        }
    }

    const MISSING: Result<(), &str> = Err("No such file or directory (os error 2)");

    #[tokio::test]
    async fn a_reboot_without_systemctl_and_shutdown_falls_back_to_sync_and_reboot2() {
        let exec = Recorder::new([MISSING, MISSING, Ok(())]);
        let outcome = carry_out(OsAction::Reboot, &exec).await;
        assert_eq!(outcome, Ok(OsActionOutcome::Performed));
        assert_eq!(
            exec.asked(),
            [
                "`systemctl reboot`",
                "`shutdown -r now`",
                "sync + reboot(2) RB_AUTOBOOT"
            ]
        );
    }

    #[tokio::test]
    async fn a_shutdown_without_systemctl_and_shutdown_falls_back_to_power_off() {
        let exec = Recorder::new([MISSING, MISSING, Ok(())]);
        let outcome = carry_out(OsAction::Shutdown, &exec).await;
        assert_eq!(outcome, Ok(OsActionOutcome::Performed));
        assert_eq!(
            exec.asked(),
            [
                "`systemctl poweroff`",
                "`shutdown -h now`",
                "sync + reboot(2) RB_POWER_OFF"
            ]
        );
    }

    #[tokio::test]
    async fn an_accepted_orderly_request_is_the_last_step() {
        let exec = Recorder::new([Ok(())]);
        assert_eq!(
            carry_out(OsAction::Reboot, &exec).await,
            Ok(OsActionOutcome::Performed)
        );
        assert_eq!(exec.asked(), ["`systemctl reboot`"]);

        // systemctl present but no systemd running (a container): `shutdown` takes it.
        let exec = Recorder::new([Err("exit status: 1"), Ok(())]);
        assert_eq!(
            carry_out(OsAction::Shutdown, &exec).await,
            Ok(OsActionOutcome::Performed)
        );
        assert_eq!(exec.asked(), ["`systemctl poweroff`", "`shutdown -h now`"]);
    }

    #[tokio::test]
    async fn a_reset_goes_straight_to_the_kernel() {
        let exec = Recorder::new([]);
        assert_eq!(
            carry_out(OsAction::Reset, &exec).await,
            Ok(OsActionOutcome::Performed)
        );
        assert_eq!(exec.asked(), ["sync + reboot(2) RB_AUTOBOOT"]);
    }

    #[tokio::test]
    async fn when_every_step_fails_the_error_names_each_and_why() {
        let exec = Recorder::new([
            MISSING,
            MISSING,
            Err("reboot(2): EPERM: Operation not permitted"),
        ]);
        let Err(HostError::OsAction { action, reason }) = carry_out(OsAction::Reboot, &exec).await
        else {
            panic!("a reboot with no way to reboot succeeded");
        };
        assert_eq!(action, OsAction::Reboot);
        assert_eq!(
            reason,
            "`systemctl reboot`: No such file or directory (os error 2); \
             `shutdown -r now`: No such file or directory (os error 2); \
             sync + reboot(2) RB_AUTOBOOT: reboot(2): EPERM: Operation not permitted"
        );
    }

    /// Timeouts nest: the engine waits for the governor's `Perform` at least
    /// `OS_ACTION_TIMEOUT`, so every plan must end (all steps failing at their bounds) within it.
    #[test]
    fn every_plan_ends_within_the_os_action_timeout() {
        for action in [OsAction::Shutdown, OsAction::Reboot, OsAction::Reset] {
            assert!(
                worst_case(action) < OS_ACTION_TIMEOUT,
                "{action}: {:?} >= {OS_ACTION_TIMEOUT:?}",
                worst_case(action)
            );
        }
    }

    #[tokio::test]
    async fn simulated_mode_only_says_what_it_would_do() {
        for action in [OsAction::Shutdown, OsAction::Reboot, OsAction::Reset] {
            assert_eq!(
                perform(OsActions::Simulated, action).await,
                Ok(OsActionOutcome::Simulated)
            );
        }
    }
}
