//! `GET /api/v1/stream`: the page's live view as server-sent events (issue 12: "updated live,
//! no manual reload").
//!
//! `event: status` carries the protocol's `StatusReply` whenever it changed (looked at on every
//! event and once a second, for changes without an event such as a pid); `event: event` carries
//! each new `EventDto`. The work lives in the stream, so it runs only while a page is open.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use tokio::sync::broadcast::error::RecvError;

use super::auth;
use super::Web;

/// How often an open page's status is compared with the board.
const LOOK: Duration = Duration::from_secs(1);

struct Live {
    web: Arc<Web>,
    /// The session cookie the stream was opened with: the stream ends with the session.
    session: Option<String>,
    events: tokio::sync::broadcast::Receiver<crate::control::proto::EventDto>,
    last: String,
    tick: tokio::time::Interval,
    first: bool,
}

pub async fn stream(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    let Some(who) = auth::who(&web, &headers) else {
        return auth::unauthenticated();
    };
    let session = match who.via {
        auth::Via::Session { .. } => web.auth.cookie_value(&headers).map(str::to_string),
        _ => None,
    };
    let last_seq = web.ops.feed.last_seq();
    let (_, events) = web.ops.feed.since(last_seq);
    let mut tick = tokio::time::interval(LOOK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let live = Live {
        web,
        session,
        events,
        last: String::new(),
        tick,
        first: true,
    };
    let stream = futures_util::stream::unfold(live, |mut live| async move {
        loop {
            if live.first {
                live.first = false;
                if let Some(e) = status_event(&mut live) {
                    return Some((Ok::<Event, Infallible>(e), live));
                }
            }
            let mut closing = live.web.closing.clone();
            if *closing.borrow() {
                return None;
            }
            tokio::select! {
                _ = closing.changed() => return None,
                got = live.events.recv() => match got {
                    Ok(e) => {
                        let data = serde_json::to_string(&e).unwrap_or_default();
                        return Some((Ok(Event::default().event("event").data(data)), live));
                    }
                    // Too slow a page: it gets the current status and goes on from now.
                    Err(RecvError::Lagged(_)) => {
                        live.last.clear();
                        if let Some(e) = status_event(&mut live) {
                            return Some((Ok(e), live));
                        }
                    }
                    Err(RecvError::Closed) => return None,
                },
                _ = live.tick.tick() => {
                    // An idle session's page stops getting news (it then asks to sign in).
                    if live.session.as_deref().is_some_and(|id| !live.web.auth.alive(id)) {
                        return None;
                    }
                    if let Some(e) = status_event(&mut live) {
                        return Some((Ok(e), live));
                    }
                }
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// The status, when it differs from what the page has.
fn status_event(live: &mut Live) -> Option<Event> {
    let mut status = live.web.ops.status();
    // Uptime changes every second; the page counts it itself.
    let uptime = status.server.uptime_s;
    status.server.uptime_s = 0;
    let key = serde_json::to_string(&status).unwrap_or_default();
    if key == live.last {
        return None;
    }
    live.last = key;
    status.server.uptime_s = uptime;
    Some(
        Event::default()
            .event("status")
            .data(serde_json::to_string(&status).unwrap_or_default()),
    )
}
