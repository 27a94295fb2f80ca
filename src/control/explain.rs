//! `upkeep explain MONITOR|RESOURCE`: the whole escalation ladder of one object in plain words,
//! with where its counters stand now (MON-5, MON-11..13, RES-3..5, CFG-5..9, DOWN-7, DOWN-8;
//! PEERS §3 item 4: "one documented rule, printed by explain").

use upkeep_actors::board::Board;
use upkeep_config::{
    ActivationFinalAction, Config, DeactivationFinalAction, MonitorFinalAction, RecoveryTarget,
    Timing,
};

use super::proto::{ExplainReply, PROTOCOL_VERSION};
use super::snapshot;

/// The ladder of `name` (a monitor first, then an exec resource), or a "did you mean" message.
pub fn explain(config: &Config, board: &Board, name: &str) -> Result<ExplainReply, String> {
    let lines = if let Some(m) = config.monitor(name) {
        monitor(config, board, m)
    } else if let Some(r) = config.resource(name) {
        resource(config, board, r)
    } else {
        let known: Vec<&str> = config
            .monitors
            .iter()
            .map(|m| m.name.as_str())
            .chain(
                config
                    .groups
                    .iter()
                    .flat_map(|g| g.resources.iter().map(|r| r.name.as_str())),
            )
            .collect();
        let hint = super::ops::did_you_mean(name, known.iter().copied())
            .map(|b| format!("; did you mean `{b}`?"))
            .unwrap_or_default();
        return Err(format!("no monitor or resource is called `{name}`{hint}"));
    };
    let kind = if config.monitor(name).is_some() {
        "monitor"
    } else {
        "resource"
    };
    Ok(ExplainReply {
        version: PROTOCOL_VERSION,
        kind: kind.into(),
        name: name.into(),
        lines,
    })
}

fn monitor(config: &Config, board: &Board, m: &upkeep_config::Monitor) -> Vec<String> {
    let mut out = Vec::new();
    let kind = snapshot_kind(m);
    out.push(format!(
        "monitor `{}` ({kind}) checks every {}, each check may take {}{}",
        m.name,
        humantime::format_duration(m.interval),
        humantime::format_duration(m.timeout),
        match &m.timing {
            Timing::Always => String::new(),
            Timing::WhenActive { resource } =>
                format!(", only while resource `{resource}` is active"),
        }
    ));
    let target = match &m.recovery.target {
        RecoveryTarget::Sss => "the whole server".to_string(),
        RecoveryTarget::Group(g) => format!("group `{g}`"),
        RecoveryTarget::Resource(r) => format!("resource `{r}`"),
    };
    out.push(format!(
        "1. error: {} abnormal check{} in a row ({} retr{} after the first) declare an error",
        m.retries + 1,
        if m.retries == 0 { "" } else { "s" },
        m.retries,
        if m.retries == 1 { "y" } else { "ies" }
    ));
    if m.recovery.reactivation_threshold > 0 {
        out.push(format!(
            "2. reactivation: {target} is restarted, up to {} time{}; the count resets once the monitor is normal again",
            m.recovery.reactivation_threshold,
            if m.recovery.reactivation_threshold == 1 { "" } else { "s" }
        ));
    } else {
        out.push(format!("2. reactivation: none (threshold 0) for {target}"));
    }
    out.push(format!(
        "3. final action: {}",
        monitor_action(m.recovery.final_action)
    ));
    out.push(governor_line(
        config,
        board,
        counted_monitor(m.recovery.final_action),
    ));
    match board.monitor(&m.name) {
        Some(s) => {
            out.push(format!(
                "now: {} since {}; {} of {} abnormal checks; {} of {} reactivations used{}",
                phase(s.phase),
                snapshot::time(s.since),
                s.failures,
                s.needed,
                s.reactivations,
                s.reactivation_threshold,
                s.last_verdict
                    .map(|v| format!("; last check {v:?}").to_lowercase())
                    .unwrap_or_default()
            ));
            if !s.last_detail.is_empty() {
                out.push(format!("last detail: {}", s.last_detail));
            }
        }
        None => out.push("now: not running (the daemon is stopped)".into()),
    }
    out.push(
        "while monitoring is suspended (`upkeep suspend`, `upkeep monitor suspend`) this monitor takes no action"
            .into(),
    );
    out
}

fn resource(config: &Config, board: &Board, r: &upkeep_config::ExecResource) -> Vec<String> {
    let mut out = Vec::new();
    let group = config
        .group_of(&r.name)
        .map_or_else(|| "?".to_string(), |g| g.name.clone());
    out.push(format!(
        "resource `{}` of group `{group}` runs `{}` ({:?}), start timeout {}",
        r.name,
        r.start.program.display(),
        r.mode,
        humantime::format_duration(r.start_timeout)
    ));
    out.push(format!(
        "1. activation: a failed start is retried {} time{}, then the final action: {}",
        r.activation.retries,
        if r.activation.retries == 1 { "" } else { "s" },
        activation_action(r.activation.final_action)
    ));
    out.push(format!(
        "2. deactivation: a failed stop is retried {} time{}, then the final action: {}",
        r.deactivation.retries,
        if r.deactivation.retries == 1 { "" } else { "s" },
        deactivation_action(r.deactivation.final_action)
    ));
    let watchers: Vec<String> = config
        .monitors
        .iter()
        .filter(|m| {
            m.pid_target() == Some(r.name.as_str())
                || matches!(&m.recovery.target, RecoveryTarget::Resource(t) if *t == r.name)
                || matches!(&m.recovery.target, RecoveryTarget::Group(g) if *g == group)
        })
        .map(|m| format!("`{}`", m.name))
        .collect();
    if watchers.is_empty() {
        out.push("3. monitors: none recovers this resource".into());
    } else {
        out.push(format!(
            "3. monitors that recover it: {} (see `upkeep explain` of each)",
            watchers.join(", ")
        ));
    }
    let counted = matches!(
        r.activation.final_action,
        ActivationFinalAction::StopDaemonShutdown | ActivationFinalAction::StopDaemonReboot
    ) || matches!(
        r.deactivation.final_action,
        DeactivationFinalAction::StopDaemonShutdown | DeactivationFinalAction::StopDaemonReboot
    );
    out.push(governor_line(config, board, counted));
    match board.resource(&r.name) {
        Some(s) => out.push(format!(
            "now: {} since {}{}{}",
            format!("{:?}", s.state).to_lowercase(),
            snapshot::time(s.since),
            s.pid.map(|p| format!(", pid {p}")).unwrap_or_default(),
            s.last_exit
                .map(|e| format!(", last exit {e}"))
                .unwrap_or_default()
        )),
        None => out.push("now: not running (the daemon is stopped)".into()),
    }
    out
}

fn governor_line(config: &Config, board: &Board, counted: bool) -> String {
    let g = board.governor.borrow().clone();
    let left = g.max.saturating_sub(g.count);
    let reset = humantime::format_duration(config.reboot_limit.reset_after);
    if !counted {
        return format!(
            "reboot governor: not involved (this final action neither shuts down nor reboots); {} of {} reboots used",
            g.count, g.max
        );
    }
    if g.damaged {
        return "reboot governor: its state file is damaged, so the limit counts as reached: the OS action will NOT be executed".into();
    }
    if left == 0 {
        format!(
            "reboot governor: limit reached ({} of {}): the OS action will NOT be executed; the count resets after {reset} without an error",
            g.count, g.max
        )
    } else {
        format!(
            "reboot governor: {left} of {} shutdowns/reboots left ({} used; the count resets after {reset} without an error)",
            g.max, g.count
        )
    }
}

fn counted_monitor(a: MonitorFinalAction) -> bool {
    matches!(
        a,
        MonitorFinalAction::StopDaemonShutdown | MonitorFinalAction::StopDaemonReboot
    )
}

fn monitor_action(a: MonitorFinalAction) -> &'static str {
    match a {
        MonitorFinalAction::NoOp => "none (the error is only reported)",
        MonitorFinalAction::StopGroup => "stop the group",
        MonitorFinalAction::StopDaemon => "stop the daemon",
        MonitorFinalAction::StopDaemonShutdown => "stop the daemon and shut down the OS",
        MonitorFinalAction::StopDaemonReboot => "stop the daemon and reboot the OS",
    }
}

fn activation_action(a: ActivationFinalAction) -> &'static str {
    match a {
        ActivationFinalAction::NoOpActivateNext => "none, the next resource is started",
        ActivationFinalAction::NoOpStopChain => "none, the resources after it are not started",
        ActivationFinalAction::StopGroup => "stop the group",
        ActivationFinalAction::StopDaemon => "stop the daemon",
        ActivationFinalAction::StopDaemonShutdown => "stop the daemon and shut down the OS",
        ActivationFinalAction::StopDaemonReboot => "stop the daemon and reboot the OS",
    }
}

fn deactivation_action(a: DeactivationFinalAction) -> &'static str {
    match a {
        DeactivationFinalAction::NoOpDeactivateNext => "none, the next resource is stopped",
        DeactivationFinalAction::NoOpStopChain => "none, the resources before it stay up",
        DeactivationFinalAction::StopDaemonShutdown => "stop the daemon and shut down the OS",
        DeactivationFinalAction::StopDaemonReboot => "stop the daemon and reboot the OS",
    }
}

fn phase(p: upkeep_actors::board::MonitorPhase) -> String {
    format!("{p:?}").to_lowercase()
}

fn snapshot_kind(m: &upkeep_config::Monitor) -> String {
    match &m.kind {
        upkeep_config::MonitorKind::Pid { resource } => format!("pid of resource `{resource}`"),
        other => {
            let debug = format!("{other:?}");
            debug
                .split(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap_or("monitor")
                .to_lowercase()
        }
    }
}
