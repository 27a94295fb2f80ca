//! The control socket (ARCHITECTURE §5 Edges; STYLE-ANCHORS item 11): JSON lines over a Unix
//! socket between `upkeep daemon` and the operator commands (CMD-1..9, OPS-1..5, APPLY-2..6).
//!
//! `proto` holds the only wire types; `snapshot` turns the engine's board and events into them;
//! `ops` owns the engine slot and every operation; `apply` classifies configuration changes;
//! `explain` words the escalation ladders; `feed` numbers events across engines; `server` serves
//! all of it inside the daemon; `client` is the commands' side; `life` follows the daemon's own
//! phase from the event feed.

pub mod apply;
pub mod client;
pub mod explain;
pub mod feed;
pub mod life;
pub mod names;
pub mod ops;
pub mod proto;
pub mod server;
pub mod snapshot;

use std::path::PathBuf;

/// The socket's file name inside the runtime folder.
pub const SOCKET_NAME: &str = "upkeep.sock";

/// Environment variable naming the socket, between the `--socket` flag and the default.
pub const SOCKET_ENV: &str = "UPKEEP_SOCKET";

/// The socket of a daemon run as root with the default folders (`/run/upkeep/`).
pub const SYSTEM_SOCKET: &str = "/run/upkeep/upkeep.sock";

/// Where the socket is when neither `--socket` nor `UPKEEP_SOCKET` says: `/run/upkeep/` as root,
/// the user's runtime folder otherwise (DIR, MAP-3).
pub fn default_socket_path() -> PathBuf {
    crate::host::paths::default_runtime_dir().join(SOCKET_NAME)
}
