//! Alerts: a JSON POST to the configured webhook when a job starts failing (`job_failed`, once
//! per streak; `job_recovered` after it), a site turns unhealthy (`site_unhealthy`,
//! `site_healthy`), a standby passes the staleness threshold (`standby_stale`) and the daemon
//! loses its lease (`lease_lost`). The body carries `text` too, so Slack- and Mattermost-style
//! incoming webhooks show it as it is:
//!
//! ```json
//! {"event": "job_failed", "site": "dr", "job": "refresh", "message": "...", "text": "tandem: ...",
//!  "at": "2026-12-01T10:00:00Z", "host": "dr-1"}
//! ```
//!
//! Delivery is best effort: three tries with a 10 s timeout each, never blocking a job; a
//! webhook that keeps failing is logged, without its URL (webhook URLs hold their token).

use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::state::JobKind;

/// Tries per alert.
const TRIES: u32 = 3;
/// Timeout of one try.
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub event: &'static str,
    pub site: String,
    pub job: Option<JobKind>,
    pub message: String,
    pub text: String,
    pub at: DateTime<Utc>,
    pub host: String,
}

impl Alert {
    pub fn new(event: &'static str, site: &str, job: Option<JobKind>, message: String) -> Alert {
        Alert { event, site: site.to_string(), job, text: format!("tandem: {message}"), message, at: Utc::now(), host: tandem_repo::hostname() }
    }
}

pub struct Alerter {
    url: Option<SecretString>,
    client: reqwest::Client,
    /// The daemon's runtime: alerts outlive the job runtimes they are raised on.
    runtime: tokio::runtime::Handle,
}

impl Alerter {
    /// Must be called on the daemon's runtime.
    pub fn new(url: Option<SecretString>) -> Alerter {
        let client = reqwest::Client::builder().timeout(TIMEOUT).build().unwrap_or_default();
        Alerter { url, client, runtime: tokio::runtime::Handle::current() }
    }

    /// Sends in the background (no-op without a webhook).
    pub fn send(&self, alert: Alert) {
        let Some(url) = self.url.clone() else { return };
        let client = self.client.clone();
        let Ok(body) = serde_json::to_vec(&alert) else { return };
        self.runtime.spawn(async move {
            for attempt in 1..=TRIES {
                let request = client.post(url.expose_secret()).header(reqwest::header::CONTENT_TYPE, "application/json").body(body.clone());
                match request.send().await {
                    Ok(r) if r.status().is_success() => return,
                    Ok(r) => tracing::warn!(event = alert.event, "webhook answered {} (try {attempt} of {TRIES})", r.status()),
                    Err(e) => tracing::warn!(event = alert.event, "webhook failed: {} (try {attempt} of {TRIES})", e.without_url()),
                }
                tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
            }
            tracing::error!(event = alert.event, "alert not delivered: {}", alert.message);
        });
    }
}
