//! The HTTP check (upkeep's own, beside MON-1): a plain HTTP/1.1 `GET` that must answer the
//! expected status within the deadline. Only the status line is read; TLS is out of scope (a
//! `Tcp` check covers an HTTPS port's reachability).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use upkeep_actors::host::ProbeResult;

use super::{secs, tcp, FAILED, INVALID, TIMED_OUT};

/// A status line longer than this is not HTTP.
const STATUS_LINE_MAX: usize = 8 * 1024;

pub(super) async fn check(url: String, expect: u16, deadline: Duration) -> ProbeResult {
    let Some(target) = Target::parse(&url) else {
        return ProbeResult::error(INVALID, format!("`{url}` is not an http:// URL"));
    };
    match tokio::time::timeout(deadline, get(&target)).await {
        Ok(Ok(status)) if status == expect => ProbeResult::normal(),
        Ok(Ok(status)) => ProbeResult::error(
            FAILED,
            format!("GET {url} answered {status}, expected {expect}"),
        ),
        Ok(Err(message)) => ProbeResult::error(FAILED, format!("GET {url}: {message}")),
        Err(_) => ProbeResult::error(
            TIMED_OUT,
            format!("GET {url}: no answer within {}", secs(deadline)),
        ),
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub host: String,
    pub port: u16,
    /// `Host:` header value, as written in the URL.
    pub authority: String,
    pub path: String,
}

impl Target {
    pub(crate) fn parse(url: &str) -> Option<Target> {
        let rest = url.strip_prefix("http://")?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..end];
        let mut path = rest[end..].split('#').next().unwrap_or("").to_owned();
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        // userinfo is not supported: it would be sent in the clear anyway.
        if authority.is_empty() || authority.contains('@') {
            return None;
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']')?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().ok()?,
                None if after.is_empty() => 80,
                None => return None,
            };
            (host.to_owned(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), p.parse().ok()?),
                None => (authority.to_owned(), 80),
            }
        };
        (!host.is_empty()).then(|| Target {
            host,
            port,
            authority: authority.to_owned(),
            path,
        })
    }
}

async fn get(target: &Target) -> Result<u16, String> {
    let mut stream = tcp::connect(&target.host, target.port).await?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: upkeep/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        target.path,
        target.authority,
        env!("CARGO_PKG_VERSION")
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 512];
    while !buf.windows(2).any(|w| w == b"\r\n") {
        if buf.len() > STATUS_LINE_MAX {
            return Err("the answer has no status line".into());
        }
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("cannot read the answer: {e}"))?;
        if n == 0 {
            if buf.is_empty() {
                return Err("the server closed the connection without an answer".into());
            }
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    status_code(&buf).ok_or_else(|| {
        let line = String::from_utf8_lossy(&buf);
        format!(
            "not an HTTP answer: `{}`",
            line.lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(80)
                .collect::<String>()
        )
    })
}

/// `HTTP/1.1 204 No Content` -> 204.
pub(crate) fn status_code(answer: &[u8]) -> Option<u16> {
    let line = answer.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim_end();
    let mut words = line.split_whitespace();
    if !words.next()?.starts_with("HTTP/") {
        return None;
    }
    let code = words.next()?;
    (code.len() == 3).then(|| code.parse().ok()).flatten()
}
