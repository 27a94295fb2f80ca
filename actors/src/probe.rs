//! Probe: the risky part of a monitor — the check itself, which may hang or crash — kept in its
//! own actor so the monitor's counters survive a probe restart (ARCHITECTURE §2).
//!
//! The pid monitor (MON-10) needs no I/O: its check reads the board entry of its exec resource,
//! and the monitor itself subscribes to the resource's exit reports, so a dead process is seen
//! without waiting for the next interval. Board-only checks (pid, multi-target) run in the
//! monitor, which then has no probe at all ([`needs_probe`]). Every other type asks the Host, in a helper task
//! bounded by the monitor's timeout (MON-4), so a hung check never blocks the actor, other
//! monitors, or the daemon.

use ractor::{Actor, ActorProcessingErr, ActorRef};
use upkeep_config::{Monitor, MonitorKind};

use crate::board::{Board, ResourceStatus};
use crate::ctx::Ctx;
use crate::host::{ProbeResult, Verdict};
use crate::monitor::MonitorMsg;
use crate::task::Task;

pub struct ProbeActor;

pub struct ProbeArgs {
    pub ctx: Ctx,
    pub spec: Monitor,
    pub monitor: ActorRef<MonitorMsg>,
}

pub enum ProbeMsg {
    /// Run one check and send the result, tagged with `epoch`, to the monitor.
    Check { epoch: u64 },
}

pub struct ProbeState {
    ctx: Ctx,
    spec: Monitor,
    monitor: ActorRef<MonitorMsg>,
    in_flight: Option<Task>,
}

/// The checks that only read the board (no I/O, nothing that can hang): the pid monitor and
/// the multi-target monitor. `None` for the types the Host probes.
pub fn board_check(board: &Board, kind: &MonitorKind) -> Option<ProbeResult> {
    match kind {
        MonitorKind::Pid { resource } => Some(check_pid(board, resource)),
        MonitorKind::MultiTarget {
            members,
            error_threshold,
            warning_threshold,
        } => Some(check_members(
            board,
            members,
            *error_threshold,
            *warning_threshold,
        )),
        _ => None,
    }
}

/// Whether a monitor of `kind` needs a Probe actor: the board-only checks run in the monitor
/// itself, so for them a probe would be an idle actor per monitor.
pub fn needs_probe(kind: &MonitorKind) -> bool {
    !matches!(
        kind,
        MonitorKind::Pid { .. } | MonitorKind::MultiTarget { .. }
    )
}

/// MTM-1: the multi-target monitor counts its members in error (their last check); error at
/// `error_threshold` of them (default: all), warning at `warning_threshold`.
fn check_members(
    board: &Board,
    members: &[String],
    error_at: Option<u32>,
    warning_at: Option<u32>,
) -> ProbeResult {
    let failing: Vec<&str> = members
        .iter()
        .filter(|m| board.monitor(m).and_then(|s| s.last_verdict) == Some(Verdict::Error))
        .map(String::as_str)
        .collect();
    let count = failing.len() as u32;
    let total = members.len() as u32;
    let detail = format!(
        "{count} of {total} members in error: {}",
        failing.join(", ")
    );
    if count > 0 && count >= error_at.unwrap_or(total) {
        ProbeResult::error(1, detail)
    } else if warning_at.is_some_and(|w| count > 0 && count >= w) {
        ProbeResult {
            verdict: Verdict::Warning,
            code: 0,
            message: detail,
        }
    } else {
        ProbeResult::normal()
    }
}

/// MON-10: the resource's process is alive when the board shows a pid for it.
fn check_pid(board: &Board, resource: &str) -> ProbeResult {
    pid_result(resource, board.resource(resource).as_ref())
}

/// The pid check on one reading of `resource`'s board entry.
pub fn pid_result(resource: &str, status: Option<&ResourceStatus>) -> ProbeResult {
    match status {
        Some(status) if status.pid.is_some() => ProbeResult::normal(),
        Some(status) => {
            let how = status
                .last_exit
                .map(|e| format!(" (ended with {e})"))
                .unwrap_or_default();
            ProbeResult::error(
                1,
                format!("process of resource {resource} is not running{how}"),
            )
        }
        None => ProbeResult::error(5, format!("resource {resource} is unknown")),
    }
}

impl Actor for ProbeActor {
    type Msg = ProbeMsg;
    type State = ProbeState;
    type Arguments = ProbeArgs;

    async fn pre_start(
        &self,
        _me: ActorRef<ProbeMsg>,
        args: ProbeArgs,
    ) -> Result<ProbeState, ActorProcessingErr> {
        Ok(ProbeState {
            ctx: args.ctx,
            spec: args.spec,
            monitor: args.monitor,
            in_flight: None,
        })
    }

    async fn handle(
        &self,
        me: ActorRef<ProbeMsg>,
        msg: ProbeMsg,
        state: &mut ProbeState,
    ) -> Result<(), ActorProcessingErr> {
        state.ctx.chaos_check(&me.get_cell());
        let ProbeMsg::Check { epoch } = msg;
        // Only monitors that `needs_probe` have a probe: board-only checks never come here.
        // One check at a time: a check still running (it has its timeout) makes this tick a no-op.
        if state.in_flight.as_ref().is_some_and(|t| !t.is_finished()) {
            return Ok(());
        }
        let host = state.ctx.host.clone();
        let spec = state.spec.clone();
        let monitor = state.monitor.clone();
        state.in_flight = Some(Task::spawn(async move {
            let timeout = spec.timeout;
            let started = tokio::time::Instant::now();
            let mut check = tokio::spawn(async move { host.probe(&spec).await });
            let result = match tokio::time::timeout(timeout, &mut check).await {
                Ok(Ok(result)) => result,
                Ok(Err(join)) => ProbeResult::error(1, format!("probe crashed: {join}")),
                // MON-4: no normal state confirmed within the timeout.
                Err(_) => {
                    check.abort();
                    ProbeResult::error(
                        1,
                        format!("no answer within the timeout of {}s", timeout.as_secs()),
                    )
                }
            };
            let elapsed = started.elapsed();
            let _ = monitor.cast(MonitorMsg::CheckResult {
                epoch,
                result,
                elapsed,
            });
        }));
        Ok(())
    }
}
