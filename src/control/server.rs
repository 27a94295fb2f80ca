//! The daemon's side of the control socket (ARCHITECTURE §5 Edges; CMD-1..9 through `ops`).
//!
//! One task per connection, one reply line per request line. Whatever a client does (garbage,
//! endless lines, connection floods, never reading its replies) costs it its own connection at
//! most: lines are bounded ([`MAX_LINE`]), a started line must end within [`REQUEST_DEADLINE`],
//! idle and slow peers time out, connections are capped overall and per reader uid (event
//! streams separately), [`RESERVED`] places are kept for operators, and reads never reach an
//! actor: status reads the board's watch channels (see `snapshot`).
//!
//! Rights (issue 10, docs/SECURITY.md): the peer's uid, gid and supplementary groups are read
//! once per connection (SO_PEERCRED, then `/proc/<pid>/status` pinned by SO_PEERPIDFD) and give
//! it a [`Role`]: operators (root, the daemon's own user, the operator groups) may do anything,
//! readers (the reader groups) may only read, anyone else is refused before taking a place.

use std::collections::HashMap;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::ops::Ops;
use super::proto::{
    decode_request_line, ErrorKind, EventsReply, Request, Response, MAX_LINE, PROTOCOL_VERSION,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

/// Connections served at once (file descriptors are finite); a burst beyond waits up to
/// [`QUEUE_WAIT`] for a free place, then is told to retry.
const MAX_CONNECTIONS: usize = 256;
/// Of [`MAX_CONNECTIONS`], the places only operators may take: however many readers hold
/// connections open, an operator can still connect and stop what needs stopping.
const RESERVED: usize = 16;
/// Connections one reader uid may hold at once, and of those, `events --follow` streams: one
/// local user cannot fill the daemon with idle or never-reading clients.
const PER_READER_UID: usize = 32;
const FOLLOWERS_PER_READER_UID: usize = 8;
/// Connections being turned away (read their request, told why) at once; beyond, a refused
/// connection is closed without a word, so a flood of refused users cannot use up descriptors.
const TURNING_AWAY: usize = 32;
const QUEUE_WAIT: Duration = Duration::from_secs(5);
/// A connection that sends nothing for this long is closed.
const IDLE: Duration = Duration::from_secs(300);
/// A request line that has begun must end within this long (every client sends a line in one
/// write; a half-sent line is a client that holds a place without asking anything).
const REQUEST_DEADLINE: Duration = Duration::from_secs(5);
/// A client that does not read its reply within this long is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the "is someone already serving this socket" probe waits.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// At most one "accept failed" warning this often (at the descriptor limit accept fails on
/// every try).
const ACCEPT_WARN_EVERY: Duration = Duration::from_secs(60);

/// Everything a request may use, and who may change state.
#[derive(Clone)]
pub struct Control {
    pub ops: Arc<Ops>,
    pub access: Access,
}

/// What a connection may do (docs/SECURITY.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Refused at once.
    Nobody,
    /// `status`, `tree`, `events` (also `--follow`), `explain`.
    Reader,
    /// Everything.
    Operator,
}

/// Who is on the other end of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub uid: u32,
    pub gid: u32,
    /// The supplementary groups of the connecting process; `None` when they could not be read
    /// race-free (then the user database stands in).
    pub groups: Option<Vec<u32>>,
}

/// Who may read and who may change state besides root.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// The daemon's own effective uid (a user daemon serves its user).
    pub owner: u32,
    /// The operator groups' gids and names (`--operator-group`).
    pub operators: Vec<(u32, String)>,
    /// The reader groups' gids and names (`--reader-group`).
    pub readers: Vec<(u32, String)>,
    /// `--reader-group '*'`: every local user may read.
    pub everyone_reads: bool,
}

impl Access {
    /// Whether any group was configured: then the socket is open to every local user and this
    /// daemon, not the file mode, decides who may do what.
    pub fn has_groups(&self) -> bool {
        !self.operators.is_empty() || !self.readers.is_empty() || self.everyone_reads
    }

    /// The role of `peer`. Without any group configured, whoever can open the socket (its mode
    /// says who) may read, as before roles existed.
    pub fn role(&self, peer: &Peer) -> Role {
        if peer.uid == 0 || peer.uid == self.owner {
            return Role::Operator;
        }
        if self.operators.iter().any(|(g, _)| member(peer, *g)) {
            return Role::Operator;
        }
        if !self.has_groups()
            || self.everyone_reads
            || self.readers.iter().any(|(g, _)| member(peer, *g))
        {
            return Role::Reader;
        }
        Role::Nobody
    }

    fn who_may(&self) -> String {
        if self.operators.is_empty() {
            "root (start the daemon with `--operator-group GROUP` to allow a group)".into()
        } else {
            format!(
                "root or members of the operator group{} {}",
                if self.operators.len() > 1 { "s" } else { "" },
                names(&self.operators)
            )
        }
    }

    fn who_reads(&self) -> String {
        let mut groups = self.readers.clone();
        groups.extend(self.operators.iter().cloned());
        format!("root or members of {}", names(&groups))
    }
}

fn names(groups: &[(u32, String)]) -> String {
    groups
        .iter()
        .map(|(_, n)| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `peer` belongs to `gid`: its primary group or, when they could be read, the
/// supplementary groups of the very process that connected (what the kernel itself would
/// check); only when they could not, the user database's member list.
fn member(peer: &Peer, gid: u32) -> bool {
    if peer.gid == gid {
        return true;
    }
    if let Some(groups) = &peer.groups {
        return groups.contains(&gid);
    }
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(peer.uid))
        .ok()
        .flatten();
    let group = nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid))
        .ok()
        .flatten();
    match (user, group) {
        (Some(u), Some(g)) => g.mem.contains(&u.name) || u.gid.as_raw() == gid,
        _ => false,
    }
}

/// The peer's credentials. No credentials (cannot happen on Linux): nobody.
pub fn peer_of(stream: &UnixStream) -> Peer {
    let Ok(cred) = stream.peer_cred() else {
        return Peer {
            uid: u32::MAX,
            gid: u32::MAX,
            groups: Some(Vec::new()),
        };
    };
    let groups = cred
        .pid()
        .and_then(|pid| supplementary_groups(stream, pid, cred.uid()));
    Peer {
        uid: cred.uid(),
        gid: cred.gid(),
        groups,
    }
}

/// Issue 10: the supplementary groups of the process that connected, from
/// `/proc/<pid>/status`, or `None` when that cannot be done without a race.
///
/// A pid alone is not an identity: the client may have exited and its pid been reused by
/// another user's process before we read `/proc`. SO_PEERPIDFD (Linux 6.5) hands us a pidfd of
/// the process that connected; a pidfd refers to one process for its whole life, and while that
/// process lives its pid cannot be reused. So: read `/proc/<pid>/status`, *then* ask the pidfd
/// whether the process is still alive (not readable = alive). If it is, the file we read was
/// its own. If it has exited (or the kernel is older), we return `None` and fall back to the
/// primary group and the user database, which never grants more than before. The `Uid:` line
/// must also still show the uid SO_PEERCRED gave (a process that changed its identity since it
/// connected does not get the groups of its new one).
fn supplementary_groups(stream: &UnixStream, pid: i32, uid: u32) -> Option<Vec<u32>> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let pidfd =
        nix::sys::socket::getsockopt(&stream.as_fd(), nix::sys::socket::sockopt::PeerPidfd).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    if poll(&mut fds, PollTimeout::ZERO).ok()? != 0 {
        return None;
    }
    parse_groups(&status, uid)
}

/// The `Groups:` of a `/proc/<pid>/status` text whose effective uid is `uid`.
fn parse_groups(status: &str, uid: u32) -> Option<Vec<u32>> {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::split_whitespace)
    };
    // `Uid:` lists real, effective, saved and filesystem uids; SO_PEERCRED carries the
    // effective one.
    let effective: u32 = field("Uid:")?.nth(1)?.parse().ok()?;
    if effective != uid {
        return None;
    }
    field("Groups:")?.map(|g| g.parse().ok()).collect()
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

/// Mode of the socket's folder when groups are configured (as root): everyone may traverse it,
/// only the daemon's user may write it. packaging/upkeep.service's `RuntimeDirectoryMode=` says
/// the same (a test checks that they agree).
pub const SHARED_FOLDER_MODE: u32 = 0o755;

/// Bind `path`: refuse when another daemon answers there, replace a stale socket file left by a
/// daemon that died, and restrict the file to the owner (and, as root, its group). `shared`
/// (root with reader or operator groups, issue 10): the folder and the socket are reachable by
/// every local user and [`Access::role`] decides; a folder that exists already (systemd made
/// it) and belongs to us gets the traversal bits it lacks.
pub async fn bind(
    path: &Path,
    mode: Option<u32>,
    group: Option<u32>,
    shared: bool,
) -> Result<Bound, ServerError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        let folder_mode = if shared {
            SHARED_FOLDER_MODE
        } else {
            crate::daemon::dirs::private_mode()
        };
        let folder_err = |source| ServerError::Folder {
            path: parent.to_path_buf(),
            source,
        };
        crate::daemon::dirs::create(parent, folder_mode).map_err(folder_err)?;
        if shared {
            crate::daemon::dirs::let_traverse(parent).map_err(folder_err)?;
        }
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
    // With groups configured every local user may connect and the daemon decides per
    // connection; otherwise root shares the socket with its group and a user daemon keeps it
    // to itself.
    let mode = mode.unwrap_or(if shared {
        0o666
    } else if nix::unistd::geteuid().is_root() {
        0o660
    } else {
        0o600
    });
    if let Some(gid) = group {
        // The first operator group also owns the socket (tools that look at the file see it).
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

/// The places connections take: general ones for everyone, [`RESERVED`] ones for operators,
/// and per reader uid counts.
struct Places {
    general: Arc<Semaphore>,
    reserved: Arc<Semaphore>,
    turning_away: Arc<Semaphore>,
    per_uid: Mutex<HashMap<u32, (usize, usize)>>,
}

/// A reader uid's connection or event stream; given back when dropped.
struct UidSlot<'a> {
    places: &'a Places,
    uid: u32,
    follower: bool,
}

impl Places {
    fn new() -> Places {
        Places {
            general: Arc::new(Semaphore::new(MAX_CONNECTIONS - RESERVED)),
            reserved: Arc::new(Semaphore::new(RESERVED)),
            turning_away: Arc::new(Semaphore::new(TURNING_AWAY)),
            per_uid: Mutex::new(HashMap::new()),
        }
    }

    /// A connection (`follower` false) or an event stream (true) for reader `uid`, if its cap
    /// allows.
    fn take_uid(&self, uid: u32, follower: bool) -> Option<UidSlot<'_>> {
        let mut map = self.per_uid.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map.entry(uid).or_insert((0, 0));
        let (count, cap) = if follower {
            (&mut entry.1, FOLLOWERS_PER_READER_UID)
        } else {
            (&mut entry.0, PER_READER_UID)
        };
        if *count >= cap {
            return None;
        }
        *count += 1;
        Some(UidSlot {
            places: self,
            uid,
            follower,
        })
    }

    /// A place for a connection of `role`: operators take a reserved one when the rest are
    /// taken.
    async fn acquire(&self, role: Role) -> Option<OwnedSemaphorePermit> {
        if let Ok(p) = self.general.clone().try_acquire_owned() {
            return Some(p);
        }
        if role == Role::Operator {
            if let Ok(p) = self.reserved.clone().try_acquire_owned() {
                return Some(p);
            }
        }
        match tokio::time::timeout(QUEUE_WAIT, self.general.clone().acquire_owned()).await {
            Ok(Ok(p)) => Some(p),
            _ => None,
        }
    }
}

impl Drop for UidSlot<'_> {
    fn drop(&mut self) {
        let mut map = self
            .places
            .per_uid
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = map.get_mut(&self.uid) {
            if self.follower {
                entry.1 = entry.1.saturating_sub(1);
            } else {
                entry.0 = entry.0.saturating_sub(1);
            }
            if *entry == (0, 0) {
                map.remove(&self.uid);
            }
        }
    }
}

async fn accept_loop(listener: UnixListener, control: Control) {
    let places = Arc::new(Places::new());
    // Dropping the set (when this task is aborted) aborts every connection task.
    let mut connections = JoinSet::new();
    let mut last_warning: Option<tokio::time::Instant> = None;
    let mut quiet_failures = 0u64;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let control = control.clone();
                    let places = places.clone();
                    connections.spawn(async move { admit(stream, &control, &places).await });
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning, and say so once a
                    // minute rather than ten times a second (issue 10).
                    let now = tokio::time::Instant::now();
                    if last_warning.is_none_or(|t| now.duration_since(t) >= ACCEPT_WARN_EVERY) {
                        tracing::warn!(
                            similar_since_last = quiet_failures,
                            "control socket: accept failed: {e}"
                        );
                        last_warning = Some(now);
                        quiet_failures = 0;
                    } else {
                        quiet_failures += 1;
                    }
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

/// Who is it, may it in, is there room: then serve it.
async fn admit(stream: UnixStream, control: &Control, places: &Places) {
    let peer = peer_of(&stream);
    let role = control.access.role(&peer);
    if role == Role::Nobody {
        tracing::warn!(uid = peer.uid, "control socket: refused a connection");
        let reply = Response::failure(
            ErrorKind::Denied,
            format!(
                "permission denied: uid {} may not use this daemon (it is for {})",
                peer.uid,
                control.access.who_reads()
            ),
        );
        answer_once(stream, &reply, places).await;
        return;
    }
    let _uid_slot = if role == Role::Reader {
        match places.take_uid(peer.uid, false) {
            Some(slot) => Some(slot),
            None => {
                let reply = Response::failure(
                    ErrorKind::Busy,
                    format!(
                        "uid {} has {PER_READER_UID} connections open already; close some",
                        peer.uid
                    ),
                );
                answer_once(stream, &reply, places).await;
                return;
            }
        }
    } else {
        None
    };
    match places.acquire(role).await {
        Some(permit) => {
            connection(stream, control, &peer, role, places).await;
            drop(permit);
        }
        None => refuse(stream, places).await,
    }
}

async fn refuse(stream: UnixStream, places: &Places) {
    let reply = Response::failure(
        ErrorKind::Busy,
        format!("too many connections (at most {MAX_CONNECTIONS}); try again"),
    );
    answer_once(stream, &reply, places).await;
}

/// Turn a connection away with `reply`: its request line is read first (briefly), so the
/// client's write does not fail with a broken pipe before it can read why.
async fn answer_once(stream: UnixStream, reply: &Response, places: &Places) {
    let Ok(_turning) = places.turning_away.clone().try_acquire_owned() else {
        return;
    };
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut line = Vec::new();
    let _ = tokio::time::timeout(
        REQUEST_DEADLINE,
        read_request(&mut reader, &mut write, &mut line),
    )
    .await;
    let _ = write_reply(&mut write, reply).await;
}

/// Read one request line: `None` when the peer hung up, went idle or sent an oversized or
/// unfinished line (after telling it why, where it should know).
async fn read_request<R, W>(reader: &mut BufReader<R>, write: &mut W, line: &mut Vec<u8>) -> bool
where
    R: AsyncReadExt + Unpin,
    W: AsyncWriteExt + Unpin,
{
    line.clear();
    // Waiting for a request may take long; once a line has begun it must end soon.
    match tokio::time::timeout(IDLE, reader.fill_buf()).await {
        Ok(Ok(buf)) if !buf.is_empty() => {}
        _ => return false,
    }
    let limit = u64::try_from(MAX_LINE + 1).unwrap_or(u64::MAX);
    let mut bounded = (&mut *reader).take(limit);
    match tokio::time::timeout(REQUEST_DEADLINE, bounded.read_until(b'\n', line)).await {
        Ok(Ok(0)) | Ok(Err(_)) => return false,
        Ok(Ok(_)) => {}
        Err(_) => {
            let reply = Response::error(format!(
                "request line not finished within {} s; closing the connection",
                REQUEST_DEADLINE.as_secs()
            ));
            let _ = write_reply(write, &reply).await;
            return false;
        }
    }
    if line.last() != Some(&b'\n') && line.len() > MAX_LINE {
        let reply = Response::error(format!(
            "request line longer than {} KiB; closing the connection",
            MAX_LINE / 1024
        ));
        let _ = write_reply(write, &reply).await;
        return false;
    }
    true
}

async fn connection(
    stream: UnixStream,
    control: &Control,
    peer: &Peer,
    role: Role,
    places: &Places,
) {
    let uid = peer.uid;
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut line = Vec::new();
    loop {
        if !read_request(&mut reader, &mut write, &mut line).await {
            return;
        }
        let request = match decode_request_line(&line) {
            None => continue,
            Some(Ok(r)) => r,
            Some(Err(reply)) => {
                if write_reply(&mut write, &reply).await.is_err() {
                    return;
                }
                continue;
            }
        };
        if request.changes_state() && role < Role::Operator {
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
            let _stream_slot = if role == Role::Reader {
                match places.take_uid(uid, true) {
                    Some(slot) => Some(slot),
                    None => {
                        let reply = Response::failure(
                            ErrorKind::Busy,
                            format!("uid {uid} follows {FOLLOWERS_PER_READER_UID} event streams already; close some"),
                        );
                        let _ = write_reply(&mut write, &reply).await;
                        return;
                    }
                }
            } else {
                None
            };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_come_from_the_status_of_the_same_user_only() {
        let status = "Name:\tx\nUid:\t1000\t1000\t1000\t1000\nGid:\t100\t100\t100\t100\nGroups:\t4 27 100 \n";
        assert_eq!(parse_groups(status, 1000), Some(vec![4, 27, 100]));
        // Another effective uid: not the identity that connected.
        assert_eq!(parse_groups(status, 1001), None);
        let none = "Uid:\t5\t5\t5\t5\nGroups:\t\n";
        assert_eq!(parse_groups(none, 5), Some(vec![]));
    }

    #[test]
    fn roles_follow_the_configured_groups() {
        let peer = |uid, gid, groups: &[u32]| Peer {
            uid,
            gid,
            groups: Some(groups.to_vec()),
        };
        let open = Access {
            owner: 0,
            ..Access::default()
        };
        // No groups: the socket's mode decides who reads.
        assert_eq!(open.role(&peer(1000, 1000, &[])), Role::Reader);
        assert_eq!(open.role(&peer(0, 0, &[])), Role::Operator);
        let access = Access {
            owner: 0,
            operators: vec![(10, "ops".into())],
            readers: vec![(20, "mon".into())],
            everyone_reads: false,
        };
        assert_eq!(access.role(&peer(1000, 1000, &[])), Role::Nobody);
        assert_eq!(access.role(&peer(1000, 1000, &[20])), Role::Reader);
        assert_eq!(access.role(&peer(1000, 20, &[])), Role::Reader);
        assert_eq!(access.role(&peer(1000, 1000, &[20, 10])), Role::Operator);
        let everyone = Access {
            everyone_reads: true,
            ..access
        };
        assert_eq!(everyone.role(&peer(1000, 1000, &[])), Role::Reader);
    }
}
