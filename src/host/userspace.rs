//! The user-space monitor's liveness cycle (USW-1, USW-5): open and close the dummy file (and
//! write `write_size` bytes to it), and create and join a dummy thread. A stalled user space
//! shows up as this cycle not finishing; the engine's stall detection (USW-4) times it.
//!
//! The cycle runs on an abandonable thread (see `probe`): a file system that hangs parks that
//! thread only, and the next cycle reports the previous one still stuck instead of piling up.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use upkeep_config::UserSpace;

use super::probe::abandonable;

/// The engine times the cycle; this only bounds a thread that never comes back.
const LIMIT: Duration = Duration::from_secs(24 * 60 * 60);

pub(crate) async fn check(spec: UserSpace) -> Result<(), String> {
    abandonable(
        "userspace".into(),
        "user-space cycle".into(),
        LIMIT,
        move || cycle(&spec).map_err(|m| upkeep_actors::host::ProbeResult::error(1, m)),
    )
    .await
    .map_err(|r| r.message)
}

fn cycle(spec: &UserSpace) -> Result<(), String> {
    if let Some(dummy) = &spec.dummy_file {
        let path = &dummy.path;
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(dummy.write_size.is_some())
            .mode(0o600)
            .open(path)
            .map_err(|e| format!("cannot open the dummy file {}: {e}", path.display()))?;
        if let Some(size) = dummy.write_size {
            let bytes = vec![b'u'; usize::try_from(size).unwrap_or(0)];
            file.write_all(&bytes)
                .map_err(|e| format!("cannot write {size} bytes to {}: {e}", path.display()))?;
        }
        drop(file);
    }
    if spec.dummy_thread {
        std::thread::Builder::new()
            .name("upkeep-usw-dummy".into())
            .spawn(|| ())
            .map_err(|e| format!("cannot create the dummy thread: {e}"))?
            .join()
            .map_err(|_| "the dummy thread panicked".to_owned())?;
    }
    Ok(())
}
