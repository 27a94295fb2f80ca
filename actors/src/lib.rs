//! upkeep's engine: the supervision tree, escalation ladders and the reboot governor.
//!
//! See docs/ARCHITECTURE.md for the map. The engine reaches the OS only through [`host::Host`];
//! [`sim::SimulatedHost`] and the binary's `LinuxHost` are its two hosts, [`fault::Faulty`]
//! decorates either. [`Engine`] starts one daemon tree and hands out what the edges need: the
//! root actor, the event feed and the status board.

#![forbid(unsafe_code)]

pub mod board;
pub mod ctx;
pub mod daemon;
pub mod event;
pub mod exec;
pub mod fault;
pub mod governor;
pub mod group;
pub mod host;
pub mod ladder;
pub mod monitor;
pub mod probe;
pub mod rc;
pub mod retry;
pub mod rm;
pub mod sim;
pub mod supervise;
pub mod task;

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorRef};
use upkeep_config::Config;

use crate::board::Board;
use crate::ctx::{Ctx, Names};
use crate::daemon::{Daemon, DaemonMsg};
use crate::event::Events;
use crate::host::Host;

/// Errors starting the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot start the daemon's actor tree: {0}")]
    Spawn(String),
}

/// One running daemon tree.
pub struct Engine {
    pub daemon: ActorRef<DaemonMsg>,
    pub ctx: Ctx,
    join: tokio::task::JoinHandle<()>,
}

impl Engine {
    /// Start the tree: governor, rc and rm under the daemon root; the auto-start groups start,
    /// then the monitors (OPS-1, PROC-3). `instance` prefixes every registered actor name.
    pub async fn start(
        config: Arc<Config>,
        host: Arc<dyn Host>,
        instance: &str,
    ) -> Result<Engine, EngineError> {
        let clock_host = host.clone();
        let events = Events::new(Arc::new(move || clock_host.now_wall()));
        let board = Board::new(&config, host.now_wall());
        let ctx = Ctx {
            host,
            events,
            board,
            config,
            names: Names::new(instance),
        };
        let (daemon, join) = Actor::spawn(Some(ctx.names.daemon()), Daemon, ctx.clone())
            .await
            .map_err(|e| EngineError::Spawn(e.to_string()))?;
        Ok(Engine { daemon, ctx, join })
    }

    pub fn events(&self) -> &Events {
        &self.ctx.events
    }

    pub fn board(&self) -> &Arc<Board> {
        &self.ctx.board
    }

    /// OPS-5: orderly stop; returns once the groups are deactivated and the tree is down.
    pub async fn stop(self, reason: &str) {
        let reason = reason.to_string();
        let _ = self
            .daemon
            .call(
                |port| DaemonMsg::Stop {
                    reason,
                    done: Some(port),
                },
                Some(Duration::from_secs(3600)),
            )
            .await;
        let _ = self.join.await;
    }

    /// Wait until the daemon stops by itself (a final action stopped it).
    pub async fn wait(self) {
        let _ = self.join.await;
    }

    /// Whether the root actor has stopped.
    pub fn is_finished(&self) -> bool {
        self.join.is_finished()
    }
}
