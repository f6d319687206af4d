//! Consistent snapshots of a whole database and streaming a table's rows out of them.
//!
//! With several workers, one extra connection holds `FLUSH TABLES WITH READ LOCK` while every
//! worker starts `START TRANSACTION WITH CONSISTENT SNAPSHOT` and the binlog position is read;
//! the lock is released right after (it is held for milliseconds). Without the RELOAD privilege
//! (or with one worker on MariaDB) a single transaction is used and MariaDB's
//! `binlog_snapshot_file/position` status gives the matching position without any lock.

use async_trait::async_trait;
use bytes::Bytes;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value};
use tandem_engine::rowcodec::encode_mysql_field;
use tandem_engine::{DbUrl, Position, PositionKind, RowEncoding, RowSink, SchemaDump, Snapshot, SnapshotInfo, SnapshotOptions, TableDef};
use tandem_error::{Error, Kind, Result, ResultExt};

use crate::pool::ConnPool;
use crate::schema::{read_schema, select_sql};
use crate::{addr, connect, db_err, field, lit, q, query_strings, server_version};

/// Target size of the buffers handed to the sink (whole rows, so a buffer may be larger).
const BATCH: usize = 64 * 1024;

/// Session settings of snapshot connections: values come back as their stored bytes, and a slow
/// sink does not make the server drop the connection.
const SNAPSHOT_SESSION: &[&str] = &["SET SESSION character_set_results = NULL", "SET SESSION net_write_timeout = 3600", "SET SESSION wait_timeout = 86400"];

const START_TRX: &[&str] = &["SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"];

/// A snapshot held open by one or more worker connections, each inside its own
/// `REPEATABLE READ` transaction started at the same instant.
pub(crate) struct MySnapshot {
    info: SnapshotInfo,
    schema: SchemaDump,
    workers: ConnPool,
}

impl MySnapshot {
    /// Opens the snapshot (see the module docs).
    pub async fn open(url: &DbUrl, opts: &SnapshotOptions) -> Result<MySnapshot> {
        let db = url.database.as_str();
        let mut conn0 = connect(url, SNAPSHOT_SESSION).await?;
        let exists = query_strings(&mut conn0, &format!("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {}", lit(db))).await?;
        if exists.is_empty() {
            return Err(Error::bad_input(format!("database {db} does not exist on {}", addr(url))));
        }
        let (version, maria) = server_version(&mut conn0).await?;
        let log_bin = query_strings(&mut conn0, "SELECT @@log_bin").await?;
        let log_bin = log_bin.first().map(|r| field(r, 0)).is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("on"));
        let n = opts.parallelism.max(1);

        let mut locked = false;
        if n > 1 || !maria {
            conn0.query_drop("SET SESSION lock_wait_timeout = 10").await.map_err(db_err)?;
            match conn0.query_drop("FLUSH TABLES WITH READ LOCK").await {
                Ok(()) => locked = true,
                Err(e) if matches!(e, mysql_async::Error::Io(_)) => return Err(db_err(e).context(format!("snapshot of {db}"))),
                Err(e) => {
                    tracing::warn!(
                        database = db,
                        error = %e,
                        "FLUSH TABLES WITH READ LOCK failed (RELOAD privilege missing?); using one connection with a consistent snapshot"
                    );
                }
            }
        }

        let (workers, position, consistency) = if locked {
            let result = start_locked_workers(url, &mut conn0, n, log_bin, maria).await;
            let unlock = conn0.query_drop("UNLOCK TABLES").await.map_err(db_err);
            let (workers, position) = result?;
            unlock?;
            let _ = conn0.disconnect().await;
            (workers, position, format!("FLUSH TABLES WITH READ LOCK + {n} consistent-snapshot transactions"))
        } else {
            for stmt in START_TRX {
                conn0.query_drop(*stmt).await.map_err(db_err).with_context(|| format!("snapshot of {db}"))?;
            }
            let position = if !log_bin {
                Position::none()
            } else if maria {
                snapshot_status_position(&mut conn0).await?
            } else {
                tracing::warn!(database = db, "no binlog position for a snapshot without FLUSH TABLES WITH READ LOCK on MySQL");
                Position::none()
            };
            (vec![conn0], position, "single consistent-snapshot transaction (binlog_snapshot status)".to_string())
        };

        let mut workers = workers;
        for w in workers.iter_mut() {
            w.query_drop(format!("USE {}", q(db))).await.map_err(db_err)?;
        }
        let schema = match workers.first_mut() {
            Some(w) => read_schema(w, db).await.with_context(|| format!("reading the schema of {db}"))?,
            None => return Err(Error::internal("snapshot has no worker connection")),
        };
        let info = SnapshotInfo {
            engine: "mysql".into(),
            server_version: version,
            database: db.to_string(),
            position,
            row_encoding: RowEncoding::MysqlTsv,
            consistency,
        };
        Ok(MySnapshot { info, schema, workers: ConnPool::new(workers) })
    }
}

/// While `lock` holds FTWRL: starts `n` worker transactions and reads the binlog position.
async fn start_locked_workers(url: &DbUrl, lock: &mut Conn, n: usize, log_bin: bool, maria: bool) -> Result<(Vec<Conn>, Position)> {
    let mut workers = Vec::with_capacity(n);
    for _ in 0..n {
        let mut w = connect(url, SNAPSHOT_SESSION).await?;
        for stmt in START_TRX {
            w.query_drop(*stmt).await.map_err(db_err).context("starting a snapshot transaction")?;
        }
        workers.push(w);
    }
    if !log_bin {
        return Ok((workers, Position::none()));
    }
    let rows = match query_strings(lock, "SHOW MASTER STATUS").await {
        Ok(r) => r,
        Err(e) if e.kind() != Kind::Unreachable => query_strings(lock, "SHOW BINARY LOG STATUS").await?,
        Err(e) => return Err(e),
    };
    let Some(row) = rows.first() else {
        return Ok((workers, Position::none()));
    };
    let gtid_sql = if maria { "SELECT @@gtid_binlog_pos" } else { "SELECT @@gtid_executed" };
    let gtid = query_strings(lock, gtid_sql).await.ok().and_then(|r| r.first().map(|r| field(r, 0)));
    let gtid = gtid.map(|g| g.split_whitespace().collect::<String>()).filter(|g| !g.is_empty());
    Ok((workers, Position { kind: PositionKind::Binlog, value: format!("{}:{}", field(row, 0), field(row, 1)), gtid }))
}

/// MariaDB's position of the current consistent-snapshot transaction.
async fn snapshot_status_position(conn: &mut Conn) -> Result<Position> {
    let rows = query_strings(conn, "SHOW STATUS LIKE 'binlog_snapshot_%'").await?;
    let get = |name: &str| rows.iter().find(|r| field(r, 0).eq_ignore_ascii_case(name)).map(|r| field(r, 1));
    match (get("binlog_snapshot_file"), get("binlog_snapshot_position")) {
        (Some(file), Some(pos)) if !file.is_empty() => {
            let gtid = query_strings(conn, &format!("SELECT BINLOG_GTID_POS({}, {})", lit(&file), pos.parse::<u64>().unwrap_or(0)))
                .await
                .ok()
                .and_then(|r| r.first().map(|r| field(r, 0)))
                .filter(|g| !g.is_empty());
            Ok(Position { kind: PositionKind::Binlog, value: format!("{file}:{pos}"), gtid })
        }
        _ => Ok(Position::none()),
    }
}

#[async_trait]
impl Snapshot for MySnapshot {
    fn info(&self) -> &SnapshotInfo {
        &self.info
    }

    fn schema(&self) -> &SchemaDump {
        &self.schema
    }

    async fn copy_out(&self, table: &TableDef, sink: &mut dyn RowSink) -> Result<u64> {
        let name = table.display_name();
        if table.columns.is_empty() {
            return Err(Error::internal(format!("table {name}: no columns to copy")));
        }
        let mut lease = self.workers.get().await.with_context(|| format!("table {name}"))?;
        let sql = select_sql(table);
        match stream_rows(&mut lease.conn, &sql, sink).await {
            Ok(n) => {
                self.workers.put(lease);
                Ok(n)
            }
            Err(e) => {
                // The connection may be mid-result; it cannot be reused on this snapshot.
                self.workers.lost(lease);
                Err(e.context(format!("table {name}")))
            }
        }
    }

    async fn query(&self, sql: &str, sink: &mut dyn RowSink) -> Result<u64> {
        let mut lease = self.workers.get().await?;
        let result = async {
            // UTF-8 results; aggregates and sort keys never cut short; room to sort in memory.
            lease
                .conn
                .query_drop(
                    "SET SESSION character_set_results = utf8mb4, group_concat_max_len = 4294967295, max_sort_length = 65535, sort_buffer_size = 67108864",
                )
                .await
                .map_err(db_err)?;
            let n = stream_rows(&mut lease.conn, sql, sink).await?;
            lease.conn.query_drop("SET SESSION character_set_results = NULL").await.map_err(db_err)?;
            Ok::<_, Error>(n)
        }
        .await;
        match result {
            Ok(n) => {
                self.workers.put(lease);
                Ok(n)
            }
            Err(e) => {
                self.workers.lost(lease);
                Err(e)
            }
        }
    }

    fn dialect(&self) -> &'static dyn tandem_engine::Dialect {
        &crate::MyDialect
    }

    async fn close(self: Box<Self>) -> Result<()> {
        for mut conn in self.workers.drain() {
            let _ = conn.query_drop("COMMIT").await;
            let _ = conn.disconnect().await;
        }
        Ok(())
    }
}

/// Runs `sql` with the text protocol and writes its rows to `sink` in MySQL TSV.
async fn stream_rows(conn: &mut Conn, sql: &str, sink: &mut dyn RowSink) -> Result<u64> {
    let mut result = conn.query_iter(sql).await.map_err(db_err)?;
    let mut buf: Vec<u8> = Vec::with_capacity(BATCH + BATCH / 4);
    let mut rows = 0u64;
    while let Some(row) = result.next().await.map_err(db_err)? {
        for (i, v) in row.unwrap_raw().into_iter().enumerate() {
            if i > 0 {
                buf.push(b'\t');
            }
            match v {
                None | Some(Value::NULL) => encode_mysql_field(&mut buf, None),
                Some(Value::Bytes(b)) => encode_mysql_field(&mut buf, Some(&b)),
                Some(other) => {
                    // The text protocol only yields bytes; keep a textual form just in case.
                    let s = other.as_sql(true);
                    encode_mysql_field(&mut buf, Some(s.trim_matches('\'').as_bytes()));
                }
            }
        }
        buf.push(b'\n');
        rows += 1;
        if buf.len() >= BATCH {
            let full = std::mem::replace(&mut buf, Vec::with_capacity(BATCH + BATCH / 4));
            sink.write(Bytes::from(full)).await?;
        }
    }
    drop(result);
    if !buf.is_empty() {
        sink.write(Bytes::from(buf)).await?;
    }
    Ok(rows)
}
