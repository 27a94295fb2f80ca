//! RebootGovernor: the persistent reboot limit (CFG-5..9, DOWN-7, ARCHITECTURE §6 / MAP-6) and
//! the only door to an OS action.
//!
//! Every recovery-initiated shutdown or reboot (DOWN-1..4) asks for a permit first. The count is
//! written durably *before* the permit is granted, so a crash or power cut between the write and
//! the action can only over-count, never let the host reboot forever. At the limit the permit is
//! refused and an alert says so; the daemon stays up. The count returns to 0 once
//! `reset_after` passes without an error (CFG-7); every error the governor hears of (a declared
//! error, a request, a refusal) is written too, so the window survives a daemon restart.
//!
//! A state file that cannot be read is kept aside and treated as "limit reached" until the reset
//! window passes. That damage is itself written to the state file (format v2), so a restart never
//! turns damage into a fresh count of 0.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::board::GovernorStatus;
use crate::ctx::Ctx;
use crate::event::{EventKind, FinalAction, Refusal};
use crate::host::{HostError, OsAction, OsActionOutcome, Power};
use crate::task::Task;

/// Name of the state file in the state folder.
pub const STATE_FILE: &str = "reboot-count";

/// The last second RFC 3339 can show (9999-12-31T23:59:59Z). A state file holding a later time
/// was not written by upkeep: it is damage, never a window that ends after the heat death of the
/// host.
pub const LATEST_SECS: u64 = 253_402_300_799;

const HEADER_V1: &str = "upkeep reboot count v1";
const HEADER_V2: &str = "upkeep reboot count v2";
/// A damage note is one line of an operator-readable file; longer reasons are cut.
const NOTE_MAX: usize = 1024;

/// The persisted state could not be trusted: every shutdown or reboot is refused until
/// `reset_after` has passed without an error since `since` (CFG-9, safety first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// When the damage was found.
    pub since: SystemTime,
    /// What was wrong and where the bad file was kept (one line).
    pub note: String,
}

/// The pure reboot budget: count, limit and reset window on wall-clock time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebootBudget {
    pub max: u32,
    pub reset_after: Duration,
    pub count: u32,
    pub last_error: Option<SystemTime>,
    /// The persisted state was unreadable: refuse until the reset window passes.
    pub damaged: Option<Damage>,
}

/// What the state file holds (either format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub count: u32,
    pub last_error: Option<SystemTime>,
    pub damaged: Option<Damage>,
}

/// What `refresh` forgot when the reset window passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forgotten {
    pub count: u32,
    pub damaged: bool,
}

/// The governor's answer to a request for an OS action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// Counted and persisted: go ahead. `count` includes this one.
    Granted {
        count: u32,
        max: u32,
    },
    Refused {
        count: u32,
        max: u32,
    },
}

impl RebootBudget {
    pub fn new(max: u32, reset_after: Duration) -> Self {
        RebootBudget {
            max,
            reset_after,
            count: 0,
            last_error: None,
            damaged: None,
        }
    }

    /// Take over what the state file held, read at `now`. A time later than `now` (the clock
    /// was set back since it was written) counts from `now`: the window then lasts one full
    /// `reset_after` instead of until a moment the clock may take years to reach.
    pub fn restore(&mut self, stored: Stored, now: SystemTime) {
        self.count = stored.count;
        self.last_error = stored.last_error.map(|t| t.min(now));
        self.damaged = stored.damaged.map(|d| Damage {
            since: d.since.min(now),
            note: d.note,
        });
    }

    /// Where the reset window starts: the last error, or the damage if found later.
    fn window_start(&self) -> Option<SystemTime> {
        match (&self.damaged, self.last_error) {
            (Some(d), Some(e)) => Some(d.since.max(e)),
            (Some(d), None) => Some(d.since),
            (None, e) => e,
        }
    }

    /// CFG-7: forget the count (and any damage) once `reset_after` passed since the last error.
    /// A reset time of 0 never resets (CFG-8 allows it only with max 0).
    pub fn refresh(&mut self, now: SystemTime) -> Option<Forgotten> {
        if (self.count == 0 && self.damaged.is_none()) || self.reset_after.is_zero() {
            return None;
        }
        let since = self.window_start()?;
        if now.duration_since(since).unwrap_or_default() >= self.reset_after {
            let forgotten = Forgotten {
                count: self.count,
                damaged: self.damaged.is_some(),
            };
            self.count = 0;
            self.damaged = None;
            return Some(forgotten);
        }
        None
    }

    pub fn on_error(&mut self, now: SystemTime) {
        self.last_error = Some(now);
    }

    /// A recovery wants to shut down or reboot: an error is being handled right now.
    pub fn request(&mut self, now: SystemTime) -> Permit {
        self.refresh(now);
        self.on_error(now);
        if self.damaged.is_some() || self.count >= self.max {
            Permit::Refused {
                count: self.count,
                max: self.max,
            }
        } else {
            self.count += 1;
            Permit::Granted {
                count: self.count,
                max: self.max,
            }
        }
    }

    /// When `refresh` could next reset the count.
    pub fn next_reset(&self) -> Option<SystemTime> {
        if (self.count == 0 && self.damaged.is_none()) || self.reset_after.is_zero() {
            return None;
        }
        self.window_start()?.checked_add(self.reset_after)
    }

    /// The persisted form, v2: a small versioned text file, readable by an operator.
    ///
    /// ```text
    /// upkeep reboot count v2
    /// count 1
    /// last_error 1800000000
    /// damaged none            (or: damaged <unix seconds> <what was wrong; where it was kept>)
    /// ```
    pub fn encode(&self) -> Vec<u8> {
        let last = self
            .last_error
            .map(|t| secs(t).to_string())
            .unwrap_or_else(|| "none".into());
        let damaged = match &self.damaged {
            None => "none".to_string(),
            Some(d) => format!("{} {}", secs(d.since), one_line(&d.note)),
        };
        format!(
            "{HEADER_V2}\ncount {}\nlast_error {last}\ndamaged {damaged}\n",
            self.count
        )
        .into_bytes()
    }

    /// Read a v1 or v2 state file; anything unexpected is an error (the caller treats it as
    /// damage). Times past [`LATEST_SECS`] are errors too.
    pub fn decode(bytes: &[u8]) -> Result<Stored, String> {
        if bytes.is_empty() {
            return Err("empty file".into());
        }
        let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_string())?;
        let mut lines = text.lines();
        let v2 = match lines.next() {
            Some(HEADER_V1) => false,
            Some(HEADER_V2) => true,
            _ => return Err("unknown header".into()),
        };
        let count = lines
            .next()
            .and_then(|l| l.strip_prefix("count "))
            .and_then(|v| v.parse::<u32>().ok())
            .ok_or("bad count line")?;
        let last = lines
            .next()
            .and_then(|l| l.strip_prefix("last_error "))
            .ok_or("bad last_error line")?;
        let last_error = match last {
            "none" => None,
            secs => Some(time(secs).map_err(|why| format!("last_error {why}"))?),
        };
        let damaged = if v2 {
            let value = lines
                .next()
                .and_then(|l| l.strip_prefix("damaged "))
                .ok_or("bad damaged line")?;
            match value {
                "none" => None,
                value => {
                    let (secs, note) = value.split_once(' ').unwrap_or((value, ""));
                    Some(Damage {
                        since: time(secs).map_err(|why| format!("damaged {why}"))?,
                        note: note.to_string(),
                    })
                }
            }
        } else {
            None
        };
        if lines.any(|l| !l.trim().is_empty()) {
            return Err("trailing data".into());
        }
        Ok(Stored {
            count,
            last_error,
            damaged,
        })
    }
}

/// Unix seconds, rounded up (a window never ends early because of the file) and clamped to what
/// `decode` accepts; a time before 1970 (a broken clock) is written as 0.
fn secs(t: SystemTime) -> u64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() + u64::from(d.subsec_nanos() > 0)).min(LATEST_SECS),
        Err(_) => 0,
    }
}

fn time(secs: &str) -> Result<SystemTime, &'static str> {
    let secs = secs.parse::<u64>().map_err(|_| "is not a time")?;
    if secs > LATEST_SECS {
        return Err("is after the year 9999");
    }
    Ok(UNIX_EPOCH + Duration::from_secs(secs))
}

/// The note on one line, without control characters, of bounded length.
fn one_line(note: &str) -> String {
    let clean: String = note
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(NOTE_MAX)
        .collect();
    let trimmed = clean.trim();
    if trimmed.is_empty() {
        "-".into()
    } else {
        trimmed.to_string()
    }
}

/// The door to the machine's power (DOWN-1..6). Every actor's `Ctx` carries it, but only this
/// module can open it: the compiler keeps every other actor from shutting the host down.
#[derive(Clone)]
pub struct PowerDoor(Arc<dyn Power>);

impl PowerDoor {
    pub(crate) fn new(power: Arc<dyn Power>) -> Self {
        PowerDoor(power)
    }

    fn open(&self) -> &dyn Power {
        &*self.0
    }
}

pub struct RebootGovernor;

pub enum GovernorMsg {
    /// A monitor declared an error (restarts the reset window).
    ErrorDeclared,
    /// DOWN-1..4: may the daemon shut down / reboot? Counted and persisted before the answer.
    Request {
        action: OsAction,
        origin: String,
        final_action: FinalAction,
        reply: RpcReplyPort<Permit>,
    },
    /// Carry out an OS action a permit was granted for (or a manual one: not counted).
    Perform {
        action: OsAction,
        reply: Option<RpcReplyPort<Result<OsActionOutcome, HostError>>>,
    },
    /// Time to look at the reset window again.
    Tick,
    /// A hot apply changed CFG-6 / CFG-7 (apply level SuspendResume, CFG-4).
    SetLimit(upkeep_config::RebootLimit),
}

pub struct GovernorState {
    ctx: Ctx,
    budget: RebootBudget,
    timer: Option<Task>,
    /// The bytes the state file is known to hold, so an unchanged state is not written again.
    on_disk: Option<Vec<u8>>,
    /// The last write failed: its event was sent, the next ones stay quiet until a write works.
    write_failing: bool,
}

impl GovernorState {
    fn publish(&self) {
        let b = &self.budget;
        self.ctx.board.governor.send_replace(GovernorStatus {
            count: b.count,
            max: b.max,
            last_error: b.last_error,
            damaged: b.damaged.is_some(),
        });
    }

    /// Make the state file match the budget. A failure is an event (once, until a write works
    /// again), so a full or read-only disk is visible before it costs a reboot.
    async fn save(&mut self) -> Result<(), HostError> {
        let bytes = self.budget.encode();
        if self.on_disk.as_ref() == Some(&bytes) {
            return Ok(());
        }
        match self.ctx.host.store_state(STATE_FILE, bytes.clone()).await {
            Ok(()) => {
                self.on_disk = Some(bytes);
                self.write_failing = false;
                Ok(())
            }
            Err(e) => {
                if !self.write_failing {
                    self.ctx.emit(EventKind::RebootStateWriteFailed {
                        reason: e.to_string(),
                    });
                }
                self.write_failing = true;
                Err(e)
            }
        }
    }

    fn refresh(&mut self) {
        if let Some(forgotten) = self.budget.refresh(self.ctx.host.now_wall()) {
            self.ctx.emit(EventKind::RebootCountReset {
                previous: forgotten.count,
                damaged: forgotten.damaged,
            });
        }
    }

    /// Arm a timer for the next possible reset, on the tokio clock (virtual in tests).
    fn schedule(&mut self, me: &ActorRef<GovernorMsg>) {
        self.timer = None;
        let Some(at) = self.budget.next_reset() else {
            return;
        };
        let wait = at
            .duration_since(self.ctx.host.now_wall())
            .unwrap_or_default()
            + Duration::from_millis(1);
        let me = me.clone();
        self.timer = Some(Task::spawn(async move {
            tokio::time::sleep(wait).await;
            let _ = me.cast(GovernorMsg::Tick);
        }));
    }

    /// DOWN-1..4 / CFG-9: count and write durably, then answer; every refusal is written too
    /// (CFG-7: a refused request is an error, and the window must survive a restart).
    async fn request(&mut self, origin: String, final_action: FinalAction) -> Permit {
        // A window that passed is forgotten out loud (pm 24) before this request counts.
        self.refresh();
        let now = self.ctx.host.now_wall();
        let before = self.budget.clone();
        let permit = self.budget.request(now);
        let saved = self.save().await;
        let why = match (permit, saved) {
            (Permit::Granted { .. }, Ok(())) => return permit,
            (Permit::Granted { .. }, Err(e)) => {
                // CFG-9: durable before the action; if it cannot be written, no action. The
                // error still happened (and restarts the window).
                self.budget = before;
                self.budget.on_error(now);
                Refusal::NotWritten {
                    reason: e.to_string(),
                }
            }
            (Permit::Refused { .. }, _) => match &self.budget.damaged {
                Some(d) => Refusal::Damaged {
                    since: d.since,
                    note: d.note.clone(),
                },
                None => Refusal::Limit,
            },
        };
        let (count, max) = (self.budget.count, self.budget.max);
        self.ctx.emit(EventKind::FinalActionRefused {
            origin,
            action: final_action,
            count,
            max,
            why,
        });
        Permit::Refused { count, max }
    }
}

impl Actor for RebootGovernor {
    type Msg = GovernorMsg;
    type State = GovernorState;
    type Arguments = Ctx;

    async fn pre_start(
        &self,
        _me: ActorRef<GovernorMsg>,
        ctx: Ctx,
    ) -> Result<GovernorState, ActorProcessingErr> {
        let limit = ctx.config.reboot_limit;
        let mut budget = RebootBudget::new(limit.max_reboot_count, limit.reset_after);
        let now = ctx.host.now_wall();
        let mut on_disk = None;
        let damage = match ctx.host.load_state(STATE_FILE).await {
            Ok(None) => None,
            Ok(Some(bytes)) => match RebootBudget::decode(&bytes) {
                Ok(stored) => {
                    budget.restore(stored, now);
                    // A v1 file (or a clamped time) differs from the encoding and is rewritten.
                    on_disk = Some(bytes);
                    None
                }
                Err(why) => Some(why),
            },
            Err(e) => Some(e.to_string()),
        };
        if let Some(reason) = damage {
            // Safety first: damage must never open the way to a reboot loop, not even after a
            // restart, so it is written down (v2) and lasts a full quiet window.
            let kept_at = ctx
                .host
                .quarantine_state(STATE_FILE)
                .await
                .unwrap_or_else(|e| format!("nowhere ({e})"));
            budget.count = 0;
            budget.last_error = Some(now);
            budget.damaged = Some(Damage {
                since: now,
                note: format!("{reason}; kept at {kept_at}"),
            });
            ctx.emit(EventKind::RebootStateDamaged { reason, kept_at });
        }
        let mut state = GovernorState {
            ctx,
            budget,
            timer: None,
            on_disk,
            write_failing: false,
        };
        state.refresh();
        // Also proves at start that the state folder takes a write (an event says if not).
        let _ = state.save().await;
        state.publish();
        Ok(state)
    }

    async fn post_start(
        &self,
        me: ActorRef<GovernorMsg>,
        state: &mut GovernorState,
    ) -> Result<(), ActorProcessingErr> {
        state.schedule(&me);
        Ok(())
    }

    async fn handle(
        &self,
        me: ActorRef<GovernorMsg>,
        msg: GovernorMsg,
        state: &mut GovernorState,
    ) -> Result<(), ActorProcessingErr> {
        state.ctx.chaos_check(&me.get_cell());
        match msg {
            GovernorMsg::ErrorDeclared => {
                state.refresh();
                state.budget.on_error(state.ctx.host.now_wall());
                // CFG-7: the window is measured from this error, also after a restart.
                let _ = state.save().await;
            }
            GovernorMsg::Request {
                action: _,
                origin,
                final_action,
                reply,
            } => {
                let permit = state.request(origin, final_action).await;
                let _ = reply.send(permit);
            }
            GovernorMsg::Perform { action, reply } => {
                let outcome = state.ctx.power.open().os_action(action).await;
                match &outcome {
                    Ok(done) => state.ctx.emit(EventKind::OsAction {
                        action,
                        simulated: *done == OsActionOutcome::Simulated,
                        count: state.budget.count,
                        max: state.budget.max,
                    }),
                    Err(e) => state.ctx.emit(EventKind::OsActionFailed {
                        action,
                        reason: e.to_string(),
                    }),
                }
                if let Some(reply) = reply {
                    let _ = reply.send(outcome);
                }
            }
            GovernorMsg::SetLimit(limit) => {
                state.budget.max = limit.max_reboot_count;
                state.budget.reset_after = limit.reset_after;
                state.refresh();
                let _ = state.save().await;
            }
            GovernorMsg::Tick => {
                state.refresh();
                let _ = state.save().await;
            }
        }
        state.publish();
        state.schedule(&me);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    fn forgot(count: u32, damaged: bool) -> Option<Forgotten> {
        Some(Forgotten { count, damaged })
    }

    #[test]
    fn counts_up_to_the_limit_then_refuses() {
        let mut b = RebootBudget::new(2, Duration::from_secs(3600));
        assert_eq!(b.request(at(0)), Permit::Granted { count: 1, max: 2 });
        assert_eq!(b.request(at(10)), Permit::Granted { count: 2, max: 2 });
        assert_eq!(b.request(at(20)), Permit::Refused { count: 2, max: 2 });
    }

    #[test]
    fn zero_max_never_permits() {
        let mut b = RebootBudget::new(0, Duration::ZERO);
        assert_eq!(b.request(at(0)), Permit::Refused { count: 0, max: 0 });
    }

    #[test]
    fn resets_only_after_a_quiet_window() {
        let mut b = RebootBudget::new(1, Duration::from_secs(3600));
        assert_eq!(b.request(at(0)), Permit::Granted { count: 1, max: 1 });
        b.on_error(at(3000));
        assert_eq!(
            b.refresh(at(3601)),
            None,
            "an error at 3000 restarted the window"
        );
        assert_eq!(b.refresh(at(6600)), forgot(1, false));
        assert_eq!(b.request(at(6601)), Permit::Granted { count: 1, max: 1 });
    }

    #[test]
    fn damaged_state_refuses_until_the_window_passes() {
        let mut b = RebootBudget::new(3, Duration::from_secs(60));
        b.damaged = Some(Damage {
            since: at(0),
            note: "x".into(),
        });
        b.last_error = Some(at(0));
        assert_eq!(b.request(at(30)), Permit::Refused { count: 0, max: 3 });
        assert_eq!(b.refresh(at(89)), None, "the refusal at 30 was an error");
        assert_eq!(b.refresh(at(200)), forgot(0, true));
        assert_eq!(b.request(at(201)), Permit::Granted { count: 1, max: 3 });
    }

    #[test]
    fn the_window_starts_at_the_damage_even_with_an_older_error() {
        let mut b = RebootBudget::new(3, Duration::from_secs(60));
        b.last_error = Some(at(0));
        b.damaged = Some(Damage {
            since: at(100),
            note: "x".into(),
        });
        assert_eq!(b.refresh(at(150)), None);
        assert_eq!(b.next_reset(), Some(at(160)));
        assert_eq!(b.refresh(at(160)), forgot(0, true));
    }

    #[test]
    fn encoding_round_trips_and_rejects_garbage() {
        let mut b = RebootBudget::new(3, Duration::from_secs(60));
        b.count = 2;
        b.last_error = Some(at(5));
        let stored = Stored {
            count: 2,
            last_error: Some(at(5)),
            damaged: None,
        };
        assert_eq!(RebootBudget::decode(&b.encode()), Ok(stored.clone()));
        b.damaged = Some(Damage {
            since: at(4),
            note: "unknown header; kept at /var/lib/upkeep/reboot-count.corrupt-1".into(),
        });
        assert_eq!(
            String::from_utf8_lossy(&b.encode()),
            "upkeep reboot count v2\ncount 2\nlast_error 1800000005\ndamaged 1800000004 unknown header; kept at /var/lib/upkeep/reboot-count.corrupt-1\n"
        );
        assert_eq!(
            RebootBudget::decode(&b.encode()).map(|s| s.damaged),
            Ok(b.damaged.clone())
        );
        // v1 is still read (and rewritten as v2 at the next write).
        assert_eq!(
            RebootBudget::decode(b"upkeep reboot count v1\ncount 2\nlast_error 1800000005\n"),
            Ok(stored)
        );
        for (bad, why) in [
            (&b"garbage"[..], "unknown header"),
            (b"upkeep reboot count v1\ncount x\n", "bad count line"),
            (b"", "empty file"),
            (&[0xff, 0xfe], "not UTF-8"),
            (
                b"upkeep reboot count v1\ncount 1\nlast_error 253402300800\n",
                "last_error is after the year 9999",
            ),
            (
                b"upkeep reboot count v1\ncount 1\nlast_error 18446744073709551615\n",
                "last_error is after the year 9999",
            ),
            (
                b"upkeep reboot count v1\ncount 1\nlast_error -5\n",
                "last_error is not a time",
            ),
            (
                b"upkeep reboot count v2\ncount 1\nlast_error none\n",
                "bad damaged line",
            ),
            (
                b"upkeep reboot count v2\ncount 0\nlast_error none\ndamaged 99999999999999 x\n",
                "damaged is after the year 9999",
            ),
            (
                b"upkeep reboot count v2\ncount 0\nlast_error none\ndamaged none\nmore\n",
                "trailing data",
            ),
        ] {
            assert_eq!(RebootBudget::decode(bad), Err(why.to_string()), "{bad:?}");
        }
    }

    #[test]
    fn absurd_times_are_written_within_what_decode_accepts() {
        let mut b = RebootBudget::new(3, Duration::from_secs(60));
        b.last_error = UNIX_EPOCH.checked_add(Duration::from_secs(LATEST_SECS * 4));
        b.damaged = Some(Damage {
            since: UNIX_EPOCH - Duration::from_secs(10),
            note: "two\nlines".into(),
        });
        let stored = RebootBudget::decode(&b.encode());
        assert_eq!(
            stored,
            Ok(Stored {
                count: 0,
                last_error: Some(UNIX_EPOCH + Duration::from_secs(LATEST_SECS)),
                damaged: Some(Damage {
                    since: UNIX_EPOCH,
                    note: "two lines".into()
                }),
            })
        );
    }

    #[test]
    fn times_after_now_count_from_now() {
        let mut b = RebootBudget::new(3, Duration::from_secs(60));
        b.restore(
            Stored {
                count: 3,
                last_error: Some(at(1_000_000)),
                damaged: None,
            },
            at(0),
        );
        assert_eq!(b.last_error, Some(at(0)));
        assert_eq!(b.refresh(at(60)), forgot(3, false));
    }
}
