//! Bounded work for every configuration (issue 10): any socket user can have the daemon validate
//! a configuration (a dry-run `config apply`), so its size, its item counts and the number of
//! errors it reports are capped, and every rule is linear in the input. Before these caps a
//! 1 MB file of cycles or of unknown names took seconds to minutes and hundreds of megabytes.

use std::fmt::Write as _;
use std::path::Path;

use upkeep_config::{parse, ConfigErrors, MAX_CONFIG_BYTES, MAX_ERRORS, MAX_MONITORS};

/// One group `g` holding these resource lines.
fn with_resources(lines: &str) -> String {
    format!(
        "(\n    name: \"SSS\",\n    edition: \"SSS\",\n    groups: [ (name: \"g\", resources: [\n{lines}    ]) ],\n)\n"
    )
}

fn errors(text: &str) -> Vec<String> {
    match parse(text, Path::new("big.ron")) {
        Ok(_) => panic!("accepted"),
        Err(ConfigErrors(errors)) => errors.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn a_file_with_thousands_of_mistakes_lists_the_first_hundred_and_counts_the_rest() {
    let mut lines = String::new();
    for i in 0..2_000 {
        let _ = writeln!(
            lines,
            "        (name: \"r{i}\", start: (program: \"/bin/true\"), depends_on: [\"nope{i}\"]),"
        );
    }
    let errors = errors(&with_resources(&lines));
    assert_eq!(errors.len(), MAX_ERRORS + 1, "{:?}", &errors[..3]);
    assert_eq!(
        errors[0],
        "big.ron:5:66: groups[0].resources[0].depends_on[0]: resource `nope0` does not exist in this group"
    );
    assert_eq!(
        errors[MAX_ERRORS],
        "big.ron:1:1: 1900 more errors not shown (only the first 100 are); fix these and check again"
    );
}

#[test]
fn every_dependency_cycle_is_reported_once_by_its_shortest_loop() {
    // 600 resources, each depending on the next and on the one seven further: one strongly
    // connected component with a vast number of distinct cycles. Listing each cycle grew with
    // the cube of the size; one error per component names the shortest loop through its first
    // resource, cut short when it is long.
    let n = 600;
    let mut lines = String::new();
    for i in 0..n {
        let _ = writeln!(
            lines,
            "        (name: \"r{i}\", start: (program: \"/bin/true\"), depends_on: [\"r{}\", \"r{}\"]),",
            (i + 1) % n,
            (i + 7) % n
        );
    }
    // And a separate small cycle after it.
    lines
        .push_str("        (name: \"x\", start: (program: \"/bin/true\"), depends_on: [\"y\"]),\n");
    lines
        .push_str("        (name: \"y\", start: (program: \"/bin/true\"), depends_on: [\"x\"]),\n");
    let errors = errors(&with_resources(&lines));
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_eq!(
        errors[0],
        "big.ron:5:66: groups[0].resources[0].depends_on[0]: dependency cycle: r0 -> r1 -> r2 -> r3 -> r4 -> r5 -> r12 -> r19 -> r26 -> r33 -> r40 -> r47 -> … (90 resources in the cycle) -> r0"
    );
    assert_eq!(
        errors[1],
        "big.ron:605:65: groups[0].resources[600].depends_on[0]: dependency cycle: x -> y -> x"
    );
}

#[test]
fn too_many_items_are_refused_before_any_rule_runs() {
    let mut monitors = String::new();
    for i in 0..=MAX_MONITORS {
        let _ = writeln!(
            monitors,
            "        (name: \"m{i}\", kind: Tcp(host: \"127.0.0.1\", port: 1)),"
        );
    }
    let text = format!(
        "(\n    name: \"SSS\",\n    edition: \"SSS\",\n    monitors: [\n{monitors}    ],\n)\n"
    );
    assert_eq!(
        errors(&text),
        ["big.ron:4:15: monitors: 10001 monitors; at most 10000 are allowed"]
    );
}

#[test]
fn an_oversized_file_is_refused_without_being_parsed() {
    let text = format!("// {}\n", "x".repeat(MAX_CONFIG_BYTES));
    assert_eq!(
        errors(&text),
        [format!(
            "big.ron:1:1: the file is {} bytes; a configuration may have at most {MAX_CONFIG_BYTES} bytes",
            text.len()
        )]
    );
}
