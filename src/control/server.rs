//! The daemon's side of the control socket (ARCHITECTURE §5 Edges; CMD-1..9 through `ops`).
//!
//! One task per connection, one reply line per request line. Whatever a client does (garbage,
//! endless lines, connection floods, never reading its replies) costs it its own connection at
//! most: lines are bounded ([`MAX_LINE`]), idle and slow peers time out, connections are capped
//! (a burst waits briefly for a free place before being told to retry), and reads never reach an
//! actor: status reads the board's watch channels (see `snapshot`).
//!
//! Rights (PEERS §3 item 12): the peer's uid and gid come from SO_PEERCRED. Reading is for
//! whoever may open the socket (its mode says who); changing state is for root, the daemon's own
//! user and members of the operator group (`upkeep daemon --operator-group`).

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::ops::Ops;
use super::proto::{ErrorKind, EventsReply, Request, Response, MAX_LINE, PROTOCOL_VERSION};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};

/// Connections served at once (file descriptors are finite); a burst beyond waits up to
/// [`QUEUE_WAIT`] for a free place, then is told to retry.
const MAX_CONNECTIONS: usize = 256;
const QUEUE_WAIT: Duration = Duration::from_secs(5);
/// A connection that sends nothing for this long is closed.
const IDLE: Duration = Duration::from_secs(300);
/// A client that does not read its reply within this long is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the "is someone already serving this socket" probe waits.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Everything a request may use, and who may change state.
#[derive(Clone)]
pub struct Control {
    pub ops: Arc<Ops>,
    pub access: Access,
}

/// Who may change state besides root.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// The daemon's own effective uid (a user daemon serves its user).
    pub owner: u32,
    /// The operator group's gid and name.
    pub operator_group: Option<(u32, String)>,
}

impl Access {
    /// Whether `uid`/`gid` may change state; group membership is the primary gid or the
    /// group's member list (SO_PEERCRED carries no supplementary groups).
    pub fn may_change(&self, uid: u32, gid: u32) -> bool {
        if uid == 0 || uid == self.owner {
            return true;
        }
        let Some((op_gid, _)) = &self.operator_group else {
            return false;
        };
        if gid == *op_gid {
            return true;
        }
        let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
            .ok()
            .flatten();
        let group = nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(*op_gid))
            .ok()
            .flatten();
        match (user, group) {
            (Some(u), Some(g)) => g.mem.contains(&u.name) || u.gid.as_raw() == *op_gid,
            _ => false,
        }
    }

    fn who_may(&self) -> String {
        match &self.operator_group {
            Some((_, name)) => format!("root or members of the operator group `{name}`"),
            None => "root (start the daemon with `--operator-group GROUP` to allow a group)".into(),
        }
    }
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
pub async fn bind(
    path: &Path,
    mode: Option<u32>,
    group: Option<u32>,
) -> Result<Bound, ServerError> {
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
    let mode = mode.unwrap_or(if nix::unistd::geteuid().is_root() {
        0o660
    } else {
        0o600
    });
    if let Some(gid) = group {
        // The operator group reaches the socket through its group bits.
        nix::unistd::chown(path, None, Some(nix::unistd::Gid::from_raw(gid)))
            .map_err(|e| bind_err(e.into()))?;
    }
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
                Ok((stream, _)) => {
                    let control = control.clone();
                    let permits = permits.clone();
                    connections.spawn(async move {
                        match tokio::time::timeout(QUEUE_WAIT, permits.acquire_owned()).await {
                            Ok(Ok(permit)) => {
                                connection(stream, &control).await;
                                drop(permit);
                            }
                            _ => refuse(stream).await,
                        }
                    });
                }
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
    let reply = Response::failure(
        ErrorKind::Busy,
        format!("too many connections (at most {MAX_CONNECTIONS}); try again"),
    );
    let _ = write_reply(&mut stream, &reply).await;
}

async fn connection(stream: UnixStream, control: &Control) {
    // No credentials (cannot happen on Linux): treated as nobody.
    let (uid, gid) = stream
        .peer_cred()
        .map(|c| (c.uid(), c.gid()))
        .unwrap_or((u32::MAX, u32::MAX));
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
        let request = match parse(text.trim()) {
            Ok(r) => r,
            Err(reply) => {
                if write_reply(&mut write, &reply).await.is_err() {
                    return;
                }
                continue;
            }
        };
        if request.changes_state() && !control.access.may_change(uid, gid) {
            tracing::warn!(
                uid,
                request = request.name(),
                "control socket: refused a state change"
            );
            let reply = Response::failure(
                ErrorKind::Denied,
                format!(
                    "permission denied: uid {uid} may read but not change state (`{}` is for {})",
                    request.name(),
                    control.access.who_may()
                ),
            );
            if write_reply(&mut write, &reply).await.is_err() {
                return;
            }
            continue;
        }
        if request.changes_state() {
            tracing::info!(
                uid,
                request = request.name(),
                "control socket: operator request"
            );
        }
        if let Request::Follow { since, .. } = request {
            follow(since, control, &mut reader, &mut write).await;
            return;
        }
        let down = matches!(request, Request::Down { .. });
        let reply = control.ops.answer(request).await;
        let written = write_reply(&mut write, &reply).await;
        if down {
            // The reply is out: now the process may end (ops already said so).
            control.ops.signal_reply_sent();
        }
        if written.is_err() {
            return;
        }
    }
}

/// `events --follow`: the kept events, then each new one, until the client hangs up.
async fn follow<R, W>(since: u64, control: &Control, reader: &mut R, write: &mut W)
where
    R: AsyncReadExt + Unpin,
    W: AsyncWriteExt + Unpin,
{
    let (past, mut live) = control.ops.feed.since(since);
    let mut last = past.last().map_or(since, |e| e.seq);
    let first = Response::Events(EventsReply {
        version: PROTOCOL_VERSION,
        events: past,
    });
    if write_reply(write, &first).await.is_err() {
        return;
    }
    let mut scratch = [0u8; 256];
    loop {
        tokio::select! {
            event = live.recv() => match event {
                Ok(e) if e.seq > last => {
                    last = e.seq;
                    if write_reply(write, &Response::Event(e)).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    // Catch up from the ring; the client sees no gap unless it lost a whole ring.
                    let (missed, fresh) = control.ops.feed.since(last);
                    live = fresh;
                    for e in missed {
                        last = e.seq;
                        if write_reply(write, &Response::Event(e)).await.is_err() {
                            return;
                        }
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            // Anything but EOF from a follower is ignored; EOF ends the stream.
            read = reader.read(&mut scratch) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
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

/// One request line → a request, or the error reply.
fn parse(line: &str) -> Result<Request, Box<Response>> {
    let request: Request = match serde_json::from_str(line) {
        Ok(r) => r,
        Err(e) => return Err(Box::new(Response::error(format!("bad request: {e}")))),
    };
    let version = request.version();
    if version == 0 || version > PROTOCOL_VERSION {
        return Err(Box::new(Response::error(format!(
            "protocol version {version} is not supported (this daemon speaks {PROTOCOL_VERSION})"
        ))));
    }
    Ok(request)
}
