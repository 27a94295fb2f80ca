//! What `upkeep install` wrote, so that `upkeep uninstall` removes exactly that and a later
//! install can tell its own old file (replace it) from one the administrator edited (keep it).
//! One line per entry, the path last so it may hold spaces:
//!
//! ```text
//! file 5d2f0c8a1b3e4f60 /usr/local/bin/upkeep
//! link ../bin/upkeep /usr/local/sbin/clpstat
//! dir /var/log/upkeep
//! ```

use std::io::Read;
use std::path::{Path, PathBuf};

/// Where the manifest lives, inside the root: beside the state it describes.
pub const PATH: &str = "/var/lib/upkeep/installed-files";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A file and the hash of the content install wrote.
    File { path: PathBuf, hash: u64 },
    /// A symlink and its target.
    Link { path: PathBuf, target: PathBuf },
    /// A folder install created (removed by uninstall only when empty).
    Dir { path: PathBuf },
}

impl Entry {
    pub fn path(&self) -> &Path {
        match self {
            Entry::File { path, .. } | Entry::Link { path, .. } | Entry::Dir { path } => path,
        }
    }
}

pub fn render(entries: &[Entry]) -> String {
    let mut text = String::from(
        "# Written by `upkeep install`, read by `upkeep uninstall`: what install put here.\n",
    );
    for entry in entries {
        let line = match entry {
            Entry::File { path, hash } => format!("file {hash:016x} {}", path.display()),
            Entry::Link { path, target } => {
                format!("link {} {}", target.display(), path.display())
            }
            Entry::Dir { path } => format!("dir {}", path.display()),
        };
        text.push_str(&line);
        text.push('\n');
    }
    text
}

/// The entries of a manifest; `Err(line number)` for a line that is none.
pub fn parse(text: &str) -> Result<Vec<Entry>, usize> {
    let mut entries = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || n + 1;
        let (kind, rest) = line.split_once(' ').ok_or_else(bad)?;
        let entry = match kind {
            "file" => {
                let (hash, path) = rest.split_once(' ').ok_or_else(bad)?;
                Entry::File {
                    path: path.into(),
                    hash: u64::from_str_radix(hash, 16).map_err(|_| bad())?,
                }
            }
            "link" => {
                let (target, path) = rest.split_once(' ').ok_or_else(bad)?;
                Entry::Link {
                    path: path.into(),
                    target: target.into(),
                }
            }
            "dir" => Entry::Dir { path: rest.into() },
            _ => return Err(bad()),
        };
        if !entry.path().is_absolute() {
            return Err(bad());
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// FNV-1a (64 bit) of a file's content. It only has to tell "the bytes install wrote" from
/// "edited since", not resist someone forging a collision (who can write there can also edit the
/// manifest), so no cryptographic hash crate is needed.
#[derive(Debug, Clone, Copy)]
pub struct Hasher(u64);

impl Default for Hasher {
    fn default() -> Self {
        Hasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher {
    pub fn update(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    pub fn finish(self) -> u64 {
        self.0
    }
}

pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = Hasher::default();
    h.update(bytes);
    h.finish()
}

pub fn hash_file(path: &Path) -> std::io::Result<u64> {
    let mut file = std::fs::File::open(path)?;
    let mut h = Hasher::default();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut buf)? {
            0 => return Ok(h.finish()),
            n => h.update(&buf[..n]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_reads_back_what_was_written() {
        let entries = vec![
            Entry::File {
                path: "/usr/local/bin/upkeep".into(),
                hash: hash_bytes(b"binary"),
            },
            Entry::Link {
                path: "/usr/local/sbin/clp stat".into(),
                target: "../bin/upkeep".into(),
            },
            Entry::Dir {
                path: "/var/log/upkeep".into(),
            },
        ];
        assert_eq!(parse(&render(&entries)), Ok(entries));
        assert_eq!(parse("# c\nfile zz /x\n"), Err(2));
        assert_eq!(parse("dir relative\n"), Err(1));
    }

    #[test]
    fn the_hash_is_fnv1a() {
        // The published FNV-1a 64 test vectors.
        assert_eq!(hash_bytes(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash_bytes(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
