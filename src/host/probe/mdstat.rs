//! A parser for `/proc/mdstat` (RAID-1..4): just enough of each array to decide the soft RAID
//! monitor's verdict, tolerant of every layout the kernel has printed since 2.4 (with or
//! without `super`, `level`, `chunk` and `bitmap` parts, progress lines, `resync=DELAYED`).
//!
//! Pure text in, data out; never panics on any input (tests feed it real layouts and noise).

/// One array as /proc/mdstat shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Array {
    /// `md0`, `md127`, `md_d0`.
    pub name: String,
    /// `active`, `inactive`.
    pub active: bool,
    /// `(read-only)` / `(auto-read-only)` after `active`.
    pub read_only: bool,
    /// `raid1`, `raid5`, ... ; `None` for an inactive array, which shows no personality.
    pub level: Option<String>,
    pub members: Vec<Member>,
    /// `[n/m]`: devices the array should have, devices working.
    pub slots: Option<(u32, u32)>,
    /// `[UU_]`: one flag per slot, `true` = in sync.
    pub status: Option<Vec<bool>>,
    /// A resync / recovery / reshape / check line, or `resync=DELAYED` / `PENDING`.
    pub sync: Option<Sync>,
}

/// A member device, `sda1[0](F)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub device: String,
    pub faulty: bool,
    pub spare: bool,
}

/// Background work on the array.
#[derive(Debug, Clone, PartialEq)]
pub struct Sync {
    /// `recovery`, `resync`, `reshape`, `check`, `repair`.
    pub action: String,
    /// Percent done; `None` when waiting (`DELAYED`, `PENDING`).
    pub percent: Option<f64>,
    /// The kernel's own words, e.g. `recovery =  8.1%` or `resync=DELAYED`.
    pub text: String,
}

impl Eq for Sync {}

impl Array {
    /// RAID levels that keep a copy or parity: only these can be degraded or recover.
    pub fn is_redundant(&self) -> bool {
        matches!(
            self.level.as_deref(),
            Some("raid1" | "raid4" | "raid5" | "raid6" | "raid10" | "multipath")
        )
    }

    /// Slots that are not in sync (`_` in `[U_]`), as 0-based indices.
    pub fn missing_slots(&self) -> Vec<usize> {
        self.status
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .enumerate()
            .filter(|(_, up)| !**up)
            .map(|(i, _)| i)
            .collect()
    }

    /// Fewer working devices than slots, or a slot out of sync.
    pub fn is_degraded(&self) -> bool {
        self.slots.is_some_and(|(n, m)| m < n) || !self.missing_slots().is_empty()
    }

    pub fn faulty(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| m.faulty)
    }
}

/// Every array in `text`, in file order.
pub fn parse(text: &str) -> Vec<Array> {
    let mut arrays: Vec<Array> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty()
            || trimmed.starts_with("Personalities")
            || trimmed.starts_with("unused devices")
            || trimmed.starts_with("read_ahead")
        {
            continue;
        }
        if let Some(array) = header(trimmed) {
            arrays.push(array);
            continue;
        }
        // Any other line belongs to the array above it.
        let Some(current) = arrays.last_mut() else {
            continue;
        };
        if let Some(sync) = sync_line(trimmed) {
            current.sync = Some(sync);
        }
        if current.slots.is_none() {
            if let Some((slots, status)) = slots_and_status(trimmed) {
                current.slots = slots;
                current.status = status;
            }
        }
    }
    arrays
}

/// `md0 : active raid1 sdb1[1] sda1[0](F)`.
fn header(line: &str) -> Option<Array> {
    let (name, rest) = line.split_once(':')?;
    let name = name.trim();
    let is_md = name.starts_with("md") && !name.contains(char::is_whitespace) && name.len() > 2;
    if !is_md {
        return None;
    }
    let mut words = rest.split_whitespace().peekable();
    let active = match words.next()? {
        "active" => true,
        "inactive" => false,
        _ => return None,
    };
    let mut read_only = false;
    while let Some(w) = words.peek() {
        if w.starts_with('(') && w.ends_with(')') {
            read_only |= w.contains("read-only");
            words.next();
        } else {
            break;
        }
    }
    let mut level = None;
    let mut members = Vec::new();
    for w in words {
        if let Some(m) = member(w) {
            members.push(m);
        } else if level.is_none() && members.is_empty() {
            level = Some(w.to_owned());
        }
    }
    Some(Array {
        name: name.to_owned(),
        active,
        read_only,
        level,
        members,
        slots: None,
        status: None,
        sync: None,
    })
}

/// `sda1[0]`, `sdb1[1](F)`, `sdc[2](S)`, `sdd[3](W)(F)`.
fn member(word: &str) -> Option<Member> {
    let open = word.find('[')?;
    let close = word[open..].find(']')? + open;
    let index = &word[open + 1..close];
    if open == 0 || index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let flags = &word[close + 1..];
    Some(Member {
        device: word[..open].to_owned(),
        faulty: flags.contains("(F)"),
        spare: flags.contains("(S)"),
    })
}

type SlotsStatus = (Option<(u32, u32)>, Option<Vec<bool>>);

/// The `[2/1] [U_]` pair at the end of the size line.
fn slots_and_status(line: &str) -> Option<SlotsStatus> {
    let mut slots = None;
    let mut status = None;
    for w in line.split_whitespace() {
        let Some(inner) = w.strip_prefix('[').and_then(|w| w.strip_suffix(']')) else {
            continue;
        };
        if let Some((n, m)) = inner.split_once('/') {
            if let (Ok(n), Ok(m)) = (n.parse(), m.parse()) {
                slots = Some((n, m));
            }
        } else if !inner.is_empty() && inner.bytes().all(|b| b == b'U' || b == b'_') {
            status = Some(inner.bytes().map(|b| b == b'U').collect());
        }
    }
    (slots.is_some() || status.is_some()).then_some((slots, status))
}

/// `[=>....]  recovery =  8.1% (251596/3068288) finish=6.7min speed=6963K/sec`,
/// `resync=DELAYED`, `resync=PENDING`.
fn sync_line(line: &str) -> Option<Sync> {
    const ACTIONS: [&str; 5] = ["recovery", "resync", "reshape", "check", "repair"];
    // The progress bar is made of `=`, so look for the action word first.
    let body = match line.find(']') {
        Some(i) if line.starts_with('[') => line[i + 1..].trim_start(),
        _ => line,
    };
    let action = ACTIONS.iter().find(|a| body.starts_with(**a))?;
    let after = body[action.len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let percent = after
        .split('%')
        .next()
        .filter(|_| after.contains('%'))
        .and_then(|p| p.trim().parse::<f64>().ok());
    let text = match body.find('%') {
        Some(i) => body[..=i].to_owned(),
        None => body.split_whitespace().next().unwrap_or(body).to_owned(),
    };
    Some(Sync {
        action: (*action).to_owned(),
        percent,
        text,
    })
}
