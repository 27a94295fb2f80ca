//! What the benches that run the real daemon share: its status over the socket, waiting until it
//! is up, and reading its memory from /proc.

#![allow(dead_code)] // each bench uses its own part

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use upkeep::control::proto::{Request, Response};

/// One `Status` request over a fresh connection; `None` while the daemon does not answer.
pub fn status(socket: &Path) -> Option<Response> {
    let mut s = UnixStream::connect(socket).ok()?;
    let mut line = serde_json::to_string(&Request::status()).ok()?;
    line.push('\n');
    s.write_all(line.as_bytes()).ok()?;
    let mut reply = String::new();
    BufReader::new(s).read_line(&mut reply).ok()?;
    serde_json::from_str(&reply).ok()
}

/// Until the daemon says its server and every group are online with `monitors` monitors.
pub fn wait_online(socket: &Path, monitors: usize, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(Response::Status(s)) = status(socket) {
            let online = s.groups.iter().all(|g| g.state == "online");
            if s.server.state == "online" && online && s.monitors.len() == monitors {
                return;
            }
        }
        assert!(Instant::now() < deadline, "the daemon did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A `key:` line of /proc/PID/`file` in KiB (`VmRSS:` of status, `Pss:` of smaps_rollup).
pub fn proc_kib(pid: u32, file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    text.lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
