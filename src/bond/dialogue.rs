//! The question-and-answer dialogue of BOND-6/BOND-7, with every prompt, default and in-dialogue
//! re-prompt message of the seed.
//!
//! It reads one line per answer from any `BufRead`, so a terminal, a pipe or a test script all
//! drive it the same way. When the input is not a terminal the answer is echoed after the
//! prompt, so a scripted run's output reads like the seed's transcript (BOND-6).

use std::io::{BufRead, Write};
use std::net::Ipv4Addr;

use super::args::BondName;
use super::errors::{code, BondError};
use super::net;
use super::nics::{format_listing, Nic};
use super::params::DEFAULT_PARAMS;
use super::toolfile::{Answers, PostAction};

/// Terminal (or script) the dialogue talks to.
pub struct Console<'a> {
    pub input: &'a mut dyn BufRead,
    pub out: &'a mut dyn Write,
    /// Echo answers (input is not a terminal).
    pub echo: bool,
}

fn io_error(e: std::io::Error) -> BondError {
    BondError::Internal {
        code: code::OUTPUT,
        detail: e.to_string(),
    }
}

impl Console<'_> {
    pub fn say(&mut self, line: &str) -> Result<(), BondError> {
        writeln!(self.out, "{line}").map_err(io_error)
    }

    /// Prints `prompt` (no newline), reads one line and returns it trimmed. End of input is an
    /// error: there is no answer to default to for the rest of the dialogue.
    fn ask(&mut self, prompt: &str) -> Result<String, BondError> {
        write!(self.out, "{prompt}").map_err(io_error)?;
        self.out.flush().map_err(io_error)?;
        let mut line = String::new();
        let n = self
            .input
            .read_line(&mut line)
            .map_err(|e| BondError::Internal {
                code: code::INPUT_ENDED,
                detail: format!("reading the answer: {e}"),
            })?;
        if n == 0 {
            writeln!(self.out).map_err(io_error)?;
            return Err(BondError::Internal {
                code: code::INPUT_ENDED,
                detail: "standard input ended before the dialogue was complete".into(),
            });
        }
        let answer = line.trim().to_string();
        if self.echo {
            writeln!(self.out, "{answer}").map_err(io_error)?;
        }
        Ok(answer)
    }

    /// A Y/N question; `None` means "ask again".
    fn yes_no(&mut self, prompt: &str, default: bool) -> Result<bool, BondError> {
        loop {
            match self.ask(prompt)?.as_str() {
                "" => return Ok(default),
                "Y" | "y" => return Ok(true),
                "N" | "n" => return Ok(false),
                _ => {}
            }
        }
    }
}

/// How the dialogue ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Proceed(Answers),
    /// N at step 1: leave the existing bond alone (MAP-21).
    Declined,
}

fn choose_nic(
    c: &mut Console<'_>,
    which: u8,
    default: usize,
    count: usize,
    other: Option<usize>,
) -> Result<usize, BondError> {
    loop {
        let answer = c.ask(&format!("NIC{which}[{default}]:"))?;
        let n = if answer.is_empty() {
            Some(default)
        } else {
            answer.parse::<usize>().ok()
        };
        match n {
            Some(n) if (1..=count).contains(&n) => {
                if other == Some(n) {
                    c.say("NIC2 set the same number as NIC1.")?;
                    continue;
                }
                return Ok(n);
            }
            _ => c.say(&format!(
                "NIC{which} set the wrong number. Please re-enter it."
            ))?,
        }
    }
}

fn ask_address(
    c: &mut Console<'_>,
    prompt: &str,
    default: Option<Ipv4Addr>,
    parse: fn(&str) -> Option<Ipv4Addr>,
    error: &str,
) -> Result<Ipv4Addr, BondError> {
    let shown = default.map(|a| a.to_string()).unwrap_or_default();
    loop {
        let answer = c.ask(&format!("{prompt}[{shown}]:"))?;
        let value = if answer.is_empty() {
            default
        } else {
            parse(&answer)
        };
        match value {
            Some(v) => return Ok(v),
            None => c.say(error)?,
        }
    }
}

/// Runs steps 1..7. `existing_address` is the bond's own address when it is already configured:
/// once a card is a slave it has no address, so re-editing a bond would otherwise offer none.
pub fn run(
    c: &mut Console<'_>,
    bond: BondName,
    configured: bool,
    nics: &[Nic],
    existing_address: Option<(Ipv4Addr, Ipv4Addr)>,
) -> Result<Outcome, BondError> {
    // Step 1.
    if configured {
        c.say(&format!(
            "The bonding interface [{bond}] is already existed."
        ))?;
        if !c.yes_no("Do you want to edit it? (Y or N)[Y]:", true)? {
            return Ok(Outcome::Declined);
        }
    }
    // Step 2.
    if nics.len() < 2 {
        return Err(BondError::TooFewNics(nics.len()));
    }
    c.say("The list of network cards")?;
    write!(c.out, "{}", format_listing(nics)).map_err(io_error)?;
    // Step 3. NIC2's default is 2 as in the seed, or 1 when NIC1 took 2.
    c.say("Please select two cards to bonding.")?;
    let n1 = choose_nic(c, 1, 1, nics.len(), None)?;
    let n2 = choose_nic(c, 2, if n1 == 2 { 1 } else { 2 }, nics.len(), Some(n1))?;
    let (nic1, nic2) = (&nics[n1 - 1], &nics[n2 - 1]);
    // Step 4.
    c.say(&format!("Please enter the IP address of {bond}."))?;
    let defaults = nic1.addr.or(existing_address);
    let ip = ask_address(
        c,
        "IP address",
        defaults.map(|d| d.0),
        net::parse_host_address,
        "IP address error. Please re-enter it.",
    )?;
    let mask = ask_address(
        c,
        "NetMask",
        defaults.map(|d| d.1),
        net::parse_netmask,
        "Mask address error. Please re-enter it.",
    )?;
    // Step 5 (not validated, as in the seed; MAP-22 for the prompt's form).
    c.say("Please enter bonding parameters.")?;
    let answer = c.ask(&format!("Parameters[{DEFAULT_PARAMS}]:"))?;
    let params = if answer.is_empty() {
        DEFAULT_PARAMS.to_string()
    } else {
        answer.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    // Step 6.
    let script = c.yes_no(
        "Do you make script files of loading bonding driver? (Y or N) [N]:",
        false,
    )?;
    // Step 7.
    c.say("Please select one.")?;
    c.say("1. Reboot server.")?;
    c.say("2. Restart network.")?;
    c.say("3. Nothing.")?;
    let action = loop {
        let answer = c.ask("Number[1]:")?;
        match PostAction::from_number(if answer.is_empty() { "1" } else { &answer }) {
            Some(a) => break a,
            None => c.say("Finial action error. Please re-enter it.")?,
        }
    };
    Ok(Outcome::Proceed(Answers {
        nic1: nic1.name.clone(),
        nic2: nic2.name.clone(),
        ip,
        mask,
        params,
        script,
        action,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nics() -> Vec<Nic> {
        vec![
            Nic {
                name: "eth0".into(),
                mac: Some("00:30:13:f1:6b:4e".into()),
                addr: Some((
                    Ipv4Addr::new(172, 28, 125, 70),
                    Ipv4Addr::new(255, 255, 255, 0),
                )),
            },
            Nic {
                name: "eth1".into(),
                mac: Some("00:04:23:a6:91:f6".into()),
                addr: Some((
                    Ipv4Addr::new(192, 168, 0, 70),
                    Ipv4Addr::new(255, 255, 255, 0),
                )),
            },
        ]
    }

    fn drive(input: &str, configured: bool) -> (Result<Outcome, BondError>, String) {
        let mut inp = input.as_bytes();
        let mut out = Vec::new();
        let r = run(
            &mut Console {
                input: &mut inp,
                out: &mut out,
                echo: true,
            },
            BondName::parse("bond0").unwrap(),
            configured,
            &nics(),
            None,
        );
        (r, String::from_utf8(out).unwrap())
    }

    #[test]
    fn reprompts() {
        let (r, out) = drive(
            "Y\n3\n1\n1\nx\n2\n1.2.3\n10.0.0.9\n255.0.255.0\n\n\nmaybe\n\n0\n3\n",
            true,
        );
        assert!(out.contains("NIC1 set the wrong number. Please re-enter it.\n"));
        assert!(out.contains("NIC2 set the same number as NIC1.\n"));
        assert!(out.contains("NIC2 set the wrong number. Please re-enter it.\n"));
        assert!(out.contains("IP address error. Please re-enter it.\n"));
        assert!(out.contains("Mask address error. Please re-enter it.\n"));
        assert!(out.contains("Finial action error. Please re-enter it.\n"));
        let Ok(Outcome::Proceed(a)) = r else {
            panic!("{r:?}")
        };
        assert_eq!((a.nic1.as_str(), a.nic2.as_str()), ("eth0", "eth1"));
        assert_eq!(a.ip, Ipv4Addr::new(10, 0, 0, 9));
        assert_eq!(a.mask, Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(a.params, DEFAULT_PARAMS);
        assert_eq!(a.action, PostAction::Nothing);
    }

    #[test]
    fn declining_and_eof() {
        assert_eq!(drive("n\n", true).0.ok(), Some(Outcome::Declined));
        assert_eq!(
            drive("1\n", false).0.err().map(|e| e.exit_code()),
            Some(115)
        );
    }
}
