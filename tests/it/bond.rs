//! `upkeep bond` / `clpbondcf` end to end (BOND-1..22): the real binary, a temporary `--root`
//! holding a fake `sys/class/net` and a host's network configuration, answers on stdin.
//!
//! Generated files and the dialogue transcript are compared with
//! `tests/fixtures/bond/expected/<case>/` (a file `TRANSCRIPT` there is the expected stdout);
//! `UPKEEP_BLESS=1` rewrites those files from the current output, for review in the diff.
//! Every exit code of BOND-11 that can be provoked (all but the undefined 113) is provoked
//! here. Status parsing runs on the real `/proc/net/bonding` outputs in
//! `tests/fixtures/bond/status/` (see SOURCES.md there).

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_upkeep");

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bond")
}

/// A temporary root folder shaped like a host.
struct Root {
    dir: tempfile::TempDir,
}

impl Root {
    fn new() -> Root {
        Root {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The seed transcript's two cards (BOND-6), in a fake sysfs.
    fn with_seed_nics(self) -> Root {
        self.nic("eth0", "00:30:13:f1:6b:4e")
            .nic("eth1", "00:04:23:a6:91:f6")
    }

    fn nic(self, name: &str, mac: &str) -> Root {
        self.file(
            &format!("sys/class/net/{name}/address"),
            &format!("{mac}\n"),
        )
        .file(&format!("sys/class/net/{name}/type"), "1\n")
    }

    fn file(self, rel: &str, content: &str) -> Root {
        let p = self.path().join(rel);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(&p, content).expect("write");
        self
    }

    fn dir(self, rel: &str) -> Root {
        fs::create_dir_all(self.path().join(rel)).expect("mkdir");
        self
    }

    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    fn exists(&self, rel: &str) -> bool {
        self.path().join(rel).exists()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("bond").args(args).arg("--root").arg(self.path());
        c
    }

    fn run(&self, args: &[&str], stdin: &str) -> Output {
        run_with_stdin(self.cmd(args), stdin)
    }
}

fn run_with_stdin(mut cmd: Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // The child may exit before reading everything (an early error); a broken pipe is fine.
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes());
    child.wait_with_output().expect("wait")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit status and the seed's message (first stderr line).
fn failure(o: &Output) -> (i32, String) {
    (
        o.status.code().unwrap_or(-1),
        stderr(o).lines().next().unwrap_or("").to_string(),
    )
}

fn assert_ok(o: &Output) {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
}

fn bless() -> bool {
    std::env::var_os("UPKEEP_BLESS").is_some()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Compares every file of `expected/<case>` with the root (and `TRANSCRIPT` with stdout);
/// `files` lists the root's paths the case must produce (used when blessing).
fn check_expected(case: &str, root: &Root, transcript: &str, files: &[&str]) {
    let dir = fixtures().join("expected").join(case);
    if bless() {
        if files.is_empty() {
            return;
        }
        let _ = fs::remove_dir_all(&dir);
        for rel in files {
            let to = dir.join(rel);
            fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
            fs::write(&to, root.read(rel)).expect("bless");
        }
        fs::write(dir.join("TRANSCRIPT"), transcript).expect("bless");
        return;
    }
    let mut expected = Vec::new();
    walk(&dir, &mut expected);
    assert!(
        !expected.is_empty(),
        "no expected files in {}",
        dir.display()
    );
    let mut seen: Vec<String> = Vec::new();
    for path in expected {
        let rel = path
            .strip_prefix(&dir)
            .expect("prefix")
            .to_string_lossy()
            .into_owned();
        let want = fs::read_to_string(&path).expect("read expected");
        let got = if rel == "TRANSCRIPT" {
            transcript.to_string()
        } else {
            root.read(&rel)
        };
        assert_eq!(got, want, "{case}: {rel} differs from {}", path.display());
        seen.push(rel);
    }
    for rel in files {
        assert!(
            seen.iter().any(|s| s == rel),
            "{case}: {rel} has no expected file"
        );
    }
}

fn mode_of(root: &Root, rel: &str) -> u32 {
    fs::metadata(root.path().join(rel))
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

// ---------------------------------------------------------------------------------------------
// Back-ends: one scripted dialogue each, generated files compared with expected files.

/// The answers of the BOND-6 transcript: edit, NICs 1 and 2, new IP, default mask, default
/// parameters, no driver script, restart network.
const SEED_ANSWERS: &str = "Y\n1\n2\n172.28.125.77\n\n\n\n2\n";

const TOOL_FILE: &str = "var/lib/upkeep/bondcf/bond0";

#[test]
fn redhat_dialogue_reproduces_the_seed_transcript() {
    let root = Root::new()
        .with_seed_nics()
        .file(
            "etc/sysconfig/network-scripts/ifcfg-eth0",
            "DEVICE=eth0\nIPADDR=172.28.125.70\nNETMASK=255.255.255.0\nNETWORK=172.28.125.0\nBROADCAST=172.28.125.255\nONBOOT=yes\nBOOTPROTO=static\nMODE=Managed\nESSID=\"Any\"\n",
        )
        .file("etc/sysconfig/network-scripts/ifcfg-eth1", "DEVICE=eth1\nIPADDR=192.168.0.70\nNETMASK=255.255.255.0\nONBOOT=yes\nBOOTPROTO=static\n")
        .file("etc/sysconfig/network-scripts/ifcfg-bond0", "DEVICE=bond0\nIPADDR=172.28.125.70\nNETMASK=255.255.255.0\nONBOOT=yes\nBOOTPROTO=static\n")
        .file("etc/modprobe.conf", "alias eth0 e1000\nalias bond0 bonding\noptions bond0 miimon=50 mode=0\n");
    let o = root.run(&["bond0"], SEED_ANSWERS);
    assert_ok(&o);
    check_expected(
        "ifcfg-redhat",
        &root,
        &stdout(&o),
        &[
            "etc/sysconfig/network-scripts/ifcfg-bond0",
            "etc/sysconfig/network-scripts/ifcfg-eth0",
            "etc/sysconfig/network-scripts/ifcfg-eth1",
            "etc/modprobe.conf",
            TOOL_FILE,
        ],
    );
    // Running it again changes nothing: the slave lines and module lines are replaced, not
    // stacked. (The listing no longer shows the cards' addresses: they moved to the bond.)
    let files = [
        "etc/sysconfig/network-scripts/ifcfg-bond0",
        "etc/sysconfig/network-scripts/ifcfg-eth0",
        "etc/sysconfig/network-scripts/ifcfg-eth1",
        "etc/modprobe.conf",
    ];
    let before: Vec<String> = files.iter().map(|f| root.read(f)).collect();
    let again = root.run(&["bond0"], SEED_ANSWERS);
    assert_ok(&again);
    assert!(
        stdout(&again).contains("IP address[172.28.125.77]:"),
        "{}",
        stdout(&again)
    );
    let after: Vec<String> = files.iter().map(|f| root.read(f)).collect();
    assert_eq!(after, before);
}

#[test]
fn suse_dialogue_with_driver_script_and_modules_conf() {
    let root = Root::new()
        .with_seed_nics()
        .file(
            "etc/sysconfig/network/ifcfg-eth0",
            "BOOTPROTO='static'\nIPADDR='172.28.125.70/24'\nSTARTMODE='auto'\n",
        )
        .file(
            "etc/sysconfig/network/ifcfg-eth1",
            "BOOTPROTO='dhcp'\nSTARTMODE='auto'\n",
        )
        .file("etc/modules.conf", "alias eth0 e100\n");
    // New bond: no edit question. Defaults everywhere, driver script Y, post action 3.
    let o = root.run(&["bond0"], "\n\n\n\n\nY\n3\n");
    assert_ok(&o);
    check_expected(
        "ifcfg-suse",
        &root,
        &stdout(&o),
        &[
            "etc/sysconfig/network/ifcfg-bond0",
            "etc/modules.conf",
            "etc/modules-load.d/upkeep-bonding.conf",
            TOOL_FILE,
        ],
    );
    // A port configures no address of its own (issue 13); the rest of the file stays.
    assert_eq!(
        root.read("etc/sysconfig/network/ifcfg-eth1"),
        "BOOTPROTO='none'\nSTARTMODE='auto'\n"
    );
}

#[test]
fn networkmanager_dialogue_writes_keyfiles() {
    let root = Root::new()
        .with_seed_nics()
        .file(
            "etc/NetworkManager/system-connections/Wired connection 1.nmconnection",
            "[connection]\nid=Wired connection 1\nuuid=2f1e0b43-77a9-4b39-9b1c-1f6a7f1a1a01\ntype=ethernet\ninterface-name=eth0\n\n[ipv4]\naddress1=172.28.125.70/24,172.28.125.1\nmethod=manual\n",
        );
    // 802.3ad parameters given by number, as the seed's modprobe.conf accepted them; reboot.
    let o = root.run(
        &["bond0"],
        "\n\n\n\nmode=4 miimon=100 xmit_hash_policy=1 lacp_rate=fast\nN\n1\n",
    );
    assert_ok(&o);
    check_expected(
        "networkmanager",
        &root,
        &stdout(&o),
        &[
            "etc/NetworkManager/system-connections/bond0.nmconnection",
            "etc/NetworkManager/system-connections/bond0-slave-eth0.nmconnection",
            "etc/NetworkManager/system-connections/bond0-slave-eth1.nmconnection",
            "etc/NetworkManager/system-connections/Wired connection 1.nmconnection",
            TOOL_FILE,
        ],
    );
    assert_eq!(
        mode_of(
            &root,
            "etc/NetworkManager/system-connections/bond0.nmconnection"
        ),
        0o600
    );
}

const NETWORKD_ETH0: &str =
    "[Match]\nName=eth0\n\n[Network]\nAddress=172.28.125.70/24\nGateway=172.28.125.1\n";

const NETPLAN_CLOUD_INIT: &str = "network:\n  version: 2\n  ethernets:\n    eth0:\n      addresses:\n        - 172.28.125.70/24\n      routes:\n        - to: default\n          via: 172.28.125.1\n    eth1:\n      dhcp4: true\n";

#[test]
fn networkd_dialogue_writes_netdev_and_networks() {
    let root = Root::new()
        .with_seed_nics()
        .file("etc/systemd/network/10-eth0.network", NETWORKD_ETH0);
    let o = root.run(
        &["bond0"],
        "\n\n\n\nmiimon=100 mode=1 primary=eth0 updelay=200 downdelay=200\n\n3\n",
    );
    assert_ok(&o);
    check_expected(
        "networkd",
        &root,
        &stdout(&o),
        &[
            "etc/systemd/network/00-bond0.netdev",
            "etc/systemd/network/00-bond0.network",
            "etc/systemd/network/00-bond0-slave-eth0.network",
            "etc/systemd/network/00-bond0-slave-eth1.network",
            TOOL_FILE,
        ],
    );
    assert_eq!(
        root.read("etc/systemd/network/10-eth0.network")
            .lines()
            .count(),
        6,
        "other files untouched"
    );
}

#[test]
fn ifupdown_dialogue_edits_interfaces() {
    let root = Root::new().with_seed_nics().file(
        "etc/network/interfaces",
        "# The loopback network interface\nauto lo eth0\niface lo inet loopback\n\n# The primary network interface\niface eth0 inet static\n    address 172.28.125.70\n    netmask 255.255.255.0\n    gateway 172.28.125.1\n\nallow-hotplug eth1\niface eth1 inet dhcp\n\nsource /etc/network/interfaces.d/*\n",
    );
    let o = root.run(&["bond1"], "\n\n\n255.255.0.0\n\n\n2\n");
    assert_ok(&o);
    check_expected(
        "ifupdown",
        &root,
        &stdout(&o),
        &["etc/network/interfaces", "var/lib/upkeep/bondcf/bond1"],
    );
}

#[test]
fn netplan_dialogue_writes_own_yaml_and_moves_the_cards_settings() {
    let root = Root::new()
        .with_seed_nics()
        .file("etc/netplan/50-cloud-init.yaml", NETPLAN_CLOUD_INIT);
    let o = root.run(&["bond0"], "\n\n\n\n\n\n\n");
    assert_ok(&o);
    check_expected(
        "netplan",
        &root,
        &stdout(&o),
        &[
            "etc/netplan/90-upkeep-bond0.yaml",
            "etc/netplan/50-cloud-init.yaml",
            TOOL_FILE,
        ],
    );
    // eth0's address and default route moved to the bond: the installer's file no longer
    // gives the port an address, so nothing is left to warn about (issue 13).
    assert_eq!(stderr(&o), "", "{}", stderr(&o));
    assert_eq!(mode_of(&root, "etc/netplan/90-upkeep-bond0.yaml"), 0o600);
}

/// `-i` replays a tool file without questions and produces what the dialogue produced.
#[test]
fn tool_file_replay_matches_dialogue_for_every_backend() {
    for (case, setup, content) in [
        (
            "networkd",
            "etc/systemd/network/10-eth0.network",
            NETWORKD_ETH0,
        ),
        (
            "netplan",
            "etc/netplan/50-cloud-init.yaml",
            NETPLAN_CLOUD_INIT,
        ),
    ] {
        let expected = fixtures().join("expected").join(case).join(TOOL_FILE);
        let tool = fs::read_to_string(&expected).expect("expected tool file");
        let root = Root::new()
            .with_seed_nics()
            .file(setup, content)
            .file(TOOL_FILE, &tool);
        let o = root.run(&["bond0", "-i"], "");
        assert_ok(&o);
        assert!(
            stdout(&o).starts_with("bond0 complete.\n"),
            "{case}: {}",
            stdout(&o)
        );
        let mut want = Vec::new();
        walk(&fixtures().join("expected").join(case), &mut want);
        for path in want {
            let rel = path
                .strip_prefix(fixtures().join("expected").join(case))
                .expect("prefix")
                .to_string_lossy()
                .into_owned();
            if rel != "TRANSCRIPT" {
                assert_eq!(
                    root.read(&rel),
                    fs::read_to_string(&path).expect("read"),
                    "{case}: {rel}"
                );
            }
        }
    }
}

#[test]
fn declining_the_edit_changes_nothing() {
    let root = Root::new().with_seed_nics().file(
        "etc/sysconfig/network-scripts/ifcfg-bond0",
        "DEVICE=bond0\n",
    );
    let o = root.run(&["bond0"], "N\n");
    assert_ok(&o);
    assert_eq!(stdout(&o), "The bonding interface [bond0] is already existed.\nDo you want to edit it? (Y or N)[Y]:N\n");
    assert_eq!(
        root.read("etc/sysconfig/network-scripts/ifcfg-bond0"),
        "DEVICE=bond0\n"
    );
    assert!(!root.exists(TOOL_FILE));
}

#[test]
fn explicit_backend_and_clpbondcf_name() {
    // argv[0] = clpbondcf takes the seed syntax directly (BOND-1).
    let dir = tempfile::tempdir().expect("tempdir");
    let link = dir.path().join("clpbondcf");
    std::os::unix::fs::symlink(BIN, &link).expect("symlink");
    let root = Root::new()
        .with_seed_nics()
        .dir("etc/sysconfig/network-scripts");
    let mut cmd = Command::new(&link);
    cmd.args(["bond2", "--backend", "networkd", "--root"])
        .arg(root.path());
    let o = run_with_stdin(cmd, "\n\n10.1.1.5\n255.255.255.0\n\n\n3\n");
    assert_ok(&o);
    assert!(root.exists("etc/systemd/network/00-bond2.netdev"));
    assert!(!root.exists("etc/sysconfig/network-scripts/ifcfg-bond2"));
}

#[test]
fn help_needs_no_root_and_is_exit_0() {
    let o = Command::new(BIN)
        .args(["bond", "-h"])
        .output()
        .expect("run");
    assert_ok(&o);
    assert!(stdout(&o).starts_with("usage: clpbondcf bondname [-i] [-b]"));
}

// ---------------------------------------------------------------------------------------------
// Backup (-b) and rollback.

#[test]
fn backup_copies_every_file_before_changing_it() {
    let eth0 =
        "DEVICE=eth0\nIPADDR=10.0.0.5\nNETMASK=255.255.255.0\nONBOOT=yes\nBOOTPROTO=static\n";
    let root = Root::new()
        .with_seed_nics()
        .file("etc/sysconfig/network-scripts/ifcfg-eth0", eth0)
        .file("etc/modprobe.conf", "alias eth0 e1000\n");
    let o = root.run(&["bond0", "-b"], "\n\n\n\n\n\n3\n");
    assert_ok(&o);
    let backups: Vec<_> = fs::read_dir(root.path().join("var/lib/upkeep/bondcf/backup"))
        .expect("backup dir")
        .flatten()
        .collect();
    assert_eq!(backups.len(), 1);
    let dir = backups[0].path();
    let manifest = fs::read_to_string(dir.join("MANIFEST")).expect("manifest");
    let root_s = root.path().display().to_string();
    for line in [
        format!("absent {root_s}/{TOOL_FILE}"),
        format!("absent {root_s}/etc/sysconfig/network-scripts/ifcfg-bond0"),
        format!("saved {root_s}/etc/sysconfig/network-scripts/ifcfg-eth0"),
        format!("absent {root_s}/etc/sysconfig/network-scripts/ifcfg-eth1"),
        format!("saved {root_s}/etc/modprobe.conf"),
    ] {
        assert!(
            manifest.lines().any(|l| l == line),
            "{line} missing in\n{manifest}"
        );
    }
    let saved = dir
        .join("files")
        .join(root.path().strip_prefix("/").expect("abs"))
        .join("etc/sysconfig/network-scripts/ifcfg-eth0");
    assert_eq!(fs::read_to_string(saved).expect("saved copy"), eth0);
    assert!(root
        .read("etc/sysconfig/network-scripts/ifcfg-eth0")
        .ends_with("SLAVE=yes\nMASTER=bond0\n"));
    assert!(stderr(&o).contains("backup of the files to change is in"));
}

// ---------------------------------------------------------------------------------------------
// Exit codes 101..118 (BOND-11), each provoked.

fn seed_tool_file(
    nic1: &str,
    nic2: &str,
    ip: &str,
    mask: &str,
    script: &str,
    action: &str,
) -> String {
    format!("{nic1}\n{nic2}\n{ip}\n{mask}\nmiimon=100 mode=1\n{script}\n{action}\n")
}

fn networkd_root() -> Root {
    Root::new()
        .with_seed_nics()
        .dir("etc/systemd/network")
        .file(
            "etc/systemd/network/99-default.network",
            "[Match]\nName=*\n",
        )
}

#[test]
fn exit_101_invalid_bond_name() {
    let o = Root::new().run(&["bond4"], "");
    assert_eq!(
        failure(&o),
        (101, "The bonding interface [bond4] is invalid.".into())
    );
}

#[test]
fn exit_102_parameter_error() {
    for args in [
        &["bond0", "-x"][..],
        &[][..],
        &["bond0", "bond1"][..],
        &["bond0", "-s", "-i"][..],
        &["-H"][..],
        &["bond0", "-B"][..],
    ] {
        let o = Root::new().run(args, "");
        assert_eq!(failure(&o), (102, "Parameter error.".into()), "{args:?}");
    }
}

#[test]
fn exit_103_fewer_than_two_nics() {
    let root = Root::new()
        .nic("eth0", "00:30:13:f1:6b:4e")
        .nic("lo", "00:00:00:00:00:00")
        .dir("etc/systemd/network/x");
    let o = root.run(&["bond0"], "");
    assert_eq!(
        failure(&o),
        (103, "Network cards to bonded are lesser than two.".into())
    );
    let o = root
        .file(
            TOOL_FILE,
            &seed_tool_file("eth0", "eth1", "10.0.0.1", "255.0.0.0", "N", "3"),
        )
        .run(&["bond0", "-i"], "");
    assert_eq!(failure(&o).0, 103);
}

#[test]
fn exit_104_no_backend_and_no_sysfs() {
    let o = Root::new().with_seed_nics().run(&["bond0"], "");
    assert_eq!(
        failure(&o),
        (104, "Get system information error. (code=1)".into())
    );
    assert!(stderr(&o).contains("--backend"), "{}", stderr(&o));
    let o = Root::new()
        .dir("etc/sysconfig/network-scripts")
        .run(&["bond0"], "");
    assert_eq!(
        failure(&o),
        (104, "Get system information error. (code=2)".into())
    );
}

#[test]
fn exit_105_tool_file_cannot_be_written() {
    let root = networkd_root().dir(TOOL_FILE);
    let o = root.run(&["bond0"], "\n\n10.0.0.1\n255.0.0.0\n\n\n3\n");
    assert_eq!(
        failure(&o),
        (105, "Write an assistant file error. (code=2)".into())
    );
    assert!(!root.exists("etc/systemd/network/00-bond0.netdev"));
}

#[test]
fn exit_106_setting_file_fails_and_everything_is_rolled_back() {
    let old_bond_network = "[Match]\nName=bond0\n\n[Network]\nDHCP=yes\n";
    let root = networkd_root()
        .file("etc/systemd/network/00-bond0.network", old_bond_network)
        // The last file of the plan cannot be written: a folder is in its place. The tool
        // file, the .netdev, the bond's .network (which existed) and eth0's file are written
        // before it and must all be undone.
        .dir("etc/systemd/network/00-bond0-slave-eth1.network");
    let o = root.run(&["bond0"], "\n\n10.0.0.1\n255.0.0.0\n\n\n3\n");
    assert_eq!(
        failure(&o),
        (106, "Write setting file error. (code=2)".into())
    );
    assert_eq!(
        root.read("etc/systemd/network/00-bond0.network"),
        old_bond_network
    );
    assert!(!root.exists("etc/systemd/network/00-bond0.netdev"));
    assert!(!root.exists("etc/systemd/network/00-bond0-slave-eth0.network"));
    assert!(
        !root.exists(TOOL_FILE),
        "the tool file is part of the transaction"
    );
    let leftovers: Vec<_> = fs::read_dir(root.path().join("etc/systemd/network"))
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("upkeep-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    // Parameters a back-end cannot express: 106 code 4 before anything is written.
    let root = networkd_root();
    let o = root.run(&["bond0"], "\n\n10.0.0.1\n255.0.0.0\nmax_bonds=4\n\n3\n");
    assert_eq!(
        failure(&o),
        (106, "Write setting file error. (code=4)".into())
    );
    assert!(!root.exists(TOOL_FILE));
}

#[test]
fn exit_107_tool_file_missing_or_misshapen() {
    let root = networkd_root();
    let o = root.run(&["bond0", "-i"], "");
    assert_eq!(
        failure(&o),
        (107, "Read an assistant file error. (code=1)".into())
    );
    let o = root
        .file(
            TOOL_FILE,
            "eth0\neth1\n10.0.0.1\n255.0.0.0\nmiimon=100\nN\n3\n\n",
        )
        .run(&["bond0", "-i"], "");
    assert_eq!(
        failure(&o),
        (107, "Read an assistant file error. (code=2)".into())
    );
}

#[test]
fn exit_108_no_status_file() {
    let o = Root::new().run(&["bond0", "-s"], "");
    assert_eq!(
        failure(&o),
        (108, "Read file of status error. (code=1)".into())
    );
}

#[test]
fn exits_109_to_114_bad_tool_file_lines() {
    for (file, want) in [
        (
            seed_tool_file("eth7", "eth1", "10.0.0.1", "255.0.0.0", "N", "3"),
            (109, "NIC1 error."),
        ),
        (
            seed_tool_file("eth0", "eth9", "10.0.0.1", "255.0.0.0", "N", "3"),
            (110, "NIC2 error."),
        ),
        (
            seed_tool_file("eth0", "eth0", "10.0.0.1", "255.0.0.0", "N", "3"),
            (110, "NIC2 error."),
        ),
        (
            seed_tool_file("eth0", "eth1", "111.222.333.444", "255.255.255.0", "N", "1"),
            (111, "IP address error."),
        ),
        (
            seed_tool_file("eth0", "eth1", "10.0.0.1", "255.0.255.0", "N", "3"),
            (112, "Mask address error."),
        ),
        (
            seed_tool_file("eth0", "eth1", "10.0.0.1", "255.0.0.0", "N", "4"),
            (114, "Finial action error."),
        ),
    ] {
        let root = networkd_root().file(TOOL_FILE, &file);
        let o = root.run(&["bond0", "-i"], "");
        assert_eq!(failure(&o), (want.0, want.1.to_string()), "{file}");
        assert!(!root.exists("etc/systemd/network/00-bond0.netdev"));
    }
}

#[test]
fn exit_115_input_ends_mid_dialogue() {
    let root = networkd_root();
    let o = root.run(&["bond0"], "1\n2\n");
    assert_eq!(failure(&o), (115, "Internal error. (code=1)".into()));
    assert!(!root.exists(TOOL_FILE));
}

#[test]
fn exit_116_not_root() {
    // The binary must be reachable by nobody: copy it into a world-readable folder.
    let dir = tempfile::tempdir().expect("tempdir");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let bin = dir.path().join("upkeep");
    fs::copy(BIN, &bin).expect("copy");
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).expect("chmod");
    // A child another test forks while the copy is open for writing holds that descriptor until
    // its own exec, and executing the copy then fails with ETXTBSY: try again shortly.
    let run = || {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .args(["bond", "bond0", "-s", "--root", "/nonexistent"])
            .output()
    };
    let mut o = run();
    for _ in 0..50 {
        match &o {
            Ok(out) if String::from_utf8_lossy(&out.stderr).contains("Text file busy") => {
                std::thread::sleep(std::time::Duration::from_millis(20));
                o = run();
            }
            _ => break,
        }
    }
    let o = match o {
        Ok(o) if nix::unistd::geteuid().is_root() => o,
        _ => {
            crate::servers::skip(
                module_path!(),
                "needs root and setpriv to run the binary as nobody",
            );
            return;
        }
    };
    assert_eq!(
        failure(&o),
        (116, "Must be super-user.".into()),
        "{}",
        stderr(&o)
    );
}

#[test]
fn exit_117_driver_script_cannot_be_created() {
    let eth0 = "[Match]\nName=eth0\n\n[Network]\nAddress=10.0.0.5/8\n";
    let root = networkd_root()
        .file("etc/systemd/network/10-eth0.network", eth0)
        .file("etc/modules-load.d", "not a folder\n");
    let o = root.run(&["bond0"], "\n\n\n\n\nY\n3\n");
    assert_eq!(failure(&o), (117, "Create script file error.".into()));
    assert!(
        !root.exists("etc/systemd/network/00-bond0.netdev"),
        "settings rolled back"
    );
    assert!(!root.exists(TOOL_FILE));
    assert_eq!(root.read("etc/systemd/network/10-eth0.network"), eth0);
}

#[test]
fn exit_118_already_running() {
    let root = networkd_root();
    let work = root.path().join("var/lib/upkeep/bondcf");
    fs::create_dir_all(&work).expect("mkdir");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(work.join(".lock"))
        .expect("lock file");
    let held = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|(_, e)| e)
        .expect("flock");
    let o = root.run(&["bond0"], "");
    assert_eq!(
        failure(&o),
        (118, "The bonding setting tools is already running.".into())
    );
    drop(held);
    let o = root.run(&["bond0", "-i"], "");
    assert_eq!(
        failure(&o).0,
        107,
        "lock released: the run goes on to the missing tool file"
    );
}

// ---------------------------------------------------------------------------------------------
// Post actions go through the OS-action gate.

#[test]
fn post_actions_are_simulated() {
    let root = networkd_root().file(
        TOOL_FILE,
        &seed_tool_file("eth0", "eth1", "10.0.0.1", "255.0.0.0", "N", "1"),
    );
    let o = root.run(&["bond0", "-i"], "");
    assert_ok(&o);
    assert_eq!(stdout(&o), "bond0 complete.\nServer reboot.\nwould reboot (simulated; --real-os-actions performs it: systemctl reboot)\n");
    // Even with --real-os-actions nothing happens for a root that is not /.
    let o = root.run(&["bond0", "-i", "--real-os-actions"], "");
    assert_ok(&o);
    assert!(
        stdout(&o).contains("would reboot (simulated because --root is not /"),
        "{}",
        stdout(&o)
    );
}

// ---------------------------------------------------------------------------------------------
// Status (-s) on real driver outputs.

fn status_root(fixture: &str, rel: &str) -> (Root, String) {
    let text = fs::read_to_string(fixtures().join("status").join(fixture)).expect("fixture");
    (Root::new().file(rel, &text), text)
}

fn status_json(root: &Root, bond: &str) -> serde_json::Value {
    let o = root.run(&[bond, "-s", "--json"], "");
    assert_ok(&o);
    serde_json::from_slice(&o.stdout).expect("json")
}

#[test]
fn status_plain_is_the_driver_file() {
    for fixture in fs::read_dir(fixtures().join("status"))
        .expect("fixtures")
        .flatten()
    {
        let name = fixture.file_name().to_string_lossy().into_owned();
        let (root, text) = status_root(&name, "proc/net/bonding/bond0");
        let o = root.run(&["bond0", "-s"], "");
        assert_ok(&o);
        assert_eq!(stdout(&o), text, "{name}");
    }
}

#[test]
fn status_json_active_backup() {
    let (root, _) = status_root("insights-active-backup.txt", "proc/net/bonding/bond1");
    let j = status_json(&root, "bond1");
    assert_eq!(j["bond"], "bond1");
    assert_eq!(j["mode"], "active-backup");
    assert_eq!(j["mode_text"], "fault-tolerance (active-backup)");
    assert_eq!(j["mii_status"], "up");
    assert_eq!(j["active_slave"], "enp17s0f0");
    assert_eq!(j["primary_slave"], serde_json::Value::Null);
    assert_eq!(j["mii_polling_interval_ms"], 100);
    assert_eq!(j["slaves"].as_array().map(Vec::len), Some(2));
    assert_eq!(j["slaves"][1]["interface"], "enp17s0f1");
    assert_eq!(j["slaves"][1]["mii_status"], "up");
    assert_eq!(j["slaves"][1]["link_failure_count"], 0);
    assert_eq!(j["slaves"][1]["permanent_hw_addr"], "00:1f:f3:af:d3:f1");
    assert_eq!(j["slaves"][0]["speed"], "10000 Mbps");

    let (root, _) = status_root("insights-active-backup-arp.txt", "proc/net/bonding/bond0");
    let j = status_json(&root, "bond0");
    assert_eq!(j["primary_slave"], "em3");
    assert_eq!(j["active_slave"], "em3");
    assert_eq!(j["slaves"][0]["link_failure_count"], 92028);
    assert_eq!(j["slaves"][1]["link_failure_count"], 71524);
}

#[test]
fn status_json_balance_rr_kernel_doc_seed_and_2_4() {
    let (root, _) = status_root("kernel-doc-balance-rr.txt", "proc/net/bonding/bond0");
    let j = status_json(&root, "bond0");
    assert_eq!(j["mode"], "balance-rr");
    assert_eq!(j["driver_version"], "2.6.1 (October 29, 2004)");
    assert_eq!(j["mii_polling_interval_ms"], 1000);
    assert_eq!(j["slaves"][0]["interface"], "eth1");
    assert_eq!(j["slaves"][0]["link_failure_count"], 1);
    assert_eq!(j["slaves"][0]["permanent_hw_addr"], serde_json::Value::Null);

    let (root, _) = status_root("seed-balance-rr.txt", "proc/net/bonding/bond0");
    let j = status_json(&root, "bond0");
    assert_eq!(j["slaves"][1]["permanent_hw_addr"], "00:04:23:A6:91:F6");
    assert_eq!(j["active_slave"], serde_json::Value::Null);

    // Kernel 2.4 kept the file at /proc/net/bondN/info (BOND-12).
    let (root, text) = status_root("linux-ip-2.4-info-balance-rr.txt", "proc/net/bond0/info");
    let o = root.run(&["bond0", "-s"], "");
    assert_ok(&o);
    assert_eq!(stdout(&o), text);
    let j = status_json(&root, "bond0");
    assert_eq!(
        j["source"],
        root.path()
            .join("proc/net/bond0/info")
            .display()
            .to_string()
    );
    assert_eq!(j["mode"], "balance-rr");
    assert_eq!(j["driver_version"], serde_json::Value::Null);
    assert_eq!(j["slaves"][1]["interface"], "eth3");
}

#[test]
fn status_json_802_3ad() {
    let (root, _) = status_root("blackmetalz-802.3ad.txt", "proc/net/bonding/bond0");
    let j = status_json(&root, "bond0");
    assert_eq!(j["mode"], "802.3ad");
    assert_eq!(j["transmit_hash_policy"], "layer3+4");
    assert_eq!(j["lacp_rate"], "fast");
    assert_eq!(j["active_aggregator_id"], "2");
    assert_eq!(j["slaves"].as_array().map(Vec::len), Some(2));
    assert_eq!(j["slaves"][0]["mii_status"], "down");
    assert_eq!(j["slaves"][0]["aggregator_id"], "1");
    assert_eq!(j["slaves"][0]["link_failure_count"], 2);
    assert_eq!(j["slaves"][0]["permanent_hw_addr"], "00:25:90:85:81:f2");
    assert_eq!(j["slaves"][1]["speed"], "1000 Mbps");

    let (root, _) = status_root("insights-802.3ad.txt", "proc/net/bonding/bond0");
    let j = status_json(&root, "bond0");
    assert_eq!(j["active_aggregator_id"], "3");
    assert_eq!(j["slaves"][1]["aggregator_id"], "2");
    assert_eq!(j["slaves"][1]["permanent_hw_addr"], "00:16:35:5e:02:7e");
}

#[test]
fn status_json_from_bug_reports() {
    // openwrt/openwrt#18809: the mode carries a fail_over_mac remark; no slave blocks pasted.
    let (root, _) = status_root(
        "openwrt-18809-active-backup-header.txt",
        "proc/net/bonding/bond0",
    );
    let j = status_json(&root, "bond0");
    assert_eq!(j["mode"], "active-backup");
    assert_eq!(
        j["mode_text"],
        "fault-tolerance (active-backup) (fail_over_mac active)"
    );
    assert_eq!(j["active_slave"], "lan3");
    assert_eq!(j["driver_version"], "v6.6.73");
    assert_eq!(j["slaves"].as_array().map(Vec::len), Some(0));

    // accelerated-text#387: LACP never formed an aggregator.
    let (root, _) = status_root(
        "issue-387-802.3ad-no-aggregator.txt",
        "proc/net/bonding/bond0",
    );
    let j = status_json(&root, "bond0");
    assert_eq!(j["mode"], "802.3ad");
    assert_eq!(j["active_aggregator_id"], serde_json::Value::Null);
    assert_eq!(j["slaves"][0]["aggregator_id"], "N/A");
    assert_eq!(j["slaves"][1]["permanent_hw_addr"], "00:0c:29:f5:b7:1b");
}

// ---------------------------------------------------------------------------------------------
// The real tools' own validators, where they can be found on this machine (docs/BOND.md,
// "Validating the generated files", says how to get them without installing services).

fn tool(env: &str, candidates: &[&str]) -> Option<PathBuf> {
    std::env::var_os(env)
        .map(PathBuf::from)
        .into_iter()
        .chain(candidates.iter().map(PathBuf::from))
        .find(|p| p.is_file())
}

fn validator_env(cmd: &mut Command, bin: &Path) {
    // An unpacked package keeps its libraries beside usr/bin: <x>/usr/bin/nmcli -> <x>/usr/lib/...
    if let Some(base) = bin.ancestors().nth(3) {
        let libs = base.join("usr/lib/x86_64-linux-gnu");
        if libs.is_dir() {
            cmd.env("LD_LIBRARY_PATH", libs);
        }
    }
}

#[test]
fn networkmanager_keyfiles_pass_nmcli_offline() {
    let Some(nmcli) = tool(
        "UPKEEP_NMCLI",
        &["/usr/bin/nmcli", "/tmp/nmx/root/usr/bin/nmcli"],
    ) else {
        crate::servers::skip(module_path!(), "nmcli not found (set UPKEEP_NMCLI)");
        return;
    };
    let dir = fixtures().join("expected/networkmanager/etc/NetworkManager/system-connections");
    for entry in fs::read_dir(&dir).expect("expected keyfiles").flatten() {
        let text = fs::read_to_string(entry.path()).expect("keyfile");
        let mut cmd = Command::new(&nmcli);
        cmd.args([
            "--offline",
            "connection",
            "modify",
            "connection.autoconnect-priority",
            "0",
        ]);
        validator_env(&mut cmd, &nmcli);
        let o = run_with_stdin(cmd, &text);
        assert_ok(&o);
        let normalized = stdout(&o);
        assert!(normalized.contains("[connection]"), "{normalized}");
        if text.contains("\ntype=bond\n") {
            assert!(normalized.contains("mode=802.3ad"), "{normalized}");
            assert!(
                normalized.contains("address1=172.28.125.70/24"),
                "{normalized}"
            );
        }
    }
}

#[test]
fn netplan_yaml_passes_netplan_generate_and_matches_networkd_output() {
    let Some(generate) = tool(
        "UPKEEP_NETPLAN_GENERATE",
        &[
            "/usr/libexec/netplan/generate",
            "/usr/lib/netplan/generate",
            "/tmp/nmx/root/usr/libexec/netplan/generate",
        ],
    ) else {
        crate::servers::skip(
            module_path!(),
            "netplan's generate not found (set UPKEEP_NETPLAN_GENERATE)",
        );
        return;
    };
    let root = Root::new().file(
        "etc/netplan/90-upkeep-bond0.yaml",
        &fs::read_to_string(fixtures().join("expected/netplan/etc/netplan/90-upkeep-bond0.yaml"))
            .expect("expected yaml"),
    );
    let mut cmd = Command::new(&generate);
    cmd.arg("--root-dir").arg(root.path());
    if let Some(base) = generate.ancestors().nth(4) {
        let libs = base.join("usr/lib/x86_64-linux-gnu");
        if libs.is_dir() {
            cmd.env("LD_LIBRARY_PATH", libs);
        }
    }
    let o = cmd.output().expect("run generate");
    assert_ok(&o);
    // netplan renders the same bond for networkd as the tool's own networkd back-end does.
    let netdev = root.read("run/systemd/network/10-netplan-bond0.netdev");
    assert!(netdev.contains("Kind=bond"), "{netdev}");
    assert!(netdev.contains("Mode=active-backup"), "{netdev}");
    assert!(netdev.contains("MIIMonitorSec=100ms"), "{netdev}");
    let ours = fs::read_to_string(
        fixtures().join("expected/networkd/etc/systemd/network/00-bond0.netdev"),
    )
    .expect("ours");
    assert!(ours.contains("Mode=active-backup") && ours.contains("MIIMonitorSec=100ms"));
    let eth0 = root.read("run/systemd/network/10-netplan-eth0.network");
    assert!(eth0.contains("Bond=bond0"), "{eth0}");
}

#[test]
fn ifupdown_interfaces_pass_ifquery() {
    let Some(ifquery) = tool(
        "UPKEEP_IFQUERY",
        &[
            "/sbin/ifquery",
            "/usr/sbin/ifquery",
            "/tmp/nmx/root/sbin/ifquery",
        ],
    ) else {
        crate::servers::skip(module_path!(), "ifquery not found (set UPKEEP_IFQUERY)");
        return;
    };
    let file = fixtures().join("expected/ifupdown/etc/network/interfaces");
    let state = tempfile::tempdir().expect("tempdir");
    let o = Command::new(&ifquery)
        .arg("-i")
        .arg(&file)
        .arg("--state-dir")
        .arg(state.path())
        .arg("bond1")
        .output()
        .expect("run ifquery");
    assert_ok(&o);
    let out = stdout(&o);
    assert!(out.contains("bond-slaves: eth0 eth1"), "{out}");
    assert!(out.contains("address: 172.28.125.70"), "{out}");
    assert!(out.contains("bond-mode: active-backup"), "{out}");
}

/// Issue 13: `upkeep bond --help` prints the usage (it said `Parameter error.`, exit 102), and
/// `upkeep bond -s --json | head -1` ends quietly when its reader is gone (it said `Internal
/// error … Broken pipe`).
#[test]
fn help_prints_the_usage_and_a_closed_pipe_ends_quietly() {
    let help = Root::new().run(&["--help"], "");
    assert_ok(&help);
    assert!(
        stdout(&help).starts_with("usage: clpbondcf bondname"),
        "{}",
        stdout(&help)
    );

    let (root, _) = status_root("insights-active-backup.txt", "proc/net/bonding/bond1");
    let mut child = root
        .cmd(&["bond1", "-s", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Close the reading end before the tool writes: its first write meets a closed pipe.
    drop(child.stdout.take());
    let o = child.wait_with_output().expect("wait");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
}

// ---------------------------------------------------------------------------------------------
// Issue 13: the bond keeps the host reachable. In every back-end, a card configured with a
// second IPv4 address, an IPv6 address, default gateways of both families, static routes, DNS
// servers and search domains is bonded; the bond's files carry all of it, the port's do not,
// and the real tools' parsers accept the result and read the settings back.

/// The bond's answers: eth0 and eth1, a new address in eth0's network, no script, no action.
fn carry_root() -> Root {
    Root::new().with_seed_nics().file(
        TOOL_FILE,
        &seed_tool_file("eth0", "eth1", "172.28.125.77", "255.255.255.0", "N", "3"),
    )
}

/// Every file under `<root>/etc` with its content.
fn etc_snapshot(root: &Root) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    walk(&root.path().join("etc"), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = fs::read_to_string(&p).unwrap_or_default();
            (p, text)
        })
        .collect()
}

/// Runs `bond0 -i` and checks nothing was reported as not carried over; then runs it again
/// and checks the second run, which reads the settings back from the bond's own files,
/// changes nothing.
fn bond_carrying(root: &Root) {
    let o = root.run(&["bond0", "-i"], "");
    assert_ok(&o);
    assert!(
        !stderr(&o).contains("not carried") && !stderr(&o).contains("outside the bond"),
        "{}",
        stderr(&o)
    );
    let first = etc_snapshot(root);
    assert_ok(&root.run(&["bond0", "-i"], ""));
    assert_eq!(etc_snapshot(root), first, "a second run changed the files");
}

fn assert_has_all(text: &str, wanted: &[&str], what: &str) {
    for w in wanted {
        assert!(text.contains(w), "{what} lacks {w:?}:\n{text}");
    }
}

fn assert_has_none(text: &str, unwanted: &[&str], what: &str) {
    for w in unwanted {
        assert!(!text.contains(w), "{what} still has {w:?}:\n{text}");
    }
}

/// What every port must have lost.
const PORT_FREE_OF: &[&str] = &[
    "172.28.125.70",
    "172.28.126.70",
    "172.28.125.1",
    "2001:db8:1::",
    "10.20.0.0",
    "9.9.9.9",
    "example.com",
];

/// initscripts and SuSE's scripts *source* ifcfg files: so does this check, with bash, and
/// prints the variables as the scripts see them.
fn sourced(root: &Root, rel: &str, vars: &[&str]) -> String {
    let script = vars
        .iter()
        .map(|v| format!("printf '%s=%s\\n' {v} \"${v}\";"))
        .collect::<String>();
    let o = Command::new("bash")
        .arg("-c")
        .arg(format!("set -e; . \"$1\"; {script}"))
        .arg("bash")
        .arg(root.path().join(rel))
        .output()
        .expect("bash");
    assert_ok(&o);
    stdout(&o)
}

#[test]
fn carry_ifcfg_redhat() {
    let dir = "etc/sysconfig/network-scripts";
    let root = carry_root()
        .file(
            &format!("{dir}/ifcfg-eth0"),
            "DEVICE=eth0\nBOOTPROTO=static\nIPADDR=172.28.125.70\nPREFIX=24\nIPADDR1=172.28.126.70\nPREFIX1=24\nGATEWAY=172.28.125.1\nDNS1=172.28.125.2\nDNS2=9.9.9.9\nDOMAIN=\"example.com corp.example.com\"\nIPV6INIT=yes\nIPV6ADDR=2001:db8:1::70/64\nIPV6_DEFAULTGW=2001:db8:1::1\nONBOOT=yes\n",
        )
        .file(
            &format!("{dir}/route-eth0"),
            "10.20.0.0/16 via 172.28.125.254 metric 100 dev eth0\n",
        )
        .file(
            &format!("{dir}/route6-eth0"),
            "2001:db8:99::/48 via 2001:db8:1::fe dev eth0\n",
        )
        .file(&format!("{dir}/ifcfg-eth1"), "DEVICE=eth1\nBOOTPROTO=dhcp\nONBOOT=yes\n");
    bond_carrying(&root);
    let vars = sourced(
        &root,
        &format!("{dir}/ifcfg-bond0"),
        &[
            "IPADDR",
            "NETMASK",
            "IPADDR1",
            "PREFIX1",
            "GATEWAY",
            "DNS1",
            "DNS2",
            "DOMAIN",
            "IPV6INIT",
            "IPV6ADDR",
            "IPV6_DEFAULTGW",
        ],
    );
    assert_eq!(
        vars,
        "IPADDR=172.28.125.77\nNETMASK=255.255.255.0\nIPADDR1=172.28.126.70\nPREFIX1=24\nGATEWAY=172.28.125.1\nDNS1=172.28.125.2\nDNS2=9.9.9.9\nDOMAIN=example.com corp.example.com\nIPV6INIT=yes\nIPV6ADDR=2001:db8:1::70/64\nIPV6_DEFAULTGW=2001:db8:1::1\n"
    );
    assert_eq!(
        root.read(&format!("{dir}/route-bond0")),
        "10.20.0.0/16 via 172.28.125.254 metric 100 dev bond0\n"
    );
    assert_eq!(
        root.read(&format!("{dir}/route6-bond0")),
        "2001:db8:99::/48 via 2001:db8:1::fe dev bond0\n"
    );
    for port in ["eth0", "eth1"] {
        let rel = format!("{dir}/ifcfg-{port}");
        assert_has_none(&root.read(&rel), PORT_FREE_OF, &rel);
        assert_eq!(
            sourced(&root, &rel, &["BOOTPROTO", "SLAVE", "MASTER", "IPADDR"]),
            "BOOTPROTO=none\nSLAVE=yes\nMASTER=bond0\nIPADDR=\n"
        );
    }
    for moved in ["route-eth0", "route6-eth0"] {
        let rel = format!("{dir}/{moved}");
        assert_has_none(&root.read(&rel), PORT_FREE_OF, &rel);
    }
}

#[test]
fn carry_ifcfg_suse() {
    let dir = "etc/sysconfig/network";
    let root = carry_root()
        .file(
            &format!("{dir}/ifcfg-eth0"),
            "BOOTPROTO='static'\nSTARTMODE='auto'\nIPADDR='172.28.125.70/24'\nIPADDR_1='172.28.126.70/24'\nIPADDR_v6='2001:db8:1::70/64'\n",
        )
        .file(
            &format!("{dir}/ifroute-eth0"),
            "default 172.28.125.1 - eth0\ndefault 2001:db8:1::1 - eth0\n",
        )
        // The global routes file: a line for eth0 moves, a line for any interface stays.
        .file(
            &format!("{dir}/routes"),
            "# static routes\n10.20.0.0 172.28.125.254 255.255.0.0 eth0 metric 100\n10.40.0.0/16 172.28.125.253 - -\n",
        );
    bond_carrying(&root);
    let vars = sourced(
        &root,
        &format!("{dir}/ifcfg-bond0"),
        &[
            "IPADDR",
            "NETMASK",
            "IPADDR_1",
            "IPADDR_2",
            "BONDING_SLAVE0",
        ],
    );
    assert_eq!(
        vars,
        "IPADDR=172.28.125.77\nNETMASK=255.255.255.0\nIPADDR_1=172.28.126.70/24\nIPADDR_2=2001:db8:1::70/64\nBONDING_SLAVE0=eth0\n"
    );
    assert_eq!(
        root.read(&format!("{dir}/ifroute-bond0")),
        "default 172.28.125.1 - bond0\ndefault 2001:db8:1::1 - bond0\n10.20.0.0/16 172.28.125.254 - bond0 metric 100\n"
    );
    assert_eq!(
        root.read(&format!("{dir}/routes")),
        "# static routes\n10.40.0.0/16 172.28.125.253 - -\n"
    );
    let port = root.read(&format!("{dir}/ifcfg-eth0"));
    assert_eq!(port, "BOOTPROTO='none'\nSTARTMODE='auto'\n");
    assert_has_none(
        &root.read(&format!("{dir}/ifroute-eth0")),
        PORT_FREE_OF,
        "ifroute-eth0",
    );
}

#[test]
fn carry_networkmanager_and_nmcli_reads_it_back() {
    let dir = "etc/NetworkManager/system-connections";
    let root = carry_root().file(
        &format!("{dir}/Wired connection 1.nmconnection"),
        "[connection]\nid=Wired connection 1\nuuid=2f1e0b43-77a9-4b39-9b1c-1f6a7f1a1a01\ntype=ethernet\ninterface-name=eth0\n\n[ipv4]\naddress1=172.28.125.70/24,172.28.125.1\naddress2=172.28.126.70/24\ndns=172.28.125.2;9.9.9.9;\ndns-search=example.com;\nmethod=manual\nroute1=10.20.0.0/16,172.28.125.254,100\n\n[ipv6]\naddress1=2001:db8:1::70/64\ngateway=2001:db8:1::1\nmethod=manual\nroute1=2001:db8:99::/48,2001:db8:1::fe\n",
    );
    bond_carrying(&root);
    let bond = root.read(&format!("{dir}/bond0.nmconnection"));
    let wanted_v4 = [
        "address1=172.28.125.77/24\n",
        "address2=172.28.126.70/24\n",
        "gateway=172.28.125.1\n",
        "dns=172.28.125.2;9.9.9.9;\n",
        "dns-search=example.com;\n",
        "route1=10.20.0.0/16,172.28.125.254,100\n",
    ];
    let wanted_v6 = [
        "address1=2001:db8:1::70/64\n",
        "gateway=2001:db8:1::1\n",
        "method=manual\n",
        "route1=2001:db8:99::/48,2001:db8:1::fe\n",
    ];
    let (v4, v6) = bond.split_once("[ipv6]").expect("ipv6 section");
    assert_has_all(v4, &wanted_v4, "bond0 [ipv4]");
    assert_has_all(v6, &wanted_v6, "bond0 [ipv6]");
    for port in ["eth0", "eth1"] {
        let rel = format!("{dir}/bond0-slave-{port}.nmconnection");
        assert_has_none(&root.read(&rel), PORT_FREE_OF, &rel);
    }
    assert!(root
        .read(&format!("{dir}/Wired connection 1.nmconnection"))
        .contains("autoconnect=false"));

    let Some(nmcli) = tool(
        "UPKEEP_NMCLI",
        &["/usr/bin/nmcli", "/tmp/nmx/root/usr/bin/nmcli"],
    ) else {
        crate::servers::skip(module_path!(), "nmcli not found (set UPKEEP_NMCLI)");
        return;
    };
    // libnm parses and verifies the profile and prints it normalised: the settings survive.
    let mut cmd = Command::new(&nmcli);
    cmd.args([
        "--offline",
        "connection",
        "modify",
        "connection.autoconnect-priority",
        "0",
    ]);
    validator_env(&mut cmd, &nmcli);
    let o = run_with_stdin(cmd, &bond);
    assert_ok(&o);
    let normalized = stdout(&o);
    let (v4, v6) = normalized.split_once("[ipv6]").expect("ipv6 section");
    // libnm writes the gateway into the first address (`address1=a/p,gw`), its own form.
    let same_with_gateway_in_address = |wanted: &[&'static str], gateway_form: &'static str| {
        let mut w: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|l| !l.starts_with("address1=") && !l.starts_with("gateway="))
            .collect();
        w.push(gateway_form);
        w
    };
    assert_has_all(
        v4,
        &same_with_gateway_in_address(&wanted_v4, "address1=172.28.125.77/24,172.28.125.1\n"),
        "nmcli's bond0 [ipv4]",
    );
    assert_has_all(
        v6,
        &same_with_gateway_in_address(&wanted_v6, "address1=2001:db8:1::70/64,2001:db8:1::1\n"),
        "nmcli's bond0 [ipv6]",
    );
}

const NETWORKD_CARRIED: &[&str] = &[
    "Address=172.28.125.77/24\n",
    "Address=172.28.126.70/24\n",
    "Address=2001:db8:1::70/64\n",
    "Gateway=172.28.125.1\n",
    "Gateway=2001:db8:1::1\n",
    "DNS=172.28.125.2\n",
    "DNS=9.9.9.9\n",
    "Domains=example.com\n",
    "[Route]\nDestination=10.20.0.0/16\nGateway=172.28.125.254\nMetric=100\n",
];

#[test]
fn carry_networkd() {
    let dir = "etc/systemd/network";
    let root = carry_root().file(
        &format!("{dir}/10-eth0.network"),
        "[Match]\nName=eth0\n\n[Network]\nAddress=172.28.125.70/24\nAddress=2001:db8:1::70/64\nGateway=172.28.125.1\nGateway=2001:db8:1::1\nDNS=172.28.125.2 9.9.9.9\nDomains=example.com\n\n[Address]\nAddress=172.28.126.70/24\n\n[Route]\nDestination=10.20.0.0/16\nGateway=172.28.125.254\nMetric=100\n",
    );
    bond_carrying(&root);
    let bond = root.read(&format!("{dir}/00-bond0.network"));
    assert_has_all(&bond, NETWORKD_CARRIED, "00-bond0.network");
    for port in ["eth0", "eth1"] {
        let rel = format!("{dir}/00-bond0-slave-{port}.network");
        assert_has_none(&root.read(&rel), PORT_FREE_OF, &rel);
    }
    // The ports' files come first (00-), so networkd never applies 10-eth0.network again.
    assert!(format!("{dir}/00-bond0-slave-eth0.network") < format!("{dir}/10-eth0.network"));
}

#[test]
fn carry_ifupdown_and_ifquery_reads_it_back() {
    let root = carry_root().file(
        "etc/network/interfaces",
        "auto lo eth0\niface lo inet loopback\n\niface eth0 inet static\n    address 172.28.125.70/24\n    gateway 172.28.125.1\n    dns-nameservers 172.28.125.2 9.9.9.9\n    dns-search example.com\n    up ip addr add 172.28.126.70/24 dev eth0\n    up ip route add 10.20.0.0/16 via 172.28.125.254 metric 100 dev eth0\n    down ip route del 10.20.0.0/16 via 172.28.125.254 dev eth0\n\niface eth0 inet6 static\n    address 2001:db8:1::70/64\n    gateway 2001:db8:1::1\n    up ip -6 route add 2001:db8:99::/48 via 2001:db8:1::fe dev eth0\n\niface eth1 inet dhcp\n",
    );
    bond_carrying(&root);
    let text = root.read("etc/network/interfaces");
    let inet = [
        "address 172.28.125.77\n",
        "gateway 172.28.125.1\n",
        "dns-nameservers 172.28.125.2 9.9.9.9\n",
        "dns-search example.com\n",
        "up ip addr add 172.28.126.70/24 dev bond0\n",
        "up ip route add 10.20.0.0/16 via 172.28.125.254 metric 100 dev bond0\n",
    ];
    let inet6 = [
        "iface bond0 inet6 static\n    address 2001:db8:1::70/64\n    gateway 2001:db8:1::1\n",
        "up ip -6 route add 2001:db8:99::/48 via 2001:db8:1::fe dev bond0\n",
    ];
    assert_has_all(&text, &inet, "interfaces");
    assert_has_all(&text, &inet6, "interfaces");
    assert!(text.contains("iface eth0 inet manual\n") && !text.contains("iface eth0 inet6"));
    assert_has_none(
        text.split("iface eth0 inet manual").nth(1).unwrap_or(""),
        PORT_FREE_OF,
        "the ports' stanzas",
    );

    let Some(ifquery) = tool(
        "UPKEEP_IFQUERY",
        &[
            "/sbin/ifquery",
            "/usr/sbin/ifquery",
            "/tmp/nmx/root/sbin/ifquery",
        ],
    ) else {
        crate::servers::skip(module_path!(), "ifquery not found (set UPKEEP_IFQUERY)");
        return;
    };
    let state = tempfile::tempdir().expect("tempdir");
    let query = |iface: &str| {
        let o = Command::new(&ifquery)
            .arg("-i")
            .arg(root.path().join("etc/network/interfaces"))
            .arg("--state-dir")
            .arg(state.path())
            .arg(iface)
            .output()
            .expect("run ifquery");
        assert_ok(&o);
        stdout(&o)
    };
    let bond = query("bond0");
    assert_has_all(
        &bond,
        &[
            "address: 172.28.125.77",
            "gateway: 172.28.125.1",
            "dns-nameservers: 172.28.125.2 9.9.9.9",
            "dns-search: example.com",
            "up: ip route add 10.20.0.0/16 via 172.28.125.254 metric 100 dev bond0",
            "bond-slaves: eth0 eth1",
        ],
        "ifquery bond0",
    );
    assert_has_none(&query("eth0"), PORT_FREE_OF, "ifquery eth0");
}

/// ifupdown: only `interfaces` is edited; a card configured in `interfaces.d/` is named.
#[test]
fn carry_ifupdown_warns_about_cards_in_interfaces_d() {
    let root = carry_root()
        .file(
            "etc/network/interfaces",
            "auto lo\niface lo inet loopback\nsource /etc/network/interfaces.d/*\n",
        )
        .file(
            "etc/network/interfaces.d/eth0",
            "auto eth0\niface eth0 inet static\n    address 172.28.125.70/24\n    gateway 172.28.125.1\n",
        );
    let o = root.run(&["bond0", "-i"], "");
    assert_ok(&o);
    assert!(
        stderr(&o)
            .contains("etc/network/interfaces.d/eth0 still configures eth0 and was not edited"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn carry_netplan_and_netplan_generate_renders_it_on_the_bond() {
    let root = carry_root().file(
        "etc/netplan/50-cloud-init.yaml",
        "# written by cloud-init\nnetwork:\n  version: 2\n  ethernets:\n    eth0:\n      match:\n        macaddress: \"00:30:13:f1:6b:4e\"\n      set-name: eth0\n      addresses:\n        - 172.28.125.70/24\n        - 172.28.126.70/24\n        - \"2001:db8:1::70/64\"\n      routes:\n        - to: default\n          via: 172.28.125.1\n        - to: \"::/0\"\n          via: \"2001:db8:1::1\"\n        - to: 10.20.0.0/16\n          via: 172.28.125.254\n          metric: 100\n      nameservers:\n        addresses: [172.28.125.2, 9.9.9.9]\n        search: [example.com]\n    eth1:\n      dhcp4: true\n",
    );
    bond_carrying(&root);
    let ours = root.read("etc/netplan/90-upkeep-bond0.yaml");
    assert_has_all(
        &ours,
        &[
            "addresses: [172.28.125.77/24, 172.28.126.70/24, \"2001:db8:1::70/64\"]\n",
            "- to: default\n          via: 172.28.125.1\n",
            "- to: default\n          via: \"2001:db8:1::1\"\n",
            "- to: 10.20.0.0/16\n          via: 172.28.125.254\n          metric: 100\n",
            "nameservers:\n        addresses: [172.28.125.2, 9.9.9.9]\n        search: [example.com]\n",
        ],
        "90-upkeep-bond0.yaml",
    );
    // The installer's file keeps everything but the moved settings, comments included.
    assert_eq!(
        root.read("etc/netplan/50-cloud-init.yaml"),
        "# written by cloud-init\nnetwork:\n  version: 2\n  ethernets:\n    eth0:\n      match:\n        macaddress: \"00:30:13:f1:6b:4e\"\n      set-name: eth0\n    eth1:\n      dhcp4: true\n"
    );

    let Some(generate) = tool(
        "UPKEEP_NETPLAN_GENERATE",
        &[
            "/usr/libexec/netplan/generate",
            "/usr/lib/netplan/generate",
            "/tmp/nmx/root/usr/libexec/netplan/generate",
        ],
    ) else {
        crate::servers::skip(
            module_path!(),
            "netplan's generate not found (set UPKEEP_NETPLAN_GENERATE)",
        );
        return;
    };
    // netplan merges both files as it would on the host and renders networkd files.
    let mut cmd = Command::new(&generate);
    cmd.arg("--root-dir").arg(root.path());
    if let Some(base) = generate.ancestors().nth(4) {
        let libs = base.join("usr/lib/x86_64-linux-gnu");
        if libs.is_dir() {
            cmd.env("LD_LIBRARY_PATH", libs);
        }
    }
    let o = cmd.output().expect("run generate");
    assert_ok(&o);
    let bond = root.read("run/systemd/network/10-netplan-bond0.network");
    assert_has_all(
        &bond,
        &[
            "Address=172.28.125.77/24",
            "Address=172.28.126.70/24",
            "Address=2001:db8:1::70/64",
            "Gateway=172.28.125.1",
            "Gateway=2001:db8:1::1",
            "DNS=172.28.125.2",
            "DNS=9.9.9.9",
            "Domains=example.com",
            "Destination=10.20.0.0/16\nGateway=172.28.125.254\nMetric=100",
        ],
        "netplan's bond0.network",
    );
    let eth0 = root.read("run/systemd/network/10-netplan-eth0.network");
    assert!(eth0.contains("Bond=bond0"), "{eth0}");
    assert_has_none(&eth0, PORT_FREE_OF, "netplan's eth0.network");
    // The tool's own networkd back-end writes the same keys netplan's renderer does.
    for key in ["Gateway=", "DNS=", "Domains=", "Destination=", "Metric="] {
        assert!(
            NETWORKD_CARRIED.iter().any(|w| w.contains(key)) && bond.contains(key),
            "{key}"
        );
    }
}

/// What the tool cannot carry is named, never dropped in silence; a gateway the new address
/// cannot reach is pointed out before the operator restarts the network.
#[test]
fn carry_warns_about_what_it_cannot_take_over() {
    let root = Root::new()
        .with_seed_nics()
        .file(
            TOOL_FILE,
            &seed_tool_file("eth0", "eth1", "192.168.9.5", "255.255.255.0", "N", "3"),
        )
        .file(
            "etc/systemd/network/10-eth0.network",
            "[Match]\nName=eth0\n\n[Network]\nAddress=172.28.125.70/24\nGateway=172.28.125.1\n\n[Route]\nDestination=10.30.0.0/16\nGateway=172.28.125.254\nTable=100\n",
        );
    let o = root.run(&["bond0", "-i"], "");
    assert_ok(&o);
    let err = stderr(&o);
    assert!(
        err.contains("not carried over to the bond (not understood): etc/systemd/network/10-eth0.network: [Route] Table=100"),
        "{err}"
    );
    assert!(
        err.contains(
            "the default gateway 172.28.125.1 is outside the bond's network 192.168.9.5/24"
        ),
        "{err}"
    );
    // The gateway is still carried: the operator may be about to renumber the router too.
    assert!(root
        .read("etc/systemd/network/00-bond0.network")
        .contains("Gateway=172.28.125.1\n"));
}

/// NetworkManager switches IPv6 off on a profile that says `method=disabled`, which the bond's
/// profile used to say unconditionally: a card with IPv6 autoconfiguration (NetworkManager's
/// default when `[ipv6]` is absent, as in the dialogue test's fixture) keeps it on the bond, a
/// card without IPv6 does not gain it.
#[test]
fn carry_networkmanager_ipv6_autoconfiguration_only_where_the_card_had_it() {
    let dir = "etc/NetworkManager/system-connections";
    for (ipv6, want) in [
        ("\n[ipv6]\nmethod=auto\n", "method=auto"),
        ("\n[ipv6]\nmethod=ignore\n", "method=disabled"),
        ("", "method=auto"),
    ] {
        let root = carry_root().file(
            &format!("{dir}/eth0.nmconnection"),
            &format!("[connection]\nid=eth0\ntype=ethernet\ninterface-name=eth0\n\n[ipv4]\naddress1=172.28.125.70/24\nmethod=manual\n{ipv6}"),
        );
        bond_carrying(&root);
        let bond = root.read(&format!("{dir}/bond0.nmconnection"));
        let v6 = bond.split_once("[ipv6]").map(|(_, v)| v).unwrap_or("");
        assert!(v6.contains(want), "{ipv6:?}: {bond}");
    }
}
