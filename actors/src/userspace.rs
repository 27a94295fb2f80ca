//! UserSpace: the user-space stall monitor (USW-1..8, DOWN-5, DOWN-6).
//!
//! Every interval it proves user space is alive — the dummy file and dummy thread of USW-5, done
//! by the Host in a helper task — and only then feeds the watchdog. A cycle that does not finish
//! within the timeout is a stall: with `softdog` / `ipmi` the watchdog is no longer fed and
//! resets the machine by itself (DOWN-5; simulated unless OS actions are real); with `none` the
//! stall is only reported. On an orderly daemon stop the watchdog is closed with the magic close;
//! while an OS shutdown or reboot is in progress it stays armed, so a hung shutdown is reset
//! (DOWN-6).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::time::Instant;
use upkeep_config::{Monitor, MonitorKind, UserSpace, WatchdogMethod};

use crate::board::MonitorPhase;
use crate::ctx::Ctx;
use crate::event::EventKind;
use crate::host::{Verdict, Watchdog, Watchdogs};
use crate::task::Task;

/// The door to the hardware watchdog (USW-5): a watchdog resets the machine when it goes
/// unfed, so only the user-space monitor (this module) can open it.
#[derive(Clone)]
pub struct WatchdogDoor(Arc<dyn Watchdogs>);

impl WatchdogDoor {
    pub(crate) fn new(watchdogs: Arc<dyn Watchdogs>) -> Self {
        WatchdogDoor(watchdogs)
    }

    fn open(&self) -> &dyn Watchdogs {
        &*self.0
    }
}

pub struct UserSpaceActor;

pub struct UserSpaceArgs {
    pub ctx: Ctx,
    pub spec: Monitor,
    /// The open watchdog, kept by the daemon so a restarted incarnation feeds the same device
    /// instead of leaving it armed and unfed (the reset USW-1 is there to cause).
    pub watchdog: WatchdogSlot,
}

/// The watchdog device one daemon holds open across the user-space monitor's restarts.
pub type WatchdogSlot = Arc<Mutex<Option<Box<dyn Watchdog>>>>;

fn slot(watchdog: &WatchdogSlot) -> MutexGuard<'_, Option<Box<dyn Watchdog>>> {
    watchdog
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub enum UserSpaceMsg {
    Tick,
    CycleDone(Result<(), String>),
    /// The daemon stops. `keep_armed`: an OS action is in progress (DOWN-6).
    Disarm {
        keep_armed: bool,
        done: Option<ractor::RpcReplyPort<()>>,
    },
}

pub struct UserSpaceState {
    ctx: Ctx,
    spec: Monitor,
    params: UserSpace,
    watchdog: WatchdogSlot,
    /// A watchdog is open (in the slot).
    has_watchdog: bool,
    last_ok: Instant,
    stalled: bool,
    in_flight: Option<Task>,
    ticker: Option<Task>,
    disarmed: bool,
}

impl UserSpaceState {
    fn record(&self, verdict: Verdict, detail: &str) {
        let now = self.ctx.host.now_wall();
        self.ctx.board.update_monitor(&self.spec.name, |m| {
            if m.phase != MonitorPhase::Monitoring {
                m.since = now;
            }
            m.phase = MonitorPhase::Monitoring;
            m.last_verdict = Some(verdict);
            m.last_detail = detail.to_string();
        });
    }

    fn feed(&self) {
        if let Some(watchdog) = slot(&self.watchdog).as_ref() {
            if let Err(e) = watchdog.feed() {
                tracing::error!(error = %e, "cannot feed the watchdog");
            }
        }
    }
}

impl Actor for UserSpaceActor {
    type Msg = UserSpaceMsg;
    type State = UserSpaceState;
    type Arguments = UserSpaceArgs;

    async fn pre_start(
        &self,
        _me: ActorRef<UserSpaceMsg>,
        args: UserSpaceArgs,
    ) -> Result<UserSpaceState, ActorProcessingErr> {
        let MonitorKind::UserSpace(params) = args.spec.kind.clone() else {
            return Err(format!("monitor {} is not a user-space monitor", args.spec.name).into());
        };
        let has_watchdog = {
            let mut held = slot(&args.watchdog);
            if held.is_none() {
                *held = match params.method {
                    WatchdogMethod::None | WatchdogMethod::Keepalive => None,
                    method => match args
                        .ctx
                        .watchdogs
                        .open()
                        .open_watchdog(method, args.spec.timeout)
                    {
                        Ok(w) => Some(w),
                        Err(e) => {
                            // Without a watchdog the stall is still detected and reported.
                            args.ctx.emit(EventKind::MonitorWarning {
                                monitor: args.spec.name.clone(),
                                detail: e.to_string(),
                            });
                            None
                        }
                    },
                };
            }
            held.is_some()
        };
        let watchdog = args.watchdog;
        Ok(UserSpaceState {
            ctx: args.ctx,
            spec: args.spec,
            params,
            watchdog,
            has_watchdog,
            last_ok: Instant::now(),
            stalled: false,
            in_flight: None,
            ticker: None,
            disarmed: false,
        })
    }

    async fn post_start(
        &self,
        me: ActorRef<UserSpaceMsg>,
        state: &mut UserSpaceState,
    ) -> Result<(), ActorProcessingErr> {
        let interval = state.spec.interval.max(Duration::from_millis(1));
        let to = me.clone();
        state.ticker = Some(Task::spawn(async move {
            let mut ticks = tokio::time::interval_at(Instant::now() + interval, interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if to.cast(UserSpaceMsg::Tick).is_err() {
                    break;
                }
            }
        }));
        state.ctx.emit(EventKind::MonitorStart {
            monitor: state.spec.name.clone(),
        });
        state.record(Verdict::Normal, "");
        state.feed();
        Ok(())
    }

    async fn handle(
        &self,
        me: ActorRef<UserSpaceMsg>,
        msg: UserSpaceMsg,
        state: &mut UserSpaceState,
    ) -> Result<(), ActorProcessingErr> {
        state.ctx.chaos_check(&me.get_cell());
        if state.disarmed {
            if let UserSpaceMsg::Disarm {
                done: Some(done), ..
            } = msg
            {
                let _ = done.send(());
            }
            return Ok(());
        }
        match msg {
            UserSpaceMsg::Tick => {
                let stuck_for = state.last_ok.elapsed();
                if !state.stalled && stuck_for > state.spec.timeout {
                    // USW-1 / DOWN-5: the watchdog is no longer fed from here on.
                    state.stalled = true;
                    let detail = format!(
                        "user space did not complete a cycle for {}s (timeout {}s); {}",
                        stuck_for.as_secs(),
                        state.spec.timeout.as_secs(),
                        match (state.has_watchdog, state.params.method) {
                            (true, _) => "the watchdog will reset the server",
                            (false, WatchdogMethod::None) => "method none: no reset",
                            (false, _) => "no watchdog is open: no reset",
                        }
                    );
                    state.record(Verdict::Error, &detail);
                    state.ctx.emit(EventKind::MonitorError {
                        monitor: state.spec.name.clone(),
                        detail,
                    });
                }
                if state.in_flight.as_ref().is_none_or(|t| t.is_finished()) {
                    let host = state.ctx.host.clone();
                    let params = state.params.clone();
                    let to = me.clone();
                    state.in_flight = Some(Task::spawn(async move {
                        let result = host.userspace_check(&params).await;
                        let _ = to.cast(UserSpaceMsg::CycleDone(result));
                    }));
                }
            }
            UserSpaceMsg::CycleDone(Ok(())) => {
                state.in_flight = None;
                state.last_ok = Instant::now();
                if state.stalled {
                    state.stalled = false;
                    state.ctx.emit(EventKind::MonitorRecovered {
                        monitor: state.spec.name.clone(),
                    });
                }
                state.record(Verdict::Normal, "");
                state.feed();
            }
            UserSpaceMsg::CycleDone(Err(why)) => {
                // A failed dummy operation is not a stall: the cycle ran. Report it, keep feeding
                // only while cycles keep completing within the timeout.
                state.in_flight = None;
                state.last_ok = Instant::now();
                state.record(Verdict::Warning, &why);
                state.ctx.emit(EventKind::MonitorWarning {
                    monitor: state.spec.name.clone(),
                    detail: why,
                });
                state.feed();
            }
            UserSpaceMsg::Disarm { keep_armed, done } => {
                state.disarmed = true;
                state.ticker = None;
                state.in_flight = None;
                let watchdog = slot(&state.watchdog).take();
                if let Some(watchdog) = watchdog {
                    if keep_armed {
                        // DOWN-6: leave it armed and unfed; a hung shutdown gets reset.
                        drop(watchdog);
                    } else if let Err(e) = watchdog.close() {
                        tracing::error!(error = %e, "cannot close the watchdog");
                    }
                }
                state.ctx.emit(EventKind::MonitorStop {
                    monitor: state.spec.name.clone(),
                });
                if let Some(done) = done {
                    let _ = done.send(());
                }
            }
        }
        Ok(())
    }
}
