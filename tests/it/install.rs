//! `upkeep install` / `uninstall` into a temporary root (issue 13): every file listed, a second
//! run idempotent, an edited configuration kept with its difference shown unless --force,
//! uninstall removing exactly what install wrote; and the shipped unit passing
//! `systemd-analyze verify` with the man pages it names installed.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_upkeep");

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A small stand-in for the binary (copying the 140 MB debug build in every test is slow).
fn fake_binary(dir: &Path, content: &str) -> PathBuf {
    let path = dir.join(format!("upkeep-{}", content.len()));
    fs::write(&path, format!("#!/bin/sh\n# {content}\nexit 0\n")).expect("binary");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

fn run(args: &[&str], root: &Path, extra: &[&str]) -> Output {
    let out = Command::new(BIN)
        .args(args)
        .arg("--root")
        .arg(root)
        .args(extra)
        .output()
        .expect("run upkeep");
    assert!(
        out.status.success(),
        "{args:?}: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// Every file and link under `root`, as absolute paths of the installed system.
fn files_under(root: &Path) -> BTreeSet<PathBuf> {
    fn walk(root: &Path, dir: &Path, found: &mut BTreeSet<PathBuf>) {
        for entry in fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.symlink_metadata().expect("meta").is_dir() {
                walk(root, &path, found);
            } else {
                found.insert(Path::new("/").join(path.strip_prefix(root).expect("inside")));
            }
        }
    }
    let mut found = BTreeSet::new();
    walk(root, root, &mut found);
    found
}

/// The paths after `word` at the start of the output's lines.
fn listed(out: &Output, word: &str) -> BTreeSet<PathBuf> {
    text(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix(word))
        .map(|rest| PathBuf::from(rest.trim().split(':').next().expect("path")))
        .collect()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("meta").permissions().mode() & 0o7777
}

#[test]
fn a_fresh_install_lists_every_file_and_every_man_page_it_refers_to() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("root");
    let binary = fake_binary(tmp.path(), "v1");
    let out = run(
        &["install"],
        &root,
        &["--binary", binary.to_str().expect("utf8")],
    );

    let mut on_disk = files_under(&root);
    assert!(on_disk.remove(Path::new("/var/lib/upkeep/installed-files")));
    assert_eq!(listed(&out, "installed "), on_disk, "{}", text(&out.stdout));
    for expected in [
        "/usr/local/bin/upkeep",
        "/usr/local/sbin/clpstat",
        "/usr/local/sbin/clpbondcf",
        "/usr/local/share/man/man1/upkeep.1",
        "/usr/local/share/man/man1/upkeep-daemon.1",
        "/usr/local/share/man/man1/upkeep-group-start.1",
        "/usr/local/share/bash-completion/completions/upkeep",
        "/usr/local/share/zsh/site-functions/_upkeep",
        "/usr/local/share/fish/vendor_completions.d/upkeep.fish",
        "/etc/systemd/system/upkeep.service",
        "/etc/upkeep/upkeep.ron",
    ] {
        assert!(on_disk.contains(Path::new(expected)), "{expected} missing");
    }

    // A copy, not a link into the build folder; the links reach it, relative to the root.
    let installed = root.join("usr/local/bin/upkeep");
    assert!(!installed
        .symlink_metadata()
        .expect("meta")
        .file_type()
        .is_symlink());
    assert_eq!(mode(&installed), 0o755);
    assert_eq!(
        fs::read(&installed).expect("read"),
        fs::read(&binary).expect("read")
    );
    assert_eq!(
        fs::canonicalize(root.join("usr/local/sbin/clpcl")).expect("link"),
        fs::canonicalize(&installed).expect("binary")
    );
    let unit = fs::read_to_string(root.join("etc/systemd/system/upkeep.service")).expect("unit");
    assert!(
        unit.contains("\nExecStart=/usr/local/bin/upkeep daemon"),
        "{unit}"
    );
    assert_eq!(
        fs::read_to_string(root.join("etc/upkeep/upkeep.ron")).expect("config"),
        fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/config/examples/default.ron"
        ))
        .expect("demo")
    );
    // docs/SECURITY.md "Files and folders".
    assert_eq!(mode(&root.join("var/lib/upkeep")), 0o700);
    assert_eq!(mode(&root.join("var/log/upkeep")), 0o750);

    // No page names another that is not installed (they dangled before issue 13).
    let man = root.join("usr/local/share/man/man1");
    for page in fs::read_dir(&man).expect("man") {
        let page = fs::read_to_string(page.expect("page").path()).expect("read");
        for word in page.split_whitespace() {
            if let Some(name) = word.strip_suffix("(1)") {
                let name = name.replace("\\-", "-");
                if name.starts_with("upkeep") {
                    assert!(man.join(format!("{name}.1")).exists(), "{name}(1) dangles");
                }
            }
        }
    }
    let main = fs::read_to_string(man.join("upkeep.1")).expect("upkeep.1");
    assert!(main.contains("upkeep\\-daemon(1)"), "{main}");
    let printed = Command::new(BIN).arg("man").output().expect("man");
    assert_eq!(
        text(&printed.stdout),
        main,
        "`upkeep man` is the installed page"
    );
}

#[test]
fn a_second_install_changes_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("root");
    let binary = fake_binary(tmp.path(), "v1");
    let args = ["--binary", binary.to_str().expect("utf8")];
    let first = run(&["install"], &root, &args);
    let manifest = fs::read_to_string(root.join("var/lib/upkeep/installed-files")).expect("m");
    let files = files_under(&root);
    let second = run(&["install"], &root, &args);
    assert_eq!(
        listed(&second, "unchanged "),
        listed(&first, "installed "),
        "{}",
        text(&second.stdout)
    );
    assert!(listed(&second, "installed ").is_empty());
    assert!(listed(&second, "kept ").is_empty());
    assert_eq!(files_under(&root), files);
    assert_eq!(
        fs::read_to_string(root.join("var/lib/upkeep/installed-files")).expect("m"),
        manifest
    );
}

#[test]
fn a_newer_binary_replaces_the_one_install_wrote() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("root");
    let old = fake_binary(tmp.path(), "v1");
    let new = fake_binary(tmp.path(), "version 2");
    run(
        &["install"],
        &root,
        &["--binary", old.to_str().expect("utf8")],
    );
    let out = run(
        &["install"],
        &root,
        &["--binary", new.to_str().expect("utf8")],
    );
    assert_eq!(
        listed(&out, "updated "),
        BTreeSet::from([PathBuf::from("/usr/local/bin/upkeep")]),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        fs::read(root.join("usr/local/bin/upkeep")).expect("read"),
        fs::read(&new).expect("read")
    );
}

#[test]
fn an_edited_config_is_kept_with_the_difference_shown_and_force_replaces_it() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("root");
    let binary = fake_binary(tmp.path(), "v1");
    let args = ["--binary", binary.to_str().expect("utf8")];
    run(&["install"], &root, &args);
    let config = root.join("etc/upkeep/upkeep.ron");
    let demo = fs::read_to_string(&config).expect("config");
    let edited = demo.replace("max_reboot_count: 3", "max_reboot_count: 1");
    assert_ne!(edited, demo, "the demo sets max_reboot_count: 3");
    fs::write(&config, &edited).expect("edit");

    let out = run(&["install"], &root, &args);
    let said = text(&out.stdout);
    assert_eq!(fs::read_to_string(&config).expect("config"), edited, "kept");
    assert!(said.contains("kept      /etc/upkeep/upkeep.ron"), "{said}");
    assert!(
        said.contains(
            "--- /etc/upkeep/upkeep.ron (yours)\n+++ /etc/upkeep/upkeep.ron (upkeep's)\n"
        ) && said.contains("\n-        max_reboot_count: 1,\n+        max_reboot_count: 3,\n"),
        "a unified diff: {said}"
    );
    assert!(said.contains("upkeep install --force"), "{said}");

    // Kept again on the next run: it stays the administrator's.
    let again = run(&["install"], &root, &args);
    assert!(text(&again.stdout).contains("kept      /etc/upkeep/upkeep.ron"));

    let forced = run(&["install"], &root, &["--force", "--binary", args[1]]);
    assert!(text(&forced.stdout).contains("replaced  /etc/upkeep/upkeep.ron"));
    assert_eq!(fs::read_to_string(&config).expect("config"), demo);

    // A configuration that was there before upkeep's is the administrator's too.
    let other = tmp.path().join("other");
    fs::create_dir_all(other.join("etc/upkeep")).expect("mkdir");
    fs::write(other.join("etc/upkeep/upkeep.ron"), "mine\n").expect("write");
    let out = run(&["install"], &other, &args);
    assert!(
        text(&out.stdout).contains("-mine\n"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        fs::read_to_string(other.join("etc/upkeep/upkeep.ron")).expect("read"),
        "mine\n"
    );
}

#[test]
fn uninstall_removes_exactly_what_install_wrote() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("root");
    let binary = fake_binary(tmp.path(), "v1");
    // Things of the administrator's, in folders install also uses.
    let theirs = [
        "usr/local/bin/other-tool",
        "usr/local/share/man/man1/other-tool.1",
        "etc/systemd/system/other.service",
    ];
    for path in theirs {
        let path = root.join(path);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(&path, "theirs\n").expect("write");
    }
    let before = files_under(&root);
    run(
        &["install"],
        &root,
        &["--binary", binary.to_str().expect("utf8")],
    );
    let config = root.join("etc/upkeep/upkeep.ron");
    fs::write(&config, "edited\n").expect("edit");

    let out = run(&["uninstall"], &root, &[]);
    let said = text(&out.stdout);
    assert!(
        said.contains("kept    /etc/upkeep/upkeep.ron: edited since it was installed"),
        "{said}"
    );
    assert!(said.contains("uninstall --force"), "{said}");
    let mut expected = before.clone();
    expected.insert("/etc/upkeep/upkeep.ron".into());
    expected.insert("/var/lib/upkeep/installed-files".into());
    assert_eq!(files_under(&root), expected);

    run(&["uninstall"], &root, &["--force"]);
    assert_eq!(files_under(&root), before);
    assert!(
        !root.join("var").exists() && !root.join("usr/local/sbin").exists(),
        "the folders install created are gone"
    );
    assert!(root.join("usr/local/share/man/man1").is_dir());

    let nothing = Command::new(BIN)
        .arg("uninstall")
        .arg("--root")
        .arg(&root)
        .output()
        .expect("run");
    assert_eq!(nothing.status.code(), Some(66));
    assert!(text(&nothing.stderr).contains("nothing to uninstall"));
}

/// The unit as shipped names what the .deb installs, and `systemd-analyze verify` accepts it
/// once the binary and the man pages are where it says (issue 13: it complained about both).
#[test]
fn the_shipped_unit_passes_systemd_analyze_verify() {
    let unit = include_str!("../../packaging/upkeep.service");
    assert!(
        unit.contains("\nExecStart=/usr/bin/upkeep daemon "),
        "{unit}"
    );
    let has_analyze = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_analyze {
        eprintln!("SKIPPED: systemd-analyze is not installed (Debian package systemd)");
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("root");
    let binary = fake_binary(tmp.path(), "v1");
    run(
        &["install"],
        &root,
        &[
            "--prefix",
            "/usr",
            "--binary",
            binary.to_str().expect("utf8"),
        ],
    );
    // The installed unit, its binary path made real on this host (verify checks it exists),
    // and `man` pointed at the root's pages.
    let installed =
        fs::read_to_string(root.join("etc/systemd/system/upkeep.service")).expect("installed unit");
    assert_eq!(
        installed, unit,
        "--prefix /usr installs the unit as shipped"
    );
    let checked = tmp.path().join("upkeep.service");
    fs::write(
        &checked,
        unit.replace(
            "/usr/bin/upkeep",
            &root.join("usr/bin/upkeep").display().to_string(),
        ),
    )
    .expect("write");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&checked)
        .env("MANPATH", root.join("usr/share/man"))
        .output()
        .expect("systemd-analyze");
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success() && !said.contains("upkeep.service"),
        "{said}"
    );
}
