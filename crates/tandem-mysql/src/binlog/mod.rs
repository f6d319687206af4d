//! The change stream of a MySQL/MariaDB database: tandem connects as a replica (binlog dump from
//! a file/position), groups row events into whole transactions and turns every row image into
//! the text fields a snapshot reads ([`fields`]).
//!
//! Transactions begin with `BEGIN` (MySQL) or a MariaDB GTID event without the standalone flag,
//! and end with an XID event or `COMMIT`. A DDL statement (`CREATE`/`ALTER`/`DROP`/`RENAME`/
//! `TRUNCATE`) on the replicated database, or a row event whose table has another column count
//! than the replica's definition, ends the stream with [`ChangeEvent::SchemaChange`]. MariaDB's
//! own events (GTID 0xa2, GTID list 0xa3, binlog checkpoint 0xa1, annotate rows 0xa0) are read
//! from their raw bytes (`@mariadb_slave_capability = 4` is announced so the server sends them).
//! The server sends a heartbeat every second when idle, which becomes [`ChangeEvent::Idle`].
//! A transaction of more than [`PART_ROWS`] rows goes out in parts as it is read.
//!
//! `next` keeps every partial state in the stream, so it is cancel-safe.

mod fields;
pub(crate) mod heartbeat;
mod retention;

pub(crate) use retention::retention;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use mysql_async::binlog::events::{Event, EventData, RowsEventData};
use mysql_async::binlog::row::BinlogRow;
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStream, BinlogStreamRequest};
use tandem_engine::changes::{Capture, ChangeEvent, ChangeStream, RowChange, RowOp, SourceTransaction, PART_ROWS};
use tandem_engine::rowcodec::encode_mysql_field;
use tandem_engine::{DbUrl, Position, PositionKind, TableDef};
use tandem_error::{Error, Result, ResultExt};

use crate::{addr, connect, db_err, field, query_strings, server_code};
use fields::FieldKind;

/// The longest wait for an event before [`ChangeEvent::Idle`] is returned anyway (the server's
/// heartbeat comes every second).
const IDLE_EVERY: Duration = Duration::from_secs(3);

/// A binlog position `file:offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BinlogPos {
    pub file: String,
    pub pos: u64,
}

impl BinlogPos {
    pub fn parse(p: &Position) -> Result<BinlogPos> {
        let bad = || Error::bad_input(format!("position {:?} ({}) is not a MySQL binlog position (file:offset)", p.value, p.kind.as_str()));
        if p.kind != PositionKind::Binlog {
            return Err(bad());
        }
        let (file, pos) = p.value.rsplit_once(':').ok_or_else(bad)?;
        let pos = pos.parse().map_err(|_| bad())?;
        if file.is_empty() {
            return Err(bad());
        }
        Ok(BinlogPos { file: file.to_string(), pos })
    }

    /// The order of two positions: by the file's sequence number, then the offset. BadInput
    /// for files of two different logs (another base name).
    pub fn compare(&self, other: &BinlogPos) -> Result<std::cmp::Ordering> {
        let split = |f: &str| f.rsplit_once('.').and_then(|(base, n)| Some((base.to_string(), n.parse::<u64>().ok()?)));
        match (split(&self.file), split(&other.file)) {
            (Some((a, n)), Some((b, m))) if a == b => Ok((n, self.pos).cmp(&(m, other.pos))),
            _ => Err(Error::bad_input(format!("binlog positions {}:{} and {}:{} are of two different logs", self.file, self.pos, other.file, other.pos))),
        }
    }

    fn position(&self) -> Position {
        Position { kind: PositionKind::Binlog, value: format!("{}:{}", self.file, self.pos), gtid: None }
    }
}

/// One table the stream delivers.
struct Table {
    index: usize,
    def: TableDef,
    kinds: Vec<FieldKind>,
}

/// A transaction being read.
#[derive(Default)]
struct Pending {
    changes: Vec<RowChange>,
    bytes: u64,
    /// Whether earlier rows of it went out as [`ChangeEvent::Part`]s.
    parted: bool,
    /// Applied into the source from the replica itself (logged with the skipped server id): not
    /// delivered.
    echo: bool,
    /// The time of the replication's heartbeat it wrote ([`heartbeat`]).
    beat: Option<DateTime<Utc>>,
}

pub(crate) struct MyChangeStream {
    url: DbUrl,
    stream: Option<BinlogStream>,
    tables: HashMap<String, Table>,
    at: BinlogPos,
    txn: Option<Pending>,
    /// The server id whose transactions are skipped ([`Capture::skips`]).
    skip: u32,
    /// The name of the replication's heartbeats ([`Capture::heartbeat_name`]).
    name: String,
    source_id: String,
    /// Connection for `source_end`, opened on first use.
    probe: Option<mysql_async::Conn>,
    /// Whether the server checksums events, and whether its format description came yet.
    checksums: bool,
    seen_format: bool,
}

impl MyChangeStream {
    /// Checks the source's settings and opens the dump at `from` (see the module doc).
    pub async fn open(url: &DbUrl, from: &Position, tables: &[TableDef], capture: &Capture) -> Result<MyChangeStream> {
        let at = BinlogPos::parse(from)?;
        let mut conn = connect(url, &[]).await?;
        let where_ = format!("MySQL server {}", addr(url));
        let vars =
            query_strings(&mut conn, "SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@server_id, @@hostname, @@port, @@binlog_checksum").await?;
        let row = vars.first().ok_or_else(|| Error::internal("reading the server's binlog settings"))?;
        let need = |what: &str, got: String, want: &str, fix: &str| match got.eq_ignore_ascii_case(want) {
            true => Ok(()),
            false => Err(Error::bad_input(format!("{where_} has {what} = {got}; tandem replicates from {want} only: {fix}"))),
        };
        need("log_bin", if field(row, 0) == "1" { "ON".into() } else { field(row, 0) }, "ON", "start it with --log-bin")?;
        need("binlog_format", field(row, 1), "ROW", "set binlog_format = ROW (and restart the writers' sessions)")?;
        need("binlog_row_image", field(row, 2), "FULL", "set binlog_row_image = FULL")?;
        let source_id = format!("mysql server_id={} host={}:{} database={}", field(row, 3), field(row, 4), field(row, 5), url.database);
        check_file(&mut conn, &where_, &at).await?;
        for s in ["SET @mariadb_slave_capability = 4", "SET @master_heartbeat_period = 1000000000"] {
            conn.query_drop(s).await.map_err(db_err)?;
        }
        let server_id = replica_id();
        let request = BinlogStreamRequest::new(server_id).with_filename(at.file.as_bytes()).with_pos(at.pos);
        let stream = conn.get_binlog_stream(request).await.map_err(|e| dump_err(e, &where_, &at))?;
        let tables = tables
            .iter()
            .enumerate()
            .map(|(index, def)| (def.name.to_lowercase(), Table { index, def: def.clone(), kinds: def.columns.iter().map(FieldKind::of).collect() }))
            .collect();
        let checksums = !field(row, 6).eq_ignore_ascii_case("NONE");
        let skip = capture.skips.server_id();
        let name = capture.heartbeat_name(&url.database);
        Ok(MyChangeStream { url: url.clone(), stream: Some(stream), tables, at, txn: None, skip, name, source_id, probe: None, checksums, seen_format: false })
    }

    /// The transaction read so far as a change event; `None` for one that changed none of the
    /// stream's tables (the position still moves past it).
    fn commit(&mut self, end: u64, timestamp: u32) -> Option<ChangeEvent> {
        let txn = self.txn.take()?;
        self.at.pos = end;
        if txn.changes.is_empty() && !txn.parted {
            return txn.beat.map(|at| ChangeEvent::Heartbeat { position: self.at.position(), at });
        }
        let committed_at = DateTime::from_timestamp(timestamp as i64, 0).unwrap_or_else(Utc::now);
        Some(ChangeEvent::Commit(SourceTransaction { changes: txn.changes, position: self.at.position(), committed_at, bytes: txn.bytes }))
    }

    /// Turns one event into at most one change event.
    fn handle(&mut self, ev: Event) -> Result<Option<ChangeEvent>> {
        let header = ev.header();
        let end = header.log_pos() as u64;
        match header.event_type_raw() {
            // MariaDB GTID: a transaction starts unless the group is one standalone statement.
            0xa2 => {
                let standalone = ev.data().get(12).is_some_and(|f| f & 1 != 0);
                if !standalone && self.txn.is_none() {
                    self.txn = Some(Pending { echo: header.server_id() == self.skip, ..Pending::default() });
                }
                return Ok(None);
            }
            0xa0 | 0xa1 | 0xa3 | 0xa4 => return Ok(self.advance(end)),
            _ => {}
        }
        let data = ev.read_data().map_err(|e| Error::corrupt(format!("binlog event at {}:{end}: {e}", self.at.file)))?;
        match data {
            Some(EventData::RotateEvent(r)) => {
                // The first (fake) rotate comes before the format description, so the reader
                // leaves its checksum on the name.
                let mut name = r.name_raw().to_vec();
                if !self.seen_format && self.checksums {
                    name.truncate(name.len().saturating_sub(4));
                }
                self.at = BinlogPos { file: String::from_utf8_lossy(&name).into_owned(), pos: r.position() };
                Ok(None)
            }
            Some(EventData::FormatDescriptionEvent(_)) => {
                self.seen_format = true;
                Ok(None)
            }
            Some(EventData::HeartbeatEvent) => Ok(match self.txn {
                None => Some(ChangeEvent::Idle { position: self.at.position(), at: Utc::now() }),
                Some(_) => None,
            }),
            Some(EventData::XidEvent(_)) => Ok(self.commit(end, header.timestamp())),
            Some(EventData::QueryEvent(q)) => {
                let sql = q.query().trim().to_string();
                match sql.to_ascii_uppercase().as_str() {
                    "BEGIN" => {
                        let echo = header.server_id() == self.skip;
                        self.txn.get_or_insert_with(|| Pending { echo, ..Pending::default() });
                        Ok(None)
                    }
                    "COMMIT" => Ok(self.commit(end, header.timestamp())),
                    "ROLLBACK" => match self.txn.take() {
                        Some(t) if t.parted => Err(Error::unsupported(format!(
                            "the source logged a ROLLBACK of a transaction of more than {PART_ROWS} rows (changes to non-transactional tables) at {}:{end}",
                            self.at.file
                        ))),
                        _ => Ok(self.advance(end)),
                    },
                    _ if is_dml(&sql) && concerns(&q.schema(), &sql, &self.url.database) => Err(Error::bad_input(format!(
                        "the source logged a statement instead of rows ({}): its binlog_format must be ROW for every session that writes; \
                         the replica was not changed by it",
                        sql.chars().take(80).collect::<String>()
                    ))
                    .with_hint(tandem_error::Hint::Rebootstrap)),
                    _ if self.txn.is_some() => Ok(None),
                    // The replica's own bootstrap or writes, logged with its origin's server id.
                    _ if header.server_id() == self.skip => Ok(self.advance(end)),
                    _ if heartbeat::is_tandems_own(&sql) || only_tandems_tables(&sql) => Ok(self.advance(end)),
                    _ if is_ddl(&sql) && concerns(&q.schema(), &sql, &self.url.database) => {
                        self.at.pos = end;
                        Ok(Some(ChangeEvent::SchemaChange { position: self.at.position(), statement: sql }))
                    }
                    _ => Ok(self.advance(end)),
                }
            }
            Some(EventData::RowsEvent(rows)) => {
                self.rows(&rows)?;
                Ok(self.part())
            }
            _ => Ok(self.advance(end)),
        }
    }

    /// The rows read of the open transaction as a part, once there are [`PART_ROWS`] of them.
    fn part(&mut self) -> Option<ChangeEvent> {
        let txn = self.txn.as_mut().filter(|t| t.changes.len() >= PART_ROWS)?;
        txn.parted = true;
        Some(ChangeEvent::Part(std::mem::take(&mut txn.changes)))
    }

    /// Moves the position past an event outside any transaction.
    fn advance(&mut self, end: u64) -> Option<ChangeEvent> {
        if self.txn.is_none() && end > 0 {
            self.at.pos = end;
        }
        None
    }

    fn rows(&mut self, rows: &RowsEventData<'_>) -> Result<()> {
        let stream = self.stream.as_ref().ok_or_else(|| Error::internal("binlog stream closed"))?;
        let tme = stream.get_tme(rows.table_id()).ok_or_else(|| Error::corrupt("a row event without its table map"))?;
        if tme.database_name().eq_ignore_ascii_case(heartbeat::DATABASE) && tme.table_name().eq_ignore_ascii_case(heartbeat::TABLE) {
            let beat = rows.rows(tme).filter_map(|r| r.ok()?.1).find_map(|after| heartbeat::beat_of(&after, &self.name));
            if let (Some(at), Some(txn)) = (beat, self.txn.as_mut()) {
                txn.beat = Some(at);
            }
            return Ok(());
        }
        if !tme.database_name().eq_ignore_ascii_case(&self.url.database) {
            return Ok(());
        }
        let Some(table) = self.tables.get(&tme.table_name().to_lowercase()) else { return Ok(()) };
        let op = match rows {
            RowsEventData::WriteRowsEvent(_) | RowsEventData::WriteRowsEventV1(_) => RowOp::Insert,
            RowsEventData::UpdateRowsEvent(_) | RowsEventData::UpdateRowsEventV1(_) | RowsEventData::PartialUpdateRowsEvent(_) => RowOp::Update,
            RowsEventData::DeleteRowsEvent(_) | RowsEventData::DeleteRowsEventV1(_) => RowOp::Delete,
        };
        if tme.columns_count() as usize != table.def.columns.len() {
            return Err(Error::conflict(format!(
                "schema changed: row events of table {} carry {} columns, the replica's table has {}",
                table.def.name,
                tme.columns_count(),
                table.def.columns.len()
            )));
        }
        let txn = self.txn.get_or_insert_with(Pending::default);
        if txn.echo {
            return Ok(());
        }
        for row in rows.rows(tme) {
            let (before, after) = row.map_err(|e| Error::corrupt(format!("a row event of table {}: {e}", table.def.name)))?;
            let before = before.map(|r| encode(table, r)).transpose()?;
            let after = after.map(|r| encode(table, r)).transpose()?;
            txn.bytes += before.as_ref().map_or(0, |b| b.len() as u64) + after.as_ref().map_or(0, |b| b.len() as u64);
            txn.changes.push(RowChange::new(table.index, op, before, after));
        }
        Ok(())
    }
}

/// One row image as one encoded row of the snapshot's encoding.
fn encode(table: &Table, row: BinlogRow) -> Result<Bytes> {
    let mut out = Vec::with_capacity(64);
    for (i, kind) in table.kinds.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        let value = row.as_ref(i).ok_or_else(|| {
            Error::bad_input(format!(
                "a row event of table {} lacks column {} (the source must log full row images)",
                table.def.name, table.def.columns[i].name
            ))
        })?;
        let field = kind.field(value).with_context(|| format!("table {} column {}", table.def.name, table.def.columns[i].name))?;
        encode_mysql_field(&mut out, field.as_deref());
    }
    out.push(b'\n');
    Ok(Bytes::from(out))
}

fn is_ddl(sql: &str) -> bool {
    let body = strip_comments(sql);
    let word = body.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
    matches!(word.as_str(), "CREATE" | "ALTER" | "DROP" | "RENAME" | "TRUNCATE")
}

/// Whether `sql` creates or drops tables of tandem's own only: their names start with
/// `tandem_` (a replica's checkpoint table, a system's standby table). A site that was a replica
/// drops them when it is promoted and makes them when it is fenced; they are not the source's
/// schema.
fn only_tandems_tables(sql: &str) -> bool {
    let words: Vec<&str> = strip_comments(sql).split_whitespace().collect();
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    if !matches!(upper.first().map(String::as_str), Some("CREATE" | "DROP")) {
        return false;
    }
    let Some(mut i) = upper.iter().position(|w| w == "TABLE").map(|t| t + 1) else { return false };
    while upper.get(i).is_some_and(|w| matches!(w.as_str(), "IF" | "NOT" | "EXISTS")) {
        i += 1;
    }
    let rest = words.get(i..).unwrap_or_default().join(" ");
    let names: Vec<&str> = match upper[0].as_str() {
        "CREATE" => rest.split(|c: char| c == '(' || c.is_whitespace()).take(1).collect(),
        _ => rest.split(',').map(|n| n.split_whitespace().next().unwrap_or("")).collect(),
    };
    let own = |name: &str| {
        let table = name.rsplit('.').next().unwrap_or("").trim_matches('`');
        table.to_ascii_lowercase().starts_with("tandem_")
    };
    !names.is_empty() && names.iter().all(|n| own(n))
}

fn is_dml(sql: &str) -> bool {
    let word = strip_comments(sql).split_whitespace().next().unwrap_or("").to_ascii_uppercase();
    matches!(word.as_str(), "INSERT" | "UPDATE" | "DELETE" | "REPLACE" | "LOAD")
}

/// The statement without leading `/* */` and `--` comments.
fn strip_comments(sql: &str) -> &str {
    let mut s = sql.trim_start();
    loop {
        if let Some(rest) = s.strip_prefix("/*") {
            s = rest.split_once("*/").map(|(_, r)| r).unwrap_or("").trim_start();
        } else if let Some(rest) = s.strip_prefix("--") {
            s = rest.split_once('\n').map(|(_, r)| r).unwrap_or("").trim_start();
        } else {
            return s;
        }
    }
}

/// Whether a statement run with default schema `schema` touches database `db`: it runs in it, or
/// names it (`` `db` `` or `db.`).
fn concerns(schema: &str, sql: &str, db: &str) -> bool {
    if schema.eq_ignore_ascii_case(db) {
        return true;
    }
    let (sql, db) = (sql.to_lowercase(), db.to_lowercase());
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    sql.contains(&format!("`{db}`"))
        || sql.match_indices(&db).any(|(i, _)| {
            let before = sql[..i].chars().next_back();
            let after = sql[i + db.len()..].chars().next();
            !before.is_some_and(ident) && after == Some('.')
        })
}

/// A server id for tandem's replica connection, unlikely to collide with a real replica's.
fn replica_id() -> u32 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    0x7a00_0000 | ((std::process::id() ^ nanos) & 0x00ff_ffff)
}

/// BadInput when the start file is no longer on the source.
async fn check_file(conn: &mut mysql_async::Conn, where_: &str, at: &BinlogPos) -> Result<()> {
    let logs = match query_strings(conn, "SHOW BINARY LOGS").await {
        Ok(rows) => rows,
        // Without the privilege to list them, the dump request says it.
        Err(_) => return Ok(()),
    };
    if logs.iter().any(|r| field(r, 0) == at.file) {
        return Ok(());
    }
    Err(purged(where_, at, logs.first().map(|r| field(r, 0))))
}

fn purged(where_: &str, at: &BinlogPos, oldest: Option<String>) -> Error {
    Error::bad_input(format!(
        "{where_} no longer has binlog {} (the position {}:{} this replica needs{}): it was purged (binlog_expire_logs_seconds); \
         the replica cannot catch up and must be bootstrapped again",
        at.file,
        at.file,
        at.pos,
        oldest.map(|o| format!("; the oldest binlog there is {o}")).unwrap_or_default()
    ))
    .with_hint(tandem_error::Hint::Rebootstrap)
}

fn dump_err(e: mysql_async::Error, where_: &str, at: &BinlogPos) -> Error {
    match server_code(&e) {
        Some(1236) => purged(where_, at, None).context(db_err(e).to_string()),
        Some(1227) | Some(1045) | Some(1044) => Error::bad_input(format!(
            "{where_} refuses tandem's replica connection ({}): the user needs the REPLICATION SLAVE privilege \
             (MariaDB: REPLICATION SLAVE and BINLOG MONITOR; MySQL: REPLICATION SLAVE and REPLICATION CLIENT)",
            db_err(e)
        )),
        _ => db_err(e).context(format!("requesting the binlog from {where_}")),
    }
}

#[async_trait]
impl ChangeStream for MyChangeStream {
    async fn next(&mut self) -> Result<ChangeEvent> {
        loop {
            let stream = self.stream.as_mut().ok_or_else(|| Error::internal("binlog stream closed"))?;
            let ev = match tokio::time::timeout(IDLE_EVERY, stream.next()).await {
                Err(_) if self.txn.is_none() => return Ok(ChangeEvent::Idle { position: self.at.position(), at: Utc::now() }),
                Err(_) => continue,
                Ok(None) => return Err(Error::unreachable(format!("MySQL server {} ended the binlog stream", addr(&self.url)))),
                Ok(Some(Err(e))) => {
                    let where_ = format!("MySQL server {}", addr(&self.url));
                    return Err(dump_err(e, &where_, &self.at));
                }
                Ok(Some(Ok(ev))) => ev,
            };
            match self.handle(ev) {
                Ok(Some(event)) => return Ok(event),
                Ok(None) => {}
                Err(e) if e.kind() == tandem_error::Kind::Conflict => {
                    self.txn = None;
                    return Ok(ChangeEvent::SchemaChange { position: self.at.position(), statement: e.to_string() });
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn source_id(&self) -> &str {
        &self.source_id
    }

    async fn source_end(&mut self) -> Result<Option<(Position, u64)>> {
        if self.probe.is_none() {
            self.probe = Some(connect(&self.url, &[]).await?);
        }
        let conn = self.probe.as_mut().ok_or_else(|| Error::internal("no probe connection"))?;
        let logs = match query_strings(conn, "SHOW BINARY LOGS").await {
            Ok(l) => l,
            Err(_) => return Ok(None),
        };
        let Some(last) = logs.last() else { return Ok(None) };
        let size = |r: &Vec<Option<String>>| field(r, 1).parse::<u64>().unwrap_or(0);
        let mut behind = 0;
        let mut seen = false;
        for r in &logs {
            if field(r, 0) == self.at.file {
                seen = true;
                behind += size(r).saturating_sub(self.at.pos);
            } else if seen {
                behind += size(r);
            }
        }
        let end = BinlogPos { file: field(last, 0), pos: size(last) };
        Ok(Some((end.position(), behind)))
    }

    async fn close(mut self: Box<Self>) -> Result<()> {
        if let Some(s) = self.stream.take() {
            let _ = s.close().await;
        }
        if let Some(c) = self.probe.take() {
            let _ = c.disconnect().await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_on_the_database_is_recognised() {
        assert!(is_ddl("/* x */ ALTER TABLE t ADD c INT") && !is_ddl("GRANT ALL ON *.* TO x"));
        assert!(concerns("hms", "CREATE TABLE t (a INT)", "hms"));
        assert!(concerns("", "DROP TABLE IF EXISTS `hms`.`t`", "hms"));
        assert!(concerns("other", "ALTER TABLE hms.t ADD c INT", "HMS"));
        assert!(!concerns("other", "CREATE DATABASE `hms_dr__tandem_stage_1`", "hms"));
        assert!(!concerns("other", "CREATE TABLE xhms.t (a INT)", "hms"));
    }

    #[test]
    fn ddl_on_tandems_own_tables_only_is_told_apart() {
        assert!(only_tandems_tables("DROP TABLE tandem_standby"));
        assert!(only_tandems_tables("DROP TABLE IF EXISTS `hms`.`tandem_standby`, tandem_replication /* generated by server */"));
        assert!(only_tandems_tables("CREATE TABLE IF NOT EXISTS tandem_standby (dag_id VARCHAR(250) NOT NULL)"));
        assert!(only_tandems_tables("CREATE TABLE `tandem_replication`(id INT)"));
        assert!(!only_tandems_tables("DROP TABLE tandem_standby, dag"));
        assert!(!only_tandems_tables("CREATE TABLE tbls (a INT)"));
        assert!(!only_tandems_tables("ALTER TABLE tandem_standby ADD c INT"));
        assert!(!only_tandems_tables("DROP TABLE my_tandem_x"));
        assert!(!only_tandems_tables("DROP DATABASE tandem_x"));
    }

    #[test]
    fn positions_parse() {
        let p = Position { kind: PositionKind::Binlog, value: "mysql-bin.000003:1234".into(), gtid: None };
        assert_eq!(BinlogPos::parse(&p).unwrap(), BinlogPos { file: "mysql-bin.000003".into(), pos: 1234 });
        assert!(BinlogPos::parse(&Position { value: "nofile".into(), ..p.clone() }).is_err());
        assert!(BinlogPos::parse(&Position { kind: PositionKind::Lsn, ..p }).is_err());
        let at = |f: &str, pos| BinlogPos { file: f.into(), pos };
        assert_eq!(at("b.000009", 900).compare(&at("b.000010", 4)).unwrap(), std::cmp::Ordering::Less);
        assert_eq!(at("b.000010", 900).compare(&at("b.000010", 900)).unwrap(), std::cmp::Ordering::Equal);
        assert!(at("a.000001", 4).compare(&at("b.000001", 4)).is_err());
    }
}
