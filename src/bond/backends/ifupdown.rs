//! Debian ifupdown (`/etc/network/interfaces`, interfaces(5) with ifenslave's `bond-*`
//! options), the modern counterpart of BOND-19/20: the bond gets an `inet static` stanza with
//! `bond-slaves` and step 5's options; each slave's old stanza is replaced by `inet manual`, as
//! the seed turned `ifcfg-ethX` into a slave.
//!
//! The file is edited, not regenerated: only the stanzas and `auto`/`allow-*` mentions of the
//! bond and its two slaves are taken out; everything else (loopback, other cards, comments,
//! `source` lines) stays where it was.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::carry::{Carried, Route};
use super::{carried, read_optional, Backend, BackendKind, BondSetup, FileChange};
use crate::bond::args::BondName;
use crate::bond::errors::BondError;
use crate::bond::{net, params};

pub const FILE: &str = "etc/network/interfaces";

pub struct Ifupdown;

fn is_stanza_keyword(word: &str) -> bool {
    matches!(
        word,
        "iface"
            | "mapping"
            | "auto"
            | "source"
            | "source-directory"
            | "source-dir"
            | "rename"
            | "no-auto-down"
            | "no-scripts"
    ) || word.starts_with("allow-")
}

/// The option lines of `iface <name> inet …`, if such a stanza exists.
fn stanza_options(text: &str, name: &str) -> Option<Vec<(String, String)>> {
    stanza(text, name, "inet").map(|(_, opts)| opts)
}

/// The method (`static`, `dhcp`, …) and option lines of `iface <name> <family> <method>`.
fn stanza(text: &str, name: &str, family: &str) -> Option<(String, Vec<(String, String)>)> {
    let mut method = String::new();
    let mut found: Option<Vec<(String, String)>> = None;
    let mut inside = false;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(first) = words.first() else { continue };
        if first.starts_with('#') {
            continue;
        }
        if is_stanza_keyword(first) {
            if inside {
                return found.map(|o| (method, o));
            }
            inside =
                *first == "iface" && words.get(1) == Some(&name) && words.get(2) == Some(&family);
            if inside {
                method = words.get(3).unwrap_or(&"").to_string();
                found = Some(Vec::new());
            }
        } else if inside {
            if let Some(opts) = found.as_mut() {
                opts.push((first.to_string(), words[1..].join(" ")));
            }
        }
    }
    found.map(|o| (method, o))
}

/// The hook options whose commands run with the interface (interfaces(5)).
fn is_hook(option: &str) -> bool {
    matches!(
        option,
        "up" | "post-up" | "pre-up" | "down" | "pre-down" | "post-down"
    )
}

/// An `up ip [-4|-6] route add …` or `up ip [-6] addr add … dev …` hook: the routes and extra
/// addresses ifupdown has no option for. Returns whether the command was understood.
fn read_hook(c: &mut Carried, source: &str, option: &str, command: &str) -> bool {
    let words: Vec<&str> = command.split_whitespace().collect();
    let Some(rest) = words.strip_prefix(&["ip"]) else {
        return false;
    };
    let rest = match rest.first() {
        Some(&"-4") | Some(&"-6") => &rest[1..],
        _ => rest,
    };
    let up = matches!(option, "up" | "post-up");
    match rest {
        [obj, verb, args @ ..] if obj.starts_with("ro") && "route".starts_with(obj) => {
            match *verb {
                "add" | "replace" if up => {
                    c.add_ip_route(source, &args.join(" "));
                    true
                }
                // The matching clean-up; routes go with the link anyway.
                "del" | "delete" if !up => true,
                _ => false,
            }
        }
        [obj, verb, addr, ..] if obj.starts_with('a') && "address".starts_with(obj) => {
            match *verb {
                "add" if up => {
                    let mut not_first = true;
                    c.add_address(source, addr, &mut not_first);
                    true
                }
                "del" | "delete" if !up => true,
                _ => false,
            }
        }
        _ => false,
    }
}

/// The `inet` and `inet6` static stanzas of `name`: addresses, `gateway`, `dns-nameservers`,
/// `dns-search` (resolvconf's options) and `ip route`/`ip addr` hooks.
fn read_settings(c: &mut Carried, text: &str, name: &str) {
    let mut first_v4 = false;
    for family in ["inet", "inet6"] {
        let Some((method, opts)) = stanza(text, name, family) else {
            continue;
        };
        let source = format!("{FILE} (iface {name} {family})");
        let netmask = opts
            .iter()
            .find(|(k, _)| k == "netmask")
            .map(|(_, v)| v.clone());
        let mut first_address = true;
        for (k, v) in &opts {
            match k.as_str() {
                "address" if method == "static" => {
                    let text = match (&netmask, v.contains('/'), first_address) {
                        (Some(m), false, true) => format!("{v}/{m}"),
                        _ => v.clone(),
                    };
                    first_address = false;
                    c.add_address(&source, &text, &mut first_v4);
                }
                "gateway" => c.add_gateway(&source, v),
                "dns-nameservers" => c.add_dns(&source, v),
                "dns-search" | "dns-domain" => c.add_search(&source, v),
                hook if is_hook(hook) && !read_hook(c, &source, hook, v) => {
                    c.skipped.push(format!("{source}: {hook} {v}"));
                }
                _ => {}
            }
        }
    }
}

fn route_hook(r: &Route, bond: &str) -> String {
    let family = if r.is_v6() { "-6 " } else { "" };
    let mut s = format!("    up ip {family}route add {}", r.to);
    if let Some(via) = r.via {
        s.push_str(&format!(" via {via}"));
    }
    if let Some(m) = r.metric {
        s.push_str(&format!(" metric {m}"));
    }
    s.push_str(&format!(" dev {bond}\n"));
    s
}

/// The options the bond's `inet` stanza gets from what it inherits, and its `inet6` stanza
/// when it inherits IPv6 addresses. Without one, IPv6 routes and the IPv6 default route go
/// to `up ip -6 route` hooks of the `inet` stanza.
fn carried_options(c: &Carried, bond: &str) -> (String, String) {
    let mut inet = String::new();
    if let Some(gw) = c.gateway4 {
        inet.push_str(&format!("    gateway {gw}\n"));
    }
    if !c.dns.is_empty() {
        let dns: Vec<String> = c.dns.iter().map(|d| d.to_string()).collect();
        inet.push_str(&format!("    dns-nameservers {}\n", dns.join(" ")));
    }
    if !c.search.is_empty() {
        inet.push_str(&format!("    dns-search {}\n", c.search.join(" ")));
    }
    for a in c.addresses_v4() {
        inet.push_str(&format!("    up ip addr add {a} dev {bond}\n"));
    }
    for r in c.routes.iter().filter(|r| !r.is_v6()) {
        inet.push_str(&route_hook(r, bond));
    }
    let v6: Vec<&String> = c.addresses_v6().collect();
    let mut inet6 = String::new();
    let target = if v6.is_empty() { &mut inet } else { &mut inet6 };
    if let Some((first, rest)) = v6.split_first() {
        target.push_str(&format!(
            "\niface {bond} inet6 static\n    address {first}\n"
        ));
        if let Some(gw) = c.gateway6 {
            target.push_str(&format!("    gateway {gw}\n"));
        }
        for a in rest {
            target.push_str(&format!("    up ip -6 addr add {a} dev {bond}\n"));
        }
    } else if let Some(gw) = c.gateway6 {
        target.push_str(&format!(
            "    up ip -6 route add default via {gw} dev {bond}\n"
        ));
    }
    for r in c.routes.iter().filter(|r| r.is_v6()) {
        target.push_str(&route_hook(r, bond));
    }
    (inet, inet6)
}

/// `text` without the stanzas of `names` and without those names on `auto`/`allow-*` lines.
fn remove_interfaces(text: &str, names: &[&str]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut skipping = false;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.first() {
            Some(first) if is_stanza_keyword(first) => {
                skipping = false;
                if *first == "iface" && words.get(1).is_some_and(|n| names.contains(n)) {
                    skipping = true;
                    continue;
                }
                if *first == "auto" || first.starts_with("allow-") {
                    let rest: Vec<&str> = words[1..]
                        .iter()
                        .copied()
                        .filter(|w| !names.contains(w))
                        .collect();
                    if rest.len() != words.len() - 1 {
                        if !rest.is_empty() {
                            out.push(format!("{} {}", first, rest.join(" ")));
                        }
                        continue;
                    }
                }
                out.push(line.to_string());
            }
            // Comments inside a removed stanza may describe the next one: keep them.
            Some(first) if skipping && !first.starts_with('#') => {}
            None if skipping => {}
            _ => out.push(line.to_string()),
        }
    }
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    let mut s = out.join("\n");
    if !s.is_empty() {
        s.push('\n');
    }
    s
}

impl Backend for Ifupdown {
    fn kind(&self) -> BackendKind {
        BackendKind::Ifupdown
    }

    fn is_configured(&self, root: &Path, bond: BondName) -> bool {
        std::fs::read_to_string(root.join(FILE))
            .is_ok_and(|t| stanza_options(&t, bond.as_str()).is_some())
    }

    fn nic_address(&self, root: &Path, nic: &str) -> Option<(Ipv4Addr, Ipv4Addr)> {
        let text = std::fs::read_to_string(root.join(FILE)).ok()?;
        let opts = stanza_options(&text, nic)?;
        let get = |k: &str| {
            opts.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        let address = get("address")?;
        if let Some(cidr) = net::parse_cidr(&address) {
            return Some(cidr);
        }
        Some((
            net::parse_ipv4(&address)?,
            net::parse_netmask(&get("netmask")?)?,
        ))
    }

    fn settings_of(&self, root: &Path, name: &str) -> Result<Carried, BondError> {
        let mut c = Carried::default();
        read_settings(
            &mut c,
            &read_optional(&root.join(FILE))?.unwrap_or_default(),
            name,
        );
        Ok(c)
    }

    fn plan(&self, root: &Path, setup: &BondSetup) -> Result<Vec<FileChange>, BondError> {
        let options = params::to_ifupdown(&params::parse(&setup.params)?)?;
        let inherited = carried(self, root, setup)?;
        let (inet, inet6) = carried_options(&inherited, setup.bond.as_str());
        let bond = setup.bond.as_str();
        let old = read_optional(&root.join(FILE))?.unwrap_or_default();
        let mut text = remove_interfaces(&old, &[bond, &setup.nic1, &setup.nic2]);
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!(
            "auto {bond}\niface {bond} inet static\n    address {}\n    netmask {}\n    bond-slaves {} {}\n",
            setup.ip, setup.mask, setup.nic1, setup.nic2
        ));
        for (k, v) in &options {
            text.push_str(&format!("    {k} {v}\n"));
        }
        text.push_str(&inet);
        text.push_str(&inet6);
        for slave in setup.slaves() {
            text.push_str(&format!("\niface {slave} inet manual\n"));
        }
        Ok(vec![FileChange {
            path: PathBuf::from(FILE),
            content: text,
            mode: None,
        }])
    }

    fn warnings(&self, root: &Path, setup: &BondSetup) -> Vec<String> {
        // Only `interfaces` itself is edited; a card configured in a sourced file keeps its
        // stanza there, and its gateway, routes and DNS were not carried over.
        let mut out = Vec::new();
        for path in super::files_with_suffix(&root.join("etc/network/interfaces.d"), "") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for slave in setup.slaves() {
                if ["inet", "inet6"]
                    .iter()
                    .any(|f| stanza(&text, slave, f).is_some())
                {
                    out.push(format!(
                        "{} still configures {slave} and was not edited: move its settings to {} there and make it `iface {slave} inet manual`",
                        path.strip_prefix(root).unwrap_or(&path).display(),
                        setup.bond
                    ));
                }
            }
        }
        out
    }

    fn restart_commands(&self, _bond: BondName) -> Vec<Vec<String>> {
        vec![vec![
            "systemctl".into(),
            "restart".into(),
            "networking".into(),
        ]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_only_named_stanzas() {
        let text = "auto lo eth0\niface lo inet loopback\n\n# uplink\niface eth0 inet static\n    address 10.0.0.5/24\n\nallow-hotplug eth2\niface eth2 inet dhcp\n";
        assert_eq!(
            remove_interfaces(text, &["eth0"]),
            "auto lo\niface lo inet loopback\n\n# uplink\nallow-hotplug eth2\niface eth2 inet dhcp\n"
        );
        let opts = stanza_options(text, "eth0").unwrap();
        assert_eq!(
            opts,
            vec![("address".to_string(), "10.0.0.5/24".to_string())]
        );
    }
}
