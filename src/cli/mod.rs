//! The `upkeep` command line (ARCHITECTURE §5 Edges): clap definitions and dispatch for
//! `daemon` (OPS-1, OPS-5), `status` (CMD-1) and `config check` (CFG-1, MAP-4).
//!
//! This is the edge where typed errors become human: one `upkeep: <message>` line on stderr and
//! an [`exit::Exit`] status (sysexits where the spec is silent). `bond` / `clpbondcf` never get
//! here: `main` hands them to the bonding tool first, with the seed's own option syntax.

pub mod exit;
pub mod status;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::control::client::{self, ClientError};
use crate::control::proto::{Request, Response};
use crate::control::SOCKET_ENV;
use crate::daemon::config::{self as config_file, LoadError};
use crate::daemon::{self, DaemonError};
use exit::Exit;

/// upkeep: keeps the groups of one server running, recovers them step by step and limits
/// reboots.
#[derive(Debug, Parser)]
#[command(
    name = "upkeep",
    version,
    arg_required_else_help = true,
    after_help = "The bonding setup tool runs as `upkeep bond ...` (or as `clpbondcf`)."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the supervisor in the foreground (the built-in demo without --config).
    Daemon(DaemonArgs),
    /// Show the server, its groups, resources and monitors, and the reboot count.
    Status(StatusArgs),
    /// Work with configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Args)]
struct DaemonArgs {
    /// The configuration file (RON); without it the built-in demo runs, OS actions simulated.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where the reboot count and other state live [default: /var/lib/upkeep as root, else
    /// $XDG_STATE_HOME/upkeep].
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    #[command(flatten)]
    socket: SocketArg,
    /// Where the daily log files go [default: /var/log/upkeep as root, else <state>/log].
    #[arg(long, value_name = "DIR")]
    log_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct StatusArgs {
    /// Print the daemon's status reply as JSON (the control protocol's `StatusReply`).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    socket: SocketArg,
}

#[derive(Debug, Args)]
struct SocketArg {
    /// The control socket [default: /run/upkeep/upkeep.sock as root, else
    /// $XDG_RUNTIME_DIR/upkeep/upkeep.sock].
    #[arg(long, value_name = "PATH", env = SOCKET_ENV)]
    socket: Option<PathBuf>,
}

impl SocketArg {
    fn path(&self) -> PathBuf {
        self.socket
            .clone()
            .unwrap_or_else(crate::control::default_socket_path)
    }
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file: every error with file:line:col, or a one-line summary.
    Check {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// Parse `args` (including the program name) and run the command.
pub fn main(args: &[String]) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors; everything else is a usage error.
            let exit = if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Ok
            };
            let _ = e.print();
            return exit.into();
        }
    };
    let exit = match cli.command {
        Command::Daemon(args) => run_daemon(args),
        Command::Status(args) => run_status(&args),
        Command::Config {
            command: ConfigCommand::Check { file },
        } => config_check(&file),
    };
    exit.into()
}

fn run_daemon(args: DaemonArgs) -> Exit {
    let socket = args.socket.path();
    let options = daemon::Options {
        config: args.config,
        state_dir: args.state_dir,
        socket: Some(socket),
        log_dir: args.log_dir,
    };
    match daemon::run(options) {
        Ok(()) => Exit::Ok,
        Err(DaemonError::Config(LoadError::Invalid(errors))) => {
            for e in &errors {
                eprintln!("{e}");
            }
            fail(format!(
                "refusing to start: the configuration has {} {}",
                errors.len(),
                if errors.len() == 1 { "error" } else { "errors" }
            ));
            Exit::Config
        }
        Err(e) => {
            fail(&e);
            e.exit()
        }
    }
}

fn run_status(args: &StatusArgs) -> Exit {
    let socket = args.socket.path();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            fail(format!("cannot start the async runtime: {e}"));
            return Exit::OsErr;
        }
    };
    let reply = runtime.block_on(client::request(&socket, &Request::status()));
    match reply {
        Ok(Response::Status(status)) => {
            if args.json {
                match serde_json::to_string_pretty(&status) {
                    Ok(json) => out(&format!("{json}\n")),
                    Err(e) => {
                        fail(format!("cannot print the status as JSON: {e}"));
                        Exit::Software
                    }
                }
            } else {
                out(&status::render(&status))
            }
        }
        Ok(Response::Error(e)) => {
            fail(format!("the daemon refused: {}", e.message));
            Exit::DataErr
        }
        Ok(_) => {
            fail(format!(
                "the daemon at {} answered `status` with another reply type",
                socket.display()
            ));
            Exit::Protocol
        }
        Err(e) => {
            fail(&e);
            client_exit(&e)
        }
    }
}

fn client_exit(e: &ClientError) -> Exit {
    match e {
        ClientError::Connect { source, .. } if source.kind() == io::ErrorKind::PermissionDenied => {
            Exit::NoPerm
        }
        ClientError::Protocol { .. } => Exit::Protocol,
        ClientError::NotRunning { .. }
        | ClientError::Connect { .. }
        | ClientError::Timeout { .. }
        | ClientError::Io { .. } => Exit::Unavailable,
    }
}

fn config_check(file: &Path) -> Exit {
    match config_file::load(Some(file)) {
        Ok(config) => out(&format!(
            "{}: ok ({})\n",
            file.display(),
            config_file::summary(&config)
        )),
        Err(LoadError::Invalid(errors)) => {
            for e in &errors {
                eprintln!("{e}");
            }
            fail(format!(
                "{}: {} {}",
                file.display(),
                errors.len(),
                if errors.len() == 1 { "error" } else { "errors" }
            ));
            Exit::Config
        }
        Err(e @ LoadError::Read { .. }) => {
            fail(&e);
            Exit::NoInput
        }
    }
}

/// The one human error line of the edge.
fn fail(message: impl std::fmt::Display) {
    eprintln!("upkeep: {message}");
}

/// Print to stdout; a closed pipe (`upkeep status | head -1`) is not an error.
fn out(text: &str) -> Exit {
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Exit::Ok,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Exit::Ok,
        Err(e) => {
            fail(format!("cannot write to stdout: {e}"));
            Exit::IoErr
        }
    }
}
