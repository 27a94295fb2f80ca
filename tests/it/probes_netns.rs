//! `nic_link` and `ip` against real kernel links, in network namespaces this test creates and
//! removes itself (never any outside address, never the host's own interfaces): a veth pair
//! joins two namespaces; the probes run inside the first (the test binary re-runs itself there
//! through `ip netns exec`), while the outer test takes the peer's link down and up again.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use upkeep::host::LinuxHost;
use upkeep_actors::host::{Probes, Verdict};
use upkeep_config::OsActions;

/// Set in the re-run inside the namespace: the verdict both probes must give.
const EXPECT: &str = "UPKEEP_NETNS_EXPECT";

/// Two namespaces joined by a veth pair; removed on drop, whatever happened.
struct Lab {
    a: String,
    b: String,
    veth_a: String,
    veth_b: String,
    peer: &'static str,
}

impl Lab {
    fn ip(args: &[&str]) -> Result<(), String> {
        let out = Command::new("ip")
            .args(args)
            .output()
            .map_err(|e| format!("ip: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "ip {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    fn new() -> Result<Lab, String> {
        let id = std::process::id() % 100_000;
        let lab = Lab {
            a: format!("upk-{id}-a"),
            b: format!("upk-{id}-b"),
            veth_a: format!("upkv{id}a"),
            veth_b: format!("upkv{id}b"),
            // Addresses exist only inside the two namespaces made here.
            peer: "10.254.77.2",
        };
        let veth_b = lab.veth_b.clone();
        Lab::ip(&["netns", "add", &lab.a])?;
        Lab::ip(&["netns", "add", &lab.b])?;
        Lab::ip(&[
            "-n",
            &lab.a,
            "link",
            "add",
            &lab.veth_a,
            "type",
            "veth",
            "peer",
            "name",
            &veth_b,
            "netns",
            &lab.b,
        ])?;
        Lab::ip(&[
            "-n",
            &lab.a,
            "addr",
            "add",
            "10.254.77.1/30",
            "dev",
            &lab.veth_a,
        ])?;
        Lab::ip(&[
            "-n",
            &lab.b,
            "addr",
            "add",
            "10.254.77.2/30",
            "dev",
            &veth_b,
        ])?;
        Lab::ip(&["-n", &lab.a, "link", "set", &lab.veth_a, "up"])?;
        Lab::ip(&["-n", &lab.b, "link", "set", &veth_b, "up"])?;
        Lab::ip(&["-n", &lab.a, "link", "set", "lo", "up"])?;
        Ok(lab)
    }

    fn peer_link(&self, up: bool) {
        if let Err(e) = Lab::ip(&[
            "-n",
            &self.b,
            "link",
            "set",
            &self.veth_b,
            if up { "up" } else { "down" },
        ]) {
            panic!("{e}");
        }
    }

    /// Run the inner test inside namespace `a`, expecting `verdict` from both probes.
    fn probe_inside(&self, verdict: &str) {
        let exe = std::env::current_exe().expect("test binary path");
        let out = Command::new("ip")
            .args(["netns", "exec", &self.a])
            .arg(exe)
            .args([
                "probes_netns::inside_the_namespace",
                "--exact",
                "--ignored",
                "--nocapture",
            ])
            .env(EXPECT, verdict)
            .env("UPKEEP_NETNS_IFACE", &self.veth_a)
            .env("UPKEEP_NETNS_PEER", self.peer)
            .output()
            .expect("inner test ran");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "expecting {verdict}:\n{stdout}\n{stderr}"
        );
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth ends in it.
        let _ = Lab::ip(&["netns", "del", &self.a]);
        let _ = Lab::ip(&["netns", "del", &self.b]);
    }
}

#[test]
fn nic_link_and_ip_follow_a_link_that_drops_and_returns() {
    let lab = match Lab::new() {
        Ok(lab) => lab,
        Err(e) => {
            crate::servers::skip(
                module_path!(),
                &format!("cannot build the network namespaces ({e}); needs root and iproute2"),
            );
            return;
        }
    };
    lab.probe_inside("normal");
    lab.peer_link(false);
    lab.probe_inside("error");
    lab.peer_link(true);
    lab.probe_inside("normal");
}

fn monitor(kind: &str) -> upkeep_config::Monitor {
    let ron = format!(
        r#"(name: "SSS", edition: "SSS", monitors: [(name: "m", kind: {kind}, timeout: "5s", recovery: (target: Sss, final_action: NoOp))])"#
    );
    match upkeep_config::parse(&ron, Path::new("/netns.ron")) {
        Ok(c) => c.monitors[0].clone(),
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs inside a network namespace, started by nic_link_and_ip_follow_a_link_that_drops_and_returns"]
async fn inside_the_namespace() {
    let expect = std::env::var(EXPECT).unwrap_or_default();
    let iface = std::env::var("UPKEEP_NETNS_IFACE").unwrap_or_default();
    let peer = std::env::var("UPKEEP_NETNS_PEER").unwrap_or_default();
    let dir = tempfile::tempdir().expect("tempdir");
    let host =
        Arc::new(LinuxHost::new(OsActions::Simulated, dir.path().to_path_buf()).expect("host"));
    let want = if expect == "normal" {
        Verdict::Normal
    } else {
        Verdict::Error
    };
    // The link state needs a moment to follow the peer (carrier).
    for (kind, name) in [
        (format!(r#"NicLink(interface: "{iface}")"#), "nic_link"),
        (format!(r#"Ip(addresses: ["{peer}"])"#), "ip"),
    ] {
        let m = monitor(&kind);
        let mut last = None;
        for _ in 0..20 {
            let r = host.probe(&m).await;
            if r.verdict == want {
                last = None;
                break;
            }
            last = Some(r);
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(last.is_none(), "{name}: expected {want:?}, got {last:?}");
    }
}
