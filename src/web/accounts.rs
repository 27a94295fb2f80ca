//! The web manager's accounts file (issue 12, docs/WEB.md): people with argon2id password
//! hashes and API tokens with a digest, each with a role. Separate from the configuration (which
//! operators copy around and `config pull` hands out), mode 0600, written through `safe_file`.
//!
//! One entry per line, `KIND NAME ROLE HASH`:
//! ```text
//! user alice operator $argon2id$v=19$m=19456,t=2,p=1$...
//! token ci viewer blake2b:9f2c...
//! ```
//! Tokens are 256 random bits, so a fast digest is as good as a slow hash for them and keeps
//! every API call cheap; passwords are chosen by people, so they get argon2id.

use std::path::Path;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use blake2::{Blake2b512, Digest};

use crate::host::safe_file::{self, Trust};

/// The file name in the state folder when the configuration names none.
pub const DEFAULT_FILE: &str = "web-accounts";

/// What a signed-in person or a token may do; the same split as the socket's reader and
/// operator (docs/SECURITY.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Token,
}

/// One line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: Kind,
    pub name: String,
    pub role: Role,
    pub hash: String,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accounts {
    pub entries: Vec<Entry>,
}

impl Accounts {
    /// Reads the file; a missing file is no account at all.
    pub fn load(path: &Path) -> Result<Accounts, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => Accounts::parse(&text).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Accounts::default()),
            Err(e) => Err(format!("cannot read `{}`: {e}", path.display())),
        }
    }

    pub fn parse(text: &str) -> Result<Accounts, String> {
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [kind, name, role, hash] = fields[..] else {
                return Err(format!(
                    "line {}: expected `user|token NAME viewer|operator HASH`",
                    n + 1
                ));
            };
            let kind = match kind {
                "user" => Kind::User,
                "token" => Kind::Token,
                other => return Err(format!("line {}: unknown kind `{other}`", n + 1)),
            };
            let role = Role::parse(role)
                .ok_or_else(|| format!("line {}: unknown role `{role}`", n + 1))?;
            entries.push(Entry {
                kind,
                name: name.to_string(),
                role,
                hash: hash.to_string(),
            });
        }
        Ok(Accounts { entries })
    }

    pub fn render(&self) -> String {
        let mut out = String::from(
            "# upkeep web accounts: KIND NAME ROLE HASH (managed by `upkeep web passwd` and `upkeep web token`)\n",
        );
        for e in &self.entries {
            let kind = match e.kind {
                Kind::User => "user",
                Kind::Token => "token",
            };
            out.push_str(&format!(
                "{kind} {} {} {}\n",
                e.name,
                e.role.as_str(),
                e.hash
            ));
        }
        out
    }

    /// Whether anyone can sign in at all (without, the UI is view-only on loopback).
    pub fn has_users(&self) -> bool {
        self.entries.iter().any(|e| e.kind == Kind::User)
    }

    pub fn user(&self, name: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.kind == Kind::User && e.name == name)
    }

    /// The token's entry, compared in constant time against every token's digest.
    pub fn token(&self, presented: &str) -> Option<&Entry> {
        let digest = token_digest(presented);
        let mut found = None;
        for e in self.entries.iter().filter(|e| e.kind == Kind::Token) {
            if constant_time_eq(e.hash.as_bytes(), digest.as_bytes()) {
                found = Some(e);
            }
        }
        found
    }

    /// Adds or replaces `kind NAME`.
    pub fn set(&mut self, entry: Entry) {
        self.entries
            .retain(|e| !(e.kind == entry.kind && e.name == entry.name));
        self.entries.push(entry);
    }

    /// Writes the file with mode 0600, never through a planted link (issue 10).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        safe_file::replace(path, self.render().as_bytes(), 0o600, Trust::Any, false)
    }
}

/// A name people can type and the file can hold.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a usable name: 1 to 64 letters, digits, `-`, `_`, `.` or `@`"
        ))
    }
}

/// argon2id with the crate's defaults (m=19456 KiB, t=2, p=1: OWASP's first choice) and a
/// random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// A new API token (what the operator is shown once) and its digest (what the file keeps).
pub fn new_token() -> Result<(String, String), String> {
    let token = format!("upkeep_{}", random_hex(32)?);
    let digest = token_digest(&token);
    Ok((token, digest))
}

pub fn token_digest(token: &str) -> String {
    format!("blake2b:{}", hex(&Blake2b512::digest(token.as_bytes())))
}

pub fn random_hex(bytes: usize) -> Result<String, String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| format!("no randomness from the OS: {e}"))?;
    Ok(hex(&buf))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares secrets without stopping at the first difference (a timing oracle otherwise).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_round_trips_and_checks_passwords_and_tokens() {
        let mut a = Accounts::default();
        assert!(!a.has_users());
        a.set(Entry {
            kind: Kind::User,
            name: "alice".into(),
            role: Role::Operator,
            hash: hash_password("correct horse").expect("hash"),
        });
        let (token, digest) = new_token().expect("token");
        a.set(Entry {
            kind: Kind::Token,
            name: "ci".into(),
            role: Role::Viewer,
            hash: digest,
        });
        let back = Accounts::parse(&a.render()).expect("parses");
        assert_eq!(back, a);
        let alice = back.user("alice").expect("alice");
        assert!(verify_password("correct horse", &alice.hash));
        assert!(!verify_password("correct horse!", &alice.hash));
        assert_eq!(back.token(&token).map(|e| e.role), Some(Role::Viewer));
        assert!(back.token("upkeep_guess").is_none());
        assert!(Accounts::parse("user bob admin x").is_err(), "unknown role");
        assert!(check_name("bob smith").is_err());
    }
}
