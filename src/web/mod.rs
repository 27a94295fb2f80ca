//! The web manager, HTTP API and Prometheus `/metrics` (issue 12, UI-2; docs/WEB.md,
//! docs/API.md). Off unless the configuration has a `web:` section.
//!
//! Runs on the daemon's tokio runtime, beside the control socket, and answers through the same
//! [`Ops`]: the API builds the protocol's own [`Request`](crate::control::proto::Request)s and
//! returns its [`Response`](crate::control::proto::Response)s, so the socket and HTTP cannot
//! drift apart. With no browser connected nothing runs but the accept loop: the live view is a
//! task per connected page, not a poller of its own.
//!
//! `accounts` keeps people and tokens; `auth` signs requests in and checks CSRF; `api` maps
//! routes to requests; `live` streams status and events to pages; `metrics` renders `/metrics`;
//! `log` is the seam the persistent alert log (issue 11) replaces; `pages` serves the embedded
//! assets.

pub mod accounts;
mod api;
mod auth;
mod live;
pub mod log;
pub mod metrics;
mod pages;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use tokio::sync::watch;
use upkeep_config::WebSettings;

use crate::control::ops::Ops;

/// Why the web server could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("web: cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("web: cannot load the TLS certificate `{}` and key `{}`: {source}", cert.display(), key.display())]
    Tls {
        cert: PathBuf,
        key: PathBuf,
        source: std::io::Error,
    },
}

/// What every handler shares.
pub(crate) struct Web {
    pub ops: Arc<Ops>,
    pub settings: WebSettings,
    pub accounts_file: PathBuf,
    pub auth: auth::Auth,
    pub log: Box<dyn log::AlertLog>,
    /// Becomes true when the daemon stops: live streams end so the server can.
    pub closing: watch::Receiver<bool>,
}

impl Web {
    /// Anonymous visitors may look (never act) only where nobody but this machine can reach
    /// the server and no account exists yet (issue 12: "with no account the UI is view-only on
    /// loopback").
    fn anonymous_may_view(&self, has_users: bool) -> bool {
        !has_users && self.settings.listen.ip().is_loopback() && !self.settings.behind_proxy
    }

    /// Cookies must say `Secure` whenever the browser talks HTTPS.
    fn secure_cookies(&self) -> bool {
        self.settings.tls.is_some() || self.settings.behind_proxy
    }
}

/// The running web server.
pub struct WebServer {
    handle: axum_server::Handle<SocketAddr>,
    task: tokio::task::JoinHandle<()>,
    closing: watch::Sender<bool>,
    pub addr: SocketAddr,
}

impl WebServer {
    /// Bind `settings.listen` and serve until [`WebServer::shutdown`].
    pub async fn start(
        settings: WebSettings,
        ops: Arc<Ops>,
        state_dir: &std::path::Path,
    ) -> Result<WebServer, WebError> {
        return_big_blocks_to_the_os();
        let addr = settings.listen;
        let listener =
            std::net::TcpListener::bind(addr).map_err(|source| WebError::Bind { addr, source })?;
        let bound = listener.local_addr().unwrap_or(addr);
        let accounts_file = settings
            .accounts
            .clone()
            .unwrap_or_else(|| state_dir.join(accounts::DEFAULT_FILE));
        let (closing_tx, closing) = watch::channel(false);
        let web = Arc::new(Web {
            log: Box::new(log::FeedLog::new(ops.feed.clone())),
            ops,
            auth: auth::Auth::new(settings.idle_timeout, bound.port()),
            accounts_file,
            settings: settings.clone(),
            closing,
        });
        let app = router(web.clone());
        let handle = axum_server::Handle::new();
        let make = app.into_make_service_with_connect_info::<SocketAddr>();
        let task = match &settings.tls {
            Some(tls) => {
                // One TLS provider for the process, ring (NOTES-ROUND2 §5): chosen here rather
                // than by feature unification, which a dependency could tip.
                let _ = rustls::crypto::ring::default_provider().install_default();
                let config =
                    axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
                        .await
                        .map_err(|source| WebError::Tls {
                            cert: tls.cert.clone(),
                            key: tls.key.clone(),
                            source,
                        })?;
                let server = axum_server::tls_rustls::from_tcp_rustls(listener, config)
                    .map_err(|source| WebError::Bind { addr, source })?
                    .handle(handle.clone());
                tokio::spawn(async move {
                    if let Err(e) = server.serve(make).await {
                        tracing::error!("web server failed: {e}");
                    }
                })
            }
            None => {
                let server = axum_server::from_tcp(listener)
                    .map_err(|source| WebError::Bind { addr, source })?
                    .handle(handle.clone());
                tokio::spawn(async move {
                    if let Err(e) = server.serve(make).await {
                        tracing::error!("web server failed: {e}");
                    }
                })
            }
        };
        tracing::info!(
            address = %bound,
            tls = settings.tls.is_some(),
            metrics = settings.metrics,
            accounts = %web.accounts_file.display(),
            "web manager listening"
        );
        Ok(WebServer {
            handle,
            task,
            closing: closing_tx,
            addr: bound,
        })
    }

    /// End live streams, let requests in flight finish (1 s at most), stop listening.
    pub async fn shutdown(self) {
        let _ = self.closing.send(true);
        self.handle.graceful_shutdown(Some(Duration::from_secs(1)));
        let task = self.task;
        tokio::pin!(task);
        if tokio::time::timeout(Duration::from_secs(3), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

/// Each sign-in hashes with 19 MiB of argon2 memory. glibc raises its mmap threshold to the
/// size of a freed mapped block, so from the second sign-in on those 19 MiB came from a thread's
/// heap arena and stayed resident (measured: idle RSS 13 MB before, 52 MB after three sign-ins).
/// A fixed threshold (the default 128 KiB) turns off that adjustment: blocks that big are always
/// mapped and go back to the OS when freed (mallopt(3), NOTES-ROUND2 §5).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn return_big_blocks_to_the_os() {
    // SAFETY: mallopt only sets an allocator parameter; it is thread-safe (it takes the
    // allocator's own locks) and touches no memory of ours.
    let done = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024) };
    if done != 1 {
        tracing::warn!(
            "web: could not fix malloc's mmap threshold; sign-ins may leave memory resident"
        );
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_big_blocks_to_the_os() {}

fn router(web: Arc<Web>) -> Router {
    let mut app = Router::new()
        .route("/", get(pages::index))
        .route("/assets/{file}", get(pages::asset))
        .route("/login", post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/api/v1/session", get(auth::session))
        .route("/api/v1/status", get(api::status))
        .route("/api/v1/events", get(api::events))
        .route("/api/v1/tree", get(api::tree))
        .route("/api/v1/explain/{name}", get(api::explain))
        .route("/api/v1/stream", get(live::stream))
        .route("/api/v1/groups/{name}/{action}", post(api::group))
        .route("/api/v1/resources/{name}/{action}", post(api::resource))
        .route("/api/v1/monitors/{action}", post(api::monitors))
        .route("/api/v1/daemon/{action}", post(api::daemon))
        .route("/api/v1/request", post(api::request))
        .fallback(api::not_found);
    if web.settings.metrics {
        app = app.route("/metrics", get(api::metrics));
    }
    app.layer(axum::middleware::from_fn(pages::security_headers))
        .with_state(web)
}
