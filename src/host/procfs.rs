//! Minimal /proc readers the host needs: a process's state, parent and process group
//! (MAP-8: "the process group" of an exec resource; the orphan reaper's view of its children).
//!
//! The parser is pure so it can be tested on fixed text; the readers tolerate processes vanishing
//! between listing and reading, which is the normal case under /proc.

use std::fs;
use std::io;

/// The fields of `/proc/<pid>/stat` the host uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    pub pid: i32,
    /// The command name (`comm`), at most 15 bytes, may contain spaces and parentheses.
    pub comm: String,
    /// One letter: R, S, D, Z (zombie), T, t, X (dead), I, ...
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    pub session: i32,
}

impl Stat {
    /// Still running: neither a zombie waiting for its parent nor already dead.
    pub fn is_alive(&self) -> bool {
        !matches!(self.state, 'Z' | 'X' | 'x')
    }

    pub fn is_zombie(&self) -> bool {
        self.state == 'Z'
    }
}

/// Parses one `/proc/<pid>/stat` line.
///
/// `comm` is cut at the *last* `)` because a command name may itself contain `) `.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    if close < open {
        return None;
    }
    let pid = text[..open].trim().parse().ok()?;
    let comm = text[open + 1..close].to_string();
    let mut rest = text[close + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    let pgrp = rest.next()?.parse().ok()?;
    let session = rest.next()?.parse().ok()?;
    Some(Stat {
        pid,
        comm,
        state,
        ppid,
        pgrp,
        session,
    })
}

/// Reads `/proc/<pid>/stat`; `Ok(None)` when the process is gone.
pub fn read_stat(pid: i32) -> io::Result<Option<Stat>> {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(text) => Ok(parse_stat(&text)),
        // ESRCH shows up when the process is reaped while the file is being read.
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH) => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Every process visible in /proc, in no particular order (a snapshot: it may be stale at once).
pub fn all_processes() -> io::Result<Vec<Stat>> {
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc")? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if let Ok(Some(stat)) = read_stat(pid) {
            out.push(stat);
        }
    }
    Ok(out)
}

/// The processes whose process group is `pgid`, zombies included (filter with [`Stat::is_alive`]).
pub fn group_members(pgid: i32) -> io::Result<Vec<Stat>> {
    Ok(all_processes()?
        .into_iter()
        .filter(|s| s.pgrp == pgid)
        .collect())
}

/// The pids of this process's children, from every thread's `children` file.
///
/// Reparented orphans belong to whichever thread the kernel picked, so every thread is read.
/// Needs CONFIG_PROC_CHILDREN; without it, falls back to scanning /proc for our pid as parent.
pub fn own_children() -> io::Result<Vec<i32>> {
    match children_from_tasks() {
        Ok(pids) => Ok(pids),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let me = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
            Ok(all_processes()?
                .into_iter()
                .filter(|s| s.ppid == me)
                .map(|s| s.pid)
                .collect())
        }
        Err(e) => Err(e),
    }
}

fn children_from_tasks() -> io::Result<Vec<i32>> {
    let mut pids = Vec::new();
    for task in fs::read_dir("/proc/self/task")? {
        let Ok(task) = task else { continue };
        let text = match fs::read_to_string(task.path().join("children")) {
            Ok(text) => text,
            // A thread that ended between the listing and the read has no children left.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => continue,
            Err(e) => return Err(e),
        };
        pids.extend(
            text.split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok()),
        );
    }
    pids.sort_unstable();
    pids.dedup();
    Ok(pids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_plain_line() {
        let s = parse_stat("1234 (sleep) S 1200 1234 1100 0 -1 4194304 95 0").expect("parses");
        assert_eq!(
            s,
            Stat {
                pid: 1234,
                comm: "sleep".into(),
                state: 'S',
                ppid: 1200,
                pgrp: 1234,
                session: 1100
            }
        );
        assert!(s.is_alive());
    }

    #[test]
    fn comm_with_spaces_and_parens_is_cut_at_the_last_paren() {
        let s = parse_stat("77 (a) b (c)) Z 1 77 77 0").expect("parses");
        assert_eq!(s.comm, "a) b (c)");
        assert!(s.is_zombie());
        assert!(!s.is_alive());
        assert_eq!((s.ppid, s.pgrp, s.session), (1, 77, 77));
    }

    #[test]
    fn garbage_is_rejected() {
        assert_eq!(parse_stat(""), None);
        assert_eq!(parse_stat("12 sleep S 1 2 3"), None);
        assert_eq!(parse_stat("12 (sleep) S x 2 3"), None);
        assert_eq!(parse_stat("12 (sleep)"), None);
    }

    #[test]
    fn reads_itself() {
        let me = i32::try_from(std::process::id()).expect("pid fits");
        let s = read_stat(me).expect("readable").expect("present");
        assert_eq!(s.pid, me);
        assert!(s.is_alive());
    }
}
