//! Rights on the control socket (issue 10, docs/SECURITY.md): who reaches the socket, what a
//! reader and an operator may do, supplementary groups, `config diff` for operators only, and
//! the places a crowd of readers cannot take from an operator.
//!
//! The daemon runs as root (these tests need root and `setpriv`, like cli.rs); clients act as
//! uid 65534 (or scratch uids 60001.. that need no passwd entry) with the groups each test
//! gives them. Groups used: `users` (100), `adm` (4), `nogroup` (65534), which every Debian-like
//! system has; a test skips when one is missing.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_upkeep");
const SETPRIV: &str = "/usr/bin/setpriv";

const CONFIG: &str = r#"(
    name: "rights",
    edition: "SSS",
    os_actions: Simulated,
    groups: [
        (
            name: "g",
            startup: Auto,
            resources: [
                (name: "a", start: (program: "/bin/sleep", args: ["3600"]), mode: Async,
                 activation: (retries: 0, final_action: NoOpStopChain),
                 deactivation: (retries: 0, final_action: NoOpDeactivateNext)),
            ],
        ),
    ],
    monitors: [
        (
            name: "a-pid",
            kind: Pid(resource: "a"),
            interval: "1s",
            timeout: "60s",
            recovery: (target: Resource("a"), reactivation_threshold: 3, final_action: StopGroup),
        ),
    ],
)
"#;

/// Root, setpriv and the groups these tests use, or a reason to skip.
fn can_run() -> bool {
    let groups = [("users", 100), ("adm", 4), ("nogroup", 65534)];
    let ok = nix::unistd::geteuid().is_root()
        && Path::new(SETPRIV).exists()
        && groups.iter().all(|(name, gid)| {
            matches!(nix::unistd::Group::from_name(name), Ok(Some(g)) if g.gid.as_raw() == *gid)
        });
    if !ok {
        crate::servers::skip(
            module_path!(),
            "needs root, setpriv and the groups users(100), adm(4), nogroup(65534)",
        );
    }
    ok
}

struct Daemon {
    child: Child,
    dir: tempfile::TempDir,
    socket: PathBuf,
}

impl Daemon {
    /// A daemon whose socket lives in `<tmp>/run/`, a folder made `0750 root:root` beforehand
    /// as systemd's `RuntimeDirectory=` used to.
    fn start(extra: &[&str]) -> Daemon {
        Daemon::start_with(extra, &[])
    }

    fn start_with(extra: &[&str], prefix: &[&str]) -> Daemon {
        Daemon::start_on(CONFIG, extra, prefix)
    }

    fn start_on(config_text: &str, extra: &[&str], prefix: &[&str]) -> Daemon {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        let run = dir.path().join("run");
        fs::create_dir(&run).expect("mkdir");
        fs::set_permissions(&run, fs::Permissions::from_mode(0o750)).expect("chmod");
        let socket = run.join("upkeep.sock");
        let config = dir.path().join("upkeep.ron");
        fs::write(&config, config_text).expect("config");
        fs::set_permissions(&config, fs::Permissions::from_mode(0o644)).expect("chmod");
        let log = fs::File::create(dir.path().join("daemon.out")).expect("log");
        let err = log.try_clone().expect("log");
        let (program, pre) = match prefix.split_first() {
            Some((p, rest)) => (*p, rest.to_vec()),
            None => (BIN, Vec::new()),
        };
        let mut cmd = Command::new(program);
        cmd.args(&pre);
        if !prefix.is_empty() {
            cmd.arg(BIN);
        }
        let child = cmd
            .arg("daemon")
            .arg("--config")
            .arg(&config)
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .arg("--log-dir")
            .arg(dir.path().join("log"))
            .arg("--socket")
            .arg(&socket)
            .args(extra)
            .env("UPKEEP_LOG", "info")
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("start the daemon");
        let mut d = Daemon { child, dir, socket };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let out = d.root(&["status", "--json"]);
            if out.status.success() && text(&out.stdout).contains("\"online\"") {
                break;
            }
            if let Ok(Some(code)) = d.child.try_wait() {
                panic!("daemon exited ({code}):\n{}", d.output());
            }
            assert!(
                Instant::now() < deadline,
                "daemon not online:\n{}",
                d.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }

    fn output(&self) -> String {
        fs::read_to_string(self.dir.path().join("daemon.out")).unwrap_or_default()
    }

    fn root(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .arg("--socket")
            .arg(&self.socket)
            .stdin(Stdio::null())
            .output()
            .expect("upkeep")
    }

    /// `upkeep ARGS` as `uid` with primary group `gid` and supplementary `groups`.
    fn as_user(&self, uid: u32, gid: u32, groups: &[u32], args: &[&str]) -> Output {
        self.user_cmd(uid, gid, groups, args)
            .stdin(Stdio::null())
            .output()
            .expect("setpriv")
    }

    fn user_cmd(&self, uid: u32, gid: u32, groups: &[u32], args: &[&str]) -> Command {
        let mut cmd = Command::new(SETPRIV);
        cmd.arg(format!("--reuid={uid}"))
            .arg(format!("--regid={gid}"));
        if groups.is_empty() {
            cmd.arg("--clear-groups");
        } else {
            let list: Vec<String> = groups.iter().map(u32::to_string).collect();
            cmd.arg(format!("--groups={}", list.join(",")));
        }
        cmd.arg(BIN).args(args).arg("--socket").arg(&self.socket);
        cmd
    }

    /// Open the socket's folder by hand, so a test checks its own item, not the folder's.
    fn open_folder(&self) {
        let run = self.socket.parent().expect("folder");
        fs::set_permissions(run, fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    fn suspended(&self) -> bool {
        let out = self.root(&["status", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status json");
        v["server"]["suspended"].as_bool().expect("suspended")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn says(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// Issue 10, item 1: an operator group's member reaches the socket although the folder was
/// made `0750 root:root` (as systemd's `RuntimeDirectoryMode=0750` did on every start); the
/// folder stays writable by its owner only. Before: `permission denied` on connect.
#[test]
fn operator_group_members_reach_the_socket_in_a_private_folder() {
    if !can_run() {
        return;
    }
    let d = Daemon::start(&["--operator-group", "users"]);
    let run = d.socket.parent().expect("folder");
    let mode = fs::metadata(run).expect("folder").mode() & 0o7777;
    assert_eq!(
        mode & 0o022,
        0,
        "folder {mode:o} must not be writable by others"
    );
    // Primary group `users` only: the folder alone was in the way.
    let out = d.as_user(65534, 100, &[], &["suspend"]);
    assert!(out.status.success(), "{}\n{}", says(&out), d.output());
    assert!(d.suspended());
}

/// Issue 10, item 1: the unit and the daemon agree on the runtime folder's mode.
#[test]
fn the_unit_makes_the_runtime_folder_the_daemon_makes() {
    let unit = include_str!("../../packaging/upkeep.service");
    let mode = unit
        .lines()
        .find_map(|l| l.strip_prefix("RuntimeDirectoryMode="))
        .expect("RuntimeDirectoryMode=");
    let mode = u32::from_str_radix(mode.trim(), 8).expect("octal");
    assert_eq!(mode, upkeep::control::server::SHARED_FOLDER_MODE);
}

/// Issue 10, items 2 and 3: a reader (here through a supplementary group) may run `status`,
/// `tree`, `events` (also `--follow`) and `explain`, but nothing that changes state, nor
/// `config diff`/`config show`; a user in no configured group is refused outright.
#[test]
fn a_reader_reads_and_changes_nothing() {
    if !can_run() {
        return;
    }
    let d = Daemon::start(&["--reader-group", "users", "--operator-group", "adm"]);
    let reader = |args: &[&str]| d.as_user(65534, 65534, &[100], args);
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["tree"],
        &["events"],
        &["explain", "a-pid"],
        // Issue 11: the alert log is for readers too.
        &["alerts"],
    ] {
        let out = reader(args);
        assert!(
            out.status.success(),
            "{args:?}: {}\n{}",
            says(&out),
            d.output()
        );
    }
    let mut follow = d
        .user_cmd(65534, 65534, &[100], &["events", "--follow"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("follow");
    std::thread::sleep(Duration::from_millis(500));
    let still = follow.try_wait().expect("try_wait");
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(still.is_none(), "events --follow ended: {still:?}");

    let config = d.dir.path().join("upkeep.ron");
    let config = config.to_str().expect("utf-8");
    for args in [
        &["suspend"][..],
        &["stop"],
        &["group", "stop", "g"],
        &["config", "show"],
        &["config", "diff", config],
    ] {
        let out = reader(args);
        assert_eq!(out.status.code(), Some(77), "{args:?}: {}", says(&out));
        assert!(
            text(&out.stderr).contains("permission denied"),
            "{}",
            says(&out)
        );
    }
    assert!(!d.suspended());

    // In no configured group: not even status.
    let out = d.as_user(65534, 65534, &[], &["status"]);
    assert_eq!(out.status.code(), Some(77), "{}", says(&out));
    assert!(
        text(&out.stderr).contains("permission denied"),
        "{}",
        says(&out)
    );
}

/// Issue 10, item 3: a supplementary group counts; before, only the primary group and
/// /etc/group's member list did (and `users` lists nobody).
#[test]
fn a_supplementary_operator_group_counts() {
    if !can_run() {
        return;
    }
    let d = Daemon::start(&["--operator-group", "users"]);
    d.open_folder();
    let out = d.as_user(65534, 65534, &[4, 100], &["suspend"]);
    assert!(out.status.success(), "{}\n{}", says(&out), d.output());
    assert!(d.suspended());
}

/// Issue 10: the roles can be written in the configuration file instead of flags: a member of
/// its operator group operates, a member of its reader group only reads.
#[test]
fn roles_come_from_the_configuration_file_too() {
    if !can_run() {
        return;
    }
    let config = CONFIG.replacen(
        "os_actions: Simulated,",
        "os_actions: Simulated,\n    access: (operator_groups: [\"users\"], reader_groups: [\"adm\"]),",
        1,
    );
    let d = Daemon::start_on(&config, &[], &[]);
    d.open_folder();
    let out = d.as_user(60001, 65534, &[4], &["suspend"]);
    assert_eq!(out.status.code(), Some(77), "{}", says(&out));
    let out = d.as_user(60001, 65534, &[4], &["status"]);
    assert!(out.status.success(), "{}\n{}", says(&out), d.output());
    assert!(!d.suspended());
    let out = d.as_user(65534, 65534, &[100], &["suspend"]);
    assert!(out.status.success(), "{}\n{}", says(&out), d.output());
    assert!(d.suspended());
}

/// Issue 10, item 5: `config diff` tells a non-operator nothing: before, a reader could diff a
/// guessed file and learn from `no changes` that its guess of a secret was right.
#[test]
fn config_diff_is_no_oracle_for_readers() {
    if !can_run() {
        return;
    }
    let d = Daemon::start(&["--reader-group", "*"]);
    d.open_folder();
    let config = d.dir.path().join("upkeep.ron");
    let config = config.to_str().expect("utf-8");
    let out = d.as_user(65534, 65534, &[], &["config", "diff", config]);
    assert_eq!(out.status.code(), Some(77), "{}", says(&out));
    assert!(!text(&out.stdout).contains("no changes"), "{}", says(&out));
    // A raw dry-run apply is refused the same way.
    let out = d.root(&["config", "diff", config]);
    assert!(text(&out.stdout).contains("no changes"), "{}", says(&out));
}

/// Opens `COUNT` connections to `SOCKET` and keeps them; `MODE` says what each does: `idle`
/// sends nothing, `status` asks for the status on the last one only, `follow` starts an event
/// stream on each. Prints the last connection's first reply line (if any), then `ready`, then
/// sleeps until killed.
const CROWD: &str = r#"
use IO::Socket::UNIX;
my ($path, $count, $mode) = @ARGV;
$| = 1;
my @s;
for my $i (1..$count) {
    # The daemon admits connections concurrently: let the others settle before the last.
    select(undef, undef, undef, 0.3) if $i == $count;
    my $s = IO::Socket::UNIX->new(Peer => $path) or die "connect $i: $!";
    push @s, $s;
    if ($mode eq 'follow') { print $s "{\"type\":\"Follow\",\"version\":1,\"since\":0}\n"; }
}
my $last = $s[-1];
if ($mode eq 'status') { print $last "{\"type\":\"Status\",\"version\":1}\n"; }
if ($mode ne 'idle') { my $line = <$last>; print "reply: $line"; }
print "ready\n";
sleep 60;
"#;

struct Crowd(Child);

impl Crowd {
    /// As `uid` (primary group nogroup, no others), or as root when `uid` is 0; once it is
    /// ready.
    fn start(d: &Daemon, uid: u32, count: usize, mode: &str) -> (Crowd, String) {
        Crowd::spawn(d, uid, count, mode).ready()
    }

    fn spawn(d: &Daemon, uid: u32, count: usize, mode: &str) -> Crowd {
        let mut cmd = if uid == 0 {
            Command::new("/usr/bin/perl")
        } else {
            let mut c = Command::new(SETPRIV);
            c.arg(format!("--reuid={uid}")).args([
                "--regid=65534",
                "--clear-groups",
                "/usr/bin/perl",
            ]);
            c
        };
        let child = cmd
            .arg("-e")
            .arg(CROWD)
            .arg(&d.socket)
            .arg(count.to_string())
            .arg(mode)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("perl");
        Crowd(child)
    }

    /// Wait for `ready`; what it said before.
    fn ready(mut self) -> (Crowd, String) {
        let out = self.0.stdout.take().expect("stdout");
        let mut said = String::new();
        for line in BufReader::new(out).lines() {
            let line = line.expect("read");
            if line == "ready" {
                return (self, said);
            }
            said.push_str(&line);
        }
        panic!("a crowd ended early: {said}");
    }
}

impl Drop for Crowd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Issue 10, bounded work: 256 idle reader connections from 8 local users (the old overall
/// cap) do not lock an operator out (places are reserved for operators); one user cannot hold
/// more than its share of connections, nor of event streams. Before: the operator waited 5 s
/// and was told `too many connections`, and one uid could take every place.
#[test]
fn a_crowd_of_readers_leaves_room_for_an_operator() {
    if !can_run() || !Path::new("/usr/bin/perl").exists() {
        return;
    }
    let d = Daemon::start(&["--reader-group", "*"]);
    // One user's 33rd connection is turned away at once.
    let (first, said) = Crowd::start(&d, 60001, 33, "status");
    assert!(said.contains("connections open already"), "{said}");
    let spawned: Vec<Crowd> = (60002..=60008)
        .map(|uid| Crowd::spawn(&d, uid, 32, "idle"))
        .collect();
    let mut crowds = vec![first];
    crowds.extend(spawned.into_iter().map(|c| c.ready().0));
    // 8 x 32 = 256 idle connections: an operator still gets in, at once.
    let started = Instant::now();
    let out = d.root(&["status"]);
    assert!(out.status.success(), "{}\n{}", says(&out), d.output());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    drop(crowds);

    // Event streams have their own, smaller cap per user.
    let (_streams, said) = Crowd::start(&d, 60009, 9, "follow");
    assert!(said.contains("event streams already"), "{said}");
}

/// Issue 10, bounded work: a request line that was begun but never finished costs its sender
/// the connection within seconds, not the 5-minute idle time.
#[test]
fn a_half_sent_request_is_dropped_within_seconds() {
    if !nix::unistd::geteuid().is_root() {
        return;
    }
    let d = Daemon::start(&[]);
    let mut s = UnixStream::connect(&d.socket).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    s.write_all(b"{\"type\":\"Sta").expect("write");
    let started = Instant::now();
    let mut reply = String::new();
    let _ = BufReader::new(s).read_line(&mut reply);
    assert!(reply.contains("not finished"), "{reply:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

/// Issue 10, bounded work: at the file-descriptor limit `accept` fails on every try; the
/// daemon says so once, not ten times a second.
#[test]
fn the_descriptor_limit_is_logged_once_not_every_100ms() {
    if !nix::unistd::geteuid().is_root() || !Path::new("/usr/bin/prlimit").exists() {
        return;
    }
    let d = Daemon::start_with(&[], &["/usr/bin/prlimit", "--nofile=64:64", "--"]);
    let _crowd = Crowd::start(&d, 0, 80, "idle");
    std::thread::sleep(Duration::from_millis(1000));
    let warnings = d.output().matches("accept failed").count();
    assert!(
        (1..=2).contains(&warnings),
        "{warnings} warnings:\n{}",
        d.output()
    );
}
