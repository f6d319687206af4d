//! A read-write transaction on a live MySQL/MariaDB database (standby, promote, fence, health).

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tandem_engine::{DbUrl, Dialect, Transaction};
use tandem_error::{Error, Result, ResultExt};
use tokio::sync::Mutex;

use crate::{addr, connect, db_err, lit, q, query_strings, server_version};

pub(crate) struct MyTransaction {
    conn: Mutex<Option<Conn>>,
    version: String,
    what: String,
}

impl MyTransaction {
    pub(crate) async fn begin(url: &DbUrl) -> Result<MyTransaction> {
        let mut conn = connect(url, &[]).await?;
        let what = format!("database {} on {}", url.database, addr(url));
        let exists = query_strings(&mut conn, &format!("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {}", lit(&url.database))).await?;
        if exists.is_empty() {
            return Err(Error::bad_input(format!("{what} does not exist")));
        }
        let (version, _) = server_version(&mut conn).await?;
        for stmt in [format!("USE {}", q(&url.database)), "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED".into(), "START TRANSACTION".into()] {
            conn.query_drop(stmt).await.map_err(db_err).with_context(|| what.clone())?;
        }
        Ok(MyTransaction { conn: Mutex::new(Some(conn)), version, what })
    }
}

#[async_trait]
impl Transaction for MyTransaction {
    fn dialect(&self) -> &'static dyn Dialect {
        &crate::MyDialect
    }

    fn server_version(&self) -> &str {
        &self.version
    }

    async fn query(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        let mut guard = self.conn.lock().await;
        let conn = guard.as_mut().ok_or_else(|| Error::internal("transaction is over"))?;
        query_strings(conn, sql).await.with_context(|| self.what.clone())
    }

    async fn execute(&self, sql: &str) -> Result<u64> {
        let mut guard = self.conn.lock().await;
        let conn = guard.as_mut().ok_or_else(|| Error::internal("transaction is over"))?;
        conn.query_drop(sql).await.map_err(db_err).with_context(|| self.what.clone())?;
        Ok(conn.affected_rows())
    }

    async fn ddl(&self, sql: &str) -> Result<()> {
        let mut guard = self.conn.lock().await;
        let conn = guard.as_mut().ok_or_else(|| Error::internal("transaction is over"))?;
        // MySQL commits before and after DDL: open the next transaction explicitly.
        conn.query_drop(sql).await.map_err(db_err).with_context(|| self.what.clone())?;
        conn.query_drop("START TRANSACTION").await.map_err(db_err).with_context(|| self.what.clone())
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        let conn = self.conn.lock().await.take();
        let mut conn = conn.ok_or_else(|| Error::internal("transaction is over"))?;
        let r = conn.query_drop("COMMIT").await.map_err(db_err).with_context(|| self.what.clone());
        let _ = conn.disconnect().await;
        r
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        let conn = self.conn.lock().await.take();
        let mut conn = conn.ok_or_else(|| Error::internal("transaction is over"))?;
        let r = conn.query_drop("ROLLBACK").await.map_err(db_err);
        let _ = conn.disconnect().await;
        r
    }
}
