//! Board and event feed → wire types: the only place that knows both the engine's types and the
//! protocol's (STYLE-ANCHORS item 11: one conversion per DTO; CMD-1 status, MSG-5/MSG-6 events).
//!
//! Reads the board's watch channels without messaging any actor, so a snapshot never waits on a
//! busy or wedged actor.

use crate::host::probe::kind_key;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use upkeep_actors::board::{
    Board, GroupState, MonitorPhase, MonitorStatus, ResourceState, ResourceStatus,
};
use upkeep_actors::event::{Event, Level};
use upkeep_actors::host::{ExitInfo, Verdict};
use upkeep_config::{Config, ExecResource, OsActions, RecoveryTarget, StartMode};

use super::life::Life;
use super::proto::{
    EventDto, ExitDto, GovernorDto, GroupDto, MonitorDto, ResourceDto, ServerDto, StatusReply,
    PROTOCOL_VERSION,
};

/// What the snapshot needs besides the board: facts about this daemon process.
#[derive(Debug, Clone)]
pub struct ServerFacts {
    pub host: String,
    pub pid: u32,
    pub started: tokio::time::Instant,
    /// `cgroup2 <dir>` or `process-group` (`LinuxHost::containment`).
    pub containment: String,
}

/// One consistent-enough status: each entry is read atomically, entries one after the other.
pub fn status(
    config: &Config,
    board: &Board,
    facts: &ServerFacts,
    life: Life,
    last_event_seq: u64,
) -> StatusReply {
    // The monitors that would restart each resource or group, by target: one pass, not a scan
    // of every monitor per resource (issue 14: that was 1,000,000 name comparisons at 1,000 +
    // 1,000).
    let mut by_resource: HashMap<&str, Vec<MonitorStatus>> = HashMap::new();
    let mut by_group: HashMap<&str, Vec<MonitorStatus>> = HashMap::new();
    for m in &config.monitors {
        let into = match &m.recovery.target {
            RecoveryTarget::Resource(t) => by_resource.entry(t.as_str()),
            RecoveryTarget::Group(t) => by_group.entry(t.as_str()),
            RecoveryTarget::Sss => continue,
        };
        if let Some(s) = board.monitor(&m.name) {
            into.or_default().push(s);
        }
    }
    let none = Vec::new();
    let groups = config
        .groups
        .iter()
        .map(|g| {
            let (state, since) = match board.group(&g.name) {
                Some(s) => (group_state(s.state), time(s.since)),
                None => ("unknown", String::new()),
            };
            let resources: Vec<ResourceDto> = g
                .resources
                .iter()
                .map(|r| match board.resource(&r.name) {
                    Some(s) => {
                        // The monitors that would restart this resource.
                        let restarters = by_resource
                            .get(r.name.as_str())
                            .unwrap_or(&none)
                            .iter()
                            .chain(by_group.get(g.name.as_str()).unwrap_or(&none));
                        resource_dto(r, s, restarters)
                    }
                    None => ResourceDto {
                        name: r.name.clone(),
                        state: "unknown".into(),
                        pid: None,
                        last_exit: None,
                        since: String::new(),
                        restarts: 0,
                        reason: None,
                        next_attempt: None,
                    },
                })
                .collect();
            // Issue 9: a started group is only as online as its resources: none of them up is
            // a failed group, some of them down a partial one.
            let down = resources
                .iter()
                .filter(|r| matches!(r.state.as_str(), "failed" | "backoff" | "start_failed"))
                .count();
            let state = match state {
                "online" | "online_partial" if down > 0 && down == resources.len() => "failed",
                "online" if down > 0 => "online_partial",
                other => other,
            };
            GroupDto {
                name: g.name.clone(),
                state: state.to_string(),
                since,
                resources,
            }
        })
        .collect();
    let monitors = config
        .monitors
        .iter()
        .filter_map(|m| {
            let s = board.monitor(&m.name)?;
            Some(MonitorDto {
                name: m.name.clone(),
                kind: kind_key(&m.kind).to_string(),
                phase: monitor_phase(s.phase).to_string(),
                last_verdict: s.last_verdict.map(|v| verdict(v).to_string()),
                last_detail: s.last_detail,
                failures: s.failures,
                needed: s.needed,
                reactivations: s.reactivations,
                reactivation_threshold: s.reactivation_threshold,
                since: time(s.since),
                operator_suspended: s.operator_suspended,
                suspended_until: s.suspended_until.map(time),
                restarts: s.restarts,
                next_attempt: s.next_attempt.map(time),
                failed: s.failed,
                grace_until: s.grace_until.map(time),
            })
        })
        .collect();
    let governor = board.governor.borrow().clone();
    StatusReply {
        version: PROTOCOL_VERSION,
        server: ServerDto {
            name: config.name.clone(),
            host: facts.host.clone(),
            state: life.phase.as_str().to_string(),
            suspended: life.suspended,
            uptime_s: facts.started.elapsed().as_secs(),
            pid: facts.pid,
            os_actions: match config.os_actions {
                OsActions::Simulated => "simulated",
                OsActions::Real => "real",
            }
            .to_string(),
            containment: facts.containment.clone(),
            state_dir: String::new(),
            log_dir: String::new(),
            config_file: String::new(),
        },
        groups,
        monitors,
        governor: GovernorDto {
            count: governor.count,
            max: governor.max,
            last_error: governor.last_error.map(time),
            damaged: governor.damaged,
        },
        last_event_seq,
    }
}

/// One resource, honestly (issue 9): an async resource whose process ended is never shown
/// `online`; it is `backoff` while a monitor's restart waits, else `failed`, with the reason.
fn resource_dto<'a>(
    spec: &ExecResource,
    s: ResourceStatus,
    mut restarters: impl Iterator<Item = &'a MonitorStatus>,
) -> ResourceDto {
    let mut state = resource_state(s.state);
    let mut reason = None;
    let mut next_attempt = None;
    match s.state {
        ResourceState::StartFailed | ResourceState::StopFailed => reason = s.last_failure,
        ResourceState::Online if spec.mode == StartMode::Async && s.pid.is_none() => {
            reason = Some(match s.last_exit {
                Some(e) => format!("process ended with {e}"),
                None => "process is not running".to_string(),
            });
            match restarters.find(|m| m.phase == MonitorPhase::Backoff) {
                Some(m) => {
                    state = "backoff";
                    next_attempt = m.next_attempt.map(time);
                }
                None => state = "failed",
            }
        }
        _ => {}
    }
    ResourceDto {
        name: spec.name.clone(),
        state: state.to_string(),
        pid: s.pid,
        last_exit: s.last_exit.map(exit),
        since: time(s.since),
        restarts: s.starts.saturating_sub(1),
        reason,
        next_attempt,
    }
}

/// One event on the wire.
pub fn event(event: &Event) -> EventDto {
    EventDto {
        seq: event.seq,
        at: time(event.at),
        module: event.kind.module().as_str().to_string(),
        event_id: event.kind.id(),
        level: match event.kind.level() {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        }
        .to_string(),
        text: event.kind.to_string(),
        line: event.line(),
        send: None,
    }
}

/// RFC 3339, UTC, milliseconds (see `proto`). Total on any `SystemTime`, because one bad time
/// (a damaged clock, a state file from far in the future) must never fail a whole `status`:
/// RFC 3339 only shows years up to 9999 and humantime refuses times before 1970, so those are
/// shown at the nearest end of that range.
pub fn time(at: SystemTime) -> String {
    let latest = UNIX_EPOCH + Duration::from_millis(253_402_300_799_999);
    humantime::format_rfc3339_millis(at.clamp(UNIX_EPOCH, latest)).to_string()
}

fn exit(info: ExitInfo) -> ExitDto {
    match info {
        ExitInfo::Code(c) => ExitDto::Code(c),
        ExitInfo::Signal(s) => ExitDto::Signal(s),
    }
}

fn group_state(state: GroupState) -> &'static str {
    match state {
        GroupState::Offline => "offline",
        GroupState::Starting => "starting",
        GroupState::Online => "online",
        GroupState::OnlinePartial => "online_partial",
        GroupState::Stopping => "stopping",
        GroupState::OfflinePartial => "offline_partial",
    }
}

fn resource_state(state: ResourceState) -> &'static str {
    match state {
        ResourceState::Offline => "offline",
        ResourceState::Starting => "starting",
        ResourceState::Online => "online",
        ResourceState::Stopping => "stopping",
        ResourceState::StartFailed => "start_failed",
        ResourceState::StopFailed => "stop_failed",
    }
}

fn monitor_phase(phase: MonitorPhase) -> &'static str {
    match phase {
        MonitorPhase::Stopped => "stopped",
        MonitorPhase::WaitingForTarget => "waiting_for_target",
        MonitorPhase::StartWait => "start_wait",
        MonitorPhase::Monitoring => "monitoring",
        MonitorPhase::Recovering => "recovering",
        MonitorPhase::Suspended => "suspended",
        MonitorPhase::Backoff => "backoff",
    }
}

fn verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Normal => "normal",
        Verdict::Warning => "warning",
        Verdict::Error => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc_with_milliseconds() {
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(time(at), "2023-11-14T22:13:20.123Z");
    }

    #[test]
    fn times_outside_rfc3339_are_shown_at_its_ends() {
        let far = UNIX_EPOCH + Duration::from_secs(253_402_300_800);
        assert_eq!(time(far), "9999-12-31T23:59:59.999Z");
        let last = UNIX_EPOCH.checked_add(Duration::from_secs(u64::MAX / 4));
        assert_eq!(last.map(time).as_deref(), Some("9999-12-31T23:59:59.999Z"));
        assert_eq!(
            time(UNIX_EPOCH - Duration::from_secs(1)),
            "1970-01-01T00:00:00.000Z"
        );
    }
}
