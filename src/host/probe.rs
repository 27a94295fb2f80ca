//! Probe dispatch: one arm per monitor type of MON-1, each to become its own module as the
//! monitor catalogue lands (disk, raw, ip, nic_link, soft_raid, userspace, multi_target).
//!
//! The pid monitor (MON-10) is not probed: the engine watches the exec resource's process itself.

use upkeep_actors::host::{BoxFuture, ProbeResult};
use upkeep_config::{Monitor, MonitorKind};

/// The spec's "Options or parameters are invalid" code: the closest a missing probe has.
const NOT_AVAILABLE: i32 = 5;

/// The MON-1 key of a monitor type, as users write it and the spec names it.
pub fn kind_key(kind: &MonitorKind) -> &'static str {
    match kind {
        MonitorKind::Pid { .. } => "pid",
        MonitorKind::Disk { .. } => "disk",
        MonitorKind::Raw { .. } => "raw",
        MonitorKind::Ip { .. } => "ip",
        MonitorKind::NicLink { .. } => "nic_link",
        MonitorKind::SoftRaid { .. } => "soft_raid",
        MonitorKind::UserSpace(_) => "userspace",
        MonitorKind::MultiTarget { .. } => "multi_target",
        MonitorKind::Custom { .. } => "custom",
        MonitorKind::Tcp { .. } => "tcp",
        MonitorKind::Http { .. } => "http",
    }
}

pub(crate) fn probe(monitor: &Monitor) -> BoxFuture<'static, ProbeResult> {
    let result = match &monitor.kind {
        MonitorKind::Pid { .. } => ProbeResult::error(
            NOT_AVAILABLE,
            "monitor type pid is watched by the engine, not probed by the host",
        ),
        MonitorKind::Disk { .. }
        | MonitorKind::Raw { .. }
        | MonitorKind::Ip { .. }
        | MonitorKind::NicLink { .. }
        | MonitorKind::SoftRaid { .. }
        | MonitorKind::UserSpace(_)
        | MonitorKind::MultiTarget { .. }
        | MonitorKind::Custom { .. }
        | MonitorKind::Tcp { .. }
        | MonitorKind::Http { .. } => not_implemented(&monitor.kind),
    };
    Box::pin(std::future::ready(result))
}

fn not_implemented(kind: &MonitorKind) -> ProbeResult {
    ProbeResult::error(
        NOT_AVAILABLE,
        format!(
            "monitor type {} is not implemented by this build",
            kind_key(kind)
        ),
    )
}
