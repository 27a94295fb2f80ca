//! The `upkeep` command line (ARCHITECTURE §5 Edges): clap definitions and dispatch for the
//! daemon (OPS-1, OPS-5) and every operator command: status (CMD-1), start/stop/suspend/resume
//! (CMD-2, OPS-1..5), down (CMD-3), group/resource (CMD-4), logs collect (CMD-5), config
//! (CMD-6, APPLY-1..6, BAK-3), log level (CMD-7), monitor suspend/resume (CMD-9, OPS-4), tree,
//! events, explain, inject, completions, man and install. `compat` maps the seed's `clp*` names.
//!
//! This is the edge where typed errors become human: one `upkeep: <message>` line on stderr and
//! an [`exit::Exit`] status (sysexits where the spec is silent). `bond` / `clpbondcf` never get
//! here: `main` hands them to the bonding tool first, with the seed's own option syntax.

pub mod clpstat;
pub mod collect;
pub mod compat;
pub mod exit;
pub mod install;
pub mod messages;
pub mod ops;
pub mod probe;
pub mod simulate;
pub mod status;
pub mod web;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::control::client::ClientError;
use crate::control::proto::{
    DaemonAction, FaultDto, MonitorAction, Request, Response, Toggle, FAULT_CODES, MAX_FAULT_TIMES,
    PROTOCOL_VERSION,
};
use crate::control::SOCKET_ENV;
use crate::daemon::config::{self as config_file, LoadError};
use crate::daemon::{self, DaemonError};
use exit::Exit;

/// upkeep: keeps the groups of one server running, recovers them step by step and limits
/// reboots.
/// Every status `Exit` can give (src/cli/exit.rs); a test holds the two together.
pub const EXIT_STATUSES: &str = "Exit statuses: 0 ok, 1 refused, 2 failed, 64 usage, 65 unknown name, \
66 no input, 69 daemon not running, 70 internal error, 71 operating system error, 73 cannot create \
a file or folder, 74 input/output error, 75 busy, 76 protocol, 77 permission denied, 78 invalid \
configuration (docs/OPERATIONS.md); `simulate` also: 10 groups stopped, 11 daemon stopped, 12 OS \
action, 13 expectation failed (docs/SIMULATE.md).\nThe bonding setup tool runs as `upkeep bond ...` (or as `clpbondcf`).";

#[derive(Debug, Parser)]
#[command(
    name = "upkeep",
    version,
    arg_required_else_help = true,
    after_help = EXIT_STATUSES

)]
pub struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every command takes.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// The control socket [default: /run/upkeep/upkeep.sock as root, else
    /// $XDG_RUNTIME_DIR/upkeep/upkeep.sock].
    #[arg(long, value_name = "PATH", env = SOCKET_ENV, global = true)]
    pub socket: Option<PathBuf>,
    /// Print the daemon's reply as JSON (the control protocol's types, docs/PROTOCOL.md).
    #[arg(long, global = true)]
    pub json: bool,
}

impl Global {
    /// The socket the daemon serves.
    pub fn socket_path(&self) -> PathBuf {
        self.socket
            .clone()
            .unwrap_or_else(crate::control::default_socket_path)
    }

    /// The socket a command talks to: as [`Global::socket_path`], except that a user without
    /// a daemon of its own reaches the system's (issue 10: a non-root `upkeep status` on a host
    /// whose daemon runs as root).
    pub fn client_socket_path(&self) -> PathBuf {
        match &self.socket {
            Some(path) => path.clone(),
            None if nix::unistd::geteuid().is_root() => crate::control::default_socket_path(),
            None => pick_socket(
                crate::control::default_socket_path(),
                Path::new(crate::control::SYSTEM_SOCKET),
            ),
        }
    }
}

/// The user's own socket when there is one, else the system's when there is one, else the
/// user's (so "not running" names the place a user daemon would use).
fn pick_socket(own: PathBuf, system: &Path) -> PathBuf {
    let is_socket = |p: &Path| {
        std::fs::symlink_metadata(p).is_ok_and(|m| {
            use std::os::unix::fs::FileTypeExt;
            m.file_type().is_socket()
        })
    };
    if !is_socket(&own) && is_socket(system) {
        return system.to_path_buf();
    }
    own
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the supervisor in the foreground (the built-in demo without --config).
    Daemon(DaemonArgs),
    /// Show the server, its groups, resources and monitors, and the reboot count (clpstat).
    Status(StatusArgs),
    /// Run one monitor's check once, without the daemon: verdict, message, time taken.
    /// Exit 0 normal, 1 warning, 2 error, 64 unknown monitor, 78 invalid configuration.
    Probe(probe::ProbeArgs),
    /// Show the live supervision tree: every actor, its state, restarts and last failure.
    Tree,
    /// Show the daemon's events: the ones kept, then (with --follow) each new one.
    Events {
        /// Keep printing new events until interrupted.
        #[arg(long, short = 'f')]
        follow: bool,
        /// Only events after this: a sequence number, a duration ago ("10m") or a time
        /// (RFC 3339).
        #[arg(long, value_name = "T")]
        since: Option<String>,
    },
    // OPS-1.
    /// Start the daemon's groups and monitors again after `stop` (clpcl -s).
    Start,
    // OPS-5.
    /// Stop groups and monitors; the daemon keeps answering (clpcl -t).
    Stop,
    // OPS-2.
    /// Stop the monitors; groups keep running (clpcl --suspend).
    Suspend,
    // OPS-3.
    /// Restart the monitors (clpcl --resume).
    Resume,
    /// Start or stop one group (clpgrp).
    Group {
        #[command(subcommand)]
        action: ToggleCommand,
    },
    /// Start or stop one exec resource.
    Resource {
        #[command(subcommand)]
        action: ToggleCommand,
    },
    // OPS-4.
    /// Suspend or resume monitors (clpmonctrl -s / -r).
    Monitor {
        #[command(subcommand)]
        action: MonitorCommand,
    },
    /// Orderly stop, then shut down (or reboot) the OS; simulated unless `os_actions: Real`
    /// (clpdown). Manual: the reboot limit does not count it.
    Down {
        /// Reboot instead of shutting down.
        #[arg(long, short = 'r')]
        reboot: bool,
    },
    /// Check, show, compare, apply or save configurations (clpcfctrl).
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Change the daemon's log filter at run time (clplogcf).
    Log {
        #[command(subcommand)]
        command: LogCommand,
    },
    /// Collect logs, configuration, state, status, tree, events and system facts (clplogcc).
    Logs {
        #[command(subcommand)]
        command: LogsCommand,
    },
    /// Explain the escalation ladder of a monitor or resource and where its counters stand.
    Explain {
        #[arg(value_name = "MONITOR|RESOURCE")]
        name: String,
    },
    /// Inject a fault into the live daemon to rehearse recovery (OS actions stay as configured).
    Inject {
        #[command(subcommand)]
        fault: InjectCommand,
    },
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
    /// Install the binary, man pages, completions, the systemd unit, the clp* command links and
    /// the demo configuration; an edited file is kept (the difference shown) unless --force.
    Install(install::InstallArgs),
    /// Remove what `upkeep install` wrote (its manifest lists it); edited files stay unless
    /// --force.
    Uninstall(install::UninstallArgs),
    /// Rehearse a failure scenario offline: the real engine in virtual time on a simulated host,
    /// OS actions never taken (docs/SIMULATE.md).
    Simulate(simulate::SimulateArgs),
    /// Show the persistent alert log (kept across restarts and reboots): the messages marked
    /// `alert`, then (with --follow) each new one.
    Alerts {
        /// Keep printing new alerts until interrupted.
        #[arg(long, short = 'f')]
        follow: bool,
        /// Only alerts after this: a sequence number, a duration ago ("10m") or a time (RFC 3339).
        #[arg(long, value_name = "T")]
        since: Option<String>,
        /// Every event the log holds, not only the messages marked `alert`.
        #[arg(long)]
        all: bool,
        /// At most this many (the oldest after --since).
        #[arg(long, default_value_t = 0, hide_default_value = true)]
        limit: u32,
    },
    /// Check, install or list the message files (docs/ALERTS.md).
    Messages {
        #[command(subcommand)]
        command: messages::MessagesCommand,
    },
    /// The web manager's accounts: `web passwd NAME`, `web token NAME` (docs/WEB.md).
    Web {
        #[command(subcommand)]
        command: web::WebCommand,
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
    /// Where the daily log files go [default: /var/log/upkeep as root, else <state>/log].
    #[arg(long, value_name = "DIR")]
    log_dir: Option<PathBuf>,
    /// Members of these groups may do everything through the socket (root and the daemon's user
    /// always may); repeat it or give a comma list (docs/SECURITY.md).
    #[arg(long, value_name = "GROUP", value_delimiter = ',')]
    operator_group: Vec<String>,
    /// Members of these groups may read (`status`, `tree`, `events`, `explain`) but change
    /// nothing; `*` lets every local user read; repeat it or give a comma list.
    #[arg(long, value_name = "GROUP", value_delimiter = ',')]
    reader_group: Vec<String>,
    /// The socket's permission bits in octal [default: 666 as root with groups (the daemon
    /// decides), 660 as root, else 600].
    #[arg(long, value_name = "OCTAL", value_parser = parse_mode)]
    socket_mode: Option<u32>,
}

/// OPS-4 `--for`: a duration within the engine's bound, refused here (exit 64) rather than by
/// the daemon (issue 8, defect 4).
#[derive(Debug, Args)]
struct StatusArgs {
    /// Show it again every DURATION (default 2s), in place on a terminal, until interrupted;
    /// with --json, one Status line each time.
    #[arg(long, value_name = "DURATION", num_args = 0..=1, default_missing_value = "2s",
          value_parser = parse_watch_interval)]
    watch: Option<std::time::Duration>,
    /// The seed's `clpstat` layout (what `clpstat` prints), all sections or one.
    #[arg(long, value_name = "SECTION", num_args = 0..=1, default_missing_value = "all",
          hide = true)]
    clp: Option<clpstat::Section>,
}

fn parse_watch_interval(text: &str) -> Result<std::time::Duration, String> {
    let every = humantime::parse_duration(text).map_err(|e| format!("`{text}`: {e}"))?;
    if every < std::time::Duration::from_millis(100) || every > std::time::Duration::from_secs(3600)
    {
        return Err(format!("`{text}` is outside 100ms..=1h"));
    }
    Ok(every)
}

fn parse_suspension(text: &str) -> Result<std::time::Duration, String> {
    let span = humantime::parse_duration(text).map_err(|e| format!("`{text}`: {e}"))?;
    // Sub-second spans round up to the wire's whole seconds.
    let wire = std::time::Duration::from_secs(span.as_secs().max(1));
    upkeep_actors::check_suspension(wire).map_err(|_| {
        format!(
            "`{text}` is outside 1s..={}; for a longer pause suspend without --for and resume by hand",
            humantime::format_duration(upkeep_actors::MAX_MONITOR_SUSPENSION)
        )
    })?;
    Ok(span)
}

fn parse_mode(text: &str) -> Result<u32, String> {
    u32::from_str_radix(text.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| format!("`{text}` is not an octal mode like 660"))
}

#[derive(Debug, Subcommand)]
enum ToggleCommand {
    /// Start it (nothing to do when it is online already).
    Start { name: String },
    /// Stop it (nothing to do when it is offline already).
    Stop { name: String },
    /// Stop it, then start it again.
    Restart { name: String },
}

#[derive(Debug, Subcommand)]
enum MonitorCommand {
    /// Suspend monitors (all without names); no monitor-triggered server down meanwhile.
    Suspend {
        names: Vec<String>,
        /// End the suspension by itself after this long ("30m").
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_suspension)]
        for_: Option<std::time::Duration>,
    },
    /// Resume monitors (all without names).
    Resume { names: Vec<String> },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file: every error with file:line:col, or a one-line summary.
    Check {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Print the configuration in force.
    Show,
    /// Show what applying FILE would change and which apply method it needs.
    Diff {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Apply FILE: upload only and suspend/resume changes at once; stop/restart ones only with
    /// --restart; a shutdown/reboot change is installed for the next start.
    Apply {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Allow a stop/restart of the daemon (groups and monitors stop meanwhile).
        #[arg(long)]
        restart: bool,
        /// Print the seed's prompts and `success.(code:0)` (clpcfctrl --push).
        #[arg(long, hide = true)]
        clp: bool,
    },
    // BAK-3.
    /// Save the configuration in force to FILE (back up before a change).
    Pull {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[arg(long, hide = true)]
        clp: bool,
    },
}

#[derive(Debug, Subcommand)]
enum LogCommand {
    /// Set the filter: `debug`, `info`, `upkeep=debug,warn`, ...
    Level { filter: String },
}

#[derive(Debug, Subcommand)]
enum LogsCommand {
    /// Write a tar.gz archive [default: upkeep-logs-<host>-<time>.tar.gz in the temp folder].
    Collect(collect::CollectArgs),
}

#[derive(Debug, Subcommand)]
enum InjectCommand {
    /// The next N checks of MONITOR fail.
    ProbeFails {
        monitor: String,
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_FAULT_TIMES)))]
        times: u32,
    },
    /// Every check of MONITOR hangs until `upkeep inject clear`.
    ProbeHangs { monitor: String },
    /// The next N runs of PROGRAM (a start or stop script) exit with CODE.
    ScriptFails {
        program: String,
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_FAULT_TIMES)))]
        times: u32,
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i32).range(i64::from(*FAULT_CODES.start())..=i64::from(*FAULT_CODES.end())))]
        code: i32,
    },
    /// SIGKILL the current process of RESOURCE.
    Kill { resource: String },
    /// Remove every injected fault.
    Clear,
}

/// Parse `args` (including the program name) and run the command.
pub fn main(args: &[String]) -> ExitCode {
    let argv0 = args
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
        .unwrap_or_default();
    let translated;
    let args = match compat::translate(&argv0, args.get(1..).unwrap_or(&[])) {
        None => args,
        Some(Ok(upkeep_args)) => {
            translated = upkeep_args;
            &translated[..]
        }
        Some(Err(message)) => {
            eprintln!("{argv0}: {message}");
            return Exit::Usage.into();
        }
    };
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
    let g = cli.global.clone();
    let exit = match cli.command {
        Command::Daemon(args) => run_daemon(args, &g),
        Command::Status(args) => match (args.watch, args.clp) {
            (Some(every), _) => watch_status(&g, every),
            (None, Some(section)) => match ops::call(&g, &Request::status()) {
                Ok(Response::Status(s)) => out(&clpstat::render(&s, section)),
                Ok(other) => ops::unexpected(&g, other),
                Err(exit) => exit,
            },
            (None, None) => run_status(&g),
        },
        Command::Probe(args) => return probe::run(&args, g.json),
        Command::Config {
            command: ConfigCommand::Check { file },
        } => config_check(&file),
        Command::Tree => ops::tree(&g),
        Command::Events { follow, since } => ops::events(&g, follow, since.as_deref()),
        Command::Start => ops::daemon(&g, DaemonAction::Start),
        Command::Stop => ops::daemon(&g, DaemonAction::Stop),
        Command::Suspend => ops::daemon(&g, DaemonAction::Suspend),
        Command::Resume => ops::daemon(&g, DaemonAction::Resume),
        Command::Group { action } => {
            let (name, action) = toggle(action);
            ops::simple(
                &g,
                Request::Group {
                    version: PROTOCOL_VERSION,
                    name,
                    action,
                },
            )
        }
        Command::Resource { action } => {
            let (name, action) = toggle(action);
            ops::simple(
                &g,
                Request::Resource {
                    version: PROTOCOL_VERSION,
                    name,
                    action,
                },
            )
        }
        Command::Monitor { action } => {
            let request = match action {
                MonitorCommand::Suspend { names, for_ } => Request::Monitors {
                    version: PROTOCOL_VERSION,
                    action: MonitorAction::Suspend,
                    names,
                    for_s: for_.map(|d| d.as_secs().max(1)),
                },
                MonitorCommand::Resume { names } => Request::Monitors {
                    version: PROTOCOL_VERSION,
                    action: MonitorAction::Resume,
                    names,
                    for_s: None,
                },
            };
            ops::simple(&g, request)
        }
        Command::Down { reboot } => ops::simple(
            &g,
            Request::Down {
                version: PROTOCOL_VERSION,
                reboot,
            },
        ),
        Command::Config { command } => match command {
            ConfigCommand::Check { .. } => Exit::Software,
            ConfigCommand::Show => ops::config_show(&g),
            ConfigCommand::Diff { file } => ops::config_apply(&g, &file, false, true, false),
            ConfigCommand::Apply { file, restart, clp } => {
                ops::config_apply(&g, &file, restart, false, clp)
            }
            ConfigCommand::Pull { file, clp } => ops::config_pull(&g, &file, clp),
        },
        Command::Log {
            command: LogCommand::Level { filter },
        } => {
            match upkeep_config::check_log_filter(&filter).and_then(|()| {
                tracing_subscriber::EnvFilter::try_new(&filter).map_err(|e| e.to_string())
            }) {
                Err(e) => {
                    fail(format!("invalid log filter `{filter}`: {e} (examples: `debug`, `info,upkeep=debug`)"));
                    Exit::Usage
                }
                Ok(_) => ops::simple(
                    &g,
                    Request::LogLevel {
                        version: PROTOCOL_VERSION,
                        filter,
                    },
                ),
            }
        }
        Command::Logs {
            command: LogsCommand::Collect(args),
        } => collect::run(&g, &args),
        Command::Explain { name } => ops::explain(&g, name),
        Command::Inject { fault } => {
            let fault = match fault {
                InjectCommand::ProbeFails { monitor, times } => {
                    FaultDto::ProbeFails { monitor, times }
                }
                InjectCommand::ProbeHangs { monitor } => FaultDto::ProbeHangs { monitor },
                InjectCommand::ScriptFails {
                    program,
                    times,
                    code,
                } => FaultDto::ScriptFails {
                    program,
                    times,
                    code,
                },
                InjectCommand::Kill { resource } => FaultDto::ProcessKilled { resource },
                InjectCommand::Clear => FaultDto::Clear,
            };
            ops::simple(
                &g,
                Request::Inject {
                    version: PROTOCOL_VERSION,
                    fault,
                },
            )
        }
        Command::Web { command } => web::run(command),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd, "upkeep", &mut buf);
            out(&String::from_utf8_lossy(&buf))
        }
        Command::Man => {
            // The page `upkeep install` writes as upkeep.1.
            match install::man_pages() {
                Ok(pages) => out(&String::from_utf8_lossy(&pages[0].1)),
                Err(e) => {
                    fail(format!("cannot render the man page: {e}"));
                    Exit::Software
                }
            }
        }
        Command::Install(args) => install::run(&args),
        Command::Uninstall(args) => install::uninstall(&args),
        Command::Simulate(args) => simulate::run(&args, g.json),
        Command::Messages { command } => messages::run(command, g.json),
        Command::Alerts {
            follow,
            since,
            all,
            limit,
        } => ops::alerts(&g, follow, since.as_deref(), all, limit),
    };
    exit.into()
}

fn toggle(action: ToggleCommand) -> (String, Toggle) {
    match action {
        ToggleCommand::Start { name } => (name, Toggle::Start),
        ToggleCommand::Stop { name } => (name, Toggle::Stop),
        ToggleCommand::Restart { name } => (name, Toggle::Restart),
    }
}

fn run_daemon(args: DaemonArgs, g: &Global) -> Exit {
    let socket = g.socket_path();
    let options = daemon::Options {
        config: args.config,
        state_dir: args.state_dir,
        socket: Some(socket),
        log_dir: args.log_dir,
        operator_groups: args.operator_group,
        reader_groups: args.reader_group,
        socket_mode: args.socket_mode,
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

fn run_status(g: &Global) -> Exit {
    match status_text(g, false) {
        Ok(text) => out(&text),
        Err(exit) => exit,
    }
}

/// The status as printed: a `Status` JSON line, or the table (coloured on a terminal);
/// `in_place` first moves to the top of the terminal and clears it.
fn status_text(g: &Global, in_place: bool) -> Result<String, Exit> {
    if g.json {
        let line = ops::call_for_json(g, &Request::status(), "Status")?;
        let mut text = String::from_utf8(line).map_err(|e| {
            fail(format!("the daemon's status is not UTF-8: {e}"));
            Exit::Protocol
        })?;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        return Ok(text);
    }
    match ops::call(g, &Request::status()) {
        Ok(Response::Status(status)) => {
            let mut text = status::render(&status);
            if ops::use_colour() {
                text = status::colour(&text);
            }
            if in_place {
                text = format!("\x1b[H\x1b[2J{text}");
            }
            Ok(text)
        }
        Ok(other) => Err(ops::unexpected(g, other)),
        Err(exit) => Err(exit),
    }
}

/// Issue 13, `status --watch`: redrawn in place on a terminal (like `watch upkeep status`);
/// elsewhere each status follows the last after a blank line (with --json: one line each).
/// Ends on the first failure (the daemon went away: its exit status) or, quietly, when the
/// reader of the output goes away.
fn watch_status(g: &Global, every: std::time::Duration) -> Exit {
    use std::io::IsTerminal;
    let in_place = !g.json && std::io::stdout().is_terminal();
    let mut first = true;
    loop {
        let mut text = match status_text(g, in_place) {
            Ok(text) => text,
            Err(exit) => return exit,
        };
        if !first && !in_place && !g.json {
            text.insert(0, '\n');
        }
        first = false;
        let mut stdout = io::stdout().lock();
        match stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Exit::Ok,
            Err(e) => {
                fail(format!("cannot write to stdout: {e}"));
                return Exit::IoErr;
            }
        }
        drop(stdout);
        std::thread::sleep(every);
    }
}

/// Exit status for a failure to talk to the daemon.
pub fn client_exit(e: &ClientError) -> Exit {
    match e {
        ClientError::Connect { source, .. } if source.kind() == io::ErrorKind::PermissionDenied => {
            Exit::NoPerm
        }
        ClientError::Protocol { .. } => Exit::Protocol,
        ClientError::NotRunning { .. } => Exit::Unavailable,
        ClientError::Timeout { .. } => Exit::TempFail,
        ClientError::Connect { .. } | ClientError::Io { .. } => Exit::IoErr,
    }
}

fn config_check(file: &Path) -> Exit {
    match config_file::load(Some(file)) {
        Ok(config) => match crate::alerts::load_messages(&config, Some(file)) {
            // Issue 11: the message files it names are part of what the daemon would refuse.
            Err(e) => {
                eprintln!("{e}");
                fail(format!("{}: invalid message files", file.display()));
                Exit::Config
            }
            Ok(_) => out(&format!(
                "{}: ok ({})\n",
                file.display(),
                config_file::summary(&config)
            )),
        },
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
pub(crate) fn fail(message: impl std::fmt::Display) {
    eprintln!("upkeep: {message}");
}

/// Print to stdout; a closed pipe (`upkeep status | head -1`) is not an error.
pub(crate) fn out(text: &str) -> Exit {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 10: a user without a daemon of its own reaches the system's socket instead of
    /// hearing "the daemon is not running"; its own daemon wins when it has one.
    #[test]
    fn a_user_without_a_daemon_finds_the_system_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let own = dir.path().join("user/upkeep.sock");
        let system = dir.path().join("system.sock");
        assert_eq!(
            pick_socket(own.clone(), &system),
            own,
            "neither: the user's"
        );
        let _system = std::os::unix::net::UnixListener::bind(&system).expect("bind");
        assert_eq!(pick_socket(own.clone(), &system), system);
        std::fs::create_dir_all(own.parent().expect("parent")).expect("mkdir");
        let _own = std::os::unix::net::UnixListener::bind(&own).expect("bind");
        assert_eq!(pick_socket(own.clone(), &system), own);
    }
}
