//! Bounded property-based runs of the configuration reader (issue 10, "Fuzzing"): the quick,
//! always-on companion of the coverage-guided `config_check` fuzz target (fuzz/README.md).
//!
//! Whatever the bytes, `parse_bytes` — what `config check`, the daemon's start and a dry-run
//! `config apply` run — returns either a model or a list of errors that keeps its promises
//! (never empty, capped, 1-based positions, one printed line each), and never panics. The inputs
//! are random bytes, mutated generated configurations, runs of RON tokens, numbers of any size,
//! deep nesting, long strings and invalid UTF-8; generated valid configurations must come back
//! as the model they describe. The case counts keep the whole file under a few seconds in a debug
//! build; a failure prints the smallest input proptest found.

use std::fmt::Write as _;
use std::path::Path;

use proptest::prelude::*;
use upkeep_config::{parse_bytes, Config, ConfigErrors, MAX_ERRORS};

const FILE: &str = "/etc/upkeep/upkeep.ron";
const ESCALATION: &str = include_str!("../examples/escalation.ron");
const ALL_MONITORS: &str = include_str!("../examples/all-monitors.ron");

/// What every answer must be: a model, or errors the CLI can print as they are.
fn answer(bytes: &[u8]) -> Result<Config, ConfigErrors> {
    let result = parse_bytes(bytes, Path::new(FILE));
    if let Err(errors) = &result {
        assert!(!errors.is_empty(), "Err without errors");
        assert!(
            errors.len() <= MAX_ERRORS + 1,
            "{} errors listed",
            errors.len()
        );
        for e in errors {
            assert!(e.line() >= 1 && e.column() >= 1, "not 1-based: {e}");
            assert!(!e.message().is_empty(), "no message: {e}");
            let printed = e.to_string();
            assert!(
                !printed.contains(['\n', '\r']),
                "printed on several lines: {printed:?}"
            );
        }
    }
    result
}

/// A RON string literal for any text.
fn ron_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One resource: activation retries, `depends_on` picks, program arguments.
type ResourceShape = (u8, Vec<usize>, Vec<String>);

/// The shape of a valid configuration: groups of async resources, each depending on earlier
/// ones of its group, and pid monitors on some of them.
#[derive(Debug, Clone)]
struct Shape {
    /// Per group, its resources.
    groups: Vec<Vec<ResourceShape>>,
    /// Resource picks (any group) to watch with a pid monitor.
    watched: Vec<usize>,
}

fn shape() -> impl Strategy<Value = Shape> {
    let resource = (
        0u8..=99,
        prop::collection::vec(any::<usize>(), 0..3),
        prop::collection::vec("\\PC{0,12}", 0..3),
    );
    (
        prop::collection::vec(prop::collection::vec(resource, 1..4), 1..4),
        prop::collection::vec(any::<usize>(), 0..4),
    )
        .prop_map(|(groups, watched)| Shape { groups, watched })
}

impl Shape {
    fn resource_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for (g, resources) in self.groups.iter().enumerate() {
            for r in 0..resources.len() {
                names.push(format!("g{g}-r{r}"));
            }
        }
        names
    }

    /// Monitors watch distinct resources (one name each).
    fn watched_names(&self) -> Vec<String> {
        let names = self.resource_names();
        let mut watched: Vec<String> = self
            .watched
            .iter()
            .map(|i| names[i % names.len()].clone())
            .collect();
        watched.sort();
        watched.dedup();
        watched
    }

    fn render(&self) -> String {
        let mut text =
            String::from("(\n    name: \"SSS\",\n    edition: \"SSS\",\n    groups: [\n");
        for (g, resources) in self.groups.iter().enumerate() {
            let _ = writeln!(
                text,
                "        (\n            name: \"g{g}\",\n            resources: ["
            );
            for (r, (retries, deps, args)) in resources.iter().enumerate() {
                let mut depends: Vec<String> = if r == 0 {
                    vec![]
                } else {
                    deps.iter()
                        .map(|d| format!("\"g{g}-r{}\"", d % r))
                        .collect()
                };
                depends.sort();
                depends.dedup();
                let args: Vec<String> = args.iter().map(|a| ron_string(a)).collect();
                let _ = writeln!(
                    text,
                    "                (\n                    name: \"g{g}-r{r}\",\n                    start: (program: \"/bin/sleep\", args: [{}]),\n                    mode: Async,\n                    depends_on: [{}],\n                    activation: (retries: {retries}),\n                ),",
                    args.join(", "),
                    depends.join(", ")
                );
            }
            text.push_str("            ],\n        ),\n");
        }
        text.push_str("    ],\n    monitors: [\n");
        for name in self.watched_names() {
            let _ = writeln!(
                text,
                "        (name: \"pid-{name}\", kind: Pid(resource: \"{name}\"), recovery: (target: Resource(\"{name}\"))),"
            );
        }
        text.push_str("    ],\n)\n");
        text
    }
}

/// RON pieces, upkeep's own words among them, for garbage that gets past the tokenizer.
const TOKENS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "\"",
    "\\",
    "'",
    "//",
    "/*",
    "*/",
    "r#\"",
    "\"#",
    "#![enable(implicit_some)]",
    "Some(",
    "None",
    "true",
    "false",
    "name",
    "edition",
    "\"SSS\"",
    "groups",
    "monitors",
    "resources",
    "depends_on",
    "kind",
    "Pid",
    "resource",
    "Custom",
    "MultiTarget",
    "members",
    "recovery",
    "target",
    "Group",
    "Resource",
    "Sss",
    "interval",
    "retries",
    "activation",
    "final_action",
    "StopGroup",
    "\"5s\"",
    "\"1h 30m\"",
    "-1",
    "0",
    "99999999999999999999",
    "-9223372036854775809",
    "1e400",
    "0x7f",
    "NaN",
    "inf",
    "1.5",
    " ",
    "\n",
    "é",
    "\u{0}",
    "\u{202e}",
];

/// One edit of a text: delete a range, insert a token or a byte, or overwrite a byte.
#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Token(usize, usize),
    Byte(usize, u8),
    Overwrite(usize, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(at, n)| Edit::Delete(at, n)),
        (any::<usize>(), any::<usize>()).prop_map(|(at, t)| Edit::Token(at, t)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Byte(at, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Overwrite(at, b)),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = bytes.len();
        let at = |i: usize| if len == 0 { 0 } else { i % len };
        match *e {
            Edit::Delete(i, n) => {
                let from = at(i);
                let to = (from + n).min(len);
                bytes.drain(from..to);
            }
            Edit::Token(i, t) => {
                let token = TOKENS[t % TOKENS.len()].as_bytes();
                let from = at(i);
                bytes.splice(from..from, token.iter().copied());
            }
            Edit::Byte(i, b) => bytes.insert(at(i), b),
            Edit::Overwrite(i, b) => {
                if len > 0 {
                    bytes[at(i)] = b;
                }
            }
        }
    }
    bytes
}

/// A number as a file could spell it: any size, sign, float or malformed.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i128>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        (0i64..200).prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
        "[0-9]{1,60}",
        "-?[0-9]{0,5}(\\.[0-9]{0,5})?(e-?[0-9]{1,4})?",
        "0x[0-9a-fA-F_]{0,20}",
    ]
}

/// A fixed number of cases, and no regression files written next to the sources: a failure
/// prints its smallest input, which belongs in a named test.
fn bounded(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(bounded(128))]

    #[test]
    fn any_bytes_give_a_model_or_printable_errors(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let _ = answer(&bytes);
    }

    #[test]
    fn runs_of_ron_tokens_give_a_model_or_printable_errors(
        picks in prop::collection::vec(any::<usize>(), 0..80),
    ) {
        let text: String = picks.iter().map(|p| TOKENS[p % TOKENS.len()]).collect();
        let _ = answer(text.as_bytes());
    }

    #[test]
    fn generated_configurations_come_back_as_their_model(shape in shape()) {
        let text = shape.render();
        let config = match answer(text.as_bytes()) {
            Ok(c) => c,
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n{text}"))),
        };
        prop_assert_eq!(config.groups.len(), shape.groups.len());
        for (group, resources) in config.groups.iter().zip(&shape.groups) {
            prop_assert_eq!(group.resources.len(), resources.len());
            for (model, (retries, _, args)) in group.resources.iter().zip(resources) {
                prop_assert_eq!(model.activation.retries, u32::from(*retries));
                prop_assert_eq!(&model.start.args, args);
            }
        }
        let watched: Vec<String> =
            config.monitors.iter().map(|m| m.name.trim_start_matches("pid-").to_owned()).collect();
        prop_assert_eq!(watched, shape.watched_names());
    }

    #[test]
    fn mutated_configurations_give_a_model_or_printable_errors(
        base in 0usize..3,
        shape in shape(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let text = match base {
            0 => shape.render(),
            1 => ESCALATION.to_owned(),
            _ => ALL_MONITORS.to_owned(),
        };
        let _ = answer(&apply(text.into_bytes(), &edits));
    }

    #[test]
    fn a_number_of_any_size_is_taken_or_refused_where_it_stands(n in number()) {
        let text = format!("(\n    name: \"SSS\",\n    edition: \"SSS\",\n    reboot_limit: (\n        max_reboot_count: {n},\n    ),\n)\n");
        // RON also spells integers in hexadecimal, with `_` between digits.
        let spelled = match n.strip_prefix("0x") {
            Some(hex) => i64::from_str_radix(&hex.replace('_', ""), 16),
            None => n.parse::<i64>(),
        };
        match (answer(text.as_bytes()), spelled) {
            (Ok(config), Ok(value)) => {
                prop_assert_eq!(i64::from(config.reboot_limit.max_reboot_count), value);
            }
            (Ok(_), Err(_)) => prop_assert!(false, "{n} accepted as a count"),
            (Err(errors), _) => {
                // Wherever the parser stopped, it says so at the number's line.
                prop_assert!(errors.errors().iter().any(|e| e.line() == 5), "{errors}");
            }
        }
    }

    #[test]
    fn invalid_utf8_is_reported_at_its_line_and_column(
        shape in shape(),
        at in any::<usize>(),
        bad in prop_oneof![0x80u8..=0xBF, 0xF5u8..=0xFF],
    ) {
        // Only where the text is ASCII, so byte offsets and columns agree.
        let text = shape.render();
        let ascii: Vec<usize> = (0..=text.len())
            .filter(|&i| text.is_char_boundary(i) && text[..i].is_ascii())
            .collect();
        let i = ascii[at % ascii.len()];
        let mut bytes = text.clone().into_bytes();
        bytes.insert(i, bad);
        let errors = answer(&bytes).expect_err("not UTF-8");
        prop_assert_eq!(errors.len(), 1);
        let before = &text[..i];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |n| n + 1) + 1;
        prop_assert_eq!((errors.errors()[0].line(), errors.errors()[0].column()), (line, column));
    }
}

proptest! {
    // Large inputs: fewer cases, each up to a few hundred kilobytes.
    #![proptest_config(bounded(32))]

    #[test]
    fn deep_nesting_is_refused_without_exhausting_the_stack(
        openers in prop::collection::vec(0usize..5, 1..64),
        depth in 1usize..20_000,
    ) {
        const OPEN: [&str; 5] = ["(", "[", "{", "Some(", "Pid("];
        let mut text = String::from("(name: \"SSS\", groups: ");
        for i in 0..depth {
            text.push_str(OPEN[openers[i % openers.len()]]);
        }
        prop_assert!(answer(text.as_bytes()).is_err());
    }

    #[test]
    fn long_strings_are_bounded_work(len in 0usize..50_000, c in "\\PC") {
        let name = c.repeat(len);
        let text = format!("(name: {}, edition: \"SSS\")", ron_string(&name));
        if let Ok(config) = answer(text.as_bytes()) {
            prop_assert_eq!(config.name, name);
        }
    }
}
