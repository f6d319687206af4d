//! The kill switch: a replica's replication can be paused and resumed durably. The switch is row
//! 2 of the replica's checkpoint table (`{"paused": REASON, "at": TIME}`; row 1 is the
//! checkpoint), so it survives restarts of tandem and of the daemon, and a running replication
//! sees it within a second.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tandem_engine::changes::CHECKPOINT_TABLE;
use tandem_engine::{DbUrl, Engine};
use tandem_error::{Error, Result, ResultExt};

/// Row 2 of the checkpoint table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub paused: String,
    pub at: DateTime<Utc>,
}

/// The replica's pause, if it is paused. Errors (BadInput) when the database is no replica.
pub async fn paused(engine: &dyn Engine, url: &DbUrl) -> Result<Option<Pause>> {
    let tx = engine.transaction(url).await?;
    let d = tx.dialect();
    let sql = format!("SELECT checkpoint FROM {} WHERE id = 2", d.ident(CHECKPOINT_TABLE));
    let rows = tx.query(&sql).await.map_err(|e| no_replica(url, e))?;
    tx.rollback().await?;
    rows.first()
        .and_then(|r| r.first().cloned().flatten())
        .map(|json| serde_json::from_str(&json).map_err(|e| Error::corrupt(format!("the pause switch in database {} cannot be read: {e}", url.database))))
        .transpose()
}

/// Pauses (with a reason) or resumes (`None`) the replica's replication.
pub async fn set_paused(engine: &dyn Engine, url: &DbUrl, reason: Option<&str>) -> Result<()> {
    let tx = engine.transaction(url).await?;
    let d = tx.dialect();
    let table = d.ident(CHECKPOINT_TABLE);
    tx.execute(&format!("DELETE FROM {table} WHERE id = 2")).await.map_err(|e| no_replica(url, e))?;
    if let Some(reason) = reason {
        let json = serde_json::to_string(&Pause { paused: reason.to_string(), at: Utc::now() }).unwrap_or_default();
        tx.execute(&format!("INSERT INTO {table} (id, checkpoint) VALUES (2, {})", d.literal(&json))).await.context("storing the pause")?;
    }
    tx.commit().await
}

fn no_replica(url: &DbUrl, e: Error) -> Error {
    Error::bad_input(format!("database {} is no replica (it has no readable {CHECKPOINT_TABLE} table: {e})", url.database))
}
