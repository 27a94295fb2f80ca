//! The seed's command names (CMD-1..7, CMD-9; GEN legacy naming): when `upkeep` runs as
//! `clpstat`, `clpcl`, `clpgrp`, `clpmonctrl`, `clpdown`, `clplogcc`, `clplogcf` or `clpcfctrl`
//! (argv[0], through symlinks, docs/OPERATIONS.md), their options are translated into an
//! `upkeep` command line. `clpbondcf` never gets here (main hands it to the bonding tool).

/// `Some(upkeep argv)` when `argv0` is a seed name; `Some(Err)` for options the seed command
/// does not have here; `None` for `upkeep` itself.
pub fn translate(argv0: &str, args: &[String]) -> Option<Result<Vec<String>, String>> {
    let mut out = vec!["upkeep".to_string()];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match argv0 {
        "clpstat" => {
            out.push("status".into());
            passthrough(&args, &mut out, &["--json"])
        }
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
        _ => return None,
    };
    Some(result.map(|()| out))
}

fn passthrough(args: &[&str], out: &mut Vec<String>, allowed: &[&str]) -> Result<(), String> {
    for a in args {
        if allowed.contains(a) {
            out.push((*a).to_string());
        } else {
            return Err(format!("unknown option `{a}`"));
        }
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
