//! Exit statuses of the `upkeep` commands (STYLE-ANCHORS item 10): the spec's where it has
//! them (CMD-*), sysexits(3) where it is silent.

use std::process::ExitCode;

/// One exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok,
    /// The daemon refused: not possible in its current state (already stopped, needs
    /// `--restart`, ...); the message says what to do.
    Refused,
    /// The daemon tried and failed (a group did not start, ...); see `upkeep events`.
    Failed,
    /// EX_TEMPFAIL: the daemon is busy or did not answer in time; try again.
    TempFail,
    /// EX_USAGE: the command line is wrong.
    Usage,
    /// EX_DATAERR: no group, resource or monitor of that name.
    DataErr,
    /// EX_NOINPUT: an input file cannot be read.
    NoInput,
    /// EX_UNAVAILABLE: the daemon is not running (no socket, or nobody listens on it); for
    /// `upkeep daemon`: another daemon already runs.
    Unavailable,
    /// EX_SOFTWARE: an internal error.
    Software,
    /// EX_OSERR: the operating system refused something the daemon needs.
    OsErr,
    /// EX_CANTCREAT: a folder or file the daemon needs cannot be created.
    CantCreate,
    /// EX_IOERR.
    IoErr,
    /// EX_PROTOCOL: the daemon answered something this command does not understand.
    Protocol,
    /// EX_NOPERM: not allowed to reach the daemon.
    NoPerm,
    /// EX_CONFIG: the configuration is invalid.
    Config,
    /// `upkeep simulate`: an auto-start group was not (fully) online at the end.
    SimGroupsStopped,
    /// `upkeep simulate`: a final action stopped the daemon.
    SimDaemonStopped,
    /// `upkeep simulate`: the daemon took an OS action (would shut down or reboot the host).
    SimOsAction,
    /// `upkeep simulate`: an expectation of the scenario was not met.
    SimExpectationFailed,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Refused => 1,
            Exit::Failed => 2,
            Exit::TempFail => 75,
            Exit::Usage => 64,
            Exit::DataErr => 65,
            Exit::NoInput => 66,
            Exit::Unavailable => 69,
            Exit::Software => 70,
            Exit::OsErr => 71,
            Exit::CantCreate => 73,
            Exit::IoErr => 74,
            Exit::Protocol => 76,
            Exit::NoPerm => 77,
            Exit::Config => 78,
            // Below sysexits' 64..=78 and above 0..=2, so a CI script can tell them apart.
            Exit::SimGroupsStopped => 10,
            Exit::SimDaemonStopped => 11,
            Exit::SimOsAction => 12,
            Exit::SimExpectationFailed => 13,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `upkeep --help` lists every exit status there is.
    #[test]
    fn the_help_lists_every_exit_status() {
        for exit in [
            Exit::Ok,
            Exit::Refused,
            Exit::Failed,
            Exit::TempFail,
            Exit::Usage,
            Exit::DataErr,
            Exit::NoInput,
            Exit::Unavailable,
            Exit::Software,
            Exit::OsErr,
            Exit::CantCreate,
            Exit::IoErr,
            Exit::Protocol,
            Exit::NoPerm,
            Exit::Config,
            Exit::SimGroupsStopped,
            Exit::SimDaemonStopped,
            Exit::SimOsAction,
            Exit::SimExpectationFailed,
        ] {
            let listed = format!(" {} ", exit.code());
            assert!(
                crate::cli::EXIT_STATUSES.contains(&listed),
                "{exit:?} ({}) is missing from the help",
                exit.code()
            );
        }
    }
}
