//! Probe dispatch for the monitor catalogue (MON-1, HWM-7, RAID-1..4, MAP-10): one module per
//! monitor type, each a check of the real Linux interfaces behind the Host boundary.
//!
//! The pid monitor (MON-10) is not probed: the engine watches the exec resource's process
//! itself. The multi-target monitor (MTM-1) combines its members' verdicts in the engine.
//!
//! # Never blocking the runtime
//!
//! The engine bounds every probe with the monitor's timeout (MON-4) and runs it in its own
//! task, but a probe must still never park a runtime worker. Network and procfs / sysfs checks
//! are async (tokio sockets, `tokio::fs`). Reads and writes of block devices and files can hang
//! in the kernel for good (a dead NFS server, a FIFO without a writer, a dying disk), and such a
//! thread can be neither cancelled nor joined; tokio's blocking pool would also make runtime
//! shutdown wait for it. So they run on a plain thread of their own ([`abandonable`]) that the
//! probe abandons at its deadline. While an abandoned thread is still stuck, the next check of
//! the same monitor reports that at once instead of stacking another stuck thread on it.
//!
//! # Return codes
//!
//! Soft RAID uses the spec's RAID-4 codes. The other types have none in the spec, so upkeep
//! uses: 0 normal, [`FAILED`] the check failed, [`TIMED_OUT`] no answer within the deadline,
//! [`INVALID`] the parameters cannot work (as RAID-4's 5); custom checks report the program's
//! own exit code.

mod custom;
mod disk;
mod http;
mod ip;
pub mod mdstat;
mod nic_link;
mod raw;
mod soft_raid;
mod tcp;
pub mod timing;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use upkeep_actors::host::{BoxFuture, ProbeResult, Verdict};
use upkeep_config::{Monitor, MonitorKind, Paths};

/// The check ran and found the target abnormal.
pub const FAILED: i32 = 1;
/// The check got no answer before its deadline.
pub const TIMED_OUT: i32 = 2;
/// The parameters cannot work (RAID-4's "Options or parameters are invalid").
pub const INVALID: i32 = 5;

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

/// Where the probes read the kernel's state (MAP-20): settable for containers and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roots {
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
}

impl Default for Roots {
    fn default() -> Self {
        Roots::from(&Paths::default())
    }
}

impl From<&Paths> for Roots {
    fn from(p: &Paths) -> Self {
        Roots {
            procfs: p.procfs.clone(),
            sysfs: p.sysfs.clone(),
        }
    }
}

/// One check of `monitor`. The returned future owns everything it needs.
pub(crate) fn probe(monitor: &Monitor, roots: &Roots) -> BoxFuture<'static, ProbeResult> {
    let name = monitor.name.clone();
    // The probe's own deadline sits a little inside the engine's, so that a slow target is
    // reported with what was waited for instead of the engine's bare "timed out".
    let deadline = inner_deadline(monitor.timeout);
    match &monitor.kind {
        MonitorKind::Pid { .. } => ready(ProbeResult::error(
            INVALID,
            "monitor type pid is watched by the engine, not probed by the host",
        )),
        MonitorKind::MultiTarget { .. } => ready(ProbeResult::error(
            INVALID,
            "a multi-target monitor combines its members' results in the engine",
        )),
        MonitorKind::UserSpace(_) => ready(ProbeResult::error(
            INVALID,
            "the user-space monitor runs through Host::userspace_check and the watchdog",
        )),
        MonitorKind::Disk {
            path,
            read_size,
            direct,
            write_test,
        } => Box::pin(disk::check(
            name,
            disk::Spec {
                path: path.clone(),
                read_size: *read_size,
                direct: *direct,
                write_test: *write_test,
            },
            deadline,
        )),
        MonitorKind::Raw { path, read_size } => {
            Box::pin(raw::check(name, path.clone(), *read_size, deadline))
        }
        MonitorKind::Ip { addresses } => Box::pin(ip::check(addresses.clone(), deadline)),
        MonitorKind::NicLink { interface } => {
            Box::pin(nic_link::check(roots.sysfs.clone(), interface.clone()))
        }
        MonitorKind::SoftRaid { device } => {
            Box::pin(soft_raid::check(roots.clone(), device.clone()))
        }
        MonitorKind::Custom {
            program,
            args,
            warning_exit_code,
        } => Box::pin(custom::check(
            custom::Spec {
                program: program.clone(),
                args: args.clone(),
                warning_exit_code: *warning_exit_code,
                nice: monitor.nice,
            },
            deadline,
        )),
        MonitorKind::Tcp { host, port } => Box::pin(tcp::check(host.clone(), *port, deadline)),
        MonitorKind::Http { url, expect_status } => {
            Box::pin(http::check(url.clone(), *expect_status, deadline))
        }
    }
}

/// 90% of the monitor's timeout, at least 100 ms short of it.
fn inner_deadline(timeout: Duration) -> Duration {
    let ninety = timeout.mul_f64(0.9);
    ninety.min(timeout.saturating_sub(Duration::from_millis(100)))
}

fn ready(result: ProbeResult) -> BoxFuture<'static, ProbeResult> {
    Box::pin(std::future::ready(result))
}

pub(crate) fn warning(code: i32, message: impl Into<String>) -> ProbeResult {
    ProbeResult {
        verdict: Verdict::Warning,
        code,
        message: message.into(),
    }
}

/// Keys of abandoned threads that have not returned yet.
fn stuck() -> &'static Mutex<HashSet<String>> {
    static STUCK: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    STUCK.get_or_init(|| Mutex::new(HashSet::new()))
}

/// Removes the key when the thread finally returns, however it returns.
struct Release(String);

impl Drop for Release {
    fn drop(&mut self) {
        stuck()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.0);
    }
}

/// Runs blocking I/O `work` on a thread of its own and waits at most `limit` for it (see the
/// module doc). `key` names what the thread touches (one at a time per key); `what` says it in
/// messages. `Err` is the probe's verdict.
pub(crate) async fn abandonable<T, F>(
    key: String,
    what: String,
    limit: Duration,
    work: F,
) -> Result<T, ProbeResult>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ProbeResult> + Send + 'static,
{
    {
        let mut busy = stuck().lock().unwrap_or_else(PoisonError::into_inner);
        if !busy.insert(key.clone()) {
            return Err(ProbeResult::error(
                TIMED_OUT,
                format!("{what}: an earlier check is still blocked in the kernel"),
            ));
        }
    }
    let release = Release(key);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("upkeep-probe-io".into())
        .spawn(move || {
            let result = work();
            // Free the key before answering: a check that follows at once (the next cycle, a
            // test's second call) must not find it still held by a thread that is done.
            drop(release);
            // The receiver is gone when the probe gave up: nothing left to tell.
            let _ = tx.send(result);
        });
    if let Err(e) = spawned {
        // The closure (and with it the key) was dropped with the failed spawn.
        return Err(ProbeResult::error(
            FAILED,
            format!("{what}: cannot start an I/O thread: {e}"),
        ));
    }
    match tokio::time::timeout(limit, rx).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(ProbeResult::error(
            FAILED,
            format!("{what}: the I/O thread ended without an answer"),
        )),
        Err(_) => Err(ProbeResult::error(
            TIMED_OUT,
            format!("{what}: no answer within {}", secs(limit)),
        )),
    }
}

/// A duration as people read it in messages: "4.5s".
pub(crate) fn secs(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}
