//! Heartbeats of a replication from a PostgreSQL source ([`Heartbeat`]): logical decoding
//! messages (`pg_logical_emit_message`, not transactional), which every stream of the database
//! receives in WAL order and which need no table at the source.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tandem_engine::changes::{beat_text, Capture, Heartbeat};
use tandem_engine::DbUrl;
use tandem_error::{Result, ResultExt};
use tokio_postgres::Client;

use crate::{addr, connect, pg_err};

/// The prefix of tandem's heartbeat messages.
pub(crate) const PREFIX: &str = "tandem_heartbeat";

/// Writes one replication's beats (reconnecting after a lost connection).
pub(crate) struct PgHeartbeat {
    url: DbUrl,
    name: String,
    client: Option<Client>,
}

impl PgHeartbeat {
    /// Logs a first beat, so that a user who may not log them is told now.
    pub async fn open(url: &DbUrl, capture: &Capture) -> Result<PgHeartbeat> {
        let mut heartbeat = PgHeartbeat { url: url.clone(), name: capture.heartbeat_name(&url.database), client: None };
        heartbeat.beat(Utc::now()).await.with_context(|| format!("logging a heartbeat on {}", addr(url)))?;
        Ok(heartbeat)
    }
}

#[async_trait]
impl Heartbeat for PgHeartbeat {
    async fn beat(&mut self, at: DateTime<Utc>) -> Result<()> {
        let client = match self.client.take() {
            Some(c) if !c.is_closed() => c,
            _ => connect(&self.url, &self.url.database).await?,
        };
        let what = format!("heartbeat on {}", addr(&self.url));
        client
            .execute("SELECT pg_logical_emit_message(false, $1::text, $2::text)", &[&PREFIX, &beat_text(&self.name, at)])
            .await
            .map_err(|e| pg_err(&what, e))?;
        self.client = Some(client);
        Ok(())
    }

    async fn close(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}
