//! The real `upkeep` binary as a test starts it: the command with its folders isolated in a
//! temporary home, and a daemon child with the control-socket requests the tests make of it.
//! Every daemon started here runs with OS actions simulated.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use upkeep::control::proto::{Request, Response, StatusReply};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_upkeep");

/// A command of the binary with the environment pointed into `home` (nothing of the caller's
/// folders, socket or log filter leaks in).
pub(crate) fn upkeep(home: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    isolate(&mut cmd, home);
    cmd
}

pub(crate) fn isolate(cmd: &mut Command, home: &Path) {
    cmd.env("HOME", home)
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("UPKEEP_LOG", "info")
        .env_remove("UPKEEP_SOCKET")
        .stdin(Stdio::null());
}

pub(crate) fn output(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"))
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A daemon child; killed (after an orderly attempt) if a test fails half-way.
pub(crate) struct Daemon {
    pub(crate) child: Child,
    pub(crate) socket: PathBuf,
    log: PathBuf,
}

impl Daemon {
    pub(crate) fn start(mut cmd: Command, socket: &Path, log: &Path) -> Daemon {
        let out = fs::File::create(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let err = out
            .try_clone()
            .unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let child = cmd
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {BIN}: {e}"));
        Daemon {
            child,
            socket: socket.to_path_buf(),
            log: log.to_path_buf(),
        }
    }

    /// A daemon child started by the caller (its own stdio), its output read from `log`.
    pub(crate) fn adopt(child: Child, socket: &Path, log: &Path) -> Daemon {
        Daemon {
            child,
            socket: socket.to_path_buf(),
            log: log.to_path_buf(),
        }
    }

    /// A daemon on `config` (the built-in demo when `None`) with its folders in `home`: state in
    /// `st`, socket `s.sock`, logs in `log`, its output in `daemon-<run>.out`.
    pub(crate) fn on(home: &Path, config: Option<&Path>, run: &str) -> Daemon {
        let socket = home.join("s.sock");
        let mut cmd = upkeep(home);
        cmd.arg("daemon");
        if let Some(config) = config {
            cmd.arg("--config").arg(config);
        }
        cmd.arg("--state-dir")
            .arg(home.join("st"))
            .arg("--socket")
            .arg(&socket)
            .arg("--log-dir")
            .arg(home.join("log"));
        Daemon::start(cmd, &socket, &home.join(format!("daemon-{run}.out")))
    }

    /// Poll the event feed until a line contains `needle`; all lines so far.
    pub(crate) fn wait_for_event(&mut self, needle: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut lines = Vec::new();
        while Instant::now() < deadline {
            if let Ok(Some(code)) = self.child.try_wait() {
                panic!(
                    "daemon exited ({code}) while waiting for {needle:?}; events {lines:#?}\n{}",
                    self.output()
                );
            }
            if let Some(Response::Events(reply)) = self.request(&Request::events(0)) {
                lines = reply.events.into_iter().map(|e| e.line).collect();
                if lines.iter().any(|l| l.contains(needle)) {
                    return lines;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "timed out waiting for {needle:?}; events {lines:#?}\n{}",
            self.output()
        );
    }

    pub(crate) fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(i32::MAX))
    }

    pub(crate) fn output(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub(crate) fn request(&self, request: &Request) -> Option<Response> {
        let mut stream = UnixStream::connect(&self.socket).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok()?;
        let mut line = serde_json::to_string(request).ok()?;
        line.push('\n');
        stream.write_all(line.as_bytes()).ok()?;
        let mut reply = String::new();
        BufReader::new(stream).read_line(&mut reply).ok()?;
        serde_json::from_str(&reply).ok()
    }

    pub(crate) fn status(&self) -> Option<StatusReply> {
        match self.request(&Request::status())? {
            Response::Status(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn event_lines(&self) -> Vec<String> {
        match self.request(&Request::events(0)) {
            Some(Response::Events(reply)) => reply.events.into_iter().map(|e| e.line).collect(),
            other => panic!("events: {other:?}\n{}", self.output()),
        }
    }

    /// Poll the status until `ok` holds.
    pub(crate) fn wait_for(
        &mut self,
        what: &str,
        ok: impl Fn(&StatusReply) -> bool,
    ) -> StatusReply {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut last = None;
        while Instant::now() < deadline {
            if let Ok(Some(code)) = self.child.try_wait() {
                panic!(
                    "daemon exited ({code}) while waiting for {what}:\n{}",
                    self.output()
                );
            }
            if let Some(s) = self.status() {
                if ok(&s) {
                    return s;
                }
                last = Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "timed out waiting for {what}; last status {last:#?}\n{}",
            self.output()
        );
    }

    /// SIGTERM, then the exit status (SIGKILL after 20 s: the test fails anyway then).
    pub(crate) fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = kill(self.pid(), Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = self.child.kill();
                    panic!("daemon did not stop on SIGTERM:\n{}", self.output());
                }
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // An orderly stop first, so the daemon tidies its resources' cgroups and processes.
        if let Ok(None) = self.child.try_wait() {
            let _ = kill(self.pid(), Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while let Ok(None) = self.child.try_wait() {
                if Instant::now() > deadline {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}
