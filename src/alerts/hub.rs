//! The alert hub: renders each event with the message in force, queues it for the router task,
//! and answers reads of the alert log. The feed (`control::feed`) calls [`Hub::route`] under its
//! lock, so it never waits: a full intake drops and counts.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::mpsc;
use upkeep_actors::event::EventKind;
use upkeep_config::{Alerts as Settings, Config};

use super::alert_log::{AlertLog, AlertLogError, History, Writer};
use super::catalogue::{render, Lvl};
use super::mail::MailChannel;
use super::messages::{MessageError, Messages, FOLDER};
use super::program::{Job, ProgramChannel};
use super::syslog::Syslog;
use crate::control::proto::{ChannelDto, EventDto};

/// Events waiting for the router.
const INTAKE: usize = 4096;
/// Entries waiting for the alert log's writer.
const LOG_QUEUE: usize = 8192;
/// Written in the alert log's folder when a daemon stopped in order with everything written.
const CLEAN_STOP: &str = "clean-stop";

/// Why alerts could not start.
#[derive(Debug, thiserror::Error)]
pub enum AlertsError {
    #[error("invalid message files:\n{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Messages(Vec<MessageError>),
    #[error(transparent)]
    Log(#[from] AlertLogError),
    #[error("alerts.mail: {0}")]
    Mail(String),
}

/// The message folder a configuration names: `alerts.messages`, else `messages/` beside the
/// configuration file when there is one.
pub fn messages_dir(config: &Config, config_file: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = &config.alerts.messages {
        return Some(dir.clone());
    }
    let dir = config_file?.parent()?.join(FOLDER);
    dir.is_dir().then_some(dir)
}

/// The messages a configuration means (MSG-3: read at start and on apply).
pub fn load_messages(config: &Config, config_file: Option<&Path>) -> Result<Messages, AlertsError> {
    match messages_dir(config, config_file) {
        Some(dir) => Messages::load(&dir).map_err(AlertsError::Messages),
        None => Ok(Messages::built_in()),
    }
}

/// One event on its way to the channels.
struct Routed {
    event: EventDto,
    level: Lvl,
    mail: bool,
    syslog: bool,
    fields: Vec<(&'static str, String)>,
}

/// The channels the router feeds; replaced whole by a reconfiguration.
struct Channels {
    syslog: Option<Syslog>,
    mail: Option<MailChannel>,
    program: Option<ProgramChannel>,
}

impl Channels {
    fn start(settings: &Settings, server: &str) -> Result<Channels, AlertsError> {
        Ok(Channels {
            syslog: settings
                .syslog
                .enabled
                .then(|| Syslog::new(&settings.syslog)),
            mail: settings
                .mail
                .as_ref()
                .map(|m| MailChannel::start(m, server))
                .transpose()
                .map_err(AlertsError::Mail)?,
            program: settings
                .program
                .as_ref()
                .map(|p| ProgramChannel::start(p, server)),
        })
    }
}

/// Counters of channels replaced by a reconfiguration, so totals never go back.
#[derive(Default)]
struct Retired {
    syslog: u64,
    mail_dropped: u64,
    mail_failed: u64,
    program_dropped: u64,
    program_failed: u64,
}

/// The alerts of one daemon; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    messages: Arc<RwLock<Arc<Messages>>>,
    intake: mpsc::Sender<Routed>,
    intake_dropped: Arc<AtomicU64>,
    log: AlertLog,
    writer: Writer,
    channels: Arc<Mutex<Channels>>,
    retired: Arc<Mutex<Retired>>,
    settings: Arc<Mutex<Settings>>,
    server: String,
}

impl Hub {
    /// Open the alert log, start the channels and the router. Returns the newest `seq` the log
    /// holds, for the feed to continue from. Needs a tokio runtime.
    pub fn start(
        settings: &Settings,
        messages: Messages,
        state_dir: &Path,
        server: &str,
    ) -> Result<(Hub, u64), AlertsError> {
        let log = AlertLog::new(state_dir, &settings.alert_log);
        let mut last_seq = log.read(u64::MAX, 0).last_seq;
        // A daemon that died (kill -9, power cut) may have handed out numbers still queued for
        // the log: skip past all it could have queued, so no number means two events.
        let marker = log.dir().join(CLEAN_STOP);
        if marker.exists() {
            // Durably gone: a crash of this daemon must not find the old mark.
            let _ = std::fs::remove_file(&marker);
            let _ = std::fs::File::open(log.dir()).and_then(|d| d.sync_all());
        } else if last_seq > 0 {
            let gap = (INTAKE + LOG_QUEUE) as u64;
            tracing::warn!(
                "the previous daemon did not stop in order: events it had not yet written to the alert log are lost; numbering continues after seq {}",
                last_seq + gap
            );
            last_seq += gap;
        }
        let (writer, _thread) = log.writer(&settings.alert_log, LOG_QUEUE)?;
        let channels = Arc::new(Mutex::new(Channels::start(settings, server)?));
        let (intake, rx) = mpsc::channel(INTAKE);
        let hub = Hub {
            messages: Arc::new(RwLock::new(Arc::new(messages))),
            intake,
            intake_dropped: Arc::new(AtomicU64::new(0)),
            log,
            writer,
            channels,
            retired: Arc::new(Mutex::new(Retired::default())),
            settings: Arc::new(Mutex::new(settings.clone())),
            server: server.to_owned(),
        };
        tokio::spawn(hub.clone().route_loop(rx));
        Ok((hub, last_seq))
    }

    fn messages(&self) -> Arc<Messages> {
        match self.messages.read() {
            Ok(m) => m.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// MSG-3: the message files read again (`config apply`, SIGHUP).
    pub fn set_messages(&self, messages: Messages) {
        tracing::info!(from = %messages.origin, "alert messages in force");
        match self.messages.write() {
            Ok(mut m) => *m = Arc::new(messages),
            Err(p) => *p.into_inner() = Arc::new(messages),
        }
    }

    /// A changed `alerts` section (`config apply`): the syslog, mail and program channels are
    /// started again with it; queued mail of the old ones still goes out. The alert log keeps its
    /// settings until the daemon restarts.
    pub fn reconfigure(&self, settings: &Settings) -> Result<(), AlertsError> {
        {
            let old = self.lock_settings();
            if old.syslog == settings.syslog
                && old.mail == settings.mail
                && old.program == settings.program
            {
                return Ok(());
            }
        }
        let fresh = Channels::start(settings, &self.server)?;
        let old = std::mem::replace(&mut *self.lock_channels(), fresh);
        let mut retired = self.retired.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = &old.syslog {
            retired.syslog += s.dropped.load(Ordering::Relaxed);
        }
        if let Some(m) = &old.mail {
            retired.mail_dropped += m.stats.dropped.load(Ordering::Relaxed);
            retired.mail_failed += m.stats.failed.load(Ordering::Relaxed);
        }
        if let Some(p) = &old.program {
            retired.program_dropped += p.stats.dropped.load(Ordering::Relaxed);
            retired.program_failed += p.stats.failed.load(Ordering::Relaxed);
        }
        *self.lock_settings() = settings.clone();
        tracing::info!("alert channels reconfigured");
        Ok(())
    }

    fn lock_settings(&self) -> std::sync::MutexGuard<'_, Settings> {
        self.settings.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_channels(&self) -> std::sync::MutexGuard<'_, Channels> {
        self.channels.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Render `event` with its message in force and queue it for the channels; returns the
    /// event as the feed shows it (the message's text and level, `send` filled in). Never waits.
    pub fn route(&self, kind: &EventKind, mut event: EventDto) -> EventDto {
        let messages = self.messages();
        let fields = kind.fields();
        let (level, send) = match messages.get(&event.module, event.event_id) {
            Some(m) => {
                event.text = render(&m.template, &fields);
                event.line = format!(
                    "<type: {}><event: {}> {}",
                    event.module, event.event_id, event.text
                );
                event.level = match m.level {
                    Lvl::Info => "info",
                    Lvl::Warn => "warning",
                    Lvl::Err => "error",
                }
                .into();
                (m.level, m.send)
            }
            // Not in the catalogue (a test fails first): the engine's text, syslog and alert.
            None => (Lvl::of(kind.level()), super::catalogue::Send::SYSLOG_ALERT),
        };
        event.send = Some(send.to_string());
        let routed = Routed {
            event: event.clone(),
            level,
            mail: send.mail,
            syslog: send.syslog,
            fields,
        };
        if self.intake.try_send(routed).is_err() {
            self.intake_dropped.fetch_add(1, Ordering::Relaxed);
        }
        event
    }

    async fn route_loop(self, mut rx: mpsc::Receiver<Routed>) {
        while let Some(r) = rx.recv().await {
            // Every event is written to the alert log (it is also `events --since`'s history);
            // `upkeep alerts` shows the ones whose message is marked `alert`.
            self.writer.offer(r.event.clone());
            let mut channels = self.lock_channels();
            if r.syslog {
                if let Some(s) = channels.syslog.as_mut() {
                    s.send(r.level, &r.event.line);
                }
            }
            if r.mail {
                if let Some(m) = &channels.mail {
                    m.offer(r.event.clone());
                }
                if let Some(p) = &channels.program {
                    p.offer(Job {
                        event: r.event,
                        fields: r.fields,
                    });
                }
            }
        }
    }

    /// Wait (at most `limit`) until every event routed so far is in the alert log: the daemon's
    /// last events (`pm 3`) must not be lost to its exit.
    /// Then it marks the stop as clean, so the next daemon numbers on without a gap.
    pub async fn settle(&self, limit: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            if self.intake.capacity() == self.intake.max_capacity() && self.writer.idle() {
                let marked = crate::host::safe_file::Dir::open(
                    self.log.dir(),
                    crate::host::safe_file::Trust::Private,
                )
                .and_then(|d| {
                    d.open_append(CLEAN_STOP.as_ref(), 0o600)
                        .map_err(|e| e.to_string())
                });
                if let Err(e) = marked {
                    tracing::warn!("alert log: cannot mark the clean stop: {e}");
                }
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// Read the alert log (the read API for `upkeep alerts`, `events --since` and the web
    /// manager).
    pub fn read(&self, since: u64, limit: usize) -> History {
        self.log.read(since, limit)
    }

    /// Each channel's counters since the daemon started.
    pub fn channels(&self) -> Vec<ChannelDto> {
        let c = self.lock_channels();
        let r = self.retired.lock().unwrap_or_else(|p| p.into_inner());
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        vec![
            ChannelDto {
                name: "syslog".into(),
                enabled: c.syslog.is_some(),
                dropped: r.syslog + c.syslog.as_ref().map_or(0, |s| load(&s.dropped)),
                failed: 0,
            },
            ChannelDto {
                name: "alert".into(),
                enabled: true,
                dropped: load(&self.writer.dropped) + load(&self.intake_dropped),
                failed: load(&self.writer.failed),
            },
            ChannelDto {
                name: "mail".into(),
                enabled: c.mail.is_some(),
                dropped: r.mail_dropped + c.mail.as_ref().map_or(0, |m| load(&m.stats.dropped)),
                failed: r.mail_failed + c.mail.as_ref().map_or(0, |m| load(&m.stats.failed)),
            },
            ChannelDto {
                name: "program".into(),
                enabled: c.program.is_some(),
                dropped: r.program_dropped
                    + c.program.as_ref().map_or(0, |p| load(&p.stats.dropped)),
                failed: r.program_failed + c.program.as_ref().map_or(0, |p| load(&p.stats.failed)),
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stuck_mail_server_and_a_missing_syslog_never_hold_up_the_event_path() {
        let state = tempfile::tempdir().expect("tempdir");
        // A server that accepts and never says a word: each send would hang until its timeout.
        let blackhole = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = blackhole.local_addr().expect("addr").port();
        let settings = Settings {
            messages: None,
            syslog: upkeep_config::Syslog {
                enabled: true,
                socket: state.path().join("no-syslog-here"),
                ident: "upkeep".into(),
            },
            alert_log: Default::default(),
            mail: Some(upkeep_config::Mail {
                server: "127.0.0.1".into(),
                port,
                security: upkeep_config::MailSecurity::Plain,
                from: "upkeep@example.org".into(),
                to: vec!["ops@example.org".into()],
                username: None,
                password_file: None,
                ca_file: None,
                window: Duration::from_millis(10),
                timeout: Duration::from_secs(60),
                retries: 5,
                queue: 10,
            }),
            program: None,
        };
        let (hub, last) =
            Hub::start(&settings, Messages::built_in(), state.path(), "server1").expect("start");
        assert_eq!(last, 0);
        let kind = EventKind::MonitorError {
            monitor: "pidw".into(),
            detail: "gone".into(),
        };
        let n = 20_000u64;
        let started = Instant::now();
        for seq in 1..=n {
            let dto = EventDto {
                seq,
                at: "2026-12-02T03:00:00.000Z".into(),
                module: "rm".into(),
                event_id: 9,
                level: "error".into(),
                text: String::new(),
                line: String::new(),
                send: None,
            };
            let routed = hub.route(&kind, dto);
            assert_eq!(
                routed.line,
                "<type: rm><event: 9> Monitor pidw failed. (gone)"
            );
        }
        let took = started.elapsed();
        eprintln!("routed {n} events in {took:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
        hub.settle(Duration::from_secs(10)).await;
        let channels = hub.channels();
        let by = |name: &str| {
            channels
                .iter()
                .find(|c| c.name == name)
                .expect("channel")
                .clone()
        };
        // Every event that did not reach the alert log is counted; the stuck mail channel
        // dropped what did not fit its queue, syslog what it could not send.
        let written = hub.read(0, usize::MAX).entries.len() as u64;
        assert_eq!(written + by("alert").dropped, n);
        assert!(by("mail").dropped > 0, "{channels:?}");
        assert!(by("syslog").dropped > 0, "{channels:?}");
    }
}
