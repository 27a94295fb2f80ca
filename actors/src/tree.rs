//! The live supervision tree for `upkeep tree`: every actor with its path, kind, state, restarts
//! in the window, last failure and since when, and the pid where it has one.
//!
//! Read without sending a message (RACTOR-NOTES §3): ractor's `get_children` walk gives the
//! shape and each actor's status, the crash journal the restarts, the board the pids. So a
//! wedged actor shows up as what it is instead of hanging the command.

use std::time::SystemTime;

use ractor::ActorCell;

use crate::ctx::Ctx;

/// One actor of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeNode {
    /// Path without the instance prefix (`rc/web/exec1`); the root is the instance name.
    pub path: String,
    /// daemon, governor, rc, rm, group, resource, retry-counter, monitor, probe, userspace.
    pub kind: &'static str,
    /// ractor's lifecycle status: running, stopping, ...
    pub status: String,
    /// Crashes recorded within the core restart period.
    pub restarts: usize,
    pub last_failure: Option<String>,
    pub last_failure_at: Option<SystemTime>,
    /// The OS process of an exec resource.
    pub pid: Option<u32>,
    /// Issue 9: how often an exec resource's process was started again (reactivations,
    /// retries, crash-loop restarts), as `status` counts them. Actor crashes are `restarts`;
    /// a crash-looping program whose actors are healthy shows here, not there.
    pub process_restarts: Option<u32>,
    pub children: Vec<TreeNode>,
}

fn kind_of(path: &str) -> &'static str {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["governor"] => "governor",
        ["rc"] => "rc",
        ["rm"] => "rm",
        ["rc", _] => "group",
        ["rc", _, _] => "resource",
        ["rc", _, _, "retry"] => "retry-counter",
        ["rm", _] => "monitor",
        ["rm", _, "probe"] => "probe",
        ["rm", _, "recovery"] => "retry-counter",
        ["userspace", _] => "userspace",
        [_] => "daemon",
        _ => "actor",
    }
}

/// Snapshot the tree under `root`.
pub fn snapshot(ctx: &Ctx, root: &ActorCell) -> TreeNode {
    let name = root
        .get_name()
        .unwrap_or_else(|| format!("{}", root.get_id()));
    let path = ctx.names.display(&name).to_string();
    let kind = if name == ctx.names.daemon() {
        "daemon"
    } else {
        kind_of(&path)
    };
    let period = ctx.config.core_restart.period;
    let record = ctx.journal.get(&name);
    let now = tokio::time::Instant::now();
    let restarts = record
        .as_ref()
        .map(|r| {
            r.crashes
                .iter()
                .filter(|t| now.duration_since(**t) <= period)
                .count()
        })
        .unwrap_or(0);
    let (last_failure, last_failure_at) = match record.and_then(|r| r.last_failure) {
        Some((why, at)) => (Some(why), Some(at)),
        None => (None, None),
    };
    let entry = match kind {
        "resource" => path.rsplit('/').next().and_then(|r| ctx.board.resource(r)),
        _ => None,
    };
    let pid = entry.as_ref().and_then(|r| r.pid);
    let process_restarts = entry.as_ref().map(|r| r.starts.saturating_sub(1));
    let mut children: Vec<ActorCell> = root.get_children();
    children.sort_by_key(|c| c.get_name().unwrap_or_default());
    TreeNode {
        path,
        kind,
        status: format!("{:?}", root.get_status()).to_lowercase(),
        restarts,
        last_failure,
        last_failure_at,
        pid,
        process_restarts,
        children: children.iter().map(|c| snapshot(ctx, c)).collect(),
    }
}
