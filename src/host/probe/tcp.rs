//! The TCP check (upkeep's own, beside MON-1): a connect to `host:port` within the deadline.
//! The connection is closed at once; nothing is sent.

use std::time::Duration;

use tokio::net::TcpStream;
use upkeep_actors::host::ProbeResult;

use super::{secs, FAILED, TIMED_OUT};

pub(super) async fn check(host: String, port: u16, deadline: Duration) -> ProbeResult {
    match tokio::time::timeout(deadline, connect(&host, port)).await {
        Ok(Ok(_)) => ProbeResult::normal(),
        Ok(Err(message)) => ProbeResult::error(FAILED, message),
        Err(_) => ProbeResult::error(
            TIMED_OUT,
            format!(
                "no TCP connection to {} within {}",
                target(&host, port),
                secs(deadline)
            ),
        ),
    }
}

/// Connects to `host:port`, trying every address the name resolves to.
pub(super) async fn connect(host: &str, port: u16) -> Result<TcpStream, String> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<_> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let mut last = None;
    for addr in &addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(format!("cannot connect to {addr}: {e}")),
        }
    }
    Err(last.unwrap_or_else(|| format!("{host} resolves to no address")))
}

fn target(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
