//! A consistent snapshot over several connections sharing one exported snapshot.

use std::sync::Mutex;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use tandem_engine::{DbUrl, ImportSnapshot, Position, PositionKind, RowEncoding, RowSink, SchemaDump, Snapshot, SnapshotInfo, TableDef};
use tandem_error::{Error, Result};
use tokio::sync::Semaphore;
use tokio_postgres::Client;

use crate::{catalog, connect, ident, pg_err, qname};

/// Rows are handed to the sink in buffers of about this size (whole rows only).
const BATCH: usize = 64 * 1024;

/// Session settings of every snapshot connection: qualified names in generated DDL, no server-side
/// timeouts cutting a long backup short, room for `ORDER BY` sorts, and (as pg_dump) a row
/// format that does not depend on the server's configuration; `row_security = off` makes a table
/// hidden by a policy an error instead of a silent partial copy.
pub(crate) const SESSION_SETUP: &str = "SELECT pg_catalog.set_config('search_path', '', false); \
     SET statement_timeout = 0; SET lock_timeout = 0; SET idle_in_transaction_session_timeout = 0; \
     SET work_mem = '64MB'; SET extra_float_digits = 3; SET DateStyle = ISO; SET IntervalStyle = postgres; \
     SET TimeZone = 'UTC'; SET bytea_output = hex; SET row_security = off";

/// A PostgreSQL snapshot: `parallelism` connections, each in a `REPEATABLE READ READ ONLY`
/// transaction on the snapshot exported by the first one, which also holds the table locks.
pub(crate) struct PgSnapshot {
    info: SnapshotInfo,
    schema: SchemaDump,
    /// Idle connections; `permits` counts them.
    idle: Mutex<Vec<Client>>,
    permits: Semaphore,
    total: usize,
}

impl PgSnapshot {
    /// Connects, exports the snapshot, locks and reads the schema, then attaches the other
    /// connections. Errors: see [`tandem_engine::Engine::snapshot`].
    /// With `import`, every connection reads in that exported snapshot, at its position.
    pub(crate) async fn open(url: &DbUrl, parallelism: usize, import: Option<&ImportSnapshot>) -> Result<PgSnapshot> {
        let db = &url.database;
        let ctx = |what: &str| format!("snapshot of database {db} on {}: {what}", crate::addr(url));
        let conn0 = connect(url, db).await?;
        conn0.batch_execute(SESSION_SETUP).await.map_err(|e| pg_err(ctx("session setup"), e))?;
        let version_num: i32 =
            scalar(&conn0, "SELECT pg_catalog.current_setting('server_version_num')::int4").await.map_err(|e| pg_err(ctx("server version"), e))?;
        if version_num < 100000 {
            return Err(Error::unsupported(ctx(&format!("PostgreSQL {version_num} is too old (10 or newer needed)"))));
        }
        let import_sql = |id: &str| format!("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT {}", crate::literal(id));
        let standby: bool = scalar(&conn0, "SELECT pg_catalog.pg_is_in_recovery()").await.map_err(|e| pg_err(ctx("recovery state"), e))?;
        let (snapshot_id, lsn) = match import {
            Some(i) => {
                conn0.batch_execute(&import_sql(&i.id)).await.map_err(|e| pg_err(ctx(&format!("importing snapshot {}", i.id)), e))?;
                (i.id.clone(), i.position.value.clone())
            }
            None => {
                conn0
                    .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await
                    .map_err(|e| pg_err(ctx("starting the snapshot transaction"), e))?;
                let id: String = scalar(&conn0, "SELECT pg_catalog.pg_export_snapshot()").await.map_err(|e| pg_err(ctx("exporting the snapshot"), e))?;
                // The insert position: a commit made without waiting for its WAL flush
                // (`synchronous_commit = off`) is before it, not necessarily before the write position.
                let lsn_sql = if standby {
                    "SELECT COALESCE(pg_catalog.pg_last_wal_replay_lsn()::text, '')"
                } else {
                    "SELECT pg_catalog.pg_current_wal_insert_lsn()::text"
                };
                let lsn: String = scalar(&conn0, lsn_sql).await.map_err(|e| pg_err(ctx("WAL position"), e))?;
                (id, lsn)
            }
        };
        let server_version: String = scalar(&conn0, "SHOW server_version").await.map_err(|e| pg_err(ctx("server version"), e))?;
        let schema = catalog::read_schema(&conn0, version_num).await.map_err(|e| e.context(ctx("reading the schema")))?;

        let others = futures::future::try_join_all((1..parallelism).map(|_| async {
            let c = connect(url, db).await?;
            c.batch_execute(SESSION_SETUP).await.map_err(|e| pg_err(ctx("session setup"), e))?;
            // A separate message: statements before BEGIN in the same one would join its transaction.
            c.batch_execute(&import_sql(&snapshot_id)).await.map_err(|e| pg_err(ctx("importing the snapshot"), e))?;
            Ok::<_, Error>(c)
        }))
        .await?;
        let mut idle = vec![conn0];
        idle.extend(others);
        let total = idle.len();
        Ok(PgSnapshot {
            info: SnapshotInfo {
                engine: "postgres".into(),
                server_version,
                database: db.clone(),
                position: Position { kind: PositionKind::Lsn, value: lsn, gtid: None },
                row_encoding: RowEncoding::PgCopyText,
                consistency: format!(
                    "REPEATABLE READ READ ONLY snapshot {snapshot_id} shared by {total} connection(s), \
                     ACCESS SHARE locks on all tables{}",
                    if standby { ", taken on a standby" } else { "" }
                ),
            },
            schema,
            idle: Mutex::new(idle),
            permits: Semaphore::new(total),
            total,
        })
    }

    fn take(&self) -> Option<Client> {
        self.idle.lock().ok().and_then(|mut v| v.pop())
    }

    fn give_back(&self, c: Client) {
        if let Ok(mut v) = self.idle.lock() {
            v.push(c);
        }
    }
}

/// A connection borrowed from the idle list, returned on drop.
struct Lease<'a> {
    snapshot: &'a PgSnapshot,
    client: Option<Client>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            self.snapshot.give_back(c);
        }
    }
}

async fn scalar<T>(c: &Client, sql: &str) -> std::result::Result<T, tokio_postgres::Error>
where
    T: for<'a> tokio_postgres::types::FromSql<'a>,
{
    c.query_one(sql, &[]).await?.try_get(0)
}

/// The `COPY ... TO STDOUT` statement for `table`: plain when it has no primary key, ordered by
/// the key otherwise. Only the table itself is read, never inheritance children.
pub(crate) fn copy_out_sql(table: &TableDef) -> String {
    let name = qname(table.schema.as_deref().unwrap_or("public"), &table.name);
    let cols: Vec<String> = table.columns.iter().map(|c| ident(&c.name)).collect();
    if table.primary_key.is_empty() {
        format!("COPY {name} ({}) TO STDOUT", cols.join(", "))
    } else {
        let key: Vec<String> = table.primary_key.iter().map(|c| ident(c)).collect();
        format!("COPY (SELECT {} FROM ONLY {name} ORDER BY {}) TO STDOUT", cols.join(", "), key.join(", "))
    }
}

#[async_trait]
impl Snapshot for PgSnapshot {
    fn info(&self) -> &SnapshotInfo {
        &self.info
    }

    fn schema(&self) -> &SchemaDump {
        &self.schema
    }

    async fn copy_out(&self, table: &TableDef, sink: &mut dyn RowSink) -> Result<u64> {
        let what = format!("table {}", table.display_name());
        let _permit = self.permits.acquire().await.map_err(|_| Error::internal(format!("{what}: snapshot is closed")))?;
        let client = self.take().ok_or_else(|| Error::internal(format!("{what}: no idle snapshot connection")))?;
        // The lease gives the connection back even when this future is dropped mid-copy; a
        // connection whose COPY was cut short stays usable (the driver drains the rest).
        let lease = Lease { snapshot: self, client: Some(client) };
        let client = lease.client.as_ref().ok_or_else(|| Error::internal(format!("{what}: lost connection")))?;
        copy_out_on(client, &copy_out_sql(table), sink).await.map_err(|e| e.context(&what))
    }

    async fn query(&self, sql: &str, sink: &mut dyn RowSink) -> Result<u64> {
        let _permit = self.permits.acquire().await.map_err(|_| Error::internal("query: snapshot is closed"))?;
        let client = self.take().ok_or_else(|| Error::internal("query: no idle snapshot connection"))?;
        let lease = Lease { snapshot: self, client: Some(client) };
        let client = lease.client.as_ref().ok_or_else(|| Error::internal("query: lost connection"))?;
        // One worker per query: verify runs a query on each side at once, and parallel plans
        // repeat their aggregates in every worker.
        client.batch_execute("SET LOCAL max_parallel_workers_per_gather = 0").await.map_err(|e| pg_err("query setup", e))?;
        copy_out_on(client, &format!("COPY ({sql}) TO STDOUT"), sink).await
    }

    fn dialect(&self) -> &'static dyn tandem_engine::Dialect {
        &crate::PgDialect
    }

    async fn close(self: Box<Self>) -> Result<()> {
        let clients = match self.idle.lock() {
            Ok(mut v) => std::mem::take(&mut *v),
            Err(_) => Vec::new(),
        };
        if clients.len() != self.total {
            tracing::debug!("closing a snapshot with {} of {} connections busy", self.total - clients.len(), self.total);
        }
        for c in clients {
            c.batch_execute("COMMIT").await.map_err(|e| pg_err("closing the snapshot", e))?;
        }
        Ok(())
    }
}

/// Runs one `COPY ... TO STDOUT` and hands its rows to `sink` in buffers of whole rows.
async fn copy_out_on(client: &Client, copy: &str, sink: &mut dyn RowSink) -> Result<u64> {
    let stream = client.copy_out(copy).await.map_err(|e| pg_err("COPY TO", e))?;
    futures::pin_mut!(stream);
    let mut buf = BytesMut::with_capacity(BATCH + BATCH / 4);
    let mut rows: u64 = 0;
    while let Some(msg) = stream.next().await {
        let msg: Bytes = msg.map_err(|e| pg_err("COPY TO", e))?;
        // Text COPY escapes newlines inside values: every raw newline ends a row.
        rows += msg.iter().filter(|&&b| b == b'\n').count() as u64;
        if buf.is_empty() && msg.len() >= BATCH {
            sink.write(msg).await?;
            continue;
        }
        buf.extend_from_slice(&msg);
        if buf.len() >= BATCH {
            sink.write(buf.split().freeze()).await?;
            buf.reserve(BATCH + BATCH / 4);
        }
    }
    if !buf.is_empty() {
        sink.write(buf.freeze()).await?;
    }
    Ok(rows)
}
