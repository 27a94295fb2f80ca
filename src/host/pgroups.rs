//! The process-group fallback's trail across a daemon crash (issue 9 §2): where no cgroup keeps
//! a killed daemon's processes together, the daemon records the process group of every async
//! process it starts, with the leader's start time, in `<state>/process-groups`. The next daemon
//! with the same state folder stops the groups that are still there before the groups start.
//!
//! A recorded group counts as "still there" through processes whose process group is the
//! recorded id and that started no earlier than the recorded leader: a pid (and so a group id)
//! reused by an unrelated process after a reboot or a wrap started later too, but only a live
//! member keeps a group id from being reused, so a stranger needs a full pid wrap while the
//! daemon was down. Scripts' groups are not recorded (their leftovers are theirs; see `process`).
//!
//! The file is one `PGID START` line per group, rewritten (temporary file + rename) on every
//! change; a few bytes per async resource.
//!
//! Known gap: a daemon killed between `spawn` and the write of the record leaves that group
//! unrecorded (a child cannot wait for the record without deadlocking std's spawn, which waits
//! for the exec). cgroups close it: the child is in its cgroup before it execs.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// The record's file name in the state folder.
pub const FILE: &str = "process-groups";

/// The live record of this daemon's async process groups.
#[derive(Debug)]
pub struct Record {
    path: PathBuf,
    groups: Mutex<BTreeMap<i32, u64>>,
}

/// `(state, pgrp, start time)` of a process from `/proc/<pid>/stat` (fields 3, 5 and 22).
fn stat(pid: i32) -> Option<(char, i32, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = text
        .get(text.rfind(')')? + 2..)?
        .split_whitespace()
        .collect();
    let state = fields.first()?.chars().next()?;
    let pgrp = fields.get(2)?.parse().ok()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, pgrp, start))
}

/// Live processes of group `pgid` that started at `start` or later.
fn members(pgid: i32, start: u64) -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            stat(*pid).is_some_and(|(state, pgrp, started)| {
                pgrp == pgid && started >= start && !matches!(state, 'Z' | 'X' | 'x')
            })
        })
        .collect()
}

fn parse(text: &str) -> Vec<(i32, u64)> {
    text.lines()
        .filter_map(|line| {
            let (pgid, start) = line.trim().split_once(' ')?;
            Some((pgid.parse().ok()?, start.parse().ok()?))
        })
        .filter(|(pgid, _)| *pgid > 1)
        .collect()
}

impl Record {
    pub fn new(state_dir: &Path) -> Record {
        Record {
            path: state_dir.join(FILE),
            groups: Mutex::new(BTreeMap::new()),
        }
    }

    /// Records the group `pgid` (its leader's pid) the moment it is started.
    pub fn add(&self, pgid: i32) {
        let Some((_, _, start)) = stat(pgid) else {
            return;
        };
        let mut groups = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
        groups.insert(pgid, start);
        self.save(&groups);
    }

    /// Forgets the group `pgid` once it is stopped.
    pub fn remove(&self, pgid: i32) {
        let mut groups = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
        if groups.remove(&pgid).is_some() {
            self.save(&groups);
        }
    }

    fn save(&self, groups: &BTreeMap<i32, u64>) {
        let text: String = groups.iter().map(|(g, s)| format!("{g} {s}\n")).collect();
        let tmp = self.path.with_extension("tmp");
        let written = fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .and_then(|()| fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            tracing::warn!(file = %self.path.display(), error = %e,
                "cannot record the process groups: a crash of the daemon may leave them running");
        }
    }

    /// Stops the groups the previous daemon recorded and that still run (SIGTERM, `grace`,
    /// SIGKILL), then starts a fresh record. One line per group found running:
    /// `process group <pgid>: <n> process(es) stopped (<pid> ...)`.
    pub async fn reclaim(&self, grace: Duration) -> Vec<String> {
        let previous = fs::read_to_string(&self.path)
            .map(|t| parse(&t))
            .unwrap_or_default();
        let mut lines = Vec::new();
        for (pgid, start) in previous {
            let found = members(pgid, start);
            if found.is_empty() {
                continue;
            }
            signal(&found, Signal::SIGTERM);
            let deadline = tokio::time::Instant::now() + grace;
            while !members(pgid, start).is_empty() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            signal(&members(pgid, start), Signal::SIGKILL);
            let pids: Vec<String> = found.iter().map(i32::to_string).collect();
            lines.push(format!(
                "process group {pgid}: {} process(es) stopped ({})",
                found.len(),
                pids.join(" ")
            ));
        }
        let groups = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
        self.save(&groups);
        lines
    }
}

fn signal(pids: &[i32], sig: Signal) {
    for pid in pids {
        match kill(Pid::from_raw(*pid), sig) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => tracing::warn!(pid, signal = %sig, error = %e, "kill failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_survives_garbage_lines() {
        assert_eq!(
            parse("812 4242\nnonsense\n1 5\n0 7\n900 x\n901 77\n"),
            vec![(812, 4242), (901, 77)]
        );
    }

    #[test]
    fn this_process_is_found_by_its_group_and_start() {
        let me = i32::try_from(std::process::id()).expect("pid");
        let (_, pgrp, start) = stat(me).expect("own stat");
        assert!(members(pgrp, start).contains(&me));
        // Started before the recorded leader: not a member of that incarnation.
        assert!(!members(pgrp, start + 1).contains(&me));
    }
}
