//! Step 7's post actions (BOND-7 ⑦/⑧): reboot, restart the network, or nothing.
//!
//! Reboot and network restart pass the same safety gate as the daemon's OS actions
//! ([`upkeep_config::OsActions`]): simulated (`would reboot`, `would restart network`) unless
//! `--real-os-actions` was given, and never real when `--root` is not `/`, because restarting
//! the live network for files written into an image would be wrong.

use std::io::Write;
use std::process::Command;

use upkeep_config::OsActions;

use super::errors::{code, BondError};
use super::toolfile::PostAction;

/// Whether OS actions happen, decided once from the command line.
#[derive(Debug, Clone, Copy)]
pub struct Gate {
    pub actions: OsActions,
    /// The root is the running system's `/`.
    pub live_root: bool,
}

impl Gate {
    fn real(self) -> bool {
        self.actions == OsActions::Real && self.live_root
    }

    /// Why an action is only simulated, for the `would …` line.
    fn reason(self) -> &'static str {
        if self.actions != OsActions::Real {
            "simulated; --real-os-actions performs it"
        } else {
            "simulated because --root is not /"
        }
    }
}

fn run_all(commands: &[Vec<String>]) -> Result<(), BondError> {
    for cmd in commands {
        let Some((program, args)) = cmd.split_first() else {
            continue;
        };
        let status =
            Command::new(program)
                .args(args)
                .status()
                .map_err(|e| BondError::Internal {
                    code: code::POST_ACTION,
                    detail: format!("{}: {e}", cmd.join(" ")),
                })?;
        if !status.success() {
            return Err(BondError::Internal {
                code: code::POST_ACTION,
                detail: format!("{} ended with {status}", cmd.join(" ")),
            });
        }
    }
    Ok(())
}

fn shown(commands: &[Vec<String>]) -> String {
    commands
        .iter()
        .map(|c| c.join(" "))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Prints the seed's line for the action (BOND-6 shows `Network restart.` for 2; the lines for
/// 1 and 3 are not in the guide, MAP-21) and performs or simulates it.
pub fn perform(
    action: PostAction,
    gate: Gate,
    restart_commands: &[Vec<String>],
    out: &mut dyn Write,
) -> Result<(), BondError> {
    let io = |e: std::io::Error| BondError::Internal {
        code: code::OUTPUT,
        detail: e.to_string(),
    };
    let reboot = [vec!["systemctl".to_string(), "reboot".to_string()]];
    let (line, what, commands) = match action {
        PostAction::Nothing => return Ok(()),
        PostAction::Reboot => ("Server reboot.", "reboot", &reboot[..]),
        PostAction::RestartNetwork => ("Network restart.", "restart network", restart_commands),
    };
    writeln!(out, "{line}").map_err(io)?;
    if gate.real() {
        out.flush().map_err(io)?;
        run_all(commands)
    } else {
        writeln!(out, "would {what} ({}: {})", gate.reason(), shown(commands)).map_err(io)?;
        Ok(())
    }
}
