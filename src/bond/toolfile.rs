//! The seven-line tool file `<work-dir>/<bondname>` (BOND-8..10): written after every
//! interactive run, read by `-i`. Reading is strict on purpose (BOND-10: "extra lines or stray
//! spaces may make the tool misbehave"): a wrong line count is 107, each bad line its own exit
//! (109..112, 114) as BOND-11 lists them.

use std::net::Ipv4Addr;
use std::path::Path;

use super::errors::{code, BondError};
use super::net;
use super::nics::Nic;

/// Step 7's choice (BOND-7) and line 7 of the tool file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostAction {
    Reboot,
    RestartNetwork,
    Nothing,
}

impl PostAction {
    pub fn from_number(s: &str) -> Option<PostAction> {
        match s {
            "1" => Some(PostAction::Reboot),
            "2" => Some(PostAction::RestartNetwork),
            "3" => Some(PostAction::Nothing),
            _ => None,
        }
    }

    pub fn number(self) -> u8 {
        match self {
            PostAction::Reboot => 1,
            PostAction::RestartNetwork => 2,
            PostAction::Nothing => 3,
        }
    }
}

/// Everything one configuration run needs, from the dialogue or from the tool file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answers {
    pub nic1: String,
    pub nic2: String,
    pub ip: Ipv4Addr,
    pub mask: Ipv4Addr,
    pub params: String,
    /// Step 6: create the driver-load file.
    pub script: bool,
    pub action: PostAction,
}

/// The file's text: exactly seven lines, each ending in a newline (BOND-9).
pub fn render(a: &Answers) -> String {
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}\n{}\n",
        a.nic1,
        a.nic2,
        a.ip,
        a.mask,
        a.params,
        if a.script { "Y" } else { "N" },
        a.action.number()
    )
}

/// Reads and checks the tool file against the NICs of this host.
pub fn load(path: &Path, nics: &[Nic]) -> Result<Answers, BondError> {
    let bytes = std::fs::read(path).map_err(|e| BondError::ReadToolFile {
        code: code::MISSING,
        detail: format!("{}: {e}", path.display()),
    })?;
    let text = String::from_utf8(bytes).map_err(|_| BondError::ReadToolFile {
        code: code::SHAPE,
        detail: format!("{} is not UTF-8 text", path.display()),
    })?;
    parse(&text, nics)
}

/// The checks of [`load`] on text already read.
pub fn parse(text: &str, nics: &[Nic]) -> Result<Answers, BondError> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    let lines: Vec<&str> = body.split('\n').collect();
    let [nic1, nic2, ip, mask, params, script, action] = lines[..] else {
        return Err(BondError::ReadToolFile {
            code: code::SHAPE,
            detail: format!("the tool file has {} lines, not 7", lines.len()),
        });
    };
    let known = |n: &str| nics.iter().any(|nic| nic.name == n);
    if !known(nic1) {
        return Err(BondError::Nic1(nic1.to_string()));
    }
    if !known(nic2) || nic2 == nic1 {
        return Err(BondError::Nic2(nic2.to_string()));
    }
    let ip = net::parse_host_address(ip).ok_or_else(|| BondError::IpAddress(ip.to_string()))?;
    let mask = net::parse_netmask(mask).ok_or_else(|| BondError::MaskAddress(mask.to_string()))?;
    let script = match script {
        "Y" => true,
        "N" => false,
        other => {
            return Err(BondError::ReadToolFile {
                code: code::SCRIPT_FLAG,
                detail: format!("line 6 is `{other}`, not Y or N"),
            })
        }
    };
    let action = PostAction::from_number(action)
        .ok_or_else(|| BondError::FinalAction(action.to_string()))?;
    Ok(Answers {
        nic1: nic1.to_string(),
        nic2: nic2.to_string(),
        ip,
        mask,
        params: params.to_string(),
        script,
        action,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nics() -> Vec<Nic> {
        ["eth0", "eth1"]
            .iter()
            .map(|n| Nic {
                name: n.to_string(),
                mac: None,
                addr: None,
            })
            .collect()
    }

    #[test]
    fn round_trip() {
        let text = "eth0\neth1\n10.0.0.7\n255.255.255.0\nmiimon=100 mode=1\nN\n2\n";
        let a = parse(text, &nics()).unwrap();
        assert_eq!(render(&a), text);
    }

    #[test]
    fn each_line_has_its_exit() {
        let code = |t: &str| parse(t, &nics()).err().map(|e| e.exit_code());
        assert_eq!(code("eth0\neth1\n"), Some(107));
        assert_eq!(
            code("eth0\neth1\n1.2.3.4\n255.0.0.0\nx\nN\n1\n\n"),
            Some(107)
        );
        assert_eq!(code("eth9\neth1\n1.2.3.4\n255.0.0.0\nx\nN\n1\n"), Some(109));
        assert_eq!(code("eth0\neth0\n1.2.3.4\n255.0.0.0\nx\nN\n1\n"), Some(110));
        assert_eq!(
            code("eth0\neth1\n111.222.333.444\n255.0.0.0\nx\nN\n1\n"),
            Some(111)
        );
        assert_eq!(
            code("eth0\neth1\n1.2.3.4\n255.0.255.0\nx\nN\n1\n"),
            Some(112)
        );
        assert_eq!(
            code("eth0\neth1\n1.2.3.4\n255.0.0.0\nx\nyes\n1\n"),
            Some(107)
        );
        assert_eq!(code("eth0\neth1\n1.2.3.4\n255.0.0.0\nx\nN\n4\n"), Some(114));
        assert_eq!(
            code("eth0 \neth1\n1.2.3.4\n255.0.0.0\nx\nN\n1\n"),
            Some(109)
        );
    }
}
