//! `upkeep probe [--config FILE] MONITOR [--json]` (MON-1, RAID-4): one check of one monitor
//! through `LinuxHost`, OS actions simulated, without a daemon. Prints the verdict, the message
//! (the spec's text and return code where it has one) and how long the check took.
//!
//! Exit status: 0 normal, 1 warning, 2 error, 64 unknown monitor (with "did you mean"),
//! 66 the configuration cannot be read, 78 invalid configuration, 71 the host cannot be set up.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use upkeep_actors::host::{ProbeResult, Probes, Verdict};
use upkeep_config::{Config, Monitor, MonitorKind, OsActions};

use super::exit::Exit;
use crate::daemon::config::{self as config_file, LoadError};
use crate::host::probe::kind_key;
use crate::host::LinuxHost;

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The configuration file (RON) [default: the built-in demo].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The monitor to check, by name.
    #[arg(value_name = "MONITOR")]
    pub monitor: String,
}

/// One line of output per probed monitor.
#[derive(Debug, serde::Serialize)]
struct Report {
    monitor: String,
    kind: &'static str,
    verdict: &'static str,
    code: i32,
    message: String,
    elapsed_ms: f64,
}

pub fn run(args: &ProbeArgs, json: bool) -> ExitCode {
    let config = match config_file::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(LoadError::Invalid(errors)) => {
            for e in &errors.0 {
                eprintln!("{e}");
            }
            eprintln!("upkeep: the configuration is invalid");
            return Exit::Config.into();
        }
        Err(e @ LoadError::Read { .. }) => {
            eprintln!("upkeep: {e}");
            return Exit::NoInput.into();
        }
    };
    let Some(target) = config.monitor(&args.monitor) else {
        let names: Vec<&str> = config.monitors.iter().map(|m| m.name.as_str()).collect();
        eprintln!(
            "upkeep: monitor `{}` does not exist{}",
            args.monitor,
            did_you_mean(&args.monitor, &names)
        );
        return Exit::Usage.into();
    };
    // Members of a multi-target monitor are probed one by one; the worst verdict decides.
    let monitors: Vec<&Monitor> = match &target.kind {
        MonitorKind::MultiTarget { members, .. } => {
            members.iter().filter_map(|m| config.monitor(m)).collect()
        }
        _ => vec![target],
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("upkeep: cannot start the async runtime: {e}");
            return Exit::OsErr.into();
        }
    };
    let scratch = std::env::temp_dir().join(format!("upkeep-probe-{}", std::process::id()));
    let host = match LinuxHost::new(OsActions::Simulated, scratch.clone()) {
        Ok(h) => h.with_roots(config.paths.procfs.clone(), config.paths.sysfs.clone()),
        Err(e) => {
            eprintln!("upkeep: {e}");
            return Exit::OsErr.into();
        }
    };
    let reports: Vec<Report> = runtime.block_on(async {
        let mut out = Vec::new();
        for m in &monitors {
            out.push(check(&host, &config, m).await);
        }
        out
    });
    let _ = std::fs::remove_dir_all(&scratch);
    for r in &reports {
        if json {
            match serde_json::to_string(r) {
                Ok(line) => println!("{line}"),
                Err(e) => eprintln!("upkeep: cannot print JSON: {e}"),
            }
        } else {
            println!(
                "{} ({}): {} [{}] {} ({:.1} ms)",
                r.monitor, r.kind, r.verdict, r.code, r.message, r.elapsed_ms
            );
        }
    }
    let worst = reports
        .iter()
        .map(|r| severity(r.verdict))
        .max()
        .unwrap_or(0);
    ExitCode::from(worst)
}

async fn check(host: &LinuxHost, _config: &Config, m: &Monitor) -> Report {
    let started = Instant::now();
    let result = match &m.kind {
        MonitorKind::UserSpace(spec) => {
            match tokio::time::timeout(m.timeout, host.userspace_check(spec)).await {
                Ok(Ok(())) => ProbeResult::normal(),
                Ok(Err(why)) => ProbeResult::error(1, why),
                Err(_) => {
                    ProbeResult::error(2, format!("no answer within {}s", m.timeout.as_secs()))
                }
            }
        }
        _ => match tokio::time::timeout(m.timeout, host.probe(m)).await {
            Ok(r) => r,
            Err(_) => ProbeResult::error(2, format!("no answer within {}s", m.timeout.as_secs())),
        },
    };
    Report {
        monitor: m.name.clone(),
        kind: kind_key(&m.kind),
        verdict: match result.verdict {
            Verdict::Normal => "normal",
            Verdict::Warning => "warning",
            Verdict::Error => "error",
        },
        code: result.code,
        message: result.message,
        elapsed_ms: duration_ms(started.elapsed()),
    }
}

fn duration_ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

fn severity(verdict: &str) -> u8 {
    match verdict {
        "normal" => 0,
        "warning" => 1,
        _ => 2,
    }
}

/// "; did you mean `x`?" for the closest name, else the list of names.
fn did_you_mean(wrong: &str, names: &[&str]) -> String {
    match upkeep_config::closest_name(wrong, names.iter().copied()) {
        Some(n) => format!("; did you mean `{n}`?"),
        None if names.is_empty() => String::new(),
        None => format!(" (monitors: {})", names.join(", ")),
    }
}
