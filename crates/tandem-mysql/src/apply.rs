//! Applying change events to a MySQL/MariaDB replica: one connection, one open transaction
//! from the first [`Applier::write`] to the [`Applier::commit`] that stores the checkpoint, prepared statements whose parameters are the rows' text fields sent as
//! binary strings (`SET NAMES binary`, as `LOAD DATA ... CHARACTER SET binary` loads them), and
//! the checkpoint updated in the same transaction. `CLIENT_FOUND_ROWS` makes an update that
//! changes nothing still count the row it found.

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params, Value};
use tandem_engine::changes::{diverged, row_key, statement_runs, Applier, ApplySql, Checkpoint, RunStatement, TargetChange};
use tandem_engine::{DbUrl, RowEncoding, TableDef};
use tandem_error::{Error, Result, ResultExt};

use crate::schema::ColumnCodec;
use crate::{connect_with, db_err, q, server_code, MyDialect};

pub(crate) struct MyApplier {
    conn: Option<Conn>,
    tables: Vec<(TableDef, ApplySql, Vec<usize>)>,
    database: String,
    /// Whether a target transaction is open.
    open: bool,
}

impl MyApplier {
    pub async fn open(url: &DbUrl, tables: Vec<TableDef>) -> Result<MyApplier> {
        let use_db = format!("USE {}", q(&url.database));
        let conn = connect_with(url, &["SET NAMES binary", "SET SESSION wait_timeout = 86400", &use_db], |o| o.client_found_rows(true)).await?;
        let tables = tables
            .into_iter()
            .map(|t| {
                let sql = ApplySql::new(
                    &MyDialect,
                    &t,
                    |_, c| match ColumnCodec::of(c).needs_set() {
                        true => ColumnCodec::of(c).load_expr("?"),
                        false => "?".to_string(),
                    },
                    |col, p| format!("{col} <=> {p}"),
                    |_, cond| format!("{cond} LIMIT 1"),
                );
                let key = row_key(&t);
                (t, sql, key)
            })
            .collect();
        Ok(MyApplier { conn: Some(conn), tables, database: url.database.clone(), open: false })
    }

    fn conn(&mut self) -> Result<&mut Conn> {
        self.conn.as_mut().ok_or_else(|| Error::internal("applier closed"))
    }

    /// Opens the target transaction unless one is open.
    async fn begin(&mut self) -> Result<()> {
        if !self.open {
            self.conn()?.query_drop("START TRANSACTION").await.map_err(db_err)?;
            self.open = true;
        }
        Ok(())
    }

    async fn run(&mut self, changes: &[TargetChange]) -> Result<()> {
        self.begin().await?;
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

    async fn store(&mut self, checkpoint: &Checkpoint) -> Result<()> {
        self.begin().await?;
        let conn = self.conn()?;
        conn.query_drop(checkpoint.update_sql(&MyDialect, None)).await.map_err(db_err).context("storing the checkpoint")?;
        if conn.affected_rows() != 1 {
            return Err(Error::conflict(format!("the replica's {} table holds no checkpoint", tandem_engine::changes::CHECKPOINT_TABLE)));
        }
        conn.query_drop("COMMIT").await.map_err(db_err)?;
        self.open = false;
        Ok(())
    }

    /// Rolls back after an error (the error is what the caller reports).
    async fn abandon<T>(&mut self, result: Result<T>) -> Result<T> {
        if result.is_err() {
            let _ = self.rollback().await;
        }
        result.with_context(|| format!("applying changes to database {}", self.database))
    }
}

#[async_trait]
impl Applier for MyApplier {
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

    async fn write(&mut self, changes: &[TargetChange]) -> Result<()> {
        let result = self.run(changes).await;
        self.abandon(result).await
    }

    async fn commit(&mut self, checkpoint: &Checkpoint) -> Result<()> {
        let result = self.store(checkpoint).await;
        self.abandon(result).await
    }

    async fn rollback(&mut self) -> Result<()> {
        if std::mem::take(&mut self.open) {
            self.conn()?.query_drop("ROLLBACK").await.map_err(db_err)?;
        }
        Ok(())
    }

    async fn close(mut self: Box<Self>) -> Result<()> {
        if let Some(c) = self.conn.take() {
            let _ = c.disconnect().await;
        }
        Ok(())
    }
}
