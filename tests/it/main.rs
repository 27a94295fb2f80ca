//! One integration test binary.
