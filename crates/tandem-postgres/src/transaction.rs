//! A read-write transaction on a live PostgreSQL database (standby, promote, fence, health).

use async_trait::async_trait;
use tandem_engine::{DbUrl, Dialect, Transaction};
use tandem_error::Result;
use tokio_postgres::{Client, SimpleQueryMessage};

use crate::{addr, connect, pg_err};

pub(crate) struct PgTransaction {
    client: Client,
    version: String,
    what: String,
}

impl PgTransaction {
    pub(crate) async fn begin(url: &DbUrl) -> Result<PgTransaction> {
        let client = connect(url, &url.database).await?;
        let what = format!("database {} on {}", url.database, addr(url));
        client.batch_execute("SET TimeZone = 'UTC'; SET DateStyle = ISO; BEGIN ISOLATION LEVEL READ COMMITTED").await.map_err(|e| pg_err(&what, e))?;
        // The first message may be the row description: take the first row.
        let messages = client.simple_query("SHOW server_version").await.map_err(|e| pg_err(&what, e))?;
        let version = messages
            .iter()
            .find_map(|m| match m {
                SimpleQueryMessage::Row(r) => Some(r.get(0).unwrap_or_default().to_string()),
                _ => None,
            })
            .unwrap_or_default();
        Ok(PgTransaction { client, version, what })
    }
}

#[async_trait]
impl Transaction for PgTransaction {
    fn dialect(&self) -> &'static dyn Dialect {
        &crate::PgDialect
    }

    fn server_version(&self) -> &str {
        &self.version
    }

    async fn query(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        let msgs = self.client.simple_query(sql).await.map_err(|e| pg_err(&self.what, e))?;
        Ok(msgs
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect()),
                _ => None,
            })
            .collect())
    }

    async fn execute(&self, sql: &str) -> Result<u64> {
        self.client.execute(sql, &[]).await.map_err(|e| pg_err(&self.what, e))
    }

    async fn ddl(&self, sql: &str) -> Result<()> {
        self.client.batch_execute(sql).await.map_err(|e| pg_err(&self.what, e))
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.client.batch_execute("COMMIT").await.map_err(|e| pg_err(&self.what, e))
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        self.client.batch_execute("ROLLBACK").await.map_err(|e| pg_err(&self.what, e))
    }
}
