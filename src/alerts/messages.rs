//! The message files (MSG-2, MSG-3, MSG-4): one file per module, `<module>.msg.us`, one line per
//! message: `ID=13 SEND=syslog.alert.mail MSG=A problem is detected in configuration file. LVL=ERR`.
//!
//! The defaults are built into the binary (from the catalogue) and `upkeep messages install`
//! writes them into the message folder; the admin edits them there. A file present in the folder
//! replaces its module's defaults message by message; a message missing from it keeps its
//! default. Read at daemon start and on `config apply` / SIGHUP. Every mistake is an error with
//! `file:line` (an unknown id, channel or level, a `{name}` the message has not), never a silent
//! default.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::catalogue::{self, Channel, Entry, Lvl, Send, CATALOGUE, MODULES};

/// The file name of a module's messages (MSG-3).
pub fn file_name(module: &str) -> String {
    format!("{module}.msg.us")
}

/// The default message folder: `messages/` beside the configuration file.
pub const FOLDER: &str = "messages";

/// One message as in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub entry: &'static Entry,
    pub send: Send,
    pub level: Lvl,
    pub template: String,
}

/// The messages in force: the catalogue with the admin's changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Messages {
    by_key: HashMap<(&'static str, u32), Message>,
    /// Where they were read from, for logs (`built-in` or the folder).
    pub origin: String,
}

impl Default for Messages {
    fn default() -> Self {
        Messages::built_in()
    }
}

/// A mistake in a message file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {message}", file.display())]
pub struct MessageError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl Messages {
    pub fn built_in() -> Messages {
        let by_key = CATALOGUE
            .iter()
            .map(|e| {
                (
                    (e.module, e.id),
                    Message {
                        entry: e,
                        send: e.default_send(),
                        level: e.level,
                        template: e.template.to_owned(),
                    },
                )
            })
            .collect();
        Messages {
            by_key,
            origin: "built-in".into(),
        }
    }

    pub fn get(&self, module: &str, id: u32) -> Option<&Message> {
        catalogue::lookup(module, id).and_then(|e| self.by_key.get(&(e.module, e.id)))
    }

    /// The built-in messages, changed by the files found in `dir`. Every error of every file is
    /// returned. `Ok` with the built-in messages when the folder has no message file.
    pub fn load(dir: &Path) -> Result<Messages, Vec<MessageError>> {
        let mut messages = Messages::built_in();
        messages.origin = dir.display().to_string();
        let mut errors = Vec::new();
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                return Err(vec![MessageError {
                    file: dir.to_path_buf(),
                    line: 0,
                    message: format!("cannot read the message folder: {e}"),
                }])
            }
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".msg.us"))
            .collect();
        names.sort();
        for name in names {
            let file = dir.join(&name);
            let module = name.trim_end_matches(".msg.us");
            let Some(module) = MODULES.iter().find(|m| **m == module) else {
                errors.push(MessageError {
                    file,
                    line: 0,
                    message: format!(
                        "upkeep has no module `{module}`; message files are {}",
                        MODULES.map(file_name).join(", ")
                    ),
                });
                continue;
            };
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => {
                    errors.push(MessageError {
                        file,
                        line: 0,
                        message: format!("cannot read: {e}"),
                    });
                    continue;
                }
            };
            match parse_file(module, &text, &file) {
                Ok(parsed) => {
                    for m in parsed {
                        messages.by_key.insert((m.entry.module, m.entry.id), m);
                    }
                }
                Err(mut e) => errors.append(&mut e),
            }
        }
        if errors.is_empty() {
            Ok(messages)
        } else {
            Err(errors)
        }
    }

    /// The text of one module's file as the built-in defaults: what `messages install` writes.
    pub fn default_file(module: &str) -> String {
        let mut out = format!(
            "# upkeep messages of module `{module}` (MSG-2, docs/ALERTS.md).\n\
             # SEND: channels separated by `.` (syslog, alert, mail); add or remove `.mail` to\n\
             # turn mail on or off for one message (MSG-4). MSG: the text; `{{name}}` is a value\n\
             # of the event. LVL: ERR, WARN or INFO. Changes apply at daemon start, `config apply`\n\
             # or SIGHUP; check them with `upkeep messages check`.\n"
        );
        for e in CATALOGUE.iter().filter(|e| e.module == module) {
            let _ = writeln!(
                out,
                "ID={} SEND={} MSG={} LVL={}",
                e.id,
                e.default_send(),
                e.template,
                e.level.as_str()
            );
        }
        out
    }
}

/// Parse one module's file; every line's errors are collected.
pub fn parse_file(
    module: &str,
    text: &str,
    file: &Path,
) -> Result<Vec<Message>, Vec<MessageError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<u32, usize> = HashMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let err = |message: String| MessageError {
            file: file.to_path_buf(),
            line,
            message,
        };
        match parse_line(module, trimmed) {
            Ok(m) => {
                if let Some(first) = seen.insert(m.entry.id, line) {
                    errors.push(err(format!(
                        "ID={} is defined again (first on line {first})",
                        m.entry.id
                    )));
                } else {
                    out.push(m);
                }
            }
            Err(message) => errors.push(err(message)),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

const FORMAT: &str = "write `ID=<n> SEND=<channels> MSG=<text> LVL=<level>`";

fn parse_line(module: &str, line: &str) -> Result<Message, String> {
    let rest = line
        .strip_prefix("ID=")
        .ok_or_else(|| format!("a message line starts with `ID=`; {FORMAT}"))?;
    let (id, rest) = rest
        .split_once(" SEND=")
        .ok_or_else(|| format!("missing ` SEND=` after the id; {FORMAT}"))?;
    let id: u32 = id
        .trim()
        .parse()
        .map_err(|_| format!("ID must be a number (got `{id}`)"))?;
    let entry = catalogue::lookup(module, id).ok_or_else(|| {
        let known: Vec<String> = CATALOGUE
            .iter()
            .filter(|e| e.module == module)
            .map(|e| e.id.to_string())
            .collect();
        format!(
            "unknown message ID={id} of module `{module}`; its ids are {}",
            known.join(", ")
        )
    })?;
    let (send, rest) = rest
        .split_once(" MSG=")
        .ok_or_else(|| format!("missing ` MSG=` after SEND; {FORMAT}"))?;
    let (template, level) = rest
        .rsplit_once(" LVL=")
        .ok_or_else(|| format!("missing ` LVL=` at the end; {FORMAT}"))?;
    let mut channels = Send::default();
    // An empty SEND sends the message nowhere.
    for name in send.trim().split('.').filter(|n| !n.is_empty()) {
        let c = Channel::parse(name).ok_or_else(|| {
            format!("unknown channel `{name}` in SEND; channels are syslog, alert and mail, separated by `.`")
        })?;
        channels = channels.with(c);
    }
    let level = level.trim();
    let level = Lvl::parse(level)
        .ok_or_else(|| format!("unknown level `{level}`; levels are ERR, WARN and INFO"))?;
    if template.trim().is_empty() {
        return Err("MSG must not be empty".into());
    }
    for name in catalogue::placeholders(template) {
        if !entry.fields.contains(&name) {
            return Err(if entry.fields.is_empty() {
                format!("{module} {id} has no value `{{{name}}}`; this message has no values")
            } else {
                format!(
                    "{module} {id} has no value `{{{name}}}`; its values are {}",
                    entry
                        .fields
                        .iter()
                        .map(|f| format!("{{{f}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            });
        }
    }
    Ok(Message {
        entry,
        send: channels,
        level,
        template: template.to_owned(),
    })
}
