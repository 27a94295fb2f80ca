//! RetryCounter: an actor holding retry ladders (RES-2..5 for exec resources, MON-12 for
//! monitors). It is a sibling the owner casts to, never calls, and it answers by a callback the
//! owner gave it, so it needs to know nothing of the owner's message type. Its arithmetic is
//! the pure [`RetryLadder`]; being an actor lets it survive a probe restart and show in the tree.
//! The ladders themselves belong to the owner ([`Ladders`]), so a restarted counter carries on
//! where its crashed incarnation was instead of starting every ladder over.

use std::sync::{Arc, Mutex, MutexGuard};

use ractor::{Actor, ActorProcessingErr, ActorRef};

use crate::chaos::CrashPlan;
use crate::ladder::{RetryLadder, Rung};

/// The ladders of one counter, kept by its owner across the counter's restarts.
#[derive(Clone)]
pub struct Ladders(Arc<Mutex<Vec<RetryLadder>>>);

impl Ladders {
    /// One ladder per lane, allowing `limits[lane]` retries.
    pub fn new(limits: &[u32]) -> Self {
        Ladders(Arc::new(Mutex::new(
            limits.iter().copied().map(RetryLadder::new).collect(),
        )))
    }

    fn lock(&self) -> MutexGuard<'_, Vec<RetryLadder>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Where a rung goes: `(lane, rung, used)`.
pub type RungSink = Box<dyn Fn(usize, Rung, u32) + Send + Sync>;

pub struct RetryCounter;

pub struct RetryArgs {
    /// One ladder per lane (exec resources: activation, deactivation; monitors: reactivation).
    pub ladders: Ladders,
    pub sink: RungSink,
    pub chaos: CrashPlan,
}

pub enum RetryMsg {
    /// A failure on `lane`: answer with the next rung.
    Failure { lane: usize },
    /// Start `lane` over.
    Reset { lane: usize },
}

pub struct RetryState {
    ladders: Ladders,
    sink: RungSink,
    chaos: CrashPlan,
}

impl Actor for RetryCounter {
    type Msg = RetryMsg;
    type State = RetryState;
    type Arguments = RetryArgs;

    async fn pre_start(
        &self,
        me: ActorRef<RetryMsg>,
        args: RetryArgs,
    ) -> Result<RetryState, ActorProcessingErr> {
        // Its owners spawn it on demand, a spawn that may fail (issue 14); tests inject that.
        args.chaos.check_start(me.get_name())?;
        Ok(RetryState {
            ladders: args.ladders,
            sink: args.sink,
            chaos: args.chaos,
        })
    }

    async fn handle(
        &self,
        me: ActorRef<RetryMsg>,
        msg: RetryMsg,
        state: &mut RetryState,
    ) -> Result<(), ActorProcessingErr> {
        state.chaos.check(me.get_name());
        match msg {
            RetryMsg::Failure { lane } => {
                let answer = state.ladders.lock().get_mut(lane).map(|ladder| {
                    let rung = ladder.on_failure();
                    (rung, ladder.used())
                });
                if let Some((rung, used)) = answer {
                    (state.sink)(lane, rung, used);
                }
            }
            RetryMsg::Reset { lane } => {
                if let Some(ladder) = state.ladders.lock().get_mut(lane) {
                    ladder.reset();
                }
            }
        }
        Ok(())
    }
}
