//! The span index: field path -> `line:col` of its value in the RON text.
//!
//! ron reports positions only for syntax errors, yet every validation error must point at the
//! value it is about (STYLE-ANCHORS §10). This is a small, tolerant scanner over the same text:
//! it understands strings (with escapes and raw strings), chars, `//` and nested `/* */` comments,
//! `()`, `[]`, `{}`, enum variants such as `Resource("x")` and `Some(...)`, and never fails: on
//! text it does not understand it skips a character and carries on, so a position is found even
//! in a half-written file. Paths look like `groups[0].resources[1].activation.retries`.
//! No spec rule lives here; it serves the error reporting that MAP-4's format decision needs.

use std::collections::HashMap;

/// A 1-based position, columns counted in characters (as ron counts them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub line: usize,
    pub col: usize,
}

impl Pos {
    pub(crate) const START: Pos = Pos { line: 1, col: 1 };
}

#[derive(Debug, Clone)]
struct Entry {
    path: String,
    start: Pos,
    end: Pos,
    /// Where the field's name is written, for fields of a struct (`retries: 5` -> `retries`).
    key: Option<Pos>,
}

/// Positions of every value in one RON text, by field path.
#[derive(Debug, Default)]
pub(crate) struct SpanIndex {
    entries: Vec<Entry>,
    by_path: HashMap<String, usize>,
}

/// Nesting deeper than this is not indexed: the scanner must not overflow the stack on garbage
/// like ten thousand `(`, and ron refuses such input anyway (recursion limit 128).
const MAX_DEPTH: usize = 200;

impl SpanIndex {
    pub(crate) fn build(text: &str) -> SpanIndex {
        let mut s = Scanner {
            chars: text.chars().collect(),
            i: 0,
            line: 1,
            col: 1,
            out: SpanIndex::default(),
        };
        s.document();
        s.out
    }

    /// The position of the value at `path`, or of its nearest enclosing value that has one
    /// (a defaulted field has no text of its own, so the error points at its parent).
    pub(crate) fn position(&self, path: &str) -> Pos {
        let mut p = path;
        loop {
            if let Some(&i) = self.by_path.get(p) {
                return self.entries[i].start;
            }
            match parent(p) {
                Some(up) => p = up,
                None => return Pos::START,
            }
        }
    }

    /// The position of the field *name* at `path` when it is written, else of its value.
    pub(crate) fn key_position(&self, path: &str) -> Option<Pos> {
        let e = &self.entries[*self.by_path.get(path)?];
        Some(e.key.unwrap_or(e.start))
    }

    /// The innermost value that ends right at `pos`: ron reports a missing `(` after the
    /// variant name, i.e. just past the value it is about.
    pub(crate) fn path_ending_at(&self, pos: Pos) -> Option<&str> {
        self.entries
            .iter()
            .filter(|e| e.end == pos && e.start < pos)
            .max_by_key(|e| (e.start, e.path.len()))
            .map(|e| e.path.as_str())
    }

    /// The innermost indexed value whose text contains `pos`: maps a ron error position back to
    /// a field path. Empty when the position is outside every value.
    pub(crate) fn path_at(&self, pos: Pos) -> &str {
        self.entries
            .iter()
            .filter(|e| e.start <= pos && pos < e.end)
            // Innermost = starts last; on a tie (`Some(` and its inner value) the longer path.
            .max_by_key(|e| (e.start, e.path.len()))
            .map_or("", |e| e.path.as_str())
    }
}

/// The position just past the last character.
pub(crate) fn end_of(text: &str) -> Pos {
    let line = 1 + text.matches('\n').count();
    let col = 1 + text.rsplit('\n').next().map_or(0, |l| l.chars().count());
    Pos { line, col }
}

/// The first position at or after `pos` that is not whitespace: ron reports some errors at the
/// blank before a value, which belongs to no value.
pub(crate) fn skip_blanks(text: &str, pos: Pos) -> Pos {
    let mut cur = Pos::START;
    let mut found = false;
    for c in text.chars() {
        if cur >= pos {
            if !c.is_whitespace() {
                return cur;
            }
            found = true;
        }
        if c == '\n' {
            cur.line += 1;
            cur.col = 1;
        } else {
            cur.col += 1;
        }
    }
    if found {
        cur
    } else {
        pos
    }
}

/// `a.b[2]` -> `a.b`, `a.b` -> `a`, `a` -> `` (the root), `` -> none.
pub(crate) fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    if path.ends_with(']') {
        if let Some(i) = path.rfind('[') {
            return Some(&path[..i]);
        }
    }
    Some(path.rfind('.').map_or("", |i| &path[..i]))
}

/// `join("a", "b")` = `a.b`; the root has no name, so `join("", "b")` = `b`.
pub(crate) fn join(parent: &str, field: &str) -> String {
    if parent.is_empty() {
        field.to_owned()
    } else {
        format!("{parent}.{field}")
    }
}

struct Scanner {
    chars: Vec<char>,
    i: usize,
    line: usize,
    col: usize,
    out: SpanIndex,
}

impl Scanner {
    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn peek_at(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn record(&mut self, path: &str, start: Pos, key: Option<Pos>) -> usize {
        let idx = self.out.entries.len();
        self.out.entries.push(Entry {
            path: path.to_owned(),
            start,
            end: start,
            key,
        });
        // The first writer wins: for `Some((x: 1))` the path points at `Some`, where the user
        // wrote the value, not at the inner parenthesis.
        self.out.by_path.entry(path.to_owned()).or_insert(idx);
        idx
    }

    fn close(&mut self, idx: usize) {
        let end = self.pos();
        if let Some(e) = self.out.entries.get_mut(idx) {
            e.end = end;
        }
    }

    fn skip_trivia(&mut self) {
        loop {
            match (self.peek(), self.peek_at(1)) {
                (Some(c), _) if c.is_whitespace() => {
                    self.bump();
                }
                (Some('/'), Some('/')) => {
                    while let Some(c) = self.bump() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                (Some('/'), Some('*')) => {
                    // RON block comments nest.
                    self.bump();
                    self.bump();
                    let mut depth = 1usize;
                    while depth > 0 {
                        match (self.peek(), self.peek_at(1)) {
                            (None, _) => return,
                            (Some('/'), Some('*')) => {
                                self.bump();
                                self.bump();
                                depth += 1;
                            }
                            (Some('*'), Some('/')) => {
                                self.bump();
                                self.bump();
                                depth -= 1;
                            }
                            _ => {
                                self.bump();
                            }
                        }
                    }
                }
                _ => return,
            }
        }
    }

    fn document(&mut self) {
        self.skip_trivia();
        // `#![enable(implicit_some)]` attributes come before the value.
        while self.peek() == Some('#') {
            self.bump();
            if self.peek() == Some('!') {
                self.bump();
            }
            self.skip_trivia();
            if self.peek() == Some('[') {
                self.value("#", 0);
            }
            self.skip_trivia();
        }
        let root = self.record("", self.pos(), None);
        self.value_inner("", 0);
        self.close(root);
        // Trailing text is ron's to complain about; nothing more to index.
    }

    /// Records `path` at the value's start, then scans the value.
    fn value(&mut self, path: &str, depth: usize) {
        self.value_keyed(path, None, depth);
    }

    fn value_keyed(&mut self, path: &str, key: Option<Pos>, depth: usize) {
        self.skip_trivia();
        let idx = self.record(path, self.pos(), key);
        self.value_inner(path, depth);
        self.close(idx);
    }

    fn value_inner(&mut self, path: &str, depth: usize) {
        if depth > MAX_DEPTH {
            // Too deep to be a configuration: stop indexing and let ron report the input.
            self.i = self.chars.len();
            return;
        }
        self.skip_trivia();
        match self.peek() {
            None => {}
            Some('"') => self.string(),
            Some('\'') => self.char_lit(),
            Some('(') => self.parens(path, depth),
            Some('[') => self.list(path, depth),
            Some('{') => self.map(path, depth),
            Some('r') if matches!(self.peek_at(1), Some('"' | '#')) && self.raw_string_ahead() => {
                self.bump();
                self.raw_string();
            }
            Some('b') if self.peek_at(1) == Some('"') => {
                self.bump();
                self.string();
            }
            Some('b') if self.peek_at(1) == Some('\'') => {
                self.bump();
                self.char_lit();
            }
            Some(c) if is_ident_start(c) => {
                self.ident();
                self.skip_trivia();
                if self.peek() == Some('(') {
                    // An enum variant or a named struct: its fields belong to the same path,
                    // so `Pid(resource: "x")` indexes `kind.resource`.
                    self.parens(path, depth);
                }
            }
            Some(c) if is_delimiter(c) => {
                // Not a value (e.g. `retries: ,`): leave the delimiter to the caller.
            }
            Some(_) => self.atom(),
        }
    }

    fn raw_string_ahead(&self) -> bool {
        let mut k = 1;
        while self.peek_at(k) == Some('#') {
            k += 1;
        }
        self.peek_at(k) == Some('"')
    }

    fn string(&mut self) {
        self.bump(); // opening quote
        while let Some(c) = self.bump() {
            match c {
                '\\' => {
                    self.bump();
                }
                '"' => return,
                _ => {}
            }
        }
    }

    fn raw_string(&mut self) {
        let mut hashes = 0usize;
        while self.peek() == Some('#') {
            self.bump();
            hashes += 1;
        }
        self.bump(); // opening quote
        while let Some(c) = self.bump() {
            if c == '"' {
                let mut k = 0;
                while k < hashes && self.peek() == Some('#') {
                    self.bump();
                    k += 1;
                }
                if k == hashes {
                    return;
                }
            }
        }
    }

    fn char_lit(&mut self) {
        self.bump();
        while let Some(c) = self.bump() {
            match c {
                '\\' => {
                    self.bump();
                }
                '\'' | '\n' => return,
                _ => {}
            }
        }
    }

    fn ident(&mut self) -> String {
        let mut s = String::new();
        if self.peek() == Some('r') && self.peek_at(1) == Some('#') {
            self.bump();
            self.bump();
        }
        while let Some(c) = self.peek() {
            if is_ident_continue(c) {
                s.push(c);
                self.bump();
            } else {
                break;
            }
        }
        s
    }

    /// Numbers, `true`, and anything else up to the next delimiter.
    fn atom(&mut self) {
        while let Some(c) = self.peek() {
            if is_delimiter(c) || c.is_whitespace() || c == '"' || c == '/' {
                break;
            }
            self.bump();
        }
    }

    /// `( ... )`: struct fields (`name: value`) or tuple elements.
    fn parens(&mut self, path: &str, depth: usize) {
        self.bump();
        let mut element = 0usize;
        loop {
            self.skip_trivia();
            match self.peek() {
                None => return,
                Some(')') => {
                    self.bump();
                    return;
                }
                Some(',') => {
                    self.bump();
                }
                Some(c) if is_ident_start(c) && self.field_ahead() => {
                    let key = self.pos();
                    let name = self.ident();
                    self.skip_trivia();
                    self.bump(); // ':'
                    self.value_keyed(&join(path, &name), Some(key), depth + 1);
                }
                Some(']' | '}' | ':') => {
                    // Mismatched closer: skip it rather than loop forever.
                    self.bump();
                }
                Some(_) => {
                    // A tuple element. The first one shares the parent's path so that
                    // `Some((path: ..))` and `Resource("web")` index like the value itself.
                    let p = if element == 0 {
                        path.to_owned()
                    } else {
                        join(path, &element.to_string())
                    };
                    let before = self.i;
                    self.value(&p, depth + 1);
                    element += 1;
                    if self.i == before {
                        self.bump();
                    }
                }
            }
        }
    }

    /// Is the identifier under the cursor followed by `:` (a struct field)?
    fn field_ahead(&self) -> bool {
        let mut k = 0;
        if self.peek() == Some('r') && self.peek_at(1) == Some('#') {
            k = 2;
        }
        while self.peek_at(k).is_some_and(is_ident_continue) {
            k += 1;
        }
        // Only plain whitespace between a field name and its colon; comments there are rare
        // enough that treating the name as a value is an acceptable degradation.
        while self.peek_at(k).is_some_and(char::is_whitespace) {
            k += 1;
        }
        self.peek_at(k) == Some(':')
    }

    fn list(&mut self, path: &str, depth: usize) {
        self.bump();
        let mut n = 0usize;
        loop {
            self.skip_trivia();
            match self.peek() {
                None => return,
                Some(']') => {
                    self.bump();
                    return;
                }
                Some(',') => {
                    self.bump();
                }
                Some(')' | '}' | ':') => {
                    self.bump();
                }
                Some(_) => {
                    let before = self.i;
                    self.value(&format!("{path}[{n}]"), depth + 1);
                    n += 1;
                    if self.i == before {
                        self.bump();
                    }
                }
            }
        }
    }

    /// `{ key: value }`: the value of key `"K"` is indexed as `path["K"]`.
    fn map(&mut self, path: &str, depth: usize) {
        self.bump();
        loop {
            self.skip_trivia();
            match self.peek() {
                None => return,
                Some('}') => {
                    self.bump();
                    return;
                }
                Some(',') => {
                    self.bump();
                }
                Some(')' | ']' | ':') => {
                    self.bump();
                }
                Some(_) => {
                    let key_pos = self.pos();
                    let start = self.i;
                    self.value_inner("#key", depth + 1);
                    if self.i == start {
                        self.bump();
                        continue;
                    }
                    let raw: String = self.chars[start..self.i].iter().collect();
                    let key = raw.trim().trim_matches('"').to_owned();
                    self.skip_trivia();
                    if self.peek() == Some(':') {
                        self.bump();
                        self.value_keyed(&format!("{path}[{key:?}]"), Some(key_pos), depth + 1);
                    }
                }
            }
        }
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_continue(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_delimiter(c: char) -> bool {
    matches!(c, ',' | '(' | ')' | '[' | ']' | '{' | '}' | ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(idx: &SpanIndex, path: &str) -> (usize, usize) {
        let p = idx.position(path);
        (p.line, p.col)
    }

    #[test]
    fn indexes_nested_values() {
        let text = r##"(
    name: "x", // a comment with "quotes" and (parens
    /* block /* nested */ (still comment) */
    groups: [
        (name: "g", resources: [
            (name: "a\"b", activation: (retries: 120)),
            (name: r#"raw"#, env: {"K": "v"}),
        ]),
    ],
    monitors: [(kind: Pid(resource: "a"), recovery: (target: Resource("a"))),
               (kind: UserSpace(dummy_file: Some((path: "/f", write_size: 3))))],
)"##;
        let idx = SpanIndex::build(text);
        assert_eq!(at(&idx, "name"), (2, 11));
        assert_eq!(at(&idx, "groups[0].name"), (5, 16));
        assert_eq!(
            at(&idx, "groups[0].resources[0].activation.retries"),
            (6, 50)
        );
        assert_eq!(at(&idx, "groups[0].resources[1].name"), (7, 20));
        assert_eq!(at(&idx, "groups[0].resources[1].env[\"K\"]"), (7, 41));
        assert_eq!(at(&idx, "monitors[0].kind.resource"), (10, 37));
        assert_eq!(at(&idx, "monitors[0].recovery.target"), (10, 62));
        assert_eq!(at(&idx, "monitors[1].kind.dummy_file"), (11, 45));
        assert_eq!(at(&idx, "monitors[1].kind.dummy_file.write_size"), (11, 75));
        // A defaulted field falls back to its parent.
        assert_eq!(
            at(&idx, "groups[0].resources[0].activation.final_action"),
            (6, 40)
        );
        assert_eq!(at(&idx, "nothing.here"), (1, 1));
        assert_eq!(
            idx.path_at(Pos { line: 6, col: 51 }),
            "groups[0].resources[0].activation.retries"
        );
    }

    #[test]
    fn parent_paths() {
        assert_eq!(parent("a.b[2]"), Some("a.b"));
        assert_eq!(parent("a.b"), Some("a"));
        assert_eq!(parent("a"), Some(""));
        assert_eq!(parent(""), None);
        assert_eq!(parent("a.env[\"x.y\"]"), Some("a.env"));
    }

    #[test]
    fn survives_garbage() {
        for text in [
            "",
            "(",
            "((((",
            "\"",
            "r#\"",
            "/*",
            "[)}",
            "(a: [1, (b: {\"k\": ",
            "#![x",
        ] {
            let _ = SpanIndex::build(text);
        }
        let deep = "(".repeat(100_000);
        let _ = SpanIndex::build(&deep);
    }
}
