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
    let bytes = read_bounded(path).map_err(read_err)?;
    let absolute = std::path::absolute(path).map_err(read_err)?;
    upkeep_config::parse_bytes(&bytes, &absolute).map_err(|errors| {
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

/// The file's bytes, read without waiting on anything: a FIFO or a device given as the
/// configuration would block the reader forever (`open` of a FIFO waits for a writer), so the file
/// is opened non-blocking and must be a regular file; and at most one byte more than a
/// configuration may have is read, so a huge file is refused without being loaded.
fn read_bounded(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a folder"
        } else if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_socket() {
            "a socket"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else {
            "not a regular file"
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("it is {what}; a configuration must be a regular file"),
        ));
    }
    let limit = u64::try_from(upkeep_config::MAX_CONFIG_BYTES).unwrap_or(u64::MAX) + 1;
    let mut bytes = Vec::new();
    file.take(limit).read_to_end(&mut bytes)?;
    Ok(bytes)
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

    fn check(bytes: &[u8]) -> String {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("u.ron");
        std::fs::write(&path, bytes).expect("write");
        match load(Some(&path)) {
            Err(e) => e
                .to_string()
                .replace(&dir.path().display().to_string(), "DIR"),
            Ok(_) => "ok".into(),
        }
    }

    #[test]
    fn a_fifo_or_a_folder_is_refused_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("fifo.ron");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))
            .expect("mkfifo");
        // Before: `config check` on a FIFO waited for a writer forever.
        let err = load(Some(&fifo)).expect_err("a FIFO is no configuration");
        assert!(
            err.to_string()
                .ends_with("it is a FIFO; a configuration must be a regular file"),
            "{err}"
        );
        let err = load(Some(dir.path())).expect_err("a folder is no configuration");
        assert!(
            err.to_string()
                .ends_with("it is a folder; a configuration must be a regular file"),
            "{err}"
        );
    }

    #[test]
    fn invalid_utf8_is_reported_at_its_line_and_column() {
        assert_eq!(
            check(b"(\n    name: \"S\xffS\",\n)"),
            "DIR/u.ron:2:13: not UTF-8 text: byte 0xff cannot start or continue a character here"
        );
    }

    #[test]
    fn a_value_with_a_newline_cannot_forge_another_error_line() {
        let got = check(b"(\n    name: \"SSS\",\n    edition: \"x\nDIR/u.ron:1:1: all fine\",\n)");
        assert_eq!(got.lines().count(), 1, "{got}");
        assert!(got.contains("(got `x\\nDIR/u.ron:1:1: all fine`)"), "{got}");
    }

    #[test]
    fn the_built_in_demo_is_valid() {
        let config = load(None).expect("the demo parses");
        assert_eq!(summary(&config), "1 group, 1 resource, 1 monitor");
    }
}
