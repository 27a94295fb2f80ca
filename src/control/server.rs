//! The daemon's side of the control socket (ARCHITECTURE §5 Edges; CMD-1 status).
//!
//! One task per connection, one reply line per request line. Whatever a client does (garbage,
//! endless lines, connection floods, never reading its replies) costs it its own connection at
//! most: lines are bounded ([`MAX_LINE`]), idle and slow peers time out, connections are capped,
//! and no request reaches an actor: status reads the board's watch channels (see `snapshot`).

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use upkeep_actors::board::Board;
use upkeep_actors::event::Events;
use upkeep_config::Config;

use super::life::Life;
use super::proto::{EventsReply, Request, Response, MAX_LINE, PROTOCOL_VERSION};
use super::snapshot::{self, ServerFacts};

/// Connections served at once; more are told so and closed (file descriptors are finite).
const MAX_CONNECTIONS: usize = 64;
/// A connection that sends nothing for this long is closed.
const IDLE: Duration = Duration::from_secs(300);
/// A client that does not read its reply within this long is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the "is someone already serving this socket" probe waits.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Everything a request may read.
#[derive(Clone)]
pub struct Control {
    pub config: Arc<Config>,
    pub board: Arc<Board>,
    pub events: Events,
    pub facts: ServerFacts,
    pub life: watch::Receiver<Life>,
}

/// Why the socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("another upkeep daemon is already serving `{}`", path.display())]
    InUse { path: PathBuf },
    #[error("`{}` exists and is not a socket; remove it or pick another --socket", path.display())]
    NotASocket { path: PathBuf },
    #[error("cannot create the socket folder `{}`: {source}", path.display())]
    Folder { path: PathBuf, source: io::Error },
    #[error("cannot remove the stale socket `{}`: {source}", path.display())]
    Stale { path: PathBuf, source: io::Error },
    #[error("cannot listen on `{}`: {source}", path.display())]
    Bind { path: PathBuf, source: io::Error },
}

/// A bound socket, not yet serving.
pub struct Bound {
    listener: UnixListener,
    path: PathBuf,
    /// Device and inode of the socket file we created: on exit only that file is removed.
    identity: Option<(u64, u64)>,
}

/// Bind `path`: refuse when another daemon answers there, replace a stale socket file left by a
/// daemon that died, and restrict the file to the owner (and, as root, its group).
pub async fn bind(path: &Path) -> Result<Bound, ServerError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::daemon::dirs::create(parent, crate::daemon::dirs::private_mode()).map_err(
            |source| ServerError::Folder {
                path: parent.to_path_buf(),
                source,
            },
        )?;
    }
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(ServerError::Bind {
                path: path.to_path_buf(),
                source,
            })
        }
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(ServerError::NotASocket {
                path: path.to_path_buf(),
            })
        }
        Ok(_) => match tokio::time::timeout(PROBE_TIMEOUT, UnixStream::connect(path)).await {
            // Someone accepted, or is too busy to: either way it is alive.
            Ok(Ok(_)) | Err(_) => {
                return Err(ServerError::InUse {
                    path: path.to_path_buf(),
                })
            }
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
                std::fs::remove_file(path).map_err(|source| ServerError::Stale {
                    path: path.to_path_buf(),
                    source,
                })?;
            }
            Ok(Err(source)) => {
                return Err(ServerError::Bind {
                    path: path.to_path_buf(),
                    source,
                })
            }
        },
    }
    let bind_err = |source| ServerError::Bind {
        path: path.to_path_buf(),
        source,
    };
    let listener = UnixListener::bind(path).map_err(bind_err)?;
    // Root shares the socket with its group (an operators' group can run `upkeep status`);
    // a user daemon keeps it to itself.
    let mode = if nix::unistd::geteuid().is_root() {
        0o660
    } else {
        0o600
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(bind_err)?;
    let identity = std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()));
    Ok(Bound {
        listener,
        path: path.to_path_buf(),
        identity,
    })
}

impl Bound {
    /// Give the socket up without serving (the daemon failed to start): remove its file.
    pub fn discard(self) {
        drop(self.listener);
        remove_if_ours(&self.path, self.identity);
    }
}

/// A serving socket.
pub struct Server {
    path: PathBuf,
    identity: Option<(u64, u64)>,
    task: JoinHandle<()>,
}

/// Serve `bound` until [`Server::shutdown`].
pub fn serve(bound: Bound, control: Control) -> Server {
    let Bound {
        listener,
        path,
        identity,
    } = bound;
    let task = tokio::spawn(accept_loop(listener, control));
    Server {
        path,
        identity,
        task,
    }
}

impl Server {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stop accepting, drop every connection and remove the socket file (only if it is still
    /// the one this daemon created).
    pub async fn shutdown(self) {
        self.task.abort();
        let _ = self.task.await;
        remove_if_ours(&self.path, self.identity);
    }
}

fn remove_if_ours(path: &Path, identity: Option<(u64, u64)>) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if identity.is_none_or(|id| id == (meta.dev(), meta.ino())) {
        if let Err(e) = std::fs::remove_file(path) {
            tracing::warn!(path = %path.display(), "cannot remove the control socket: {e}");
        }
    }
}

async fn accept_loop(listener: UnixListener, control: Control) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    // Dropping the set (when this task is aborted) aborts every connection task.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => match permits.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let control = control.clone();
                        connections.spawn(async move {
                            connection(stream, &control).await;
                            drop(permit);
                        });
                    }
                    Err(_) => {
                        connections.spawn(refuse(stream));
                    }
                },
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!("control socket: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(done) = connections.join_next() => {
                if let Err(e) = done {
                    if e.is_panic() {
                        tracing::error!("control socket: a connection task panicked: {e}");
                    }
                }
            }
        }
    }
}

async fn refuse(mut stream: UnixStream) {
    let reply = Response::error(format!(
        "too many connections (at most {MAX_CONNECTIONS}); try again"
    ));
    let _ = write_reply(&mut stream, &reply).await;
}

async fn connection(stream: UnixStream, control: &Control) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut line = Vec::new();
    loop {
        line.clear();
        let limit = u64::try_from(MAX_LINE + 1).unwrap_or(u64::MAX);
        let mut bounded = (&mut reader).take(limit);
        match tokio::time::timeout(IDLE, bounded.read_until(b'\n', &mut line)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return,
            Ok(Ok(_)) => {}
        }
        if line.last() != Some(&b'\n') && line.len() > MAX_LINE {
            let reply = Response::error(format!(
                "request line longer than {} KiB; closing the connection",
                MAX_LINE / 1024
            ));
            let _ = write_reply(&mut write, &reply).await;
            return;
        }
        let text = String::from_utf8_lossy(&line);
        if text.trim().is_empty() {
            continue;
        }
        let reply = answer(text.trim(), control);
        if write_reply(&mut write, &reply).await.is_err() {
            return;
        }
    }
}

async fn write_reply<W: AsyncWriteExt + Unpin>(out: &mut W, reply: &Response) -> io::Result<()> {
    let mut bytes = serde_json::to_vec(reply).map_err(io::Error::other)?;
    bytes.push(b'\n');
    match tokio::time::timeout(WRITE_TIMEOUT, out.write_all(&bytes)).await {
        Ok(done) => done,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "client does not read",
        )),
    }
}

/// One request line → one reply.
fn answer(line: &str, control: &Control) -> Response {
    let request: Request = match serde_json::from_str(line) {
        Ok(r) => r,
        Err(e) => return Response::error(format!("bad request: {e}")),
    };
    let version = request.version();
    if version == 0 || version > PROTOCOL_VERSION {
        return Response::error(format!(
            "protocol version {version} is not supported (this daemon speaks {PROTOCOL_VERSION})"
        ));
    }
    match request {
        Request::Status { .. } => {
            let last_seq = control.events.recent().last().map_or(0, |e| e.seq);
            let life = *control.life.borrow();
            Response::Status(snapshot::status(
                &control.config,
                &control.board,
                &control.facts,
                life,
                last_seq,
            ))
        }
        Request::Events { since, .. } => {
            let (past, _) = control.events.subscribe_since(since);
            Response::Events(EventsReply {
                version: PROTOCOL_VERSION,
                events: past.iter().map(snapshot::event).collect(),
            })
        }
    }
}
