//! `parse` never panics, whatever the text: truncated files, random bytes, mutated examples.
//! The daemon parses files it did not write (and reloads them on `config apply`), so a panic
//! here would take the supervisor down with the typo.

use std::path::Path;

use upkeep_config::{parse, ConfigErrors, DEFAULT_CONFIG};

const ESCALATION: &str = include_str!("../examples/escalation.ron");

/// Small deterministic PRNG (xorshift64*): reproducible garbage without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }
}

/// Every error has a real position and a message; that is all a caller may rely on.
fn check(text: &str) {
    match parse(text, Path::new("upkeep.ron")) {
        Ok(_) => {}
        Err(ConfigErrors(errors)) => {
            assert!(!errors.is_empty(), "Err without errors for {text:?}");
            for e in errors {
                assert!(e.line >= 1 && e.column >= 1, "{e}");
                assert!(!e.message.is_empty(), "{e}");
            }
        }
    }
}

#[test]
fn every_prefix_of_the_default_config() {
    for (i, _) in DEFAULT_CONFIG.char_indices() {
        check(&DEFAULT_CONFIG[..i]);
    }
    check(DEFAULT_CONFIG);
}

#[test]
fn prefixes_of_the_escalation_example() {
    // Every prefix of this 9 KB file takes most of a minute in a debug build; a prime stride
    // still cuts inside every kind of token.
    for (i, _) in ESCALATION.char_indices().step_by(11) {
        check(&ESCALATION[..i]);
    }
}

#[test]
fn truncated_files_say_so() {
    let cut = DEFAULT_CONFIG.find("monitors:").unwrap_or(0);
    let errors = parse(&DEFAULT_CONFIG[..cut], Path::new("upkeep.ron")).expect_err("half a file");
    assert!(
        errors.to_string().ends_with(": unexpected end of file"),
        "{errors}"
    );
    let errors = parse("(edition: \"SS", Path::new("upkeep.ron")).expect_err("open string");
    assert_eq!(
        errors.to_string(),
        "upkeep.ron:1:11: edition: unterminated string: missing closing `\"`"
    );
}

#[test]
fn random_bytes() {
    let mut rng = Rng(0x5EED_0FC0_FFEE);
    for _ in 0..2000 {
        let len = rng.below(200);
        let bytes: Vec<u8> = (0..len).map(|_| (rng.next() & 0xFF) as u8).collect();
        check(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn random_ron_like_tokens() {
    // Garbage made of the format's own pieces reaches deeper than random bytes.
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
        "Some(",
        "None",
        "name",
        "edition",
        "\"SSS\"",
        "groups",
        "monitors",
        "resources",
        "kind",
        "Pid",
        "resource",
        "UserSpace",
        "recovery",
        "target",
        "Group",
        "Sss",
        "-1",
        "99999999999999999999",
        "1.5",
        "\"5s\"",
        " ",
        "\n",
        "é",
        "\u{0}",
    ];
    let mut rng = Rng(42);
    for _ in 0..3000 {
        let n = rng.below(60);
        let text: String = (0..n).map(|_| TOKENS[rng.below(TOKENS.len())]).collect();
        check(&text);
    }
}

#[test]
fn mutated_examples() {
    let mut rng = Rng(7);
    for base in [DEFAULT_CONFIG, ESCALATION] {
        let chars: Vec<char> = base.chars().collect();
        for _ in 0..500 {
            let mut c = chars.clone();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(c.len());
                match rng.below(3) {
                    0 => {
                        c.remove(i);
                    }
                    1 => c.insert(
                        i,
                        ['(', ')', '"', ',', ':', '[', '9', '-', '/'][rng.below(9)],
                    ),
                    _ => c[i] = char::from(b' ' + (rng.next() % 95) as u8),
                }
            }
            check(&c.into_iter().collect::<String>());
        }
    }
}

#[test]
fn deep_nesting() {
    check(&"(".repeat(100_000));
    check(&"[".repeat(100_000));
    check(&format!(
        "(edition: \"SSS\", groups: {})",
        "[".repeat(10_000)
    ));
    check(&"/*".repeat(10_000));
}
