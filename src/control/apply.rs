//! APPLY-1..6, CMD-6d: which apply method a configuration change needs, field by field.
//!
//! Pure: compares two validated models. The engine can swap monitors and the reboot limit hot
//! (`Engine::reconfigure`, APPLY-2 #2); anything about groups, resources or the engine's core
//! needs a new engine (#3); `os_actions` decides what the host may do to the machine, so the seed's
//! "shutdown/reboot" method (#3') applies. The log filter is swapped by the daemon itself (#1).

use upkeep_config::Config;

use super::proto::{ApplyMethod, ChangeDto};

/// Every changed field with its method, in a stable order.
pub fn classify(old: &Config, new: &Config) -> Vec<ChangeDto> {
    let mut out = Vec::new();
    let mut push = |field: String, what: &str, method| {
        out.push(ChangeDto {
            field,
            what: what.to_string(),
            method,
        })
    };
    if old.os_actions != new.os_actions {
        push("os_actions".into(), "changed", ApplyMethod::Reboot);
    }
    if old.name != new.name {
        push("name".into(), "changed", ApplyMethod::StopRestart);
    }
    if old.core_restart != new.core_restart {
        push("core_restart".into(), "changed", ApplyMethod::StopRestart);
    }
    if old.paths != new.paths {
        push("paths".into(), "changed", ApplyMethod::StopRestart);
    }
    // Issue 11: the alert channels are restarted by the daemon itself, nothing else stops.
    if old.alerts != new.alerts {
        push("alerts".into(), "changed", ApplyMethod::UploadOnly);
    }
    // Issue 12: the web server is bound once per daemon process; a changed `web:` section is
    // in force after the daemon process restarts (docs/WEB.md).
    if old.web != new.web {
        push("web".into(), "changed", ApplyMethod::StopRestart);
    }
    named(
        "groups",
        &old.groups,
        &new.groups,
        |g| &g.name,
        ApplyMethod::StopRestart,
        &mut push,
    );
    if old
        .groups
        .iter()
        .map(|g| &g.name)
        .ne(new.groups.iter().map(|g| &g.name))
    {
        push("groups (order)".into(), "changed", ApplyMethod::StopRestart);
    }
    if old.reboot_limit != new.reboot_limit {
        push("reboot_limit".into(), "changed", ApplyMethod::SuspendResume);
    }
    named(
        "monitors",
        &old.monitors,
        &new.monitors,
        |m| &m.name,
        ApplyMethod::SuspendResume,
        &mut push,
    );
    if old.log.level != new.log.level {
        push("log.level".into(), "changed", ApplyMethod::UploadOnly);
    }
    if old.log.keep_files != new.log.keep_files {
        // The appender is built once per process: the next daemon start uses it.
        push("log.keep_files".into(), "changed", ApplyMethod::UploadOnly);
    }
    if old.access != new.access {
        // Issue 10: the socket's roles, folder and file mode are set when the daemon binds it.
        push(
            "access".into(),
            "changed (used from the next daemon start)",
            ApplyMethod::UploadOnly,
        );
    }
    out
}

/// The most disruptive method of `changes` (upload only when nothing changed).
pub fn method(changes: &[ChangeDto]) -> ApplyMethod {
    changes
        .iter()
        .map(|c| c.method)
        .max()
        .unwrap_or(ApplyMethod::UploadOnly)
}

fn named<T: PartialEq>(
    field: &str,
    old: &[T],
    new: &[T],
    name: impl Fn(&T) -> &String,
    method: ApplyMethod,
    push: &mut impl FnMut(String, &str, ApplyMethod),
) {
    for o in old {
        match new.iter().find(|n| name(n) == name(o)) {
            None => push(format!("{field}[{}]", name(o)), "removed", method),
            Some(n) if n != o => push(format!("{field}[{}]", name(o)), "changed", method),
            Some(_) => {}
        }
    }
    for n in new {
        if !old.iter().any(|o| name(o) == name(n)) {
            push(format!("{field}[{}]", name(n)), "added", method);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use upkeep_config::{OsActions, DEFAULT_CONFIG};

    fn demo() -> Config {
        upkeep_config::parse(DEFAULT_CONFIG, Path::new("demo.ron")).expect("demo parses")
    }

    #[test]
    fn each_field_gets_its_method() {
        let old = demo();
        assert!(classify(&old, &old).is_empty());
        assert_eq!(method(&[]), ApplyMethod::UploadOnly);

        let mut new = old.clone();
        new.log.level = "debug".into();
        assert_eq!(method(&classify(&old, &new)), ApplyMethod::UploadOnly);

        let mut new = old.clone();
        new.monitors[0].retries += 1;
        let changes = classify(&old, &new);
        assert_eq!(changes[0].field, "monitors[demo-pid]");
        assert_eq!(method(&changes), ApplyMethod::SuspendResume);

        let mut new = old.clone();
        new.groups[0].resources[0].activation.retries += 1;
        assert_eq!(method(&classify(&old, &new)), ApplyMethod::StopRestart);

        // The socket's roles are set when it is bound: installed, used from the next start.
        let mut new = old.clone();
        new.access.reader_groups = vec!["*".into()];
        let changes = classify(&old, &new);
        assert_eq!(changes[0].field, "access");
        assert_eq!(changes[0].what, "changed (used from the next daemon start)");
        assert_eq!(method(&changes), ApplyMethod::UploadOnly);

        let mut new = old.clone();
        new.os_actions = OsActions::Real;
        assert_eq!(method(&classify(&old, &new)), ApplyMethod::Reboot);
    }
}
