//! The catalogue against the engine: every event has an entry with its level and value names,
//! and the default template gives exactly the engine's text (MSG-6 bodies stay the seed's).

use std::time::{Duration, UNIX_EPOCH};

use upkeep_actors::event::{EventKind, FinalAction, Phase, Refusal};
use upkeep_actors::host::{ExitInfo, OsAction as Os};
use upkeep_config::{ActivationFinalAction, MonitorFinalAction as MFA};

use super::catalogue::{lookup, render, Lvl, CATALOGUE};
use super::messages::{parse_file, Messages};

/// One example of every variant (and every text shape). The match in `covered` has no wildcard,
/// so a new variant fails to compile until it is listed here and in the catalogue.
fn examples() -> Vec<EventKind> {
    use EventKind::*;
    let s = |v: &str| v.to_string();
    let fa = FinalAction::Monitor(MFA::StopDaemonReboot);
    let mut all = vec![
        DaemonStarted,
        DaemonStopping {
            reason: s("signal"),
        },
        DaemonStopped,
        Suspended,
        Resumed,
        CoreRestarted {
            actor: s("rc"),
            reason: s("panic"),
        },
        CoreFailed {
            actor: s("rm"),
            reason: s("panic"),
        },
        FinalActionStarted {
            origin: s("monitor m"),
            action: fa,
        },
        FinalActionRefused {
            origin: s("monitor m"),
            action: fa,
            count: 2,
            max: 2,
            why: Refusal::Limit,
        },
        FinalActionRefused {
            origin: s("resource a"),
            action: fa,
            count: 0,
            max: 2,
            why: Refusal::Damaged {
                since: UNIX_EPOCH + Duration::from_secs(1_800_000_000),
                note: s("unknown header"),
            },
        },
        FinalActionRefused {
            origin: s("resource a"),
            action: fa,
            count: 0,
            max: 2,
            why: Refusal::NotWritten {
                reason: s("disk full"),
            },
        },
        OsAction {
            action: Os::Reboot,
            simulated: true,
            count: 1,
            max: 3,
        },
        OsAction {
            action: Os::Shutdown,
            simulated: false,
            count: 1,
            max: 3,
        },
        OsActionFailed {
            action: Os::Reboot,
            reason: s("no"),
        },
        RebootCountReset {
            previous: 2,
            damaged: false,
        },
        RebootCountReset {
            previous: 0,
            damaged: true,
        },
        RebootStateDamaged {
            reason: s("garbage"),
            kept_at: s("/x"),
        },
        RebootStateWriteFailed { reason: s("EIO") },
        ServerUp {
            server: s("server1"),
        },
        ManualDown { action: Os::Reboot },
        ConfigApplied { method: s("hot") },
    ];
    let g = "grp1";
    all.extend([
        GroupStartBegin { group: s(g) },
        GroupStartEnd { group: s(g) },
        GroupStartFailed { group: s(g) },
        GroupStopBegin { group: s(g) },
        GroupStopEnd { group: s(g) },
        GroupStopFailed { group: s(g) },
    ]);
    let r = || s("exec1");
    all.extend([
        ResourceStartBegin { resource: r() },
        ResourceStartEnd { resource: r() },
        ResourceStopBegin { resource: r() },
        ResourceStopEnd { resource: r() },
        ProcessExited {
            resource: r(),
            pid: 42,
            exit: ExitInfo::Signal(9),
        },
    ]);
    for phase in [Phase::Activation, Phase::Deactivation] {
        all.extend([
            ResourceFailed {
                resource: r(),
                phase,
                detail: s("exit 1"),
            },
            ResourceRetry {
                resource: r(),
                phase,
                attempt: 1,
                of: 2,
            },
            ResourceFinalAction {
                resource: r(),
                phase,
                action: FinalAction::Activation(ActivationFinalAction::StopGroup),
            },
            ResourceSkipped {
                resource: r(),
                phase,
                because: s("x"),
            },
        ]);
    }
    let m = || s("pidw");
    all.extend([
        MonitorStart { monitor: m() },
        MonitorStop { monitor: m() },
        MonitorCheckFailed {
            monitor: m(),
            failures: 1,
            needed: 2,
            detail: s("gone"),
        },
        MonitorWarning {
            monitor: m(),
            detail: s("slow"),
        },
        MonitorRecovered { monitor: m() },
        MonitorError {
            monitor: m(),
            detail: s("gone"),
        },
        RecoverySkipped {
            monitor: m(),
            target: r(),
        },
        Reactivation {
            monitor: m(),
            target: r(),
            attempt: 1,
            of: 3,
        },
        ReactivationFailed {
            monitor: m(),
            target: r(),
        },
        ReactivationDelayed {
            monitor: m(),
            target: r(),
            delay: Duration::from_secs(2),
            attempt: 1,
            of: 3,
        },
        StartLimitReached {
            monitor: m(),
            target: r(),
            burst: 5,
            window: Duration::from_millis(1500),
        },
        ReactivationCountReset { monitor: m() },
        MonitorFinalAction {
            monitor: m(),
            action: fa,
        },
        MonitorsSuspended,
        MonitorsResumed,
        ActorRestarted {
            actor: s("rm/pidw/probe"),
            reason: s("panic"),
        },
        ActorGaveUp {
            actor: s("rm/pidw"),
            reason: s("panic"),
        },
        ActorRestarted {
            actor: s("rc/g/a"),
            reason: s("panic"),
        },
        ActorGaveUp {
            actor: s("rc/g"),
            reason: s("panic"),
        },
        MonitorSuspended {
            monitor: m(),
            until: None,
        },
        MonitorSuspended {
            monitor: m(),
            until: Some(s("2027-01-01T00:00:00Z")),
        },
        MonitorResumed { monitor: m() },
        MonitorDelay {
            monitor: m(),
            timeout_s: 10,
            actual_ms: 9000,
            percent: 80,
        },
        MonitorHeld {
            monitor: m(),
            by: s("mtm"),
        },
    ]);
    for k in &all {
        covered(k);
    }
    all
}

fn covered(k: &EventKind) {
    use EventKind::*;
    match k {
        DaemonStarted
        | DaemonStopping { .. }
        | DaemonStopped
        | Suspended
        | Resumed
        | CoreRestarted { .. }
        | CoreFailed { .. }
        | FinalActionStarted { .. }
        | FinalActionRefused { .. }
        | OsAction { .. }
        | OsActionFailed { .. }
        | RebootCountReset { .. }
        | RebootStateDamaged { .. }
        | RebootStateWriteFailed { .. }
        | ServerUp { .. }
        | GroupStartBegin { .. }
        | GroupStartEnd { .. }
        | GroupStartFailed { .. }
        | GroupStopBegin { .. }
        | GroupStopEnd { .. }
        | GroupStopFailed { .. }
        | ResourceStartBegin { .. }
        | ResourceStartEnd { .. }
        | ResourceStopBegin { .. }
        | ResourceStopEnd { .. }
        | ResourceFailed { .. }
        | ResourceRetry { .. }
        | ResourceFinalAction { .. }
        | ResourceSkipped { .. }
        | ProcessExited { .. }
        | MonitorStart { .. }
        | MonitorStop { .. }
        | MonitorCheckFailed { .. }
        | MonitorWarning { .. }
        | MonitorRecovered { .. }
        | MonitorError { .. }
        | RecoverySkipped { .. }
        | Reactivation { .. }
        | ReactivationFailed { .. }
        | ReactivationDelayed { .. }
        | StartLimitReached { .. }
        | ReactivationCountReset { .. }
        | MonitorFinalAction { .. }
        | MonitorsSuspended
        | MonitorsResumed
        | ActorRestarted { .. }
        | ActorGaveUp { .. }
        | ManualDown { .. }
        | ConfigApplied { .. }
        | MonitorSuspended { .. }
        | MonitorResumed { .. }
        | MonitorDelay { .. }
        | MonitorHeld { .. } => {}
    }
}

#[test]
fn every_event_has_an_entry_whose_default_text_is_the_engines() {
    for kind in examples() {
        let module = kind.module().as_str();
        let entry = lookup(module, kind.id())
            .unwrap_or_else(|| panic!("{module} {} ({kind:?}) is not in the catalogue", kind.id()));
        assert_eq!(entry.level, Lvl::of(kind.level()), "level of {kind:?}");
        let names: Vec<&str> = kind.fields().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, entry.fields, "value names of {kind:?}");
        assert_eq!(render(entry.template, &kind.fields()), kind.to_string());
    }
}

#[test]
fn every_entry_is_emitted_by_some_event() {
    let examples = examples();
    for e in CATALOGUE {
        assert!(
            examples
                .iter()
                .any(|k| k.module().as_str() == e.module && k.id() == e.id),
            "{} {} is in the catalogue but no event has it",
            e.module,
            e.id
        );
    }
}

#[test]
fn the_default_files_read_back_as_the_built_in_messages() {
    let built_in = Messages::built_in();
    for module in super::catalogue::MODULES {
        let text = Messages::default_file(module);
        let parsed = parse_file(module, &text, std::path::Path::new("x")).expect("parses");
        for m in parsed {
            assert_eq!(Some(&m), built_in.get(m.entry.module, m.entry.id));
        }
    }
}

#[test]
fn the_seeds_example_line_parses_and_a_bad_line_says_where_and_why() {
    let ok = parse_file(
        "pm",
        "ID=27 SEND=syslog.alert.mail MSG=Cannot write ({reason}). LVL=ERR\n",
        std::path::Path::new("pm.msg.us"),
    )
    .expect("parses");
    assert!(ok[0].send.mail);
    let text = "# comment\nID=1 SEND=syslog.alert MSG=ok LVL=INFO\nID=99 SEND=syslog MSG=x LVL=ERR\nID=2 SEND=syslog.fax MSG=x LVL=WARN\nID=3 SEND=syslog MSG={monitor} LVL=INFO\nID=4 SEND=syslog MSG=x LVL=ERROR\n";
    let errors: Vec<String> = parse_file("pm", text, std::path::Path::new("pm.msg.us"))
        .expect_err("errors")
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(errors.len(), 4, "{errors:#?}");
    assert!(
        errors[0].starts_with("pm.msg.us:3: unknown message ID=99"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].starts_with("pm.msg.us:4: unknown channel `fax`"),
        "{}",
        errors[1]
    );
    assert!(
        errors[2].starts_with("pm.msg.us:5: pm 3 has no value `{monitor}`"),
        "{}",
        errors[2]
    );
    assert!(
        errors[3].starts_with("pm.msg.us:6: unknown level `ERROR`"),
        "{}",
        errors[3]
    );
}

#[test]
fn docs_alerts_holds_the_catalogue_table() {
    let doc = include_str!("../../docs/ALERTS.md");
    let table = super::catalogue::markdown_table();
    assert!(
        doc.contains(&table),
        "docs/ALERTS.md's catalogue table is out of date; regenerate it with `upkeep messages table` and paste it between the markers"
    );
}
