//! `clpstat`'s own layout (CMD-1, issue 13), for scripts written against the seed: a framed
//! block with `<server>`, `<group>` and `<monitor>` sections, 4 spaces before a group or
//! monitor, 6 before a resource or `current`, the local server marked `*`, names cut to their
//! column and dotted out to the colon (NOTES-ROUND2 §9). Rendered from the same `StatusReply`
//! as `upkeep status`, so the two never disagree.

use std::fmt::Write;

use crate::control::proto::StatusReply;

/// Which sections `clpstat` prints: everything (`-s`, no option), `-g` or `-m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Section {
    All,
    Groups,
    Monitors,
}

const RULE: &str = " =====================================================================";
/// Width of a name column, colon excluded.
const NAME: usize = 17;

/// `name` cut to `width` and dotted (`dots`) or padded out to it.
fn column(name: &str, width: usize, dots: bool) -> String {
    let cut: String = name.chars().take(width).collect();
    let fill = width - cut.chars().count();
    if dots && fill > 1 {
        format!("{cut} {}", ".".repeat(fill - 1))
    } else {
        format!("{cut}{}", " ".repeat(fill))
    }
}

/// The seed's state words.
fn state(word: &str) -> &'static str {
    match word {
        "online" => "Online",
        "offline" | "stopped" => "Offline",
        "online_partial" => "Online Pending",
        "offline_partial" | "stop_failed" => "Offline Pending",
        "starting" => "Online Pending",
        "stopping" => "Offline Pending",
        "start_failed" | "failed" => "Online Failure",
        "backoff" => "Online Pending",
        _ => "Unknown",
    }
}

fn monitor_state(phase: &str, verdict: Option<&str>) -> &'static str {
    match (phase, verdict) {
        ("suspended", _) => "Suspend",
        ("stopped" | "waiting_for_target" | "start_wait", _) => "Offline",
        ("recovering" | "backoff", _) | (_, Some("error")) => "Error",
        (_, Some("warning")) => "Warning",
        _ => "Normal",
    }
}

pub fn render(status: &StatusReply, section: Section) -> String {
    let mut out = String::new();
    let title = match section {
        Section::All => "CLUSTER STATUS",
        Section::Groups => "GROUP STATUS",
        Section::Monitors => "MONITOR STATUS",
    };
    let _ = writeln!(
        out,
        " ========================  {title}  ==========================="
    );
    let _ = writeln!(out, "  Cluster : {}", status.server.name);
    if section == Section::All {
        out.push_str("  <server>\n");
        let _ = writeln!(
            out,
            "   *{}: {}",
            column(&status.server.host, NAME, true),
            state(&status.server.state)
        );
    }
    if section != Section::Monitors {
        out.push_str("  <group>\n");
        for g in &status.groups {
            let _ = writeln!(
                out,
                "    {}: {}",
                column(&g.name, NAME, true),
                state(&g.state)
            );
            let _ = writeln!(
                out,
                "      {}: {}",
                column("current", NAME - 2, false),
                if g.state == "offline" {
                    ""
                } else {
                    &status.server.host
                }
            );
            for r in &g.resources {
                let _ = writeln!(
                    out,
                    "      {}: {}",
                    column(&r.name, NAME - 2, false),
                    state(&r.state)
                );
            }
        }
    }
    if section != Section::Groups {
        out.push_str("  <monitor>\n");
        for m in &status.monitors {
            let _ = writeln!(
                out,
                "    {}: {}",
                column(&m.name, NAME, false),
                monitor_state(&m.phase, m.last_verdict.as_deref())
            );
        }
    }
    out.push_str(RULE);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cut_and_dotted_to_their_column() {
        assert_eq!(column("failover", 15, true), "failover ......");
        assert_eq!(column("container-recovery", 15, true), "container-recov");
        assert_eq!(column("exec", 13, false), "exec         ");
    }
}
