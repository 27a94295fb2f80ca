//! Reading the configuration file for `upkeep daemon` and `upkeep config check` (CFG-1, MAP-4;
//! PROC-2: an invalid configuration keeps the daemon from starting).

use std::io;
use std::path::{Path, PathBuf};

use upkeep_config::{Config, ConfigErrors, DEFAULT_CONFIG};

/// The name the built-in demo configuration goes by in messages.
pub const BUILT_IN: &str = "<built-in>/default.ron";

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read the configuration `{}`: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    /// Every problem, one `file:line:col: field: message` per line.
    #[error("{0}")]
    Invalid(ConfigErrors),
}

/// Read and validate `path`, or the built-in demo when `None`.
///
/// Messages name the file as the user gave it; the model's `base_dir` (against which relative
/// script paths resolve) is absolute, so the daemon does not depend on its working folder.
pub fn load(path: Option<&Path>) -> Result<Config, LoadError> {
    let Some(path) = path else {
        return upkeep_config::parse(DEFAULT_CONFIG, Path::new(BUILT_IN))
            .map_err(LoadError::Invalid);
    };
    let read_err = |source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    };
    let text = std::fs::read(path).map_err(read_err)?;
    let text = String::from_utf8(text).map_err(|e| {
        read_err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not UTF-8 text ({e})"),
        ))
    })?;
    let absolute = std::path::absolute(path).map_err(read_err)?;
    upkeep_config::parse(&text, &absolute).map_err(|errors| {
        LoadError::Invalid(ConfigErrors(
            errors
                .into_iter()
                .map(|mut e| {
                    if e.file == absolute {
                        e.file = path.to_path_buf();
                    }
                    e
                })
                .collect(),
        ))
    })
}

/// The one-line summary `config check` prints for a valid file.
pub fn summary(config: &Config) -> String {
    let resources: usize = config.groups.iter().map(|g| g.resources.len()).sum();
    format!(
        "{} {}, {} {}, {} {}",
        config.groups.len(),
        plural(config.groups.len(), "group", "groups"),
        resources,
        plural(resources, "resource", "resources"),
        config.monitors.len(),
        plural(config.monitors.len(), "monitor", "monitors"),
    )
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_demo_is_valid() {
        let config = load(None).expect("the demo parses");
        assert_eq!(summary(&config), "1 group, 1 resource, 1 monitor");
    }
}
