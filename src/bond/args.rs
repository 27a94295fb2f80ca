//! Command-line parsing of `upkeep bond` / `clpbondcf` (BOND-1..3, BOND-5).
//!
//! The seed's syntax is kept exactly (case-sensitive, single-letter options in any order around
//! one bond name), so clap is not used: its error texts and exit codes would leak through where
//! the seed says `Parameter error.` (102). Modern long options are added on top; every syntax
//! problem is 102 and only a well-formed but unknown bond name is 101.

use std::path::PathBuf;

use super::backends::BackendKind;
use super::errors::BondError;

/// One of the four bond names the seed accepts (BOND-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BondName(u8);

impl BondName {
    /// `bond0`..`bond3`, nothing else (no `bond00`, no `Bond0`).
    pub fn parse(s: &str) -> Option<BondName> {
        match s {
            "bond0" => Some(BondName(0)),
            "bond1" => Some(BondName(1)),
            "bond2" => Some(BondName(2)),
            "bond3" => Some(BondName(3)),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        ["bond0", "bond1", "bond2", "bond3"][usize::from(self.0)]
    }
}

impl std::fmt::Display for BondName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the invocation asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `-h`.
    Help,
    /// `bondname -s [--json]` (BOND-12).
    Status { bond: BondName, json: bool },
    /// `bondname [-i] [-b]` (BOND-6..11, BOND-13).
    Configure {
        bond: BondName,
        from_tool_file: bool,
        backup: bool,
    },
}

/// Parsed arguments: the mode plus the modern options shared by all modes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub mode: Mode,
    /// `--root DIR`: every path the tool reads or writes lives under it (default `/`).
    pub root: PathBuf,
    /// `--work-dir DIR`: the seed's `/opt/nec/clusterpro/work/bondcf` (DIR-12).
    pub work_dir: Option<PathBuf>,
    /// `--backend NAME`: skip auto-detection.
    pub backend: Option<BackendKind>,
    /// `--real-os-actions`: post actions 1 and 2 really happen (only with root `/`).
    pub real_os_actions: bool,
}

/// The usage text printed by `-h` (BOND-1 plus the modern options).
pub const USAGE: &str = "\
usage: clpbondcf bondname [-i] [-b]      configure (or change) a bond
       clpbondcf bondname -s [--json]    show the bonding status
       clpbondcf -h                      show this help
  bondname   bond0, bond1, bond2 or bond3
  -i         configure from the tool file <work-dir>/<bondname> without questions
  -b         back up every file the tool will change into <work-dir>/backup first
  -s         show /proc/net/bonding/<bondname> (or /proc/net/<bondname>/info)
modern options (also as upkeep bond ...):
  --root DIR          read and write everything under DIR (default /)
  --work-dir DIR      tool file, backups and lock (default <root>/var/lib/upkeep/bondcf)
  --backend NAME      ifcfg-redhat, ifcfg-suse, networkmanager, networkd, ifupdown, netplan
  --json              with -s: print the parsed status as JSON
  --real-os-actions   really reboot / restart the network (otherwise only simulated)
";

/// Parses the arguments after `bond` (or after argv[0] `clpbondcf`).
pub fn parse(args: &[String]) -> Result<Args, BondError> {
    let mut help = false;
    let mut status = false;
    let mut from_tool_file = false;
    let mut backup = false;
    let mut json = false;
    let mut real_os_actions = false;
    let mut root: Option<PathBuf> = None;
    let mut work_dir: Option<PathBuf> = None;
    let mut backend: Option<BackendKind> = None;
    let mut name: Option<&str> = None;

    let syntax = |why: &str| BondError::Parameter(why.to_string());
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        // Long options take a value either inline (`--root=/x`) or as the next argument.
        let mut value = |what: &str| -> Result<String, BondError> {
            match inline.clone().or_else(|| it.next().cloned()) {
                Some(v) if !v.is_empty() => Ok(v),
                _ => Err(syntax(&format!("{what} needs a value"))),
            }
        };
        let seen_twice = |flag: bool| {
            if flag {
                Err(syntax(&format!("{arg} given twice")))
            } else {
                Ok(())
            }
        };
        match key {
            // `--help` is what everyone types first; the seed only knew `-h`.
            "-h" | "--help" => {
                seen_twice(help)?;
                help = true;
            }
            "-s" => {
                seen_twice(status)?;
                status = true;
            }
            "-i" => {
                seen_twice(from_tool_file)?;
                from_tool_file = true;
            }
            "-b" => {
                seen_twice(backup)?;
                backup = true;
            }
            "--json" => {
                seen_twice(json)?;
                json = true;
            }
            "--real-os-actions" => {
                seen_twice(real_os_actions)?;
                real_os_actions = true;
            }
            "--root" => {
                seen_twice(root.is_some())?;
                root = Some(PathBuf::from(value("--root")?));
            }
            "--work-dir" => {
                seen_twice(work_dir.is_some())?;
                work_dir = Some(PathBuf::from(value("--work-dir")?));
            }
            "--backend" => {
                seen_twice(backend.is_some())?;
                let v = value("--backend")?;
                backend = Some(
                    BackendKind::from_name(&v)
                        .ok_or_else(|| syntax(&format!("unknown back-end `{v}`")))?,
                );
            }
            _ if key.starts_with('-') => return Err(syntax(&format!("unknown option `{arg}`"))),
            _ => {
                if name.is_some() {
                    return Err(syntax("more than one bond name"));
                }
                name = Some(arg.as_str());
            }
        }
    }

    let mode = if help {
        if status || from_tool_file || backup || json || name.is_some() {
            return Err(syntax("-h takes no other argument"));
        }
        Mode::Help
    } else {
        let raw = name.ok_or_else(|| syntax("the bond name is missing"))?;
        let bond =
            BondName::parse(raw).ok_or_else(|| BondError::InvalidBondName(raw.to_string()))?;
        if status {
            if from_tool_file || backup {
                return Err(syntax("-s cannot be combined with -i or -b"));
            }
            Mode::Status { bond, json }
        } else {
            if json {
                return Err(syntax("--json only goes with -s"));
            }
            Mode::Configure {
                bond,
                from_tool_file,
                backup,
            }
        }
    };
    Ok(Args {
        mode,
        root: root.unwrap_or_else(|| PathBuf::from("/")),
        work_dir,
        backend,
        real_os_actions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Args, BondError> {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn seed_forms() {
        assert_eq!(p(&["-h"]).map(|a| a.mode).ok(), Some(Mode::Help));
        assert_eq!(p(&["--help"]).map(|a| a.mode).ok(), Some(Mode::Help));
        let bond = BondName::parse("bond2").unwrap();
        assert_eq!(
            p(&["bond2", "-b", "-i"]).map(|a| a.mode).ok(),
            Some(Mode::Configure {
                bond,
                from_tool_file: true,
                backup: true
            })
        );
        assert_eq!(
            p(&["-s", "bond2"]).map(|a| a.mode).ok(),
            Some(Mode::Status { bond, json: false })
        );
    }

    #[test]
    fn codes() {
        let code = |a: &[&str]| p(a).err().map(|e| e.exit_code());
        assert_eq!(code(&["bond4"]), Some(101));
        assert_eq!(code(&["Bond0"]), Some(101));
        assert_eq!(code(&[]), Some(102));
        assert_eq!(code(&["bond0", "-S"]), Some(102));
        assert_eq!(code(&["bond0", "bond1"]), Some(102));
        assert_eq!(code(&["bond0", "-s", "-b"]), Some(102));
        assert_eq!(code(&["bond0", "-h"]), Some(102));
        assert_eq!(code(&["bond0", "-b", "-b"]), Some(102));
        assert_eq!(code(&["bond0", "--root"]), Some(102));
        assert_eq!(code(&["bond0", "--backend", "wicked"]), Some(102));
        assert_eq!(code(&["bond0", "--json"]), Some(102));
    }

    #[test]
    fn modern_options() {
        let a = p(&[
            "bond1",
            "--root=/tmp/x",
            "--backend",
            "netplan",
            "--work-dir",
            "/w",
        ])
        .unwrap();
        assert_eq!(a.root, PathBuf::from("/tmp/x"));
        assert_eq!(a.work_dir, Some(PathBuf::from("/w")));
        assert_eq!(a.backend, Some(BackendKind::Netplan));
    }
}
