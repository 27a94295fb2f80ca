//! The IP monitor (MON-1 `ip`, HWM-1..7, MAP-10): ICMP echo to each configured address; normal
//! as soon as any one answers, error when none answers before the deadline.
//!
//! Sockets: an unprivileged ICMP datagram socket when `net.ipv4.ping_group_range` admits the
//! daemon's group, else a raw socket (needs root or CAP_NET_RAW). Both are plain non-blocking
//! fds driven by tokio, so a silent network costs no thread. A request goes out every second
//! until the deadline, so a reply lost once does not fail the check.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::OwnedFd;
use std::time::Duration;

use nix::sys::socket::{socket, AddressFamily, SockFlag, SockProtocol, SockType};
use tokio::net::UdpSocket;
use upkeep_actors::host::ProbeResult;

use super::{secs, FAILED, INVALID, TIMED_OUT};

const RESEND: Duration = Duration::from_secs(1);
const PAYLOAD: &[u8] = b"upkeep ip monitor";

pub(super) async fn check(addresses: Vec<String>, deadline: Duration) -> ProbeResult {
    let mut targets = Vec::new();
    for a in &addresses {
        match a.trim().parse::<IpAddr>() {
            Ok(ip) => targets.push(ip),
            Err(_) => return ProbeResult::error(INVALID, format!("`{a}` is not an IP address")),
        }
    }
    if targets.is_empty() {
        return ProbeResult::error(INVALID, "no address to ping");
    }
    let mut pings = tokio::task::JoinSet::new();
    for ip in targets.iter().copied() {
        pings.spawn(async move { (ip, ping(ip, deadline).await) });
    }
    let mut failures = Vec::new();
    while let Some(joined) = pings.join_next().await {
        match joined {
            Ok((_, Ok(()))) => return ProbeResult::normal(),
            Ok((ip, Err(why))) => failures.push(format!("{ip}: {why}")),
            Err(e) => failures.push(format!("ping task failed: {e}")),
        }
    }
    let all_silent = failures.iter().all(|f| f.ends_with("no echo reply"));
    let code = if all_silent { TIMED_OUT } else { FAILED };
    ProbeResult::error(
        code,
        format!(
            "no address answered within {} ({})",
            secs(deadline),
            failures.join("; ")
        ),
    )
}

/// Echo requests to `ip` until one is answered or `deadline` passes.
async fn ping(ip: IpAddr, deadline: Duration) -> Result<(), String> {
    let (sock, raw) = open(ip)?;
    let ident = (std::process::id() as u16) ^ (rand_ish() as u16);
    let dest = SocketAddr::new(ip, 0);
    let mut buf = [0u8; 1500];
    let outcome = tokio::time::timeout(deadline, async {
        let mut seq: u16 = 0;
        loop {
            seq = seq.wrapping_add(1);
            let packet = echo_request(ip.is_ipv4(), ident, seq);
            if let Err(e) = sock.send_to(&packet, dest).await {
                // A link that is down or an unreachable route answer at once: keep trying
                // until the deadline, the link may come back.
                tracing::debug!(%ip, error = %e, "echo request not sent");
            }
            let wait = tokio::time::sleep(RESEND);
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    () = &mut wait => break,
                    got = sock.recv_from(&mut buf) => {
                        let Ok((n, from)) = got else { continue };
                        if from.ip() == ip && is_reply(&buf[..n], ip.is_ipv4(), raw, ident) {
                            return;
                        }
                    }
                }
            }
        }
    })
    .await;
    outcome.map_err(|_| "no echo reply".to_owned())
}

/// An ICMP socket for `ip`'s family: datagram if allowed, raw otherwise. `true` = raw.
fn open(ip: IpAddr) -> Result<(UdpSocket, bool), String> {
    let (family, proto) = if ip.is_ipv4() {
        (AddressFamily::Inet, SockProtocol::Icmp)
    } else {
        (AddressFamily::Inet6, SockProtocol::IcmpV6)
    };
    let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
    let (fd, raw): (OwnedFd, bool) = match socket(family, SockType::Datagram, flags, proto) {
        Ok(fd) => (fd, false),
        Err(dgram) => match socket(family, SockType::Raw, flags, proto) {
            Ok(fd) => (fd, true),
            Err(raw) => {
                return Err(format!(
                    "cannot open an ICMP socket (datagram: {dgram}; raw: {raw}); allow the daemon's group in net.ipv4.ping_group_range or run it with CAP_NET_RAW"
                ))
            }
        },
    };
    // ICMP sockets speak datagrams with addresses, which is exactly UdpSocket's interface.
    let std_sock = std::net::UdpSocket::from(fd);
    UdpSocket::from_std(std_sock)
        .map(|s| (s, raw))
        .map_err(|e| format!("cannot register the ICMP socket: {e}"))
}

/// Echo request: type, code, checksum, identifier, sequence, payload.
pub(crate) fn echo_request(v4: bool, ident: u16, seq: u16) -> Vec<u8> {
    let mut p = Vec::with_capacity(8 + PAYLOAD.len());
    p.push(if v4 { 8 } else { 128 });
    p.push(0);
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(&ident.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(PAYLOAD);
    if v4 {
        // ICMPv6 checksums cover a pseudo-header; the kernel fills them in for us.
        let sum = checksum(&p);
        p[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    p
}

/// Whether `packet` is an echo reply to us. A raw IPv4 socket delivers the IP header too and
/// every ICMP packet the host gets, so check the identifier and payload there; a datagram
/// socket's kernel already matched the identifier (it rewrites it to the socket's port).
pub(crate) fn is_reply(packet: &[u8], v4: bool, raw: bool, ident: u16) -> bool {
    let icmp = if v4 && raw {
        let Some(first) = packet.first() else {
            return false;
        };
        let ihl = usize::from(first & 0x0f) * 4;
        match packet.get(ihl..) {
            Some(rest) => rest,
            None => return false,
        }
    } else {
        packet
    };
    if icmp.len() < 8 {
        return false;
    }
    let reply_type = if v4 { 0 } else { 129 };
    if icmp[0] != reply_type || icmp[1] != 0 {
        return false;
    }
    if raw && u16::from_be_bytes([icmp[4], icmp[5]]) != ident {
        return false;
    }
    icmp[8..].starts_with(PAYLOAD)
}

/// RFC 1071 Internet checksum.
pub(crate) fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in data.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Distinguishes concurrent probes of one process on raw sockets; not security relevant.
fn rand_ish() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}
