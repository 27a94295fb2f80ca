//! A unified diff of two texts, for `upkeep install` to show what it would change in a file the
//! administrator edited (issue 13) before it keeps that file. The files are small (a
//! configuration, a unit, a man page), so a plain longest-common-subsequence table is enough.

/// Lines of context around each change, as `diff -u`.
const CONTEXT: usize = 3;

/// `--- old_label` / `+++ new_label` and the hunks; empty when the texts are equal.
pub fn unified(old: &str, new: &str, old_label: &str, new_label: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let ops = edit_script(&a, &b);
    if ops.iter().all(|op| matches!(op, Op::Same(..))) {
        return String::new();
    }
    let mut text = format!("--- {old_label}\n+++ {new_label}\n");
    for hunk in hunks(&ops) {
        let (a_start, b_start) = position(&ops, hunk.start);
        let (a_len, b_len) = ops[hunk.clone()]
            .iter()
            .fold((0, 0), |(x, y), op| match op {
                Op::Same(..) => (x + 1, y + 1),
                Op::Removed(_) => (x + 1, y),
                Op::Added(_) => (x, y + 1),
            });
        // diff -u numbers an empty side by the line before it.
        let from = |start: usize, len: usize| if len == 0 { start } else { start + 1 };
        text.push_str(&format!(
            "@@ -{},{a_len} +{},{b_len} @@\n",
            from(a_start, a_len),
            from(b_start, b_len)
        ));
        for op in &ops[hunk] {
            match op {
                Op::Same(i) => text.push_str(&format!(" {}\n", a[*i])),
                Op::Removed(i) => text.push_str(&format!("-{}\n", a[*i])),
                Op::Added(j) => text.push_str(&format!("+{}\n", b[*j])),
            }
        }
    }
    text
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Same(usize),
    Removed(usize),
    Added(usize),
}

fn edit_script(a: &[&str], b: &[&str]) -> Vec<Op> {
    // longest[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut longest = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            longest[i][j] = if a[i] == b[j] {
                longest[i + 1][j + 1] + 1
            } else {
                longest[i + 1][j].max(longest[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut ops) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push(Op::Same(i));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || longest[i + 1][j] >= longest[i][j + 1]) {
            // Removed lines first, as diff -u shows a changed line.
            ops.push(Op::Removed(i));
            i += 1;
        } else {
            ops.push(Op::Added(j));
            j += 1;
        }
    }
    ops
}

/// The line numbers (0-based) in both texts where `ops[at]` begins.
fn position(ops: &[Op], at: usize) -> (usize, usize) {
    ops[..at].iter().fold((0, 0), |(x, y), op| match op {
        Op::Same(..) => (x + 1, y + 1),
        Op::Removed(_) => (x + 1, y),
        Op::Added(_) => (x, y + 1),
    })
}

/// Ranges of `ops` around the changes, with context, merged where they touch.
fn hunks(ops: &[Op]) -> Vec<std::ops::Range<usize>> {
    let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
    for (k, op) in ops.iter().enumerate() {
        if matches!(op, Op::Same(..)) {
            continue;
        }
        let start = k.saturating_sub(CONTEXT);
        let end = (k + 1 + CONTEXT).min(ops.len());
        match ranges.last_mut() {
            Some(last) if start <= last.end => last.end = last.end.max(end),
            _ => ranges.push(start..end),
        }
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(unified("a\nb\n", "a\nb\n", "x", "y"), "");
    }

    #[test]
    fn a_changed_line_shows_with_its_context_as_diff_u_does() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let new = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
        assert_eq!(
            unified(old, new, "yours", "upkeep's"),
            "--- yours\n+++ upkeep's\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
        );
    }

    #[test]
    fn distant_changes_make_two_hunks_and_added_lines_count() {
        let old: String = (1..=20).map(|n| format!("{n}\n")).collect();
        let new: String = (1..=20)
            .map(|n| match n {
                2 => "two\n".to_string(),
                18 => "18\nnew\n".to_string(),
                n => format!("{n}\n"),
            })
            .collect();
        let diff = unified(&old, &new, "a", "b");
        assert!(diff.contains("@@ -1,5 +1,5 @@\n 1\n-2\n+two\n"), "{diff}");
        assert!(diff.contains("@@ -16,5 +16,6 @@"), "{diff}");
        assert!(diff.contains(" 18\n+new\n 19\n"), "{diff}");
    }
}
