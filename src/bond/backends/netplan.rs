//! netplan YAML (`/etc/netplan/*.yaml`, netplan(5)), the modern counterpart of BOND-19/20 on
//! Ubuntu-style hosts: one file of the tool's own declaring the two cards (without DHCP) and
//! the bond with step 4's address and step 5's `parameters`.
//!
//! netplan merges all its files; the tool's file is named `90-upkeep-<bond>.yaml` so its
//! scalars (`dhcp4: false`) override an installer's `50-cloud-init.yaml`. Address *lists* are
//! appended across files, not replaced, so a static address another file gives a slave cannot
//! be undone from here: the tool warns about it instead of editing YAML it does not own.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::carry::Carried;
use super::{carried, files_with_suffix, Backend, BackendKind, BondSetup, FileChange};
use crate::bond::args::BondName;
use crate::bond::errors::BondError;
use crate::bond::{net, params};

pub const DIR: &str = "etc/netplan";

pub struct Netplan;

fn own_file(bond: BondName) -> PathBuf {
    PathBuf::from(DIR).join(format!("90-upkeep-{bond}.yaml"))
}

/// A line-level view of block-style YAML: enough to find `network.<kind>.<name>` and its
/// `addresses` without a YAML library (the files are read, never rewritten).
struct YamlScan<'a> {
    text: &'a str,
}

impl YamlScan<'_> {
    /// Calls `f(path, value)` for every `key: value` and every `- item` (path ends with the
    /// list's key) in the document.
    fn walk(&self, mut f: impl FnMut(&[String], &str)) {
        let mut stack: Vec<(usize, String)> = Vec::new();
        for raw in self.text.lines() {
            let line = match raw.find(" #") {
                Some(i) => &raw[..i],
                None if raw.trim_start().starts_with('#') => "",
                None => raw,
            };
            if line.trim().is_empty() {
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            let content = line.trim();
            if let Some(item) = content.strip_prefix("- ") {
                while stack.last().is_some_and(|(i, _)| *i >= indent) {
                    stack.pop();
                }
                let path: Vec<String> = stack.iter().map(|(_, k)| k.clone()).collect();
                f(&path, item.trim());
                continue;
            }
            let Some((key, value)) = content.split_once(':') else {
                continue;
            };
            while stack.last().is_some_and(|(i, _)| *i >= indent) {
                stack.pop();
            }
            let key = key
                .trim()
                .trim_matches(|c| c == '"' || c == '\'')
                .to_string();
            stack.push((indent, key));
            let path: Vec<String> = stack.iter().map(|(_, k)| k.clone()).collect();
            f(&path, value.trim());
        }
    }

    fn defines(&self, kind: &str, name: &str) -> bool {
        let mut found = false;
        self.walk(|path, _| {
            found |= path.len() >= 3 && path[0] == "network" && path[1] == kind && path[2] == name
        });
        found
    }

    fn first_address(&self, kind: &str, name: &str) -> Option<(Ipv4Addr, Ipv4Addr)> {
        let mut found = None;
        self.walk(|path, value| {
            if found.is_some()
                || path.len() != 4
                || path[0] != "network"
                || path[1] != kind
                || path[2] != name
                || path[3] != "addresses"
            {
                return;
            }
            let items = value.trim_start_matches('[').trim_end_matches(']');
            found = items
                .split(',')
                .map(|s| s.trim().trim_matches(|c| c == '"' || c == '\''))
                .find_map(net::parse_cidr);
        });
        found
    }
}

/// A block-style YAML value, as far as netplan files need it: mappings, sequences (block or
/// one-line flow `[a, b]`), one-line flow mappings `{a: b}` and scalars (quotes removed).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Yaml {
    Scalar(String),
    Map(Vec<(String, Yaml)>),
    List(Vec<Yaml>),
}

impl Yaml {
    fn get(&self, key: &str) -> Option<&Yaml> {
        match self {
            Yaml::Map(entries) => entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn path(&self, keys: &[&str]) -> Option<&Yaml> {
        keys.iter().try_fold(self, |node, k| node.get(k))
    }

    fn scalar(&self) -> Option<&str> {
        match self {
            Yaml::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The items of a sequence; a scalar counts as a one-item list.
    fn items(&self) -> Vec<&Yaml> {
        match self {
            Yaml::List(items) => items.iter().collect(),
            Yaml::Scalar(s) if !s.is_empty() => vec![self],
            _ => Vec::new(),
        }
    }
}

fn unquote(s: &str) -> String {
    s.trim().trim_matches(|c| c == '"' || c == '\'').to_string()
}

/// Splits a flow collection's inside at its own commas (not those of nested collections or
/// quoted strings).
fn split_flow(inner: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None::<char>, 0);
    for (i, ch) in inner.char_indices() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(ch),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            (None, ',') if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

/// A one-line flow value: `[a, b]`, `{k: v, k2: [x]}` (nesting allowed) or a scalar.
fn flow_value(text: &str) -> Yaml {
    let t = text.trim();
    if let Some(inner) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return Yaml::List(split_flow(inner).into_iter().map(flow_value).collect());
    }
    if let Some(inner) = t.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
        return Yaml::Map(
            split_flow(inner)
                .into_iter()
                .filter_map(|kv| {
                    let (k, v) = split_key(kv.trim())?;
                    Some((unquote(k), flow_value(v)))
                })
                .collect(),
        );
    }
    Yaml::Scalar(unquote(t))
}

/// `key: value` or `key:` (a colon followed by a space or the end; `2001:db8::1` is no key).
fn split_key(content: &str) -> Option<(&str, &str)> {
    let bytes = content.as_bytes();
    let quoted = content.starts_with('"') || content.starts_with('\'');
    let start = if quoted {
        content[1..].find(content.chars().next()?)? + 1
    } else {
        0
    };
    (start..bytes.len()).find_map(|i| {
        (bytes[i] == b':' && (i + 1 == bytes.len() || bytes[i + 1] == b' '))
            .then(|| (&content[..i], content[i + 1..].trim()))
    })
}

/// Meaningful lines (comments and blanks dropped) as (indent, content).
fn yaml_lines(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .filter_map(|raw| {
            let line = match raw.find(" #") {
                Some(i) => &raw[..i],
                None if raw.trim_start().starts_with('#') => "",
                None => raw,
            };
            let content = line.trim();
            (!content.is_empty() && content != "---")
                .then(|| (line.len() - line.trim_start().len(), content.to_string()))
        })
        .collect()
}

pub(crate) fn parse_yaml(text: &str) -> Yaml {
    let mut lines = yaml_lines(text);
    let mut i = 0;
    parse_node(&mut lines, &mut i, 0)
}

/// Parses the block starting at line `i` whose lines are indented by `indent`.
fn parse_node(lines: &mut Vec<(usize, String)>, i: &mut usize, indent: usize) -> Yaml {
    let is_item = |c: &str| c == "-" || c.starts_with("- ");
    if *i < lines.len() && lines[*i].0 == indent && is_item(&lines[*i].1) {
        let mut items = Vec::new();
        while *i < lines.len() && lines[*i].0 == indent && is_item(&lines[*i].1) {
            let content = lines[*i].1.clone();
            let rest = content[1..].trim_start();
            if rest.is_empty() {
                *i += 1;
                let child = lines.get(*i).map(|l| l.0).filter(|c| *c > indent);
                items.push(match child {
                    Some(c) => parse_node(lines, i, c),
                    None => Yaml::Scalar(String::new()),
                });
            } else if split_key(rest).is_some() && !rest.starts_with('{') {
                // `- key: value` opens a mapping whose keys line up after the dash.
                let col = indent + (content.len() - rest.len());
                lines[*i] = (col, rest.to_string());
                items.push(parse_node(lines, i, col));
            } else {
                items.push(flow_value(rest));
                *i += 1;
            }
        }
        return Yaml::List(items);
    }
    let mut entries = Vec::new();
    while *i < lines.len() && lines[*i].0 == indent && !is_item(&lines[*i].1) {
        let content = lines[*i].1.clone();
        *i += 1;
        let Some((key, value)) = split_key(&content) else {
            continue;
        };
        let value = if value.is_empty() {
            match lines.get(*i) {
                Some((c, next)) if *c > indent || (*c == indent && is_item(next)) => {
                    let c = *c;
                    parse_node(lines, i, c)
                }
                _ => Yaml::Scalar(String::new()),
            }
        } else {
            flow_value(value)
        };
        entries.push((unquote(key), value));
    }
    // Lines indented deeper than expected without a parent key: skip them.
    while *i < lines.len() && lines[*i].0 > indent {
        *i += 1;
    }
    Yaml::Map(entries)
}

/// The netplan(5) settings of one interface definition.
fn read_settings(c: &mut Carried, source: &str, def: &Yaml, first_v4: &mut bool) {
    for a in def.get("addresses").map(Yaml::items).unwrap_or_default() {
        match a {
            Yaml::Scalar(s) => c.add_address(source, s, first_v4),
            // `- 10.0.0.5/24: {lifetime: 0, label: x}`: the address is the key.
            Yaml::Map(entries) => {
                for (k, _) in entries {
                    c.add_address(source, k, first_v4);
                }
            }
            Yaml::List(_) => {}
        }
    }
    for key in ["gateway4", "gateway6"] {
        if let Some(gw) = def.get(key).and_then(Yaml::scalar) {
            c.add_gateway(source, gw);
        }
    }
    for r in def.get("routes").map(Yaml::items).unwrap_or_default() {
        let Yaml::Map(entries) = r else { continue };
        if let Some((k, _)) = entries
            .iter()
            .find(|(k, _)| !matches!(k.as_str(), "to" | "via" | "metric"))
        {
            c.skipped.push(format!("{source}: a route with `{k}`"));
            continue;
        }
        let get = |k: &str| r.get(k).and_then(Yaml::scalar);
        c.add_route(
            source,
            get("to").unwrap_or("default"),
            get("via"),
            get("metric"),
        );
    }
    for d in def
        .path(&["nameservers", "addresses"])
        .map(Yaml::items)
        .unwrap_or_default()
    {
        if let Some(d) = d.scalar() {
            c.add_dns(source, d);
        }
    }
    for d in def
        .path(&["nameservers", "search"])
        .map(Yaml::items)
        .unwrap_or_default()
    {
        if let Some(d) = d.scalar() {
            c.add_search(source, d);
        }
    }
}

/// The keys of a card's definition that move to the bond.
const MOVED_KEYS: [&str; 5] = ["addresses", "gateway4", "gateway6", "routes", "nameservers"];

/// `text` without `network.ethernets.<nic>.<MOVED_KEYS>` (each key line and its block), every
/// other line kept as written. A definition left empty becomes `{}`, which netplan accepts.
pub(crate) fn without_moved_keys(text: &str, nic: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut dropping: Option<usize> = None;
    let mut nic_line: Option<(usize, usize)> = None;
    let mut nic_children = 0;
    for raw in text.lines() {
        let meaningful = {
            let t = raw.trim();
            !t.is_empty() && !t.starts_with('#')
        };
        if !meaningful {
            out.push(raw.to_string());
            continue;
        }
        let indent = raw.len() - raw.trim_start().len();
        let content = raw.trim();
        if let Some(at) = dropping {
            if indent > at || (indent == at && (content == "-" || content.starts_with("- "))) {
                continue;
            }
            dropping = None;
        }
        if content.starts_with("- ") || content == "-" {
            out.push(raw.to_string());
            continue;
        }
        let Some((key, _)) = split_key(content) else {
            out.push(raw.to_string());
            continue;
        };
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        let path: Vec<&str> = stack.iter().map(|(_, k)| k.as_str()).collect();
        let key = unquote(key);
        if path == ["network", "ethernets", nic] {
            if MOVED_KEYS.contains(&key.as_str()) {
                dropping = Some(indent);
                continue;
            }
            nic_children += 1;
        }
        if path == ["network", "ethernets"] && key == nic {
            nic_line = Some((out.len(), indent));
        }
        stack.push((indent, key));
        out.push(raw.to_string());
    }
    if let (Some((at, _)), 0) = (nic_line, nic_children) {
        if out[at].trim_end().ends_with(':') {
            out[at] = format!("{} {{}}", out[at].trim_end());
        }
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

/// The bond's `addresses`, `routes` and `nameservers` lines (IPv6 addresses quoted: a plain
/// `::` inside a flow sequence is not portable YAML).
fn carried_yaml(ip: &str, c: &Carried) -> String {
    let quote = |a: &str| {
        if a.contains(':') {
            format!("\"{a}\"")
        } else {
            a.to_string()
        }
    };
    let addrs: Vec<String> = std::iter::once(ip.to_string())
        .chain(c.addresses.iter().map(|a| quote(a)))
        .collect();
    let mut y = format!("      addresses: [{}]\n", addrs.join(", "));
    let defaults = c
        .gateway4
        .map(std::net::IpAddr::V4)
        .into_iter()
        .chain(c.gateway6)
        .map(|gw| {
            format!(
                "        - to: default\n          via: {}\n",
                quote(&gw.to_string())
            )
        });
    let others = c.routes.iter().map(|r| {
        let mut s = format!("        - to: {}\n", quote(&r.to));
        if let Some(via) = r.via {
            s.push_str(&format!("          via: {}\n", quote(&via.to_string())));
        }
        if let Some(m) = r.metric {
            s.push_str(&format!("          metric: {m}\n"));
        }
        s
    });
    let routes: String = defaults.chain(others).collect();
    if !routes.is_empty() {
        y.push_str("      routes:\n");
        y.push_str(&routes);
    }
    if !c.dns.is_empty() || !c.search.is_empty() {
        y.push_str("      nameservers:\n");
        if !c.dns.is_empty() {
            let dns: Vec<String> = c.dns.iter().map(|d| quote(&d.to_string())).collect();
            y.push_str(&format!("        addresses: [{}]\n", dns.join(", ")));
        }
        if !c.search.is_empty() {
            y.push_str(&format!("        search: [{}]\n", c.search.join(", ")));
        }
    }
    y
}

fn yaml_files(root: &Path) -> Vec<(PathBuf, String)> {
    files_with_suffix(&root.join(DIR), ".yaml")
        .into_iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            Some((
                p.strip_prefix(root).map(Path::to_path_buf).unwrap_or(p),
                text,
            ))
        })
        .collect()
}

impl Backend for Netplan {
    fn kind(&self) -> BackendKind {
        BackendKind::Netplan
    }

    fn is_configured(&self, root: &Path, bond: BondName) -> bool {
        yaml_files(root)
            .iter()
            .any(|(_, t)| YamlScan { text: t }.defines("bonds", bond.as_str()))
    }

    fn nic_address(&self, root: &Path, nic: &str) -> Option<(Ipv4Addr, Ipv4Addr)> {
        // A bond's own address sits under `bonds`; it is the default when re-editing a bond.
        yaml_files(root).iter().find_map(|(_, t)| {
            let scan = YamlScan { text: t };
            scan.first_address("ethernets", nic)
                .or_else(|| scan.first_address("bonds", nic))
        })
    }

    fn settings_of(&self, root: &Path, name: &str) -> Result<Carried, BondError> {
        // netplan merges every file, lists appended: so are the settings read here.
        let mut c = Carried::default();
        let mut first_v4 = false;
        for (path, text) in yaml_files(root) {
            let doc = parse_yaml(&text);
            for kind in ["ethernets", "bonds"] {
                if let Some(def) = doc.path(&["network", kind, name]) {
                    read_settings(&mut c, &path.display().to_string(), def, &mut first_v4);
                }
            }
        }
        Ok(c)
    }

    fn plan(&self, root: &Path, setup: &BondSetup) -> Result<Vec<FileChange>, BondError> {
        let parameters = params::to_netplan(&params::parse(&setup.params)?)?;
        let inherited = carried(self, root, setup)?;
        let bond = setup.bond.as_str();
        let mut y = String::from("network:\n  version: 2\n  ethernets:\n");
        for slave in setup.slaves() {
            y.push_str(&format!(
                "    {slave}:\n      dhcp4: false\n      dhcp6: false\n"
            ));
        }
        y.push_str(&format!(
            "  bonds:\n    {bond}:\n      interfaces: [{}, {}]\n{}      dhcp4: false\n      dhcp6: false\n",
            setup.nic1,
            setup.nic2,
            carried_yaml(
                &format!("{}/{}", setup.ip, net::prefix_len(setup.mask)),
                &inherited
            ),
        ));
        if !parameters.is_empty() {
            y.push_str("      parameters:\n");
            for (k, v) in &parameters {
                y.push_str(&format!("        {k}: {v}\n"));
            }
        }
        let own = own_file(setup.bond);
        let mut changes = vec![FileChange {
            path: own.clone(),
            content: y,
            mode: Some(0o600),
        }];
        // netplan appends lists across files, so a card's addresses, routes and DNS in another
        // file (an installer's 50-cloud-init.yaml) would stay on the port: they are taken out
        // there, line by line, everything else in that file kept as written (issue 13).
        for (path, text) in yaml_files(root).into_iter().filter(|(p, _)| *p != own) {
            let mut edited = text.clone();
            for slave in setup.slaves() {
                edited = without_moved_keys(&edited, slave);
            }
            if edited != text {
                changes.push(FileChange {
                    path,
                    content: edited,
                    mode: None,
                });
            }
        }
        Ok(changes)
    }

    fn warnings(&self, root: &Path, setup: &BondSetup) -> Vec<String> {
        let own = own_file(setup.bond);
        let mut out = Vec::new();
        for (path, text) in yaml_files(root).iter().filter(|(p, _)| *p != own) {
            let scan = YamlScan { text };
            if scan.defines("bonds", setup.bond.as_str()) {
                out.push(format!(
                    "{} also defines {}; netplan merges both definitions",
                    path.display(),
                    setup.bond
                ));
            }
        }
        out
    }

    fn restart_commands(&self, _bond: BondName) -> Vec<Vec<String>> {
        vec![vec!["netplan".into(), "apply".into()]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_routes_dns_and_addresses_in_every_list_style() {
        // Sequences at the key's own indent, flow lists, flow mappings, quotes, comments.
        let text = "network:\n  ethernets:\n    eth0:\n      addresses:\n      - 10.0.0.5/24 # primary\n      - \"2001:db8::5/64\"\n      - 10.0.1.5/24:\n          label: eth0:1\n      routes:\n      - {to: default, via: 10.0.0.1}\n      -   to: 10.9.0.0/16\n          via: 10.0.0.254\n          metric: 7\n      nameservers: {addresses: [1.1.1.1, \"2001:db8::53\"]}\n      gateway6: \"2001:db8::1\"\n";
        let doc = parse_yaml(text);
        let def = doc.path(&["network", "ethernets", "eth0"]).expect("eth0");
        let mut c = Carried::default();
        let mut first = false;
        read_settings(&mut c, "t", def, &mut first);
        assert_eq!(c.addresses, ["2001:db8::5/64", "10.0.1.5/24"]);
        assert_eq!(c.gateway4, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(
            c.gateway6.map(|g| g.to_string()).as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(c.routes.len(), 1);
        assert_eq!(c.routes[0].to, "10.9.0.0/16");
        assert_eq!(c.routes[0].metric, Some(7));
        let dns: Vec<String> = c.dns.iter().map(|d| d.to_string()).collect();
        assert_eq!(dns, ["1.1.1.1", "2001:db8::53"]);
        assert!(c.skipped.is_empty(), "{:?}", c.skipped);
    }

    /// Random netplan-shaped documents (real fragments, random indents): no panic, and the
    /// edited text never gains a line.
    #[test]
    fn survives_misshapen_documents() {
        let fragments = [
            "network:",
            "ethernets:",
            "eth0:",
            "bonds:",
            "addresses:",
            "routes:",
            "- to: default",
            "via: 10.0.0.1",
            "- 10.0.0.5/24",
            "-",
            "- {to: x, via: [1, {a: b}]}",
            "nameservers:",
            "search: [a, \"b",
            "\"eth0\": {}",
            "'q: x",
            "# c",
            "",
            "metric: x",
            "key: value # c",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..3000 {
            let text: String = (0..next(12))
                .map(|_| {
                    format!(
                        "{}{}\n",
                        " ".repeat(next(9)),
                        fragments[next(fragments.len())]
                    )
                })
                .collect();
            let doc = parse_yaml(&text);
            for kind in ["ethernets", "bonds"] {
                if let Some(def) = doc.path(&["network", kind, "eth0"]) {
                    read_settings(&mut Carried::default(), "t", def, &mut false);
                }
            }
            let edited = without_moved_keys(&text, "eth0");
            assert!(
                edited.lines().count() <= text.lines().count() + 1,
                "{text:?}"
            );
        }
    }

    #[test]
    fn removes_only_the_moved_keys_of_the_named_card() {
        let text = "network:\n  ethernets:\n    eth0:\n      dhcp4: false\n      addresses:\n      - 10.0.0.5/24\n      routes:\n        - to: default\n          via: 10.0.0.1\n      # keep me\n      mtu: 9000\n    eth2:\n      addresses: [10.2.0.5/24]\n";
        assert_eq!(
            without_moved_keys(text, "eth0"),
            "network:\n  ethernets:\n    eth0:\n      dhcp4: false\n      # keep me\n      mtu: 9000\n    eth2:\n      addresses: [10.2.0.5/24]\n"
        );
        let only =
            "network:\n  ethernets:\n    eth0:\n      addresses: [10.0.0.5/24]\n  version: 2\n";
        assert_eq!(
            without_moved_keys(only, "eth0"),
            "network:\n  ethernets:\n    eth0: {}\n  version: 2\n"
        );
    }

    #[test]
    fn finds_addresses_in_both_list_styles() {
        let block = "network:\n  ethernets:\n    eth0:\n      addresses:\n        - \"10.1.2.3/24\"\n    eth1:\n      dhcp4: true\n";
        let flow = "network:\n  version: 2\n  ethernets:\n    eth1:\n      addresses: [192.168.0.70/24, 10.0.0.1/8]\n";
        assert_eq!(
            YamlScan { text: block }
                .first_address("ethernets", "eth0")
                .map(|a| a.0),
            Some(Ipv4Addr::new(10, 1, 2, 3))
        );
        assert_eq!(
            YamlScan { text: block }.first_address("ethernets", "eth1"),
            None
        );
        assert_eq!(
            YamlScan { text: flow }.first_address("ethernets", "eth1"),
            Some((
                Ipv4Addr::new(192, 168, 0, 70),
                Ipv4Addr::new(255, 255, 255, 0)
            ))
        );
        assert!(!YamlScan { text: flow }.defines("bonds", "bond0"));
    }
}
