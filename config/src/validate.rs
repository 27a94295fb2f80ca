//! Raw file shape -> validated [`Config`]: defaults filled in, every rule of the spec checked,
//! every error collected (never stopping at the first).
//!
//! Implements GEN-3, CFG-6..8, GRP-2, RES-1..5, RES-8..11, MON-1..13, HWM-2..6, USW-2..6, RAID-1,
//! MTM-1 and the decisions of MAP-4, MAP-5, MAP-8..10. The spec ID of each rule is cited where it
//! is checked. Failover thresholds (RES-6, MON-12) must be 0 and so are simply not part of the
//! format. Errors point at the value they are about through the [`SpanIndex`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::bounds::ErrorList;
use crate::error::{did_you_mean, ConfigError};
use crate::model::*;
use crate::raw::{self, defaults, RawDuration};
use crate::span::SpanIndex;

/// Names become actor paths (`rc/web/exec1`), folder names (`scripts/<group>/<resource>/`) and
/// environment values, so they are kept short and plain.
const NAME_MAX: usize = 64;
/// The allowed span of a duration the spec does not bound (MAP-8): above zero or not, up to a
/// generous max that keeps the engine's time arithmetic far from overflow and catches unit slips
/// such as `"30d"` for `"30s"`.
struct Span {
    nonzero: bool,
    max: Duration,
    max_text: &'static str,
}

const SCRIPT_TIMEOUT: Span = Span {
    nonzero: true,
    max: Duration::from_secs(24 * 60 * 60),
    max_text: "24h",
};
/// Mail and program channel timings: nonzero, at most an hour.
const ALERT_TIMEOUT: Span = Span {
    nonzero: true,
    max: Duration::from_secs(60 * 60),
    max_text: "1h",
};

const KILL_GRACE: Span = Span {
    nonzero: false,
    max: Duration::from_secs(60 * 60),
    max_text: "1h",
};
/// Issue 12: a session's idle timeout, up to a day.
const WEB_IDLE: Span = Span {
    nonzero: true,
    max: Duration::from_secs(24 * 60 * 60),
    max_text: "24h",
};

const CORE_PERIOD: Span = Span {
    nonzero: true,
    max: Duration::from_secs(24 * 60 * 60),
    max_text: "24h",
};
/// A backoff delay: above zero (`Off` is the way to have none), at most an hour.
const BACKOFF_STEP: Span = Span {
    nonzero: true,
    max: Duration::from_secs(60 * 60),
    max_text: "1h",
};
/// Disk / raw read size in bytes (MAP-10).
const READ_SIZE_MAX: i64 = 99_999_999;
/// O_DIRECT needs sector-aligned reads.
const SECTOR: i64 = 512;
/// Linux IFNAMSIZ - 1.
const IFNAME_MAX: usize = 15;

/// Checks `raw` and builds the model. `file` names the file in messages; relative script paths
/// resolve against its folder (RES-9, MAP-4).
pub(crate) fn validate(
    raw: raw::RawConfig,
    file: &Path,
    spans: &SpanIndex,
) -> Result<Config, Vec<ConfigError>> {
    let base_dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut v = Validator {
        file,
        spans,
        base_dir,
        errors: ErrorList::default(),
    };
    let config = v.config(raw);
    if v.errors.is_empty() {
        Ok(config)
    } else {
        Err(v.errors.finish(file))
    }
}

/// What kind of monitor a rule applies to.
#[derive(Debug, Clone, PartialEq)]
enum Class {
    /// The exec resource it watches, when named.
    Pid(Option<String>),
    /// MON-2: disk, raw, ip, nic_link, soft_raid.
    Hardware,
    UserSpace,
    MultiTarget,
    /// custom, tcp, http: upkeep's own checks, not hardware (MON-2), so any timing and target.
    Check,
}

/// Where every exec resource is, for cross references.
struct ResourceInfo {
    mode: StartMode,
}

struct Validator<'a> {
    file: &'a Path,
    spans: &'a SpanIndex,
    base_dir: PathBuf,
    errors: ErrorList,
}

impl Validator<'_> {
    fn err(&mut self, path: &str, message: impl Into<String>) {
        let (file, spans) = (self.file, self.spans);
        self.errors
            .push(|| ConfigError::at(file, spans.position(path), path, message));
    }

    /// "; did you mean `x`?" — unless the error list is full: then the error is only counted,
    /// and comparing the name with every candidate would be work for nothing.
    fn hint<'c>(&self, name: &str, candidates: impl IntoIterator<Item = &'c str>) -> String {
        if self.errors.full() {
            String::new()
        } else {
            did_you_mean(name, candidates)
        }
    }

    fn here(&self, path: &str) -> String {
        let p = self.spans.position(path);
        format!("{}:{}", p.line, p.col)
    }

    // === the SSS ===

    fn config(&mut self, raw: raw::RawConfig) -> Config {
        let name = match raw.name.as_deref() {
            None => defaults::SSS_NAME.to_owned(),
            Some(n) => self.name_value("name", n),
        };
        // GEN-3: only SSS-edition configurations are accepted.
        match raw.edition.as_deref() {
            None => self.err(
                "edition",
                "missing field `edition`; write `edition: \"SSS\"`",
            ),
            Some("SSS") => {}
            Some(other) => self.err("edition", format!("must be `SSS` (got `{other}`)")),
        }
        let os_actions = match raw.os_actions {
            Some(raw::RawOsActions::Real) => OsActions::Real,
            Some(raw::RawOsActions::Simulated) | None => OsActions::Simulated,
        };
        let reboot_limit = self.reboot_limit(raw.reboot_limit.as_ref());
        let core_restart = self.core_restart(raw.core_restart.as_ref());
        let log = self.log(raw.log.as_ref());
        let paths = self.paths(raw.paths.as_ref());
        let access = self.access(raw.access.as_ref());
        let alerts = self.alerts(raw.alerts.as_ref());
        let web = raw.web.as_ref().map(|w| self.web(w));

        let groups = self.groups(&raw.groups);
        let resources: HashMap<String, ResourceInfo> = groups
            .iter()
            .flat_map(|g| {
                g.resources
                    .iter()
                    .map(|r| (r.name.clone(), ResourceInfo { mode: r.mode }))
            })
            .collect();
        let monitors = self.monitors(&raw.monitors, &groups, &resources);

        Config {
            name,
            os_actions,
            reboot_limit,
            base_dir: self.base_dir.clone(),
            groups,
            monitors,
            log,
            core_restart,
            paths,
            access,
            alerts,
            web,
        }
    }

    /// Issue 10: the control socket's reader and operator groups. Whether a group exists is the
    /// daemon's check at start (the file may be checked on another machine).
    fn access(&mut self, raw: Option<&raw::RawAccess>) -> AccessGroups {
        let Some(raw) = raw else {
            return AccessGroups::default();
        };
        let names = |v: &mut Self, field: &str, given: &[String], star: bool| {
            let mut out: Vec<String> = Vec::with_capacity(given.len());
            for (i, name) in given.iter().enumerate() {
                let at = format!("access.{field}[{i}]");
                if name == "*" {
                    if star {
                        out.push(name.clone());
                    } else {
                        v.err(
                            &at,
                            "`*` (every local user) may read, never operate; put it in `reader_groups`",
                        );
                    }
                } else if !group_name_ok(name) {
                    v.err(
                        &at,
                        format!(
                            "`{}` is not a group name: give the name of a local group, such as `\"upkeep\"`",
                            name.escape_debug()
                        ),
                    );
                } else if out.contains(name) {
                    v.err(&at, format!("`{name}` is listed twice"));
                } else {
                    out.push(name.clone());
                }
            }
            out
        };
        AccessGroups {
            operator_groups: names(self, "operator_groups", &raw.operator_groups, false),
            reader_groups: names(self, "reader_groups", &raw.reader_groups, true),
        }
    }

    // === alerts (MSG-1..7) ===

    fn alerts(&mut self, raw: Option<&raw::RawAlerts>) -> Alerts {
        let Some(raw) = raw else {
            return Alerts::default();
        };
        let messages = raw
            .messages
            .as_deref()
            .map(|m| self.absolute("alerts.messages", Some(m)));
        let syslog = match &raw.syslog {
            None => Syslog::default(),
            Some(s) => {
                let d = Syslog::default();
                let ident = match s.ident.as_deref() {
                    None => d.ident.clone(),
                    Some(i)
                        if !i.is_empty()
                            && i.len() <= 48
                            && i.bytes()
                                .all(|b| b.is_ascii_graphic() && b != b':' && b != b'[') =>
                    {
                        i.to_owned()
                    }
                    Some(i) => {
                        self.err(
                            "alerts.syslog.ident",
                            format!("must be 1..=48 printable characters without spaces, `:` or `[`, e.g. `\"upkeep\"` or `\"CLUSTERPRO\"` (got `{i}`)"),
                        );
                        d.ident.clone()
                    }
                };
                Syslog {
                    enabled: s.enabled.unwrap_or(true),
                    socket: match s.socket.as_deref() {
                        None => d.socket,
                        Some(p) => self.absolute("alerts.syslog.socket", Some(p)),
                    },
                    ident,
                }
            }
        };
        let alert_log = match &raw.alert_log {
            None => AlertLog::default(),
            Some(a) => {
                let d = AlertLog::default();
                let kib = self.int(
                    "alerts.alert_log.max_file_kib",
                    a.max_file_kib,
                    16,
                    1024 * 1024,
                    i64::try_from(d.max_file_bytes / 1024).unwrap_or(1024),
                );
                let keep = self.int(
                    "alerts.alert_log.keep_files",
                    a.keep_files,
                    1,
                    100,
                    i64::from(d.keep_files),
                );
                AlertLog {
                    max_file_bytes: u64::try_from(kib).unwrap_or(1024) * 1024,
                    keep_files: to_u32(keep),
                }
            }
        };
        let mail = raw.mail.as_ref().map(|m| self.mail(m));
        let program = raw.program.as_ref().map(|p| {
            let path = self.absolute("alerts.program.path", p.path.as_deref());
            let timeout = self.within(
                "alerts.program.timeout",
                p.timeout.as_ref(),
                ALERT_TIMEOUT,
                Duration::from_secs(10),
            );
            let queue = self.int("alerts.program.queue", p.queue, 1, 10_000, 64);
            Program {
                path,
                args: p.args.clone(),
                timeout,
                queue: usize::try_from(queue).unwrap_or(64),
            }
        });
        Alerts {
            messages,
            syslog,
            alert_log,
            mail,
            program,
        }
    }

    fn mail(&mut self, m: &raw::RawMail) -> Mail {
        let server = match m.server.as_deref() {
            Some(s) if !s.trim().is_empty() && !s.contains(char::is_whitespace) => s.to_owned(),
            Some(s) => {
                self.err(
                    "alerts.mail.server",
                    format!("must be a host name or address (got `{s}`)"),
                );
                String::new()
            }
            None => {
                self.err(
                    "alerts.mail",
                    "missing field `server`; write e.g. `server: \"smtp.example.org\"`",
                );
                String::new()
            }
        };
        let security = match m.security {
            None | Some(raw::RawMailSecurity::StartTls) => MailSecurity::StartTls,
            Some(raw::RawMailSecurity::Tls) => MailSecurity::Tls,
            Some(raw::RawMailSecurity::Plain) => MailSecurity::Plain,
        };
        let default_port = match security {
            MailSecurity::StartTls => 587,
            MailSecurity::Tls => 465,
            MailSecurity::Plain => 25,
        };
        let port = self.int("alerts.mail.port", m.port, 1, 65535, default_port);
        let address = |v: &mut Self, path: &str, a: &str| {
            let ok = a.split_once('@').is_some_and(|(l, d)| {
                !l.is_empty()
                    && !d.is_empty()
                    && !a.contains(char::is_whitespace)
                    && !a.contains(['<', '>', ',', '\n'])
            });
            if !ok {
                v.err(
                    path,
                    format!("must be a mail address such as `ops@example.org` (got `{a}`)"),
                );
            }
            a.to_owned()
        };
        let from = match m.from.as_deref() {
            Some(f) => address(self, "alerts.mail.from", f),
            None => {
                self.err(
                    "alerts.mail",
                    "missing field `from`; write e.g. `from: \"upkeep@server1.example.org\"`",
                );
                String::new()
            }
        };
        if m.to.is_empty() {
            self.err(
                "alerts.mail",
                "missing field `to`; write e.g. `to: [\"ops@example.org\"]`",
            );
        }
        let to =
            m.to.iter()
                .enumerate()
                .map(|(i, a)| address(self, &format!("alerts.mail.to[{i}]"), a))
                .collect();
        let password_file = m
            .password_file
            .as_deref()
            .map(|p| self.absolute("alerts.mail.password_file", Some(p)));
        let ca_file = m
            .ca_file
            .as_deref()
            .map(|p| self.absolute("alerts.mail.ca_file", Some(p)));
        if ca_file.is_some() && security == MailSecurity::Plain {
            self.err(
                "alerts.mail.ca_file",
                "`security: Plain` uses no TLS; remove `ca_file` or use `StartTls` or `Tls`",
            );
        }
        if password_file.is_some() && m.username.is_none() {
            self.err(
                "alerts.mail.password_file",
                "a password needs a `username` too",
            );
        }
        let window = self.within(
            "alerts.mail.window",
            m.window.as_ref(),
            ALERT_TIMEOUT,
            Duration::from_secs(10),
        );
        let timeout = self.within(
            "alerts.mail.timeout",
            m.timeout.as_ref(),
            ALERT_TIMEOUT,
            Duration::from_secs(30),
        );
        let retries = self.int("alerts.mail.retries", m.retries, 0, 20, 5);
        let queue = self.int("alerts.mail.queue", m.queue, 1, 100_000, 1000);
        Mail {
            server,
            port: u16::try_from(port).unwrap_or(25),
            security,
            from,
            to,
            username: m.username.clone(),
            password_file,
            ca_file,
            window,
            timeout,
            retries: to_u32(retries),
            queue: usize::try_from(queue).unwrap_or(1000),
        }
    }

    /// Issue 12: the network reaches the web manager only over TLS, or behind a proxy the
    /// operator says terminates TLS; loopback needs neither.
    fn web(&mut self, raw: &raw::RawWeb) -> WebSettings {
        let default_listen: std::net::SocketAddr = defaults::WEB_LISTEN
            .parse()
            .unwrap_or(std::net::SocketAddr::from(([127, 0, 0, 1], 9180)));
        let listen = match raw.listen.as_deref() {
            None => default_listen,
            Some(text) => match text.trim().parse::<std::net::SocketAddr>() {
                Ok(a) => a,
                Err(_) => {
                    self.err(
                        "web.listen",
                        format!("must be an address and port such as `\"127.0.0.1:9180\"` or `\"[::1]:9180\"` (got `{text}`)"),
                    );
                    default_listen
                }
            },
        };
        let file = |v: &mut Self, path: &str, given: Option<&str>| -> PathBuf {
            match given {
                None | Some("") => {
                    v.err(
                        path,
                        format!(
                            "missing field `{}`; write the path of a PEM file",
                            path.rsplit('.').next().unwrap_or(path)
                        ),
                    );
                    PathBuf::new()
                }
                Some(p) if p.contains('\0') => {
                    v.err(path, "must not contain a NUL byte");
                    PathBuf::new()
                }
                Some(p) => v.base_dir.join(p),
            }
        };
        let tls = raw.tls.as_ref().map(|t| TlsFiles {
            cert: file(self, "web.tls.cert", t.cert.as_deref()),
            key: file(self, "web.tls.key", t.key.as_deref()),
        });
        let accounts = match raw.accounts.as_deref() {
            None => None,
            Some("") => {
                self.err(
                    "web.accounts",
                    "must not be empty; leave it out for `web-accounts` in the state folder",
                );
                None
            }
            Some(p) => Some(self.base_dir.join(p)),
        };
        let behind_proxy = raw.behind_proxy.unwrap_or(false);
        if !listen.ip().is_loopback() && tls.is_none() && !behind_proxy {
            self.err(
                "web.listen",
                format!("`{listen}` is not a loopback address: passwords and cookies would cross the network in clear; add `tls: (cert: \"...\", key: \"...\")`, or `behind_proxy: true` if a reverse proxy terminates TLS in front of it, or listen on `127.0.0.1`"),
            );
        }
        let idle_timeout = self.within(
            "web.idle_timeout",
            raw.idle_timeout.as_ref(),
            WEB_IDLE,
            defaults::WEB_IDLE_TIMEOUT,
        );
        WebSettings {
            listen,
            tls,
            accounts,
            behind_proxy,
            metrics: raw.metrics.unwrap_or(true),
            idle_timeout,
        }
    }

    /// MAP-20: the kernel interfaces the probes read; absolute so that the daemon's working
    /// folder never changes what is read.
    fn paths(&mut self, raw: Option<&raw::RawPaths>) -> Paths {
        let Some(raw) = raw else {
            return Paths::default();
        };
        let root = |v: &mut Self, field: &str, given: Option<&str>, default: &str| match given {
            None => PathBuf::from(default),
            Some(p) if Path::new(p).is_absolute() && !p.contains('\0') => PathBuf::from(p),
            Some(p) => {
                v.err(
                    &format!("paths.{field}"),
                    format!("must be an absolute path such as `\"{default}\"` (got `{p}`)"),
                );
                PathBuf::from(default)
            }
        };
        Paths {
            procfs: root(self, "procfs", raw.procfs.as_deref(), defaults::PROCFS),
            sysfs: root(self, "sysfs", raw.sysfs.as_deref(), defaults::SYSFS),
        }
    }

    fn reboot_limit(&mut self, raw: Option<&raw::RawRebootLimit>) -> RebootLimit {
        let Some(raw) = raw else {
            return RebootLimit::default();
        };
        // CFG-6: 0..=99.
        let max_reboot_count = self.int(
            "reboot_limit.max_reboot_count",
            raw.max_reboot_count,
            0,
            99,
            i64::from(defaults::MAX_REBOOT_COUNT),
        );
        // CFG-7: 0..=999 minutes.
        let reset_after = self.minutes(
            "reboot_limit.reset_after",
            raw.reset_after.as_ref(),
            999,
            defaults::REBOOT_RESET,
        );
        // CFG-8: a limit needs a reset window, or the counter could never come down.
        if max_reboot_count >= 1 && reset_after.is_zero() {
            self.err(
                "reboot_limit.reset_after",
                format!("must be at least 1 minute when `max_reboot_count` is {max_reboot_count} (got 0)"),
            );
        }
        RebootLimit {
            max_reboot_count: to_u32(max_reboot_count),
            reset_after,
        }
    }

    /// DOWN-3: the engine's restart intensity; upkeep's own setting, so its bounds are ours.
    fn core_restart(&mut self, raw: Option<&raw::RawRestartIntensity>) -> RestartIntensity {
        let Some(raw) = raw else {
            return RestartIntensity::default();
        };
        let max_restarts = self.int(
            "core_restart.max_restarts",
            raw.max_restarts,
            0,
            999,
            i64::from(defaults::CORE_MAX_RESTARTS),
        );
        let period = self.within(
            "core_restart.period",
            raw.period.as_ref(),
            CORE_PERIOD,
            defaults::CORE_PERIOD,
        );
        RestartIntensity {
            max_restarts: to_u32(max_restarts),
            period,
        }
    }

    fn log(&mut self, raw: Option<&raw::RawLog>) -> LogSettings {
        let Some(raw) = raw else {
            return LogSettings::default();
        };
        let level = match raw.level.as_deref() {
            None => defaults::LOG_LEVEL.to_owned(),
            Some(l) if l.trim().is_empty() => {
                self.err(
                    "log.level",
                    "must not be empty; write e.g. `\"info\"` or `\"upkeep=debug\"`",
                );
                defaults::LOG_LEVEL.to_owned()
            }
            Some(l) => {
                // CMD-7: a typo must not silently turn logging off.
                if let Err(why) = crate::check_log_filter(l) {
                    self.err("log.level", why);
                }
                l.trim().to_owned()
            }
        };
        let keep = self.int(
            "log.keep_files",
            raw.keep_files,
            1,
            999,
            i64::try_from(defaults::LOG_KEEP_FILES).unwrap_or(7),
        );
        LogSettings {
            level,
            keep_files: usize::try_from(keep).unwrap_or(defaults::LOG_KEEP_FILES),
        }
    }

    // === groups and exec resources ===

    fn groups(&mut self, raw: &[raw::RawGroup]) -> Vec<Group> {
        let mut group_names: HashMap<String, String> = HashMap::new();
        let mut resource_names: HashMap<String, String> = HashMap::new();
        let mut groups = Vec::with_capacity(raw.len());
        // Which group each resource name is written in (the first, if written twice), for the
        // "in another group" error without a search per dependency.
        let mut home: HashMap<&str, &str> = HashMap::new();
        for rg in raw {
            for name in rg.resources.iter().filter_map(|r| r.name.as_deref()) {
                home.entry(name)
                    .or_insert_with(|| rg.name.as_deref().unwrap_or_default());
            }
        }
        for (gi, rg) in raw.iter().enumerate() {
            let gp = format!("groups[{gi}]");
            let name = self.required_name(&format!("{gp}.name"), rg.name.as_deref());
            if let Some(n) = &name {
                self.unique(&mut group_names, n, &format!("{gp}.name"), "group");
            }
            // GRP-2: auto is the default.
            let startup = match rg.startup {
                Some(raw::RawStartup::Manual) => Startup::Manual,
                Some(raw::RawStartup::Auto) | None => Startup::Auto,
            };
            let mut resources = Vec::with_capacity(rg.resources.len());
            for (ri, rr) in rg.resources.iter().enumerate() {
                let rp = format!("{gp}.resources[{ri}]");
                let res = self.resource(&rp, rr);
                if !res.name.is_empty() {
                    // Monitors name resources without their group (MON-8, MON-11), so resource
                    // names are unique across all groups.
                    self.unique(
                        &mut resource_names,
                        &res.name,
                        &format!("{rp}.name"),
                        "resource",
                    );
                }
                resources.push(res);
            }
            self.dependencies(&gp, &rg.resources, &resources, &home);
            groups.push(Group {
                name: name.unwrap_or_default(),
                startup,
                resources,
            });
        }
        groups
    }

    fn resource(&mut self, rp: &str, raw: &raw::RawResource) -> ExecResource {
        let name = self
            .required_name(&format!("{rp}.name"), raw.name.as_deref())
            .unwrap_or_default();
        let start = match &raw.start {
            Some(c) => self.command(&format!("{rp}.start"), c),
            None => {
                self.err(
                    &format!("{rp}.start"),
                    "missing field `start`; write e.g. `start: (program: \"/usr/bin/app\")`",
                );
                Command {
                    program: PathBuf::new(),
                    args: Vec::new(),
                    env: BTreeMap::new(),
                }
            }
        };
        let stop = raw
            .stop
            .as_ref()
            .map(|c| self.command(&format!("{rp}.stop"), c));
        // RES-11 / MAP-8.
        let mode = match raw.mode {
            Some(raw::RawMode::Async) => StartMode::Async,
            Some(raw::RawMode::Sync) | None => StartMode::Sync,
        };
        // MAP-8: script timeouts are upkeep's own, so any positive duration is fine.
        let start_timeout = self.within(
            &format!("{rp}.start_timeout"),
            raw.start_timeout.as_ref(),
            SCRIPT_TIMEOUT,
            defaults::START_TIMEOUT,
        );
        let stop_timeout = self.within(
            &format!("{rp}.stop_timeout"),
            raw.stop_timeout.as_ref(),
            SCRIPT_TIMEOUT,
            defaults::STOP_TIMEOUT,
        );
        let kill_grace = self.within(
            &format!("{rp}.kill_grace"),
            raw.kill_grace.as_ref(),
            KILL_GRACE,
            defaults::KILL_GRACE,
        );

        // RES-2..4: activation retry threshold 0..=99 (RES-3) and one of six final actions.
        let activation = match &raw.activation {
            None => Retry {
                retries: defaults::ACTIVATION_RETRIES,
                final_action: defaults::ACTIVATION_FINAL,
            },
            Some(a) => Retry {
                retries: to_u32(self.int(
                    &format!("{rp}.activation.retries"),
                    a.retries,
                    0,
                    99,
                    i64::from(defaults::ACTIVATION_RETRIES),
                )),
                final_action: a
                    .final_action
                    .map_or(defaults::ACTIVATION_FINAL, activation_final),
            },
        };
        // RES-5, RES-10: deactivation retry threshold 0..=99 and one of four final actions.
        let deactivation = match &raw.deactivation {
            None => Retry {
                retries: defaults::DEACTIVATION_RETRIES,
                final_action: defaults::DEACTIVATION_FINAL,
            },
            Some(d) => Retry {
                retries: to_u32(self.int(
                    &format!("{rp}.deactivation.retries"),
                    d.retries,
                    0,
                    99,
                    i64::from(defaults::DEACTIVATION_RETRIES),
                )),
                final_action: d
                    .final_action
                    .map_or(defaults::DEACTIVATION_FINAL, deactivation_final),
            },
        };
        ExecResource {
            name,
            start,
            stop,
            mode,
            start_timeout,
            stop_timeout,
            kill_grace,
            depends_on: raw.depends_on.clone(),
            activation,
            deactivation,
            context: self.context(rp, raw),
        }
    }

    /// Issue 9 §2: user, group, working directory, umask and environment of a resource's
    /// scripts. Names are only checked for shape here; they are looked up when a script starts.
    fn context(&mut self, rp: &str, raw: &raw::RawResource) -> ExecContext {
        let mut ctx = ExecContext::default();
        for (field, v) in [("user", &raw.user), ("group", &raw.group)] {
            let Some(name) = v else { continue };
            let path = format!("{rp}.{field}");
            if name.is_empty() {
                self.err(
                    &path,
                    "must not be empty; leave the field out to keep the daemon's",
                );
            } else if name.contains(['\0', ':', '/']) || name.chars().any(char::is_whitespace) {
                self.err(&path, format!("`{name}` is no {field} name"));
            } else if field == "user" {
                ctx.user = Some(name.clone());
            } else {
                ctx.group = Some(name.clone());
            }
        }
        if let Some(dir) = &raw.working_dir {
            let path = format!("{rp}.working_dir");
            if dir.contains('\0') {
                self.err(&path, "must not contain a NUL byte");
            } else if !Path::new(dir).is_absolute() {
                self.err(&path, format!("must be an absolute path (got `{dir}`)"));
            } else {
                ctx.working_dir = PathBuf::from(dir);
            }
        }
        if let Some(mask) = raw.umask {
            let path = format!("{rp}.umask");
            match u32::try_from(mask) {
                Ok(m) if m <= 0o777 => ctx.umask = m,
                _ => {
                    // Masks are read in octal: say it back that way.
                    let got = if mask < 0 {
                        mask.to_string()
                    } else {
                        format!("{mask:#o}")
                    };
                    self.err(
                        &path,
                        format!("must be 0o000..=0o777 (got {got}); write e.g. `umask: 0o027`"),
                    );
                }
            }
        }
        ctx.inherit_env = raw.inherit_env.unwrap_or(false);
        ctx
    }

    /// RES-8 / RES-9: programs run directly (no shell, no PATH search); a relative path means a
    /// script bundled beside the configuration.
    fn command(&mut self, cp: &str, raw: &raw::RawCommand) -> Command {
        let program = self.program(&format!("{cp}.program"), raw.program.as_deref());
        for (i, a) in raw.args.iter().enumerate() {
            if a.contains('\0') {
                self.err(&format!("{cp}.args[{i}]"), "must not contain a NUL byte");
            }
        }
        for (k, val) in &raw.env {
            let ep = format!("{cp}.env[{k:?}]");
            let valid_key = k
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid_key {
                self.err(&ep, format!("`{k}` is not a valid environment variable name (letters, digits and `_`, not starting with a digit)"));
            } else if k.starts_with("UPKEEP_") {
                // MAP-8: the UPKEEP_* variables carry the event and must not be overridden.
                self.err(
                    &ep,
                    format!("`{k}` is reserved: upkeep sets the `UPKEEP_*` variables itself"),
                );
            }
            if val.contains('\0') {
                self.err(&ep, "must not contain a NUL byte");
            }
        }
        Command {
            program,
            args: raw.args.clone(),
            env: raw.env.clone(),
        }
    }

    /// A program to run: absolute, or relative to the config folder (RES-9).
    fn program(&mut self, pp: &str, v: Option<&str>) -> PathBuf {
        match v {
            None => {
                self.err(pp, "missing field `program`");
                PathBuf::new()
            }
            Some("") => {
                self.err(pp, "must not be empty");
                PathBuf::new()
            }
            Some(p) if p.contains('\0') => {
                self.err(pp, "must not contain a NUL byte");
                PathBuf::new()
            }
            Some(p) => {
                let p = Path::new(p);
                if p.is_absolute() {
                    p.to_path_buf()
                } else {
                    self.base_dir.join(p)
                }
            }
        }
    }

    /// A host name or address for a network check.
    fn host(&mut self, hp: &str, v: Option<&str>) -> String {
        match v {
            None | Some("") => {
                self.err(hp, "missing field `host`; write e.g. `host: \"127.0.0.1\"`");
                String::new()
            }
            Some(h)
                if h.chars()
                    .any(|c| c.is_whitespace() || c.is_control() || c == '/') =>
            {
                self.err(hp, format!("`{h}` is not a host name or address"));
                h.to_owned()
            }
            Some(h) => h.to_owned(),
        }
    }

    /// RES-1: a resource depends only on resources of its own group, never on itself, and the
    /// dependencies form no cycle (activation order must exist).
    fn dependencies(
        &mut self,
        gp: &str,
        raw: &[raw::RawResource],
        built: &[ExecResource],
        home: &HashMap<&str, &str>,
    ) {
        let index: HashMap<&str, usize> = built
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.name.is_empty())
            .map(|(i, r)| (r.name.as_str(), i))
            .collect();
        let mut edges: Vec<Vec<usize>> = vec![Vec::new(); built.len()];
        for (ri, rr) in raw.iter().enumerate() {
            let mut seen = HashSet::new();
            for (di, dep) in rr.depends_on.iter().enumerate() {
                let dp = format!("{gp}.resources[{ri}].depends_on[{di}]");
                if !seen.insert(dep.as_str()) {
                    self.err(&dp, format!("`{dep}` is listed more than once"));
                    continue;
                }
                if Some(dep.as_str()) == rr.name.as_deref() {
                    self.err(&dp, format!("resource `{dep}` cannot depend on itself"));
                    continue;
                }
                match index.get(dep.as_str()) {
                    Some(&target) => edges[ri].push(target),
                    None => {
                        match home.get(dep.as_str()) {
                            Some(g) => self.err(
                                &dp,
                                format!(
                                    "resource `{dep}` is in group `{g}`; `depends_on` must name a resource of the same group"
                                ),
                            ),
                            None => {
                                let hint = self.hint(dep, index.keys().copied());
                                self.err(&dp, format!("resource `{dep}` does not exist in this group{hint}"));
                            }
                        }
                    }
                }
            }
        }
        for cycle in cycles(&edges) {
            let names: Vec<&str> = cycle.iter().map(|&i| built[i].name.as_str()).collect();
            let first = cycle[0];
            // Point at the edge that closes the loop, written in the first resource of the cycle.
            let next = &built[cycle[1 % cycle.len()]].name;
            let di = raw[first]
                .depends_on
                .iter()
                .position(|d| d == next)
                .unwrap_or(0);
            // A cycle through thousands of resources is reported by its first few.
            const SHOWN: usize = 12;
            let mut path = names[..names.len().min(SHOWN)].join(" -> ");
            if names.len() > SHOWN {
                path.push_str(&format!(" -> … ({} resources in the cycle)", names.len()));
            }
            path.push_str(" -> ");
            path.push_str(names[0]);
            self.err(
                &format!("{gp}.resources[{first}].depends_on[{di}]"),
                format!("dependency cycle: {path}"),
            );
        }
    }

    // === monitors ===

    fn monitors(
        &mut self,
        raw: &[raw::RawMonitor],
        groups: &[Group],
        resources: &HashMap<String, ResourceInfo>,
    ) -> Vec<Monitor> {
        // Multi-target members may name monitors further down, so names come first.
        let mut names: HashMap<String, String> = HashMap::new();
        let mut kinds: HashMap<String, bool> = HashMap::new();
        let mut monitor_names: Vec<String> = Vec::new();
        for (mi, rm) in raw.iter().enumerate() {
            let np = format!("monitors[{mi}].name");
            if let Some(n) = self.required_name(&np, rm.name.as_deref()) {
                if self.unique(&mut names, &n, &np, "monitor") {
                    kinds.insert(
                        n.clone(),
                        matches!(rm.kind, Some(raw::RawKind::MultiTarget { .. })),
                    );
                    monitor_names.push(n);
                }
            }
        }
        let group_names: Vec<&str> = groups
            .iter()
            .map(|g| g.name.as_str())
            .filter(|n| !n.is_empty())
            .collect();
        let mut resource_names: Vec<&str> = resources.keys().map(String::as_str).collect();
        resource_names.sort_unstable();
        let ctx = Ctx {
            group_names: &group_names,
            resource_names: &resource_names,
            resources,
            monitor_kinds: &kinds,
        };

        let mut out = Vec::with_capacity(raw.len());
        let mut user_space: Option<String> = None;
        for (mi, rm) in raw.iter().enumerate() {
            let mp = format!("monitors[{mi}]");
            let name = rm.name.clone().unwrap_or_default();
            let Some(kind) = &rm.kind else {
                self.err(
                    &format!("{mp}.kind"),
                    "missing field `kind`; write e.g. `kind: Pid(resource: \"web\")`",
                );
                continue;
            };
            if matches!(kind, raw::RawKind::UserSpace { .. }) {
                // USW-2: at most one user-space monitor per SSS.
                match &user_space {
                    Some(first) => self.err(
                        &format!("{mp}.kind"),
                        format!(
                            "at most one user-space monitor is allowed; `{first}` is already one"
                        ),
                    ),
                    None => user_space = Some(name.clone()),
                }
            }
            if let Some(m) = self.monitor(&mp, name, kind, rm, &ctx) {
                out.push(m);
            }
        }
        out
    }

    fn monitor(
        &mut self,
        mp: &str,
        name: String,
        raw_kind: &raw::RawKind,
        rm: &raw::RawMonitor,
        ctx: &Ctx<'_>,
    ) -> Option<Monitor> {
        let (kind, class) = self.kind(&format!("{mp}.kind"), &name, raw_kind, ctx);
        let (default_interval, default_timeout) = match class {
            Class::Pid(_) => (defaults::PID_INTERVAL, defaults::PID_TIMEOUT),
            Class::UserSpace => (defaults::USERSPACE_INTERVAL, defaults::USERSPACE_TIMEOUT),
            Class::Hardware | Class::MultiTarget | Class::Check => {
                (defaults::OTHER_INTERVAL, defaults::OTHER_TIMEOUT)
            }
        };
        // MON-3 / USW-3: interval 1..=999 s.
        let interval = self.secs(
            &format!("{mp}.interval"),
            rm.interval.as_ref(),
            1,
            999,
            default_interval,
        );
        // MON-4 / USW-3: timeout 5..=999 s.
        let timeout = self.secs(
            &format!("{mp}.timeout"),
            rm.timeout.as_ref(),
            5,
            999,
            default_timeout,
        );

        let delay_warning_percent = self.delay_warning(mp, rm.delay_warning_percent);
        if class == Class::UserSpace {
            let mut m = self.user_space(mp, name, kind, interval, timeout, rm);
            m.delay_warning_percent = delay_warning_percent;
            return Some(m);
        }

        // MON-5: 0..=999.
        let retries = to_u32(self.int(
            &format!("{mp}.retries"),
            rm.retries,
            0,
            999,
            i64::from(defaults::MONITOR_RETRIES),
        ));
        // MON-6: 0..=9999 s.
        let start_wait = self.secs(
            &format!("{mp}.start_wait"),
            rm.start_wait.as_ref(),
            0,
            9999,
            defaults::START_WAIT,
        );
        // upkeep's start grace (issue 9): per kind, see `defaults::APP_START_GRACE`.
        let default_grace = match kind {
            MonitorKind::Tcp { .. } | MonitorKind::Http { .. } | MonitorKind::Custom { .. } => {
                defaults::APP_START_GRACE
            }
            _ => Duration::ZERO,
        };
        let start_grace = self.secs(
            &format!("{mp}.start_grace"),
            rm.start_grace.as_ref(),
            0,
            9999,
            default_grace,
        );
        // MON-9 / MAP-9: Linux nice values.
        let nice = self.int(
            &format!("{mp}.nice"),
            rm.nice,
            -20,
            19,
            i64::from(defaults::NICE),
        );
        let timing = self.timing(mp, &class, rm.timing.as_ref(), ctx);
        let recovery = self.recovery(mp, &class, rm.recovery.as_ref(), ctx);
        Some(Monitor {
            name,
            kind,
            interval,
            timeout,
            retries,
            start_wait,
            start_grace,
            timing,
            nice: i32::try_from(nice).unwrap_or(defaults::NICE),
            recovery,
            delay_warning_percent,
        })
    }

    /// upkeep's own setting: 1..=99 percent of the timeout, 0 = no delay warning.
    fn delay_warning(&mut self, mp: &str, v: Option<i64>) -> Option<u8> {
        let pct = self.int(
            &format!("{mp}.delay_warning_percent"),
            v,
            0,
            99,
            i64::from(defaults::DELAY_WARNING_PERCENT),
        );
        u8::try_from(pct).ok().filter(|p| *p > 0)
    }

    /// MON-1 type parameters (MAP-10 decides the hardware ones).
    fn kind(
        &mut self,
        kp: &str,
        own_name: &str,
        raw: &raw::RawKind,
        ctx: &Ctx<'_>,
    ) -> (MonitorKind, Class) {
        match raw {
            raw::RawKind::Pid { resource } => {
                let rp = format!("{kp}.resource");
                let resource = match resource.as_deref() {
                    None => {
                        self.err(&rp, "missing field `resource`: the exec resource to watch");
                        None
                    }
                    Some(r) => match ctx.resources.get(r) {
                        None => {
                            self.err(
                                &rp,
                                format!(
                                    "resource `{r}` does not exist{}",
                                    self.hint(r, ctx.resource_names.iter().copied())
                                ),
                            );
                            Some(r.to_owned())
                        }
                        // MON-10 / RES-11: only an asynchronous start script leaves a process to watch.
                        Some(info) if info.mode != StartMode::Async => {
                            self.err(&rp, format!("resource `{r}` must have `mode: Async` to be watched by a pid monitor"));
                            Some(r.to_owned())
                        }
                        Some(_) => Some(r.to_owned()),
                    },
                };
                (
                    MonitorKind::Pid {
                        resource: resource.clone().unwrap_or_default(),
                    },
                    Class::Pid(resource),
                )
            }
            raw::RawKind::Disk {
                path,
                read_size,
                direct,
                write_test,
            } => {
                let direct = direct.unwrap_or(false);
                let path = self.absolute(&format!("{kp}.path"), path.as_deref());
                let read_size = self.read_size(&format!("{kp}.read_size"), *read_size, direct);
                (
                    MonitorKind::Disk {
                        path,
                        read_size,
                        direct,
                        write_test: write_test.unwrap_or(false),
                    },
                    Class::Hardware,
                )
            }
            raw::RawKind::Raw { path, read_size } => {
                let path = self.absolute(&format!("{kp}.path"), path.as_deref());
                // A raw device is read with O_DIRECT.
                let read_size = self.read_size(&format!("{kp}.read_size"), *read_size, true);
                (MonitorKind::Raw { path, read_size }, Class::Hardware)
            }
            raw::RawKind::Ip { addresses } => {
                if addresses.is_empty() {
                    self.err(&format!("{kp}.addresses"), "must list at least one address");
                }
                for (i, a) in addresses.iter().enumerate() {
                    if a.trim().parse::<IpAddr>().is_err() {
                        self.err(
                            &format!("{kp}.addresses[{i}]"),
                            format!("`{a}` is not an IPv4 or IPv6 address"),
                        );
                    }
                }
                let addresses = addresses.iter().map(|a| a.trim().to_owned()).collect();
                (MonitorKind::Ip { addresses }, Class::Hardware)
            }
            raw::RawKind::NicLink { interface } => {
                let ip = format!("{kp}.interface");
                let interface = interface.clone().unwrap_or_default();
                if interface.is_empty() {
                    self.err(
                        &ip,
                        "missing field `interface`; write e.g. `interface: \"eth0\"`",
                    );
                } else if interface.len() > IFNAME_MAX
                    || interface == "."
                    || interface == ".."
                    || interface
                        .chars()
                        .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
                {
                    self.err(&ip, format!("`{interface}` is not a valid interface name (at most 15 bytes, no `/`, `:` or spaces)"));
                }
                (MonitorKind::NicLink { interface }, Class::Hardware)
            }
            raw::RawKind::SoftRaid { device } => {
                let dp = format!("{kp}.device");
                let device = device.clone().unwrap_or_default();
                if device.is_empty() {
                    self.err(
                        &dp,
                        "missing field `device`; write e.g. `device: \"/dev/md0\"`",
                    );
                } else if device.len() > 1023 {
                    // RAID-1: the device name is at most 1023 bytes.
                    self.err(
                        &dp,
                        format!("must be at most 1023 bytes (got {})", device.len()),
                    );
                }
                (MonitorKind::SoftRaid { device }, Class::Hardware)
            }
            raw::RawKind::UserSpace {
                method,
                dummy_file,
                dummy_thread,
            } => {
                let method = match method {
                    Some(raw::RawMethod::Softdog) => WatchdogMethod::Softdog,
                    Some(raw::RawMethod::Ipmi) => WatchdogMethod::Ipmi,
                    Some(raw::RawMethod::Keepalive) => {
                        // USW-5: keepalive is a product driver pair upkeep does not ship.
                        self.err(
                            &format!("{kp}.method"),
                            "method `keepalive` needs the clpkhb/clpka drivers, which upkeep does not ship; use softdog, ipmi or none",
                        );
                        WatchdogMethod::Keepalive
                    }
                    Some(raw::RawMethod::None) | None => WatchdogMethod::None,
                };
                let dummy_file = dummy_file.as_ref().map(|d| {
                    let fp = format!("{kp}.dummy_file");
                    let path = self.absolute(&format!("{fp}.path"), d.path.as_deref());
                    // USW-5: write size 1..=9999999 bytes (MAP-9).
                    let write_size = d.write_size.map(|w| {
                        to_u32(self.int(&format!("{fp}.write_size"), Some(w), 1, 9_999_999, 1))
                    });
                    DummyFile { path, write_size }
                });
                let us = UserSpace {
                    method,
                    dummy_file,
                    dummy_thread: dummy_thread.unwrap_or(false),
                };
                (MonitorKind::UserSpace(us), Class::UserSpace)
            }
            raw::RawKind::Custom {
                program,
                args,
                warning_exit_code,
            } => {
                let program = self.program(&format!("{kp}.program"), program.as_deref());
                for (i, a) in args.iter().enumerate() {
                    if a.contains('\0') {
                        self.err(&format!("{kp}.args[{i}]"), "must not contain a NUL byte");
                    }
                }
                // 0 already means normal; exit statuses stop at 255.
                let warning_exit_code = warning_exit_code.map(|c| {
                    let c = self.int(&format!("{kp}.warning_exit_code"), Some(c), 1, 255, 1);
                    i32::try_from(c).unwrap_or(1)
                });
                (
                    MonitorKind::Custom {
                        program,
                        args: args.clone(),
                        warning_exit_code,
                    },
                    Class::Check,
                )
            }
            raw::RawKind::Tcp { host, port } => {
                let host = self.host(&format!("{kp}.host"), host.as_deref());
                let port = match port {
                    None => {
                        self.err(
                            &format!("{kp}.port"),
                            "missing field `port`; write e.g. `port: 80`",
                        );
                        1
                    }
                    Some(p) => self.int(&format!("{kp}.port"), Some(*p), 1, 65535, 1),
                };
                (
                    MonitorKind::Tcp {
                        host,
                        port: u16::try_from(port).unwrap_or(1),
                    },
                    Class::Check,
                )
            }
            raw::RawKind::Http { url, expect_status } => {
                let up = format!("{kp}.url");
                let url = match url.as_deref() {
                    None | Some("") => {
                        self.err(&up, "missing field `url`; write e.g. `url: \"http://127.0.0.1:8080/health\"`");
                        String::new()
                    }
                    Some(u) => {
                        match u.strip_prefix("http://") {
                            None if u.starts_with("https://") => self.err(&up, format!("`https://` is not supported (no TLS); probe the plain-HTTP port or use a `Tcp` monitor (got `{u}`)")),
                            None => self.err(&up, format!("must start with `http://` (got `{u}`)")),
                            Some(rest) => {
                                let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
                                if authority.is_empty() || u.chars().any(|c| c.is_whitespace() || c.is_control()) {
                                    self.err(&up, format!("must name a host, as in `http://host:port/path`, without spaces (got `{u}`)"));
                                }
                            }
                        }
                        u.to_owned()
                    }
                };
                let status = self.int(
                    &format!("{kp}.expect_status"),
                    *expect_status,
                    100,
                    599,
                    i64::from(defaults::HTTP_STATUS),
                );
                (
                    MonitorKind::Http {
                        url,
                        expect_status: u16::try_from(status).unwrap_or(defaults::HTTP_STATUS),
                    },
                    Class::Check,
                )
            }
            raw::RawKind::MultiTarget {
                members,
                error_threshold,
                warning_threshold,
            } => {
                self.members(kp, own_name, members, ctx);
                let n = i64::try_from(members.len()).unwrap_or(i64::MAX);
                // MAP-10: thresholds count members in error; none = all members.
                let error_threshold =
                    error_threshold.map(|t| self.threshold(&format!("{kp}.error_threshold"), t, n));
                let warning_threshold = warning_threshold
                    .map(|t| self.threshold(&format!("{kp}.warning_threshold"), t, n));
                (
                    MonitorKind::MultiTarget {
                        members: members.clone(),
                        error_threshold,
                        warning_threshold,
                    },
                    Class::MultiTarget,
                )
            }
        }
    }

    /// MTM-1: members are other monitors of the MON-1 types; a multi-target never nests.
    fn members(&mut self, kp: &str, own_name: &str, members: &[String], ctx: &Ctx<'_>) {
        if members.is_empty() {
            self.err(&format!("{kp}.members"), "must list at least one monitor");
        }
        let mut seen = HashSet::new();
        for (i, m) in members.iter().enumerate() {
            let p = format!("{kp}.members[{i}]");
            if !seen.insert(m.as_str()) {
                self.err(&p, format!("`{m}` is listed more than once"));
            } else if m == own_name {
                self.err(&p, "a multi-target monitor cannot be its own member");
            } else {
                match ctx.monitor_kinds.get(m) {
                    None => {
                        let hint = self.hint(m, ctx.monitor_kinds.keys().map(String::as_str).filter(|n| *n != own_name));
                        self.err(&p, format!("monitor `{m}` does not exist{hint}"));
                    }
                    Some(true) => self.err(&p, format!("monitor `{m}` is a multi-target monitor; members must be monitors of other kinds")),
                    Some(false) => {}
                }
            }
        }
    }

    fn threshold(&mut self, path: &str, t: i64, members: i64) -> u32 {
        if !(1..=members.max(1)).contains(&t) {
            self.err(
                path,
                format!(
                    "must be 1..={}, the number of members (got {t})",
                    members.max(1)
                ),
            );
        }
        to_u32(t.clamp(0, i64::from(u32::MAX)))
    }

    /// USW-3, USW-4: the user-space monitor has only an interval and a timeout; on error the OS
    /// is reset, so it has no retry, start wait, timing, nice or recovery settings.
    fn user_space(
        &mut self,
        mp: &str,
        name: String,
        kind: MonitorKind,
        interval: Duration,
        timeout: Duration,
        rm: &raw::RawMonitor,
    ) -> Monitor {
        let extras = [
            ("retries", rm.retries.is_some()),
            ("start_wait", rm.start_wait.is_some()),
            ("start_grace", rm.start_grace.is_some()),
            ("timing", rm.timing.is_some()),
            ("nice", rm.nice.is_some()),
            ("recovery", rm.recovery.is_some()),
        ];
        for (field, given) in extras {
            if given {
                self.err(
                    &format!("{mp}.{field}"),
                    format!("a user-space monitor has no `{field}`: on a stall the OS is reset"),
                );
            }
        }
        // USW-3: the timeout must outlast at least one interval.
        if timeout <= interval && rm.timeout.is_some() {
            self.err(
                &format!("{mp}.timeout"),
                format!(
                    "must be greater than `interval` ({}s) (got {}s)",
                    interval.as_secs(),
                    timeout.as_secs()
                ),
            );
        } else if timeout <= interval {
            self.err(
                &format!("{mp}.interval"),
                format!(
                    "must be less than `timeout` ({}s) (got {}s)",
                    timeout.as_secs(),
                    interval.as_secs()
                ),
            );
        }
        // USW-6: IPMI watchdog timers count at most 255 s.
        if let MonitorKind::UserSpace(UserSpace {
            method: WatchdogMethod::Ipmi,
            ..
        }) = &kind
        {
            if timeout > Duration::from_secs(255) {
                self.err(
                    &format!("{mp}.timeout"),
                    format!(
                        "must be at most 255s with method `ipmi` (got {}s)",
                        timeout.as_secs()
                    ),
                );
            }
        }
        Monitor {
            name,
            kind,
            interval,
            timeout,
            retries: 0,
            start_wait: Duration::ZERO,
            start_grace: Duration::ZERO,
            timing: Timing::Always,
            nice: 0,
            recovery: Recovery {
                target: RecoveryTarget::Sss,
                reactivation_threshold: 0,
                final_action: MonitorFinalAction::NoOp,
                // Never reactivates anything: nothing to pace or limit.
                backoff: Backoff::Off,
                start_limit: StartLimit::Off,
            },
            delay_warning_percent: None,
        }
    }

    /// MON-7, MON-8, MON-10, HWM-2.
    fn timing(
        &mut self,
        mp: &str,
        class: &Class,
        raw: Option<&raw::RawTiming>,
        ctx: &Ctx<'_>,
    ) -> Timing {
        let tp = format!("{mp}.timing");
        match (class, raw) {
            // MON-10: a pid monitor watches its resource only while it is active.
            (Class::Pid(r), None) => Timing::WhenActive {
                resource: r.clone().unwrap_or_default(),
            },
            (Class::Pid(r), Some(raw::RawTiming::Always)) => {
                let r = r.clone().unwrap_or_default();
                self.err(
                    &tp,
                    format!(
                        "a pid monitor must use `WhenActive(resource: \"{r}\")` (got `Always`)"
                    ),
                );
                Timing::WhenActive { resource: r }
            }
            (Class::Pid(r), Some(raw::RawTiming::WhenActive { resource })) => {
                let r = r.clone().unwrap_or_default();
                match resource.as_deref() {
                    Some(t) if t == r => {}
                    Some(t) => self.err(
                        &format!("{tp}.resource"),
                        format!("must be `{r}`, the resource the pid monitor watches (got `{t}`)"),
                    ),
                    None => self.err(
                        &format!("{tp}.resource"),
                        format!("missing field `resource`; write `WhenActive(resource: \"{r}\")`"),
                    ),
                }
                Timing::WhenActive { resource: r }
            }
            (_, None | Some(raw::RawTiming::Always)) => Timing::Always,
            // HWM-2: hardware is always in service, so it is always watched.
            (Class::Hardware, Some(raw::RawTiming::WhenActive { .. })) => {
                self.err(&tp, "a hardware monitor must use `timing: Always`");
                Timing::Always
            }
            (_, Some(raw::RawTiming::WhenActive { resource })) => {
                let rp = format!("{tp}.resource");
                match resource.as_deref() {
                    None => {
                        self.err(&rp, "missing field `resource`: the exec resource whose activation starts monitoring");
                        Timing::Always
                    }
                    Some(r) => {
                        // MON-8: the target resource must exist.
                        if !ctx.resources.contains_key(r) {
                            self.err(
                                &rp,
                                format!(
                                    "resource `{r}` does not exist{}",
                                    self.hint(r, ctx.resource_names.iter().copied())
                                ),
                            );
                        }
                        Timing::WhenActive {
                            resource: r.to_owned(),
                        }
                    }
                }
            }
        }
    }

    /// MON-11..13, HWM-3, HWM-4, HWM-6.
    fn recovery(
        &mut self,
        mp: &str,
        class: &Class,
        raw: Option<&raw::RawRecovery>,
        ctx: &Ctx<'_>,
    ) -> Recovery {
        let rp = format!("{mp}.recovery");
        let hardware = *class == Class::Hardware;
        let target = match raw.and_then(|r| r.target.as_ref()) {
            None => match class {
                // MON-11 recommends a resource (or group) target for the pid monitor.
                Class::Pid(Some(r)) => RecoveryTarget::Resource(r.clone()),
                _ => RecoveryTarget::Sss,
            },
            Some(raw::RawTarget::Sss) => RecoveryTarget::Sss,
            Some(raw::RawTarget::Group(g)) => {
                if !ctx.group_names.contains(&g.as_str()) {
                    self.err(
                        &format!("{rp}.target"),
                        format!(
                            "group `{g}` does not exist{}",
                            self.hint(g, ctx.group_names.iter().copied())
                        ),
                    );
                }
                RecoveryTarget::Group(g.clone())
            }
            Some(raw::RawTarget::Resource(r)) => {
                if !ctx.resources.contains_key(r) {
                    self.err(
                        &format!("{rp}.target"),
                        format!(
                            "resource `{r}` does not exist{}",
                            self.hint(r, ctx.resource_names.iter().copied())
                        ),
                    );
                }
                RecoveryTarget::Resource(r.clone())
            }
        };
        // HWM-3: hardware monitors act on the whole server.
        if hardware && target != RecoveryTarget::Sss {
            self.err(
                &format!("{rp}.target"),
                "a hardware monitor's recovery target must be `Sss`",
            );
        }
        let sss = target == RecoveryTarget::Sss;
        let default_threshold = if sss || hardware {
            0
        } else {
            defaults::REACTIVATION_THRESHOLD
        };
        let tp = format!("{rp}.reactivation_threshold");
        let threshold = match raw.and_then(|r| r.reactivation_threshold) {
            None => default_threshold,
            // HWM-4: no reactivation of hardware.
            Some(t) if hardware && t != 0 => {
                self.err(&tp, format!("must be 0 for a hardware monitor (got {t})"));
                0
            }
            // MON-12: target SSS means the final action at once.
            Some(t) if sss && t != 0 => {
                self.err(
                    &tp,
                    format!("must be 0 when the recovery target is `Sss` (got {t})"),
                );
                0
            }
            // MON-12: 0..=99.
            Some(t) => to_u32(self.int(&tp, Some(t), 0, 99, 0)),
        };
        let final_action = raw
            .and_then(|r| r.final_action)
            .map_or(defaults::MONITOR_FINAL, monitor_final);
        if final_action == MonitorFinalAction::StopGroup {
            let fp = format!("{rp}.final_action");
            if hardware {
                // HWM-6: four choices, no StopGroup.
                self.err(&fp, "`StopGroup` is not allowed for a hardware monitor; use `NoOp`, `StopDaemon`, `StopDaemonShutdown` or `StopDaemonReboot`");
            } else if sss {
                // MON-13: StopGroup is not selectable with target SSS.
                self.err(
                    &fp,
                    "`StopGroup` is not allowed when the recovery target is `Sss`",
                );
            }
        }
        let backoff = self.backoff(&rp, raw.and_then(|r| r.backoff.as_ref()));
        let start_limit = self.start_limit(&rp, raw.and_then(|r| r.start_limit.as_ref()));
        Recovery {
            target,
            reactivation_threshold: threshold,
            final_action,
            backoff,
            start_limit,
        }
    }

    /// upkeep's addition (issue 9): the pause between reactivations; on unless `Off`.
    fn backoff(&mut self, rp: &str, raw: Option<&raw::RawBackoff>) -> Backoff {
        let (first, max, reset_after) = match raw {
            Some(raw::RawBackoff::Off) => return Backoff::Off,
            None => (None, None, None),
            Some(raw::RawBackoff::Exponential {
                first,
                max,
                reset_after,
            }) => (first.as_ref(), max.as_ref(), reset_after.as_ref()),
        };
        let bp = format!("{rp}.backoff");
        let first = self.within(
            &format!("{bp}.first"),
            first,
            BACKOFF_STEP,
            defaults::BACKOFF_FIRST,
        );
        let max_path = format!("{bp}.max");
        let max_given = max.is_some();
        let max = self.within(&max_path, max, BACKOFF_STEP, defaults::BACKOFF_MAX);
        // A `first` above the default cap simply caps at itself; a written cap below it is
        // a mistake.
        if max < first && max_given {
            self.err(
                &max_path,
                format!(
                    "must be at least `first` = `{}` (got `{}`)",
                    humantime::format_duration(first),
                    humantime::format_duration(max)
                ),
            );
        }
        let reset_after = self.within(
            &format!("{bp}.reset_after"),
            reset_after,
            CORE_PERIOD,
            defaults::BACKOFF_RESET,
        );
        Backoff::Exponential {
            first,
            max: max.max(first),
            reset_after,
        }
    }

    /// upkeep's addition (issue 9): a crash loop takes the final action; on unless `Off`.
    fn start_limit(&mut self, rp: &str, raw: Option<&raw::RawStartLimit>) -> StartLimit {
        let (burst, window) = match raw {
            Some(raw::RawStartLimit::Off) => return StartLimit::Off,
            None => (None, None),
            Some(raw::RawStartLimit::Within { burst, window }) => (*burst, window.as_ref()),
        };
        let lp = format!("{rp}.start_limit");
        let burst = self.int(
            &format!("{lp}.burst"),
            burst,
            1,
            999,
            i64::from(defaults::START_LIMIT_BURST),
        );
        let window = self.within(
            &format!("{lp}.window"),
            window,
            CORE_PERIOD,
            defaults::START_LIMIT_WINDOW,
        );
        StartLimit::Within {
            burst: to_u32(burst),
            window,
        }
    }

    // === value helpers ===

    /// A name that must be present.
    fn required_name(&mut self, path: &str, raw: Option<&str>) -> Option<String> {
        match raw {
            None => {
                self.err(path, "missing field `name`");
                None
            }
            Some(n) => {
                let n = self.name_value(path, n);
                (!n.is_empty()).then_some(n)
            }
        }
    }

    /// Names: 1..=64 of `[A-Za-z0-9_.-]`, and not `.` or `..` (they name folders).
    fn name_value(&mut self, path: &str, n: &str) -> String {
        if n.is_empty() {
            self.err(path, "must not be empty");
            return String::new();
        }
        if let Some(c) = n
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        {
            self.err(path, format!("`{n}` contains {c:?}; names may only use ASCII letters, digits, `_`, `.` and `-`"));
        } else if n == "." || n == ".." {
            self.err(path, format!("`{n}` is not a usable name"));
        } else if n.len() > NAME_MAX {
            self.err(
                path,
                format!("must be at most {NAME_MAX} characters (got {})", n.len()),
            );
        }
        n.to_owned()
    }

    /// Records `name` in `seen`; false (and an error) when it was already there.
    fn unique(
        &mut self,
        seen: &mut HashMap<String, String>,
        name: &str,
        path: &str,
        what: &str,
    ) -> bool {
        if let Some(first) = seen.get(name) {
            let at = self.here(first);
            self.err(path, format!("{what} `{name}` is already defined at {at}"));
            false
        } else {
            seen.insert(name.to_owned(), path.to_owned());
            true
        }
    }

    fn int(&mut self, path: &str, v: Option<i64>, lo: i64, hi: i64, default: i64) -> i64 {
        match v {
            None => default,
            Some(n) if (lo..=hi).contains(&n) => n,
            Some(n) => {
                self.err(path, format!("must be {lo}..={hi} (got {n})"));
                default
            }
        }
    }

    fn absolute(&mut self, path: &str, v: Option<&str>) -> PathBuf {
        match v {
            None | Some("") => {
                self.err(
                    path,
                    "missing field `path`; write an absolute path such as `\"/dev/sda\"`",
                );
                PathBuf::new()
            }
            Some(p) if !Path::new(p).is_absolute() => {
                self.err(path, format!("must be an absolute path (got `{p}`)"));
                PathBuf::from(p)
            }
            Some(p) => PathBuf::from(p),
        }
    }

    fn read_size(&mut self, path: &str, v: Option<i64>, direct: bool) -> u32 {
        let n = self.int(path, v, 1, READ_SIZE_MAX, i64::from(defaults::READ_SIZE));
        if direct && n % SECTOR != 0 {
            self.err(
                path,
                format!("must be a multiple of 512 for direct reads (got {n})"),
            );
        }
        to_u32(n)
    }

    /// A duration as written; `None` (with an error) when it is not one.
    fn duration(
        &mut self,
        path: &str,
        raw: &RawDuration,
        unit: &str,
    ) -> Option<(Duration, String)> {
        match raw {
            RawDuration::Number(n) => {
                self.err(
                    path,
                    format!("a duration needs a unit: write `\"{n}{unit}\"` (got `{n}`)"),
                );
                None
            }
            RawDuration::Text(s) => match humantime::parse_duration(s.trim()) {
                Ok(d) => Some((d, s.clone())),
                Err(e) => {
                    let why = match e {
                        humantime::DurationError::UnknownUnit { unit, .. } if unit.is_empty() => {
                            "it needs a unit".to_owned()
                        }
                        humantime::DurationError::UnknownUnit { unit, .. } => {
                            format!("unknown unit `{unit}`")
                        }
                        humantime::DurationError::NumberOverflow => "it is too large".to_owned(),
                        _ => "it is not a duration".to_owned(),
                    };
                    self.err(path, format!("invalid duration `{s}`: {why}; write e.g. `\"5s\"`, `\"2m\"` or `\"1h 30m\"`"));
                    None
                }
            },
        }
    }

    /// A duration the spec counts in whole seconds within `lo..=hi` (MON-3, MON-4, MON-6, MAP-9).
    fn secs(
        &mut self,
        path: &str,
        raw: Option<&RawDuration>,
        lo: u64,
        hi: u64,
        default: Duration,
    ) -> Duration {
        let Some(raw) = raw else { return default };
        let Some((d, text)) = self.duration(path, raw, "s") else {
            return default;
        };
        if d.subsec_nanos() != 0 {
            self.err(
                path,
                format!("must be a whole number of seconds (got `{text}`)"),
            );
            return default;
        }
        if !(lo..=hi).contains(&d.as_secs()) {
            self.err(path, format!("must be {lo}..={hi} seconds (got `{text}`)"));
            return default;
        }
        d
    }

    /// CFG-7: whole minutes within `0..=max`.
    fn minutes(
        &mut self,
        path: &str,
        raw: Option<&RawDuration>,
        max: u64,
        default: Duration,
    ) -> Duration {
        let Some(raw) = raw else { return default };
        let Some((d, text)) = self.duration(path, raw, "m") else {
            return default;
        };
        if d.subsec_nanos() != 0 || d.as_secs() % 60 != 0 {
            self.err(
                path,
                format!("must be a whole number of minutes (got `{text}`)"),
            );
            return default;
        }
        if d.as_secs() / 60 > max {
            self.err(path, format!("must be 0..={max} minutes (got `{text}`)"));
            return default;
        }
        d
    }

    /// A duration within `span`; `default` when absent or wrong.
    fn within(
        &mut self,
        path: &str,
        raw: Option<&RawDuration>,
        span: Span,
        default: Duration,
    ) -> Duration {
        let Some(raw) = raw else { return default };
        let Some((d, text)) = self.duration(path, raw, "s") else {
            return default;
        };
        if span.nonzero && d.is_zero() {
            self.err(path, format!("must be greater than 0 (got `{text}`)"));
            return default;
        }
        if d > span.max {
            self.err(
                path,
                format!("must be at most {} (got `{text}`)", span.max_text),
            );
            return default;
        }
        d
    }
}

/// Lookup tables for cross references between monitors, groups and resources.
struct Ctx<'a> {
    group_names: &'a [&'a str],
    resource_names: &'a [&'a str],
    resources: &'a HashMap<String, ResourceInfo>,
    /// Monitor name -> is it a multi-target monitor.
    monitor_kinds: &'a HashMap<String, bool>,
}

/// One cycle per strongly connected component of the dependency graph, each as the list of
/// nodes in dependency order, starting at the component's first node (in file order).
///
/// Linear in nodes + edges (Tarjan's components, then one breadth-first search inside each), so
/// a hostile configuration full of cycles costs no more than its size: listing *every* cycle
/// instead grew with the cube of the resource count (issue 10).
fn cycles(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let components = strong_components(edges);
    let mut found = Vec::new();
    for component in &components {
        let first = component.iter().copied().min().unwrap_or(0);
        if component.len() == 1 && !edges[first].contains(&first) {
            continue;
        }
        if let Some(cycle) = shortest_cycle_through(first, edges, component) {
            found.push(cycle);
        }
    }
    found.sort_by_key(|c| c[0]);
    found
}

/// Tarjan's strongly connected components, iterative (a long chain must not overflow the stack).
fn strong_components(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    const UNSEEN: usize = usize::MAX;
    let n = edges.len();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut components = Vec::new();
    let mut next_index = 0;
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (node, ref mut next)) = work.last_mut() {
            if let Some(&to) = edges[node].get(*next) {
                *next += 1;
                if index[to] == UNSEEN {
                    index[to] = next_index;
                    low[to] = next_index;
                    next_index += 1;
                    stack.push(to);
                    on_stack[to] = true;
                    work.push((to, 0));
                } else if on_stack[to] {
                    low[node] = low[node].min(index[to]);
                }
            } else {
                work.pop();
                if let Some(&(parent, _)) = work.last() {
                    low[parent] = low[parent].min(low[node]);
                }
                if low[node] == index[node] {
                    let mut component = Vec::new();
                    while let Some(member) = stack.pop() {
                        on_stack[member] = false;
                        component.push(member);
                        if member == node {
                            break;
                        }
                    }
                    components.push(component);
                }
            }
        }
    }
    components
}

/// The shortest way from `start` back to itself inside `component` (breadth-first).
fn shortest_cycle_through(
    start: usize,
    edges: &[Vec<usize>],
    component: &[usize],
) -> Option<Vec<usize>> {
    let inside: HashSet<usize> = component.iter().copied().collect();
    let mut came_from: HashMap<usize, usize> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for &to in &edges[node] {
            if !inside.contains(&to) {
                continue;
            }
            if to == start {
                let mut cycle = vec![node];
                let mut at = node;
                while at != start {
                    at = came_from[&at];
                    cycle.push(at);
                }
                cycle.reverse();
                return Some(cycle);
            }
            if let std::collections::hash_map::Entry::Vacant(slot) = came_from.entry(to) {
                slot.insert(node);
                queue.push_back(to);
            }
        }
    }
    None
}

fn to_u32(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

fn activation_final(a: raw::RawActivationFinal) -> ActivationFinalAction {
    use raw::RawActivationFinal as R;
    match a {
        R::NoOpActivateNext => ActivationFinalAction::NoOpActivateNext,
        R::NoOpStopChain => ActivationFinalAction::NoOpStopChain,
        R::StopGroup => ActivationFinalAction::StopGroup,
        R::StopDaemon => ActivationFinalAction::StopDaemon,
        R::StopDaemonShutdown => ActivationFinalAction::StopDaemonShutdown,
        R::StopDaemonReboot => ActivationFinalAction::StopDaemonReboot,
    }
}

fn deactivation_final(d: raw::RawDeactivationFinal) -> DeactivationFinalAction {
    use raw::RawDeactivationFinal as R;
    match d {
        R::NoOpDeactivateNext => DeactivationFinalAction::NoOpDeactivateNext,
        R::NoOpStopChain => DeactivationFinalAction::NoOpStopChain,
        R::StopDaemonShutdown => DeactivationFinalAction::StopDaemonShutdown,
        R::StopDaemonReboot => DeactivationFinalAction::StopDaemonReboot,
    }
}

fn monitor_final(m: raw::RawMonitorFinal) -> MonitorFinalAction {
    use raw::RawMonitorFinal as R;
    match m {
        R::NoOp => MonitorFinalAction::NoOp,
        R::StopGroup => MonitorFinalAction::StopGroup,
        R::StopDaemon => MonitorFinalAction::StopDaemon,
        R::StopDaemonShutdown => MonitorFinalAction::StopDaemonShutdown,
        R::StopDaemonReboot => MonitorFinalAction::StopDaemonReboot,
    }
}

/// A group name as `groupadd` accepts it: not empty, at most 32 bytes, no whitespace, no `:`,
/// `,` or `/`, no control characters (those would break /etc/group or our messages).
fn group_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !matches!(c, ':' | ',' | '/'))
}
