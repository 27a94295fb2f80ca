//! Bounded work for every configuration (issue 10): a configuration reaches the validator from
//! `upkeep config check`, from the daemon's start, and from any socket user's dry-run `config
//! apply`. However large or hostile the text, checking it must take time and memory in
//! proportion to its size, never more; these caps keep the proportion small.
//!
//! The caps sit well above any real single-server configuration (the performance targets plan
//! for 1,000 groups and 10,000 monitors) and are checked on the parsed file before any rule runs,
//! so every rule after them works on bounded input.

use std::path::Path;

use crate::error::ConfigError;
use crate::raw::{RawConfig, RawKind};
use crate::span::{Pos, SpanIndex};

/// The largest configuration file read, in bytes.
pub const MAX_CONFIG_BYTES: usize = 8 * 1024 * 1024;
/// At most this many groups, exec resources (all groups together) and monitors.
pub const MAX_GROUPS: usize = 10_000;
pub const MAX_RESOURCES: usize = 10_000;
pub const MAX_MONITORS: usize = 10_000;
/// At most this many entries in one resource's `depends_on` or one multi-target's `members`.
pub const MAX_REFERENCES: usize = 1_000;
/// Errors shown for one file: past this many, the rest are counted, not listed (fix the first
/// ones and check again).
pub const MAX_ERRORS: usize = 100;

/// The file-size cap, before the text is parsed at all.
pub(crate) fn size(text: &str, file: &Path) -> Result<(), ConfigError> {
    if text.len() > MAX_CONFIG_BYTES {
        return Err(too_big(text.len(), file));
    }
    Ok(())
}

pub(crate) fn too_big(len: usize, file: &Path) -> ConfigError {
    ConfigError::at(
        file,
        Pos::START,
        "",
        format!(
            "the file is {len} bytes; a configuration may have at most {MAX_CONFIG_BYTES} bytes"
        ),
    )
}

/// The count caps, on the parsed file. Any error here ends the check: the rules after it assume
/// bounded input.
pub(crate) fn counts(raw: &RawConfig, file: &Path, spans: &SpanIndex) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let mut over = |path: String, what: &str, count: usize, max: usize| {
        if count > max {
            errors.push(ConfigError::at(
                file,
                spans.position(&path),
                path,
                format!("{count} {what}; at most {max} are allowed"),
            ));
        }
    };
    over("groups".into(), "groups", raw.groups.len(), MAX_GROUPS);
    over(
        "monitors".into(),
        "monitors",
        raw.monitors.len(),
        MAX_MONITORS,
    );
    let resources: usize = raw.groups.iter().map(|g| g.resources.len()).sum();
    over(
        "groups".into(),
        "exec resources in all groups",
        resources,
        MAX_RESOURCES,
    );
    for (gi, group) in raw.groups.iter().enumerate().take(MAX_GROUPS) {
        for (ri, resource) in group.resources.iter().enumerate().take(MAX_RESOURCES) {
            over(
                format!("groups[{gi}].resources[{ri}].depends_on"),
                "dependencies",
                resource.depends_on.len(),
                MAX_REFERENCES,
            );
        }
    }
    for (mi, monitor) in raw.monitors.iter().enumerate().take(MAX_MONITORS) {
        if let Some(RawKind::MultiTarget { members, .. }) = &monitor.kind {
            over(
                format!("monitors[{mi}].kind.members"),
                "members",
                members.len(),
                MAX_REFERENCES,
            );
        }
    }
    errors.truncate(MAX_ERRORS);
    errors
}

/// Collects at most [`MAX_ERRORS`] errors and counts the rest, so a file with a million mistakes
/// costs no more to report than one with a hundred.
#[derive(Debug, Default)]
pub(crate) struct ErrorList {
    shown: Vec<ConfigError>,
    omitted: usize,
}

impl ErrorList {
    /// Whether another error would only be counted: expensive wording (a "did you mean" over
    /// every name) can be skipped then.
    pub(crate) fn full(&self) -> bool {
        self.shown.len() >= MAX_ERRORS
    }

    pub(crate) fn push(&mut self, error: impl FnOnce() -> ConfigError) {
        if self.full() {
            self.omitted += 1;
        } else {
            self.shown.push(error());
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.shown.is_empty()
    }

    /// In file order (stable: errors at one spot keep rule order), and a last line saying how
    /// many more there were.
    pub(crate) fn finish(mut self, file: &Path) -> Vec<ConfigError> {
        self.shown.sort_by_key(|e| (e.line, e.column));
        if self.omitted > 0 {
            self.shown.push(omitted(file, self.omitted));
        }
        self.shown
    }
}

/// The closing line of a truncated list.
pub(crate) fn omitted(file: &Path, count: usize) -> ConfigError {
    ConfigError::at(
        file,
        Pos::START,
        "",
        format!(
            "{count} more error{} not shown (only the first {MAX_ERRORS} are); fix these and check again",
            if count == 1 { "" } else { "s" }
        ),
    )
}
