//! Every figure of issue 14 for upkeep beside a C floor, measured in the same run
//! (docs/PERFORMANCE.md): restart latency, bring-up idle and under load, idle RSS/PSS, idle CPU.
//!
//! The floor is `benches/floor/floor.c` (posix_spawn N children, respawn on SIGCHLD); both
//! supervisors keep `benches/floor/child.c`, which timestamps its own start with CLOCK_MONOTONIC
//! and writes that to a FIFO this bench reads. So a restart is "SIGKILL -> the replacement runs"
//! and a bring-up is "spawn the supervisor -> the last child runs", timed the same way for both.
//! Both C programs are built with `cc -O2` into a temp dir at the start of the run.
//!
//! upkeep is the real `upkeep daemon` binary with a generated configuration in a temp dir
//! (`os_actions: Simulated`, the default; `UPKEEP_LOG=warn`).
//!
//! Sizes (env): `UPKEEP_BENCH_QUICK=1` runs a smaller set in about a minute;
//! `UPKEEP_BENCH_KILLS`, `UPKEEP_BENCH_SIZES` (e.g. `100,500,1000`), `UPKEEP_BENCH_CPU_SECS`,
//! `UPKEEP_BENCH_MANY_MONITORS`, `UPKEEP_BENCH_FIRST_SETTLE_MS` override one figure each; `UPKEEP_CGROUP=off` (read by the
//! daemon) measures process-group containment instead of a cgroup per resource. The last lines
//! printed are the markdown rows of docs/PERFORMANCE.md's results table.
//!
//! Everything started is stopped at the end (SIGTERM, then wait): the daemon and the floor reap
//! their own children; a child left over is reported and killed.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

mod common;
use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_upkeep");

/// The sizes of one run.
struct Plan {
    kills: usize,
    bring_up_sizes: Vec<usize>,
    cpu_window: Duration,
    many_monitors: usize,
    settle: Duration,
    /// How long a fresh supervisor is up before its one-off crash.
    first_settle: Duration,
}

impl Plan {
    fn from_env() -> Plan {
        let quick = std::env::var("UPKEEP_BENCH_QUICK").is_ok_and(|v| v != "0");
        let num = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let sizes = std::env::var("UPKEEP_BENCH_SIZES")
            .ok()
            .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
            .unwrap_or_else(|| {
                if quick {
                    vec![100, 1000]
                } else {
                    vec![100, 500, 1000]
                }
            });
        Plan {
            kills: num("UPKEEP_BENCH_KILLS", if quick { 100 } else { 300 }),
            bring_up_sizes: sizes,
            cpu_window: Duration::from_secs(
                num("UPKEEP_BENCH_CPU_SECS", if quick { 5 } else { 20 }) as u64,
            ),
            many_monitors: num("UPKEEP_BENCH_MANY_MONITORS", 10_000),
            settle: Duration::from_secs(3),
            first_settle: Duration::from_millis(num("UPKEEP_BENCH_FIRST_SETTLE_MS", 1200) as u64),
        }
    }
}

/// The two C programs, built for this run.
struct Tools {
    dir: tempfile::TempDir,
    child: PathBuf,
    floor: PathBuf,
}

fn build_tools() -> Result<Tools, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/floor");
    let mut built = Vec::new();
    for name in ["child", "floor"] {
        let out = dir.path().join(name);
        let status = Command::new("cc")
            .args(["-O2", "-o"])
            .arg(&out)
            .arg(src.join(format!("{name}.c")))
            .status()
            .map_err(|e| format!("cc: {e}"))?;
        if !status.success() {
            return Err(format!("cc {name}.c failed: {status}"));
        }
        built.push(out);
    }
    let floor = built.pop().expect("floor built");
    let child = built.pop().expect("child built");
    Ok(Tools { dir, child, floor })
}

fn now_ns() -> i64 {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).expect("clock");
    t.tv_sec() * 1_000_000_000 + t.tv_nsec()
}

/// One child's start, as it reported it.
#[derive(Clone, Copy)]
struct Record {
    pid: i32,
    started_ns: i64,
}

/// The read end of the children's FIFO; opened read-write so it never sees end of file and a
/// child's non-blocking open for writing always finds a reader.
struct Fifo {
    path: PathBuf,
    file: File,
}

impl Fifo {
    fn new(dir: &Path) -> Fifo {
        let path = dir.join("starts.fifo");
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("fifo");
        let file = File::options()
            .read(true)
            .write(true)
            .open(&path)
            .expect("open fifo");
        Fifo { path, file }
    }

    /// The next child's start, or `None` after `timeout` without one.
    fn next(&mut self, timeout: Duration) -> Option<Record> {
        let mut fds = [nix::poll::PollFd::new(
            self.file.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = nix::poll::PollTimeout::try_from(timeout).unwrap_or(nix::poll::PollTimeout::MAX);
        match nix::poll::poll(&mut fds, ms) {
            Ok(n) if n > 0 => {}
            _ => return None,
        }
        let mut buf = [0u8; 16];
        self.file.read_exact(&mut buf).ok()?;
        let word = |i: usize| i64::from_ne_bytes(buf[i..i + 8].try_into().expect("8 bytes"));
        Some(Record {
            pid: i32::try_from(word(0)).ok()?,
            started_ns: word(8),
        })
    }

    /// The next `n` starts; the records got before a deadline passes without one are returned.
    fn take(&mut self, n: usize, patience: Duration) -> Vec<Record> {
        let mut got = Vec::with_capacity(n);
        while got.len() < n {
            match self.next(patience) {
                Some(r) => got.push(r),
                None => break,
            }
        }
        got
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Floor,
    Upkeep,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Floor => "C floor",
            Kind::Upkeep => "upkeep",
        }
    }
}

/// What upkeep is configured with (the floor only ever keeps N children).
#[derive(Clone, Copy)]
enum Shape {
    /// One resource and its pid monitor with backoff and start limit off (benches/restart.rs).
    OneApp,
    /// One resource and its pid monitor with upkeep's default crash-loop policies.
    OneAppDefaults,
    /// `n` groups of one resource each, each resource watched by one pid monitor at 1 s.
    Groups(usize),
    /// `resources` groups of one resource each, each resource watched by `per` pid monitors.
    ManyMonitors { resources: usize, per: usize },
}

impl Shape {
    fn children(self) -> usize {
        match self {
            Shape::OneApp | Shape::OneAppDefaults => 1,
            Shape::Groups(n) => n,
            Shape::ManyMonitors { resources, .. } => resources,
        }
    }

    fn monitors(self) -> usize {
        match self {
            Shape::OneApp | Shape::OneAppDefaults => 1,
            Shape::Groups(n) => n,
            Shape::ManyMonitors { resources, per } => resources * per,
        }
    }

    fn config(self, child: &Path, fifo: &Path) -> String {
        let start = format!(
            r#"start: (program: "{}", args: ["{}"]), mode: Async, kill_grace: "1s""#,
            child.display(),
            fifo.display()
        );
        let (resources, per, recovery) = match self {
            Shape::OneApp => (
                1,
                1,
                r#"recovery: (target: Resource("r0"), reactivation_threshold: 99, final_action: NoOp, backoff: Off, start_limit: Off)"#,
            ),
            Shape::OneAppDefaults => (
                1,
                1,
                r#"recovery: (target: Resource("r0"), reactivation_threshold: 3, final_action: NoOp)"#,
            ),
            Shape::Groups(n) => (n, 1, ""),
            Shape::ManyMonitors { resources, per } => (resources, per, ""),
        };
        let mut groups = String::new();
        let mut monitors = String::new();
        for r in 0..resources {
            groups.push_str(&format!(
                "(name: \"g{r}\", resources: [(name: \"r{r}\", {start})]),\n"
            ));
            for m in 0..per {
                monitors.push_str(&format!(
                    "(name: \"m{r}_{m}\", kind: Pid(resource: \"r{r}\"), interval: \"1s\", {recovery}),\n"
                ));
            }
        }
        format!(
            "(name: \"SSS\", edition: \"SSS\", os_actions: Simulated,\n groups: [{groups}],\n monitors: [{monitors}])\n"
        )
    }
}

/// A supervisor keeping children for this bench.
struct Supervisor {
    kind: Kind,
    process: Child,
    socket: PathBuf,
    fifo: Fifo,
    /// The moment just before the supervisor process was spawned.
    launched_ns: i64,
    _dir: tempfile::TempDir,
}

impl Supervisor {
    fn launch(kind: Kind, tools: &Tools, shape: Shape) -> Supervisor {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = Fifo::new(dir.path());
        let socket = dir.path().join("upkeep.sock");
        let mut cmd = match kind {
            Kind::Floor => {
                let mut cmd = Command::new(&tools.floor);
                cmd.arg(shape.children().to_string())
                    .arg(&tools.child)
                    .arg(&fifo.path);
                cmd
            }
            Kind::Upkeep => {
                let config = dir.path().join("upkeep.ron");
                std::fs::write(&config, shape.config(&tools.child, &fifo.path)).expect("config");
                let mut cmd = Command::new(BIN);
                cmd.arg("daemon")
                    .arg("--config")
                    .arg(&config)
                    .arg("--state-dir")
                    .arg(dir.path().join("state"))
                    .arg("--log-dir")
                    .arg(dir.path().join("log"))
                    .arg("--socket")
                    .arg(&socket)
                    .env("UPKEEP_LOG", "warn");
                cmd
            }
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let launched_ns = now_ns();
        let process = cmd.spawn().expect("supervisor");
        Supervisor {
            kind,
            process,
            socket,
            fifo,
            launched_ns,
            _dir: dir,
        }
    }

    fn pid(&self) -> i32 {
        i32::try_from(self.process.id()).expect("pid")
    }

    /// The starts of the first `n` children; panics when they do not all come.
    fn started(&mut self, n: usize) -> Vec<Record> {
        let got = self.fifo.take(n, Duration::from_secs(60));
        assert_eq!(
            got.len(),
            n,
            "{}: only {} of {n} children started",
            self.kind.name(),
            got.len()
        );
        got
    }

    /// Until upkeep says its server is online with every monitor (the floor has nothing more).
    fn wait_ready(&self, monitors: usize) {
        if self.kind == Kind::Floor {
            return;
        }
        wait_online(&self.socket, monitors, Duration::from_secs(120));
    }

    /// SIGTERM, then wait until it exited (it stops and reaps its children itself); a cgroup of
    /// upkeep's left behind is reported.
    fn stop(mut self) {
        self.stop_process();
        if self.kind == Kind::Upkeep {
            let state = self._dir.path().join("state");
            let instance = upkeep::host::cgroup::instance_name(&state);
            for root in ["/sys/fs/cgroup/unified/upkeep", "/sys/fs/cgroup/upkeep"] {
                let left = Path::new(root).join(&instance);
                if left.exists() {
                    println!(
                        "LEFTOVER: cgroup {} after the daemon stopped",
                        left.display()
                    );
                }
            }
        }
    }

    fn stop_process(&mut self) {
        let _ = kill(Pid::from_raw(self.pid()), Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            match self.process.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    println!(
                        "{}: did not stop within 120 s after SIGTERM; killed",
                        self.kind.name()
                    );
                    let _ = self.process.kill();
                    let _ = self.process.wait();
                    break;
                }
            }
        }
    }
}

/// Two busy-spinning processes at normal priority: "a build keeps both cores busy".
struct Load(Vec<Child>);

impl Load {
    fn start() -> Load {
        let spinners = (0..2)
            .map(|_| {
                Command::new("sh")
                    .args(["-c", "while :; do :; done"])
                    .spawn()
                    .expect("spinner")
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        Load(spinners)
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for s in &mut self.0 {
            let _ = s.kill();
            let _ = s.wait();
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

struct Restart {
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

/// Kill the one child `kills` times; milliseconds from the kill to the replacement's start.
fn restart(kind: Kind, tools: &Tools, kills: usize) -> Restart {
    let mut sup = Supervisor::launch(kind, tools, Shape::OneApp);
    let mut pid = sup.started(1)[0].pid;
    sup.wait_ready(1);
    let mut ms = Vec::with_capacity(kills);
    for _ in 0..kills {
        // Let the supervisor settle after the last start (upkeep's monitor runs its first check
        // of the new process, MON-15), as an operator's one-off crash would find it.
        std::thread::sleep(Duration::from_millis(5));
        let at = now_ns();
        kill(Pid::from_raw(pid), Signal::SIGKILL).expect("kill the child");
        let Some(next) = sup.fifo.next(Duration::from_secs(10)) else {
            println!("{}: no restart within 10 s", kind.name());
            break;
        };
        ms.push((next.started_ns - at) as f64 / 1e6);
        pid = next.pid;
    }
    sup.stop();
    summary(ms)
}

/// The first restart after a one-off crash: a fresh supervisor per sample, up `settle` (1.2 s)
/// before its child is killed once, so no sample is part of a crash loop (issue 9). upkeep runs with its default backoff and start limit and, as the control,
/// with both off; the floor gets the same treatment. The three alternate, so load on the machine
/// hits them alike. Returns (floor, upkeep with defaults, upkeep with policies off).
fn first_restart(tools: &Tools, samples: usize, settle: Duration) -> [Restart; 3] {
    let runs = [
        (Kind::Floor, Shape::OneApp),
        (Kind::Upkeep, Shape::OneAppDefaults),
        (Kind::Upkeep, Shape::OneApp),
    ];
    let mut ms: [Vec<f64>; 3] = Default::default();
    for _ in 0..samples {
        for ((kind, shape), into) in runs.iter().zip(ms.iter_mut()) {
            let mut sup = Supervisor::launch(*kind, tools, *shape);
            let pid = sup.started(1)[0].pid;
            sup.wait_ready(1);
            // A one-off crash finds a supervisor that has been up a while: upkeep's monitor has
            // checked the process at least once (interval 1 s).
            std::thread::sleep(settle);
            let at = now_ns();
            kill(Pid::from_raw(pid), Signal::SIGKILL).expect("kill the child");
            if let Some(next) = sup.fifo.next(Duration::from_secs(10)) {
                into.push((next.started_ns - at) as f64 / 1e6);
            }
            sup.stop();
        }
    }
    ms.map(summary)
}

fn summary(mut ms: Vec<f64>) -> Restart {
    ms.sort_by(f64::total_cmp);
    Restart {
        p50: percentile(&ms, 0.5),
        p90: percentile(&ms, 0.9),
        p99: percentile(&ms, 0.99),
        max: ms.last().copied().unwrap_or(f64::NAN),
    }
}

/// Milliseconds from spawning the supervisor to its last child's start; the supervisor is
/// handed back running.
fn bring_up(kind: Kind, tools: &Tools, n: usize, under_load: bool) -> (f64, Supervisor) {
    let load = under_load.then(Load::start);
    let mut sup = Supervisor::launch(kind, tools, Shape::Groups(n));
    let starts = sup.started(n);
    drop(load);
    let last = starts.iter().map(|r| r.started_ns).max().expect("a start");
    ((last - sup.launched_ns) as f64 / 1e6, sup)
}

/// VmRSS and Pss in MiB.
fn memory(pid: i32) -> (f64, f64) {
    let mib = |v: Option<u64>| v.map_or(f64::NAN, |k| k as f64 / 1024.0);
    (
        mib(proc_kib(pid as u32, "status", "VmRSS:")),
        mib(proc_kib(pid as u32, "smaps_rollup", "Pss:")),
    )
}

/// utime + stime of the process itself, in clock ticks.
fn cpu_ticks(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5), 12 and 13 after the name and state.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Percent of one core used by `pid` over `window`.
fn idle_cpu(pid: i32, window: Duration) -> f64 {
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let before = cpu_ticks(pid);
    let t = Instant::now();
    std::thread::sleep(window);
    let after = cpu_ticks(pid);
    let secs = t.elapsed().as_secs_f64();
    match (before, after) {
        (Some(b), Some(a)) => (a - b) as f64 / hz / secs * 100.0,
        _ => f64::NAN,
    }
}

/// Children of this run still alive after everything was stopped (and kills them): each must be
/// zero.
fn leftovers(tools: &Tools) -> usize {
    let child = tools.child.as_os_str().as_encoded_bytes();
    let mut found = 0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline.starts_with(child) {
            found += 1;
            if let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse().ok()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
    found
}

/// One row of the results table.
struct Row {
    figure: String,
    target: String,
    floor: Option<f64>,
    upkeep: f64,
    unit: &'static str,
    /// The target met: `None` when the issue sets none for this figure.
    verdict: Option<bool>,
}

impl Row {
    fn markdown(&self) -> String {
        let show = |v: f64| {
            if v.is_nan() {
                "?".to_string()
            } else if v >= 100.0 {
                format!("{v:.0}")
            } else if v >= 1.0 {
                format!("{v:.2}")
            } else {
                format!("{v:.3}")
            }
        };
        let floor = self
            .floor
            .map_or("—".to_string(), |f| format!("{} {}", show(f), self.unit));
        // A ratio to nothing (the floor's idle CPU is 0) says nothing.
        let ratio = self
            .floor
            .filter(|f| *f > 0.0)
            .map_or("—".to_string(), |f| format!("{:.2}×", self.upkeep / f));
        let verdict = match self.verdict {
            Some(true) => "PASS",
            Some(false) => "MISS",
            None => "—",
        };
        format!(
            "| {} | {} | {} {} | {} | {} | {} |",
            self.figure,
            floor,
            show(self.upkeep),
            self.unit,
            ratio,
            self.target,
            verdict
        )
    }
}

fn git(args: &[&str]) -> String {
    Command::new("git")
        .arg("-C")
        .arg(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn main() {
    // `cargo test --benches` runs this without `--bench`: the run takes minutes, so only
    // `cargo bench` does it.
    if !std::env::args().any(|a| a == "--bench") {
        println!("footprint: run it with `cargo bench --bench footprint`");
        return;
    }
    let plan = Plan::from_env();
    let tools = match build_tools() {
        Ok(t) => t,
        Err(why) => {
            println!("footprint skipped: the C floor and the bench's child need cc ({why})");
            return;
        }
    };
    println!(
        "C floor and child built with cc -O2 in {}",
        tools.dir.path().display()
    );
    let load_at_start = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut rows = Vec::new();

    // Restart: one child killed `kills` times.
    let floor = restart(Kind::Floor, &tools, plan.kills);
    let ours = restart(Kind::Upkeep, &tools, plan.kills);
    for (name, r) in [("C floor", &floor), ("upkeep", &ours)] {
        println!(
            "restart ({name}) over {} kills: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            plan.kills, r.p50, r.p90, r.p99, r.max
        );
    }
    rows.push(Row {
        figure: format!("restart p50 ({} kills)", plan.kills),
        target: "≤ 1.5× floor".into(),
        floor: Some(floor.p50),
        upkeep: ours.p50,
        unit: "ms",
        verdict: Some(ours.p50 <= 1.5 * floor.p50),
    });
    rows.push(Row {
        figure: "restart p90".into(),
        target: "—".into(),
        floor: Some(floor.p90),
        upkeep: ours.p90,
        unit: "ms",
        verdict: None,
    });
    rows.push(Row {
        figure: "restart p99".into(),
        target: "≤ 10 ms".into(),
        floor: Some(floor.p99),
        upkeep: ours.p99,
        unit: "ms",
        verdict: Some(ours.p99 <= 10.0),
    });
    let first_samples = if plan.kills >= 300 { 20 } else { 8 };
    let [first_floor, first, control] = first_restart(&tools, first_samples, plan.first_settle);
    for (name, r) in [
        ("C floor", &first_floor),
        ("upkeep, default backoff and start limit", &first),
        ("upkeep, both off", &control),
    ] {
        println!(
            "first restart after a one-off crash ({name}) over {first_samples} fresh supervisors up {:?}: p50 {:.3} ms, p90 {:.3} ms, max {:.3} ms",
            plan.first_settle, r.p50, r.p90, r.max
        );
    }
    let up = plan.first_settle.as_secs_f64();
    rows.push(Row {
        figure: format!(
            "first restart after {up} s up, default policies, p50 ({first_samples} fresh)"
        ),
        target: "≤ 1.5× floor".into(),
        floor: Some(first_floor.p50),
        upkeep: first.p50,
        unit: "ms",
        verdict: Some(first.p50 <= 1.5 * first_floor.p50),
    });
    rows.push(Row {
        figure: format!("first restart after {up} s up, policies off, p50 ({first_samples} fresh)"),
        target: "—".into(),
        floor: Some(first_floor.p50),
        upkeep: control.p50,
        unit: "ms",
        verdict: None,
    });

    // Bring-up, idle then under load; the idle runs at 100 and 1,000 also give the footprint.
    for under_load in [false, true] {
        let when = if under_load { "under load" } else { "idle" };
        for &n in &plan.bring_up_sizes {
            let mut ms = [f64::NAN; 2];
            let mut mem = [(f64::NAN, f64::NAN); 2];
            let mut cpu = [f64::NAN; 2];
            for (i, kind) in [Kind::Floor, Kind::Upkeep].into_iter().enumerate() {
                let (took, sup) = bring_up(kind, &tools, n, under_load);
                ms[i] = took;
                println!("bring-up of {n} ({when}, {}): {took:.1} ms", kind.name());
                if !under_load && (n == 100 || n == 1000) {
                    sup.wait_ready(n);
                    std::thread::sleep(plan.settle);
                    mem[i] = memory(sup.pid());
                    println!(
                        "idle memory with {n} children ({}): VmRSS {:.2} MiB, Pss {:.2} MiB",
                        kind.name(),
                        mem[i].0,
                        mem[i].1
                    );
                    if n == 100 {
                        cpu[i] = idle_cpu(sup.pid(), plan.cpu_window);
                        println!(
                            "idle CPU with {n} children over {:?} ({}): {:.3} % of a core",
                            plan.cpu_window,
                            kind.name(),
                            cpu[i]
                        );
                    }
                }
                sup.stop();
            }
            let (target, met) = match n {
                100 => ("≤ 2× floor".to_string(), Some(ms[1] <= 2.0 * ms[0])),
                1000 => ("≤ 1000 ms".to_string(), Some(ms[1] <= 1000.0)),
                _ => ("—".to_string(), None),
            };
            rows.push(Row {
                figure: format!("bring-up of {n} ({when})"),
                target,
                floor: Some(ms[0]),
                upkeep: ms[1],
                unit: "ms",
                verdict: met,
            });
            if !mem[1].0.is_nan() {
                let limit = if n == 100 { 6.0 } else { 25.0 };
                rows.push(Row {
                    figure: format!("idle RSS, {n} children + {n} pid monitors"),
                    target: format!("≤ {limit} MiB"),
                    floor: Some(mem[0].0),
                    upkeep: mem[1].0,
                    unit: "MiB",
                    verdict: Some(mem[1].0 <= limit),
                });
                rows.push(Row {
                    figure: format!("idle PSS, {n} children + {n} pid monitors"),
                    target: "—".into(),
                    floor: Some(mem[0].1),
                    upkeep: mem[1].1,
                    unit: "MiB",
                    verdict: None,
                });
            }
            if !cpu[1].is_nan() {
                rows.push(Row {
                    figure: format!(
                        "idle CPU, {n} pid monitors at 1 s ({} s)",
                        plan.cpu_window.as_secs()
                    ),
                    target: "≤ 0.1 %".into(),
                    floor: Some(cpu[0]),
                    upkeep: cpu[1],
                    unit: "%",
                    verdict: Some(cpu[1] <= 0.1),
                });
            }
        }
    }

    // Many monitors: upkeep only (the floor has no monitors).
    let per = 100;
    let resources = (plan.many_monitors / per).max(1);
    let shape = Shape::ManyMonitors { resources, per };
    let mut sup = Supervisor::launch(Kind::Upkeep, &tools, shape);
    sup.started(resources);
    sup.wait_ready(shape.monitors());
    std::thread::sleep(plan.settle);
    let cpu = idle_cpu(sup.pid(), plan.cpu_window);
    let (rss, pss) = memory(sup.pid());
    println!(
        "{} pid monitors at 1 s on {resources} resources (upkeep): {cpu:.2} % of a core over {:?}, VmRSS {rss:.2} MiB, Pss {pss:.2} MiB",
        shape.monitors(),
        plan.cpu_window
    );
    sup.stop();
    rows.push(Row {
        figure: format!(
            "CPU, {} pid monitors at 1 s ({} s)",
            shape.monitors(),
            plan.cpu_window.as_secs()
        ),
        target: "≤ 100 % (1 core)".into(),
        floor: None,
        upkeep: cpu,
        unit: "%",
        verdict: Some(cpu <= 100.0),
    });

    let left = leftovers(&tools);
    if left > 0 {
        println!("LEFTOVER: {left} children were still running after the supervisors stopped (killed now)");
    }

    let commit = git(&["rev-parse", "--short", "HEAD"]);
    let dirty = if git(&["status", "--porcelain", "--untracked-files=no"]).is_empty() {
        ""
    } else {
        " (with uncommitted changes)"
    };
    let load_at_end = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!();
    println!(
        "Run of {} UTC on commit {commit}{dirty}, {} cores; load average at start {}, at end {}",
        utc_now(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_at_start
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        load_at_end
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    );
    // The daemon inherits this environment: `UPKEEP_CGROUP=off` measures process-group
    // containment instead of a cgroup per resource (which a root daemon picks by itself).
    let containment = match std::env::var("UPKEEP_CGROUP") {
        Ok(v) if v == "off" => "process groups (UPKEEP_CGROUP=off)".to_string(),
        Ok(v) if !v.is_empty() => format!("a cgroup per resource under {v}"),
        _ if nix::unistd::geteuid().is_root() => {
            "a cgroup per resource (root, the daemon's default)".to_string()
        }
        _ => "the daemon's choice (not root: process groups)".to_string(),
    };
    println!("upkeep's containment: {containment}");
    println!();
    println!("| figure | C floor | upkeep | upkeep / floor | target | verdict |");
    println!("|---|---|---|---|---|---|");
    for row in &rows {
        println!("{}", row.markdown());
    }
}

fn utc_now() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
