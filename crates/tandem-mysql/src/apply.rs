//! Applying change events to a MySQL/MariaDB replica ([`ApplyConnection`], made an applier by
//! [`Transactional`]): one connection, prepared statements whose parameters are the rows' text
//! fields sent as binary strings (`SET NAMES binary`, as `LOAD DATA ... CHARACTER SET binary`
//! loads them). `CLIENT_FOUND_ROWS` makes an update that changes nothing still count the row it
//! found.

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params, Value};
use tandem_engine::changes::{
    diverged, row_key, statement_runs, ApplyConnection, ApplySpelling, ApplySql, Checkpoint, Origin, RunStatement, TargetChange, Transactional,
};
use tandem_engine::{DbUrl, RowEncoding, TableDef};
use tandem_error::{Error, Result, ResultExt};

use crate::schema::ColumnCodec;
use crate::{connect_with, db_err, q, server_code, MyDialect};

pub(crate) struct MyApplier {
    conn: Option<Conn>,
    tables: Vec<(TableDef, ApplySql, Vec<usize>)>,
    database: String,
}

impl MyApplier {
    /// With `origin`, the session writes its binlog events with the origin's server id, so a
    /// stream back to where they came from skips them (needs SUPER or BINLOG ADMIN: without, a
    /// warning, and the events carry the server's own id).
    pub async fn open(url: &DbUrl, tables: Vec<TableDef>, origin: Option<&Origin>) -> Result<Transactional<MyApplier>> {
        let use_db = format!("USE {}", q(&url.database));
        let mut conn = connect_with(url, &["SET NAMES binary", "SET SESSION wait_timeout = 86400", &use_db], |o| o.client_found_rows(true)).await?;
        if let Some(o) = origin {
            if let Err(e) = mark(&mut conn, o).await {
                tracing::warn!(
                    "database {}: applied changes carry the server's own id ({}): a replication back from this replica would send them back",
                    url.database,
                    db_err(e)
                );
            }
        }
        let tables = tables
            .into_iter()
            .map(|t| {
                let sql = ApplySql::new(
                    &MyDialect,
                    &t,
                    ApplySpelling {
                        param: |_, c| match ColumnCodec::of(c).needs_set() {
                            true => ColumnCodec::of(c).load_expr("?"),
                            false => "?".to_string(),
                        },
                        matches: |col, p, _| format!("{col} <=> {p}"),
                        one_row: |_, cond| format!("{cond} LIMIT 1"),
                    },
                );
                let key = row_key(&t);
                (t, sql, key)
            })
            .collect();
        let applier = MyApplier { conn: Some(conn), tables, database: url.database.clone() };
        Ok(Transactional::new(applier, |cp| cp.update_sql(&MyDialect, None)))
    }

    fn conn(&mut self) -> Result<&mut Conn> {
        self.conn.as_mut().ok_or_else(|| Error::internal("applier closed"))
    }
}

/// Makes the session log its events with `origin`'s server id, so a stream back to where they
/// came from skips them (needs SUPER or BINLOG ADMIN).
pub(crate) async fn mark(conn: &mut Conn, origin: &Origin) -> mysql_async::Result<()> {
    conn.query_drop(format!("SET SESSION server_id = {}", origin.server_id())).await
}

#[async_trait]
impl ApplyConnection for MyApplier {
    fn database(&self) -> &str {
        &self.database
    }

    async fn checkpoint(&mut self) -> Result<Option<Checkpoint>> {
        let sql = Checkpoint::select_sql(&MyDialect, None);
        let db = self.database.clone();
        let rows: Vec<Vec<u8>> = match self.conn()?.query(sql).await {
            Ok(rows) => rows,
            Err(e) if server_code(&e) == Some(1146) => return Ok(None),
            Err(e) => return Err(db_err(e).context(format!("reading the checkpoint of database {db}"))),
        };
        rows.first().map(|r| serde_json::from_slice(r).map_err(|e| Error::corrupt(format!("the checkpoint in database {db} cannot be read: {e}")))).transpose()
    }

    async fn begin(&mut self) -> Result<()> {
        self.conn()?.query_drop("START TRANSACTION").await.map_err(db_err)
    }

    async fn run(&mut self, changes: &[TargetChange]) -> Result<()> {
        let conn = self.conn.as_mut().ok_or_else(|| Error::internal("applier closed"))?;
        let tables = &self.tables;
        for (start, len) in statement_runs(changes, |c| tables.get(c.table).map_or(1, |(_, sql, _)| sql.chunk(c.op))) {
            let run = &changes[start..start + len];
            let c = &run[0];
            let (table, sql, key) = tables.get(c.table).ok_or_else(|| Error::internal(format!("change {start} names table {}", c.table)))?;
            let stmt = RunStatement::of(run, sql, key, RowEncoding::MysqlTsv)?;
            let params: Vec<Value> = stmt.params.into_iter().map(|f| f.map(Value::Bytes).unwrap_or(Value::NULL)).collect();
            conn.exec_drop(stmt.sql.as_ref(), Params::Positional(params)).await.map_err(db_err).with_context(|| format!("table {}", table.name))?;
            if conn.affected_rows() < stmt.rows {
                return Err(diverged(table, c.op));
            }
        }
        Ok(())
    }

    fn dialect(&self) -> &'static dyn tandem_engine::Dialect {
        &MyDialect
    }

    async fn query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        crate::query_strings(self.conn()?, sql).await
    }

    async fn execute(&mut self, update: &str) -> Result<u64> {
        let conn = self.conn()?;
        conn.query_drop(update).await.map_err(db_err)?;
        Ok(conn.affected_rows())
    }

    async fn commit(&mut self) -> Result<()> {
        self.conn()?.query_drop("COMMIT").await.map_err(db_err)
    }

    async fn rollback(&mut self) -> Result<()> {
        self.conn()?.query_drop("ROLLBACK").await.map_err(db_err)
    }

    async fn close(mut self: Box<Self>) -> Result<()> {
        if let Some(c) = self.conn.take() {
            let _ = c.disconnect().await;
        }
        Ok(())
    }
}
