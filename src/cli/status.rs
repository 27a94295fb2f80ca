//! `upkeep status` for humans (CMD-1): the server line, a table of groups with their resources,
//! a table of monitors and the reboot count. Rendering only; the data is the wire's
//! `StatusReply`, so `--json` and this view can never disagree. On a terminal the states are
//! coloured ([`colour`]); piped output stays plain.

use std::fmt::Write;
use std::time::Duration;

use crate::control::proto::{ExitDto, StatusReply};

/// The whole view, newline-terminated.
pub fn render(status: &StatusReply) -> String {
    let mut out = String::new();
    let server = &status.server;
    let _ = write!(
        out,
        "upkeep {} on {}: {}, up {}, OS actions {}",
        server.name,
        server.host,
        server.state,
        humantime::format_duration(Duration::from_secs(server.uptime_s)),
        if server.os_actions.is_empty() {
            "unknown"
        } else {
            &server.os_actions
        },
    );
    if !server.containment.is_empty() {
        let _ = write!(out, ", processes in {}", server.containment);
    }
    if server.suspended {
        out.push_str(", monitoring SUSPENDED");
    }
    out.push_str("\n\n");

    let mut groups = vec![row([
        "GROUP / RESOURCE",
        "STATE",
        "PID",
        "RESTARTS",
        "LAST EXIT",
        "SINCE",
        "REASON",
    ])];
    for g in &status.groups {
        groups.push(row([
            &g.name,
            &g.state,
            "",
            "",
            "",
            &short_time(&g.since),
            "",
        ]));
        for r in &g.resources {
            // Issue 9: a crash loop shows as `failed` or `backoff until ...`, with its reason.
            let state = match &r.next_attempt {
                Some(at) => format!("{} until {}", r.state, short_time(at)),
                None => r.state.clone(),
            };
            groups.push(vec![
                format!("  {}", r.name),
                state,
                r.pid.map(|p| p.to_string()).unwrap_or_default(),
                r.restarts.to_string(),
                r.last_exit.map(exit).unwrap_or_default(),
                short_time(&r.since).to_string(),
                r.reason.clone().unwrap_or_default(),
            ]);
        }
    }
    if status.groups.is_empty() {
        out.push_str("no groups\n");
    } else {
        table(&mut out, &groups);
    }
    out.push('\n');

    let mut monitors = vec![row([
        "MONITOR",
        "KIND",
        "PHASE",
        "FAILURES",
        "REACTIVATIONS",
        "LAST CHECK",
    ])];
    for m in &status.monitors {
        let last = match (&m.last_verdict, m.last_detail.is_empty()) {
            (Some(v), false) => format!("{v}: {}", m.last_detail),
            (Some(v), true) => v.clone(),
            (None, _) => String::new(),
        };
        // OPS-4: say who suspended it and, with `--for`, until when.
        let phase = match (&m.suspended_until, m.operator_suspended) {
            (Some(until), _) => format!("{} until {}", m.phase, short_time(until)),
            (None, true) => format!("{} by operator", m.phase),
            (None, false) => match (&m.next_attempt, &m.failed) {
                (Some(at), _) => format!("{} until {}", m.phase, short_time(at)),
                (None, None) if m.grace_until.is_some() => format!(
                    "{}, start grace until {}",
                    m.phase,
                    short_time(m.grace_until.as_deref().unwrap_or_default())
                ),
                // Issue 9: the episode ended in its final action and is not repeated.
                (None, Some(why)) => format!("failed ({why})"),
                (None, None) => m.phase.clone(),
            },
        };
        monitors.push(vec![
            m.name.clone(),
            m.kind.clone(),
            phase,
            format!("{}/{}", m.failures, m.needed),
            format!("{}/{}", m.reactivations, m.reactivation_threshold),
            last,
        ]);
    }
    if status.monitors.is_empty() {
        out.push_str("no monitors\n");
    } else {
        table(&mut out, &monitors);
    }
    out.push('\n');

    let gov = &status.governor;
    let _ = write!(out, "reboot count {}/{}", gov.count, gov.max);
    if let Some(at) = &gov.last_error {
        let _ = write!(out, ", last error {}", short_time(at));
    }
    if gov.damaged {
        out.push_str(", state file DAMAGED: treated as the limit reached");
    }
    out.push('\n');
    out
}

pub(crate) fn row<const N: usize>(cells: [&str; N]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

/// Left-aligned columns two spaces apart; trailing blanks trimmed.
pub(crate) fn table(out: &mut String, rows: &[Vec<String>]) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let mut line = String::new();
        for (cell, width) in r.iter().zip(&widths) {
            let _ = write!(line, "{cell:<width$}  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

/// Colour the state words of a rendered view (green healthy, yellow in between, red failed);
/// only whole words change, so the columns stay aligned.
pub fn colour(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let code = match word.as_str() {
            "online" | "monitoring" | "running" | "normal" => Some("32"),
            "starting" | "stopping" | "start_wait" | "waiting_for_target" | "suspended"
            | "SUSPENDED" | "recovering" | "online_partial" | "offline_partial" | "warning"
            | "backoff" => Some("33"),
            "start_failed" | "stop_failed" | "error" | "failed" | "DAMAGED:" => Some("31"),
            "offline" | "stopped" => Some("2"),
            _ => None,
        };
        match code {
            Some(c) => {
                let _ = write!(out, "\x1b[{c}m{word}\x1b[0m");
            }
            None => out.push_str(word),
        }
        word.clear();
    };
    for ch in text.chars() {
        if ch.is_whitespace() || ch == ',' {
            flush(&mut word, &mut out);
            out.push(ch);
        } else {
            word.push(ch);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn exit(e: ExitDto) -> String {
    match e {
        ExitDto::Code(c) => format!("code {c}"),
        ExitDto::Signal(s) => format!("signal {s}"),
    }
}

/// `2026-01-31T05:47:58.123Z` → `2026-01-31T05:47:58`: seconds are enough on a terminal (UTC).
/// Issue 13: a time for people, in local time (`TZ` respected) with its UTC offset, to the
/// second: `2026-12-02 04:15:03+01:00`. JSON keeps RFC 3339 in UTC with `Z`.
pub(crate) fn short_time(rfc3339: &str) -> String {
    time_in(rfc3339, jiff::tz::TimeZone::system())
}

fn time_in(rfc3339: &str, zone: jiff::tz::TimeZone) -> String {
    match rfc3339.parse::<jiff::Timestamp>() {
        Ok(at) => at
            .to_zoned(zone)
            .strftime("%Y-%m-%d %H:%M:%S%:z")
            .to_string(),
        Err(_) => rfc3339.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::proto::{GovernorDto, GroupDto, MonitorDto, ResourceDto, ServerDto};

    #[test]
    fn times_for_people_carry_their_offset() {
        let tokyo = jiff::tz::TimeZone::get("Asia/Tokyo").expect("tzdata");
        assert_eq!(
            time_in("2026-01-31T05:50:00.000Z", tokyo),
            "2026-01-31 14:50:00+09:00"
        );
        let paris = jiff::tz::TimeZone::get("Europe/Paris").expect("tzdata");
        assert_eq!(
            time_in("2026-07-01T00:00:00Z", paris),
            "2026-07-01 02:00:00+02:00"
        );
        assert_eq!(time_in("not a time", jiff::tz::TimeZone::UTC), "not a time");
    }

    #[test]
    fn colour_changes_whole_state_words_only() {
        let coloured = colour("demo  online_partial  online\nx  start_failed");
        assert!(coloured.contains("\x1b[33monline_partial\x1b[0m"));
        assert!(coloured.contains("\x1b[32monline\x1b[0m\n"));
        assert!(coloured.contains("\x1b[31mstart_failed\x1b[0m"));
        assert!(coloured.starts_with("demo  "));
    }

    #[test]
    fn shows_groups_resources_monitors_and_the_reboot_count() {
        let status = StatusReply {
            version: 1,
            server: ServerDto {
                name: "SSS".into(),
                host: "server1".into(),
                state: "online".into(),
                suspended: false,
                uptime_s: 65,
                pid: 10,
                os_actions: "simulated".into(),
                containment: "cgroup2 /sys/fs/cgroup/upkeep/x".into(),
                state_dir: "/var/lib/upkeep".into(),
                log_dir: "/var/log/upkeep".into(),
                config_file: String::new(),
            },
            groups: vec![GroupDto {
                name: "demo".into(),
                state: "online".into(),
                since: "2026-01-31T05:47:58.123Z".into(),
                resources: vec![ResourceDto {
                    name: "demo-app".into(),
                    state: "online".into(),
                    pid: Some(4242),
                    last_exit: None,
                    since: "2026-01-31T05:47:58.123Z".into(),
                    restarts: 0,
                    reason: None,
                    next_attempt: None,
                }],
            }],
            monitors: vec![MonitorDto {
                name: "demo-pid".into(),
                kind: "pid".into(),
                phase: "monitoring".into(),
                last_verdict: None,
                last_detail: String::new(),
                failures: 0,
                needed: 1,
                reactivations: 1,
                reactivation_threshold: 3,
                since: "2026-01-31T05:47:58.123Z".into(),
                operator_suspended: false,
                suspended_until: None,
                restarts: 0,
                next_attempt: None,
                failed: None,
                grace_until: None,
            }],
            governor: GovernorDto {
                count: 0,
                max: 3,
                last_error: None,
                damaged: false,
            },
            last_event_seq: 12,
        };
        let text = render(&status);
        // The time is shown in the zone of the machine running the test, always 25 wide.
        let since = short_time("2026-01-31T05:47:58.123Z");
        assert_eq!(since.len(), 25, "{since}");
        assert_eq!(
            text,
            format!(
                "upkeep SSS on server1: online, up 1m 5s, OS actions simulated, processes in cgroup2 /sys/fs/cgroup/upkeep/x\n\
                 \n\
                 GROUP / RESOURCE  STATE   PID   RESTARTS  LAST EXIT  SINCE                      REASON\n\
                 demo              online                             {since}\n  \
                 demo-app        online  4242  0                    {since}\n\
                 \n\
                 MONITOR   KIND  PHASE       FAILURES  REACTIVATIONS  LAST CHECK\n\
                 demo-pid  pid   monitoring  0/1       1/3\n\
                 \n\
                 reboot count 0/3\n"
            )
        );
    }
}
