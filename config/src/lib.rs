//! upkeep's configuration: RON text in, validated [`Config`] out.
//!
//! Pure: no I/O and no clock. The binary reads the file and hands its text here together with its
//! path (for error positions and for resolving relative script paths, RES-9). Every error is
//! collected, each with `file:line:col`, the field path and, for unknown names, a "did you mean"
//! (STYLE-ANCHORS items 3, 5, 10). Implements CFG-1 (the object tree) and MAP-4 (the format);
//! the rules live in `validate`, the format and its defaults in `raw`. docs/CONFIG.md documents
//! every field.
#![forbid(unsafe_code)]

mod bounds;
mod error;
mod log_filter;
mod model;
mod raw;
pub mod scenario;
mod span;
mod validate;

use std::path::Path;

pub use bounds::{
    MAX_CONFIG_BYTES, MAX_ERRORS, MAX_GROUPS, MAX_MONITORS, MAX_REFERENCES, MAX_RESOURCES,
};
pub use error::{closest_name, ConfigError, ConfigErrors};
pub use log_filter::check_log_filter;
pub use model::*;

/// The built-in demo configuration: what `upkeep daemon` runs without `--config`.
pub const DEFAULT_CONFIG: &str = include_str!("../examples/default.ron");

/// Parses and validates one configuration file.
///
/// `path` is only used in messages and as the folder relative program paths resolve against
/// (`Config::base_dir`); pass the absolute path the file was read from. On failure every problem
/// found is returned, in file order. A syntax or schema error (unknown field, wrong type) stops
/// the parse, so it comes alone; validation errors are all collected.
/// [`parse`] for the bytes of a file: text that is not UTF-8 is reported at the line and column
/// of its first bad byte, like any other error.
pub fn parse_bytes(bytes: &[u8], path: &Path) -> Result<Config, ConfigErrors> {
    if bytes.len() > MAX_CONFIG_BYTES {
        return Err(ConfigErrors(vec![bounds::too_big(bytes.len(), path)]));
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => parse(text, path),
        Err(e) => Err(ConfigErrors(vec![error::not_utf8(bytes, &e, path)])),
    }
}

pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigErrors> {
    bounds::size(text, path).map_err(|e| ConfigErrors(vec![e]))?;
    let spans = span::SpanIndex::build(text);
    // implicit_some lets the file say `stop: (program: ...)` instead of `stop: Some((...))`;
    // an explicit `Some(...)` still works.
    let options =
        ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    let raw: raw::RawConfig = options
        .from_str(text)
        .map_err(|e| ConfigErrors(vec![error::from_ron(path, text, &spans, &e)]))?;
    let over = bounds::counts(&raw, path, &spans);
    if !over.is_empty() {
        return Err(ConfigErrors(over));
    }
    validate::validate(raw, path, &spans).map_err(ConfigErrors)
}
