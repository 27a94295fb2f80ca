//! upkeep's configuration: RON text in, validated [`Config`] out.
//!
//! Pure: no I/O and no clock. The binary reads the file and hands its text here together with its
//! path (for error positions and for resolving relative script paths). Every error is collected,
//! each with `file:line:col`, the field path and, for unknown names, a "did you mean".

mod model;

pub use model::*;
