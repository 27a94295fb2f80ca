//! `upkeep messages`: check, install and list the message files (MSG-2..4, docs/ALERTS.md).

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::exit::Exit;
use super::{fail, out};
use crate::alerts::catalogue::{self, MODULES};
use crate::alerts::messages::{file_name, Messages};

/// Where the message files live by default: `messages/` in the configuration folder.
pub const DEFAULT_DIR: &str = "/etc/upkeep/messages";

#[derive(Debug, Subcommand)]
pub enum MessagesCommand {
    /// Check the message files of a folder: every error with file:line; exit 78 on any.
    Check {
        /// The folder holding `pm.msg.us`, `rc.msg.us`, ...
        #[arg(default_value = DEFAULT_DIR)]
        dir: PathBuf,
    },
    /// Write the built-in message files into a folder, for the admin to edit (existing files
    /// are kept unless --force).
    Install {
        #[arg(default_value = DEFAULT_DIR)]
        dir: PathBuf,
        /// Overwrite files already there.
        #[arg(long)]
        force: bool,
    },
    /// Print the catalogue as the Markdown table of docs/ALERTS.md.
    Table,
}

pub fn run(command: MessagesCommand, json: bool) -> Exit {
    match command {
        MessagesCommand::Check { dir } => check(&dir, json),
        MessagesCommand::Install { dir, force } => install(&dir, force),
        MessagesCommand::Table => out(&catalogue::markdown_table()),
    }
}

fn check(dir: &Path, json: bool) -> Exit {
    match Messages::load(dir) {
        Ok(_) => {
            let found: Vec<String> = MODULES
                .iter()
                .map(|m| file_name(m))
                .filter(|f| dir.join(f).is_file())
                .collect();
            if json {
                out(&format!(
                    "{}\n",
                    serde_json::json!({"ok": true, "dir": dir.display().to_string(), "files": found})
                ))
            } else if found.is_empty() {
                out(&format!(
                    "{}: ok (no message file: the built-in messages apply)\n",
                    dir.display()
                ))
            } else {
                out(&format!("{}: ok ({})\n", dir.display(), found.join(", ")))
            }
        }
        Err(errors) => {
            if json {
                let list: Vec<serde_json::Value> = errors
                    .iter()
                    .map(|e| serde_json::json!({"file": e.file.display().to_string(), "line": e.line, "message": e.message}))
                    .collect();
                let _ = out(&format!(
                    "{}\n",
                    serde_json::json!({"ok": false, "dir": dir.display().to_string(), "errors": list})
                ));
            } else {
                for e in &errors {
                    eprintln!("{e}");
                }
            }
            fail(format!(
                "{}: {} {}",
                dir.display(),
                errors.len(),
                if errors.len() == 1 { "error" } else { "errors" }
            ));
            Exit::Config
        }
    }
}

fn install(dir: &Path, force: bool) -> Exit {
    if let Err(e) = crate::daemon::dirs::create(dir, 0o755) {
        fail(format!("cannot create `{}`: {e}", dir.display()));
        return Exit::CantCreate;
    }
    let mut written = Vec::new();
    for module in MODULES {
        let path = dir.join(file_name(module));
        if path.exists() && !force {
            eprintln!(
                "{}: kept (already there; --force replaces it)",
                path.display()
            );
            continue;
        }
        let text = Messages::default_file(module);
        let result = if force {
            crate::host::safe_file::replace(
                &path,
                text.as_bytes(),
                0o644,
                crate::host::safe_file::Trust::Private,
                false,
            )
            .map_err(|e| e.to_string())
        } else {
            crate::host::safe_file::create_new(&path, 0o644)
                .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
                .map_err(|e| e.to_string())
        };
        if let Err(e) = result {
            fail(format!("cannot write `{}`: {e}", path.display()));
            return Exit::CantCreate;
        }
        written.push(path.display().to_string());
    }
    out(&written.iter().map(|w| format!("{w}\n")).collect::<String>())
}
