//! `upkeep`: one binary for the daemon, the operator CLI and the bonding tool.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let argv0 = args
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
        .unwrap_or_default();
    // BOND-1: the bonding tool keeps the seed's own option syntax, so it bypasses clap.
    if argv0 == "clpbondcf" {
        return exit_code(upkeep::bond::run(&args[1..]));
    }
    if args.get(1).map(String::as_str) == Some("bond") {
        return exit_code(upkeep::bond::run(&args[2..]));
    }
    upkeep::cli::main(&args)
}

fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
