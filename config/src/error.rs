//! Configuration errors: one `ConfigError` per problem, all of them in `ConfigErrors`.
//!
//! STYLE-ANCHORS "What upkeep should absorb" items 3, 5 and 10: errors are data, collected rather
//! than stopping at the first, and rendered for humans as
//! `upkeep.ron:12:5: groups[0].resources[1].activation.retries: must be 0..=99 (got 120)`:
//! lowercase, no trailing period, names in backticks, "did you mean" for near misses.
//! This file also turns ron's own (syntax and schema) errors into the same shape.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::span::{end_of, join, skip_blanks, Pos, SpanIndex};

/// One problem in a configuration file.
///
/// Plain fields so that the control protocol can serialize them as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file as it was named to [`crate::parse`].
    pub file: PathBuf,
    /// 1-based line of the offending value.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Where in the configuration tree, e.g. `groups[0].resources[1].activation.retries`;
    /// empty for the file as a whole.
    pub field_path: String,
    /// What is wrong, e.g. `must be 0..=99 (got 120)`.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn at(
        file: &Path,
        pos: Pos,
        field_path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            line: pos.line,
            column: pos.col,
            field_path: field_path.into(),
            message: message.into(),
        }
    }

    /// 1-based line.
    pub fn line(&self) -> usize {
        self.line
    }

    /// 1-based column.
    pub fn column(&self) -> usize {
        self.column
    }

    /// The field path, e.g. `monitors[0].recovery.target`.
    pub fn field_path(&self) -> &str {
        &self.field_path
    }

    /// The message without position or path.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    /// One line, always: a value echoed from the file (a name, a path) cannot start a line of
    /// its own that looks like another `file:line:col:` error, nor turn the text around.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: ",
            Escaped(&self.file.display().to_string()),
            self.line,
            self.column
        )?;
        if !self.field_path.is_empty() {
            write!(f, "{}: ", Escaped(&self.field_path))?;
        }
        write!(f, "{}", Escaped(&self.message))
    }
}

/// Control characters as Rust escapes (`\n`, `\u{1b}`), and the Unicode direction overrides
/// that could make a line read differently from what it says.
struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
            if c.is_control() || bidi {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// Text that is not UTF-8, at the line and column of its first bad byte (columns count the
/// characters before it on its line).
pub(crate) fn not_utf8(bytes: &[u8], e: &std::str::Utf8Error, file: &Path) -> ConfigError {
    let good = &bytes[..e.valid_up_to()];
    // Up to `valid_up_to` the bytes are valid UTF-8 by definition.
    let good = std::str::from_utf8(good).unwrap_or_default();
    let line_start = good.rfind('\n').map_or(0, |i| i + 1);
    let pos = Pos {
        line: good.matches('\n').count() + 1,
        col: good[line_start..].chars().count() + 1,
    };
    let bad = bytes.get(e.valid_up_to()).copied().unwrap_or_default();
    ConfigError::at(
        file,
        pos,
        "",
        format!("not UTF-8 text: byte 0x{bad:02x} cannot start or continue a character here"),
    )
}

/// Every problem found in one file, in file order. Never empty when returned by [`crate::parse`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The errors, in file order.
    pub fn errors(&self) -> &[ConfigError] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.0.iter()
    }
}

impl fmt::Display for ConfigErrors {
    /// One error per line, no trailing newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl IntoIterator for ConfigErrors {
    type Item = ConfigError;
    type IntoIter = std::vec::IntoIter<ConfigError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a ConfigErrors {
    type Item = &'a ConfigError;
    type IntoIter = std::slice::Iter<'a, ConfigError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// `; did you mean `web`?` when one of `candidates` is close to `name`, else empty.
pub(crate) fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    closest_name(name, candidates).map_or_else(String::new, |c| format!("; did you mean `{c}`?"))
}

/// The candidate closest to `name`, if it is close enough to be what was meant: the one rule for
/// every "did you mean" of upkeep (config errors, CLI names, protocol replies).
pub fn closest_name<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let len = name.chars().count();
    // A third of the name may be wrong (at least one edit): catches typos and transpositions
    // without proposing unrelated short names.
    let budget = (len / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= budget)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance: Levenshtein plus adjacent transpositions, so `wbe` is one
/// edit away from `web`.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()]
}

/// `a`, `b` and `c` as "`a`, `b`, `c`".
pub(crate) fn backticked(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// ron stops at its first error (a syntax error, an unknown field or variant, a wrong type);
/// this gives it the same shape as a validation error, with a field path found by position.
pub(crate) fn from_ron(
    file: &Path,
    text: &str,
    spans: &SpanIndex,
    e: &ron::error::SpannedError,
) -> ConfigError {
    use ron::error::Error as E;

    // ron's span starts right after the previous token (often the blank before a value); the
    // value itself is the first non-blank after it.
    let start = Pos {
        line: e.span.start.line,
        col: e.span.start.col,
    };
    let raw_pos = clamp(text, start);
    let pos = skip_blanks(text, raw_pos);
    let eof = end_of(text);
    if text.trim().is_empty() {
        return ConfigError::at(
            file,
            Pos::START,
            "",
            "the file is empty; a configuration is at least `(edition: \"SSS\")`",
        );
    }
    if matches!(e.code, E::Eof) || pos >= eof {
        // A truncated file: name the innermost value left open.
        let path = spans.path_ending_at(eof).unwrap_or_default().to_owned();
        return ConfigError::at(file, eof, path, "unexpected end of file");
    }
    let here = spans.path_at(pos).to_owned();
    let (path, pos, message) = match &e.code {
        E::NoSuchStructField {
            expected, found, ..
        } => {
            let path = join(&here, found);
            let pos = spans.key_position(&path).unwrap_or(pos);
            let msg = format!(
                "unknown field `{found}`, expected one of {}{}",
                backticked(expected),
                did_you_mean(found, expected.iter().copied())
            );
            (path, pos, msg)
        }
        E::NoSuchEnumVariant {
            expected, found, ..
        } => {
            let msg = format!(
                "unknown variant `{found}`, expected one of {}{}",
                backticked(expected),
                did_you_mean(found, expected.iter().copied())
            );
            (here, pos, msg)
        }
        E::MissingStructField { field, .. } => (here, pos, format!("missing field `{field}`")),
        E::DuplicateStructField { field, .. } => {
            let path = join(&here, field);
            (
                path,
                pos,
                format!("field `{field}` is given more than once"),
            )
        }
        E::InvalidValueForType { expected, found } => {
            (here, pos, format!("expected {expected}, found {found}"))
        }
        E::ExpectedNamedStructLike(_) | E::ExpectedStructLike => {
            match spans.path_ending_at(raw_pos) {
                // Point at the variant name that lacks its `(`.
                Some(p) => (
                    p.to_owned(),
                    spans.position(p),
                    "expected opening `(` after this name".to_owned(),
                ),
                None => (here, pos, "expected opening `(`".to_owned()),
            }
        }
        E::ExpectedDifferentStructName { expected, found } => (
            here,
            pos,
            format!("expected `{expected}(...)` or just `(...)` here, found `{found}(...)`"),
        ),
        // Both a quoted variant (`"Real"`) and a tuple where fields are due (`Pid("web")`).
        E::ExpectedIdentifier => (
            here,
            pos,
            "expected a field name or a variant name, without quotes".to_owned(),
        ),
        E::ExpectedStringEnd => (
            here,
            pos,
            "unterminated string: missing closing `\"`".to_owned(),
        ),
        E::ExceededRecursionLimit => (here, pos, "values are nested too deeply".to_owned()),
        E::TrailingCharacters => (
            String::new(),
            pos,
            "unexpected text after the configuration".to_owned(),
        ),
        other => (here, pos, human(&other.to_string())),
    };
    ConfigError::at(file, pos, path, message)
}

/// ron's messages start with a capital letter; ours do not, and never end with a period.
fn human(s: &str) -> String {
    let s = s.trim().trim_end_matches('.');
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_lowercase().chain(c).collect(),
        None => "invalid configuration".to_owned(),
    }
}

/// ron can report a position one past the end of the text; keep it on a real line.
fn clamp(text: &str, pos: Pos) -> Pos {
    let lines = text.split('\n').count().max(1);
    let line = pos.line.clamp(1, lines);
    Pos {
        line,
        col: pos.col.max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("web", "web"), 0);
        assert_eq!(edit_distance("wbe", "web"), 1);
        assert_eq!(edit_distance("retires", "retries"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("wbe", ["db", "web"]), "; did you mean `web`?");
        assert_eq!(did_you_mean("xyz", ["db", "web"]), "");
        assert_eq!(did_you_mean("web", ["web"]), "");
    }
}
