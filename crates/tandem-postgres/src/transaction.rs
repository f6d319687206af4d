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
        crate::simple_rows(&self.client, sql).await.map_err(|e| pg_err(&self.what, e))
    }

    async fn execute(&self, sql: &str) -> Result<u64> {
        self.client.execute(sql, &[]).await.map_err(|e| pg_err(&self.what, e))
    }

    async fn ddl(&self, sql: &str) -> Result<()> {
        self.client.batch_execute(sql).await.map_err(|e| pg_err(&self.what, e))
    }

    async fn advance_id_generators(&self) -> Result<Vec<String>> {
        // Sequences owned by a column (serial) or behind an identity column.
        let owned = self
            .query(
                "SELECT s.oid::regclass::text, c.oid::regclass::text, pg_catalog.quote_ident(a.attname), \
                    COALESCE(ps.last_value, ps.min_value - 1)::text, ps.min_value::text \
                 FROM pg_catalog.pg_class s \
                 JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = s.oid \
                   AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i') \
                 JOIN pg_catalog.pg_class c ON c.oid = d.refobjid \
                 JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.refobjsubid \
                 JOIN pg_catalog.pg_namespace n ON n.oid = s.relnamespace \
                 JOIN pg_catalog.pg_sequences ps ON ps.schemaname = n.nspname AND ps.sequencename = s.relname \
                 WHERE s.relkind = 'S' ORDER BY 1",
            )
            .await?;
        let mut moved = Vec::new();
        for r in owned {
            let text = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
            let (seq, table, column) = (text(0), text(1), text(2));
            let (last, min): (i128, i128) = (text(3).parse().unwrap_or(0), text(4).parse().unwrap_or(1));
            let max = self.query(&format!("SELECT max({column})::text FROM {table}")).await?;
            let Some(max) = max.first().and_then(|r| r.first().cloned().flatten()).and_then(|m| m.parse::<i128>().ok()) else { continue };
            if max > last && max >= min {
                self.query(&format!("SELECT pg_catalog.setval({}::regclass, {max})", crate::literal(&seq))).await?;
                moved.push(format!("{seq} to {max}"));
            }
        }
        Ok(moved)
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.client.batch_execute("COMMIT").await.map_err(|e| pg_err(&self.what, e))
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        self.client.batch_execute("ROLLBACK").await.map_err(|e| pg_err(&self.what, e))
    }
}
