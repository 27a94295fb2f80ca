//! The user-space monitor's watchdog (USW-1, USW-5, USW-6, DOWN-5, DOWN-6): `softdog` through a
//! watchdog device (/dev/watchdog: WDIOC_SETTIMEOUT, keep-alive writes, magic close `V`) and
//! `ipmi` through `ipmiutil wdt` (timer at most 255 s).
//!
//! Safety rule: a real device or BMC timer is armed only when the host was built with
//! `OsActions::Real`. Otherwise the host hands out a simulated watchdog: a tokio task that logs
//! "would reset" when it is not fed within its timeout. The one exception is a device path set
//! explicitly with `LinuxHost::with_watchdog_device` (tests point it at a plain file to check
//! the keep-alive protocol): that path is opened in either mode, and an ioctl that fails with
//! ENOTTY there (a file is not a watchdog) is logged, not fatal.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use upkeep_actors::host::{HostError, Watchdog};
use upkeep_config::{OsActions, WatchdogMethod};

/// The kernel's watchdog device (softdog or a hardware driver).
pub const DEFAULT_DEVICE: &str = "/dev/watchdog";
/// USW-6: IPMI watchdog timers count at most 255 s.
pub const IPMI_MAX: Duration = Duration::from_secs(255);
/// A keep-alive: any byte but `V`.
const KEEP_ALIVE: &[u8] = b"\0";
/// The magic close: written just before closing, it disarms the timer (unless the driver was
/// loaded with nowayout, which is the operator's choice).
const MAGIC_CLOSE: &[u8] = b"V";

static WOULD_RESET: AtomicU64 = AtomicU64::new(0);

/// How many times a simulated watchdog of this process has expired ("would reset").
pub fn simulated_resets() -> u64 {
    WOULD_RESET.load(Ordering::Relaxed)
}

/// Where and how the host opens watchdogs.
#[derive(Debug, Clone)]
pub(crate) struct WatchdogSettings {
    pub device: PathBuf,
    /// The device path was set explicitly (see the module doc).
    pub explicit: bool,
}

impl Default for WatchdogSettings {
    fn default() -> Self {
        WatchdogSettings {
            device: PathBuf::from(DEFAULT_DEVICE),
            explicit: false,
        }
    }
}

pub(crate) fn open(
    method: WatchdogMethod,
    timeout: Duration,
    os_actions: OsActions,
    settings: &WatchdogSettings,
) -> Result<Box<dyn Watchdog>, HostError> {
    let err = |reason: String| HostError::Watchdog { method, reason };
    if timeout.is_zero() {
        return Err(err("the timeout must be at least 1 s".into()));
    }
    match method {
        WatchdogMethod::None | WatchdogMethod::Keepalive => Err(err(
            "this method has no watchdog device (keepalive needs the clpkhb/clpka drivers)".into(),
        )),
        WatchdogMethod::Ipmi if timeout > IPMI_MAX => Err(err(format!(
            "IPMI watchdog timers count at most 255 s (got {} s)",
            timeout.as_secs()
        ))),
        WatchdogMethod::Softdog if may_open_device(os_actions, settings) => {
            DeviceWatchdog::open(&settings.device, timeout, !settings.explicit)
                .map(|w| Box::new(w) as Box<dyn Watchdog>)
                .map_err(err)
        }
        WatchdogMethod::Ipmi if os_actions == OsActions::Real => IpmiWatchdog::open(timeout)
            .map(|w| Box::new(w) as Box<dyn Watchdog>)
            .map_err(err),
        WatchdogMethod::Softdog | WatchdogMethod::Ipmi => SimulatedWatchdog::start(method, timeout)
            .map(|w| Box::new(w) as Box<dyn Watchdog>)
            .map_err(err),
    }
}

/// Safety rule: a real watchdog device is opened only when OS actions are real. An explicit path
/// (tests point it at a plain file) is honoured with simulated OS actions only when it is not a
/// character device, so no configuration mistake can arm a real /dev/watchdog by accident.
fn may_open_device(os_actions: OsActions, settings: &WatchdogSettings) -> bool {
    use std::os::unix::fs::FileTypeExt;
    match os_actions {
        OsActions::Real => true,
        OsActions::Simulated if !settings.explicit => false,
        OsActions::Simulated => {
            let device =
                std::fs::metadata(&settings.device).is_ok_and(|m| m.file_type().is_char_device());
            if device {
                tracing::warn!(
                    device = %settings.device.display(),
                    "OS actions are simulated: the watchdog device is not opened, a simulated one is used"
                );
            }
            !device
        }
    }
}

#[allow(unsafe_code)]
mod ioctl {
    // WDIOC_SETTIMEOUT = _IOWR('W', 6, int) from <linux/watchdog.h>.
    nix::ioctl_readwrite!(set_timeout, b'W', 6, libc::c_int);

    /// Asks the driver for `secs`; returns the timeout it chose (drivers round).
    pub(super) fn wdioc_settimeout(fd: libc::c_int, secs: libc::c_int) -> nix::Result<libc::c_int> {
        let mut value = secs;
        // SAFETY: `fd` is an open descriptor owned by the caller for the whole call, and the
        // pointer is to a live c_int the kernel reads and writes, as the ioctl's ABI says.
        unsafe { set_timeout(fd, &mut value) }?;
        Ok(value)
    }
}

/// /dev/watchdog (or the explicitly configured path).
#[derive(Debug)]
struct DeviceWatchdog {
    path: PathBuf,
    file: Mutex<Option<File>>,
}

impl DeviceWatchdog {
    fn open(path: &Path, timeout: Duration, strict: bool) -> Result<DeviceWatchdog, String> {
        let file = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let secs = libc::c_int::try_from(timeout.as_secs()).unwrap_or(libc::c_int::MAX);
        match ioctl::wdioc_settimeout(file.as_raw_fd(), secs) {
            Ok(chosen) if chosen != secs => {
                tracing::warn!(device = %path.display(), asked = secs, chosen, "watchdog driver chose another timeout");
            }
            Ok(_) => {}
            Err(nix::errno::Errno::ENOTTY) if !strict => {
                tracing::warn!(device = %path.display(), "not a watchdog device (WDIOC_SETTIMEOUT: ENOTTY); keep-alives are written anyway");
            }
            Err(e) => {
                // Disarm what we armed by opening: the timer must not fire for a failed start.
                let mut f = file;
                let _ = f.write_all(MAGIC_CLOSE);
                return Err(format!("cannot set the timeout of {}: {e}", path.display()));
            }
        }
        tracing::info!(device = %path.display(), timeout = secs, "watchdog armed");
        Ok(DeviceWatchdog {
            path: path.to_path_buf(),
            file: Mutex::new(Some(file)),
        })
    }

    fn write(&self, bytes: &[u8]) -> Result<(), HostError> {
        let mut slot = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        let file = slot.as_mut().ok_or_else(|| HostError::Watchdog {
            method: WatchdogMethod::Softdog,
            reason: format!("{} is already closed", self.path.display()),
        })?;
        file.write_all(bytes).map_err(|e| HostError::Watchdog {
            method: WatchdogMethod::Softdog,
            reason: format!("cannot write to {}: {e}", self.path.display()),
        })
    }
}

impl Watchdog for DeviceWatchdog {
    fn feed(&self) -> Result<(), HostError> {
        self.write(KEEP_ALIVE)
    }

    fn close(&self) -> Result<(), HostError> {
        self.write(MAGIC_CLOSE)?;
        // Dropping the file closes it; the driver disarms only on close after the `V`.
        self.file
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        tracing::info!(device = %self.path.display(), "watchdog disarmed (magic close)");
        Ok(())
    }
}

/// `ipmiutil wdt`: the BMC's watchdog timer. Keep-alives run the tool on a short-lived thread
/// so that a slow BMC never holds up the caller.
#[derive(Debug)]
struct IpmiWatchdog;

impl IpmiWatchdog {
    fn open(timeout: Duration) -> Result<IpmiWatchdog, String> {
        ipmiutil(&["wdt", "-e", "-t", &timeout.as_secs().to_string()])?;
        Ok(IpmiWatchdog)
    }
}

fn ipmiutil(args: &[&str]) -> Result<(), String> {
    let status = Command::new("ipmiutil")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run ipmiutil: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("ipmiutil {} failed: {status}", args.join(" ")))
    }
}

impl Watchdog for IpmiWatchdog {
    fn feed(&self) -> Result<(), HostError> {
        std::thread::Builder::new()
            .name("upkeep-ipmi-wdt".into())
            .spawn(|| {
                if let Err(e) = ipmiutil(&["wdt", "-r"]) {
                    tracing::error!(error = %e, "IPMI watchdog keep-alive failed");
                }
            })
            .map(|_| ())
            .map_err(|e| HostError::Watchdog {
                method: WatchdogMethod::Ipmi,
                reason: format!("cannot start the keep-alive: {e}"),
            })
    }

    fn close(&self) -> Result<(), HostError> {
        ipmiutil(&["wdt", "-d"]).map_err(|reason| HostError::Watchdog {
            method: WatchdogMethod::Ipmi,
            reason,
        })
    }
}

/// Logs "would reset" when not fed in time; never touches the machine.
#[derive(Debug)]
struct SimulatedWatchdog {
    /// Last feed; `None` once closed.
    fed: watch::Sender<Option<Instant>>,
    task: JoinHandle<()>,
}

impl SimulatedWatchdog {
    fn start(method: WatchdogMethod, timeout: Duration) -> Result<SimulatedWatchdog, String> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| "a simulated watchdog needs the tokio runtime".to_owned())?;
        let (fed, mut rx) = watch::channel(Some(Instant::now()));
        let task = runtime.spawn(async move {
            loop {
                let Some(last) = *rx.borrow_and_update() else {
                    return;
                };
                tokio::select! {
                    () = tokio::time::sleep_until(last + timeout) => {
                        WOULD_RESET.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(?method, timeout = ?timeout,
                            "watchdog not fed in time: would reset the machine (simulated)");
                        // One report per stall: wait for the next feed.
                        if rx.changed().await.is_err() {
                            return;
                        }
                    }
                    changed = rx.changed() => if changed.is_err() { return },
                }
            }
        });
        tracing::info!(?method, timeout = ?timeout, "simulated watchdog armed");
        Ok(SimulatedWatchdog { fed, task })
    }
}

impl Watchdog for SimulatedWatchdog {
    fn feed(&self) -> Result<(), HostError> {
        self.fed.send_replace(Some(Instant::now()));
        Ok(())
    }

    fn close(&self) -> Result<(), HostError> {
        self.fed.send_replace(None);
        Ok(())
    }
}

impl Drop for SimulatedWatchdog {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_os_actions_never_open_a_character_device() {
        let dev_null = WatchdogSettings {
            device: "/dev/null".into(),
            explicit: true,
        };
        assert!(!may_open_device(OsActions::Simulated, &dev_null));
        let default = WatchdogSettings::default();
        assert!(!may_open_device(OsActions::Simulated, &default));
        let file = std::env::temp_dir().join(format!("upkeep-wd-{}", std::process::id()));
        let _ = std::fs::write(&file, b"");
        let plain = WatchdogSettings {
            device: file.clone(),
            explicit: true,
        };
        assert!(
            may_open_device(OsActions::Simulated, &plain),
            "a plain file stands in for a device"
        );
        let _ = std::fs::remove_file(file);
    }
}
