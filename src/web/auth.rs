//! Who is asking (issue 12, docs/SECURITY.md): sessions for people, bearer tokens for
//! automation, anonymous viewing only on loopback with no account; CSRF checks on every state
//! change; login attempts rate-limited.
//!
//! Sessions are HttpOnly, SameSite=Strict cookies named after the port (browsers do not
//! isolate cookies by port), end after the configured idle time, and each carries a CSRF token
//! the page sends back in `X-CSRF-Token` on every POST (OWASP's synchronizer token), checked in
//! constant time; a POST that says `Sec-Fetch-Site: cross-site` or comes from a foreign
//! `Origin` is refused before that.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use tokio::sync::Semaphore;

use super::accounts::{self, Accounts, Role};
use super::api::error;
use super::Web;
use crate::control::proto::ErrorKind;

/// Failed logins one client address may make within [`FAILURE_WINDOW`].
const MAX_FAILURES: usize = 5;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Sessions kept at once; the oldest is dropped beyond.
const MAX_SESSIONS: usize = 256;
/// Client addresses whose failures are remembered (a spray of addresses cannot grow the map).
const MAX_TRACKED: usize = 4096;

/// How a request was signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Session { csrf: String },
    Token,
    Anonymous,
}

/// Who is asking.
#[derive(Debug, Clone)]
pub struct Who {
    pub name: String,
    pub role: Role,
    pub via: Via,
}

struct Session {
    name: String,
    role: Role,
    csrf: String,
    last: Instant,
}

pub struct Auth {
    idle: Duration,
    cookie: String,
    sessions: Mutex<HashMap<String, Session>>,
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
    /// One password hash at a time: each takes 19 MiB and a core for a moment.
    hashing: Arc<Semaphore>,
}

impl Auth {
    pub fn new(idle: Duration, port: u16) -> Auth {
        Auth {
            idle,
            cookie: format!("upkeep_session_{port}"),
            sessions: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            hashing: Arc::new(Semaphore::new(1)),
        }
    }

    fn session(&self, id: &str) -> Option<Who> {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let alive = sessions
            .get(id)
            .is_some_and(|s| now.duration_since(s.last) < self.idle);
        if !alive {
            sessions.remove(id);
            return None;
        }
        let s = sessions.get_mut(id)?;
        s.last = now;
        Some(Who {
            name: s.name.clone(),
            role: s.role,
            via: Via::Session {
                csrf: s.csrf.clone(),
            },
        })
    }

    /// Whether session `id` is still alive, without counting this as use (a page left open is
    /// not activity).
    pub fn alive(&self, id: &str) -> bool {
        let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions
            .get(id)
            .is_some_and(|s| Instant::now().duration_since(s.last) < self.idle)
    }

    fn open(&self, name: &str, role: Role) -> Result<(String, String), String> {
        let id = accounts::random_hex(32)?;
        let csrf = accounts::random_hex(32)?;
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        sessions.retain(|_, s| now.duration_since(s.last) < self.idle);
        if sessions.len() >= MAX_SESSIONS {
            if let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.last)
                .map(|(k, _)| k.clone())
            {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(
            id.clone(),
            Session {
                name: name.to_string(),
                role,
                csrf: csrf.clone(),
                last: now,
            },
        );
        Ok((id, csrf))
    }

    /// Whether `ip` has used up its failed logins.
    fn limited(&self, ip: IpAddr) -> Option<Duration> {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let list = failures.get_mut(&ip)?;
        while list
            .front()
            .is_some_and(|t| now.duration_since(*t) >= FAILURE_WINDOW)
        {
            list.pop_front();
        }
        if list.len() >= MAX_FAILURES {
            list.front()
                .map(|t| FAILURE_WINDOW.saturating_sub(now.duration_since(*t)))
        } else {
            None
        }
    }

    fn failed(&self, ip: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= MAX_TRACKED && !failures.contains_key(&ip) {
            let now = Instant::now();
            failures.retain(|_, l| {
                l.back()
                    .is_some_and(|t| now.duration_since(*t) < FAILURE_WINDOW)
            });
            if failures.len() >= MAX_TRACKED {
                return;
            }
        }
        failures.entry(ip).or_default().push_back(Instant::now());
    }

    pub fn cookie_value<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == self.cookie)
            .map(|(_, v)| v)
    }
}

/// Signs the request in, or `None` (then the caller answers 401).
pub fn who(web: &Web, headers: &HeaderMap) -> Option<Who> {
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        let accounts = load(web);
        return accounts.token(bearer.trim()).map(|e| Who {
            name: e.name.clone(),
            role: e.role,
            via: Via::Token,
        });
    }
    if let Some(who) = web
        .auth
        .cookie_value(headers)
        .and_then(|id| web.auth.session(id))
    {
        return Some(who);
    }
    if web.anonymous_may_view(load(web).has_users()) {
        return Some(Who {
            name: String::new(),
            role: Role::Viewer,
            via: Via::Anonymous,
        });
    }
    None
}

/// The accounts file as it is now; one that others could write (or is not ours or root's)
/// counts as empty: an account planted there must not open the door.
fn load(web: &Web) -> Accounts {
    use std::os::unix::fs::MetadataExt;
    if let Ok(meta) = std::fs::metadata(&web.accounts_file) {
        let me = nix::unistd::geteuid().as_raw();
        if meta.mode() & 0o022 != 0 || (meta.uid() != 0 && meta.uid() != me) {
            tracing::warn!(
                file = %web.accounts_file.display(),
                "web: the accounts file is writable by others or owned by another user; nobody can sign in until it is `chmod 600` and owned by root"
            );
            return Accounts::default();
        }
    }
    Accounts::load(&web.accounts_file).unwrap_or_else(|e| {
        tracing::warn!("web: {e}; nobody can sign in until it is fixed");
        Accounts::default()
    })
}

/// A state change: an operator, and for a cookie session the CSRF token and same-site
/// headers. `Err` is the reply.
pub fn check_change(web: &Web, headers: &HeaderMap) -> Result<Who, Box<Response>> {
    let Some(who) = who(web, headers) else {
        return Err(Box::new(unauthenticated()));
    };
    if let Via::Session { csrf } = &who.via {
        if headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|s| s == "cross-site" || s == "same-site")
        {
            return Err(Box::new(error(
                StatusCode::FORBIDDEN,
                ErrorKind::Denied,
                "refused: a state change from another site",
            )));
        }
        if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
            if origin_host != host {
                return Err(Box::new(error(
                    StatusCode::FORBIDDEN,
                    ErrorKind::Denied,
                    format!("refused: a state change from the foreign origin `{origin}`"),
                )));
            }
        }
        let sent = headers
            .get("x-csrf-token")
            .map(HeaderValue::as_bytes)
            .unwrap_or(b"");
        if !accounts::constant_time_eq(sent, csrf.as_bytes()) {
            return Err(Box::new(error(
                StatusCode::FORBIDDEN,
                ErrorKind::Denied,
                "refused: missing or wrong CSRF token (reload the page)",
            )));
        }
    }
    if who.role < Role::Operator {
        tracing::warn!(user = %who.name, "web: refused a state change by a viewer");
        return Err(Box::new(error(
            StatusCode::FORBIDDEN,
            ErrorKind::Denied,
            if who.via == Via::Anonymous {
                "permission denied: operations are off until an operator account exists (`upkeep web passwd NAME --role operator`)".to_string()
            } else {
                format!(
                    "permission denied: `{}` is a viewer; operations need an operator",
                    who.name
                )
            },
        )));
    }
    Ok(who)
}

pub fn unauthenticated() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        ErrorKind::Denied,
        "sign in first (POST /login) or send `Authorization: Bearer TOKEN`",
    )
}

#[derive(Deserialize)]
pub struct Login {
    name: String,
    password: String,
}

/// `POST /login` with `{"name", "password"}`: a session cookie and the CSRF token.
pub async fn login(
    State(web): State<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(body): Json<Login>,
) -> Response {
    let ip = peer.ip();
    if let Some(wait) = web.auth.limited(ip) {
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Busy,
            format!(
                "too many failed logins from {ip}; try again in {} s",
                wait.as_secs() + 1
            ),
        );
        if let Ok(v) = HeaderValue::from_str(&(wait.as_secs() + 1).to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let accounts = load(&web);
    let entry = accounts.user(&body.name).cloned();
    let Ok(_permit) = web.auth.hashing.clone().acquire_owned().await else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Busy,
            "shutting down",
        );
    };
    let password = body.password;
    // Unknown names cost a hash too, so timing does not tell which names exist.
    let hash = entry.as_ref().map(|e| e.hash.clone()).unwrap_or_else(|| {
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$J8YSnFY5eyc0ukH3TS6kf8Mw2MIr+0k2i3zDyLBaSsQ".into()
    });
    let ok = tokio::task::spawn_blocking(move || accounts::verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    let Some(entry) = entry.filter(|_| ok) else {
        web.auth.failed(ip);
        tracing::warn!(name = %body.name, client = %ip, "web: failed login");
        return error(
            StatusCode::UNAUTHORIZED,
            ErrorKind::Denied,
            "wrong name or password",
        );
    };
    let (id, csrf) = match web.auth.open(&entry.name, entry.role) {
        Ok(pair) => pair,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, ErrorKind::Failed, e),
    };
    tracing::info!(name = %entry.name, role = entry.role.as_str(), client = %ip, "web: signed in");
    let cookie = format!(
        "{}={id}; Path=/; HttpOnly; SameSite=Strict{}",
        web.auth.cookie,
        if web.secure_cookies() { "; Secure" } else { "" }
    );
    let body = serde_json::json!({"name": entry.name, "role": entry.role, "csrf": csrf});
    let mut r = Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// `POST /logout`: ends the session (needs its CSRF token like any change).
pub async fn logout(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    if let Some(id) = web.auth.cookie_value(&headers) {
        let known = web.auth.session(id);
        if let Some(Who {
            via: Via::Session { csrf },
            ..
        }) = known
        {
            let sent = headers
                .get("x-csrf-token")
                .map(HeaderValue::as_bytes)
                .unwrap_or(b"");
            if !accounts::constant_time_eq(sent, csrf.as_bytes()) {
                return error(
                    StatusCode::FORBIDDEN,
                    ErrorKind::Denied,
                    "missing or wrong CSRF token",
                );
            }
            web.auth
                .sessions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(id);
        }
    }
    let cookie = format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
        web.auth.cookie
    );
    let mut r = Json(serde_json::json!({"signed_out": true})).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// `GET /api/v1/session`: who the page is and what it may do.
pub async fn session(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    let has_users = load(&web).has_users();
    let who = who(&web, &headers);
    let (name, role, csrf) = match &who {
        Some(w) => (
            w.name.clone(),
            Some(w.role),
            match &w.via {
                Via::Session { csrf } => csrf.clone(),
                _ => String::new(),
            },
        ),
        None => (String::new(), None, String::new()),
    };
    Json(serde_json::json!({
        "name": name,
        "role": role,
        "csrf": csrf,
        "signed_in": who.as_ref().is_some_and(|w| w.via != Via::Anonymous),
        "can_operate": role == Some(Role::Operator),
        "accounts_exist": has_users,
    }))
    .into_response()
}
