//! The execution context of a resource's scripts on the real host (issue 9 §2, MAP-8): a clean
//! environment unless `inherit_env`, and never the service manager's NOTIFY_SOCKET / WATCHDOG_*;
//! user, working directory and umask; UPKEEP_REASON; output logged under the resource's name,
//! rate-limited.
//!
//! The tests that need a variable in the daemon's environment, or a process-wide log
//! subscriber, run in a child process of this test binary (as `linux_host`'s subreaper test).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use upkeep::host::LinuxHost;
use upkeep_actors::host::{Processes, ScriptOutcome, ScriptRun};
use upkeep_actors::Engine;
use upkeep_config::{Command, ExecContext, OsActions};

/// Set in the child processes that run the `*_child` tests.
const CHILD: &str = "UPKEEP_TEST_CONTEXT_CHILD";

fn host(dir: &Path) -> LinuxHost {
    LinuxHost::new(OsActions::Simulated, dir.join("state")).expect("host")
}

fn sh(script: &str, context: ExecContext) -> ScriptRun {
    ScriptRun {
        command: Command {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            env: [("FROM_CONFIG".to_string(), "yes".to_string())].into(),
        },
        env: vec![
            ("UPKEEP_GROUP".into(), "g".into()),
            ("UPKEEP_RESOURCE".into(), "ctx-app".into()),
        ],
        timeout: Duration::from_secs(5),
        kill_grace: Duration::from_secs(1),
        context,
    }
}

/// Runs `script` and returns what it wrote to `$OUT`.
async fn report(dir: &Path, script: &str, context: ExecContext) -> String {
    let out = dir.join(format!("out{}", NEXT.fetch_add(1, Ordering::Relaxed)));
    let mut run = sh(script, context);
    run.command
        .env
        .insert("OUT".into(), out.display().to_string());
    let outcome = host(dir).run_script(run).await;
    assert!(outcome.success(), "{outcome}");
    std::fs::read_to_string(&out).unwrap_or_default()
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Runs the ignored test `name` in a child process with `env` set, and asserts it passed.
fn in_child(name: &str, env: &[(&str, &str)]) {
    let exe = std::env::current_exe().expect("test binary path");
    let out = std::process::Command::new(exe)
        .args([name, "--exact", "--ignored", "--nocapture"])
        .env(CHILD, "1")
        .envs(env.iter().copied())
        .output()
        .expect("child test ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the child test did not run:\n{stdout}"
    );
}

#[test]
fn scripts_get_a_clean_environment_unless_they_inherit_and_never_the_watchdog_socket() {
    in_child(
        "context::environment_child",
        &[
            ("DB_PASSWORD", "hunter2"),
            ("NOTIFY_SOCKET", "/run/systemd/notify"),
            ("WATCHDOG_USEC", "1000000"),
            ("LISTEN_FDS", "1"),
            ("LANG", "de_DE.UTF-8"),
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs in a child process started by scripts_get_a_clean_environment_unless_they_inherit_and_never_the_watchdog_socket"]
async fn environment_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let clean = report(dir.path(), "env | sort > \"$OUT\"", ExecContext::default()).await;
    let mut names: Vec<&str> = clean.lines().filter_map(|l| l.split('=').next()).collect();
    names.retain(|n| *n != "PWD" && *n != "SHLVL" && *n != "_");
    assert_eq!(
        names,
        [
            "FROM_CONFIG",
            "LANG",
            "OUT",
            "PATH",
            "UPKEEP_GROUP",
            "UPKEEP_RESOURCE"
        ],
        "{clean}"
    );
    assert!(clean.contains("LANG=de_DE.UTF-8\n"), "{clean}");
    assert!(
        clean.contains("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"),
        "{clean}"
    );

    let inherit = ExecContext {
        inherit_env: true,
        ..ExecContext::default()
    };
    let inherited = report(dir.path(), "env | sort > \"$OUT\"", inherit).await;
    assert!(inherited.contains("DB_PASSWORD=hunter2\n"), "{inherited}");
    assert!(inherited.contains("FROM_CONFIG=yes\n"), "{inherited}");
    for never in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "LISTEN_FDS"] {
        assert!(!inherited.contains(never), "{never} passed: {inherited}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_run_in_slash_with_umask_0022_or_where_and_as_whom_they_are_told() {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = "{ id -u; id -g; pwd; umask; } > \"$OUT\"";
    let default = report(dir.path(), probe, ExecContext::default()).await;
    let me = nix::unistd::geteuid().as_raw();
    let my_gid = nix::unistd::getegid().as_raw();
    assert_eq!(default, format!("{me}\n{my_gid}\n/\n0022\n"));

    let work = dir.path().join("work");
    std::fs::create_dir(&work).expect("work dir");
    let placed = ExecContext {
        working_dir: work.clone(),
        umask: 0o027,
        ..ExecContext::default()
    };
    let got = report(dir.path(), probe, placed).await;
    assert_eq!(got, format!("{me}\n{my_gid}\n{}\n0027\n", work.display()));

    if !nix::unistd::geteuid().is_root() {
        return;
    }
    // The output file is written by root before the script drops to nobody: a folder anyone may
    // write to holds it.
    let open = dir.path().join("open");
    std::fs::create_dir(&open).expect("open dir");
    std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o1777))
        .expect("chmod");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let nobody = ExecContext {
        user: Some("nobody".into()),
        ..ExecContext::default()
    };
    let mut run = sh("{ id -u; id -G; echo \"$HOME $USER\"; } > \"$OUT\"", nobody);
    let out = open.join("nobody");
    run.command
        .env
        .insert("OUT".into(), out.display().to_string());
    let outcome = host(dir.path()).run_script(run).await;
    assert!(outcome.success(), "{outcome}");
    let got = std::fs::read_to_string(&out).expect("written by nobody");
    let mut lines = got.lines();
    assert_eq!(lines.next(), Some("65534"), "{got}");
    // Root's supplementary groups are gone.
    assert!(
        !lines
            .next()
            .unwrap_or_default()
            .split(' ')
            .any(|g| g == "0"),
        "{got}"
    );
    assert!(
        lines.next().unwrap_or_default().ends_with(" nobody"),
        "{got}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_user_or_a_missing_working_dir_fails_the_start_with_its_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ghost = ExecContext {
        user: Some("no-such-user-upkeep".into()),
        ..ExecContext::default()
    };
    let outcome = host(dir.path()).run_script(sh("exit 0", ghost)).await;
    assert_eq!(
        outcome,
        ScriptOutcome::SpawnFailed("unknown user no-such-user-upkeep".into())
    );
    let nowhere = ExecContext {
        working_dir: dir.path().join("gone"),
        ..ExecContext::default()
    };
    let outcome = host(dir.path()).run_script(sh("exit 0", nowhere)).await;
    assert_eq!(
        outcome,
        ScriptOutcome::SpawnFailed(format!(
            "working directory {} does not exist",
            dir.path().join("gone").display()
        ))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_learn_why_they_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("reasons");
    let ron = format!(
        r#"(
    name: "SSS", edition: "SSS",
    groups: [(name: "g1", resources: [
        (name: "app",
         start: (program: "/bin/sh", args: ["-c", "echo start:$UPKEEP_REASON >> {log}; exec sleep 31.3"]),
         stop: (program: "/bin/sh", args: ["-c", "echo stop:$UPKEEP_REASON >> {log}"]),
         mode: Async, kill_grace: "1s"),
    ])],
    monitors: [(name: "pidw", kind: Pid(resource: "app"),
        recovery: (target: Resource("app"), reactivation_threshold: 3, final_action: NoOp))],
)"#,
        log = log.display()
    );
    let config = crate::sim::config(&ron);
    let host = LinuxHost::new(OsActions::Simulated, dir.path().join("state")).expect("host");
    let instance = format!("ctx{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let engine = match Engine::start(Arc::new(config), Arc::new(host), &instance).await {
        Ok(e) => e,
        Err(e) => panic!("engine: {e}"),
    };
    let pid_of = |e: &Engine| e.board().resource("app").and_then(|r| r.pid);
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    // The shell writes its line after the pid is known: kill it only once it has, or the
    // first start's line is lost with it.
    assert!(
        wait_for(|| pid_of(&engine).is_some() && read().contains("start:start")).await,
        "never started: {}",
        read()
    );
    let first = pid_of(&engine).expect("pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(first).expect("pid")),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill");
    assert!(
        wait_for(|| read().contains("start:reactivation")).await,
        "{}",
        read()
    );
    engine.stop("test over").await;
    let got = read();
    assert!(got.starts_with("start:start\n"), "{got}");
    assert!(got.contains("stop:stop\n"), "{got}");
}

async fn wait_for(mut check: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    check()
}

#[test]
fn output_is_logged_under_the_resource_name_and_a_flood_is_suppressed() {
    in_child("context::output_child", &[]);
}

/// A `MakeWriter` into a shared buffer: the child's whole log.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(
            &self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
        .into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs in a child process started by output_is_logged_under_the_resource_name_and_a_flood_is_suppressed"]
async fn output_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path());

    let mut hello = sh(
        "echo hello from the app; echo trouble >&2",
        ExecContext::default(),
    );
    hello.env[1].1 = "chatty".into();
    assert!(host.run_script(hello).await.success());
    assert!(
        wait_for(|| captured.text().contains("trouble")).await,
        "{}",
        captured.text()
    );
    let log = captured.text();
    let line = |needle: &str| {
        log.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_default()
            .to_string()
    };
    let out = line("hello from the app");
    assert!(
        out.contains("INFO") && out.contains("resource=\"chatty\""),
        "{log}"
    );
    let err = line("trouble");
    assert!(
        err.contains("WARN") && err.contains("resource=\"chatty\""),
        "{log}"
    );

    // 100k lines as fast as the pipe takes them: the script is not slowed down, the log is.
    let mut flood = sh(
        "i=0; while [ $i -lt 100000 ]; do echo line $i; i=$((i+1)); done",
        ExecContext::default(),
    );
    flood.env[1].1 = "flood".into();
    flood.timeout = Duration::from_secs(30);
    let started = Instant::now();
    assert!(host.run_script(flood).await.success());
    let took = started.elapsed();
    // Every line is accounted for, logged or counted as suppressed, once the pipe is drained.
    let counts = |log: &str| {
        let logged = log
            .lines()
            .filter(|l| l.contains("resource=\"flood\"") && l.contains(" line "))
            .count();
        let suppressed: u64 = log
            .lines()
            .filter(|l| l.contains("resource=\"flood\"") && l.contains("suppressed"))
            .filter_map(|l| {
                l.split("suppressed=")
                    .nth(1)?
                    .split_whitespace()
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .sum();
        (logged, suppressed)
    };
    let drained = wait_for(|| {
        let (logged, suppressed) = counts(&captured.text());
        suppressed + logged as u64 == 100_000
    })
    .await;
    let (logged, suppressed) = counts(&captured.text());
    assert!(drained, "{logged} logged, {suppressed} suppressed");
    assert!(suppressed > 0, "nothing suppressed");
    // The burst, then the rate for as long as the flood (and the drain) lasted.
    let lasted = started.elapsed().max(took);
    let bound = 200 + (lasted.as_secs_f64().ceil() as usize + 1) * 100;
    assert!(
        (200..=bound).contains(&logged),
        "{logged} lines logged in {lasted:?}"
    );
}

/// The real daemon, started by a shell that holds a secret: its resource's output is in the
/// daemon's log under the resource's name, and the secret is not in the resource's environment.
#[test]
fn the_daemon_logs_a_resource_output_under_its_name_without_the_starting_shells_secret() {
    use crate::real_daemon::{upkeep, Daemon};
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path();
    let config = dir.join("upkeep.ron");
    std::fs::write(
        &config,
        r#"(
    name: "SSS", edition: "SSS",
    groups: [(name: "g1", resources: [
        (name: "greeter",
         start: (program: "/bin/sh", args: ["-c", "echo hello-from-greeter pw=[$DB_PASSWORD]; echo complaint >&2"])),
    ])],
)"#,
    )
    .expect("config");
    let socket = dir.join("s.sock");
    let mut cmd = upkeep(dir);
    cmd.arg("daemon")
        .arg("--config")
        .arg(&config)
        .arg("--state-dir")
        .arg(dir.join("st"))
        .arg("--socket")
        .arg(&socket)
        .arg("--log-dir")
        .arg(dir.join("log"))
        .env("DB_PASSWORD", "hunter2");
    let mut daemon = Daemon::start(cmd, &socket, &dir.join("daemon.out"));
    let until = Instant::now() + Duration::from_secs(10);
    while !daemon.output().contains("complaint") && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = daemon.output();
    let line = |needle: &str| {
        out.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_default()
            .to_string()
    };
    let hello = line("hello-from-greeter");
    assert!(
        hello.contains("INFO") && hello.contains("resource=\"greeter\""),
        "{out}"
    );
    assert!(hello.contains("pw=[]"), "the secret leaked: {hello}");
    let complaint = line("complaint");
    assert!(
        complaint.contains("WARN") && complaint.contains("resource=\"greeter\""),
        "{out}"
    );
    let status = daemon.terminate();
    assert_eq!(status.code(), Some(0), "{}", daemon.output());
}
