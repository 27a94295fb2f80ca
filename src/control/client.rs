//! The operator commands' side of the control socket (CMD-1..9; ARCHITECTURE §5 Edges):
//! one request and its reply, or a `Follow` stream.
//!
//! Every step is bounded in time: a wedged or overloaded daemon makes a command fail with a clear
//! message, never hang.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use super::proto::{Request, Response};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);
/// An operation (a group stop with its scripts' timeouts, a stop/restart apply) may rightly take
/// much longer than a read: the engine bounds each at one hour, so the CLI waits as long (plus a
/// margin) instead of giving up at 30 s while the operation goes on.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(3600 + 60);
/// Replies are bounded too: a status of a few thousand objects stays far below this.
const MAX_REPLY: u64 = 64 * 1024 * 1024;

/// Why a command could not talk to the daemon.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the daemon is not running (no socket at {}); start it with `upkeep daemon`", path.display())]
    NotRunning { path: PathBuf },
    #[error("cannot connect to the daemon at {}: {source}", path.display())]
    Connect { path: PathBuf, source: io::Error },
    #[error("the daemon at {} did not {what} within {}s; an operation may still be running: see `upkeep status` and `upkeep events`", path.display(), after.as_secs())]
    Timeout {
        path: PathBuf,
        what: &'static str,
        after: Duration,
    },
    #[error("lost the connection to the daemon at {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("the daemon at {} sent a reply this command does not understand: {detail}", path.display())]
    Protocol { path: PathBuf, detail: String },
}

impl ClientError {
    /// Whether the peer simply is not there (as opposed to there but failing).
    pub fn is_not_running(&self) -> bool {
        matches!(self, ClientError::NotRunning { .. })
    }
}

/// How long to wait for the reply: a read is quick, an operation waits for the engine.
fn reply_limit(request: &Request) -> Duration {
    if request.changes_state() {
        OPERATION_TIMEOUT
    } else {
        REPLY_TIMEOUT
    }
}

/// Send one request and read its reply.
pub async fn request(path: &Path, request: &Request) -> Result<Response, ClientError> {
    let mut reply = None;
    exchange(path, request, Some(reply_limit(request)), |r| {
        reply = Some(r);
        false
    })
    .await?;
    reply.ok_or_else(|| ClientError::Io {
        path: path.to_path_buf(),
        source: io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the daemon closed the connection without answering",
        ),
    })
}

/// Send `request` and hand each reply line to `each` while it returns true (a `Follow`
/// stream has no end of its own). `timeout` bounds the wait for each line.
pub async fn exchange(
    path: &Path,
    request: &Request,
    timeout: Option<Duration>,
    mut each: impl FnMut(Response) -> bool,
) -> Result<(), ClientError> {
    let mut failed = None;
    exchange_lines(
        path,
        request,
        timeout,
        |line| match serde_json::from_slice(line) {
            Ok(response) => each(response),
            Err(e) => {
                failed = Some(ClientError::Protocol {
                    path: path.to_path_buf(),
                    detail: e.to_string(),
                });
                false
            }
        },
    )
    .await?;
    failed.map_or(Ok(()), Err)
}

/// Send one request and return its reply line as the daemon wrote it (with its `\n`), so that
/// `--json` can print a large reply without parsing and writing it again (issue 14: at 1,000
/// groups and 1,000 monitors that took the CLI 3.5 ms of its 5).
pub async fn request_line(path: &Path, request: &Request) -> Result<Vec<u8>, ClientError> {
    let mut reply = None;
    exchange_lines(path, request, Some(reply_limit(request)), |line| {
        reply = Some(line.to_vec());
        false
    })
    .await?;
    reply.ok_or_else(|| ClientError::Io {
        path: path.to_path_buf(),
        source: io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the daemon closed the connection without answering",
        ),
    })
}

/// [`exchange`] on the raw reply lines.
async fn exchange_lines(
    path: &Path,
    request: &Request,
    timeout: Option<Duration>,
    mut each: impl FnMut(&[u8]) -> bool,
) -> Result<(), ClientError> {
    let stream = connect(path).await?;
    let io_err = |source| ClientError::Io {
        path: path.to_path_buf(),
        source,
    };
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_vec(request).map_err(|e| io_err(io::Error::other(e)))?;
    line.push(b'\n');
    write.write_all(&line).await.map_err(io_err)?;
    let mut reader = BufReader::new(read);
    loop {
        let mut reply = Vec::new();
        let mut bounded = (&mut reader).take(MAX_REPLY);
        let read = bounded.read_until(b'\n', &mut reply);
        let n = match timeout {
            Some(after) => match tokio::time::timeout(after, read).await {
                Err(_) => {
                    return Err(ClientError::Timeout {
                        path: path.to_path_buf(),
                        what: "answer",
                        after,
                    })
                }
                Ok(r) => r.map_err(io_err)?,
            },
            None => read.await.map_err(io_err)?,
        };
        if n == 0 {
            return Ok(());
        }
        if !each(&reply) {
            return Ok(());
        }
    }
}

async fn connect(path: &Path) -> Result<UnixStream, ClientError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, UnixStream::connect(path)).await {
        Err(_) => Err(ClientError::Timeout {
            path: path.to_path_buf(),
            what: "accept the connection",
            after: CONNECT_TIMEOUT,
        }),
        // No socket file, or a file nobody listens on (a daemon that died): not running.
        Ok(Err(e))
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            Err(ClientError::NotRunning {
                path: path.to_path_buf(),
            })
        }
        Ok(Err(source)) => Err(ClientError::Connect {
            path: path.to_path_buf(),
            source,
        }),
        Ok(Ok(stream)) => Ok(stream),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::proto::{Toggle, PROTOCOL_VERSION};

    /// A `group stop` whose stop script runs for minutes is not reported as a dead daemon
    /// after 30 s; a `status` still is.
    #[test]
    fn operations_wait_for_the_engine_and_reads_do_not() {
        assert_eq!(reply_limit(&Request::status()), REPLY_TIMEOUT);
        let stop = Request::Group {
            version: PROTOCOL_VERSION,
            name: "web".into(),
            action: Toggle::Stop,
        };
        assert!(reply_limit(&stop) > Duration::from_secs(3600));
    }
}
