//! Fuzz target `config_check`: any bytes as a configuration file, through the code that reads
//! every configuration upkeep meets — `upkeep config check`, the daemon's start and a (dry-run)
//! `config apply` from any socket user (issue 10, "Bounded work for every input").
//!
//! The path is the shipped one: `upkeep_config::parse_bytes` (size cap, UTF-8 with
//! `file:line:col`, RON, the count caps of `bounds.rs`, every validation rule), then what the
//! callers do with the result: print each error as one line, print the summary, and classify the
//! change against the configuration in force (here the built-in one) as `config apply` does.
//!
//! Beyond "never panics" the target asserts what the error contract promises, so a broken
//! promise is a crash too: an `Err` holds at least one error and at most `MAX_ERRORS` plus the
//! "more not shown" line, positions are 1-based, and each error prints as exactly one line.

use std::path::Path;
use std::sync::OnceLock;

use upkeep::control::apply;
use upkeep::daemon::config as config_file;
use upkeep_config::{Config, MAX_ERRORS};

fn main() {
    // Built once before the loop, so the first input does not look different to afl.
    let _ = in_force();
    afl::fuzz!(|data: &[u8]| check(data));
}

fn in_force() -> &'static Config {
    static BUILT_IN: OnceLock<Config> = OnceLock::new();
    BUILT_IN.get_or_init(|| {
        upkeep_config::parse(
            upkeep_config::DEFAULT_CONFIG,
            Path::new(config_file::BUILT_IN),
        )
        .expect("the built-in configuration is valid")
    })
}

fn check(data: &[u8]) {
    let file = Path::new("/etc/upkeep/upkeep.ron");
    match upkeep_config::parse_bytes(data, file) {
        Ok(config) => {
            let _ = config_file::summary(&config);
            let changes = apply::classify(in_force(), &config);
            let _ = apply::method(&changes);
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "an Err without errors");
            assert!(
                errors.len() <= MAX_ERRORS + 1,
                "{} errors listed, more than the cap",
                errors.len()
            );
            for error in &errors {
                assert!(
                    error.line() >= 1 && error.column() >= 1,
                    "position {}:{} is not 1-based",
                    error.line(),
                    error.column()
                );
                let printed = error.to_string();
                assert!(
                    !printed.contains(['\n', '\r']),
                    "an error printed on more than one line: {printed:?}"
                );
            }
        }
    }
}
