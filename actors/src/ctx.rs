//! What every actor of one daemon shares: the host, the event feed, the status board, the
//! configuration and the naming scheme of the tree.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::SystemTime;

use ractor::ActorRef;
use tokio::time::Instant;
use upkeep_config::Config;

use crate::board::Board;
use crate::chaos::CrashPlan;
use crate::event::{EventKind, Events};
use crate::governor::PowerDoor;
use crate::host::EngineHost;
use crate::userspace::WatchdogDoor;

/// Shared handles; cheap to clone.
#[derive(Clone)]
pub struct Ctx {
    /// Everything of the host but the power and the watchdog.
    pub host: Arc<dyn EngineHost>,
    /// The machine's power: only the RebootGovernor can open this door.
    pub power: PowerDoor,
    /// The hardware watchdog: only the user-space monitor can open this door.
    pub watchdogs: WatchdogDoor,
    pub events: Events,
    pub board: Arc<Board>,
    /// The configuration this actor was started with.
    pub config: Arc<Config>,
    /// The configuration in force now (a hot apply replaces it without restarting everyone).
    pub live: Arc<RwLock<Arc<Config>>>,
    pub names: Names,
    pub journal: Journal,
    /// Crash injection for supervision tests; disarmed in production (`chaos.rs`).
    pub chaos: CrashPlan,
}

/// What supervisors record about their children's crashes, for `upkeep tree`: ractor keeps no
/// restart counts or last failures itself (RACTOR-NOTES §3).
#[derive(Clone, Default)]
pub struct Journal(Arc<Mutex<HashMap<String, CrashRecord>>>);

/// Crashes of one actor path.
#[derive(Debug, Clone, Default)]
pub struct CrashRecord {
    pub crashes: VecDeque<Instant>,
    pub last_failure: Option<(String, SystemTime)>,
}

impl Journal {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, CrashRecord>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Record a crash of the actor registered as `name`.
    pub fn crashed(&self, name: &str, reason: &str, at: SystemTime) {
        let mut map = self.lock();
        let record = map.entry(name.to_string()).or_default();
        record.crashes.push_back(Instant::now());
        if record.crashes.len() > 64 {
            record.crashes.pop_front();
        }
        record.last_failure = Some((reason.to_string(), at));
    }

    pub fn get(&self, name: &str) -> Option<CrashRecord> {
        self.lock().get(name).cloned()
    }
}

impl Ctx {
    pub fn emit(&self, kind: EventKind) {
        self.events.publish(kind);
    }

    /// The one way actors find each other by name. A miss (the actor is down, restarting, or
    /// of another type) is reported with who looked for it, never silently dropped.
    pub fn find<M: ractor::Message>(&self, name: &str, wanted_by: &str) -> Option<ActorRef<M>> {
        let found = ActorRef::<M>::where_is(name);
        if found.is_none() {
            tracing::warn!(
                actor = self.names.display(name),
                wanted_by,
                "actor not running; message not sent"
            );
        }
        found
    }

    /// The start-failure injection a supervised actor checks first thing in `pre_start`.
    pub fn chaos_start(&self, me: &ractor::ActorCell) -> Result<(), ractor::ActorProcessingErr> {
        self.chaos.check_start(me.get_name()).map_err(Into::into)
    }

    /// The crash-injection check every actor makes first thing in `handle` (`chaos.rs`).
    pub fn chaos_check(&self, me: &ractor::ActorCell) {
        self.chaos.check(me.get_name());
    }
}

/// Registered actor names: `<instance>/rc/<group>/<resource>`. ractor's registry is one per
/// process, so the instance prefix keeps parallel daemons (tests) apart; `upkeep tree` strips it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    instance: String,
}

impl Names {
    pub fn new(instance: impl Into<String>) -> Self {
        Names {
            instance: instance.into(),
        }
    }
    pub fn instance(&self) -> &str {
        &self.instance
    }
    pub fn daemon(&self) -> String {
        self.instance.clone()
    }
    pub fn governor(&self) -> String {
        format!("{}/governor", self.instance)
    }
    pub fn rc(&self) -> String {
        format!("{}/rc", self.instance)
    }
    pub fn rm(&self) -> String {
        format!("{}/rm", self.instance)
    }
    pub fn group(&self, group: &str) -> String {
        format!("{}/rc/{group}", self.instance)
    }
    pub fn resource(&self, group: &str, resource: &str) -> String {
        format!("{}/rc/{group}/{resource}", self.instance)
    }
    pub fn monitor(&self, monitor: &str) -> String {
        format!("{}/rm/{monitor}", self.instance)
    }
    /// The user-space monitor is the daemon's own child, not rm's (it guards the whole tree).
    pub fn userspace(&self, monitor: &str) -> String {
        format!("{}/userspace/{monitor}", self.instance)
    }
    /// The tree path shown to users: the name without the instance prefix.
    pub fn display<'a>(&self, name: &'a str) -> &'a str {
        name.strip_prefix(&self.instance)
            .map(|rest| rest.trim_start_matches('/'))
            .filter(|rest| !rest.is_empty())
            .unwrap_or(name)
    }
}
