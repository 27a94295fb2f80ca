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
    assert!(!files.is_empty(), "no examples found in {}", dir.display());
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
