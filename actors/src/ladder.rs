//! Pure escalation arithmetic the actors wrap: retry ladders (RES-2..5, MON-12) and OTP restart
//! intensity (DOWN-3). No actors, no I/O: table-tested on their own.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;
use upkeep_config::Backoff;

/// The next step after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rung {
    /// Try again: this is attempt `attempt` of `of` (1-based).
    Retry { attempt: u32, of: u32 },
    /// Retries are used up: take the final action.
    Exhausted,
}

/// A retry threshold and how much of it is used: activation / deactivation retries (RES-3,
/// RES-10) and monitor reactivations (MON-12) are the same ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryLadder {
    limit: u32,
    used: u32,
}

impl RetryLadder {
    /// A ladder allowing `limit` retries (0 = the first failure takes the final action).
    pub fn new(limit: u32) -> Self {
        RetryLadder { limit, used: 0 }
    }

    /// Record a failure and say what to do next.
    pub fn on_failure(&mut self) -> Rung {
        if self.used < self.limit {
            self.used += 1;
            Rung::Retry {
                attempt: self.used,
                of: self.limit,
            }
        } else {
            Rung::Exhausted
        }
    }

    /// Start over (a success, or MON-15's first normal check after a reactivation).
    pub fn reset(&mut self) {
        self.used = 0;
    }

    pub fn used(&self) -> u32 {
        self.used
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }
}

/// upkeep's restart backoff (issue 9): how long a reactivation waits. The first one after a
/// healthy spell is immediate, so a one-off crash recovers as fast as with `Backoff::Off`; while
/// the target keeps failing within `reset_after` of its last reactivation, the waits grow
/// `first`, `2 * first`, ... up to `max`.
#[derive(Debug, Clone)]
pub struct Pacer {
    backoff: Backoff,
    /// Reactivations in the current streak of quick failures.
    streak: u32,
    /// When the last reactivation brought the target back.
    last: Option<Instant>,
}

impl Pacer {
    pub fn new(backoff: Backoff) -> Self {
        Pacer {
            backoff,
            streak: 0,
            last: None,
        }
    }

    /// The wait before a reactivation decided at `now`.
    pub fn next_delay(&mut self, now: Instant) -> Duration {
        let Backoff::Exponential {
            first,
            max,
            reset_after,
        } = self.backoff
        else {
            return Duration::ZERO;
        };
        let healthy = self
            .last
            .is_none_or(|t| now.saturating_duration_since(t) >= reset_after);
        if healthy {
            self.streak = 0;
        }
        let delay = match self.streak {
            0 => Duration::ZERO,
            n => {
                let doublings = (n - 1).min(31);
                first.saturating_mul(1u32 << doublings).min(max)
            }
        };
        self.streak = self.streak.saturating_add(1);
        delay
    }

    /// The target was brought back at `now`: its healthy spell is measured from here.
    pub fn reactivated(&mut self, now: Instant) {
        self.last = Some(now);
    }

    /// Forget the streak (a new error episode starts from an immediate reactivation).
    pub fn reset(&mut self) {
        self.streak = 0;
        self.last = None;
    }
}

/// What a supervisor does with a crashed child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intensity {
    Restart,
    /// More than `max_restarts` within `period`: give up and escalate to the parent.
    Escalate,
}

/// OTP's restart intensity: a sliding window of restart times on tokio's clock (so paused-time
/// tests drive it).
#[derive(Debug, Clone)]
pub struct RestartWindow {
    max_restarts: u32,
    period: Duration,
    restarts: VecDeque<Instant>,
}

impl RestartWindow {
    pub fn new(max_restarts: u32, period: Duration) -> Self {
        RestartWindow {
            max_restarts,
            period,
            restarts: VecDeque::new(),
        }
    }

    /// Record a crash at `now`: restart while the window holds at most `max_restarts` restarts.
    pub fn record(&mut self, now: Instant) -> Intensity {
        while self
            .restarts
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.period)
        {
            self.restarts.pop_front();
        }
        self.restarts.push_back(now);
        if self.restarts.len() as u64 > u64::from(self.max_restarts) {
            Intensity::Escalate
        } else {
            Intensity::Restart
        }
    }

    /// Restarts still inside the window at `now`.
    pub fn recent(&self, now: Instant) -> usize {
        self.restarts
            .iter()
            .filter(|t| now.duration_since(**t) <= self.period)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ladder_retries_then_exhausts_and_resets() {
        let mut l = RetryLadder::new(2);
        assert_eq!(l.on_failure(), Rung::Retry { attempt: 1, of: 2 });
        assert_eq!(l.on_failure(), Rung::Retry { attempt: 2, of: 2 });
        assert_eq!(l.on_failure(), Rung::Exhausted);
        assert_eq!(l.on_failure(), Rung::Exhausted);
        l.reset();
        assert_eq!(l.on_failure(), Rung::Retry { attempt: 1, of: 2 });
    }

    #[test]
    fn zero_limit_goes_straight_to_final_action() {
        assert_eq!(RetryLadder::new(0).on_failure(), Rung::Exhausted);
    }

    #[tokio::test(start_paused = true)]
    async fn pacer_first_immediate_then_doubling_to_cap_and_reset_after_healthy() {
        let s = Duration::from_secs;
        let mut p = Pacer::new(Backoff::Exponential {
            first: s(1),
            max: s(5),
            reset_after: s(60),
        });
        let t0 = Instant::now();
        let mut delays = Vec::new();
        let mut t = t0;
        for _ in 0..6 {
            let d = p.next_delay(t);
            delays.push(d.as_secs());
            t += d;
            p.reactivated(t);
            t += Duration::from_millis(300);
        }
        assert_eq!(delays, [0, 1, 2, 4, 5, 5]);
        // Healthy for `reset_after`: the next reactivation is immediate again.
        assert_eq!(p.next_delay(t + s(60)), Duration::ZERO);
        let mut off = Pacer::new(Backoff::Off);
        assert_eq!(off.next_delay(t0), Duration::ZERO);
        off.reactivated(t0);
        assert_eq!(off.next_delay(t0), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn window_escalates_past_intensity_and_forgets_old_crashes() {
        let mut w = RestartWindow::new(2, Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(w.record(t0), Intensity::Restart);
        assert_eq!(w.record(t0 + Duration::from_secs(1)), Intensity::Restart);
        assert_eq!(w.record(t0 + Duration::from_secs(2)), Intensity::Escalate);
        let mut w = RestartWindow::new(2, Duration::from_secs(10));
        assert_eq!(w.record(t0), Intensity::Restart);
        assert_eq!(w.record(t0 + Duration::from_secs(1)), Intensity::Restart);
        // The first crash left the window: only two remain, so this one is still a restart.
        assert_eq!(w.record(t0 + Duration::from_secs(11)), Intensity::Restart);
        assert_eq!(w.recent(t0 + Duration::from_secs(11)), 2);
    }
}
