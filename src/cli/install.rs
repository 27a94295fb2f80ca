//! `upkeep install`: the systemd unit (packaging/upkeep.service, Type=notify) and the seed's
//! command names as symlinks (GEN legacy naming; CMD-1..10 via argv[0]). OPS-6..8 map to
//! `systemctl disable|enable upkeep` (MAP-20); this step only writes files and says what to run.

use std::path::{Path, PathBuf};

use clap::Args;

use super::exit::Exit;
use super::{fail, out};

/// The unit shipped in the repository; `ExecStart` is pointed at the installed binary.
const UNIT: &str = include_str!("../../packaging/upkeep.service");

/// The seed's command names that `upkeep` answers to.
pub const ALIASES: [&str; 9] = [
    "clpstat",
    "clpcl",
    "clpgrp",
    "clpmonctrl",
    "clpdown",
    "clplogcc",
    "clplogcf",
    "clpcfctrl",
    "clpbondcf",
];

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Install under this root instead of `/` (packaging, tests).
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// Where the clp* links go, inside the root.
    #[arg(long, value_name = "DIR", default_value = "/usr/local/sbin")]
    bin_dir: PathBuf,
    /// The binary the unit and links point at [default: this binary].
    #[arg(long, value_name = "PATH")]
    binary: Option<PathBuf>,
}

pub fn run(args: &InstallArgs) -> Exit {
    let binary = match args
        .binary
        .clone()
        .map(Ok)
        .unwrap_or_else(std::env::current_exe)
    {
        Ok(b) => b,
        Err(e) => {
            fail(format!(
                "cannot tell where this binary is: {e}; pass --binary PATH"
            ));
            return Exit::OsErr;
        }
    };
    let inside = |p: &Path| args.root.join(p.strip_prefix("/").unwrap_or(p));
    let unit_path = inside(Path::new("/etc/systemd/system/upkeep.service"));
    let unit = UNIT.replace("/usr/local/bin/upkeep", &binary.display().to_string());
    let bin_dir = inside(&args.bin_dir);
    let config_dir = inside(Path::new("/etc/upkeep"));
    let steps = (|| -> std::io::Result<Vec<String>> {
        let mut done = Vec::new();
        if let Some(dir) = unit_path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&unit_path, unit)?;
        done.push(format!("wrote {}", unit_path.display()));
        std::fs::create_dir_all(&config_dir)?;
        let config = config_dir.join("upkeep.ron");
        if !config.exists() {
            std::fs::write(&config, upkeep_config::DEFAULT_CONFIG)?;
            done.push(format!(
                "wrote {} (the demo; OS actions simulated)",
                config.display()
            ));
        }
        std::fs::create_dir_all(&bin_dir)?;
        for alias in ALIASES {
            let link = bin_dir.join(alias);
            if link.symlink_metadata().is_ok() {
                std::fs::remove_file(&link)?;
            }
            std::os::unix::fs::symlink(&binary, &link)?;
        }
        done.push(format!(
            "linked {} in {} to {}",
            ALIASES.join(", "),
            bin_dir.display(),
            binary.display()
        ));
        Ok(done)
    })();
    match steps {
        Ok(done) => {
            let mut text: String = done.iter().map(|l| format!("{l}\n")).collect();
            text.push_str(
                "next: edit /etc/upkeep/upkeep.ron, then `systemctl daemon-reload && systemctl enable --now upkeep`\n",
            );
            out(&text)
        }
        Err(e) => {
            fail(format!(
                "cannot install under `{}`: {e} (run as root, or pass --root DIR)",
                args.root.display()
            ));
            Exit::CantCreate
        }
    }
}
