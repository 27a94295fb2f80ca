//! What every actor of one daemon shares: the host, the event feed, the status board, the
//! configuration and the naming scheme of the tree.

use std::sync::Arc;

use upkeep_config::Config;

use crate::board::Board;
use crate::event::{EventKind, Events};
use crate::host::Host;

/// Shared handles; cheap to clone.
#[derive(Clone)]
pub struct Ctx {
    pub host: Arc<dyn Host>,
    pub events: Events,
    pub board: Arc<Board>,
    pub config: Arc<Config>,
    pub names: Names,
}

impl Ctx {
    pub fn emit(&self, kind: EventKind) {
        self.events.publish(kind);
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
    /// The tree path shown to users: the name without the instance prefix.
    pub fn display<'a>(&self, name: &'a str) -> &'a str {
        name.strip_prefix(&self.instance)
            .map(|rest| rest.trim_start_matches('/'))
            .filter(|rest| !rest.is_empty())
            .unwrap_or(name)
    }
}
