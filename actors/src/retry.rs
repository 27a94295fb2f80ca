//! RetryCounter: an actor holding retry ladders (RES-2..5 for exec resources, MON-12 for
//! monitors). It is a sibling the owner casts to, never calls, and it answers by a callback the
//! owner gave it, so it needs to know nothing of the owner's message type. Its arithmetic is
//! the pure [`RetryLadder`]; being an actor lets it survive a probe restart and show in the tree.

use ractor::{Actor, ActorProcessingErr, ActorRef};

use crate::ladder::{RetryLadder, Rung};

/// Where a rung goes: `(lane, rung, used)`.
pub type RungSink = Box<dyn Fn(usize, Rung, u32) + Send + Sync>;

pub struct RetryCounter;

pub struct RetryArgs {
    /// One ladder per lane (exec resources: activation, deactivation; monitors: reactivation).
    pub limits: Vec<u32>,
    pub sink: RungSink,
}

pub enum RetryMsg {
    /// A failure on `lane`: answer with the next rung.
    Failure { lane: usize },
    /// Start `lane` over.
    Reset { lane: usize },
}

pub struct RetryState {
    ladders: Vec<RetryLadder>,
    sink: RungSink,
}

impl Actor for RetryCounter {
    type Msg = RetryMsg;
    type State = RetryState;
    type Arguments = RetryArgs;

    async fn pre_start(
        &self,
        _me: ActorRef<RetryMsg>,
        args: RetryArgs,
    ) -> Result<RetryState, ActorProcessingErr> {
        Ok(RetryState {
            ladders: args.limits.into_iter().map(RetryLadder::new).collect(),
            sink: args.sink,
        })
    }

    async fn handle(
        &self,
        _me: ActorRef<RetryMsg>,
        msg: RetryMsg,
        state: &mut RetryState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RetryMsg::Failure { lane } => {
                if let Some(ladder) = state.ladders.get_mut(lane) {
                    let rung = ladder.on_failure();
                    (state.sink)(lane, rung, ladder.used());
                }
            }
            RetryMsg::Reset { lane } => {
                if let Some(ladder) = state.ladders.get_mut(lane) {
                    ladder.reset();
                }
            }
        }
        Ok(())
    }
}
