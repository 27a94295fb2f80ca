//! Bounded property-based runs of the control protocol's request decoder (issue 10, "Fuzzing"):
//! the quick, always-on companion of the coverage-guided `control_line` fuzz target
//! (fuzz/README.md). `decode_request_line` is what the daemon's control server runs on every
//! line any socket user sends, so for any bytes it must skip the line, hand back a request, or
//! give an error reply that goes out as one JSON line — and never panic.

use proptest::prelude::*;
use upkeep::control::proto::{
    decode_request_line, DaemonAction, FaultDto, MonitorAction, Request, Response, Toggle,
    PROTOCOL_VERSION,
};

/// Decodes like the server and checks what the server does next with the result.
fn serve(line: &[u8]) -> Option<Result<Request, String>> {
    let decoded = decode_request_line(line)?;
    Some(match decoded {
        Ok(request) => {
            let _ = (request.name(), request.changes_state(), request.check());
            Ok(request)
        }
        Err(reply) => {
            let bytes = serde_json::to_vec(&*reply).expect("a reply encodes");
            assert!(!bytes.contains(&b'\n'), "a reply spans lines");
            match *reply {
                Response::Error(e) => Err(e.message),
                other => panic!("a refusal that is not an error reply: {other:?}"),
            }
        }
    })
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["\\PC{0,20}", ".{0,20}", any::<String>()]
}

/// Any request the client can send, with any field values.
fn request(
    version: impl Strategy<Value = u32> + Clone + 'static,
) -> impl Strategy<Value = Request> {
    let v = version;
    let toggle = prop_oneof![Just(Toggle::Start), Just(Toggle::Stop)];
    let fault = prop_oneof![
        (text(), any::<u32>()).prop_map(|(monitor, times)| FaultDto::ProbeFails { monitor, times }),
        text().prop_map(|monitor| FaultDto::ProbeHangs { monitor }),
        (text(), any::<u32>(), any::<i32>()).prop_map(|(program, times, code)| {
            FaultDto::ScriptFails {
                program,
                times,
                code,
            }
        }),
        text().prop_map(|resource| FaultDto::ProcessKilled { resource }),
        Just(FaultDto::Clear),
    ];
    prop_oneof![
        v.clone().prop_map(|version| Request::Status { version }),
        (v.clone(), any::<u64>()).prop_map(|(version, since)| Request::Events { version, since }),
        (v.clone(), any::<u64>()).prop_map(|(version, since)| Request::Follow { version, since }),
        v.clone().prop_map(|version| Request::Tree { version }),
        (v.clone(), text()).prop_map(|(version, name)| Request::Explain { version, name }),
        (
            v.clone(),
            prop_oneof![
                Just(DaemonAction::Start),
                Just(DaemonAction::Stop),
                Just(DaemonAction::Suspend),
                Just(DaemonAction::Resume)
            ]
        )
            .prop_map(|(version, action)| Request::Daemon { version, action }),
        (v.clone(), text(), toggle.clone()).prop_map(|(version, name, action)| Request::Group {
            version,
            name,
            action
        }),
        (v.clone(), text(), toggle).prop_map(|(version, name, action)| Request::Resource {
            version,
            name,
            action
        }),
        (
            v.clone(),
            prop_oneof![Just(MonitorAction::Suspend), Just(MonitorAction::Resume)],
            prop::collection::vec(text(), 0..3),
            any::<Option<u64>>()
        )
            .prop_map(|(version, action, names, for_s)| Request::Monitors {
                version,
                action,
                names,
                for_s
            }),
        (v.clone(), any::<bool>()).prop_map(|(version, reboot)| Request::Down { version, reboot }),
        (v.clone(), text(), text(), any::<bool>(), any::<bool>()).prop_map(
            |(version, text, origin, restart, dry_run)| Request::ConfigApply {
                version,
                text,
                origin,
                restart,
                dry_run
            }
        ),
        v.clone()
            .prop_map(|version| Request::ConfigPull { version }),
        (v.clone(), text()).prop_map(|(version, filter)| Request::LogLevel { version, filter }),
        (v, fault).prop_map(|(version, fault)| Request::Inject { version, fault }),
    ]
}

/// JSON pieces and the protocol's words, for garbage that gets past the tokenizer.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\\",
    "\\u",
    "\\ud800",
    "null",
    "true",
    "false",
    "\"type\"",
    "\"version\"",
    "\"Status\"",
    "\"Events\"",
    "\"Follow\"",
    "\"Monitors\"",
    "\"Inject\"",
    "\"ConfigApply\"",
    "\"fault\"",
    "\"probe_fails\"",
    "\"script_fails\"",
    "\"since\"",
    "\"for_s\"",
    "\"times\"",
    "\"code\"",
    "\"names\"",
    "\"action\"",
    "\"suspend\"",
    "1",
    "0",
    "-1",
    "18446744073709551616",
    "1e999",
    "4294967296",
    " ",
    "\n",
    "\r",
    "\u{0}",
    "é",
    "\u{202e}",
];

/// The `u64` a JSON number stands for, if any: an integer literal (no leading zeros, no
/// fraction or exponent) within range.
fn json_u64(n: &str) -> Option<u64> {
    let leading_zero = n.len() > 1 && n.starts_with('0');
    if n.is_empty() || leading_zero || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_bytes_are_skipped_decoded_or_answered(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let _ = serve(&bytes);
    }

    #[test]
    fn runs_of_json_tokens_are_skipped_decoded_or_answered(
        picks in prop::collection::vec(any::<usize>(), 0..60),
    ) {
        let line: String = picks.iter().map(|p| TOKENS[p % TOKENS.len()]).collect();
        let _ = serve(line.as_bytes());
    }

    #[test]
    fn every_request_the_client_sends_is_the_one_the_daemon_reads(
        sent in request(Just(PROTOCOL_VERSION)),
        crlf in any::<bool>(),
    ) {
        let mut line = serde_json::to_vec(&sent).expect("encode");
        line.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        prop_assert_eq!(serve(&line), Some(Ok(sent)));
    }

    #[test]
    fn an_unsupported_version_is_refused_before_anything_acts(
        sent in request(prop_oneof![Just(0u32), (PROTOCOL_VERSION + 1)..=u32::MAX]),
    ) {
        let line = serde_json::to_vec(&sent).expect("encode");
        let answer = serve(&line);
        let version = sent.version();
        prop_assert!(
            matches!(&answer, Some(Err(m)) if m.contains(&format!("protocol version {version} "))),
            "{answer:?}"
        );
    }

    #[test]
    fn mutated_requests_are_skipped_decoded_or_answered(
        sent in request(Just(PROTOCOL_VERSION)),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let mut line = serde_json::to_vec(&sent).expect("encode");
        for (at, byte, how) in edits {
            let i = at % (line.len() + 1);
            match how {
                0 => line.insert(i, byte),
                1 if i < line.len() => line[i] = byte,
                _ if i < line.len() => {
                    line.remove(i);
                }
                _ => line.push(byte),
            }
        }
        let _ = serve(&line);
    }

    #[test]
    fn a_number_of_any_size_is_taken_only_in_range(n in prop_oneof![
        any::<u128>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
        "-?[0-9]{1,40}(\\.[0-9]{0,5})?([eE]-?[0-9]{1,4})?",
    ]) {
        let line = format!("{{\"type\":\"Events\",\"version\":1,\"since\":{n}}}");
        match (serve(line.as_bytes()), json_u64(&n)) {
            (Some(Ok(Request::Events { since, .. })), Some(value)) => prop_assert_eq!(since, value),
            (Some(Err(message)), None) => prop_assert!(message.starts_with("bad request:")),
            (answer, value) => prop_assert!(false, "{n}: {answer:?} / {value:?}"),
        }
    }

    #[test]
    fn invalid_utf8_in_a_value_becomes_a_replacement_character(
        name in "[a-z]{0,8}",
        bad in prop_oneof![0x80u8..=0xBF, 0xF5u8..=0xFF],
    ) {
        let mut line = br#"{"type":"Explain","version":1,"name":""#.to_vec();
        line.extend_from_slice(name.as_bytes());
        line.push(bad);
        line.extend_from_slice(b"\"}\n");
        let name = format!("{name}\u{fffd}");
        prop_assert_eq!(serve(&line), Some(Ok(Request::Explain { version: 1, name })));
    }
}

proptest! {
    // Large lines: fewer cases, each up to the server's line cap.
    #![proptest_config(ProptestConfig {
        cases: 16,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn deep_nesting_is_refused_without_exhausting_the_stack(
        openers in prop::collection::vec(prop_oneof![Just("["), Just("{\"a\":")], 1..16),
        depth in 1usize..100_000,
    ) {
        let mut line = String::from(r#"{"type":"Explain","version":1,"name":"#);
        for i in 0..depth {
            line.push_str(openers[i % openers.len()]);
        }
        prop_assert!(matches!(serve(line.as_bytes()), Some(Err(_))));
    }

    #[test]
    fn a_long_value_up_to_the_line_cap_decodes(len in 0usize..upkeep::control::proto::MAX_LINE - 64) {
        let filter = "x".repeat(len);
        let line = format!(r#"{{"type":"LogLevel","version":1,"filter":"{filter}"}}"#);
        prop_assert_eq!(
            serve(line.as_bytes()),
            Some(Ok(Request::LogLevel { version: 1, filter }))
        );
    }
}
