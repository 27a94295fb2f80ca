//! Real servers from Debian's packages, started by a test on private files and stopped by it:
//! rsyslogd (package `rsyslog`) on its own socket and output file, and Postfix (package
//! `postfix`) with its own configuration folder, queue and mailbox on a loopback port. Neither
//! touches the system's syslog or mail. A test that cannot get its server says `SKIPPED` (see
//! [`skip`]; `.ci/run` lists them) and returns.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Say why a test skips: on stderr (shown with `--nocapture`), and appended to the file named
/// by `UPKEEP_SKIPPED` (libtest captures stderr, so `.ci/run` lists the skipped tests from it).
pub(crate) fn skip(test: &str, why: &str) {
    let line = format!("SKIPPED {test}: {why}");
    eprintln!("{line}");
    if let Some(file) = std::env::var_os("UPKEEP_SKIPPED") {
        use std::io::Write;
        if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(file) {
            let _ = writeln!(f, "{line}");
        }
    }
}

fn found(program: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(program))
        .find(|p| p.exists())
}

fn wait_until(what: &str, limit: Duration, ok: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A private rsyslogd: `socket` in, every line to `out` as
/// `facility.severity programname[pid]: msg`.
pub(crate) struct Rsyslog {
    child: Child,
    pub(crate) socket: PathBuf,
    pub(crate) out: PathBuf,
}

impl Rsyslog {
    pub(crate) fn start(dir: &Path) -> Option<Rsyslog> {
        let rsyslogd = found("rsyslogd")?;
        let work = dir.join("work");
        fs::create_dir_all(&work).ok()?;
        let socket = dir.join("log.sock");
        let out = dir.join("out.log");
        let conf = dir.join("rsyslog.conf");
        // NOTES-ROUND2 §3: imuxsock on our own socket only, never /dev/log; `%msg:2:$%` drops
        // the space after the colon that %msg% keeps.
        fs::write(
            &conf,
            format!(
                r#"global(workDirectory="{work}")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{socket}")
template(name="t" type="string" string="%syslogfacility-text%.%syslogseverity-text% %programname%[%procid%]: %msg:2:$%\n")
*.* action(type="omfile" file="{out}" template="t")
"#,
                work = work.display(),
                socket = socket.display(),
                out = out.display()
            ),
        )
        .ok()?;
        let child = Command::new(rsyslogd)
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let server = Rsyslog { child, socket, out };
        wait_until("rsyslogd's socket", Duration::from_secs(10), || {
            server.socket.exists()
        });
        Some(server)
    }

    /// The output lines so far.
    pub(crate) fn lines(&self) -> Vec<String> {
        fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(i32::MAX));
        let _ = kill(pid, Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

/// A private Postfix: SMTP on 127.0.0.1:`port`, every mail for `example.org` delivered to the
/// Maildir `<dir>/mail/inbox/` (NOTES-ROUND2 §4, with a configuration folder of its own instead
/// of /etc/postfix).
pub(crate) struct Postfix {
    child: Option<Child>,
    etc: PathBuf,
    pub(crate) port: u16,
    pub(crate) inbox: PathBuf,
    pub(crate) maillog: PathBuf,
}

impl Postfix {
    /// With `tls` (certificate and key files), STARTTLS is required of every client.
    pub(crate) fn start(dir: &Path, port: u16, tls: Option<(&Path, &Path)>) -> Option<Postfix> {
        let postfix = found("postfix")?;
        found("postconf")?;
        if !nix::unistd::geteuid().is_root() || !Path::new("/etc/postfix/main.cf").exists() {
            return None;
        }
        let etc = dir.join("etc");
        let spool = dir.join("spool");
        let data = dir.join("data");
        let mail = dir.join("mail");
        for d in [&etc, &spool, &data, &mail] {
            fs::create_dir_all(d).ok()?;
        }
        // Postfix's users must reach their folders.
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).ok()?;
        let chown = |path: &Path, user: &str| {
            let u = nix::unistd::User::from_name(user).ok().flatten()?;
            nix::unistd::chown(path, Some(u.uid), Some(u.gid)).ok()
        };
        chown(&data, "postfix")?;
        chown(&mail, "nobody")?;
        fs::copy("/etc/postfix/main.cf", etc.join("main.cf")).ok()?;
        let _ = fs::copy("/etc/postfix/dynamicmaps.cf", etc.join("dynamicmaps.cf"));
        let services = [
            format!("{port} inet n - n - - smtpd"),
            "pickup unix n - n 60 1 pickup".into(),
            "cleanup unix n - n - 0 cleanup".into(),
            "qmgr unix n - n 300 1 qmgr".into(),
            "rewrite unix - - n - - trivial-rewrite".into(),
            "bounce unix - - n - 0 bounce".into(),
            "defer unix - - n - 0 bounce".into(),
            "trace unix - - n - 0 bounce".into(),
            "verify unix - - n - 1 verify".into(),
            "flush unix n - n 1000? 0 flush".into(),
            "proxymap unix - - n - - proxymap".into(),
            "smtp unix - - n - - smtp".into(),
            "relay unix - - n - - smtp".into(),
            "error unix - - n - - error".into(),
            "retry unix - - n - - error".into(),
            "discard unix - - n - - discard".into(),
            "local unix - n n - - local".into(),
            "virtual unix - n n - - virtual".into(),
            "anvil unix - - n - 1 anvil".into(),
            "tlsmgr unix - - n 1000? 1 tlsmgr".into(),
            "scache unix - - n - 1 scache".into(),
            "postlog unix-dgram n - n - 1 postlogd".into(),
        ];
        fs::write(etc.join("master.cf"), services.join("\n") + "\n").ok()?;
        let maillog = dir.join("maillog");
        let mut settings = vec![
            format!("queue_directory = {}", spool.display()),
            format!("data_directory = {}", data.display()),
            format!("maillog_file = {}", maillog.display()),
            format!("maillog_file_prefixes = {}", dir.display()),
            "inet_interfaces = 127.0.0.1".into(),
            "inet_protocols = ipv4".into(),
            "mydestination =".into(),
            "alias_maps =".into(),
            "alias_database =".into(),
            "myhostname = upkeep-test.invalid".into(),
            "smtpd_tls_security_level = none".into(),
            "virtual_mailbox_domains = example.org".into(),
            format!("virtual_mailbox_base = {}", mail.display()),
            "virtual_mailbox_maps = static:inbox/".into(),
            "virtual_uid_maps = static:65534".into(),
            "virtual_gid_maps = static:65534".into(),
        ];
        if let Some((cert, key)) = tls {
            settings.retain(|s| !s.starts_with("smtpd_tls_security_level"));
            settings.extend([
                "smtpd_tls_security_level = encrypt".to_owned(),
                format!("smtpd_tls_cert_file = {}", cert.display()),
                format!("smtpd_tls_key_file = {}", key.display()),
            ]);
        }
        let ok = Command::new(found("postconf")?)
            .arg("-c")
            .arg(&etc)
            .arg("-e")
            .args(&settings)
            .status()
            .ok()?
            .success();
        if !ok {
            return None;
        }
        let child = Command::new(postfix)
            .arg("-c")
            .arg(&etc)
            .arg("start-fg")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let server = Postfix {
            child: Some(child),
            etc,
            port,
            inbox: mail.join("inbox"),
            maillog,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(server)
    }

    /// The mails delivered so far (their whole text), oldest first.
    pub(crate) fn mails(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> = fs::read_dir(self.inbox.join("new"))
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .filter_map(|f| fs::read_to_string(f).ok())
            .collect()
    }

    /// Wait until at least `n` mails arrived.
    pub(crate) fn wait_for_mails(&self, n: usize, limit: Duration) -> Vec<String> {
        let deadline = Instant::now() + limit;
        loop {
            let mails = self.mails();
            if mails.len() >= n || Instant::now() > deadline {
                return mails;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stop the mail system and wait for it.
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("postfix")
                .arg("-c")
                .arg(&self.etc)
                .arg("stop")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while let Ok(None) = child.try_wait() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        self.stop();
    }
}
