//! OS shutdown, reboot and reset (DOWN-1..6), behind the `os_actions` safety switch.
//!
//! ┌──────────────────────────────────────────────────────────────────────────────────────────┐
//! │ DANGER: with `OsActions::Real` the functions here power off, reboot or hard-reset THE      │
//! │ MACHINE. `Simulated` (the default everywhere) only logs "would <action>". Tests and the    │
//! │ demo configuration never build a host with `Real`; only a configuration file that says    │
//! │ `os_actions: Real` does. Do not add a path that reaches `perform_real` without that check. │
//! └──────────────────────────────────────────────────────────────────────────────────────────┘
//!
//! Shutdown and reboot are orderly: `systemctl poweroff` / `systemctl reboot`, falling back to
//! `shutdown -h now` / `shutdown -r now` where systemd is absent or refuses. Reset (DOWN-5, DOWN-6)
//! is immediate by definition: `sync`, then the reboot(2) syscall without stopping anything.

use std::time::Duration;

use upkeep_actors::host::{HostError, OsAction, OsActionOutcome};
use upkeep_config::OsActions;

/// How long `systemctl` / `shutdown` get to accept the request (they return once it is queued).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) async fn perform(
    mode: OsActions,
    action: OsAction,
) -> Result<OsActionOutcome, HostError> {
    match mode {
        OsActions::Simulated => {
            tracing::warn!(%action, "would {action} (os_actions: Simulated)");
            Ok(OsActionOutcome::Simulated)
        }
        OsActions::Real => perform_real(action).await,
    }
}

/// Really acts on the machine. Only reachable through `perform` with `OsActions::Real`.
async fn perform_real(action: OsAction) -> Result<OsActionOutcome, HostError> {
    tracing::error!(%action, "performing OS action now (os_actions: Real)");
    let attempts: &[&[&str]] = match action {
        OsAction::Shutdown => &[&["systemctl", "poweroff"], &["shutdown", "-h", "now"]],
        OsAction::Reboot => &[&["systemctl", "reboot"], &["shutdown", "-r", "now"]],
        OsAction::Reset => return reset().await,
    };
    let mut failures = Vec::new();
    for argv in attempts {
        match request(argv).await {
            Ok(()) => return Ok(OsActionOutcome::Performed),
            Err(why) => {
                tracing::warn!(%action, command = argv.join(" "), %why, "OS action request failed");
                failures.push(format!("`{}`: {why}", argv.join(" ")));
            }
        }
    }
    Err(HostError::OsAction {
        action,
        reason: failures.join("; "),
    })
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

/// DOWN-5 / DOWN-6: flush the page cache, then reset without an orderly shutdown.
async fn reset() -> Result<OsActionOutcome, HostError> {
    let result = tokio::task::spawn_blocking(|| {
        nix::unistd::sync();
        nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_AUTOBOOT)
    })
    .await;
    let reason = match result {
        // `reboot` only returns on failure (Infallible on success).
        Ok(Err(errno)) => format!("reboot(2): {errno}"),
        Err(join) => format!("reset task: {join}"),
    };
    Err(HostError::OsAction {
        action: OsAction::Reset,
        reason,
    })
}
