//! Files that cannot be hijacked (issue 10): every file upkeep writes as root is created without
//! following a link planted at its name, and a root daemon refuses to run programs that others
//! could change (StrictModes). Each test plants what an attacker would and checks the victim.

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::real_daemon;

use crate::real_daemon::BIN;

fn config(program: &str, interval: &str) -> String {
    format!(
        r#"(
    name: "SSS",
    edition: "SSS",
    os_actions: Simulated,
    groups: [
        (
            name: "g",
            startup: Auto,
            resources: [
                (name: "a", start: (program: "{program}", args: ["3600"]), mode: Async),
            ],
        ),
    ],
    monitors: [
        (
            name: "ok",
            kind: Custom(program: "/bin/true"),
            interval: "{interval}",
            timeout: "5s",
            recovery: (target: Resource("a"), reactivation_threshold: 1, final_action: NoOp),
        ),
    ],
)
"#
    )
}

struct Daemon {
    inner: real_daemon::Daemon,
    dir: PathBuf,
}

fn daemon_command(dir: &Path, config: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("daemon")
        .arg("--config")
        .arg(config)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--log-dir")
        .arg(dir.join("log"))
        .arg("--socket")
        .arg(dir.join("upkeep.sock"))
        .env("UPKEEP_LOG", "info")
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null());
    cmd
}

impl Daemon {
    /// Stopped in order when dropped (by the shared harness), so its cgroups are tidied.
    fn start(dir: &Path, config: &Path) -> Daemon {
        let socket = dir.join("upkeep.sock");
        let mut d = Daemon {
            inner: real_daemon::Daemon::start(
                daemon_command(dir, config),
                &socket,
                &dir.join("daemon.out"),
            ),
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = d.inner.child.try_wait() {
                panic!("the daemon exited ({status}):\n{}", d.inner.output());
            }
            if d.run(&["status"]).status.success() {
                return d;
            }
            assert!(Instant::now() < deadline, "the daemon did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .env("UPKEEP_SOCKET", &self.inner.socket)
            .stdin(Stdio::null())
            .args(args)
            .output()
            .expect("run upkeep")
    }

    fn state(&self, name: &str) -> PathBuf {
        self.dir.join("state").join(name)
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn is_link(path: &Path) -> bool {
    fs::symlink_metadata(path)
        .map(|m| m.file_type().is_symlink())
        .unwrap_or(false)
}

/// Before: the backup `config.previous.ron` and the staged `.upkeep.ron.tmp` were opened with
/// `O_CREAT|O_TRUNC`, following links, so links planted there had the root daemon overwrite
/// their targets, and the rename put the planted link in place of the daemon's own config.
#[test]
fn config_apply_writes_through_no_planted_link() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("upkeep.ron");
    let original = config("/bin/sleep", "1s");
    fs::write(&file, &original).expect("config");
    let d = Daemon::start(dir.path(), &file);
    let victim_tmp = dir.path().join("victim-tmp");
    let victim_backup = dir.path().join("victim-backup");
    fs::write(&victim_tmp, "untouched").expect("victim");
    fs::write(&victim_backup, "untouched").expect("victim");
    symlink(&victim_tmp, dir.path().join(".upkeep.ron.tmp")).expect("plant");
    symlink(&victim_backup, d.state("config.previous.ron")).expect("plant");

    let new = dir.path().join("new.ron");
    let changed = config("/bin/sleep", "2s");
    fs::write(&new, &changed).expect("new");
    let out = d.run(&["config", "apply", new.to_str().expect("utf-8"), "--restart"]);
    assert!(out.status.success(), "{}", text(&out));

    assert_eq!(
        fs::read_to_string(&victim_tmp).expect("victim"),
        "untouched"
    );
    assert_eq!(
        fs::read_to_string(&victim_backup).expect("victim"),
        "untouched"
    );
    assert!(!is_link(&file), "the daemon's config is not a planted link");
    assert_eq!(fs::read_to_string(&file).expect("config"), changed);
    assert_eq!(
        fs::read_to_string(d.state("config.previous.ron")).expect("backup"),
        original
    );
    assert_eq!(
        fs::metadata(d.state("config.previous.ron"))
            .expect("backup")
            .mode()
            & 0o777,
        0o600
    );
}

/// Before: the staged file was renamed over the link itself, so the link became a plain 0600
/// file and the admin's repository kept the old text.
#[test]
fn config_apply_on_a_linked_config_keeps_the_link_and_writes_its_target() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    fs::create_dir(&repo).expect("repo");
    fs::set_permissions(&repo, fs::Permissions::from_mode(0o755)).expect("mode");
    let real = repo.join("upkeep.ron");
    fs::write(&real, config("/bin/sleep", "1s")).expect("config");
    let link = dir.path().join("upkeep.ron");
    symlink(&real, &link).expect("link");
    let d = Daemon::start(dir.path(), &link);

    let new = dir.path().join("new.ron");
    let changed = config("/bin/sleep", "2s");
    fs::write(&new, &changed).expect("new");
    let out = d.run(&["config", "apply", new.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(is_link(&link), "the config file is still a link");
    assert_eq!(fs::read_to_string(&real).expect("target"), changed);
}

/// Before: `config pull FILE` wrote through a link at FILE, with the umask's mode.
#[test]
fn config_pull_writes_a_private_file_and_no_planted_link() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("upkeep.ron");
    fs::write(&file, config("/bin/sleep", "1s")).expect("config");
    let d = Daemon::start(dir.path(), &file);
    let victim = dir.path().join("victim");
    fs::write(&victim, "untouched").expect("victim");
    let pulled = dir.path().join("pulled.ron");
    symlink(&victim, &pulled).expect("plant");
    let out = d.run(&["config", "pull", pulled.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(fs::read_to_string(&victim).expect("victim"), "untouched");
    assert!(!is_link(&pulled));
    assert_eq!(fs::metadata(&pulled).expect("pulled").mode() & 0o777, 0o600);
}

fn collect(dir: &Path, output: &Path) -> Output {
    Command::new(BIN)
        .env("UPKEEP_SOCKET", dir.join("no-daemon.sock"))
        .stdin(Stdio::null())
        .args(["logs", "collect", "-o"])
        .arg(output)
        .arg("--log-dir")
        .arg(dir.join("log"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .output()
        .expect("run upkeep")
}

/// Before: the bundle (which holds the configuration) was created with `File::create`, following
/// a link planted at its name, mode 0644.
#[test]
fn logs_collect_is_private_and_follows_no_planted_link() {
    let dir = tempfile::tempdir().expect("tempdir");
    let victim = dir.path().join("victim");
    fs::write(&victim, "untouched").expect("victim");
    let planted = dir.path().join("bundle.tar.gz");
    symlink(&victim, &planted).expect("plant");
    let out = collect(dir.path(), &planted);
    assert_eq!(out.status.code(), Some(73), "{}", text(&out));
    assert_eq!(fs::read_to_string(&victim).expect("victim"), "untouched");

    let folder = dir.path().join("out");
    fs::create_dir(&folder).expect("out");
    let out = collect(dir.path(), &folder);
    assert!(out.status.success(), "{}", text(&out));
    let bundles: Vec<_> = fs::read_dir(&folder)
        .expect("out")
        .filter_map(|e| e.ok())
        .collect();
    assert_eq!(bundles.len(), 1);
    let meta = fs::metadata(bundles[0].path()).expect("bundle");
    assert_eq!(meta.mode() & 0o777, 0o600);
}

/// A folder anyone can write, holding a script owned by another user: what a root daemon must
/// refuse to run.
fn planted_script(dir: &Path) -> PathBuf {
    let open = dir.join("open");
    fs::create_dir(&open).expect("open");
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).expect("mode");
    let script = open.join("start.sh");
    fs::write(&script, "#!/bin/sh\nexec /bin/sleep \"$@\"\n").expect("script");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("mode");
    nix::unistd::chown(&script, Some(nix::unistd::Uid::from_raw(1234)), None).expect("chown");
    script
}

/// Before: the script was run as root on start; now the daemon refuses to start (exit 78) and
/// `config apply` refuses the text, each naming the path and the fix.
#[test]
fn strict_modes_refuse_a_script_others_can_change() {
    if !nix::unistd::geteuid().is_root() {
        crate::servers::skip(module_path!(), "StrictModes apply to a root daemon only");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let script = planted_script(dir.path());
    let shown = script.display().to_string();
    let bad = dir.path().join("bad.ron");
    fs::write(&bad, config(&shown, "1s")).expect("config");
    let out = daemon_command(dir.path(), &bad)
        .output()
        .expect("run the daemon");
    let said = text(&out);
    assert_eq!(out.status.code(), Some(78), "{said}");
    assert!(said.contains(&shown), "{said}");
    assert!(said.contains("chown root"), "{said}");

    let file = dir.path().join("upkeep.ron");
    let good = config("/bin/sleep", "1s");
    fs::write(&file, &good).expect("config");
    let d = Daemon::start(dir.path(), &file);
    let out = d.run(&["config", "apply", bad.to_str().expect("utf-8"), "--restart"]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains(&shown), "{said}");
    assert_eq!(fs::read_to_string(&file).expect("config"), good);
}
