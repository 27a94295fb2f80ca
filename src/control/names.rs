//! Names in operator requests (issue 13): every command that names a group, resource or monitor
//! checks it here, against the configuration in force, before anything is done. An unknown name
//! is `ErrorKind::Unknown` (exit 65) with "did you mean" when one is close, and a name of another
//! kind says what it is ("`web` is a group") instead of "nothing is called `web`".

use upkeep_config::Config;

use super::proto::{ErrorKind, Response};

/// What a request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Group,
    Resource,
    Monitor,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Group => "group",
            Kind::Resource => "resource",
            Kind::Monitor => "monitor",
        }
    }
}

fn names(config: &Config, kind: Kind) -> Vec<&str> {
    match kind {
        Kind::Group => config.groups.iter().map(|g| g.name.as_str()).collect(),
        Kind::Resource => config
            .groups
            .iter()
            .flat_map(|g| g.resources.iter().map(|r| r.name.as_str()))
            .collect(),
        Kind::Monitor => config.monitors.iter().map(|m| m.name.as_str()).collect(),
    }
}

/// `None` when `name` is one of `kinds` (the first listed is the one meant); otherwise the
/// answer to give: unknown, with the closest name of those kinds or what `name` is instead.
pub fn check(config: &Config, kinds: &[Kind], name: &str) -> Option<Response> {
    if kinds.iter().any(|k| names(config, *k).contains(&name)) {
        return None;
    }
    let wanted = kinds
        .iter()
        .map(|k| k.word())
        .collect::<Vec<_>>()
        .join(" or ");
    let other = [Kind::Group, Kind::Resource, Kind::Monitor]
        .into_iter()
        .filter(|k| !kinds.contains(k))
        .find(|k| names(config, *k).contains(&name));
    let hint = if let Some(other) = other {
        format!(
            ": `{name}` is a {}{}",
            other.word(),
            members(config, other, name)
        )
    } else {
        let known: Vec<&str> = kinds.iter().flat_map(|k| names(config, *k)).collect();
        match upkeep_config::closest_name(name, known.iter().copied()) {
            Some(best) => format!("; did you mean `{best}`?"),
            None if known.is_empty() => format!("; the configuration has no {wanted}"),
            None => format!("; known: {}", quoted(&known)),
        }
    };
    Some(Response::failure(
        ErrorKind::Unknown,
        format!("unknown {wanted} `{name}`{hint}"),
    ))
}

/// For a group: its resources, which a resource or monitor command may have meant.
fn members(config: &Config, kind: Kind, name: &str) -> String {
    if kind != Kind::Group {
        return String::new();
    }
    let Some(group) = config.groups.iter().find(|g| g.name == name) else {
        return String::new();
    };
    let resources: Vec<&str> = group.resources.iter().map(|r| r.name.as_str()).collect();
    if resources.is_empty() {
        return String::new();
    }
    format!(" (its resources: {})", quoted(&resources))
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Issue 13: `inject script-fails PROGRAM` acts only when something runs `PROGRAM`; a path no
/// resource or monitor runs would be accepted and never fire, so it is refused with the list.
pub fn check_program(config: &Config, program: &str) -> Option<Response> {
    let mut programs: Vec<String> = Vec::new();
    for g in &config.groups {
        for r in &g.resources {
            programs.push(r.start.program.display().to_string());
            if let Some(stop) = &r.stop {
                programs.push(stop.program.display().to_string());
            }
        }
    }
    for m in &config.monitors {
        if let upkeep_config::MonitorKind::Custom { program, .. } = &m.kind {
            programs.push(program.display().to_string());
        }
    }
    if programs.iter().any(|p| p == program) {
        return None;
    }
    programs.sort();
    programs.dedup();
    let known: Vec<&str> = programs.iter().map(String::as_str).collect();
    let hint = match upkeep_config::closest_name(program, known.iter().copied()) {
        Some(best) => format!("; did you mean `{best}`?"),
        None if known.is_empty() => String::new(),
        None => format!("; the configuration runs {}", quoted(&known)),
    };
    Some(Response::failure(
        ErrorKind::Unknown,
        format!("no resource or monitor runs `{program}`, so the fault would never happen{hint}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn demo() -> Config {
        upkeep_config::parse(upkeep_config::DEFAULT_CONFIG, Path::new("demo.ron")).expect("demo")
    }

    fn message(r: Option<Response>) -> String {
        match r {
            Some(Response::Error(e)) => {
                assert_eq!(e.kind, ErrorKind::Unknown);
                e.message
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_names_get_the_closest_or_what_they_are() {
        let c = demo();
        assert!(check(&c, &[Kind::Group], "demo").is_none());
        assert_eq!(
            message(check(&c, &[Kind::Group], "demoo")),
            "unknown group `demoo`; did you mean `demo`?"
        );
        assert_eq!(
            message(check(&c, &[Kind::Resource], "demo-ap")),
            "unknown resource `demo-ap`; did you mean `demo-app`?"
        );
        assert_eq!(
            message(check(&c, &[Kind::Monitor, Kind::Resource], "demo")),
            "unknown monitor or resource `demo`: `demo` is a group (its resources: `demo-app`)"
        );
        assert_eq!(
            message(check(&c, &[Kind::Group], "demo-app")),
            "unknown group `demo-app`: `demo-app` is a resource"
        );
        assert_eq!(
            message(check(&c, &[Kind::Monitor], "zzzzzz")),
            "unknown monitor `zzzzzz`; known: `demo-pid`"
        );
    }

    #[test]
    fn a_program_nothing_runs_is_refused() {
        let c = demo();
        assert!(check_program(&c, "/bin/sh").is_none());
        assert_eq!(
            message(check_program(&c, "/bin/nosuch")),
            "no resource or monitor runs `/bin/nosuch`, so the fault would never happen; the configuration runs `/bin/sh`"
        );
    }
}
