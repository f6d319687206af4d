//! The daemon's HTTP interface (axum):
//!
//! | method, path | auth | answer |
//! |---|---|---|
//! | `GET /healthz` | - | 200 `{"status":"ok","lease_held":…}` while the daemon runs |
//! | `GET /metrics` | - | OpenMetrics text (see `metrics`) |
//! | `GET /api/status` | - | JSON: lease, sites, jobs, health, staleness, recent errors |
//! | `GET /` | - | the status page (HTML) |
//! | `POST /api/v1/sites/{site}/backup`, `…/refresh`, `…/drill` | bearer | 202 `{"job": ID}`; 409 if running (with its id), 503 if this daemon does not hold the lease, 404 unknown site |
//! | `GET /api/v1/jobs/{id}` | - | the run (state, times, backup, error); 404 if unknown |
//!
//! Mutating endpoints need `Authorization: Bearer <token>` with the token of `[serve]`
//! `token-file` or `token-env`; a missing or wrong token is 401 and changes nothing. Without a
//! configured token they are off (403).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use subtle::ConstantTimeEq;

use super::daemon::{Daemon, Refused};
use super::state::{JobKind, Trigger};

type AppState = Arc<Daemon>;

pub fn router(daemon: Arc<Daemon>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/status", get(status))
        .route("/api/v1/sites/{site}/{job}", post(trigger))
        .route("/api/v1/jobs/{id}", get(job))
        .with_state(daemon)
}

/// Serves until the task is aborted.
pub async fn serve(listener: tokio::net::TcpListener, daemon: Arc<Daemon>) {
    if let Err(e) = axum::serve(listener, router(daemon)).await {
        tracing::error!("HTTP server stopped: {e}");
    }
}

async fn healthz(State(d): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({"status": "ok", "lease_held": d.lease().held, "holder": d.holder()}))
}

async fn metrics(State(d): State<AppState>) -> Response {
    let body = super::metrics::render(&d.status());
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body).into_response()
}

async fn status(State(d): State<AppState>) -> Json<super::status::Status> {
    Json(d.status())
}

async fn page(State(d): State<AppState>) -> Html<String> {
    Html(super::page::render(&d.status()))
}

fn error(code: StatusCode, message: String) -> Response {
    (code, Json(json!({"error": message}))).into_response()
}

/// Constant-time comparison of the presented token with the configured one (`subtle`: the
/// time taken does not depend on where they differ; only the length may show).
fn authorized(headers: &HeaderMap, token: &SecretString) -> bool {
    let Some(presented) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")) else {
        return false;
    };
    presented.trim().as_bytes().ct_eq(token.expose_secret().as_bytes()).into()
}

async fn trigger(State(d): State<AppState>, Path((site, job)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let Some(token) = d.settings.token.as_ref() else {
        return error(StatusCode::FORBIDDEN, "mutating endpoints are off: set token-file or token-env in [serve]".into());
    };
    if !authorized(&headers, token) {
        let mut r = error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token".into());
        r.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        return r;
    }
    let Some(kind) = JobKind::parse(&job) else {
        return error(StatusCode::NOT_FOUND, format!("unknown job {job:?}: use backup, refresh or drill"));
    };
    match d.start_run(&site, kind, Trigger::Api) {
        Ok(id) => (StatusCode::ACCEPTED, Json(json!({"job": id, "status": format!("/api/v1/jobs/{id}")}))).into_response(),
        Err(Refused::AlreadyRunning(id)) => {
            (StatusCode::CONFLICT, Json(json!({"error": format!("{site} {job} is already running"), "job": id}))).into_response()
        }
        Err(r @ Refused::UnknownJob(_)) => error(StatusCode::NOT_FOUND, r.to_string()),
        Err(r @ Refused::Internal(_)) => error(StatusCode::INTERNAL_SERVER_ERROR, r.to_string()),
        Err(r @ (Refused::NotLeader(_) | Refused::ShuttingDown)) => error(StatusCode::SERVICE_UNAVAILABLE, r.to_string()),
    }
}

async fn job(State(d): State<AppState>, Path(id): Path<String>) -> Response {
    match d.run(&id) {
        Some(run) => Json(run).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no job {id} in this daemon (it keeps the latest runs since it started)")),
    }
}
