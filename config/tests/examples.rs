//! Every file in config/examples/ parses cleanly (ARCHITECTURE §1: "every one is parsed by a
//! test"), and the built-in demo is what `DEFAULT_CONFIG` says it is.

use std::path::{Path, PathBuf};

#[test]
fn every_example_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("examples folder")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "ron"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 2,
        "expected default.ron and escalation.ron, found {files:?}"
    );
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read example");
        if let Err(e) = upkeep_config::parse(&text, &f) {
            panic!("{} does not parse:\n{e}", f.display());
        }
    }
}

#[test]
fn default_config_is_the_demo() {
    let c = upkeep_config::parse(
        upkeep_config::DEFAULT_CONFIG,
        Path::new("/etc/upkeep/upkeep.ron"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.name, "SSS");
    assert_eq!(c.os_actions, upkeep_config::OsActions::Simulated);
    assert_eq!(c.groups.len(), 1);
    assert_eq!(c.monitors.len(), 1);
    assert_eq!(c.base_dir, Path::new("/etc/upkeep"));
}

/// escalation.ron is the tour of the format: keep it covering what it promises.
#[test]
fn escalation_example_covers_every_final_action() {
    use std::collections::HashSet;
    use upkeep_config::{ActivationFinalAction as A, DeactivationFinalAction as D, RecoveryTarget};

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/escalation.ron");
    let text = std::fs::read_to_string(&path).expect("read escalation.ron");
    let c = upkeep_config::parse(&text, &path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.groups.len(), 2);
    let resources = c.groups.iter().flat_map(|g| &g.resources);
    let act: HashSet<A> = resources
        .clone()
        .map(|r| r.activation.final_action)
        .collect();
    let deact: HashSet<D> = resources
        .clone()
        .map(|r| r.deactivation.final_action)
        .collect();
    assert_eq!(act.len(), 6, "activation final actions used: {act:?}");
    assert_eq!(deact.len(), 4, "deactivation final actions used: {deact:?}");
    assert!(resources.clone().any(|r| !r.depends_on.is_empty()));
    let pid_targets: Vec<&RecoveryTarget> = c
        .monitors
        .iter()
        .filter(|m| m.pid_target().is_some())
        .map(|m| &m.recovery.target)
        .collect();
    assert!(pid_targets
        .iter()
        .any(|t| matches!(t, RecoveryTarget::Group(_))));
    assert!(pid_targets
        .iter()
        .any(|t| matches!(t, RecoveryTarget::Resource(_))));
    assert!(c.monitors.iter().any(|m| m.is_hardware()));
}
