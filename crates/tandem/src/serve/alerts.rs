//! Alerts: a JSON POST to the configured webhook when a job starts failing (`job_failed`, once
//! per streak; `job_recovered` after it), a site turns unhealthy (`site_unhealthy`,
//! `site_healthy`), a standby passes the staleness threshold (`standby_stale`), what a site's
//! backup skips differs from its previous backup's (`backup_skipped`, with the list as
//! `skipped`) and the daemon loses its lease (`lease_lost`). The body carries `text` too, so
//! Slack- and Mattermost-style incoming webhooks show it as it is:
//!
//! ```json
//! {"event": "job_failed", "site": "dr", "job": "refresh", "message": "...", "text": "tandem: ...",
//!  "at": "2026-12-01T10:00:00Z", "host": "dr-1"}
//! ```
//!
//! Delivery is best effort: three tries with a 10 s timeout each, never blocking a job; a
//! webhook that keeps failing is logged, without its URL (webhook URLs hold their token).

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use tandem_engine::Skipped;

use super::state::{JobKind, Run};

#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub event: &'static str,
    pub site: String,
    pub job: Option<JobKind>,
    pub message: String,
    pub text: String,
    pub at: DateTime<Utc>,
    pub host: String,
    /// `backup_skipped`: every object the backup skipped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
}

impl Alert {
    pub fn new(event: &'static str, site: &str, job: Option<JobKind>, message: String) -> Alert {
        Alert {
            event,
            site: site.to_string(),
            job,
            text: format!("tandem: {message}"),
            message,
            at: Utc::now(),
            host: tandem_repo::hostname(),
            skipped: Vec::new(),
        }
    }
}

/// Objects named in an alert's message at most.
const NAMED: usize = 10;

/// `backup_skipped` when `run` is a successful backup that skipped other objects than the
/// site's previous backup (`before`; empty for the first); order does not matter.
pub fn skipped_changed(run: &Run, before: &[Skipped]) -> Option<Alert> {
    if run.job != JobKind::Backup || run.error.is_some() || same_set(&run.skipped, before) {
        return None;
    }
    let list = |items: &mut dyn Iterator<Item = &Skipped>| {
        let items: Vec<String> = items.map(|s| format!("{} {}", s.kind, s.name)).collect();
        let more = items.len().saturating_sub(NAMED);
        let mut text = items.into_iter().take(NAMED).collect::<Vec<_>>().join(", ");
        if more > 0 {
            text.push_str(&format!(" and {more} more"));
        }
        text
    };
    let site = &run.site;
    let mut message = match run.skipped.len() {
        0 => format!("{site} backup skips nothing any more"),
        n => format!("{site} backup skipped {n} object(s) tandem does not copy: {}", list(&mut run.skipped.iter())),
    };
    let gone: Vec<&Skipped> = before.iter().filter(|s| !run.skipped.contains(s)).collect();
    if !gone.is_empty() && !run.skipped.is_empty() {
        message.push_str(&format!("; no longer skipped: {}", list(&mut gone.into_iter())));
    }
    let mut alert = Alert::new("backup_skipped", site, Some(JobKind::Backup), message);
    alert.skipped = run.skipped.clone();
    Some(alert)
}

fn same_set(a: &[Skipped], b: &[Skipped]) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort();
    b.sort();
    a == b
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
        let client = reqwest::Client::builder().timeout(crate::hooks::WEBHOOK_TIMEOUT).build().unwrap_or_default();
        Alerter { url, client, runtime: tokio::runtime::Handle::current() }
    }

    /// Sends in the background (no-op without a webhook).
    pub fn send(&self, alert: Alert) {
        let Some(url) = self.url.clone() else { return };
        let client = self.client.clone();
        let Ok(body) = serde_json::to_vec(&alert) else { return };
        self.runtime.spawn(async move {
            if crate::hooks::deliver(&client, url.expose_secret(), body, alert.event).await {
                return;
            }
            tracing::error!(event = alert.event, "alert not delivered: {}", alert.message);
        });
    }
}

#[cfg(test)]
mod tests {
    use tandem_engine::SkippedKind;

    use super::*;
    use crate::serve::state::{RunState, Trigger};

    fn run(skipped: Vec<Skipped>) -> Run {
        Run {
            id: "r".into(),
            site: "primary".into(),
            job: JobKind::Backup,
            trigger: Trigger::Schedule,
            daemon: "d".into(),
            state: RunState::Succeeded,
            started: Utc::now(),
            finished: None,
            duration_s: None,
            bytes: 0,
            stored_bytes: None,
            settings: None,
            backup: None,
            snapshot_at: None,
            summary: String::new(),
            skipped,
            error: None,
        }
    }

    #[test]
    fn backup_skipped_only_when_the_list_changes() {
        let remote = Skipped::new(SkippedKind::ForeignTable, "public.remote", "r");
        let agg = Skipped::new(SkippedKind::Aggregate, "public.agg", "a");
        assert!(skipped_changed(&run(vec![]), &[]).is_none(), "nothing skipped, nothing before");
        let first = skipped_changed(&run(vec![remote.clone()]), &[]).expect("a first skipped object");
        assert_eq!((first.event, first.skipped.len()), ("backup_skipped", 1));
        assert!(first.message.contains("foreign table public.remote"), "{}", first.message);
        assert!(skipped_changed(&run(vec![agg.clone(), remote.clone()]), &[remote.clone(), agg.clone()]).is_none(), "order does not matter");
        let swapped = skipped_changed(&run(vec![agg.clone()]), std::slice::from_ref(&remote)).expect("changed");
        assert!(
            swapped.message.contains("aggregate public.agg") && swapped.message.contains("no longer skipped: foreign table public.remote"),
            "{}",
            swapped.message
        );
        let gone = skipped_changed(&run(vec![]), std::slice::from_ref(&agg)).expect("emptied");
        assert!(gone.message.contains("skips nothing any more") && gone.skipped.is_empty(), "{}", gone.message);
        let failed = Run { error: Some("boom".into()), ..run(vec![agg.clone()]) };
        assert!(skipped_changed(&failed, &[]).is_none(), "a failed run says nothing about skipped objects");
        let refresh = Run { job: JobKind::Refresh, ..run(vec![agg]) };
        assert!(skipped_changed(&refresh, &[]).is_none());
    }
}
