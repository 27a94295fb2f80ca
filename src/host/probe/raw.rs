//! The RAW monitor (MON-1 `raw`, HWM-1..7, MAP-10): read from a raw block device with O_DIRECT,
//! bypassing the page cache so that only the disk itself can answer. Linux dropped the old
//! `/dev/raw/rawN` bindings; O_DIRECT on the block device is their modern equivalent (MAP-20).

use std::path::PathBuf;
use std::time::Duration;

use upkeep_actors::host::ProbeResult;

use super::{abandonable, disk};

pub(super) async fn check(
    monitor: String,
    path: PathBuf,
    read_size: u32,
    deadline: Duration,
) -> ProbeResult {
    let what = format!("direct read of {}", path.display());
    let key = format!("raw:{monitor}");
    match abandonable(key, what, deadline, move || {
        disk::read(&path, read_size, true).map(|_| ())
    })
    .await
    {
        Ok(()) => ProbeResult::normal(),
        Err(verdict) => verdict,
    }
}
