//! Client-redirection hooks: after a switchover or failover promotes a site (by the CLI or by
//! `tandem serve`), the site's `on-promote` command runs so users can move DNS, metastore URIs or
//! Airflow connections to it; the daemon also posts the move to its webhook (event `promoted`).
//!
//! The command runs with `sh -c`, stdin closed, at most [`TIMEOUT`], with the move in its
//! environment:
//!
//! | variable | value |
//! |---|---|
//! | `TANDEM_EVENT` | `switchover` or `failover` |
//! | `TANDEM_SITE` | the promoted site |
//! | `TANDEM_FROM` | the site that was active |
//! | `TANDEM_EPOCH` | the platform's new epoch |
//! | `TANDEM_DB_URL` | the promoted site's database URL, its password hidden |
//! | `TANDEM_DB_HOST`, `TANDEM_DB_PORT`, `TANDEM_DB_NAME` | its parts |
//!
//! A hook that fails (exit status, signal, timeout) is an error naming the site, the status and
//! the end of its output; the move itself is done and stays done.
//!
//! A move made by the CLI is also posted to `[serve] webhook`, when one is configured, as the
//! daemon's alerts are: `{"event": "promoted", "move": "failover", "site": "dr", "from": "us",
//! "epoch": 2, "db": "...", "text": "tandem: ...", "at": "..."}` (three tries, 10 s each; a
//! webhook that fails is a warning, not an error).

use std::process::Stdio;
use std::time::Duration;

use tandem_engine::DbUrl;
use tandem_error::{Error, Result};

/// The longest a hook may run.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Characters of a failing hook's output kept in its error.
const OUTPUT_TAIL: usize = 600;

/// A finished move that promoted a site.
#[derive(Debug, Clone)]
pub struct Promoted {
    /// `switchover` or `failover`.
    pub event: &'static str,
    pub site: String,
    pub from: String,
    pub epoch: u64,
    /// The promoted site's database URL (its `Display` hides the password).
    pub db: DbUrl,
}

/// Runs the `on-promote` command of the promoted site, if it has one; what it printed, trimmed.
pub async fn on_promote(command: Option<&str>, p: &Promoted) -> Result<Option<String>> {
    let Some(command) = command else { return Ok(None) };
    let what = || format!("the on-promote hook of site {}", p.site);
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .env("TANDEM_EVENT", p.event)
        .env("TANDEM_SITE", &p.site)
        .env("TANDEM_FROM", &p.from)
        .env("TANDEM_EPOCH", p.epoch.to_string())
        .env("TANDEM_DB_URL", p.db.to_string())
        .env("TANDEM_DB_HOST", &p.db.host)
        .env("TANDEM_DB_PORT", p.db.port.map(|p| p.to_string()).unwrap_or_default())
        .env("TANDEM_DB_NAME", &p.db.database)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd.spawn().map_err(|e| Error::bad_input(format!("{}: cannot run sh: {e}", what())))?;
    let out = match tokio::time::timeout(TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => return Err(Error::internal(format!("{}: {e}", what()))),
        Err(_) => return Err(Error::conflict(format!("{} did not finish within {} s and was killed", what(), TIMEOUT.as_secs()))),
    };
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let text = text.trim();
    if !out.status.success() {
        let tail: String = text.chars().rev().take(OUTPUT_TAIL).collect::<Vec<_>>().into_iter().rev().collect();
        return Err(Error::conflict(format!("{} failed ({}): {}", what(), out.status, tail.replace('\n', " | "))));
    }
    Ok(Some(text.to_string()))
}

/// Tries to deliver one webhook POST.
pub const WEBHOOK_TRIES: u32 = 3;
/// The timeout of one try.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// Posts `body` (JSON) to a webhook: [`WEBHOOK_TRIES`] tries, waiting 1 s, 2 s between them;
/// each failure is a warning that names `event`, never the URL (webhook URLs hold their token).
/// Whether it was delivered. Shared by the daemon's alerts and the CLI's moves.
pub async fn deliver(client: &reqwest::Client, url: &str, body: Vec<u8>, event: &str) -> bool {
    for attempt in 1..=WEBHOOK_TRIES {
        let request = client.post(url).header(reqwest::header::CONTENT_TYPE, "application/json").body(body.clone());
        match request.send().await {
            Ok(r) if r.status().is_success() => return true,
            Ok(r) => tracing::warn!(event, "webhook answered {} (try {attempt} of {WEBHOOK_TRIES})", r.status()),
            Err(e) => tracing::warn!(event, "webhook failed: {} (try {attempt} of {WEBHOOK_TRIES})", e.without_url()),
        }
        if attempt < WEBHOOK_TRIES {
            tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
        }
    }
    false
}

/// What the CLI posts to the webhook of a move it made (see the module doc).
fn promoted_body(p: &Promoted) -> serde_json::Value {
    serde_json::json!({
        "event": "promoted",
        "move": p.event,
        "site": p.site,
        "from": p.from,
        "epoch": p.epoch,
        "db": p.db.to_string(),
        "text": format!("tandem: {} from {} to {} at epoch {}", p.event, p.from, p.site, p.epoch),
        "at": chrono::Utc::now(),
        "host": tandem_repo::hostname(),
    })
}

/// Posts a move the CLI made to the webhook; `false` when it could not be delivered.
pub async fn post(webhook: &str, p: &Promoted) -> bool {
    let client = reqwest::Client::builder().timeout(WEBHOOK_TIMEOUT).build().unwrap_or_default();
    deliver(&client, webhook, promoted_body(p).to_string().into_bytes(), "promoted").await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn promoted() -> Promoted {
        let db = DbUrl::parse("mysql://hive:secret@metastore-eu:3307/hms").unwrap();
        Promoted { event: "failover", site: "dr".into(), from: "us".into(), epoch: 7, db }
    }

    #[tokio::test]
    async fn a_hook_sees_the_move_and_never_the_password() {
        let out = on_promote(
            Some("echo $TANDEM_EVENT $TANDEM_SITE $TANDEM_FROM $TANDEM_EPOCH $TANDEM_DB_HOST $TANDEM_DB_PORT $TANDEM_DB_NAME $TANDEM_DB_URL"),
            &promoted(),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(out, "failover dr us 7 metastore-eu 3307 hms mysql://hive:***@metastore-eu:3307/hms");
        assert!(on_promote(None, &promoted()).await.unwrap().is_none());
        let json = promoted_body(&promoted()).to_string();
        assert!(json.contains("metastore-eu") && json.contains(r#""move":"failover""#) && !json.contains("secret"), "{json}");
    }

    #[tokio::test]
    async fn a_failing_hook_is_an_error_with_its_output() {
        let e = on_promote(Some("echo cannot update DNS >&2; exit 3"), &promoted()).await.unwrap_err();
        let text = e.to_string();
        assert!(text.contains("on-promote hook of site dr failed") && text.contains("cannot update DNS") && text.contains('3'), "{text}");
    }
}
