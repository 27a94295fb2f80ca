//! The soft RAID monitor (RAID-1..4, MAP-12, MAP-13): the verdict for one md device from
//! /proc/mdstat and /sys/block/<md>/md, with the spec's return codes and message texts.
//!
//! | state                                            | verdict | code |
//! |--------------------------------------------------|---------|------|
//! | all members in sync                              | Normal  | 0    |
//! | resync / recovery / reshape running or queued    | Warning | 100  |
//! | degraded, or a member marked faulty              | Warning | 101  |
//! | inactive, no member working, non-redundant array with a faulty member | Error | 3 |
//! | /proc/mdstat missing (md module not loaded)      | Error   | 4    |
//! | the device is not an md array the kernel knows   | Error   | 5    |
//!
//! A `check` / `repair` scrub of a healthy array is routine maintenance and stays Normal.
//! `%1` (the monitor) is added by the engine's event line; the probe's message is the detail
//! in parentheses, with `%2` = `soft_raid` (MAP-13).

use std::path::{Path, PathBuf};

use upkeep_actors::host::ProbeResult;

use super::mdstat::{self, Array};
use super::{warning, Roots};

pub const RECOVERING: i32 = 100;
pub const BAD_DISKS: i32 = 101;
pub const ABNORMAL: i32 = 3;
pub const MODULE: i32 = 4;
pub const PARAMETERS: i32 = 5;
const MODULE_NAME: &str = "soft_raid";

pub(super) async fn check(roots: Roots, device: String) -> ProbeResult {
    let md = md_name(&device).await;
    let mdstat_path = roots.procfs.join("mdstat");
    let text = match tokio::fs::read_to_string(&mdstat_path).await {
        Ok(text) => text,
        Err(e) => {
            return ProbeResult::error(
                MODULE,
                format!(
                    "{MODULE_NAME}: Soft RAID module is abnormal.(err={e}: {})",
                    mdstat_path.display()
                ),
            )
        }
    };
    let array_state =
        read_trimmed(&roots.sysfs.join("block").join(&md).join("md/array_state")).await;
    verdict(&device, &md, &mdstat::parse(&text), array_state.as_deref())
}

/// The verdict for array `md` (the kernel name) configured as `device`, given the parsed
/// mdstat and, when readable, sysfs's `array_state`.
pub fn verdict(device: &str, md: &str, arrays: &[Array], array_state: Option<&str>) -> ProbeResult {
    let Some(array) = arrays.iter().find(|a| a.name == md) else {
        tracing::debug!(device, md, "soft RAID device is not in mdstat");
        return ProbeResult::error(
            PARAMETERS,
            format!("{MODULE_NAME}: Options or parameters are invalid."),
        );
    };
    let abnormal = || {
        ProbeResult::error(
            ABNORMAL,
            format!("{MODULE_NAME}: Device=({device}): Soft RAID is abnormal."),
        )
    };
    // sysfs is the kernel's own word; mdstat can lag behind a stop by a moment.
    if matches!(array_state, Some("inactive" | "clear" | "broken")) || !array.active {
        return abnormal();
    }
    if array.slots.is_some_and(|(_, working)| working == 0) {
        return abnormal();
    }
    if !array.is_redundant() {
        // Striped or linear: nothing to degrade to, any lost member loses the array.
        return if array.faulty().next().is_some() {
            abnormal()
        } else {
            ProbeResult::normal()
        };
    }
    if let Some(sync) = &array.sync {
        if !matches!(sync.action.as_str(), "check" | "repair") {
            return warning(
                RECOVERING,
                format!(
                    "{MODULE_NAME}: Device=({device}): Soft RAID is in recovery progress({}).",
                    sync.text
                ),
            );
        }
    }
    let mut bad: Vec<String> = array.faulty().map(|m| m.device.clone()).collect();
    if bad.is_empty() && array.is_degraded() {
        // A removed disk leaves no name behind, only its empty slot.
        bad = array
            .missing_slots()
            .iter()
            .map(|i| format!("slot {i}"))
            .collect();
        if bad.is_empty() {
            if let Some((n, m)) = array.slots {
                bad.push(format!("{} of {n} missing", n.saturating_sub(m)));
            }
        }
    }
    if !bad.is_empty() {
        return warning(
            BAD_DISKS,
            format!(
                "{MODULE_NAME}: Device=({device}): Bad disks({}) are detected in Soft RAID.",
                bad.join(",")
            ),
        );
    }
    ProbeResult::normal()
}

/// `/dev/md0`, `md0` and `/dev/md/name` (a symlink to `/dev/mdN`) all name `md0`.
async fn md_name(device: &str) -> String {
    let path = Path::new(device);
    let resolved: PathBuf = if path.is_absolute() {
        tokio::fs::canonicalize(path)
            .await
            .unwrap_or_else(|_| path.to_path_buf())
    } else {
        path.to_path_buf()
    };
    resolved
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| device.to_owned())
}

async fn read_trimmed(path: &Path) -> Option<String> {
    tokio::fs::read_to_string(path)
        .await
        .ok()
        .map(|s| s.trim().to_owned())
}
