//! `upkeep probe [--config FILE] MONITOR [--json]` without a daemon: the verdict, the message with
//! the spec's text and return code (RAID-4), the time taken, and the exit status (0 normal,
//! 1 warning, 2 error, 64 unknown monitor, 78 invalid configuration).

use std::path::Path;
use std::process::Command;

fn probe(config: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_upkeep"))
        .arg("probe")
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("upkeep probe ran");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn probe_runs_one_check_and_exits_with_its_verdict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let proc_root = dir.path().join("proc");
    std::fs::create_dir_all(&proc_root).expect("proc root");
    // A degraded raid5 (one faulty member), from tests/fixtures/mdstat.
    let mdstat = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/mdstat/raid5-faulty.txt"
    ))
    .expect("fixture");
    std::fs::write(proc_root.join("mdstat"), mdstat).expect("mdstat");
    let config = dir.path().join("probe.ron");
    std::fs::write(
        &config,
        format!(
            r#"(
    name: "SSS", edition: "SSS",
    paths: (procfs: "{}"),
    monitors: [
        (name: "ok", kind: Custom(program: "/bin/true"), recovery: (target: Sss, final_action: NoOp)),
        (name: "warn", kind: Custom(program: "/bin/sh", args: ["-c", "exit 3"], warning_exit_code: 3),
            recovery: (target: Sss, final_action: NoOp)),
        (name: "bad", kind: Custom(program: "/bin/false"), recovery: (target: Sss, final_action: NoOp)),
        (name: "lmdw", kind: SoftRaid(device: "md0"), recovery: (target: Sss, final_action: NoOp)),
    ],
)"#,
            proc_root.display()
        ),
    )
    .expect("config");

    let (code, out, _) = probe(&config, &["ok"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("ok (custom): normal [0] Success. ("),
        "{out}"
    );
    assert!(out.trim_end().ends_with(" ms)"), "the time taken: {out}");

    let (code, out, _) = probe(&config, &["warn"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("warn (custom): warning [3] "), "{out}");

    let (code, out, _) = probe(&config, &["bad"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.starts_with("bad (custom): error [1] "), "{out}");

    let (code, out, _) = probe(&config, &["lmdw", "--json"]);
    assert_eq!(code, 1, "{out}");
    let report: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert_eq!(report["kind"], "soft_raid");
    assert_eq!(report["verdict"], "warning");
    assert_eq!(report["code"], 101, "RAID-4: bad disks = 101");
    let message = report["message"].as_str().unwrap_or_default();
    assert_eq!(
        message,
        "soft_raid: Device=(md0): Bad disks(sdd1) are detected in Soft RAID."
    );

    let (code, _, err) = probe(&config, &["okk"]);
    assert_eq!(code, 64);
    assert_eq!(
        err.trim(),
        "upkeep: monitor `okk` does not exist; did you mean `ok`?"
    );

    let broken = dir.path().join("broken.ron");
    std::fs::write(
        &broken,
        "(name: \"SSS\", edition: \"SSS\", monitors: [(name: 1)])",
    )
    .expect("config");
    let (code, _, err) = probe(&broken, &["ok"]);
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("broken.ron:1:"), "{err}");
}
