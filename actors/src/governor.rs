//! RebootGovernor: the persistent reboot limit (CFG-5..9, DOWN-7, ARCHITECTURE §6 / MAP-6) and
//! the only door to an OS action.
//!
//! Every recovery-initiated shutdown or reboot (DOWN-1..4) asks for a permit first. The count is
//! written durably *before* the permit is granted, so a crash or power cut between the write and
//! the action can only over-count, never let the host reboot forever. At the limit the permit is
//! refused and an alert says so; the daemon stays up. The count returns to 0 once
//! `reset_after` passes without an error being declared. A state file that cannot be read is
//! kept aside and treated as "limit reached" until the reset window passes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::board::GovernorStatus;
use crate::ctx::Ctx;
use crate::event::EventKind;
use crate::host::{HostError, OsAction, OsActionOutcome};
use crate::task::Task;

/// Name of the state file in the state folder.
pub const STATE_FILE: &str = "reboot-count";

/// The pure reboot budget: count, limit and reset window on wall-clock time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebootBudget {
    pub max: u32,
    pub reset_after: Duration,
    pub count: u32,
    pub last_error: Option<SystemTime>,
    /// The persisted count was unreadable: refuse until the reset window passes.
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
            damaged: false,
        }
    }

    /// CFG-7: forget the count once `reset_after` passed since the last error. Returns the count
    /// that was forgotten. A reset time of 0 never resets (CFG-8 allows it only with max 0).
    pub fn refresh(&mut self, now: SystemTime) -> Option<u32> {
        if (self.count == 0 && !self.damaged) || self.reset_after.is_zero() {
            return None;
        }
        let since = self.last_error?;
        if now.duration_since(since).unwrap_or_default() >= self.reset_after {
            let previous = self.count;
            self.count = 0;
            self.damaged = false;
            return Some(previous);
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
        if self.damaged || self.count >= self.max {
            Permit::Refused {
                count: if self.damaged { self.max } else { self.count },
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
        if (self.count == 0 && !self.damaged) || self.reset_after.is_zero() {
            return None;
        }
        self.last_error.map(|t| t + self.reset_after)
    }

    /// The persisted form: a small versioned text file, readable by an operator.
    pub fn encode(&self) -> Vec<u8> {
        let last = self
            .last_error
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs().to_string())
            .unwrap_or_else(|| "none".into());
        format!(
            "upkeep reboot count v1\ncount {}\nlast_error {last}\n",
            self.count
        )
        .into_bytes()
    }

    /// Read the persisted count and last error time; anything unexpected is an error.
    pub fn decode(bytes: &[u8]) -> Result<(u32, Option<SystemTime>), String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_string())?;
        let mut lines = text.lines();
        if lines.next() != Some("upkeep reboot count v1") {
            return Err("unknown header".into());
        }
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
            secs => Some(
                UNIX_EPOCH
                    + Duration::from_secs(secs.parse::<u64>().map_err(|_| "bad last_error value")?),
            ),
        };
        if lines.any(|l| !l.trim().is_empty()) {
            return Err("trailing data".into());
        }
        Ok((count, last_error))
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
        final_action: String,
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
}

impl GovernorState {
    fn publish(&self) {
        let b = &self.budget;
        self.ctx.board.governor.send_replace(GovernorStatus {
            count: b.count,
            max: b.max,
            last_error: b.last_error,
            damaged: b.damaged,
        });
    }

    async fn persist(&self) -> Result<(), HostError> {
        self.ctx
            .host
            .store_state(STATE_FILE, self.budget.encode())
            .await
    }

    fn refresh(&mut self) {
        if let Some(previous) = self.budget.refresh(self.ctx.host.now_wall()) {
            self.ctx.emit(EventKind::RebootCountReset { previous });
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
        let damage = match ctx.host.load_state(STATE_FILE).await {
            Ok(None) => None,
            Ok(Some(bytes)) => match RebootBudget::decode(&bytes) {
                Ok((count, last_error)) => {
                    budget.count = count;
                    budget.last_error = last_error;
                    None
                }
                Err(why) => Some(why),
            },
            Err(e) => Some(e.to_string()),
        };
        if let Some(reason) = damage {
            // Safety first: damage must never open the way to a reboot loop.
            let kept_at = ctx
                .host
                .quarantine_state(STATE_FILE)
                .await
                .unwrap_or_else(|e| format!("nowhere ({e})"));
            budget.damaged = true;
            budget.last_error = Some(now);
            ctx.emit(EventKind::RebootStateDamaged { reason, kept_at });
        }
        let mut state = GovernorState {
            ctx,
            budget,
            timer: None,
        };
        state.refresh();
        if state.budget.damaged {
            if let Err(e) = state.persist().await {
                tracing::error!(error = %e, "cannot write the reboot count");
            }
        }
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
                // The window only matters while there is a count to reset.
                if state.budget.count > 0 || state.budget.damaged {
                    if let Err(e) = state.persist().await {
                        tracing::error!(error = %e, "cannot write the reboot count");
                    }
                }
            }
            GovernorMsg::Request {
                action,
                origin,
                final_action,
                reply,
            } => {
                let before = state.budget.clone();
                let mut permit = state.budget.request(state.ctx.host.now_wall());
                if let Permit::Granted { .. } = permit {
                    // CFG-9: durable before the action; if it cannot be written, no action.
                    if let Err(e) = state.persist().await {
                        tracing::error!(error = %e, %action, "cannot persist the reboot count; refusing the OS action");
                        state.budget = before;
                        permit = Permit::Refused {
                            count: state.budget.count,
                            max: state.budget.max,
                        };
                    }
                }
                if let Permit::Refused { count, max } = permit {
                    state.ctx.emit(EventKind::FinalActionRefused {
                        origin,
                        action: final_action,
                        count,
                        max,
                    });
                }
                let _ = reply.send(permit);
            }
            GovernorMsg::Perform { action, reply } => {
                let outcome = state.ctx.host.os_action(action).await;
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
            }
            GovernorMsg::Tick => {
                let had = state.budget.count > 0 || state.budget.damaged;
                state.refresh();
                if had && state.budget.count == 0 && !state.budget.damaged {
                    if let Err(e) = state.persist().await {
                        tracing::error!(error = %e, "cannot write the reboot count");
                    }
                }
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
        assert_eq!(b.refresh(at(6600)), Some(1));
        assert_eq!(b.request(at(6601)), Permit::Granted { count: 1, max: 1 });
    }

    #[test]
    fn damaged_state_refuses_until_the_window_passes() {
        let mut b = RebootBudget::new(3, Duration::from_secs(60));
        b.damaged = true;
        b.last_error = Some(at(0));
        assert_eq!(b.request(at(30)), Permit::Refused { count: 3, max: 3 });
        assert_eq!(b.refresh(at(200)), Some(0));
        assert_eq!(b.request(at(201)), Permit::Granted { count: 1, max: 3 });
    }

    #[test]
    fn encoding_round_trips_and_rejects_garbage() {
        let mut b = RebootBudget::new(3, Duration::from_secs(60));
        b.count = 2;
        b.last_error = Some(at(5));
        assert_eq!(RebootBudget::decode(&b.encode()), Ok((2, Some(at(5)))));
        for bad in [
            &b"garbage"[..],
            b"upkeep reboot count v1\ncount x\n",
            b"",
            &[0xff, 0xfe],
        ] {
            assert!(RebootBudget::decode(bad).is_err(), "{bad:?}");
        }
    }
}
