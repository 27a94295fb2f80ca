//! `upkeep web passwd NAME` and `upkeep web token NAME`: the web manager's accounts (issue 12,
//! docs/WEB.md). Writes the accounts file directly (no daemon needed); the daemon reads it on
//! every sign-in, so a change is in force at once.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::exit::Exit;
use super::fail;
use crate::web::accounts::{self, Accounts, Entry, Kind, Role};

#[derive(Debug, Subcommand)]
pub enum WebCommand {
    /// Set a person's password and role (asks on the terminal, or reads one line from stdin).
    Passwd(AccountArgs),
    /// Make an API token with a role; it is printed once, only its digest is kept.
    Token(AccountArgs),
}

#[derive(Debug, Args)]
pub struct AccountArgs {
    /// The account's name (letters, digits, `-`, `_`, `.`, `@`).
    name: String,
    #[arg(long, value_enum, default_value_t = RoleArg::Viewer)]
    role: RoleArg,
    /// The accounts file [default: the configuration's `web.accounts`, else `web-accounts` in
    /// the state folder].
    #[arg(long, value_name = "FILE")]
    accounts: Option<PathBuf>,
    /// The daemon's configuration, to find its `web.accounts`.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The daemon's state folder, when it is not the default.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    Viewer,
    Operator,
}

pub fn run(command: WebCommand) -> Exit {
    let (args, kind) = match command {
        WebCommand::Passwd(a) => (a, Kind::User),
        WebCommand::Token(a) => (a, Kind::Token),
    };
    if let Err(e) = accounts::check_name(&args.name) {
        fail(e);
        return Exit::Usage;
    }
    let file = match accounts_file(&args) {
        Ok(f) => f,
        Err(e) => {
            fail(e);
            return Exit::Config;
        }
    };
    let role = match args.role {
        RoleArg::Viewer => Role::Viewer,
        RoleArg::Operator => Role::Operator,
    };
    let mut all = match Accounts::load(&file) {
        Ok(a) => a,
        Err(e) => {
            fail(e);
            return Exit::DataErr;
        }
    };
    let (hash, shown) = match kind {
        Kind::User => match read_password(&args.name).and_then(|p| accounts::hash_password(&p)) {
            Ok(h) => (h, None),
            Err(e) => {
                fail(e);
                return Exit::Usage;
            }
        },
        Kind::Token => match accounts::new_token() {
            Ok((token, digest)) => (digest, Some(token)),
            Err(e) => {
                fail(e);
                return Exit::OsErr;
            }
        },
    };
    all.set(Entry {
        kind,
        name: args.name.clone(),
        role,
        hash,
    });
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Err(e) = std::fs::create_dir_all(dir) {
            fail(format!("cannot create `{}`: {e}", dir.display()));
            return Exit::CantCreate;
        }
    }
    if let Err(e) = all.save(&file) {
        fail(e);
        return Exit::CantCreate;
    }
    match shown {
        Some(token) => println!(
            "{token}\n(token `{}` with role {}; shown once, kept only as a digest in {})",
            args.name,
            role.as_str(),
            file.display()
        ),
        None => println!(
            "`{}` can sign in as {} (accounts file {})",
            args.name,
            role.as_str(),
            file.display()
        ),
    }
    Exit::Ok
}

fn accounts_file(args: &AccountArgs) -> Result<PathBuf, String> {
    if let Some(f) = &args.accounts {
        return Ok(f.clone());
    }
    if let Some(path) = &args.config {
        let config = crate::daemon::config::load(Some(path)).map_err(|e| e.to_string())?;
        if let Some(f) = config.web.and_then(|w| w.accounts) {
            return Ok(f);
        }
    }
    let state = args
        .state_dir
        .clone()
        .unwrap_or_else(crate::host::paths::default_state_dir);
    Ok(state.join(accounts::DEFAULT_FILE))
}

/// From the terminal without echo (asked twice), else one line of stdin.
fn read_password(name: &str) -> Result<String, String> {
    let password = if std::io::stdin().is_terminal() {
        let first = prompt(&format!("New password for `{name}`: "))?;
        let again = prompt("Again: ")?;
        if first != again {
            return Err("the two passwords differ; nothing changed".into());
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
        line.trim_end_matches(['\n', '\r']).to_string()
    };
    if password.chars().count() < 8 {
        return Err("the password must have at least 8 characters".into());
    }
    Ok(password)
}

fn prompt(text: &str) -> Result<String, String> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    let stdin = std::io::stdin();
    eprint!("{text}");
    let _ = std::io::stderr().flush();
    let saved = tcgetattr(&stdin).map_err(|e| format!("cannot read the terminal: {e}"))?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    tcsetattr(&stdin, SetArg::TCSANOW, &quiet)
        .map_err(|e| format!("cannot hide the input: {e}"))?;
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    let _ = tcsetattr(&stdin, SetArg::TCSANOW, &saved);
    eprintln!();
    read.map_err(|e| format!("cannot read the password: {e}"))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}
