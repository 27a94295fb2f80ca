//! How long probes take, per monitor kind (issue 12: `upkeep_probe_duration_seconds`).
//!
//! One histogram set per process: a daemon has one host, and a counter add per check is all it
//! costs. Kept here, beside the probes, so that the web side only reads it.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds in seconds: a cheap /proc read is sub-millisecond, a slow disk or HTTP check
/// takes seconds, a timeout up to a minute or more.
pub const BUCKETS: [f64; 11] = [
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0,
];

/// One kind's histogram: cumulative counts per bucket, sum and count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    pub buckets: [u64; BUCKETS.len()],
    pub sum: f64,
    pub count: u64,
}

static DURATIONS: Mutex<BTreeMap<&'static str, Histogram>> = Mutex::new(BTreeMap::new());

/// Records one probe of `kind` that took `took`.
pub fn observe(kind: &'static str, took: Duration) {
    let secs = took.as_secs_f64();
    let mut all = DURATIONS.lock().unwrap_or_else(|p| p.into_inner());
    let h = all.entry(kind).or_default();
    for (bound, n) in BUCKETS.iter().zip(h.buckets.iter_mut()) {
        if secs <= *bound {
            *n += 1;
        }
    }
    h.sum += secs;
    h.count += 1;
}

/// Every kind probed so far.
pub fn snapshot() -> BTreeMap<&'static str, Histogram> {
    DURATIONS.lock().unwrap_or_else(|p| p.into_inner()).clone()
}
