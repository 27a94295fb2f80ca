//! Network configuration back-ends (BOND-17..22 and their modern equivalents): which files a
//! bond is written to, how an existing bond is recognised (step 1 of BOND-7), where a NIC's
//! current address is found (step 4's default) and how the network is restarted (post
//! action 2).
//!
//! Every back-end only *plans*: it returns the complete new content of each file it would
//! touch. The caller backs those paths up (`-b`, BOND-13/14) and writes them in one
//! transaction, so no back-end can leave a half-written configuration.

pub mod carry;
pub mod ifcfg_redhat;
pub mod ifcfg_suse;
pub mod ifupdown;
pub mod netplan;
pub mod networkd;
pub mod networkmanager;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::args::BondName;
use super::errors::{code, BondError};
use carry::Carried;

/// The back-ends `--backend` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    IfcfgRedhat,
    IfcfgSuse,
    NetworkManager,
    Networkd,
    Ifupdown,
    Netplan,
}

impl BackendKind {
    pub const ALL: [BackendKind; 6] = [
        BackendKind::IfcfgRedhat,
        BackendKind::IfcfgSuse,
        BackendKind::NetworkManager,
        BackendKind::Networkd,
        BackendKind::Ifupdown,
        BackendKind::Netplan,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BackendKind::IfcfgRedhat => "ifcfg-redhat",
            BackendKind::IfcfgSuse => "ifcfg-suse",
            BackendKind::NetworkManager => "networkmanager",
            BackendKind::Networkd => "networkd",
            BackendKind::Ifupdown => "ifupdown",
            BackendKind::Netplan => "netplan",
        }
    }

    pub fn from_name(s: &str) -> Option<BackendKind> {
        BackendKind::ALL.into_iter().find(|k| k.name() == s)
    }

    pub fn backend(self) -> &'static dyn Backend {
        match self {
            BackendKind::IfcfgRedhat => &ifcfg_redhat::IfcfgRedhat,
            BackendKind::IfcfgSuse => &ifcfg_suse::IfcfgSuse,
            BackendKind::NetworkManager => &networkmanager::NetworkManager,
            BackendKind::Networkd => &networkd::Networkd,
            BackendKind::Ifupdown => &ifupdown::Ifupdown,
            BackendKind::Netplan => &netplan::Netplan,
        }
    }
}

/// Picks the back-end the host under `root` uses. The order prefers the layer that generates
/// the others (netplan renders networkd/NM files; NM reads ifcfg on RHEL).
pub fn detect(root: &Path) -> Result<BackendKind, BondError> {
    let has_files = |rel: &str, ext: Option<&str>| {
        std::fs::read_dir(root.join(rel))
            .map(|rd| {
                rd.flatten().any(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    !name.starts_with('.') && ext.is_none_or(|x| name.ends_with(x))
                })
            })
            .unwrap_or(false)
    };
    let kind = if has_files("etc/netplan", Some(".yaml")) {
        BackendKind::Netplan
    } else if root.join("etc/NetworkManager/system-connections").is_dir() {
        BackendKind::NetworkManager
    } else if has_files("etc/systemd/network", None) {
        BackendKind::Networkd
    } else if root.join("etc/network/interfaces").is_file() {
        BackendKind::Ifupdown
    } else if root.join("etc/sysconfig/network-scripts").is_dir() {
        BackendKind::IfcfgRedhat
    } else if root.join("etc/sysconfig/network").is_dir() {
        BackendKind::IfcfgSuse
    } else {
        return Err(BondError::SystemInfo {
            code: code::NO_BACKEND,
            detail: format!(
                "no known network configuration under {}; choose one with --backend (ifcfg-redhat, ifcfg-suse, networkmanager, networkd, ifupdown, netplan)",
                root.display()
            ),
        });
    };
    Ok(kind)
}

/// The answers of the dialogue (or the tool file) a back-end needs.
#[derive(Debug, Clone)]
pub struct BondSetup {
    pub bond: BondName,
    pub nic1: String,
    pub nic2: String,
    pub ip: Ipv4Addr,
    pub mask: Ipv4Addr,
    /// Step 5's free text.
    pub params: String,
}

impl BondSetup {
    pub fn slaves(&self) -> [&str; 2] {
        [&self.nic1, &self.nic2]
    }
}

/// The complete new content of one file; `path` is relative to the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub path: PathBuf,
    pub content: String,
    /// None keeps the mode of an existing file (0644 when new).
    pub mode: Option<u32>,
}

/// What a back-end knows how to do.
pub trait Backend: Sync {
    fn kind(&self) -> BackendKind;
    /// Step 1: is `bond` already configured?
    fn is_configured(&self, root: &Path, bond: BondName) -> bool;
    /// Step 4's default: the address the configuration gives `nic`.
    fn nic_address(&self, root: &Path, nic: &str) -> Option<(Ipv4Addr, Ipv4Addr)>;
    /// The layer-3 settings (addresses, gateways, routes, DNS) the configuration gives the
    /// interface `name`, in the neutral form the bond takes them over in (issue 13).
    fn settings_of(&self, root: &Path, name: &str) -> Result<Carried, BondError>;
    /// The files to write for `setup`, each with its complete new content.
    fn plan(&self, root: &Path, setup: &BondSetup) -> Result<Vec<FileChange>, BondError>;
    /// Things the operator must fix by hand that the tool deliberately does not edit.
    fn warnings(&self, _root: &Path, _setup: &BondSetup) -> Vec<String> {
        Vec::new()
    }
    /// Post action 2: the commands that restart the network.
    fn restart_commands(&self, bond: BondName) -> Vec<Vec<String>>;
}

/// What the bond inherits: the settings of both cards and of the bond itself (when it is being
/// edited), in that order, so the cards' current gateway wins over a stale bond file's.
pub fn carried(
    backend: &dyn Backend,
    root: &Path,
    setup: &BondSetup,
) -> Result<Carried, BondError> {
    let mut all = Carried::default();
    for name in [
        setup.nic1.as_str(),
        setup.nic2.as_str(),
        setup.bond.as_str(),
    ] {
        all.merge(backend.settings_of(root, name)?);
    }
    Ok(all)
}

/// A shell-style `KEY=value` file with every line whose key `drop` selects removed and `set`
/// (key, full line) replacing that key's line or appended: how a card's ifcfg file loses the
/// settings that move to the bond.
pub(crate) fn edit_shell_keys(
    text: &str,
    drop: impl Fn(&str) -> bool,
    set: (&str, &str),
) -> String {
    let key_of = |l: &str| l.trim().split_once('=').map(|(k, _)| k.trim().to_string());
    let mut out = String::new();
    let mut set_done = false;
    for line in text.lines() {
        match key_of(line) {
            Some(k) if k == set.0 => {
                if !set_done {
                    out.push_str(set.1);
                    out.push('\n');
                    set_done = true;
                }
            }
            Some(k) if drop(&k) => {}
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    if !set_done {
        out.push_str(set.1);
        out.push('\n');
    }
    out
}

/// `KEY`, `KEYn` or `KEY_x`: the numbered forms ifcfg files use for secondary values.
pub(crate) fn is_numbered(key: &str, base: &str) -> bool {
    key.strip_prefix(base)
        .is_some_and(|rest| match rest.strip_prefix('_') {
            Some(suffix) => !suffix.is_empty() && suffix.chars().all(|c| c.is_ascii_alphanumeric()),
            None => rest.chars().all(|c| c.is_ascii_digit()),
        })
}

/// Reads an existing configuration file; missing is `None`, unreadable is 104.
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, BondError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(BondError::SystemInfo {
            code: code::READ_CONFIG,
            detail: format!("{}: {e}", path.display()),
        }),
    }
}

/// Files of a folder with a given suffix, sorted by name (the order the network tools read).
pub(crate) fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    !n.starts_with('.') && n.ends_with(suffix) && e.path().is_file()
                })
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Shell-style `KEY=value` files (ifcfg): the value of `key`, quotes removed.
pub(crate) fn shell_var(text: &str, key: &str) -> Option<String> {
    text.lines().rev().find_map(|line| {
        let (k, v) = line.trim().split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
    })
}

/// Removes the lines for which `drop` is true, keeps a final newline.
pub(crate) fn without_lines(text: &str, drop: impl Fn(&str) -> bool) -> String {
    let mut out: String = text
        .lines()
        .filter(|l| !drop(l))
        .flat_map(|l| [l, "\n"])
        .collect();
    if out.is_empty() && !text.is_empty() && !text.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// An INI-style file (NetworkManager keyfiles, systemd units): `(section, key) -> value`.
pub(crate) fn ini_get(text: &str, section: &str, key: &str) -> Option<String> {
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') && line.ends_with(']') {
            current = line[1..line.len() - 1].to_string();
        } else if current == section {
            if let Some((k, v)) = line.split_once('=') {
                if k.trim() == key {
                    return Some(v.trim().to_string());
                }
            }
        }
    }
    None
}

/// Every section of an INI-style file in order, each with its `key=value` entries in order
/// (sections may repeat, as networkd's `[Route]` does; `#`/`;` comments are skipped).
pub(crate) fn ini_sections(text: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if t.starts_with('[') && t.ends_with(']') {
            out.push((t[1..t.len() - 1].to_string(), Vec::new()));
        } else if let (Some((k, v)), Some(last)) = (t.split_once('='), out.last_mut()) {
            last.1.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

/// The same file with `key=value` set in `section` (replaced where present, else added at the
/// section's end; the section is appended when missing). Other lines stay as they were.
pub(crate) fn ini_set(text: &str, section: &str, key: &str, value: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut done = false;
    let mut section_end: Option<usize> = None;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') && t.ends_with(']') {
            if current == section && !done {
                section_end = Some(out.len());
            }
            current = t[1..t.len() - 1].to_string();
        } else if current == section && !done {
            if let Some((k, _)) = t.split_once('=') {
                if k.trim() == key {
                    out.push(format!("{key}={value}"));
                    done = true;
                    continue;
                }
            }
        }
        out.push(line.to_string());
    }
    if !done {
        let entry = format!("{key}={value}");
        match section_end {
            Some(mut at) => {
                // Insert before the blank lines that separate it from the next section.
                while at > 0 && out[at - 1].trim().is_empty() {
                    at -= 1;
                }
                out.insert(at, entry);
            }
            None if current == section => {
                while out.last().is_some_and(|l| l.trim().is_empty()) {
                    out.pop();
                }
                out.push(entry);
            }
            None => {
                if out.last().is_some_and(|l| !l.trim().is_empty()) {
                    out.push(String::new());
                }
                out.push(format!("[{section}]"));
                out.push(entry);
            }
        }
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

/// `alias <bond> bonding` / `options <bond> ...` lines for `modprobe.conf` (BOND-21) and
/// `modules.conf` (BOND-22), appended to whichever of the two exists on the (legacy) host after
/// removing earlier lines for the same bond (BOND-15's "delete existing entries first").
pub(crate) fn module_conf_changes(
    root: &Path,
    setup: &BondSetup,
) -> Result<Vec<FileChange>, BondError> {
    let bond = setup.bond.as_str();
    let mut changes = Vec::new();
    for (rel, options) in [
        (
            "etc/modprobe.conf",
            format!("options {bond} {}", setup.params),
        ),
        (
            "etc/modules.conf",
            format!("options {bond} -o {bond} {}", setup.params),
        ),
    ] {
        let Some(old) = read_optional(&root.join(rel))? else {
            continue;
        };
        let mut content = without_lines(&old, |l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.len() >= 2 && (w[0] == "alias" || w[0] == "options") && w[1] == bond
        });
        content.push_str(&format!("alias {bond} bonding\n{}\n", options.trim_end()));
        changes.push(FileChange {
            path: PathBuf::from(rel),
            content,
            mode: None,
        });
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_editing() {
        let text = "[connection]\nid=x\n\n[ipv4]\nmethod=auto\n";
        assert_eq!(ini_get(text, "ipv4", "method").as_deref(), Some("auto"));
        assert_eq!(
            ini_set(text, "connection", "autoconnect", "false"),
            "[connection]\nid=x\nautoconnect=false\n\n[ipv4]\nmethod=auto\n"
        );
        assert_eq!(
            ini_set(text, "ipv4", "method", "disabled"),
            "[connection]\nid=x\n\n[ipv4]\nmethod=disabled\n"
        );
        assert_eq!(ini_set("[a]\nk=1", "b", "x", "y"), "[a]\nk=1\n\n[b]\nx=y\n");
    }

    #[test]
    fn shell_vars() {
        assert_eq!(
            shell_var("IPADDR='10.0.0.1/24'\n", "IPADDR").as_deref(),
            Some("10.0.0.1/24")
        );
        assert_eq!(
            without_lines("a\nSLAVE=yes\nb", |l| l.starts_with("SLAVE=")),
            "a\nb\n"
        );
    }
}
