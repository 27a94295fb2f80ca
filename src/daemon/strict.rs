//! StrictModes (issue 10): a daemon running as root runs the configuration's programs as root,
//! so the configuration file, every program it names, and every folder above them must be
//! writable by root (or the daemon's own user) only. Otherwise anyone who can write one of them
//! gets root on the next start, stop or check.
//!
//! This is a separate check on the parsed configuration: the config crate stays pure (no I/O).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use upkeep_config::{Config, MonitorKind};

/// Whether the check applies: only a root daemon hands root to what it runs.
pub fn applies() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Every path the daemon executes or reads its configuration from, with what it is.
fn paths(config: &Config, config_file: Option<&Path>) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    if let Some(file) = config_file {
        out.push(("the configuration file".to_string(), file.to_path_buf()));
    }
    for group in &config.groups {
        for r in &group.resources {
            out.push((
                format!("the start program of `{}/{}`", group.name, r.name),
                r.start.program.clone(),
            ));
            if let Some(stop) = &r.stop {
                out.push((
                    format!("the stop program of `{}/{}`", group.name, r.name),
                    stop.program.clone(),
                ));
            }
        }
    }
    // Issue 11: the alert program runs as root; the message files decide what is said where.
    if let Some(program) = &config.alerts.program {
        out.push(("the alert program".to_string(), program.path.clone()));
    }
    if let Some(dir) = crate::alerts::hub::messages_dir(config, config_file) {
        out.push(("the message folder".to_string(), dir));
    }
    for m in &config.monitors {
        if let MonitorKind::Custom { program, .. } = &m.kind {
            out.push((
                format!("the program of monitor `{}`", m.name),
                program.clone(),
            ));
        }
    }
    out
}

/// Every problem found, one line each naming the path and the fix; empty when all is safe.
/// Does nothing unless [`applies`].
pub fn check(config: &Config, config_file: Option<&Path>) -> Vec<String> {
    if !applies() {
        return Vec::new();
    }
    let me = nix::unistd::geteuid().as_raw();
    let mut problems = Vec::new();
    for (what, path) in paths(config, config_file) {
        if let Some(problem) = check_path(&path, me) {
            problems.push(format!("{what} `{}`: {problem}", path.display()));
        }
    }
    problems.sort();
    problems.dedup();
    problems
}

/// The first unsafe step on the way to `path`: each folder above it and the file itself, as
/// written (a link's folder decides where it points) and as resolved (the link's target).
fn check_path(path: &Path, me: u32) -> Option<String> {
    let absolute = std::path::absolute(path).ok()?;
    if let Some(p) = check_chain(&absolute, me, true) {
        return Some(p);
    }
    // A missing program is the engine's error to report when it runs; nothing to check.
    let resolved = std::fs::canonicalize(&absolute).ok()?;
    if resolved != absolute {
        return check_chain(&resolved, me, false);
    }
    None
}

fn check_chain(path: &Path, me: u32, lstat: bool) -> Option<String> {
    for step in path.ancestors() {
        if step.as_os_str().is_empty() {
            continue;
        }
        let meta = if lstat {
            std::fs::symlink_metadata(step)
        } else {
            std::fs::metadata(step)
        };
        let Ok(meta) = meta else { continue };
        let shown = step.display();
        if meta.uid() != 0 && meta.uid() != me {
            return Some(format!(
                "`{shown}` belongs to uid {}, and the daemon runs as root: `chown root {shown}`",
                meta.uid()
            ));
        }
        // A link's own mode means nothing (always 0777); its owner and folder do. A folder
        // above the file that is sticky and root's (`/tmp`) lets others add names but not
        // rename or remove ours, and the step below it was checked to be ours already.
        let sticky_above =
            step != path && meta.is_dir() && meta.mode() & 0o1000 != 0 && meta.uid() == 0;
        if !meta.file_type().is_symlink() && meta.mode() & 0o022 != 0 && !sticky_above {
            return Some(format!(
                "`{shown}` is writable by others (mode {:o}): `chmod go-w {shown}`",
                meta.mode() & 0o7777
            ));
        }
    }
    None
}
