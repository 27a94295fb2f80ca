//! The seed's command names (CMD-1..7, CMD-9; GEN legacy naming): when `upkeep` runs as
//! `clpstat`, `clpcl`, `clpgrp`, `clpmonctrl`, `clpdown`, `clplogcc`, `clplogcf` or `clpcfctrl`
//! (argv[0], through symlinks, docs/OPERATIONS.md), their options are translated into an
//! `upkeep` command line. `clpbondcf` never gets here (main hands it to the bonding tool).

/// `Some(upkeep argv)` when `argv0` is a seed name; `Some(Err)` for options the seed command
/// does not have here; `None` for `upkeep` itself.
pub fn translate(argv0: &str, args: &[String]) -> Option<Result<Vec<String>, String>> {
    // The installed names (one list, `install::ALIASES`); `clpbondcf` is the bonding tool's.
    if argv0 == "clpbondcf" || !super::install::ALIASES.contains(&argv0) {
        return None;
    }
    let mut out = vec!["upkeep".to_string()];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let args = match this_server_only(&args) {
        Ok(args) => args,
        Err(e) => return Some(Err(e)),
    };
    let result = match argv0 {
        "clpstat" => clpstat(&args, &mut out),
        "clpcl" => clpcl(&args, &mut out),
        "clpgrp" => clpgrp(&args, &mut out),
        "clpmonctrl" => clpmonctrl(&args, &mut out),
        "clpdown" => {
            out.push("down".into());
            for a in &args {
                match *a {
                    "-r" | "--reboot" => out.push("--reboot".into()),
                    "-a" => {}
                    other => {
                        return Some(Err(format!(
                            "unknown option `{other}` (try `-r` to reboot)"
                        )))
                    }
                }
            }
            Ok(())
        }
        "clplogcc" => {
            out.extend(["logs".into(), "collect".into()]);
            let mut it = args.iter();
            while let Some(a) = it.next() {
                match *a {
                    // The seed's collection types: one bundle here holds what each gathers.
                    "-t" => match it.next().copied() {
                        Some("type1" | "type2" | "type3") => {}
                        Some(other) => {
                            return Some(Err(format!(
                                "collection type `{other}` is not available; `upkeep logs collect` gathers one bundle"
                            )))
                        }
                        None => return Some(Err("`-t` needs a type (type1)".into())),
                    },
                    // Local only: there is no other server to collect from.
                    "-l" => {}
                    "-o" => match it.next() {
                        Some(dir) => {
                            out.push("-o".into());
                            out.push((*dir).to_string());
                        }
                        None => return Some(Err("`-o` needs a folder or file".into())),
                    },
                    other => return Some(Err(format!("unknown option `{other}` (use `-o PATH`)"))),
                }
            }
            Ok(())
        }
        "clplogcf" => {
            let mut it = args.iter();
            let mut level = None;
            while let Some(a) = it.next() {
                match *a {
                    "-l" => level = it.next().map(|l| (*l).to_string()),
                    "-s" => {
                        return Some(Err(
                            "log sizes are not set here: the daemon's log rolls daily and keeps `log.keep_files` files (docs/CONFIG.md)"
                                .into(),
                        ))
                    }
                    other => {
                        return Some(Err(format!("unknown option `{other}` (use `-l FILTER`)")))
                    }
                }
            }
            match level {
                Some(l) => {
                    out.extend(["log".into(), "level".into(), l]);
                    Ok(())
                }
                None => Err("say the new level with `-l FILTER` (e.g. `-l debug`)".into()),
            }
        }
        "clpcfctrl" => clpcfctrl(&args, &mut out),
        _ => unreachable_name(),
    };
    Some(result.map(|()| out))
}

/// `-h HOST` (every seed command takes it) must name this server: upkeep manages only the
/// server it runs on. The other arguments, without it.
/// Only names of `install::ALIASES` get to the match.
fn unreachable_name() -> Result<(), String> {
    Err("not a seed command name".into())
}

fn this_server_only<'a>(args: &[&'a str]) -> Result<Vec<&'a str>, String> {
    let mut rest = Vec::with_capacity(args.len());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if *a != "-h" {
            rest.push(*a);
            continue;
        }
        let Some(host) = it.next() else {
            return Err("`-h` needs a server name".into());
        };
        let me = nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default();
        let short = me.split('.').next().unwrap_or_default();
        if !["localhost", "127.0.0.1", "::1", me.as_str(), short].contains(host) {
            return Err(format!(
                "upkeep manages only this server (`{me}`): run the command on `{host}` itself"
            ));
        }
    }
    Ok(rest)
}

/// CMD-1: `clpstat` with the seed's options. Status (`-s` or nothing, `-g`, `-m`) in its own
/// layout; configuration (`-i`, `--cl`, `--sv`) is the configuration in force, one monitor or
/// resource (`--mon`, `--rsc`) its explanation; what a single server does not have is refused.
fn clpstat(args: &[&str], out: &mut Vec<String>) -> Result<(), String> {
    let mut view: Option<Vec<String>> = None;
    let mut json = false;
    let mut it = args.iter();
    let set = |v: &mut Option<Vec<String>>, to: Vec<&str>| -> Result<(), String> {
        if v.is_some() {
            return Err("give one of -s, -g, -m, -i, --cl, --sv, --grp, --rsc, --mon".into());
        }
        *v = Some(to.into_iter().map(String::from).collect());
        Ok(())
    };
    while let Some(a) = it.next() {
        match *a {
            "-s" => set(&mut view, vec!["status", "--clp", "all"])?,
            "-g" => set(&mut view, vec!["status", "--clp", "groups"])?,
            "-m" => set(&mut view, vec!["status", "--clp", "monitors"])?,
            "-i" | "--cl" => set(&mut view, vec!["config", "show"])?,
            "--sv" => {
                it.next();
                set(&mut view, vec!["config", "show"])?
            }
            "--rsc" | "--mon" => match it.next() {
                Some(name) => set(&mut view, vec!["explain", name])?,
                None => return Err(format!("`{a}` needs a name")),
            },
            "--grp" => {
                return Err(
                    "a group's settings are in `upkeep config show`; `upkeep explain RESOURCE` explains one of its resources"
                        .into(),
                )
            }
            "-n" | "--hb" => return Err("a single server has no heartbeats; `upkeep status` shows the server".into()),
            "-f" | "--fnc" => return Err("a single server has no fencing; `upkeep status` shows the server".into()),
            "--svg" => return Err("a single server has no server groups".into()),
            "--xcl" => return Err("a single server has no exclusion rules".into()),
            // Wide names and "this server only": the layout is already both.
            "--long" | "--local" => {}
            "--json" => json = true,
            other => {
                return Err(format!(
                    "unknown option `{other}` (use -s, -g, -m, -i, --rsc NAME or --mon NAME)"
                ))
            }
        }
    }
    out.extend(view.unwrap_or_else(|| vec!["status".into(), "--clp".into(), "all".into()]));
    if json {
        // JSON has one layout: the protocol's.
        out.retain(|a| a != "--clp" && a != "all" && a != "groups" && a != "monitors");
        out.push("--json".into());
    }
    Ok(())
}

/// CMD-2: `-s` start, `-t` stop, `--suspend`, `--resume`; `-a` (all servers) is implied.
fn clpcl(args: &[&str], out: &mut Vec<String>) -> Result<(), String> {
    let mut action = None;
    for a in args {
        let this = match *a {
            "-s" => "start",
            "-t" => "stop",
            "--suspend" => "suspend",
            "--resume" => "resume",
            "-a" => continue,
            "-r" => {
                return Err(
                    "to restart the daemon's groups and monitors run `upkeep stop`, then `upkeep start`; the service itself: `systemctl restart upkeep`".into(),
                )
            }
            "--web" | "--alert" => {
                return Err(
                    "the web manager and the alerts run inside the daemon: `systemctl restart upkeep` restarts them".into(),
                )
            }
            other => {
                return Err(format!(
                    "unknown option `{other}` (use -s, -t, --suspend or --resume)"
                ))
            }
        };
        if action.replace(this).is_some() {
            return Err("give one of -s, -t, --suspend, --resume".into());
        }
    }
    match action {
        Some(a) => {
            out.push(a.into());
            Ok(())
        }
        None => Err("give one of -s, -t, --suspend, --resume".into()),
    }
}

/// CMD-4: `-s NAME` start, `-t NAME` stop; group move (`-m`) does not exist in SSS.
fn clpgrp(args: &[&str], out: &mut Vec<String>) -> Result<(), String> {
    match args {
        ["-s", name] => out.extend(["group".into(), "start".into(), (*name).to_string()]),
        ["-t", name] => out.extend(["group".into(), "stop".into(), (*name).to_string()]),
        // CMD-4: there is no other server to move a group to.
        ["-m", ..] => return Err("group move is not available on a single server".into()),
        ["-s"] | ["-t"] => {
            return Err(
                "name the group: `clpgrp -s GROUP` (`upkeep status` lists them; `upkeep start` starts the daemon with every auto-start group)".into(),
            )
        }
        _ => return Err("use `clpgrp -s GROUP` or `clpgrp -t GROUP`".into()),
    }
    Ok(())
}

/// CMD-9: `-s` suspend, `-r` resume, `-m NAME` for one monitor (all by default).
fn clpmonctrl(args: &[&str], out: &mut Vec<String>) -> Result<(), String> {
    let mut action = None;
    let mut names = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match *a {
            "-s" => action = Some("suspend"),
            "-r" => action = Some("resume"),
            "-m" => match it.next() {
                Some(n) => names.push((*n).to_string()),
                None => return Err("`-m` needs a monitor name".into()),
            },
            other => {
                return Err(format!(
                    "unknown option `{other}` (use -s or -r, and -m MONITOR)"
                ))
            }
        }
    }
    let Some(action) = action else {
        return Err("give -s (suspend) or -r (resume)".into());
    };
    out.extend(["monitor".into(), action.into()]);
    out.extend(names);
    Ok(())
}

/// CMD-6: `--push -l|-w [-x PATH]` applies, `--pull -l|-w [-x PATH]` backs up. `-x` names the
/// file, or a folder holding `upkeep.ron` (the seed's media folder); default `./upkeep.ron`.
fn clpcfctrl(args: &[&str], out: &mut Vec<String>) -> Result<(), String> {
    let mut push = None;
    let mut path = String::from("upkeep.ron");
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match *a {
            "--push" => push = Some(true),
            "--pull" => push = Some(false),
            "-l" | "-w" => {}
            "-x" => match it.next() {
                Some(p) => path = (*p).to_string(),
                None => return Err("`-x` needs a path".into()),
            },
            other => {
                return Err(format!(
                    "unknown option `{other}` (use --push or --pull, -l, -x PATH)"
                ))
            }
        }
    }
    if std::path::Path::new(&path).is_dir() {
        path = format!("{}/upkeep.ron", path.trim_end_matches('/'));
    }
    match push {
        Some(true) => out.extend(["config".into(), "apply".into(), path, "--clp".into()]),
        Some(false) => out.extend(["config".into(), "pull".into(), path, "--clp".into()]),
        None => return Err("give --push or --pull".into()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(argv0: &str, args: &[&str]) -> Result<Vec<String>, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        translate(argv0, &args).expect("a seed name")
    }

    /// The table in docs/OPERATIONS.md is the contract: each row's seed command line becomes
    /// the upkeep command line written there, or is refused naming what that row names.
    #[test]
    fn every_row_of_the_options_table_holds() {
        let doc = include_str!("../../docs/OPERATIONS.md");
        let table = doc
            .split("### Every option, and what it becomes")
            .nth(1)
            .expect("the options table");
        let mut rows = 0;
        for line in table.lines().skip_while(|l| !l.starts_with("| `clp")) {
            if !line.starts_with("| `clp") {
                break;
            }
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            let seed: Vec<&str> = cells[0].trim_matches('`').split(' ').collect();
            let got = t(seed[0], &seed[1..]);
            if let Some(pointer) = cells[1].strip_prefix("refused: ") {
                let pointer = pointer.trim_matches('`');
                match got {
                    Err(message) => assert!(
                        message.contains(pointer),
                        "{}: `{message}` does not name `{pointer}`",
                        cells[0]
                    ),
                    Ok(cmd) => panic!("{} became {cmd:?}, not refused", cells[0]),
                }
            } else {
                let want: Vec<&str> = cells[1].trim_matches('`').split(' ').collect();
                assert_eq!(
                    got,
                    Ok(want.iter().map(|s| s.to_string()).collect()),
                    "{}",
                    cells[0]
                );
            }
            rows += 1;
        }
        assert!(rows >= 40, "only {rows} rows read");
    }

    #[test]
    fn the_seed_options_become_upkeep_commands() {
        assert_eq!(t("clpcl", &["-s", "-a"]).unwrap(), ["upkeep", "start"]);
        assert_eq!(t("clpcl", &["-t", "-a"]).unwrap(), ["upkeep", "stop"]);
        assert_eq!(t("clpcl", &["--suspend"]).unwrap(), ["upkeep", "suspend"]);
        assert_eq!(
            t("clpmonctrl", &["-s"]).unwrap(),
            ["upkeep", "monitor", "suspend"]
        );
        assert_eq!(
            t("clpgrp", &["-t", "web"]).unwrap(),
            ["upkeep", "group", "stop", "web"]
        );
        assert_eq!(
            t("clpdown", &["-r"]).unwrap(),
            ["upkeep", "down", "--reboot"]
        );
        assert_eq!(
            t("clpcfctrl", &["--push", "-l", "-x", "/tmp/nope.ron"]).unwrap(),
            ["upkeep", "config", "apply", "/tmp/nope.ron", "--clp"]
        );
        assert!(t("clpgrp", &["-m", "web"])
            .unwrap_err()
            .contains("not available"));
        assert!(translate("upkeep", &[]).is_none());
    }
}
