//! `upkeep simulate` (issue 15): the shipped scenarios run through the binary with their key
//! lines and exit codes; the same scenario through `simulate` and through the engine harness
//! (`sim.rs`) gives the same event lines, so the simulation is the daemon's engine, not a model
//! of it; scenario errors point at file:line:col; the outcome exit codes; an hour of virtual
//! time in well under a second.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use upkeep_actors::host::{ExitInfo, ProbeResult};
use upkeep_actors::sim::{SimProbe, SimRun, SimulatedHost};

use crate::sim::Sim;

const BIN: &str = env!("CARGO_BIN_EXE_upkeep");
const SHOP: &str = include_str!("../../config/examples/shop.ron");

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/examples")
}

/// `upkeep simulate --config shop.ron <scenario> <extra...>`.
fn simulate(scenario: &Path, extra: &[&str]) -> Output {
    Command::new(BIN)
        .arg("simulate")
        .arg("--config")
        .arg(examples().join("shop.ron"))
        .arg(scenario)
        .args(extra)
        .output()
        .expect("run upkeep simulate")
}

fn example(name: &str) -> PathBuf {
    examples().join("scenarios").join(name)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The event lines of a `--json` run, in order, and its summary object.
fn json_run(scenario: &Path) -> (Vec<String>, serde_json::Value) {
    let out = simulate(scenario, &["--json"]);
    let mut lines = Vec::new();
    let mut summary = serde_json::Value::Null;
    for line in stdout(&out).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("one JSON object per line");
        match v["type"].as_str() {
            Some("event") => lines.push(v["line"].as_str().expect("line").to_string()),
            Some("summary") => summary = v,
            Some("fault" | "boot" | "host_down") => {}
            other => panic!("unexpected type {other:?} in {line}"),
        }
    }
    (lines, summary)
}

/// Whether `text` has a timeline line at `at` saying `what`.
fn has_line(text: &str, at: &str, what: &str) -> bool {
    text.lines()
        .any(|l| l.trim_start().starts_with(&format!("{at} ")) && l.contains(what))
}

/// The timeline lines of a text run (each starts with its `+` time).
fn timeline(text: &str) -> String {
    text.lines()
        .filter(|l| l.trim_start().starts_with('+'))
        .collect::<Vec<_>>()
        .join("\n")
}

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime")
}

/// Run the harness until `at` after `t0`.
async fn until(sim: &mut Sim, t0: tokio::time::Instant, at: Duration) {
    let now = tokio::time::Instant::now();
    sim.run_for((t0 + at).saturating_duration_since(now)).await;
}

#[test]
fn a_crash_loop_gives_the_same_event_lines_as_the_engine_harness() {
    let (simulated, summary) = json_run(&example("crash-loop.ron"));
    let harness = paused_runtime().block_on(async {
        let t0 = tokio::time::Instant::now();
        let host = SimulatedHost::default();
        // The first api process runs until the fault; every later one dies 0.3 s after it starts.
        host.script("/usr/local/bin/api", [SimRun::Hang]);
        host.script(
            "/usr/local/bin/api",
            std::iter::repeat_n(SimRun::ExitAfter(1, Duration::from_millis(300)), 100),
        );
        let mut sim = Sim::boot_on(SHOP, host.clone()).await;
        until(&mut sim, t0, Duration::from_millis(30_300)).await;
        assert!(host.end_process(1001, ExitInfo::Code(1)));
        until(&mut sim, t0, Duration::from_secs(15 * 60)).await;
        let lines = sim.take();
        sim.stop().await;
        lines
    });
    assert_eq!(simulated, harness);
    assert!(simulated.len() > 40, "a crash loop is long: {simulated:#?}");
    assert_eq!(summary["outcome"], "groups_stopped");
}

#[test]
fn a_flapping_monitor_gives_the_same_event_lines_as_the_engine_harness() {
    let (simulated, _) = json_run(&example("flapping.ron"));
    let harness = paused_runtime().block_on(async {
        let t0 = tokio::time::Instant::now();
        let host = SimulatedHost::default();
        let mut sim = Sim::boot_on(SHOP, host.clone()).await;
        // A scenario's fault is in force from its instant on, so a check due at that very
        // instant sees it: the harness sets it just before.
        let just_before = |secs: u64| Duration::from_secs(secs) - Duration::from_millis(1);
        for start in [60, 240, 420, 600] {
            until(&mut sim, t0, just_before(start)).await;
            host.steady_probe(
                "api-health",
                SimProbe::Answer(ProbeResult::error(1, "HTTP 502")),
            );
            until(&mut sim, t0, just_before(start + 25)).await;
            host.steady_probe("api-health", SimProbe::Answer(ProbeResult::normal()));
        }
        until(&mut sim, t0, Duration::from_secs(15 * 60)).await;
        let lines = sim.take();
        sim.stop().await;
        lines
    });
    assert_eq!(simulated, harness);
}

#[test]
fn the_crash_loop_example_ends_in_its_final_action() {
    let out = simulate(&example("crash-loop.ron"), &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        has_line(
            &text,
            "+30.000s",
            "-- fault: every process of api exits with code 1"
        ),
        "{text}"
    );
    assert!(
        has_line(&text, "+30.300s", "<type: rc><event: 50> The process of the resource api (pid 1001) ended with exit code 1."),
        "{text}"
    );
    assert!(
        has_line(&text, "+46.800s", "<type: rm><event: 17> Recovery target api of monitor api-pid was reactivated more than 5 times within 300s"),
        "{text}"
    );
    assert!(
        has_line(
            &text,
            "+46.800s",
            "<type: rm><event: 14> Final action of monitor api-pid: StopGroup."
        ),
        "{text}"
    );
    for line in [
        "Group web: Offline",
        "OS actions: none",
        "Outcome: groups_stopped",
        "Expectations: 5 of 5 met",
        "Exit status: 0",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
}

#[test]
fn the_hung_stop_example_times_out_retries_and_reboots() {
    let out = simulate(&example("hung-stop.ron"), &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    for (at, line) in [
        ("+1m10.000s", "<type: rc><event: 40> The stop processing of a resource api started."),
        ("+1m30.000s", "<type: rc><event: 42> Failed to stop the resource api. (timed out)"),
        ("+1m30.000s", "<type: rc><event: 43> Retrying deactivation of the resource api. (1/1)"),
        ("+1m50.000s", "<type: rc><event: 44> Final action of deactivation failure of the resource api: StopDaemonReboot."),
        ("+1m50.000s", "<type: pm><event: 22> OS actions are simulated: would reboot now. (reboot count 1/2)"),
        ("+1m50.000s", "-- the host reboots (back in 1m)"),
        ("+2m50.000s", "-- boot 2: the daemon starts"),
    ] {
        assert!(has_line(&text, at, line), "{at} {line} missing from:\n{text}");
    }
    assert!(
        text.contains("OS action: would reboot at +1m50.000s, count 1/2"),
        "{text}"
    );
    assert!(
        text.contains("Group web: Online"),
        "back up after the reboot: {text}"
    );
}

#[test]
fn the_disk_example_reboots_up_to_the_limit_across_simulated_reboots() {
    let out = simulate(&example("disk-reboots.ron"), &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    for (at, line) in [
        ("+2m00.000s", "-- fault: the checks of data-disk answer an error"),
        ("+2m00.000s", "<type: rm><event: 14> Final action of monitor data-disk: StopDaemonReboot."),
        ("+2m00.000s", "would reboot now. (reboot count 1/2)"),
        ("+4m00.000s", "-- boot 2: the daemon starts"),
        ("+4m00.000s", "would reboot now. (reboot count 2/2)"),
        ("+6m00.000s", "-- boot 3: the daemon starts"),
        ("+6m00.000s", "<type: pm><event: 21> Reboot count 2 has reached the maximum of 2. Final action of monitor data-disk (StopDaemonReboot) will not be executed."),
    ] {
        assert!(has_line(&text, at, line), "{at} {line} missing from:\n{text}");
    }
    for line in [
        "OS action: would reboot at +2m00.000s, count 1/2",
        "OS action: would reboot at +4m00.000s, count 2/2",
        "Reboot count: 2/2",
        "Group web: Online",
        "Outcome: os_action",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
    // Three boots, two reboots: nothing after the refusal.
    assert_eq!(
        timeline(&text).matches("would reboot now").count(),
        2,
        "{text}"
    );
}

#[test]
fn the_flapping_example_never_reaches_its_final_action() {
    let out = simulate(&example("flapping.ron"), &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    // Four flaps, each a reactivation 1/2 followed by MON-15's reset.
    assert_eq!(
        text.matches("Monitor api-health reactivates the recovery target api. (1/2)")
            .count(),
        4,
        "{text}"
    );
    assert_eq!(
        text.matches("Monitor api-health is normal after reactivation: reactivation count reset.")
            .count(),
        4,
        "{text}"
    );
    assert!(!timeline(&text).contains("Final action"), "{text}");
    assert!(text.contains("Outcome: recovered"), "{text}");
}

/// A scenario in a temporary folder.
fn scenario_file(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("s.ron");
    std::fs::write(&path, text).expect("write scenario");
    path
}

#[test]
fn unknown_names_in_a_scenario_get_file_line_col_and_did_you_mean() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = scenario_file(
        &dir,
        "(\n    run_for: \"1m\",\n    faults: [(at: \"1s\", fault: ProcessExits(resource: \"apo\"))],\n    expect: [Monitor(name: \"api-helth\", phase: Monitoring)],\n)\n",
    );
    let out = simulate(&path, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(78), "{err}");
    let shown = path.display();
    assert!(
        err.contains(&format!("{shown}:3:55: faults[0].fault.resource: unknown resource `apo` (not in the configuration); did you mean `api`?")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{shown}:4:28: expect[0].name: unknown monitor `api-helth` (not in the configuration); did you mean `api-health`?")),
        "{err}"
    );
    assert!(stdout(&out).is_empty());
}

#[test]
fn without_expectations_the_exit_status_is_the_outcome() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        ("(run_for: \"5m\")", 0, "recovered"),
        (
            "(run_for: \"10m\", faults: [(at: \"1m\", fault: CrashLoop(resource: \"api\"))])",
            10,
            "groups_stopped",
        ),
        (
            "(run_for: \"10m\", faults: [(at: \"1m\", fault: Probe(monitor: \"data-disk\", answer: Error))])",
            12,
            "os_action",
        ),
    ];
    for (text, code, outcome) in cases {
        let path = scenario_file(&dir, text);
        let (_, summary) = json_run(&path);
        assert_eq!(summary["outcome"], outcome, "{text}: {summary}");
        assert_eq!(summary["exit"], code, "{text}: {summary}");
        assert_eq!(simulate(&path, &[]).status.code(), Some(code), "{text}");
    }
}

#[test]
fn a_failed_expectation_exits_13_and_says_what_was_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = scenario_file(
        &dir,
        r#"(run_for: "10m",
            faults: [(at: "1m", fault: Probe(monitor: "data-disk", answer: Error))],
            expect: [NoEvent("would reboot"), RebootCount(0), Event("Monitor data-disk failed.")])"#,
    );
    let out = simulate(&path, &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(13), "{text}");
    assert!(text.contains("Expectations: 1 of 3 met"), "{text}");
    assert!(
        text.contains("  FAIL NoEvent(\"would reboot\") (at +1m00.000s: <type: pm><event: 22> OS actions are simulated: would reboot now. (reboot count 1/2))"),
        "{text}"
    );
    assert!(
        text.contains("  FAIL RebootCount(0) (the reboot count is 2)"),
        "{text}"
    );
}

#[test]
fn an_hour_of_virtual_time_runs_in_well_under_a_second_and_until_quiet_stops_early() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = scenario_file(
        &dir,
        r#"(run_for: "1h", faults: [(at: "1m", fault: Probe(monitor: "api-health", answer: Error, for: "50m"))])"#,
    );
    let started = Instant::now();
    let (_, summary) = json_run(&path);
    let took = started.elapsed();
    assert_eq!(summary["ended_at"], "+1h00m00.000s", "{summary}");
    // A debug build on a busy CI machine: generous, still far below an hour.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(
        summary["real_ms"].as_u64().is_some_and(|ms| ms < 5000),
        "{summary}"
    );

    let out = simulate(&example("crash-loop.ron"), &["--until-quiet", "--json"]);
    let summary: serde_json::Value = stdout(&out)
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .expect("summary");
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["quiet"], true, "{summary}");
    let ended = summary["ended_at_ms"].as_u64().expect("ended_at_ms");
    assert!(
        (46_800..15 * 60 * 1000).contains(&ended),
        "stops after the final action, before the horizon: {summary}"
    );
    assert_eq!(summary["outcome"], "groups_stopped");
}

#[test]
fn a_manual_reboot_and_a_daemon_restart_keep_the_reboot_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = scenario_file(
        &dir,
        r#"(run_for: "10m", faults: [
            (at: "1m30s", fault: Probe(monitor: "data-disk", answer: Error, for: "45s")),
            (at: "5m", fault: Reboot),
            (at: "8m", fault: DaemonRestart),
        ], expect: [
            Event("would reboot now. (reboot count 1/2)"),
            Event("Cluster daemon is stopping. (reboot)"),
            Event("Cluster daemon is stopping. (restart)"),
            RebootCount(1),
            Group(name: "web", state: Online),
        ])"#,
    );
    let out = simulate(&path, &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    for (at, line) in [
        ("+2m00.000s", "-- the host reboots (back in 1m)"),
        ("+3m00.000s", "-- boot 2: the daemon starts"),
        ("+5m00.000s", "-- fault: the host is rebooted by hand"),
        ("+6m00.000s", "-- boot 3: the daemon starts"),
        (
            "+8m00.000s",
            "<type: pm><event: 1> Cluster daemon has started properly...",
        ),
    ] {
        assert!(
            has_line(&text, at, line),
            "{at} {line} missing from:\n{text}"
        );
    }
    // The manual reboot is not counted; the count on the simulated disk survives both.
    assert!(text.contains("Reboot count: 1/2"), "{text}");
    assert_eq!(
        timeline(&text).matches("would reboot now").count(),
        1,
        "{text}"
    );
}

/// The runner as a library: a fault given to `b` reaches `b` alone, although `a` and `b` run
/// the same program (faults follow the resource the engine names, not the program path).
#[test]
fn faults_follow_resources_that_share_a_program() {
    use std::sync::Arc;
    use upkeep_actors::rehearse::{rehearse, Options};

    let config = crate::sim::config(
        r#"(
    name: "SSS", edition: "SSS",
    groups: [(name: "g", resources: [
        (name: "a", start: (program: "/bin/sleep", args: ["infinity"]), mode: Async),
        (name: "b", start: (program: "/bin/sleep", args: ["infinity"]), mode: Async),
    ])],
)"#,
    );
    let scenario = upkeep_config::scenario::parse(
        r#"(run_for: "1m", faults: [(at: "0s", fault: StartFails(resource: "b", code: 7))])"#,
        Path::new("s.ron"),
        &config,
    )
    .expect("valid scenario");
    let run = paused_runtime()
        .block_on(rehearse(Arc::new(config), &scenario, Options::default()))
        .expect("rehearsal");
    let lines = run.event_lines();
    assert!(
        lines.contains(&crate::ev!(
            "rc",
            50,
            "The process of the resource b (pid 1002) ended with exit code 7."
        )),
        "{lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("resource a (pid")),
        "a keeps running: {lines:#?}"
    );
    let states: Vec<String> = run
        .state
        .resources
        .iter()
        .map(|r| format!("{} {:?} {:?}", r.name, r.state, r.pid))
        .collect();
    assert!(
        states.contains(&"a Online Some(1001)".to_string()),
        "{states:?}"
    );
}

#[test]
fn the_host_reboots_at_the_moment_of_the_os_action() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("c.ron");
    std::fs::write(
        &config,
        r#"(name: "SSS", edition: "SSS",
    groups: [(name: "g", resources: [(name: "app", start: (program: "/x/app"), mode: Async)])],
    monitors: [(name: "appw", kind: Pid(resource: "app"),
        recovery: (target: Resource("app"), reactivation_threshold: 0, final_action: StopDaemonReboot))])"#,
    )
    .expect("write config");
    let scenario = scenario_file(
        &dir,
        r#"(run_for: "3m", faults: [(at: "30.5s", fault: ProcessExits(resource: "app", code: 3))])"#,
    );
    let out = Command::new(BIN)
        .arg("simulate")
        .arg("--config")
        .arg(&config)
        .arg(&scenario)
        .output()
        .expect("run upkeep simulate");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(12), "{text}{}", stderr(&out));
    for (at, line) in [
        ("+30.500s", "<type: rc><event: 50> The process of the resource app (pid 1001) ended with exit code 3."),
        ("+30.500s", "would reboot now. (reboot count 1/3)"),
        ("+30.500s", "-- the host reboots (back in 1m)"),
        ("+1m30.500s", "-- boot 2: the daemon starts"),
    ] {
        assert!(has_line(&text, at, line), "{at} {line} missing from:\n{text}");
    }
    assert!(
        text.contains("OS action: would reboot at +30.500s, count 1/3"),
        "{text}"
    );
}

#[test]
fn reboots_up_to_the_limit_give_the_same_event_lines_as_the_engine_harness() {
    use std::time::{SystemTime, UNIX_EPOCH};
    use upkeep_actors::sim::SimDisk;

    let (simulated, _) = json_run(&example("disk-reboots.ron"));
    let harness = paused_runtime().block_on(async {
        let t0 = tokio::time::Instant::now();
        let base = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let disk = SimDisk::default();
        let failing =
            || SimProbe::Answer(ProbeResult::error(1, "read /dev/sda: Input/output error"));
        let boot = |at: SystemTime| SimulatedHost::new(disk.clone(), at);
        let mut lines = Vec::new();
        // Boot 1: the disk fails at 2 m (set just before: the check due at 2 m sees it) and
        // the host reboots at once; the scenario's boots take 2 m.
        let host = boot(base);
        let mut sim = Sim::boot_on(SHOP, host.clone()).await;
        until(&mut sim, t0, Duration::from_millis(119_999)).await;
        host.steady_probe("data-disk", failing());
        until(&mut sim, t0, Duration::from_secs(121)).await;
        assert!(sim.daemon_stopped());
        lines.extend(sim.take());
        // Boots 2 (at 4 m) and 3 (at 6 m) on the same disk, the disk still failing.
        for minute in [4, 6] {
            until(&mut sim, t0, Duration::from_secs(minute * 60)).await;
            let host = boot(base + Duration::from_secs(minute * 60));
            host.steady_probe("data-disk", failing());
            sim = Sim::boot_on(SHOP, host).await;
            until(&mut sim, t0, Duration::from_secs(minute * 60 + 1)).await;
            lines.extend(sim.take());
        }
        until(&mut sim, t0, Duration::from_secs(20 * 60)).await;
        lines.extend(sim.take());
        sim.stop().await;
        lines
    });
    assert_eq!(simulated, harness);
}

/// Script and probe faults as the engine sees them: a hung start times out, a failing stop
/// fails, a warning is only a warning.
#[test]
fn script_faults_and_a_warning_reach_the_engine() {
    use std::sync::Arc;
    use upkeep_actors::rehearse::{rehearse, Options};

    let config = crate::sim::config(
        r#"(
    name: "SSS", edition: "SSS",
    groups: [(name: "g", resources: [
        (name: "init", start: (program: "/x/init"), stop: (program: "/x/init-stop"), mode: Sync,
            start_timeout: "40s", activation: (retries: 1, final_action: StopGroup)),
    ])],
    monitors: [(name: "diskw", kind: Disk(path: "/dev/sda"), interval: "10s")],
)"#,
    );
    let scenario = upkeep_config::scenario::parse(
        r#"(run_for: "3m", faults: [
            (at: "0s", fault: StartHangs(resource: "init")),
            (at: "0s", fault: StopFails(resource: "init", code: 4)),
            (at: "2m", fault: Probe(monitor: "diskw", answer: Warning, for: "15s", message: "slow")),
            (at: "2m30s", fault: DaemonRestart),
        ])"#,
        Path::new("s.ron"),
        &config,
    )
    .expect("valid scenario");
    let run = paused_runtime()
        .block_on(rehearse(Arc::new(config), &scenario, Options::default()))
        .expect("rehearsal");
    let at = |line: &str| {
        run.timeline
            .iter()
            .find(|e| e.text().contains(line))
            .map(|e| upkeep_actors::rehearse::offset(e.at))
    };
    assert_eq!(
        at("Failed to start the resource init. (timed out)").as_deref(),
        Some("+40.000s"),
        "{:#?}",
        run.event_lines()
    );
    // The restart's stop runs the stop script, which fails.
    assert!(
        at("Failed to stop the resource init. (exit code 4)").is_some(),
        "{:#?}",
        run.event_lines()
    );
    assert_eq!(
        at("The start processing of a group g ended.").as_deref(),
        Some("+40.000s"),
        "{:#?}",
        run.event_lines()
    );
    assert_eq!(
        at("<type: rm><event: 4> Monitor diskw warn").as_deref(),
        Some("+2m00.000s"),
        "{:#?}",
        run.event_lines()
    );
    assert!(
        !run.event_lines()
            .iter()
            .any(|l| l.contains("Monitor diskw failed")),
        "a warning is not an error: {:#?}",
        run.event_lines()
    );
}
