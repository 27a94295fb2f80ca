//! `log.level` and `upkeep log level` (CMD-7): a tracing filter, checked so that a typo is an
//! error instead of a filter that silently turns logging off (a bare `debgu` is a valid tracing
//! directive: "everything of the target `debgu`", so nothing else is logged).

use crate::error::closest_name;

const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// `Ok` when every comma-separated directive is a level (`debug`), `target=level`
/// (`upkeep=debug`), a target path with `::` (`upkeep::event`), or a span filter (`[...]`).
pub fn check_log_filter(filter: &str) -> Result<(), String> {
    if filter.trim().is_empty() {
        return Err("must not be empty; write e.g. `\"info\"` or `\"info,upkeep=debug\"`".into());
    }
    for directive in filter.split(',').map(str::trim) {
        if directive.is_empty() || directive.contains('[') {
            continue;
        }
        let level = match directive.rsplit_once('=') {
            Some((target, level)) => {
                if target.trim().is_empty() {
                    return Err(format!("`{directive}` names no target before `=`"));
                }
                level.trim()
            }
            None if directive.contains("::") => continue,
            None => directive,
        };
        if !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            let hint = closest_name(&level.to_ascii_lowercase(), LEVELS.iter().copied())
                .map(|n| format!("did you mean `{n}`? "))
                .unwrap_or_default();
            return Err(format!(
                "unknown level `{level}`; {hint}levels are trace, debug, info, warn, error and off (a target takes one after `=`: `upkeep=debug`)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_log_filter;

    #[test]
    fn levels_and_targets_pass_and_a_typo_is_refused_with_a_suggestion() {
        for ok in [
            "info",
            "DEBUG",
            "info,upkeep=debug",
            "upkeep::event",
            "warn,[span]=trace",
        ] {
            assert_eq!(check_log_filter(ok), Ok(()), "{ok}");
        }
        let e = check_log_filter("debgu").unwrap_err();
        assert!(
            e.contains("unknown level `debgu`; did you mean `debug`?"),
            "{e}"
        );
        assert!(check_log_filter("upkeep=loud").is_err());
        assert!(check_log_filter(" ").is_err());
    }
}
