//! Exec resource processes (MAP-8, RES-11): start a command directly in its own process group,
//! learn of its exit without polling, stop the whole group, run a script to completion within a
//! timeout.
//!
//! # Choices
//!
//! * No shell: `program` is executed with `args`; a script needs its `#!` line. The environment is
//!   clean (PATH, LANG) or, with `inherit_env`, the daemon's minus the service manager's
//!   NOTIFY_SOCKET / WATCHDOG_* / LISTEN_*; then `Command.env`, then the `ScriptRun.env` UPKEEP_*
//!   variables (later wins). User, groups, working directory and umask come from the resource's
//!   `ExecContext` (issue 9 §2); names are resolved at each start, in the parent.
//! * stdin is /dev/null; stdout and stderr are pipes that `output` drains into the daemon's log
//!   under the resource's name, rate-limited (issue 9 §2): a resource's lines are attributable,
//!   and a looping program cannot flood the disk.
//! * Every command is the leader of a new process group, and "the process" of a resource is that
//!   group: stopping it signals the group, not just the leader.
//! * No fork: `launch` starts each child with `clone(CLONE_VM | CLONE_VFORK)` (`host::vfork`),
//!   so a start does not copy the daemon's page tables, and joins its cgroup as it is created
//!   (`CLONE_INTO_CGROUP`) instead of migrating it afterwards, which waited ~10 ms for an RCU
//!   grace period after any quiet while (issue 14, `cargo bench --bench spawn`).
//! * Exit notification is event driven: one reaper thread for all long-lived children waits on
//!   a pidfd per child (`exits`), reaps the one that exited and publishes its exit on a `watch`
//!   channel that every `wait()` clones; no task per child (issue 14). Scripts are reaped by the
//!   same reaper; `run_script` awaits the exit it publishes.
//! * Group ids are only signalled while the leader is not yet reaped, or in the same breath as
//!   reaping it. Once a leader is reaped and its group empty, the kernel may hand the same number
//!   to an unrelated process; a late `killpg` could then hit it. So when an async leader exits, the
//!   reaper SIGKILLs whatever is left of the group at once and then marks the group released:
//!   `terminate` and `Drop` never signal a released group. (A live member pins the number: the
//!   kernel does not reuse a pid that is still some group's id.)
//! * After a script exits normally, its leftover group members are killed when it was a stop
//!   script (`UPKEEP_EVENT=stop`) and left alone otherwise: a sync start script that starts a
//!   daemon is legitimate, even when the daemon does not `setsid` away from the group. On a
//!   timeout the whole group is always killed.
//! * With cgroup containment (`cgroup`, the daemon's default where cgroup2 is writable), "the
//!   group" above is the child's cgroup instead: the child is created in it, and
//!   every signal of this module goes to each process of the cgroup (SIGKILL via `cgroup.kill`),
//!   so `setsid` and double-forked descendants are reached too. The process group stays (a
//!   terminal's signals still miss the resources). Whatever a resource's scripts left running is
//!   stopped by [`release`] once the resource is stopped.

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::{getgrouplist, getpgrp, Group as UnixGroup, Pid, User};
use tokio::sync::watch;
use upkeep_actors::host::{
    BoxFuture, ExitInfo, ExitNotify, HostError, ProcessHandle, ScriptOutcome, ScriptRun,
};

use upkeep_config::ExecContext;

use super::cgroup::{self, Tree};
use super::pgroups::Record;
use super::reaper;

mod exits;
mod launch;
mod output;

/// The exit reported when the real status cannot be known: the child was reaped by someone else
/// (ECHILD), or the reaper could not publish it (a runtime already shut down).
/// Exit codes are 0..=255, so -1 never collides with a real one.
pub const LOST_EXIT: ExitInfo = ExitInfo::Code(-1);

/// The MAP-8 variable naming the event a script runs for; `stop` makes a normal exit also kill
/// the script's leftover process group.
pub const EVENT_VAR: &str = "UPKEEP_EVENT";

/// The process group a spawned command leads (its id is the leader's pid).
#[derive(Debug, Clone, Copy)]
struct Group {
    pgid: Pid,
}

impl Group {
    /// Refuses ids that would make `killpg` mean something else: 0 (our own group), 1 (init's),
    /// anything not positive, and the daemon's own group.
    fn of_leader(pid: u32) -> Option<Group> {
        let raw = i32::try_from(pid).ok()?;
        if raw <= 1 || raw == getpgrp().as_raw() {
            return None;
        }
        Some(Group {
            pgid: Pid::from_raw(raw),
        })
    }

    fn signal(self, sig: Signal) {
        match killpg(self.pgid, sig) {
            // ESRCH: the group is already empty.
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => {
                tracing::warn!(pgid = self.pgid.as_raw(), signal = %sig, error = %e, "killpg failed")
            }
        }
    }
}

/// Every process that belongs to a child: its process group, or its cgroup when contained.
#[derive(Debug, Clone)]
enum Members {
    Group(Group),
    Cgroup(PathBuf),
}

impl Members {
    fn signal(&self, sig: Signal) {
        match self {
            Members::Group(group) => group.signal(sig),
            Members::Cgroup(dir) if sig == Signal::SIGKILL => {
                if let Err(e) = cgroup::kill_all(dir) {
                    tracing::warn!(cgroup = %dir.display(), error = %e, "cgroup.kill failed");
                }
            }
            Members::Cgroup(dir) => cgroup::signal_all(dir, sig),
        }
    }

    /// After the leader is gone: waits (bounded) until no member is alive, the proof of issue
    /// 9 §2. A process group has no such proof; its members were SIGKILLed.
    async fn settle(&self) {
        if let Members::Cgroup(dir) = self {
            if !cgroup::wait_empty(dir, cgroup::KILL_WAIT).await {
                tracing::error!(cgroup = %dir.display(), "processes survive cgroup.kill");
            }
        }
    }
}

/// SIGKILLs the group when a future running a script is dropped before the leader was reaped
/// (the caller gave up, or the actor died).
struct KillGroupOnDrop {
    group: Members,
    armed: bool,
}

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.group.signal(Signal::SIGKILL);
        }
    }
}

/// The clean PATH of a child without `inherit_env` (issue 9 §2): the usual system folders.
pub const CLEAN_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Variables addressed to the daemon by its service manager: a child that saw them could ping
/// the daemon's watchdog or claim its sockets in its name, so they never pass, even inherited.
fn is_daemon_only(key: &OsStr) -> bool {
    let key = key.as_bytes();
    key == b"NOTIFY_SOCKET" || key.starts_with(b"WATCHDOG_") || key.starts_with(b"LISTEN_")
}

/// Who a child runs as, looked up in the parent before the fork (the child may not allocate).
#[derive(Debug, Default)]
struct Identity {
    uid: Option<libc::uid_t>,
    gid: Option<libc::gid_t>,
    /// Supplementary groups; `Some` replaces the daemon's (root's) own.
    groups: Option<Vec<libc::gid_t>>,
    /// HOME, USER, LOGNAME of the user, as login would set them.
    env: Vec<(String, String)>,
}

/// Resolved when a script starts, not when the config is read: a user created later is found,
/// and a missing one fails that start with a reason the status shows (issue 9 §2).
fn identity(ctx: &ExecContext) -> Result<Identity, String> {
    let mut id = Identity::default();
    if let Some(name) = &ctx.user {
        let user = User::from_name(name)
            .map_err(|e| format!("cannot look up user {name}: {e}"))?
            .ok_or_else(|| format!("unknown user {name}"))?;
        id.uid = Some(user.uid.as_raw());
        id.gid = Some(user.gid.as_raw());
        let cname = CString::new(name.as_bytes()).map_err(|_| format!("unknown user {name}"))?;
        let groups = getgrouplist(&cname, user.gid)
            .map_err(|e| format!("cannot list the groups of user {name}: {e}"))?;
        id.groups = Some(groups.into_iter().map(|g| g.as_raw()).collect());
        id.env = vec![
            ("HOME".into(), user.dir.to_string_lossy().into_owned()),
            ("USER".into(), name.clone()),
            ("LOGNAME".into(), name.clone()),
        ];
    }
    if let Some(name) = &ctx.group {
        let group = UnixGroup::from_name(name)
            .map_err(|e| format!("cannot look up group {name}: {e}"))?
            .ok_or_else(|| format!("unknown group {name}"))?;
        let gid = group.gid.as_raw();
        id.gid = Some(gid);
        // The named group joins the user's list; without a user it is the only one.
        let groups = id.groups.get_or_insert_with(Vec::new);
        if !groups.contains(&gid) {
            groups.push(gid);
        }
    }
    // Only root may set supplementary groups; an unprivileged daemon keeps its own, and
    // setgid/setuid then succeed for its own ids only (anything else fails the start).
    if !nix::unistd::geteuid().is_root() {
        id.groups = None;
    }
    Ok(id)
}

/// The child's whole environment (issue 9 §2, MAP-8): clean by default, the daemon's with
/// `inherit_env`; then the user's HOME/USER/LOGNAME, the configured `env`, the UPKEEP_* ones
/// (later wins).
fn environment(run: &ScriptRun, id: &Identity) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = if run.context.inherit_env {
        std::env::vars_os()
            .filter(|(k, _)| !is_daemon_only(k))
            .collect()
    } else {
        let lang = std::env::var_os("LANG")
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| "C.UTF-8".into());
        vec![("PATH".into(), CLEAN_PATH.into()), ("LANG".into(), lang)]
    };
    let extra = id
        .env
        .iter()
        .map(|(k, v)| (k, v))
        .chain(&run.command.env)
        .chain(run.env.iter().map(|(k, v)| (k, v)));
    for (k, v) in extra {
        if is_daemon_only(OsStr::new(k)) {
            continue;
        }
        env.retain(|(old, _)| old.as_os_str() != OsStr::new(k));
        env.push((k.into(), v.into()));
    }
    env
}

fn env_of<'a>(run: &'a ScriptRun, key: &str) -> Option<&'a str> {
    run.env
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The cgroup a run joins: `<group>/<resource>/<sub>` of the tree, when there is a tree and the
/// run names its resource (MAP-8 variables).
fn cell(tree: Option<&Tree>, run: &ScriptRun, sub: &str) -> Result<Option<cgroup::Cell>, String> {
    let Some(tree) = tree else {
        return Ok(None);
    };
    let (Some(group), Some(resource)) =
        (env_of(run, "UPKEEP_GROUP"), env_of(run, "UPKEEP_RESOURCE"))
    else {
        return Ok(None);
    };
    tree.prepare(group, resource, sub)
        .map(Some)
        .map_err(|e| format!("cannot create the cgroup of {group}/{resource}: {e}"))
}

/// The sub-cgroup of a script: its event (`start`, `stop`), else `script`.
fn script_sub(run: &ScriptRun) -> String {
    env_of(run, EVENT_VAR)
        .map(str::to_ascii_lowercase)
        .filter(|e| !e.is_empty() && e.chars().all(|c| c.is_ascii_lowercase()))
        .unwrap_or_else(|| "script".into())
}

/// A started child, its group and its registry entry.
struct Started<C> {
    child: C,
    pid: u32,
    group: Members,
    tracked: reaper::Tracked,
}

/// The command of `run`, ready to spawn, and the cgroup it joins.
/// Start `run`'s child, in `cell` when given (`launch`: no fork, the cgroup joined as the child
/// is created, issue 14), with its output captured under the resource's name. Only the one
/// reaper (`exits`) may reap it: `members` tracks it for the orphan reaper until then.
fn start_child(run: &ScriptRun, cell: Option<cgroup::Cell>) -> Result<Started<()>, String> {
    // Checked here: a failed chdir in the child would read as the program not being found.
    let dir = &run.context.working_dir;
    if !dir.is_dir() {
        return Err(format!(
            "working directory {} does not exist",
            dir.display()
        ));
    }
    let id = identity(&run.context)?;
    let launched = launch::launch(run, &id, cell.as_ref())?;
    let pid = launched.pid;
    output::capture(run, Some(Ok(launched.stdout)), Some(Ok(launched.stderr)));
    match members(run, pid, cell) {
        Ok((group, tracked)) => Ok(Started {
            child: (),
            pid,
            group,
            tracked,
        }),
        Err(why) => {
            let raw = nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX));
            let _ = nix::sys::signal::kill(raw, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(raw, None);
            Err(why)
        }
    }
}

/// The group of a freshly spawned child with pid `pid`, and its registry entry.
fn members(
    run: &ScriptRun,
    pid: u32,
    cell: Option<cgroup::Cell>,
) -> Result<(Members, reaper::Tracked), String> {
    let program = run.command.program.display();
    let tracked = reaper::track(pid);
    // Unreachable for a freshly spawned child; the caller kills it.
    let group =
        Group::of_leader(pid).ok_or_else(|| format!("{program}: unusable process group {pid}"))?;
    // The child has joined (or failed to, and spawn failed): the parent's fd has done its work.
    let group = match cell.map(|cell| cell.dir) {
        Some(dir) => Members::Cgroup(dir),
        None => Members::Group(group),
    };
    Ok((group, tracked))
}

fn is_stop_event(run: &ScriptRun) -> bool {
    env_of(run, EVENT_VAR)
        .is_some_and(|v| v.eq_ignore_ascii_case("stop") || v.eq_ignore_ascii_case("deactivate"))
}

/// Runs `run` to completion (sync start script, stop script). MAP-8.
pub(crate) async fn run_script(
    run: ScriptRun,
    tree: Option<std::sync::Arc<Tree>>,
) -> ScriptOutcome {
    let started =
        cell(tree.as_deref(), &run, &script_sub(&run)).and_then(|cell| start_child(&run, cell));
    let Started {
        child: (),
        pid,
        group,
        tracked,
    } = match started {
        Ok(started) => started,
        Err(why) => return ScriptOutcome::SpawnFailed(why),
    };
    // Until the script is reaped, dropping this future (its resource actor was killed) kills
    // the script's whole group.
    let mut guard = KillGroupOnDrop {
        group: group.clone(),
        armed: true,
    };
    let (tx, rx) = watch::channel(None);
    let on_exit: exits::OnExit = Box::new(move |exit| {
        tx.send_replace(Some(exit));
    });
    if let Err(why) = exits::watch(pid, tracked, on_exit) {
        // Nobody could learn of its exit: it must not run (the guard kills it).
        return ScriptOutcome::SpawnFailed(why);
    }

    let finished = tokio::select! {
        biased;
        exit = exit_of(rx.clone()) => Some(exit),
        () = tokio::time::sleep(run.timeout) => None,
    };
    if let Some(exit) = finished {
        guard.armed = false;
        if is_stop_event(&run) {
            group.signal(Signal::SIGKILL);
        }
        return ScriptOutcome::Exited(exit);
    }

    tracing::warn!(pid, program = %run.command.program.display(), timeout = ?run.timeout,
        "script timed out; stopping its process group");
    group.signal(Signal::SIGTERM);
    if tokio::time::timeout(run.kill_grace, exit_of(rx.clone()))
        .await
        .is_err()
    {
        group.signal(Signal::SIGKILL);
        exit_of(rx).await;
    }
    guard.armed = false;
    // Members that survived the SIGTERM while the leader obeyed it.
    group.signal(Signal::SIGKILL);
    ScriptOutcome::TimedOut
}

/// Starts `run` as a long-lived process (async start script, RES-11).
///
/// Without a cgroup, `record` (when given) keeps the group's id and start time in the state
/// folder until the group is released, for the next daemon should this one crash (`pgroups`).
pub(crate) fn spawn(
    run: &ScriptRun,
    tree: Option<&Tree>,
    record: Option<&Arc<Record>>,
) -> Result<Box<dyn ProcessHandle>, HostError> {
    let spawn_error = |reason: String| HostError::Spawn {
        program: run.command.program.display().to_string(),
        reason,
    };
    // Spawning and reaping need the runtime's drivers; without one tokio would panic.
    let runtime = tokio::runtime::Handle::try_current().map_err(|e| spawn_error(e.to_string()))?;
    let Started {
        child: (),
        pid,
        group,
        tracked,
    } = {
        let _enter = runtime.enter();
        let cell = cell(tree, run, cgroup::MAIN).map_err(spawn_error)?;
        start_child(run, cell).map_err(spawn_error)?
    };
    let record = match (&group, record) {
        (Members::Group(g), Some(record)) => {
            record.add(g.pgid.as_raw());
            Some(Arc::clone(record))
        }
        _ => None,
    };
    let shared = Arc::new(Shared {
        group,
        released: AtomicBool::new(false),
        listeners: Mutex::new(Listeners::Waiting(Vec::new())),
    });
    let (tx, rx) = watch::channel(None);
    let reaped = Arc::clone(&shared);
    // Runs on the reaper thread right after the leader is reaped.
    let on_exit: exits::OnExit = Box::new(move |exit| {
        // The group lives and dies with its leader. Kill the stragglers now, while the id is
        // certainly still theirs, and before anyone hears of the exit and restarts the resource.
        reaped.group.signal(Signal::SIGKILL);
        reaped.released.store(true, Ordering::Release);
        let told = Arc::clone(&reaped);
        let publish = move || {
            if let Some(record) = record {
                record.remove(i32::try_from(pid).unwrap_or(i32::MAX));
            }
            tx.send_replace(Some(exit));
            told.exited(exit);
        };
        match &reaped.group {
            // Restarting before the stragglers are gone would let two copies meet (issue 9
            // §2): the cgroup is waited for on the runtime, not on the reaper thread. (A runtime
            // already shut down drops the task: `wait` then reports LOST_EXIT.)
            Members::Cgroup(_) => {
                runtime.spawn(async move {
                    reaped.group.settle().await;
                    publish();
                });
            }
            Members::Group(_) => publish(),
        }
    });
    if let Err(why) = exits::watch(pid, tracked, on_exit) {
        // Nobody could learn of its exit: it must not run.
        shared.group.signal(Signal::SIGKILL);
        return Err(spawn_error(why));
    }
    Ok(Box::new(LinuxProcess {
        pid,
        shared,
        exit: rx,
    }))
}

struct Shared {
    group: Members,
    /// Set once the leader is reaped and the group swept: the id is no longer ours to signal.
    released: AtomicBool,
    /// Who is to hear of the exit (`on_exit`), or the exit once published.
    listeners: Mutex<Listeners>,
}

enum Listeners {
    Waiting(Vec<ExitNotify>),
    Exited(ExitInfo),
}

impl Shared {
    /// The exit is published: tell every listener, and any later one at once.
    fn exited(&self, exit: ExitInfo) {
        let before = std::mem::replace(
            &mut *self
                .listeners
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
            Listeners::Exited(exit),
        );
        if let Listeners::Waiting(waiting) = before {
            for notify in waiting {
                notify(exit);
            }
        }
    }

    fn on_exit(&self, notify: ExitNotify) {
        let mut listeners = self
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match &mut *listeners {
            Listeners::Waiting(waiting) => waiting.push(notify),
            Listeners::Exited(exit) => {
                let exit = *exit;
                drop(listeners);
                notify(exit);
            }
        }
    }

    fn signal(&self, sig: Signal) {
        if !self.released.load(Ordering::Acquire) {
            self.group.signal(sig);
        }
    }
}

/// Stops whatever is left of a stopped resource (its scripts' children) and removes its cgroup:
/// SIGTERM to each, `cgroup.kill` after `grace`, `populated 0` (issue 9 §2). Without a tree (or
/// for names that are no cgroup) there is nothing to find: process groups have no record.
pub(crate) async fn release(
    tree: Option<std::sync::Arc<Tree>>,
    group: String,
    resource: String,
    grace: Duration,
) {
    let Some(dir) = tree.as_deref().and_then(|t| t.resource(&group, &resource)) else {
        return;
    };
    if !dir.exists() {
        return;
    }
    let left = cgroup::procs(&dir);
    if !left.is_empty() {
        tracing::info!(group, resource, processes = ?left, "stopping what the resource's scripts left running");
    }
    if let Err(e) = cgroup::stop(&dir, grace).await {
        tracing::error!(group, resource, error = %e, "cannot stop the resource's leftover processes");
    }
    cgroup::remove(&dir);
    // The group's folder, once its last resource is gone.
    if let Some(parent) = dir.parent() {
        let _ = std::fs::remove_dir(parent);
    }
}

/// The handle of an async exec resource's process group.
struct LinuxProcess {
    pid: u32,
    shared: Arc<Shared>,
    exit: watch::Receiver<Option<ExitInfo>>,
}

async fn exit_of(mut rx: watch::Receiver<Option<ExitInfo>>) -> ExitInfo {
    match rx.wait_for(Option::is_some).await {
        Ok(exit) => (*exit).unwrap_or(LOST_EXIT),
        // The cgroup's settle task was dropped with its runtime (the leader is reaped).
        Err(_) => LOST_EXIT,
    }
}

impl ProcessHandle for LinuxProcess {
    fn pid(&self) -> u32 {
        self.pid
    }

    fn wait(&self) -> BoxFuture<'static, ExitInfo> {
        Box::pin(exit_of(self.exit.clone()))
    }

    fn on_exit(&self, notify: ExitNotify) {
        self.shared.on_exit(notify);
    }

    fn kill(&self) -> Result<(), HostError> {
        let gone = |reason: String| HostError::Process {
            pid: self.pid,
            reason,
        };
        // A released group id may already be someone else's: never signal it.
        if self.shared.released.load(Ordering::Acquire) {
            return Err(gone("already exited".into()));
        }
        match &self.shared.group {
            Members::Group(group) => match killpg(group.pgid, Signal::SIGKILL) {
                Ok(()) => Ok(()),
                Err(Errno::ESRCH) => Err(gone("already exited".into())),
                Err(e) => Err(gone(format!("SIGKILL failed: {e}"))),
            },
            Members::Cgroup(dir) => {
                cgroup::kill_all(dir).map_err(|e| gone(format!("cgroup.kill failed: {e}")))
            }
        }
    }

    fn terminate(&self, grace: Duration) -> BoxFuture<'static, ExitInfo> {
        let shared = Arc::clone(&self.shared);
        let rx = self.exit.clone();
        Box::pin(async move {
            if let Some(exit) = *rx.borrow() {
                return exit;
            }
            shared.signal(Signal::SIGTERM);
            match tokio::time::timeout(grace, exit_of(rx.clone())).await {
                Ok(exit) => exit,
                Err(_) => {
                    shared.signal(Signal::SIGKILL);
                    exit_of(rx).await
                }
            }
            // Stragglers that outlived the leader were SIGKILLed by the reaper.
        })
    }
}

impl Drop for LinuxProcess {
    fn drop(&mut self) {
        // The owning actor may die without cleanup; the reaper thread still reaps the leader.
        self.shared.signal(Signal::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use upkeep_config::Command;

    fn run_with(env: &[(&str, &str)]) -> ScriptRun {
        ScriptRun {
            command: Command {
                program: "/bin/true".into(),
                args: vec![],
                env: BTreeMap::new(),
            },
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            timeout: Duration::from_secs(1),
            kill_grace: Duration::from_secs(1),
            context: Default::default(),
        }
    }

    #[test]
    fn only_stop_scripts_lose_their_leftovers() {
        assert!(is_stop_event(&run_with(&[("UPKEEP_EVENT", "stop")])));
        assert!(is_stop_event(&run_with(&[("UPKEEP_EVENT", "Deactivate")])));
        assert!(!is_stop_event(&run_with(&[("UPKEEP_EVENT", "start")])));
        assert!(!is_stop_event(&run_with(&[])));
        // The last assignment wins, as it does in the child's environment.
        assert!(!is_stop_event(&run_with(&[
            ("UPKEEP_EVENT", "stop"),
            ("UPKEEP_EVENT", "start")
        ])));
    }

    #[test]
    fn groups_that_mean_something_else_are_refused() {
        assert!(Group::of_leader(0).is_none());
        assert!(Group::of_leader(1).is_none());
        assert!(Group::of_leader(u32::MAX).is_none());
        let own = u32::try_from(getpgrp().as_raw()).expect("positive");
        assert!(Group::of_leader(own).is_none());
    }
}
