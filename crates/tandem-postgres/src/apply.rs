//! Applying change events to a PostgreSQL replica ([`ApplyConnection`], made an applier by
//! [`Transactional`]): one connection, prepared statements pipelined in windows (sent together,
//! results read after), whose parameters are the rows' text fields sent in text format (the
//! server parses them with each column type's input function, as `COPY` does).

use std::collections::HashMap;

use async_trait::async_trait;
use bytes::BytesMut;
use tandem_engine::changes::{
    diverged, row_key, statement_runs, ApplyConnection, ApplySpelling, ApplySql, Checkpoint, Origin, RowOp, RunStatement, TargetChange, Transactional,
};
use tandem_engine::{DbUrl, RowEncoding, TableDef};
use tandem_error::{Error, Result};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{to_sql_checked, Format, IsNull, ToSql, Type};
use tokio_postgres::{Client, Statement};

use crate::{connect, pg_err, PgDialect};

/// One parameter in the text format of its column's type; `None` is NULL.
#[derive(Debug)]
struct TextParam(Option<Vec<u8>>);

impl ToSql for TextParam {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match &self.0 {
            None => Ok(IsNull::Yes),
            Some(v) => {
                out.extend_from_slice(v);
                Ok(IsNull::No)
            }
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, _: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}

/// How many statements are sent before their results are read (the connection pipelines them:
/// one round trip per window instead of one per statement).
const PIPELINE: usize = 64;

/// A statement sent in a pipeline window, and what its result must be.
struct Pending {
    stmt: Statement,
    params: Vec<TextParam>,
    rows: u64,
    table: usize,
    op: RowOp,
}

/// The schema of the checkpoint table: restores put user tables there.
const PG_SCHEMA: &str = "public";

pub(crate) struct PgApplier {
    client: Client,
    tables: Vec<(TableDef, ApplySql, Vec<usize>)>,
    /// Prepared statements by table, operation, row count (multi-row inserts) and the columns
    /// an update leaves unchanged.
    prepared: HashMap<(usize, RowOp, u64, Vec<usize>), Statement>,
    database: String,
}

impl PgApplier {
    pub async fn open(url: &DbUrl, tables: Vec<TableDef>, origin: Option<&Origin>) -> Result<Transactional<PgApplier>> {
        let client = connect(url, &url.database).await?;
        client
            .batch_execute("SET idle_in_transaction_session_timeout = 0; SET statement_timeout = 0; SET DateStyle = ISO; SET IntervalStyle = postgres; SET TimeZone = 'UTC'")
            .await
            .map_err(|e| pg_err("session setup", e))?;
        if let Some(o) = origin {
            if let Err(e) = mark(&client, &o.0).await {
                tracing::warn!(
                    "database {}: applied changes carry no replication origin ({}): a replication back from this replica would send them back",
                    url.database,
                    crate::pg_text(&e)
                );
            }
        }
        let tables = tables
            .into_iter()
            .map(|t| {
                let sql = ApplySql::new(
                    &PgDialect,
                    &t,
                    ApplySpelling {
                        param: |n, _| format!("${}", n + 1),
                        matches: |col, p, keyed| match keyed {
                            true => format!("{col} = {p}"),
                            false => format!("{col} IS NOT DISTINCT FROM {p}"),
                        },
                        one_row: |name, cond| format!("ctid = (SELECT ctid FROM {name} WHERE {cond} LIMIT 1)"),
                    },
                );
                let key = row_key(&t);
                (t, sql, key)
            })
            .collect();
        let applier = PgApplier { client, tables, prepared: HashMap::new(), database: url.database.clone() };
        Ok(Transactional::new(applier, |cp| cp.update_sql(&PgDialect, Some(PG_SCHEMA))))
    }

    /// The prepared statement of `sql` for `table` (`op`, `rows` rows, `unchanged` columns),
    /// prepared once.
    async fn statement(&mut self, table: usize, op: RowOp, rows: u64, unchanged: &[usize], sql: &str) -> Result<Statement> {
        let id = (table, op, rows, unchanged.to_vec());
        if let Some(s) = self.prepared.get(&id) {
            return Ok(s.clone());
        }
        let name = self.tables.get(table).map(|t| t.0.name.clone()).unwrap_or_default();
        let stmt = self.client.prepare(sql).await.map_err(|e| pg_err(format!("table {name}: preparing {op:?}"), e))?;
        self.prepared.insert(id, stmt.clone());
        Ok(stmt)
    }

    /// Sends the statements of `window` at once (the connection pipelines them, in order) and
    /// checks each one's row count.
    async fn send(&self, window: &mut Vec<Pending>) -> Result<()> {
        let refs: Vec<Vec<&(dyn ToSql + Sync)>> = window.iter().map(|p| p.params.iter().map(|x| x as &(dyn ToSql + Sync)).collect()).collect();
        let done = futures::future::join_all(window.iter().zip(&refs).map(|(p, r)| self.client.execute(&p.stmt, r))).await;
        for (p, n) in window.iter().zip(done) {
            let table = &self.tables[p.table].0;
            if n.map_err(|e| pg_err(format!("table {}", table.name), e))? < p.rows {
                return Err(diverged(table, p.op));
            }
        }
        window.clear();
        Ok(())
    }
}

/// Makes the session's commits carry replication origin `origin` (created when missing), so a
/// stream back to where they came from skips them. Needs a superuser (or the granted origin
/// functions).
pub(crate) async fn mark(client: &Client, origin: &str) -> std::result::Result<(), tokio_postgres::Error> {
    let sql = "SELECT pg_catalog.pg_replication_origin_create($1) WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_replication_origin WHERE roname = $1)";
    client.execute(sql, &[&origin]).await?;
    client.execute("SELECT pg_catalog.pg_replication_origin_session_setup($1)", &[&origin]).await.map(|_| ())
}

#[async_trait]
impl ApplyConnection for PgApplier {
    fn database(&self) -> &str {
        &self.database
    }

    async fn checkpoint(&mut self) -> Result<Option<Checkpoint>> {
        let db = &self.database;
        let rows = match self.client.query(Checkpoint::select_sql(&PgDialect, Some(PG_SCHEMA)).as_str(), &[]).await {
            Ok(rows) => rows,
            Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => return Ok(None),
            Err(e) => return Err(pg_err(format!("reading the checkpoint of database {db}"), e)),
        };
        rows.first()
            .map(|r| {
                let text: String = r.try_get(0).map_err(|e| pg_err("reading the checkpoint", e))?;
                serde_json::from_str(&text).map_err(|e| Error::corrupt(format!("the checkpoint in database {db} cannot be read: {e}")))
            })
            .transpose()
    }

    async fn begin(&mut self) -> Result<()> {
        self.client.batch_execute("BEGIN").await.map_err(|e| pg_err("BEGIN", e))
    }

    async fn run(&mut self, changes: &[TargetChange]) -> Result<()> {
        let tables = &self.tables;
        let runs = statement_runs(changes, |c| tables.get(c.table).map_or(1, |(_, sql, _)| sql.chunk(c.op)));
        let mut window = Vec::with_capacity(PIPELINE);
        for (start, len) in runs {
            let run = &changes[start..start + len];
            let c = &run[0];
            let (_, sql, key) = self.tables.get(c.table).ok_or_else(|| Error::internal(format!("change {start} names table {}", c.table)))?;
            let run_stmt = RunStatement::of(run, sql, key, RowEncoding::PgCopyText)?;
            let (rows, text) = (run_stmt.rows, run_stmt.sql.into_owned());
            let params: Vec<TextParam> = run_stmt.params.into_iter().map(TextParam).collect();
            let stmt = self.statement(c.table, c.op, rows, &c.unchanged, &text).await?;
            window.push(Pending { stmt, params, rows, table: c.table, op: c.op });
            if window.len() == PIPELINE {
                self.send(&mut window).await?;
            }
        }
        self.send(&mut window).await
    }

    fn dialect(&self) -> &'static dyn tandem_engine::Dialect {
        &PgDialect
    }

    async fn query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        crate::simple_rows(&self.client, sql).await.map_err(|e| pg_err("query", e))
    }

    async fn execute(&mut self, update: &str) -> Result<u64> {
        self.client.execute(update, &[]).await.map_err(|e| pg_err("statement", e))
    }

    async fn commit(&mut self) -> Result<()> {
        self.client.batch_execute("COMMIT").await.map_err(|e| pg_err("COMMIT", e))
    }

    async fn rollback(&mut self) -> Result<()> {
        self.client.batch_execute("ROLLBACK").await.map_err(|e| pg_err("ROLLBACK", e))
    }

    async fn close(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}
