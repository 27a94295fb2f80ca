//! `/api/v1/...`: the control protocol over HTTP (issue 12, docs/API.md).
//!
//! Every route builds a protocol [`Request`] and hands it to [`Ops::answer`], the handler the
//! socket uses; the body of every reply is the protocol's [`Response`] as JSON, `type` tag and
//! all. Errors keep their [`ErrorKind`] and get the HTTP status that says the same as the
//! CLI's exit code (docs/API.md has the table).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::Json;
use serde::Deserialize;

use super::auth::{self, Who};
use super::log::Filter;
use super::metrics;
use super::Web;
use crate::control::ops::Ops;
use crate::control::proto::{
    DaemonAction, ErrorKind, EventsReply, MonitorAction, Request, Response, Toggle,
    PROTOCOL_VERSION,
};

/// The HTTP status of a protocol error (the CLI's exit code in brackets).
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadRequest => StatusCode::BAD_REQUEST, // 76 protocol
        ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY, // 64 usage
        ErrorKind::Denied => StatusCode::FORBIDDEN,       // 77 no permission
        ErrorKind::Unknown => StatusCode::NOT_FOUND,      // 65 data error
        ErrorKind::Refused => StatusCode::CONFLICT,       // 1 refused
        ErrorKind::Failed => StatusCode::INTERNAL_SERVER_ERROR, // 2 failed
        ErrorKind::Busy => StatusCode::SERVICE_UNAVAILABLE, // 75 try again
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE, // 69 unavailable
    }
}

/// An error reply: the protocol's `Error` object with `status`.
pub fn error(status: StatusCode, kind: ErrorKind, message: impl Into<String>) -> HttpResponse {
    (status, Json(Response::failure(kind, message))).into_response()
}

/// A protocol reply with the status its kind means.
fn reply(response: Response) -> HttpResponse {
    let status = match &response {
        Response::Error(e) => status_of(e.kind),
        _ => StatusCode::OK,
    };
    (status, Json(response)).into_response()
}

/// Requests HTTP does not carry: they end the process, replace or reveal the configuration, or
/// change logging; they stay on the socket, for local operators (docs/SECURITY.md).
fn socket_only(request: &Request) -> bool {
    matches!(
        request,
        Request::Down { .. }
            | Request::ConfigApply { .. }
            | Request::ConfigPull { .. }
            | Request::LogLevel { .. }
            | Request::Follow { .. }
    )
}

/// The one door: role checked for every state change, then the socket's handler.
async fn dispatch(web: &Web, headers: &HeaderMap, request: Request) -> HttpResponse {
    if socket_only(&request) {
        return error(
            StatusCode::FORBIDDEN,
            ErrorKind::Denied,
            format!(
                "`{}` is not served over HTTP; use `upkeep` on the server",
                request.name()
            ),
        );
    }
    let who: Who = if request.changes_state() {
        match auth::check_change(web, headers) {
            Ok(w) => w,
            Err(r) => return *r,
        }
    } else {
        match auth::who(web, headers) {
            Some(w) => w,
            None => return auth::unauthenticated(),
        }
    };
    if request.changes_state() {
        tracing::info!(user = %who.name, request = request.name(), "web: operator request");
    }
    reply(answer(&web.ops, request).await)
}

async fn answer(ops: &Arc<Ops>, request: Request) -> Response {
    ops.answer(request).await
}

pub async fn status(State(web): State<Arc<Web>>, headers: HeaderMap) -> HttpResponse {
    dispatch(&web, &headers, Request::status()).await
}

pub async fn tree(State(web): State<Arc<Web>>, headers: HeaderMap) -> HttpResponse {
    let request = Request::Tree {
        version: PROTOCOL_VERSION,
    };
    dispatch(&web, &headers, request).await
}

pub async fn explain(
    State(web): State<Arc<Web>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> HttpResponse {
    let request = Request::Explain {
        version: PROTOCOL_VERSION,
        name,
    };
    dispatch(&web, &headers, request).await
}

/// `GET /api/v1/events?since=&level=&module=&object=&from=&to=&limit=`: the protocol's
/// `Events` reply, filtered through the alert log seam.
pub async fn events(
    State(web): State<Arc<Web>>,
    Query(filter): Query<Filter>,
    headers: HeaderMap,
) -> HttpResponse {
    if auth::who(&web, &headers).is_none() {
        return auth::unauthenticated();
    }
    reply(Response::Events(EventsReply {
        version: PROTOCOL_VERSION,
        events: web.log.query(&filter),
    }))
}

pub async fn group(
    State(web): State<Arc<Web>>,
    Path((name, action)): Path<(String, String)>,
    headers: HeaderMap,
) -> HttpResponse {
    let toggle = |action| Request::Group {
        version: PROTOCOL_VERSION,
        name: name.clone(),
        action,
    };
    match action.as_str() {
        "start" => dispatch(&web, &headers, toggle(Toggle::Start)).await,
        "stop" => dispatch(&web, &headers, toggle(Toggle::Stop)).await,
        // Like `upkeep group restart`: a stop, then a start; the first failure is the answer.
        "restart" => {
            let stopped = dispatch(&web, &headers, toggle(Toggle::Stop)).await;
            if stopped.status() != StatusCode::OK {
                return stopped;
            }
            dispatch(&web, &headers, toggle(Toggle::Start)).await
        }
        other => bad_action(other, "start, stop or restart"),
    }
}

pub async fn resource(
    State(web): State<Arc<Web>>,
    Path((name, action)): Path<(String, String)>,
    headers: HeaderMap,
) -> HttpResponse {
    let action = match action.as_str() {
        "start" => Toggle::Start,
        "stop" => Toggle::Stop,
        other => return bad_action(other, "start or stop"),
    };
    let request = Request::Resource {
        version: PROTOCOL_VERSION,
        name,
        action,
    };
    dispatch(&web, &headers, request).await
}

#[derive(Debug, Default, Deserialize)]
pub struct MonitorsBody {
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    for_s: Option<u64>,
}

pub async fn monitors(
    State(web): State<Arc<Web>>,
    Path(action): Path<String>,
    headers: HeaderMap,
    body: Option<Json<MonitorsBody>>,
) -> HttpResponse {
    let action = match action.as_str() {
        "suspend" => MonitorAction::Suspend,
        "resume" => MonitorAction::Resume,
        other => return bad_action(other, "suspend or resume"),
    };
    let Json(body) = body.unwrap_or_default();
    let request = Request::Monitors {
        version: PROTOCOL_VERSION,
        action,
        names: body.names,
        for_s: body.for_s,
    };
    dispatch(&web, &headers, request).await
}

pub async fn daemon(
    State(web): State<Arc<Web>>,
    Path(action): Path<String>,
    headers: HeaderMap,
) -> HttpResponse {
    let action = match action.as_str() {
        "start" => DaemonAction::Start,
        "stop" => DaemonAction::Stop,
        "suspend" => DaemonAction::Suspend,
        "resume" => DaemonAction::Resume,
        other => return bad_action(other, "start, stop, suspend or resume"),
    };
    let request = Request::Daemon {
        version: PROTOCOL_VERSION,
        action,
    };
    dispatch(&web, &headers, request).await
}

/// `POST /api/v1/request`: any protocol request as its JSON line (docs/PROTOCOL.md).
pub async fn request(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> HttpResponse {
    match serde_json::from_slice::<Request>(&body) {
        Ok(request) => dispatch(&web, &headers, request).await,
        Err(e) => error(
            StatusCode::BAD_REQUEST,
            ErrorKind::BadRequest,
            format!("not a protocol request: {e}"),
        ),
    }
}

/// `GET /metrics`: Prometheus text format, open like any exporter's (docs/SECURITY.md).
pub async fn metrics(State(web): State<Arc<Web>>) -> HttpResponse {
    let status = web.ops.status();
    let events = web.ops.feed.counts();
    let probes = crate::host::probe::timing::snapshot();
    let text = metrics::render(
        &status,
        &metrics::Extra {
            version: env!("CARGO_PKG_VERSION"),
            events: &events,
            probes: &probes,
        },
    );
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response()
}

pub async fn not_found() -> HttpResponse {
    error(
        StatusCode::NOT_FOUND,
        ErrorKind::Unknown,
        "no such page or API route (see docs/API.md)",
    )
}

fn bad_action(got: &str, allowed: &str) -> HttpResponse {
    error(
        StatusCode::NOT_FOUND,
        ErrorKind::Unknown,
        format!("unknown action `{got}`; use {allowed}"),
    )
}
