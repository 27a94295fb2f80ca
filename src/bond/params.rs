//! The free-text bonding parameters of step 5 (BOND-7; default `miimon=100 mode=1`) and their
//! translation into each modern back-end's own vocabulary.
//!
//! The seed never validated this line: it went verbatim into `modprobe.conf`. The ifcfg
//! back-ends keep that. systemd-networkd, netplan and ifupdown have their own key names, so the
//! line is parsed as `key=value` words and translated; a key a back-end cannot express is an
//! error before anything is written (106, code 4) rather than a silently dropped setting.

use super::errors::{code, BondError};

/// The default of step 5.
pub const DEFAULT_PARAMS: &str = "miimon=100 mode=1";

/// One `key=value` word of the parameter line, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub key: String,
    pub value: String,
}

fn params_error(detail: String) -> BondError {
    BondError::WriteSetting {
        code: code::PARAMS,
        detail,
    }
}

/// Characters no back-end format can hold inside a value without quoting rules of its own.
pub fn check_quotable(params: &str) -> Result<(), BondError> {
    match params
        .chars()
        .find(|c| matches!(c, '"' | '\'' | '\\' | '`' | '$' | '#') || c.is_control())
    {
        Some(c) => Err(params_error(format!(
            "bonding parameters contain {c:?}, which the configuration files cannot hold"
        ))),
        None => Ok(()),
    }
}

/// Splits the line into `key=value` words (whitespace separated, as modprobe does).
pub fn parse(params: &str) -> Result<Vec<Param>, BondError> {
    check_quotable(params)?;
    params
        .split_whitespace()
        .map(|word| match word.split_once('=') {
            Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok(Param {
                key: k.to_string(),
                value: v.to_string(),
            }),
            _ => Err(params_error(format!(
                "bonding parameter `{word}` is not key=value"
            ))),
        })
        .collect()
}

/// Names of the numbered values the bonding driver accepts for each enumerated option, index =
/// number (Documentation/networking/bonding.rst, "Bonding Driver Options").
fn enum_names(key: &str) -> Option<&'static [&'static str]> {
    Some(match key {
        "mode" => &[
            "balance-rr",
            "active-backup",
            "balance-xor",
            "broadcast",
            "802.3ad",
            "balance-tlb",
            "balance-alb",
        ],
        "xmit_hash_policy" => &[
            "layer2",
            "layer3+4",
            "layer2+3",
            "encap2+3",
            "encap3+4",
            "vlan+srcmac",
        ],
        "lacp_rate" => &["slow", "fast"],
        "ad_select" => &["stable", "bandwidth", "count"],
        "arp_validate" => &[
            "none",
            "active",
            "backup",
            "all",
            "filter",
            "filter_active",
            "filter_backup",
        ],
        "fail_over_mac" => &["none", "active", "follow"],
        "primary_reselect" => &["always", "better", "failure"],
        "arp_all_targets" => &["any", "all"],
        _ => return None,
    })
}

/// The textual form of an enumerated option (`mode=1` → `active-backup`); other values as given.
pub fn normalized_value(p: &Param) -> Result<String, BondError> {
    let Some(names) = enum_names(&p.key) else {
        return Ok(p.value.clone());
    };
    if let Ok(n) = p.value.parse::<usize>() {
        return names
            .get(n)
            .map(|s| s.to_string())
            .ok_or_else(|| params_error(format!("`{}={}` is out of range", p.key, p.value)));
    }
    if names.contains(&p.value.as_str()) {
        Ok(p.value.clone())
    } else {
        Err(params_error(format!(
            "`{}={}` is not a value the bonding driver knows",
            p.key, p.value
        )))
    }
}

fn millis(p: &Param) -> Result<u64, BondError> {
    p.value.parse::<u64>().map_err(|_| {
        params_error(format!(
            "`{}={}` is not a number of milliseconds",
            p.key, p.value
        ))
    })
}

/// systemd-networkd `[Bond]` settings (systemd.netdev(5)); `primary` is returned apart because
/// networkd expresses it on the slave's `.network` (`PrimarySlave=yes`).
pub struct NetworkdBond {
    pub settings: Vec<(String, String)>,
    pub primary: Option<String>,
}

pub fn to_networkd(params: &[Param]) -> Result<NetworkdBond, BondError> {
    let mut settings = Vec::new();
    let mut primary = None;
    for p in params {
        let v = normalized_value(p)?;
        let (key, value) = match p.key.as_str() {
            "mode" => ("Mode", v),
            "miimon" => ("MIIMonitorSec", format!("{}ms", millis(p)?)),
            "updelay" => ("UpDelaySec", format!("{}ms", millis(p)?)),
            "downdelay" => ("DownDelaySec", format!("{}ms", millis(p)?)),
            "arp_interval" => ("ARPIntervalSec", format!("{}ms", millis(p)?)),
            "lp_interval" => ("LearnPacketIntervalSec", format!("{}s", millis(p)?)),
            "xmit_hash_policy" => ("TransmitHashPolicy", v),
            "lacp_rate" => ("LACPTransmitRate", v),
            "ad_select" => ("AdSelect", v),
            "ad_actor_sys_prio" => ("AdActorSystemPriority", v),
            "ad_user_port_key" => ("AdUserPortKey", v),
            "ad_actor_system" => ("AdActorSystem", v),
            "fail_over_mac" => ("FailOverMACPolicy", v),
            "arp_validate" => ("ARPValidate", v),
            "arp_all_targets" => ("ARPAllTargets", v),
            "arp_ip_target" => ("ARPIPTargets", v.replace(',', " ")),
            "primary_reselect" => ("PrimaryReselectPolicy", v),
            "resend_igmp" => ("ResendIGMP", v),
            "packets_per_slave" => ("PacketsPerSlave", v),
            "num_grat_arp" | "num_unsol_na" => ("GratuitousARP", v),
            "all_slaves_active" => (
                "AllSlavesActive",
                if v == "1" { "yes".into() } else { "no".into() },
            ),
            "min_links" => ("MinLinks", v),
            "primary" => {
                primary = Some(v);
                continue;
            }
            other => {
                return Err(params_error(format!(
                    "bonding option `{other}` has no systemd-networkd setting"
                )))
            }
        };
        settings.push((key.to_string(), value));
    }
    Ok(NetworkdBond { settings, primary })
}

/// netplan `bonds.<name>.parameters` (netplan's YAML reference); values already YAML scalars.
pub fn to_netplan(params: &[Param]) -> Result<Vec<(String, String)>, BondError> {
    params
        .iter()
        .map(|p| {
            let v = normalized_value(p)?;
            let (key, value) = match p.key.as_str() {
                "mode" => ("mode", v),
                "miimon" => ("mii-monitor-interval", millis(p)?.to_string()),
                "updelay" => ("up-delay", millis(p)?.to_string()),
                "downdelay" => ("down-delay", millis(p)?.to_string()),
                "arp_interval" => ("arp-interval", millis(p)?.to_string()),
                "lp_interval" => ("learn-packet-interval", v),
                "xmit_hash_policy" => ("transmit-hash-policy", v),
                "lacp_rate" => ("lacp-rate", v),
                "ad_select" => ("ad-select", v),
                "fail_over_mac" => ("fail-over-mac-policy", v),
                "arp_validate" => ("arp-validate", v),
                "arp_all_targets" => ("arp-all-targets", v),
                "arp_ip_target" => (
                    "arp-ip-targets",
                    format!("[{}]", v.split(',').collect::<Vec<_>>().join(", ")),
                ),
                "primary_reselect" => ("primary-reselect-policy", v),
                "primary" => ("primary", v),
                "resend_igmp" => ("resend-igmp", v),
                "packets_per_slave" => ("packets-per-slave", v),
                "num_grat_arp" | "num_unsol_na" => ("gratuitous-arp", v),
                "all_slaves_active" => (
                    "all-slaves-active",
                    if v == "1" {
                        "true".into()
                    } else {
                        "false".into()
                    },
                ),
                "min_links" => ("min-links", v),
                other => {
                    return Err(params_error(format!(
                        "bonding option `{other}` has no netplan parameter"
                    )))
                }
            };
            Ok((key.to_string(), value))
        })
        .collect()
}

/// NetworkManager `[bond]` keys are the driver's own option names; only the mode is
/// normalised so the keyfile reads the same whichever form was typed.
pub fn to_networkmanager(params: &[Param]) -> Result<Vec<(String, String)>, BondError> {
    params
        .iter()
        .map(|p| Ok((p.key.clone(), normalized_value(p)?)))
        .collect()
}

/// ifupdown (Debian ifenslave) `bond-*` options: the driver's option name with `-` for `_`.
pub fn to_ifupdown(params: &[Param]) -> Result<Vec<(String, String)>, BondError> {
    params
        .iter()
        .map(|p| {
            Ok((
                format!("bond-{}", p.key.replace('_', "-")),
                normalized_value(p)?.replace(',', " "),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_translates_everywhere() {
        let ps = parse(DEFAULT_PARAMS).unwrap();
        let nd = to_networkd(&ps).unwrap();
        assert_eq!(
            nd.settings,
            vec![
                ("MIIMonitorSec".into(), "100ms".into()),
                ("Mode".into(), "active-backup".into())
            ]
        );
        assert_eq!(
            to_netplan(&ps).unwrap()[1],
            ("mode".into(), "active-backup".into())
        );
        assert_eq!(
            to_ifupdown(&ps).unwrap()[0],
            ("bond-miimon".into(), "100".into())
        );
    }

    #[test]
    fn bad_words() {
        assert_eq!(parse("miimon").err().map(|e| e.exit_code()), Some(106));
        assert_eq!(parse("mode='1'").err().map(|e| e.exit_code()), Some(106));
        let ps = parse("mode=9").unwrap();
        assert!(to_networkd(&ps).is_err());
        let ps = parse("max_bonds=4").unwrap();
        assert!(to_networkd(&ps).is_err());
        assert!(to_networkmanager(&ps).is_ok());
    }
}
