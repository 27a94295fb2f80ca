//! systemd readiness and watchdog (`Type=notify`, packaging/upkeep.service): `READY=1` once the
//! groups are up (OPS-1, PROC-3), `WATCHDOG=1` keep-alives when `WatchdogSec=` is set,
//! `STOPPING=1` on the way out.
//!
//! The protocol is one datagram to `$NOTIFY_SOCKET`; a dozen lines by hand beat a dependency.
//! Outside systemd (no variable) every call does nothing.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use upkeep_actors::board::{Board, GroupState};

/// How often the daemon looks whether its STATUS= line changed.
pub const STATUS_REFRESH: Duration = Duration::from_secs(2);

/// The one line `systemctl status upkeep` shows: how many groups are in which state, e.g.
/// `2 groups online, 1 failed`.
pub fn status_line(board: &Board) -> String {
    let (mut online, mut failed, mut offline, mut moving) = (0, 0, 0, 0);
    for group in board.groups.values() {
        match group.borrow().state {
            GroupState::Online => online += 1,
            GroupState::OnlinePartial | GroupState::OfflinePartial => failed += 1,
            GroupState::Offline => offline += 1,
            GroupState::Starting | GroupState::Stopping => moving += 1,
        }
    }
    let total = online + failed + offline + moving;
    let mut parts = vec![format!(
        "{online} of {total} group{} online",
        if total == 1 { "" } else { "s" }
    )];
    if failed > 0 {
        parts.push(format!("{failed} failed"));
    }
    if offline > 0 {
        parts.push(format!("{offline} offline"));
    }
    if moving > 0 {
        parts.push(format!("{moving} starting or stopping"));
    }
    parts.join(", ")
}

/// Send one state line; errors are logged, never fatal (the daemon works without systemd).
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let bytes = path.as_encoded_bytes();
    let sent = UnixDatagram::unbound().and_then(|sock| {
        if let Some(abstract_name) = bytes.strip_prefix(b"@") {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(abstract_name)?;
            sock.send_to_addr(state.as_bytes(), &addr)
        } else {
            sock.send_to(state.as_bytes(), &path)
        }
    });
    if let Err(e) = sent {
        tracing::warn!("cannot notify systemd ({state}): {e}");
    }
}

/// Half of `WatchdogSec=` when systemd asks for keep-alives for this very process.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.parse::<u32>().ok() != Some(std::process::id()) {
            return None;
        }
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}
