//! `upkeep install` / `upkeep uninstall` (issue 13): a copy of the binary, one man page per
//! command, shell completions, the systemd unit (packaging/upkeep.service, Type=notify), the
//! seed's command names as links (GEN legacy naming; CMD-1..10 via argv[0]), the demo
//! configuration, and the state and log folders with the modes of docs/SECURITY.md. OPS-6..8 map
//! to `systemctl disable|enable upkeep` (MAP-20); install only writes files and says what to run.
//!
//! A manifest under the root records what was written with a hash of each file, so a later
//! install replaces its own old files but keeps one the administrator edited (showing the
//! difference) unless `--force`, and uninstall removes exactly what install wrote. The .deb
//! (packaging/debian/, `cargo deb`) ships the same man pages and completions, staged by
//! `upkeep install --root DIR --prefix /usr`.

mod diff;
mod manifest;

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory};

use super::exit::Exit;
use super::{fail, out};
use crate::host::safe_file;
use manifest::Entry;

/// The unit shipped in the repository (and in the .deb); `ExecStart` names the binary the .deb
/// installs, `/usr/bin/upkeep`, and is pointed at `<prefix>/bin/upkeep` here.
const UNIT: &str = include_str!("../../packaging/upkeep.service");
const UNIT_BINARY: &str = "/usr/bin/upkeep";

/// The seed's command names that `upkeep` answers to.
pub const ALIASES: [&str; 9] = [
    "clpstat",
    "clpcl",
    "clpgrp",
    "clpmonctrl",
    "clpdown",
    "clplogcc",
    "clplogcf",
    "clpcfctrl",
    "clpbondcf",
];

/// Folders the daemon writes, created with the modes of docs/SECURITY.md ("Files and folders");
/// an existing one keeps its mode.
const FOLDERS: [(&str, u32); 2] = [("/var/lib/upkeep", 0o700), ("/var/log/upkeep", 0o750)];

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Install under this root instead of `/` (packaging, tests).
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// The binary goes to PREFIX/bin, the clp* links to PREFIX/sbin, man pages and completions
    /// under PREFIX/share.
    #[arg(long, value_name = "DIR", default_value = "/usr/local")]
    prefix: PathBuf,
    /// The binary to install [default: this one].
    #[arg(long, value_name = "PATH")]
    binary: Option<PathBuf>,
    /// Replace files edited since they were installed (or not installed by upkeep).
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Uninstall from this root instead of `/`.
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// Remove files edited since they were installed too.
    #[arg(long)]
    force: bool,
}

/// One thing install puts at `path` (absolute, as the installed system sees it).
#[derive(Debug)]
struct Planned {
    path: PathBuf,
    what: What,
    mode: u32,
}

#[derive(Debug)]
enum What {
    Text(Vec<u8>),
    /// A copy of this file (the binary: not read into memory).
    Copy(PathBuf),
    Link(PathBuf),
}

/// Every man page: `upkeep.1`, then `upkeep-daemon.1`, `upkeep-group-start.1`... as the main
/// page's SUBCOMMANDS section names them.
pub fn man_pages() -> io::Result<Vec<(String, Vec<u8>)>> {
    fn render(cmd: clap::Command, pages: &mut Vec<(String, Vec<u8>)>) -> io::Result<()> {
        let man = clap_mangen::Man::new(cmd.clone());
        let mut text = Vec::new();
        man.render(&mut text)?;
        pages.push((man.get_filename(), text));
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            render(sub.clone(), pages)?;
        }
        Ok(())
    }
    // Built, a subcommand's display name is `upkeep-daemon`; without the help subcommand the
    // main page names no `upkeep-help(1)`, which would have no page.
    let mut cmd = super::Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    render(cmd, &mut pages)?;
    Ok(pages)
}

/// What each of the seed's names runs, for its page in section 8 (they live in sbin).
const ALIAS_COMMANDS: [(&str, &str, &str); 9] = [
    ("clpstat", "upkeep status", "upkeep-status"),
    (
        "clpcl",
        "upkeep start, stop, suspend or resume",
        "upkeep-start",
    ),
    ("clpgrp", "upkeep group", "upkeep-group"),
    ("clpmonctrl", "upkeep monitor", "upkeep-monitor"),
    ("clpdown", "upkeep down", "upkeep-down"),
    ("clplogcc", "upkeep logs collect", "upkeep-logs-collect"),
    ("clplogcf", "upkeep log level", "upkeep-log-level"),
    ("clpcfctrl", "upkeep config", "upkeep-config"),
    ("clpbondcf", "upkeep bond, the bonding setup tool", "upkeep"),
];

/// A short page per seed name (`clpstat.8`...), so `man clpstat` says what it is.
fn alias_pages() -> Vec<(String, Vec<u8>)> {
    let version = env!("CARGO_PKG_VERSION");
    ALIAS_COMMANDS
        .iter()
        .map(|(alias, runs, page)| {
            let text = format!(
                ".TH {upper} 8 \"\" \"upkeep {version}\"\n\
                 .SH NAME\n{alias} \\- SingleServerSafe's name for {runs}\n\
                 .SH SYNOPSIS\n\\fB{alias}\\fR [\\fIOPTIONS\\fR]\n\
                 .SH DESCRIPTION\nRun under this name, \\fBupkeep\\fR accepts the options of the \
                 CLUSTERPRO/EXPRESSCLUSTER SingleServerSafe command \\fB{alias}\\fR and runs {runs}. \
                 Each option and what it maps to: docs/OPERATIONS.md, \"The seed's command names\" \
                 (/usr/share/doc/upkeep/OPERATIONS.md in the Debian package).\n\
                 .SH SEE ALSO\n\\fB{}\\fR(1), \\fBupkeep\\fR(1)\n",
                page.replace('-', "\\-"),
                upper = alias.to_uppercase(),
            );
            (format!("{alias}.8"), text.into_bytes())
        })
        .collect()
}

fn completion(shell: clap_complete::Shell) -> Vec<u8> {
    let mut cmd = super::Cli::command();
    let mut text = Vec::new();
    clap_complete::generate(shell, &mut cmd, "upkeep", &mut text);
    text
}

fn plan(prefix: &Path, binary: &Path) -> io::Result<Vec<Planned>> {
    let file = |path: PathBuf, text: Vec<u8>| Planned {
        path,
        what: What::Text(text),
        mode: 0o644,
    };
    let installed_binary = prefix.join("bin/upkeep");
    let mut plan = vec![Planned {
        path: installed_binary.clone(),
        what: What::Copy(binary.to_path_buf()),
        mode: 0o755,
    }];
    // Relative, so the links are right under --root and after the tree is moved.
    for alias in ALIASES {
        plan.push(Planned {
            path: prefix.join("sbin").join(alias),
            what: What::Link("../bin/upkeep".into()),
            mode: 0o777,
        });
    }
    for (name, text) in man_pages()? {
        plan.push(file(prefix.join("share/man/man1").join(name), text));
    }
    for (name, text) in alias_pages() {
        plan.push(file(prefix.join("share/man/man8").join(name), text));
    }
    use clap_complete::Shell;
    // The folders each shell searches by default: Debian's zsh reads vendor-completions for
    // /usr and site-functions for /usr/local.
    let zsh_dir = if prefix == Path::new("/usr") {
        "share/zsh/vendor-completions"
    } else {
        "share/zsh/site-functions"
    };
    for (shell, path) in [
        (
            Shell::Bash,
            "share/bash-completion/completions/upkeep".to_string(),
        ),
        (Shell::Zsh, format!("{zsh_dir}/_upkeep")),
        (
            Shell::Fish,
            "share/fish/vendor_completions.d/upkeep.fish".into(),
        ),
    ] {
        plan.push(file(prefix.join(path), completion(shell)));
    }
    let unit = UNIT.replace(UNIT_BINARY, &installed_binary.display().to_string());
    plan.push(file(
        "/etc/systemd/system/upkeep.service".into(),
        unit.into_bytes(),
    ));
    plan.push(file(
        "/etc/upkeep/upkeep.ron".into(),
        upkeep_config::DEFAULT_CONFIG.as_bytes().to_vec(),
    ));
    Ok(plan)
}

/// `path` (absolute) inside `root`.
fn inside(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

/// What install did with one planned entry.
enum Outcome {
    Installed,
    Unchanged,
    /// Its own older version, replaced.
    Updated,
    /// Edited (or not upkeep's), replaced because of --force.
    Forced,
    /// Edited (or not upkeep's): left as it is; the difference.
    Kept(String),
}

struct Installer<'a> {
    root: &'a Path,
    force: bool,
    old: Vec<Entry>,
    /// Folders created now, absolute.
    created: Vec<PathBuf>,
}

impl Installer<'_> {
    fn old_entry(&self, path: &Path) -> Option<&Entry> {
        self.old.iter().find(|e| e.path() == path)
    }

    /// Creates the missing folders above `path` (0755), remembering which.
    fn make_parents(&mut self, path: &Path) -> io::Result<()> {
        match path.parent() {
            Some(parent) => self.make_dir(parent, 0o755),
            None => Ok(()),
        }
    }

    fn make_dir(&mut self, dir: &Path, mode: u32) -> io::Result<()> {
        let real = inside(self.root, dir);
        if real.symlink_metadata().is_ok() {
            return Ok(());
        }
        if let Some(parent) = dir.parent() {
            self.make_dir(parent, 0o755)?;
        }
        std::fs::create_dir(&real)?;
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(mode))?;
        self.created.push(dir.to_path_buf());
        Ok(())
    }

    /// Puts one entry in place; the manifest entry to record for it, if any.
    fn place(&mut self, item: &Planned) -> io::Result<(Outcome, Option<Entry>)> {
        let real = inside(self.root, &item.path);
        let existing = real.symlink_metadata().ok();
        if let What::Link(target) = &item.what {
            let entry = Entry::Link {
                path: item.path.clone(),
                target: target.clone(),
            };
            let current = std::fs::read_link(&real).ok();
            let outcome = match (&existing, &current) {
                (None, _) => Outcome::Installed,
                (Some(_), Some(now)) if now == target => Outcome::Unchanged,
                (Some(_), Some(now))
                    if matches!(self.old_entry(&item.path),
                        Some(Entry::Link { target: old, .. }) if old == now) =>
                {
                    Outcome::Updated
                }
                _ if self.force => Outcome::Forced,
                (Some(_), now) => {
                    let is = match now {
                        Some(t) => format!("a link to {}", t.display()),
                        None => "not a link".into(),
                    };
                    let recorded = self.old_entry(&item.path).cloned();
                    return Ok((
                        Outcome::Kept(format!(
                            "  it is {is}; upkeep's is a link to {}\n",
                            target.display()
                        )),
                        recorded,
                    ));
                }
            };
            if !matches!(outcome, Outcome::Unchanged) {
                self.make_parents(&item.path)?;
                let temp = temp_name(&real);
                std::os::unix::fs::symlink(target, &temp)?;
                std::fs::rename(&temp, &real)?;
            }
            return Ok((outcome, Some(entry)));
        }
        let (new_hash, new_text) = match &item.what {
            What::Text(text) => (manifest::hash_bytes(text), Some(text)),
            What::Copy(source) => (manifest::hash_file(source)?, None),
            What::Link(_) => unreachable!("links are placed above"),
        };
        let entry = Entry::File {
            path: item.path.clone(),
            hash: new_hash,
        };
        let outcome = match existing {
            None => Outcome::Installed,
            Some(meta) if meta.is_dir() => {
                return Err(io::Error::other(format!(
                    "{} is a folder; upkeep installs a file there",
                    real.display()
                )))
            }
            Some(_) => {
                let now = manifest::hash_file(&real)?;
                let recorded = self.old_entry(&item.path).cloned();
                if now == new_hash {
                    Outcome::Unchanged
                } else if matches!(&recorded, Some(Entry::File { hash, .. }) if *hash == now) {
                    Outcome::Updated
                } else if self.force {
                    Outcome::Forced
                } else {
                    let difference = match new_text {
                        Some(new) => {
                            let yours = std::fs::read(&real)?;
                            match (std::str::from_utf8(&yours), std::str::from_utf8(new)) {
                                (Ok(yours), Ok(new)) => diff::unified(
                                    yours,
                                    new,
                                    &format!("{} (yours)", item.path.display()),
                                    &format!("{} (upkeep's)", item.path.display()),
                                ),
                                _ => "  binary files differ\n".into(),
                            }
                        }
                        None => "  binary files differ\n".into(),
                    };
                    return Ok((Outcome::Kept(difference), recorded));
                }
            }
        };
        if !matches!(outcome, Outcome::Unchanged) {
            self.make_parents(&item.path)?;
            let temp = temp_name(&real);
            let written = match &item.what {
                What::Text(text) => write_new(&temp, text.as_slice(), item.mode),
                What::Copy(source) => {
                    std::fs::File::open(source).and_then(|from| write_new(&temp, from, item.mode))
                }
                What::Link(_) => unreachable!("links are placed above"),
            };
            let placed = written.and_then(|()| std::fs::rename(&temp, &real));
            if let Err(e) = placed {
                let _ = std::fs::remove_file(&temp);
                return Err(e);
            }
        }
        Ok((outcome, Some(entry)))
    }
}

/// A name beside `path` for writing it whole before renaming it over `path`, so a reader never
/// sees half a file and a running binary is replaced, not overwritten. Unguessable, and created
/// new without following links (docs/SECURITY.md), as every file root writes.
fn temp_name(path: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(".{}.tmp", safe_file::unpredictable_suffix()));
    path.with_file_name(name)
}

/// Writes `temp` new (`O_CREAT|O_EXCL|O_NOFOLLOW`) from `from`, with `mode` whatever the umask.
fn write_new(temp: &Path, mut from: impl io::Read, mode: u32) -> io::Result<()> {
    let mut file = safe_file::create_new(temp, 0o600)?;
    io::copy(&mut from, &mut file)?;
    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    file.sync_all()
}

fn read_manifest(root: &Path) -> Result<Option<Vec<Entry>>, String> {
    let path = inside(root, Path::new(manifest::PATH));
    match std::fs::read_to_string(&path) {
        Ok(text) => manifest::parse(&text).map(Some).map_err(|line| {
            format!(
                "{}:{line}: not a line `upkeep install` writes; fix it or remove the file",
                path.display()
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

fn write_manifest(root: &Path, entries: &[Entry]) -> io::Result<()> {
    let path = inside(root, Path::new(manifest::PATH));
    let temp = temp_name(&path);
    write_new(&temp, manifest::render(entries).as_bytes(), 0o600)
        .and_then(|()| std::fs::rename(&temp, &path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&temp);
        })
}

pub fn run(args: &InstallArgs) -> Exit {
    let binary = match args
        .binary
        .clone()
        .map(Ok)
        .unwrap_or_else(std::env::current_exe)
    {
        Ok(b) => b,
        Err(e) => {
            fail(format!(
                "cannot tell where this binary is: {e}; pass --binary PATH"
            ));
            return Exit::OsErr;
        }
    };
    if !binary.is_file() {
        fail(format!("{}: no such file to install", binary.display()));
        return Exit::NoInput;
    }
    if !args.prefix.is_absolute() {
        fail(format!(
            "--prefix {}: give an absolute path, e.g. /usr/local",
            args.prefix.display()
        ));
        return Exit::Usage;
    }
    let old = match read_manifest(&args.root) {
        Ok(old) => old.unwrap_or_default(),
        Err(message) => {
            fail(message);
            return Exit::Config;
        }
    };
    let plan = match plan(&args.prefix, &binary) {
        Ok(plan) => plan,
        Err(e) => {
            fail(format!("cannot render the man pages: {e}"));
            return Exit::Software;
        }
    };
    let mut installer = Installer {
        root: &args.root,
        force: args.force,
        old,
        created: Vec::new(),
    };
    let mut text = String::new();
    let mut kept = 0;
    let result = (|| -> io::Result<Vec<Entry>> {
        let mut entries = Vec::new();
        for (dir, mode) in FOLDERS {
            installer.make_dir(Path::new(dir), mode)?;
        }
        for item in &plan {
            let (outcome, entry) = installer
                .place(item)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", item.path.display())))?;
            let path = item.path.display();
            match outcome {
                Outcome::Installed => text.push_str(&format!("installed {path}\n")),
                Outcome::Unchanged => text.push_str(&format!("unchanged {path}\n")),
                Outcome::Updated => text.push_str(&format!("updated   {path}\n")),
                Outcome::Forced => {
                    text.push_str(&format!("replaced  {path} (--force: it had been edited)\n"))
                }
                Outcome::Kept(difference) => {
                    kept += 1;
                    text.push_str(&format!(
                        "kept      {path}: edited here (or not installed by upkeep); upkeep's version differs:\n{difference}"
                    ));
                }
            }
            entries.extend(entry);
        }
        // What an earlier install wrote and this one does not (a command that is gone): removed
        // unless edited.
        for stale in installer.old.clone() {
            if matches!(stale, Entry::Dir { .. }) || plan.iter().any(|p| p.path == stale.path()) {
                continue;
            }
            match remove(&args.root, &stale, false)? {
                Removal::Removed | Removal::Gone => {
                    text.push_str(&format!(
                        "removed   {} (no longer installed)\n",
                        stale.path().display()
                    ));
                }
                Removal::Kept(_) => entries.push(stale),
            }
        }
        // Folders: those created now, and those an earlier install created.
        let mut dirs: Vec<PathBuf> = installer
            .old
            .iter()
            .filter_map(|e| match e {
                Entry::Dir { path } => Some(path.clone()),
                _ => None,
            })
            .collect();
        for dir in &installer.created {
            if !dirs.contains(dir) {
                dirs.push(dir.clone());
            }
        }
        entries.extend(dirs.into_iter().map(|path| Entry::Dir { path }));
        write_manifest(&args.root, &entries)?;
        Ok(entries)
    })();
    if let Err(e) = result {
        let _ = out(&text);
        fail(format!(
            "cannot install under `{}`: {e} (run as root, or pass --root DIR)",
            args.root.display()
        ));
        return Exit::CantCreate;
    }
    text.push_str(&format!(
        "manifest: {} (`upkeep uninstall` removes what it lists)\n",
        inside(&args.root, Path::new(manifest::PATH)).display()
    ));
    if kept > 0 {
        text.push_str(&format!(
            "kept {kept} edited file(s), differences above (- yours, + upkeep's); to replace them with upkeep's version, save yours and run `upkeep install --force{}`\n",
            root_flag(&args.root)
        ));
    }
    if args.root == Path::new("/") {
        text.push_str(
            "next: edit /etc/upkeep/upkeep.ron, then `systemctl daemon-reload && systemctl enable --now upkeep`\n",
        );
    }
    out(&text)
}

fn root_flag(root: &Path) -> String {
    if root == Path::new("/") {
        String::new()
    } else {
        format!(" --root {}", root.display())
    }
}

enum Removal {
    Removed,
    Gone,
    /// Edited since install: left, and why.
    Kept(String),
}

/// Removes one file or link install wrote, unless it changed since (or `force`).
fn remove(root: &Path, entry: &Entry, force: bool) -> io::Result<Removal> {
    let real = inside(root, entry.path());
    let Ok(meta) = real.symlink_metadata() else {
        return Ok(Removal::Gone);
    };
    let changed = match entry {
        Entry::File { hash, .. } => {
            if meta.is_dir() {
                Some("it is a folder now".to_string())
            } else if manifest::hash_file(&real)? != *hash {
                Some("edited since it was installed".into())
            } else {
                None
            }
        }
        Entry::Link { target, .. } => match std::fs::read_link(&real) {
            Ok(now) if &now == target => None,
            Ok(now) => Some(format!("it is a link to {} now", now.display())),
            Err(_) => Some("it is not a link now".into()),
        },
        Entry::Dir { .. } => return Ok(Removal::Kept(String::new())),
    };
    match changed {
        Some(why) if !force || meta.is_dir() => Ok(Removal::Kept(why)),
        _ => {
            std::fs::remove_file(&real)?;
            Ok(Removal::Removed)
        }
    }
}

pub fn uninstall(args: &UninstallArgs) -> Exit {
    let entries = match read_manifest(&args.root) {
        Ok(Some(entries)) => entries,
        Ok(None) => {
            fail(format!(
                "nothing to uninstall: no {} (files of the .deb go with `apt remove upkeep`)",
                inside(&args.root, Path::new(manifest::PATH)).display()
            ));
            return Exit::NoInput;
        }
        Err(message) => {
            fail(message);
            return Exit::Config;
        }
    };
    let mut text = String::new();
    let mut left = Vec::new();
    let result = (|| -> io::Result<()> {
        for entry in entries.iter().filter(|e| !matches!(e, Entry::Dir { .. })) {
            let path = entry.path().display();
            match remove(&args.root, entry, args.force)? {
                Removal::Removed => text.push_str(&format!("removed {path}\n")),
                Removal::Gone => text.push_str(&format!("gone    {path} (already)\n")),
                Removal::Kept(why) => {
                    text.push_str(&format!("kept    {path}: {why}\n"));
                    left.push(entry.clone());
                }
            }
        }
        let manifest_path = inside(&args.root, Path::new(manifest::PATH));
        if left.is_empty() {
            std::fs::remove_file(&manifest_path)?;
        }
        // Deepest first; a folder that holds anything else (state, logs) stays.
        let mut dirs: Vec<&Path> = entries
            .iter()
            .filter(|e| matches!(e, Entry::Dir { .. }))
            .map(Entry::path)
            .collect();
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for dir in dirs {
            match std::fs::remove_dir(inside(&args.root, dir)) {
                Ok(()) => text.push_str(&format!("removed {}/\n", dir.display())),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(_) => {
                    if FOLDERS.iter().any(|(f, _)| Path::new(f) == dir) {
                        text.push_str(&format!(
                            "left    {}/: it holds the daemon's files\n",
                            dir.display()
                        ));
                    }
                    left.push(Entry::Dir {
                        path: dir.to_path_buf(),
                    });
                }
            }
        }
        if left.iter().any(|e| !matches!(e, Entry::Dir { .. })) {
            write_manifest(&args.root, &left)?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = out(&text);
        fail(format!(
            "cannot uninstall from `{}`: {e}",
            args.root.display()
        ));
        return Exit::CantCreate;
    }
    let kept = left
        .iter()
        .filter(|e| !matches!(e, Entry::Dir { .. }))
        .count();
    if kept > 0 {
        text.push_str(&format!(
            "kept {kept} edited file(s); `upkeep uninstall --force{}` removes them too\n",
            root_flag(&args.root)
        ));
    }
    out(&text)
}
