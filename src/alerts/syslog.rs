//! The syslog channel (MSG-6): one datagram per message to the local syslog socket
//! (`/dev/log`), in the form glibc's syslog(3) writes and both rsyslog's imuxsock and journald
//! parse: `<PRI>Mmm dd hh:mm:ss IDENT[PID]: BODY`, no host name (it would be taken for the
//! program name), facility `daemon`, severity from the message's level. BODY is the seed's
//! `<type: rc><event: 30> The start processing of a resource exec1 started.`
//!
//! Non-blocking: a full socket buffer (syslogd busy) drops the line and counts it, never waits.
//! An unbound socket and `send_to` per line, so a restarted syslogd is found again.
//! The timestamp is UTC: syslogd stamps the line itself on receipt (rsyslog's imuxsock and
//! journald ignore the one sent by default).

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use super::catalogue::Lvl;

/// syslog facility `daemon` (3).
const FACILITY_DAEMON: u8 = 3;

pub struct Syslog {
    socket: Option<UnixDatagram>,
    path: PathBuf,
    ident: String,
    pid: u32,
    pub dropped: Arc<AtomicU64>,
    failing: bool,
}

impl Syslog {
    pub fn new(settings: &upkeep_config::Syslog) -> Syslog {
        let socket = UnixDatagram::unbound().and_then(|s| {
            s.set_nonblocking(true)?;
            Ok(s)
        });
        let socket = match socket {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!("syslog: cannot make a socket: {e}; nothing goes to syslog");
                None
            }
        };
        Syslog {
            socket,
            path: settings.socket.clone(),
            ident: settings.ident.clone(),
            pid: std::process::id(),
            dropped: Arc::new(AtomicU64::new(0)),
            failing: false,
        }
    }

    /// The datagram for one message.
    pub fn datagram(&self, level: Lvl, body: &str, at: SystemTime) -> String {
        let pri = FACILITY_DAEMON * 8 + level.severity();
        format!("<{pri}>{} {}[{}]: {body}", stamp(at), self.ident, self.pid)
    }

    pub fn send(&mut self, level: Lvl, body: &str) {
        let Some(socket) = &self.socket else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let datagram = self.datagram(level, body, SystemTime::now());
        match socket.send_to(datagram.as_bytes(), &self.path) {
            Ok(_) => {
                if self.failing {
                    tracing::info!(socket = %self.path.display(), "syslog: sending again");
                    self.failing = false;
                }
            }
            Err(e) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                // Once per failing spell: a missing syslogd must not flood the daemon's log.
                if !self.failing {
                    tracing::warn!(socket = %self.path.display(), "syslog: cannot send ({e}); lines are dropped and counted until it works again");
                    self.failing = true;
                }
            }
        }
    }
}

/// `Mmm dd hh:mm:ss` (day padded with a space, as RFC 3164 writes it), UTC.
fn stamp(at: SystemTime) -> String {
    // humantime gives `2026-12-02T03:22:38Z`.
    let text = humantime::format_rfc3339_seconds(at).to_string();
    let month = text
        .get(5..7)
        .and_then(|m| m.parse::<usize>().ok())
        .and_then(|m| {
            [
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ]
            .get(m.wrapping_sub(1))
            .copied()
        })
        .unwrap_or("Jan");
    let day: u32 = text.get(8..10).and_then(|d| d.parse().ok()).unwrap_or(1);
    let time = text.get(11..19).unwrap_or("00:00:00");
    format!("{month} {day:>2} {time}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn the_datagram_is_glibc_style_daemon_facility_without_host_name() {
        let s = Syslog::new(&upkeep_config::Syslog {
            enabled: true,
            socket: "/nonexistent".into(),
            ident: "CLUSTERPRO".into(),
        });
        // 2005-01-31 05:47:58 UTC
        let at = UNIX_EPOCH + Duration::from_secs(1_107_150_478);
        let d = s.datagram(
            Lvl::Info,
            "<type: pm><event: 1> Cluster daemon has started properly...",
            at,
        );
        assert_eq!(
            d,
            format!("<30>Jan 31 05:47:58 CLUSTERPRO[{}]: <type: pm><event: 1> Cluster daemon has started properly...", std::process::id())
        );
        assert!(s.datagram(Lvl::Err, "x", at).starts_with("<27>"));
        let early = UNIX_EPOCH + Duration::from_secs(1_107_150_478 - 30 * 86400);
        assert!(s.datagram(Lvl::Warn, "x", early).starts_with("<28>Jan  1 "));
    }
}
