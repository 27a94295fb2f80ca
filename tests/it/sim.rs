//! Test harness for the engine on the simulated host, in virtual time: boot a config, drive
//! faults, read the ordered event lines a user would see (`<type: rc><event: 30> ...`).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;
use upkeep_actors::chaos::CrashPlan;
use upkeep_actors::event::Event;
use upkeep_actors::host::Host;
use upkeep_actors::sim::SimulatedHost;
use upkeep_actors::Engine;

static NEXT_INSTANCE: AtomicUsize = AtomicUsize::new(0);

/// One simulated daemon.
pub struct Sim {
    pub host: SimulatedHost,
    pub engine: Option<Engine>,
    rx: broadcast::Receiver<Event>,
    unread: Vec<String>,
    chaos: CrashPlan,
}

/// Parse a test config (it must be valid).
pub fn config(ron: &str) -> upkeep_config::Config {
    match upkeep_config::parse(ron, Path::new("/etc/upkeep/test.ron")) {
        Ok(c) => c,
        Err(e) => panic!("test config is invalid:\n{e}"),
    }
}

impl Sim {
    /// Boot `ron` on a fresh simulated host and let it settle.
    pub async fn boot(ron: &str) -> Sim {
        Sim::boot_on(ron, SimulatedHost::default()).await
    }

    /// Boot `ron` on `host` (share a host's disk to model a reboot).
    pub async fn boot_on(ron: &str, host: SimulatedHost) -> Sim {
        Sim::boot_with(ron, host.clone(), Arc::new(host)).await
    }

    /// Boot with a decorated host (e.g. `Faulty`), keeping `sim` for scripting and records.
    pub async fn boot_with(ron: &str, sim: SimulatedHost, host: Arc<dyn Host>) -> Sim {
        let instance = format!("sim{}", NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed));
        let chaos = sim.crash_plan();
        let started =
            Engine::start_with_crash_plan(Arc::new(config(ron)), host, &instance, chaos.clone())
                .await;
        let engine = match started {
            Ok(e) => e,
            Err(e) => panic!("engine did not start: {e}"),
        };
        let (past, rx) = engine.events().subscribe_since(0);
        let mut s = Sim {
            host: sim,
            engine: Some(engine),
            rx,
            unread: past.iter().map(Event::line).collect(),
            chaos,
        };
        s.run_for(Duration::from_millis(10)).await;
        s
    }

    /// Let virtual time pass (everything due in it runs).
    pub async fn run_for(&mut self, d: Duration) {
        tokio::time::sleep(d).await;
        // Let work queued at the very end of the period run too.
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        while let Ok(e) = self.rx.try_recv() {
            self.unread.push(e.line());
        }
    }

    /// Event lines since the last call, in order.
    pub fn take(&mut self) -> Vec<String> {
        std::mem::take(&mut self.unread)
    }

    pub fn engine(&self) -> &Engine {
        match &self.engine {
            Some(e) => e,
            None => panic!("the engine was already stopped"),
        }
    }

    /// Orderly stop (OPS-5); returns the events it produced.
    pub async fn stop(&mut self) -> Vec<String> {
        if let Some(engine) = self.engine.take() {
            engine.stop("test").await;
        }
        self.run_for(Duration::from_millis(1)).await;
        self.take()
    }

    /// Make the actor at tree path `path` (`rc/g1/app`, `governor`) panic in its next handler.
    pub fn panic_next(&self, path: &str) {
        let instance = self.engine().ctx.names.instance().to_string();
        self.chaos.panic_next(&format!("{instance}/{path}"));
    }

    /// Make the next start of the actor at tree path `path` fail (a restart that cannot spawn).
    pub fn fail_next_start(&self, path: &str) {
        let instance = self.engine().ctx.names.instance().to_string();
        self.chaos.fail_next_start(&format!("{instance}/{path}"));
    }

    /// Whether the daemon's root actor has stopped.
    pub fn daemon_stopped(&self) -> bool {
        self.engine.as_ref().is_none_or(|e| e.is_finished())
    }
}

/// `<type: rc><event: 30> The start processing of a resource app started.` for short.
#[macro_export]
macro_rules! ev {
    ($module:literal, $id:literal, $($text:tt)+) => {
        format!("<type: {}><event: {}> {}", $module, $id, format!($($text)+))
    };
}
