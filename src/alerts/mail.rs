//! The mail channel (MSG-1, MSG-4): the messages marked `.mail`, over SMTP (lettre: STARTTLS or
//! TLS through rustls, optional auth, several recipients).
//!
//! Bursts are coalesced: the first message opens a window (`alerts.mail.window`), and everything
//! that arrives within it goes out in one mail whose subject names the server and the first
//! event. A failed send is tried again with a doubling wait (`retries`); meanwhile new messages
//! wait in the bounded queue, and what does not fit is dropped and counted. The failure is
//! logged once per failing spell, never mailed in a loop. Nothing here is awaited by the engine.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::mpsc;
use upkeep_config::{Mail as Settings, MailSecurity};

use crate::control::proto::EventDto;

/// At most this many events are listed in one mail; the rest are counted.
const MAX_LISTED: usize = 200;
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The mail channel's counters.
#[derive(Debug, Default)]
pub struct MailStats {
    /// Mails delivered to the server.
    pub sent: AtomicU64,
    /// Events dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Events in mails that failed after every retry.
    pub failed: AtomicU64,
    /// The last attempt failed.
    pub failing: AtomicBool,
}

/// The queue into the mail task.
#[derive(Clone)]
pub struct MailChannel {
    tx: mpsc::Sender<EventDto>,
    pub stats: Arc<MailStats>,
}

impl MailChannel {
    /// Start the mail task. Fails on settings lettre refuses (a bad address, an unreadable
    /// password file), before any event is queued.
    pub fn start(settings: &Settings, server_name: &str) -> Result<MailChannel, String> {
        let mailer = Mailer::new(settings, server_name)?;
        let (tx, rx) = mpsc::channel(settings.queue);
        let stats = Arc::new(MailStats::default());
        tokio::spawn(mailer.run(rx, settings.clone(), stats.clone()));
        Ok(MailChannel { tx, stats })
    }

    /// Queue one event; never waits.
    pub fn offer(&self, event: EventDto) {
        if self.tx.try_send(event).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    server_name: String,
    relay: String,
}

impl Mailer {
    fn new(s: &Settings, server_name: &str) -> Result<Mailer, String> {
        type T = AsyncSmtpTransport<Tokio1Executor>;
        let builder = match s.security {
            MailSecurity::StartTls => T::starttls_relay(&s.server),
            MailSecurity::Tls => T::relay(&s.server),
            MailSecurity::Plain => Ok(T::builder_dangerous(&s.server)),
        }
        .map_err(|e| format!("mail server `{}`: {e}", s.server))?;
        let builder = match (&s.ca_file, s.security) {
            (Some(ca), MailSecurity::StartTls | MailSecurity::Tls) => {
                use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
                let pem = std::fs::read(ca)
                    .map_err(|e| format!("cannot read the mail CA file `{}`: {e}", ca.display()))?;
                let cert = Certificate::from_pem(&pem)
                    .map_err(|e| format!("mail CA file `{}`: {e}", ca.display()))?;
                let params = TlsParameters::builder(s.server.clone())
                    .add_root_certificate(cert)
                    .build_rustls()
                    .map_err(|e| format!("mail TLS: {e}"))?;
                T::builder_dangerous(&s.server).tls(match s.security {
                    MailSecurity::Tls => Tls::Wrapper(params),
                    _ => Tls::Required(params),
                })
            }
            _ => builder,
        };
        let mut builder = builder.port(s.port).timeout(Some(s.timeout));
        if let Some(user) = &s.username {
            let password = match &s.password_file {
                Some(file) => std::fs::read_to_string(file)
                    .map_err(|e| {
                        format!(
                            "cannot read the mail password file `{}`: {e}",
                            file.display()
                        )
                    })?
                    .trim_end_matches(['\n', '\r'])
                    .to_owned(),
                None => String::new(),
            };
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        let parse = |a: &str| {
            a.parse::<Mailbox>()
                .map_err(|e| format!("mail address `{a}`: {e}"))
        };
        Ok(Mailer {
            transport: builder.build(),
            from: parse(&s.from)?,
            to: s.to.iter().map(|a| parse(a)).collect::<Result<_, _>>()?,
            server_name: server_name.to_owned(),
            relay: format!("{}:{}", s.server, s.port),
        })
    }

    async fn run(self, mut rx: mpsc::Receiver<EventDto>, s: Settings, stats: Arc<MailStats>) {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            let mut unlisted = 0usize;
            let window = tokio::time::sleep(s.window);
            tokio::pin!(window);
            loop {
                tokio::select! {
                    () = &mut window => break,
                    next = rx.recv() => match next {
                        Some(e) if batch.len() < MAX_LISTED => batch.push(e),
                        Some(_) => unlisted += 1,
                        None => break,
                    },
                }
            }
            let mail = match self.compose(&batch, unlisted) {
                Ok(m) => m,
                Err(e) => {
                    tracing::error!("mail: cannot compose: {e}");
                    continue;
                }
            };
            let events = (batch.len() + unlisted) as u64;
            let mut wait = Duration::from_secs(1);
            let mut attempt = 0;
            loop {
                // lettre's own timeout does not bound a server that never greets
                // (NOTES-ROUND2 §4), so every attempt is bounded here.
                let result =
                    tokio::time::timeout(s.timeout, self.transport.send(mail.clone())).await;
                let error = match result {
                    Ok(Ok(_)) => None,
                    Ok(Err(e)) => Some(e.to_string()),
                    Err(_) => Some(format!(
                        "no answer within {}",
                        humantime::format_duration(s.timeout)
                    )),
                };
                match error {
                    None => {
                        stats.sent.fetch_add(1, Ordering::Relaxed);
                        if stats.failing.swap(false, Ordering::Relaxed) {
                            tracing::info!(relay = %self.relay, "mail: delivered again");
                        }
                        break;
                    }
                    Some(e) => {
                        if !stats.failing.swap(true, Ordering::Relaxed) {
                            tracing::error!(relay = %self.relay, "mail: cannot send ({e}); retrying with backoff, reported once until a mail goes through");
                        }
                        if attempt >= s.retries {
                            stats.failed.fetch_add(events, Ordering::Relaxed);
                            tracing::debug!("mail: gave up on {events} events");
                            break;
                        }
                        attempt += 1;
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(MAX_BACKOFF);
                    }
                }
            }
        }
    }

    fn compose(&self, batch: &[EventDto], unlisted: usize) -> Result<Message, String> {
        let first = &batch[0];
        let more = batch.len() - 1 + unlisted;
        let mut subject = format!(
            "[upkeep] {}: {} {} {}",
            self.server_name, first.module, first.event_id, first.text
        );
        if more > 0 {
            let _ = write!(subject, " (+{more} more)");
        }
        let mut body = format!("Server: {}\n\n", self.server_name);
        for e in batch {
            let _ = writeln!(body, "{} {} {}", e.at, e.level.to_uppercase(), e.line);
        }
        if unlisted > 0 {
            let _ = writeln!(
                body,
                "... and {unlisted} more events (upkeep alerts shows them)."
            );
        }
        body.push_str("\n-- \nupkeep: turn mail off for a message by removing `.mail` from its SEND in the message files (docs/ALERTS.md).\n");
        let mut builder = Message::builder().from(self.from.clone()).subject(subject);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        builder
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    fn event(seq: u64) -> EventDto {
        crate::alerts::sample_event(seq)
    }

    /// The smallest SMTP server that accepts everything; each mail's DATA is sent back.
    async fn smtp() -> (u16, mpsc::UnboundedReceiver<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    let _ = write.write_all(b"220 test ESMTP\r\n").await;
                    let mut data: Option<String> = None;
                    while let Ok(Some(line)) = lines.next_line().await {
                        if let Some(body) = data.as_mut() {
                            if line == "." {
                                let _ = tx.send(data.take().unwrap_or_default());
                                let _ = write.write_all(b"250 queued\r\n").await;
                            } else {
                                body.push_str(&line);
                                body.push('\n');
                            }
                            continue;
                        }
                        let reply: &[u8] = if line.starts_with("EHLO") {
                            b"250 test\r\n"
                        } else if line == "DATA" {
                            data = Some(String::new());
                            b"354 go on\r\n"
                        } else if line == "QUIT" {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        } else {
                            b"250 ok\r\n"
                        };
                        let _ = write.write_all(reply).await;
                    }
                });
            }
        });
        (port, rx)
    }

    fn settings(port: u16, queue: usize) -> Settings {
        Settings {
            server: "127.0.0.1".into(),
            port,
            security: MailSecurity::Plain,
            from: "upkeep@example.org".into(),
            to: vec!["ops@example.org".into()],
            username: None,
            password_file: None,
            ca_file: None,
            window: Duration::from_millis(300),
            timeout: Duration::from_secs(5),
            retries: 0,
            queue,
        }
    }

    #[tokio::test]
    async fn a_burst_within_the_window_goes_out_as_one_mail_naming_the_server_and_the_first_event()
    {
        let (port, mut mails) = smtp().await;
        let channel = MailChannel::start(&settings(port, 100), "server1").expect("start");
        for seq in 1..=5 {
            channel.offer(event(seq));
        }
        let mail = tokio::time::timeout(Duration::from_secs(10), mails.recv())
            .await
            .expect("a mail")
            .expect("data");
        assert!(
            mail.contains("Subject: [upkeep] server1: rm 9 Monitor m1 failed. (gone) (+4 more)"),
            "{mail}"
        );
        for seq in 1..=5 {
            assert!(mail.contains(&format!("Monitor m{seq} failed.")), "{mail}");
        }
        // Nothing else was sent for the burst.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(mails.try_recv().is_err());
        assert_eq!(channel.stats.sent.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_without_waiting() {
        // Nobody listens: the first batch waits out its window, then fails; meanwhile the queue
        // of 2 fills and the rest are dropped at once.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let channel = MailChannel::start(&settings(port, 2), "server1").expect("start");
        channel.offer(event(1));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = std::time::Instant::now();
        for seq in 2..=1001 {
            channel.offer(event(seq));
        }
        assert!(
            started.elapsed() < Duration::from_millis(200),
            "{:?}",
            started.elapsed()
        );
        // The window task took the first; 998 of the next 1000 did not fit.
        let dropped = channel.stats.dropped.load(Ordering::Relaxed);
        assert!(dropped >= 990, "{dropped}");
    }
}
