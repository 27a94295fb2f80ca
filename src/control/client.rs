//! The operator commands' side of the control socket (CMD-1 `status`; ARCHITECTURE §5 Edges).
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
/// Replies are bounded too: a status of a few thousand objects stays far below this.
const MAX_REPLY: u64 = 64 * 1024 * 1024;

/// Why a command could not talk to the daemon.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the daemon is not running (no socket at {}); start it with `upkeep daemon`", path.display())]
    NotRunning { path: PathBuf },
    #[error("cannot connect to the daemon at {}: {source}", path.display())]
    Connect { path: PathBuf, source: io::Error },
    #[error("the daemon at {} did not {what} within {}s", path.display(), after.as_secs())]
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

/// Send one request and read its reply.
pub async fn request(path: &Path, request: &Request) -> Result<Response, ClientError> {
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, UnixStream::connect(path)).await {
        Err(_) => {
            return Err(ClientError::Timeout {
                path: path.to_path_buf(),
                what: "accept the connection",
                after: CONNECT_TIMEOUT,
            })
        }
        // No socket file, or a file nobody listens on (a daemon that died): not running.
        Ok(Err(e))
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Err(ClientError::NotRunning {
                path: path.to_path_buf(),
            })
        }
        Ok(Err(source)) => {
            return Err(ClientError::Connect {
                path: path.to_path_buf(),
                source,
            })
        }
        Ok(Ok(stream)) => stream,
    };
    let io_err = |source| ClientError::Io {
        path: path.to_path_buf(),
        source,
    };
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_vec(request).map_err(|e| io_err(io::Error::other(e)))?;
    line.push(b'\n');
    let exchange = async {
        write.write_all(&line).await?;
        let mut reply = Vec::new();
        BufReader::new(read)
            .take(MAX_REPLY)
            .read_until(b'\n', &mut reply)
            .await?;
        Ok::<_, io::Error>(reply)
    };
    let reply = match tokio::time::timeout(REPLY_TIMEOUT, exchange).await {
        Err(_) => {
            return Err(ClientError::Timeout {
                path: path.to_path_buf(),
                what: "answer",
                after: REPLY_TIMEOUT,
            })
        }
        Ok(result) => result.map_err(io_err)?,
    };
    if reply.is_empty() {
        return Err(io_err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the daemon closed the connection without answering",
        )));
    }
    serde_json::from_slice(&reply).map_err(|e| ClientError::Protocol {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}
