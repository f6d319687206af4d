//! Heartbeats of a replication from a MySQL/MariaDB source ([`Heartbeat`]): one row per
//! replication in `tandem_heartbeat.heartbeat`, a database of tandem's own, so the replicated
//! database gets no table and no DDL from tandem. The binlog is the server's, so the stream sees
//! the rows; it skips this database's DDL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mysql_async::binlog::row::BinlogRow;
use mysql_async::binlog::value::BinlogValue;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tandem_engine::changes::{beat_text, beat_time, Capture, Heartbeat};
use tandem_engine::DbUrl;
use tandem_error::{Result, ResultExt};

use crate::{addr, connect, db_err};

/// The database and table that hold the heartbeats.
pub(crate) const DATABASE: &str = "tandem_heartbeat";
pub(crate) const TABLE: &str = "heartbeat";

/// Writes one replication's beats (reconnecting after a lost connection).
pub(crate) struct MyHeartbeat {
    url: DbUrl,
    name: String,
    conn: Option<Conn>,
}

impl MyHeartbeat {
    /// Makes the heartbeat table if it is missing (errors when the user may not).
    pub async fn open(url: &DbUrl, capture: &Capture) -> Result<MyHeartbeat> {
        let mut conn = connect(url, &[]).await?;
        for sql in [
            format!("CREATE DATABASE IF NOT EXISTS `{DATABASE}`"),
            format!("CREATE TABLE IF NOT EXISTS `{DATABASE}`.`{TABLE}` (replica VARCHAR(191) NOT NULL PRIMARY KEY, beat TEXT NOT NULL) ENGINE=InnoDB"),
        ] {
            conn.query_drop(&sql).await.map_err(db_err).with_context(|| format!("making the heartbeat table on {}", addr(url)))?;
        }
        Ok(MyHeartbeat { url: url.clone(), name: capture.heartbeat_name(&url.database), conn: Some(conn) })
    }
}

#[async_trait]
impl Heartbeat for MyHeartbeat {
    async fn beat(&mut self, at: DateTime<Utc>) -> Result<()> {
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => connect(&self.url, &[]).await?,
        };
        let sql = format!("INSERT INTO `{DATABASE}`.`{TABLE}` (replica, beat) VALUES (?, ?) ON DUPLICATE KEY UPDATE beat = VALUES(beat)");
        conn.exec_drop(sql, (self.name.as_str(), beat_text(&self.name, at))).await.map_err(db_err)?;
        self.conn = Some(conn);
        Ok(())
    }

    async fn close(mut self: Box<Self>) -> Result<()> {
        if let Some(c) = self.conn.take() {
            c.disconnect().await.map_err(db_err)?;
        }
        Ok(())
    }
}

/// The time of the beat of replication `name` that a heartbeat row holds, if it is one.
pub(crate) fn beat_of(row: &BinlogRow, name: &str) -> Option<DateTime<Utc>> {
    match row.as_ref(1)? {
        BinlogValue::Value(mysql_async::Value::Bytes(b)) => beat_time(std::str::from_utf8(b).ok()?, name),
        _ => None,
    }
}

/// Whether a statement is about one of tandem's own databases, the heartbeats' or the roles'
/// ([`tandem_engine::role`]): tandem's own DDL, not the source's.
pub(crate) fn is_tandems_own(sql: &str) -> bool {
    let sql = sql.to_ascii_lowercase();
    [DATABASE, tandem_engine::role::ROLE_SCHEMA].iter().any(|db| sql.contains(&format!("`{db}`")))
}
