//! `upkeep bond` / `clpbondcf`: the NIC bonding setup tool (BOND-1..22, MAP-20..24).
//!
//! This module is the edge: it parses the command line, checks root (BOND-4, 116), takes the
//! single-instance lock (118), runs the dialogue or reads the tool file, has the back-end plan
//! every file, backs them up (`-b`), writes them in one transaction that is rolled back on any
//! error, and performs the post action through the OS-action gate. Typed [`errors::BondError`]s
//! travel inside; only [`run`] turns them into the seed's messages and exit codes (BOND-11).
//! docs/BOND.md is the operator's manual.

pub mod args;
pub mod backends;
pub mod backup;
pub mod dialogue;
pub mod errors;
pub mod lock;
pub mod net;
pub mod nics;
pub mod params;
pub mod post_action;
pub mod status;
pub mod toolfile;
pub mod txn;

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use upkeep_config::OsActions;

use args::{Args, BondName, Mode};
use backends::{BondSetup, FileChange};
use errors::{code, BondError};
use nics::{NicSource, SysfsNics};
use toolfile::Answers;

/// Where the driver-load file of step 6 goes: systemd-modules-load(8) loads `bonding` at boot,
/// the modern form of the seed's `/etc/init.d/bonding` (BOND-18).
pub const DRIVER_LOAD_FILE: &str = "etc/modules-load.d/upkeep-bonding.conf";

/// The default work folder under the root: the modern place of the seed's
/// `/opt/nec/clusterpro/work/bondcf` (DIR-12, MAP-3).
pub const DEFAULT_WORK_DIR: &str = "var/lib/upkeep/bondcf";

/// Runs the bonding tool with the arguments after `bond` (or after `clpbondcf`) and returns the
/// process exit status (BOND-11).
pub fn run(args: &[String]) -> i32 {
    let stdin = io::stdin();
    let echo = !stdin.is_terminal();
    let mut input = stdin.lock();
    let mut out = io::stdout().lock();
    let result = execute(args, &mut input, &mut out, echo);
    let _ = out.flush();
    match result {
        Ok(()) => 0,
        // `upkeep bond -s --json | head`: the reader has what it wanted; end quietly, as
        // every filter does when its output is closed.
        Err(BondError::Internal { detail, .. }) if detail.contains("Broken pipe") => 0,
        Err(e) => {
            let mut err = io::stderr().lock();
            let _ = writeln!(err, "{}", e.seed_message());
            let _ = writeln!(err, "upkeep bond: {e}");
            e.exit_code()
        }
    }
}

/// [`run`] without the process edge: everything but the exit-code mapping.
pub fn execute(
    args: &[String],
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    echo: bool,
) -> Result<(), BondError> {
    let args = args::parse(args)?;
    if args.mode == Mode::Help {
        return out.write_all(args::USAGE.as_bytes()).map_err(output_error);
    }
    if !nix::unistd::geteuid().is_root() {
        return Err(BondError::NotRoot);
    }
    match args.mode {
        Mode::Help => Ok(()),
        Mode::Status { bond, json } => show_status(&args.root, bond, json, out),
        Mode::Configure {
            bond,
            from_tool_file,
            backup,
        } => {
            let mut console = dialogue::Console { input, out, echo };
            configure(&args, bond, from_tool_file, backup, &mut console)
        }
    }
}

fn output_error(e: io::Error) -> BondError {
    if e.kind() == io::ErrorKind::BrokenPipe {
        return BondError::Internal {
            code: code::OUTPUT,
            detail: "Broken pipe".into(),
        };
    }
    BondError::Internal {
        code: code::OUTPUT,
        detail: e.to_string(),
    }
}

fn show_status(
    root: &Path,
    bond: BondName,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), BondError> {
    let (path, text) = status::read(root, bond)?;
    if json {
        let report = status::StatusReport {
            bond: bond.as_str(),
            source: path.display().to_string(),
            status: status::parse(&text),
        };
        let doc = serde_json::to_string_pretty(&report).map_err(|e| BondError::Internal {
            code: code::OUTPUT,
            detail: e.to_string(),
        })?;
        writeln!(out, "{doc}").map_err(output_error)
    } else {
        out.write_all(text.as_bytes()).map_err(output_error)?;
        if !text.ends_with('\n') && !text.is_empty() {
            writeln!(out).map_err(output_error)?;
        }
        Ok(())
    }
}

fn is_live_root(root: &Path) -> bool {
    root.canonicalize().is_ok_and(|p| p == Path::new("/"))
}

fn configure(
    args: &Args,
    bond: BondName,
    from_tool_file: bool,
    backup: bool,
    console: &mut dialogue::Console<'_>,
) -> Result<(), BondError> {
    let root = args.root.as_path();
    let work_dir = args
        .work_dir
        .clone()
        .unwrap_or_else(|| root.join(DEFAULT_WORK_DIR));
    let _lock = lock::acquire(&work_dir)?;
    let kind = match args.backend {
        Some(kind) => kind,
        None => backends::detect(root)?,
    };
    let backend = kind.backend();
    let live = is_live_root(root);
    let lookup = |nic: &str| backend.nic_address(root, nic);
    let nics = SysfsNics {
        root: root.to_path_buf(),
        live,
        configured_address: &lookup,
    }
    .nics()?;
    let tool_file = work_dir.join(bond.as_str());

    let answers = if from_tool_file {
        if nics.len() < 2 {
            return Err(BondError::TooFewNics(nics.len()));
        }
        toolfile::load(&tool_file, &nics)?
    } else {
        let configured = backend.is_configured(root, bond);
        let existing = configured
            .then(|| backend.nic_address(root, bond.as_str()))
            .flatten();
        match dialogue::run(console, bond, configured, &nics, existing)? {
            dialogue::Outcome::Proceed(a) => a,
            dialogue::Outcome::Declined => return Ok(()),
        }
    };

    let setup = BondSetup {
        bond,
        nic1: answers.nic1.clone(),
        nic2: answers.nic2.clone(),
        ip: answers.ip,
        mask: answers.mask,
        params: answers.params.clone(),
    };
    // Read before anything is written: the cards' files lose these settings in the plan.
    let inherited = backends::carried(backend, root, &setup)?;
    let plan = backend.plan(root, &setup)?;
    let writes = Writes::new(
        root,
        &plan,
        &answers,
        (!from_tool_file).then_some(tool_file),
    );

    if backup {
        let dir = backup::make(&work_dir, bond, &writes.targets())?;
        // stderr: the dialogue's stdout stays the seed's transcript.
        eprintln!(
            "upkeep bond: backup of the files to change is in {}",
            dir.display()
        );
    }
    writes.apply()?;
    for warning in backend
        .warnings(root, &setup)
        .into_iter()
        .chain(inherited.warnings(setup.ip, setup.mask))
    {
        eprintln!("upkeep bond: warning: {warning}");
    }

    console.say(&format!("{bond} complete."))?;
    let gate = post_action::Gate {
        actions: if args.real_os_actions {
            OsActions::Real
        } else {
            OsActions::Simulated
        },
        live_root: live,
    };
    post_action::perform(
        answers.action,
        gate,
        &backend.restart_commands(bond),
        console.out,
    )
}

/// The files one run writes, in the order they are written, each with the exit code its failure
/// maps to (105 tool file, 106 settings, 117 driver-load file).
struct Writes {
    tool_file: Option<(PathBuf, String)>,
    settings: Vec<(PathBuf, FileChange)>,
    script: Option<PathBuf>,
}

impl Writes {
    fn new(
        root: &Path,
        plan: &[FileChange],
        answers: &Answers,
        tool_file: Option<PathBuf>,
    ) -> Self {
        Writes {
            tool_file: tool_file.map(|p| (p, toolfile::render(answers))),
            settings: plan
                .iter()
                .map(|c| (root.join(&c.path), c.clone()))
                .collect(),
            script: answers.script.then(|| root.join(DRIVER_LOAD_FILE)),
        }
    }

    fn targets(&self) -> Vec<PathBuf> {
        let mut all: Vec<PathBuf> = self.tool_file.iter().map(|(p, _)| p.clone()).collect();
        all.extend(self.settings.iter().map(|(p, _)| p.clone()));
        all.extend(self.script.iter().cloned());
        all
    }

    /// Writes everything or nothing: on the first failure every earlier change is undone.
    fn apply(&self) -> Result<(), BondError> {
        let mut txn = txn::Transaction::new();
        let result = self.apply_in(&mut txn);
        match result {
            Ok(()) => {
                txn.commit();
                Ok(())
            }
            Err(e) => {
                for failed in txn.rollback() {
                    eprintln!("upkeep bond: could not restore {failed}");
                }
                Err(e)
            }
        }
    }

    fn apply_in(&self, txn: &mut txn::Transaction) -> Result<(), BondError> {
        let sub = |e: &txn::TxnError| match e {
            txn::TxnError::Mkdir(..) => code::MKDIR,
            txn::TxnError::Write(..) => code::WRITE,
        };
        if let Some((path, text)) = &self.tool_file {
            txn.write(path, text.as_bytes(), Some(0o644)).map_err(|e| {
                BondError::WriteToolFile {
                    code: sub(&e),
                    detail: e.to_string(),
                }
            })?;
        }
        for (path, change) in &self.settings {
            txn.write(path, change.content.as_bytes(), change.mode)
                .map_err(|e| BondError::WriteSetting {
                    code: sub(&e),
                    detail: e.to_string(),
                })?;
        }
        if let Some(path) = &self.script {
            txn.write(path, b"bonding\n", Some(0o644))
                .map_err(|e| BondError::Script(e.to_string()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text parsers see files an administrator wrote; none may panic on any input.
    #[test]
    fn parsers_survive_arbitrary_text() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let alphabet: Vec<char> = "ab01:=[]{}#- \t\n/.,'\"é\u{0}Slave Interface: MII Status: iface auto bond0 eth0 network: bonds: ethernets: routes: via".chars().collect();
        let nics = vec![nics::Nic {
            name: "eth0".into(),
            mac: None,
            addr: None,
        }];
        for _ in 0..2000 {
            let len = (seed % 200) as usize;
            let text: String = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            let _ = status::parse(&text);
            let _ = toolfile::parse(&text, &nics);
            let _ = params::parse(&text).map(|p| {
                (
                    params::to_networkd(&p).is_ok(),
                    params::to_netplan(&p).is_ok(),
                )
            });
            let _ = backends::ini_set(&text, "connection", "autoconnect", "false");
            let _ = backends::ini_get(&text, "ipv4", "address1");
            let _ = backends::shell_var(&text, "IPADDR");
            let _ = net::parse_cidr(&text);
            let _ = backends::netplan::parse_yaml(&text);
            let _ = backends::netplan::without_moved_keys(&text, "eth0");
            let _ = backends::ini_sections(&text);
            let _ = backends::carry::normalize_cidr(&text);
            let mut carried = backends::carry::Carried::default();
            carried.add_ip_route("fuzz", &text);
            carried.add_route("fuzz", &text, Some(&text), Some(&text));
            let _ = args::parse(
                &text
                    .split_whitespace()
                    .map(str::to_string)
                    .collect::<Vec<_>>(),
            );
        }
    }
}
