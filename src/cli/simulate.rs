//! `upkeep simulate --config FILE SCENARIO [--until-quiet] [--json]` (issue 15): rehearse a
//! failure scenario offline. The daemon's own engine runs in virtual time on the simulated host
//! (`upkeep_actors::rehearse`); no process is started and no OS action is ever taken. Prints the
//! timeline (each line with its virtual time), the states at the end, the reboot count and every
//! OS action that would have happened. docs/SIMULATE.md documents the command and the format.
//!
//! Exit status: with expectations in the scenario, 0 when all are met, 13 when one is not;
//! without, the outcome: 0 everything running, 10 an auto-start group not (fully) online at the
//! end, 11 the daemon stopped by a final action, 12 an OS action; 66 a file cannot be read,
//! 78 an invalid configuration or scenario, 70 the engine could not start.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;
use upkeep_actors::rehearse::{self, offset, Checked, Options, Rehearsal, Step};
use upkeep_config::scenario::{Outcome, Scenario};
use upkeep_config::Config;

use super::exit::Exit;
use crate::daemon::config::{self as config_file, LoadError};

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The configuration to rehearse (RON) [default: the built-in demo].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The scenario file (RON): faults over time, `run_for`, expectations.
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// Stop as soon as nothing is pending any more (at `run_for` at the latest).
    #[arg(long)]
    pub until_quiet: bool,
}

pub fn run(args: &SimulateArgs, json: bool) -> Exit {
    let config = match config_file::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(LoadError::Invalid(errors)) => {
            for e in &errors {
                eprintln!("{e}");
            }
            super::fail("the configuration is invalid");
            return Exit::Config;
        }
        Err(e @ LoadError::Read { .. }) => {
            super::fail(&e);
            return Exit::NoInput;
        }
    };
    let scenario = match load_scenario(&args.scenario, &config) {
        Ok(s) => s,
        Err(exit) => return exit,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            super::fail(format!("cannot start the async runtime: {e}"));
            return Exit::OsErr;
        }
    };
    let options = Options {
        until_quiet: args.until_quiet,
    };
    let started = Instant::now();
    let config = Arc::new(config);
    let result = runtime.block_on(rehearse::rehearse(config, &scenario, options));
    let real = started.elapsed();
    let rehearsal = match result {
        Ok(r) => r,
        Err(e) => {
            super::fail(e);
            return Exit::Software;
        }
    };
    let checked = rehearse::check(&scenario.expect, &rehearsal);
    let exit = exit_for(&scenario, &rehearsal, &checked);
    let printed = if json {
        print_json(&scenario, &rehearsal, &checked, exit, real)
    } else {
        super::out(&render(
            &scenario,
            &args.scenario,
            &rehearsal,
            &checked,
            exit,
            real,
        ))
    };
    match printed {
        Exit::Ok => exit,
        failed => failed,
    }
}

fn load_scenario(path: &Path, config: &Config) -> Result<Scenario, Exit> {
    let bytes = std::fs::read(path).map_err(|e| {
        super::fail(format!("cannot read {}: {e}", path.display()));
        Exit::NoInput
    })?;
    let Ok(text) = String::from_utf8(bytes) else {
        super::fail(format!("{}: not UTF-8 text", path.display()));
        return Err(Exit::Config);
    };
    upkeep_config::scenario::parse(&text, path, config).map_err(|errors| {
        for e in &errors {
            eprintln!("{e}");
        }
        super::fail(format!(
            "{}: {} {}",
            path.display(),
            errors.len(),
            if errors.len() == 1 { "error" } else { "errors" }
        ));
        Exit::Config
    })
}

/// Expectations decide when there are any (a test runner); else the outcome does (a CI gate).
fn exit_for(scenario: &Scenario, r: &Rehearsal, checked: &[Checked]) -> Exit {
    if !scenario.expect.is_empty() {
        return if checked.iter().all(|c| c.passed) {
            Exit::Ok
        } else {
            Exit::SimExpectationFailed
        };
    }
    match r.outcome {
        Outcome::Recovered => Exit::Ok,
        Outcome::GroupsStopped => Exit::SimGroupsStopped,
        Outcome::DaemonStopped => Exit::SimDaemonStopped,
        Outcome::OsAction => Exit::SimOsAction,
    }
}

fn outcome_words(o: Outcome) -> &'static str {
    match o {
        Outcome::Recovered => "everything is running",
        Outcome::GroupsStopped => "a group is not (fully) online",
        Outcome::DaemonStopped => "the daemon was stopped by a final action",
        Outcome::OsAction => "the daemon took an OS action",
    }
}

fn render(
    scenario: &Scenario,
    file: &Path,
    r: &Rehearsal,
    checked: &[Checked],
    exit: Exit,
    real: Duration,
) -> String {
    let mut out = format!(
        "Scenario `{}` ({}), run for {}{}\n\n",
        scenario.name,
        file.display(),
        humantime::format_duration(scenario.run_for),
        if r.quiet { ", until quiet" } else { "" }
    );
    for entry in &r.timeline {
        out.push_str(&format!("{:>14}  {}\n", offset(entry.at), entry.text()));
    }
    out.push_str(&format!(
        "\nEnded at {} ({}); {} of virtual time took {:.3}s\n",
        offset(r.ended_at),
        if r.quiet {
            "nothing was pending any more"
        } else {
            "the horizon"
        },
        humantime::format_duration(Duration::from_secs(r.ended_at.as_secs())),
        real.as_secs_f64()
    ));
    let s = &r.state;
    out.push_str(&format!(
        "Daemon: {}\n",
        if s.daemon_running {
            "running"
        } else {
            "stopped"
        }
    ));
    for (name, state) in &s.groups {
        out.push_str(&format!("Group {name}: {state:?}\n"));
    }
    for res in &s.resources {
        let pid = res.pid.map(|p| format!(", pid {p}")).unwrap_or_default();
        out.push_str(&format!(
            "Resource {}: {:?}{pid}, {} starts\n",
            res.name, res.state, res.starts
        ));
    }
    for m in &s.monitors {
        out.push_str(&format!(
            "Monitor {}: {:?}, failures {}/{}, reactivations {}/{}{}\n",
            m.name,
            m.phase,
            m.failures,
            m.needed,
            m.reactivations,
            m.threshold,
            if m.failed { ", failed" } else { "" }
        ));
    }
    out.push_str(&format!(
        "Reboot count: {}/{}\n",
        s.reboot_count, s.reboot_max
    ));
    if r.os_actions.is_empty() {
        out.push_str("OS actions: none\n");
    }
    for a in &r.os_actions {
        out.push_str(&format!(
            "OS action: would {} at {}, count {}/{}\n",
            a.action,
            offset(a.at),
            a.count,
            a.max
        ));
    }
    out.push_str(&format!(
        "Outcome: {} ({})\n",
        r.outcome.as_str(),
        outcome_words(r.outcome)
    ));
    if !checked.is_empty() {
        let met = checked.iter().filter(|c| c.passed).count();
        out.push_str(&format!("Expectations: {met} of {} met\n", checked.len()));
        for c in checked {
            let mark = if c.passed { "ok  " } else { "FAIL" };
            let detail = if c.detail.is_empty() {
                String::new()
            } else {
                format!(" ({})", c.detail)
            };
            out.push_str(&format!("  {mark} {}{detail}\n", c.expectation));
        }
    }
    out.push_str(&format!("Exit status: {}\n", exit.code()));
    out
}

/// One JSON object per line: the timeline (`type` event, fault, boot or host_down), then the
/// summary (`type` summary).
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Line<'a> {
    Event {
        at: String,
        at_ms: u128,
        boot: u32,
        module: &'a str,
        id: u32,
        line: &'a str,
    },
    Fault {
        at: String,
        at_ms: u128,
        text: String,
    },
    Boot {
        at: String,
        at_ms: u128,
        boot: u32,
    },
    HostDown {
        at: String,
        at_ms: u128,
        text: &'a str,
    },
    Summary(Box<Summary<'a>>),
}

#[derive(Serialize)]
struct Summary<'a> {
    scenario: &'a str,
    ended_at: String,
    ended_at_ms: u128,
    quiet: bool,
    real_ms: u128,
    boots: u32,
    daemon_running: bool,
    outcome: &'a str,
    exit: u8,
    reboot_count: u32,
    reboot_max: u32,
    os_actions: Vec<JsonOsAction>,
    groups: Vec<JsonState>,
    resources: Vec<JsonState>,
    monitors: Vec<JsonMonitor>,
    expectations: Vec<JsonExpectation<'a>>,
}

#[derive(Serialize)]
struct JsonOsAction {
    at: String,
    at_ms: u128,
    action: String,
    count: u32,
    max: u32,
}

#[derive(Serialize)]
struct JsonState {
    name: String,
    state: String,
}

#[derive(Serialize)]
struct JsonMonitor {
    name: String,
    phase: String,
    failures: u32,
    reactivations: u32,
    failed: bool,
}

#[derive(Serialize)]
struct JsonExpectation<'a> {
    expectation: &'a str,
    passed: bool,
    detail: &'a str,
}

fn print_json(
    scenario: &Scenario,
    r: &Rehearsal,
    checked: &[Checked],
    exit: Exit,
    real: Duration,
) -> Exit {
    let mut lines: Vec<Line<'_>> = r
        .timeline
        .iter()
        .map(|e| {
            let (at, at_ms) = (offset(e.at), e.at.as_millis());
            match &e.step {
                Step::Event {
                    boot,
                    module,
                    id,
                    line,
                } => Line::Event {
                    at,
                    at_ms,
                    boot: *boot,
                    module,
                    id: *id,
                    line,
                },
                Step::Fault(_) => Line::Fault {
                    at,
                    at_ms,
                    text: e.text(),
                },
                Step::Boot(n) => Line::Boot {
                    at,
                    at_ms,
                    boot: *n,
                },
                Step::HostDown(text) => Line::HostDown { at, at_ms, text },
            }
        })
        .collect();
    let s = &r.state;
    lines.push(Line::Summary(Box::new(Summary {
        scenario: &scenario.name,
        ended_at: offset(r.ended_at),
        ended_at_ms: r.ended_at.as_millis(),
        quiet: r.quiet,
        real_ms: real.as_millis(),
        boots: r.boots,
        daemon_running: s.daemon_running,
        outcome: r.outcome.as_str(),
        exit: exit.code(),
        reboot_count: s.reboot_count,
        reboot_max: s.reboot_max,
        os_actions: r
            .os_actions
            .iter()
            .map(|a| JsonOsAction {
                at: offset(a.at),
                at_ms: a.at.as_millis(),
                action: a.action.to_string(),
                count: a.count,
                max: a.max,
            })
            .collect(),
        groups: s
            .groups
            .iter()
            .map(|(name, state)| JsonState {
                name: name.clone(),
                state: format!("{state:?}"),
            })
            .collect(),
        resources: s
            .resources
            .iter()
            .map(|res| JsonState {
                name: res.name.clone(),
                state: format!("{:?}", res.state),
            })
            .collect(),
        monitors: s
            .monitors
            .iter()
            .map(|m| JsonMonitor {
                name: m.name.clone(),
                phase: format!("{:?}", m.phase),
                failures: m.failures,
                reactivations: m.reactivations,
                failed: m.failed,
            })
            .collect(),
        expectations: checked
            .iter()
            .map(|c| JsonExpectation {
                expectation: &c.expectation,
                passed: c.passed,
                detail: &c.detail,
            })
            .collect(),
    })));
    let mut text = String::new();
    for line in &lines {
        match serde_json::to_string(line) {
            Ok(l) => {
                text.push_str(&l);
                text.push('\n');
            }
            Err(e) => {
                super::fail(format!("cannot print JSON: {e}"));
                return Exit::Software;
            }
        }
    }
    super::out(&text)
}
