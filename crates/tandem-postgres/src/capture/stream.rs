//! The change stream of a PostgreSQL database: `pgoutput` messages of whole committed
//! transactions (protocol 1 sends a transaction after its commit, in commit order), each row
//! turned into the `COPY` text row a snapshot reads.
//!
//! A relation message whose columns are not the replica's (an `ALTER TABLE` at the source, seen
//! at the table's next change) ends the stream with [`ChangeEvent::SchemaChange`] before that
//! transaction. Unchanged TOASTed values of an update are marked
//! ([`RowChange::unchanged`]) and kept by the replica. `next` keeps every partial state in the
//! stream, so it is cancel-safe.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use pgwire_replication::{Lsn, ReplicationClient, ReplicationEvent};
use tandem_engine::changes::{beat_time, Capture, ChangeEvent, ChangeStream, RowChange, RowOp, SourceTransaction, PART_ROWS};
use tandem_engine::rowcodec::encode_pg_field;
use tandem_engine::{DbUrl, Position, TableDef};
use tandem_error::{Error, Result};
use tokio_postgres::Client;

use super::heartbeat;
use super::pgoutput::{self, Datum, Message, Relation};
use super::{check_slot, check_source, lsn, position, replication_config, wire_err};
use crate::{addr, connect, pg_err};

/// The longest wait for a message before [`ChangeEvent::Idle`] is returned anyway.
const IDLE_EVERY: Duration = Duration::from_secs(2);

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// A relation of the stream's tables, as the source last described it.
struct Rel {
    /// Index into the stream's tables; `None` for tables not replicated.
    table: Option<usize>,
    /// Whether updates and deletes log whole old rows (REPLICA IDENTITY FULL).
    full: bool,
    /// Why its rows cannot be applied (its columns are not the replica's), if they cannot.
    changed: Option<String>,
}

/// A transaction being read.
struct Pending {
    changes: Vec<RowChange>,
    bytes: u64,
    parted: bool,
    committed_at: DateTime<Utc>,
    /// Applied into the source from the replica itself: not delivered.
    echo: bool,
}

pub(crate) struct PgChangeStream {
    url: DbUrl,
    client: Option<ReplicationClient>,
    tables: Vec<TableDef>,
    by_name: HashMap<(String, String), usize>,
    relations: HashMap<u32, Rel>,
    /// The position after the last delivered transaction (or the source's position when idle).
    at: u64,
    txn: Option<Pending>,
    /// The replication origin whose transactions are skipped ([`Capture::skips`]).
    skip: String,
    /// The name of the replication's heartbeats ([`Capture::heartbeat_name`]).
    name: String,
    source_id: String,
    /// Connection for `source_end`, opened on first use.
    probe: Option<Client>,
}

impl PgChangeStream {
    /// Checks the source and its slot and starts streaming after `from` (see the module doc).
    pub async fn open(url: &DbUrl, from: &Position, tables: &[TableDef], capture: &Capture) -> Result<PgChangeStream> {
        let start = lsn(from)?;
        let c = connect(url, &url.database).await?;
        check_source(&c, url).await?;
        check_slot(&c, url, capture, tables, start).await?;
        let mut client = ReplicationClient::connect_gated(replication_config(url, capture, start).await?)
            .await
            .map_err(|e| wire_err(url, "connecting for replication", e))?;
        let system = client.identify_system().await.map_err(|e| wire_err(url, "IDENTIFY_SYSTEM", e))?;
        client.start().await.map_err(|e| wire_err(url, "starting replication", e))?;
        client.wait_started().await.map_err(|e| wire_err(url, &format!("starting replication from slot {}", capture.name), e))?;
        let by_name = tables.iter().enumerate().map(|(i, t)| ((t.schema.clone().unwrap_or_else(|| "public".into()), t.name.clone()), i)).collect();
        Ok(PgChangeStream {
            url: url.clone(),
            client: Some(client),
            tables: tables.to_vec(),
            by_name,
            relations: HashMap::new(),
            at: start,
            txn: None,
            skip: capture.skips.0.clone(),
            name: capture.heartbeat_name(&url.database),
            source_id: format!("postgres system_identifier={} database={} slot={}", system.system_id, url.database, capture.name),
            probe: Some(c),
        })
    }

    fn client(&mut self) -> Result<&mut ReplicationClient> {
        self.client.as_mut().ok_or_else(|| Error::internal("replication stream closed"))
    }

    /// Turns one replication event into at most one change event.
    fn handle(&mut self, event: ReplicationEvent) -> Result<Option<ChangeEvent>> {
        match event {
            ReplicationEvent::Begin { commit_time_micros, .. } => {
                let committed_at = DateTime::from_timestamp_micros(commit_time_micros + PG_EPOCH_MICROS).unwrap_or_else(Utc::now);
                self.txn = Some(Pending { changes: Vec::new(), bytes: 0, parted: false, committed_at, echo: false });
                Ok(None)
            }
            ReplicationEvent::Commit { end_lsn, .. } => {
                let Some(txn) = self.txn.take() else { return Err(Error::corrupt("pgoutput: a commit without its begin")) };
                self.at = self.at.max(end_lsn.as_u64());
                if txn.changes.is_empty() && !txn.parted {
                    return Ok(None);
                }
                let position = position(self.at);
                Ok(Some(ChangeEvent::Commit(SourceTransaction { changes: txn.changes, position, committed_at: txn.committed_at, bytes: txn.bytes })))
            }
            ReplicationEvent::XLogData { data, .. } => self.message(&data),
            // Between transactions (protocol 1 sends each whole): everything committed before it
            // has been delivered.
            ReplicationEvent::Message { transactional: false, prefix, content, .. } if prefix == heartbeat::PREFIX && self.txn.is_none() => {
                let beat = std::str::from_utf8(&content).ok().and_then(|text| beat_time(text, &self.name));
                Ok(beat.map(|at| ChangeEvent::Heartbeat { position: position(self.at), at }))
            }
            ReplicationEvent::KeepAlive { wal_end, .. } => Ok(match self.txn {
                // Everything committed before the server's position has been sent.
                None => {
                    self.at = self.at.max(wal_end.as_u64());
                    Some(ChangeEvent::Idle { position: position(self.at), at: Utc::now() })
                }
                Some(_) => None,
            }),
            _ => Ok(None),
        }
    }

    fn message(&mut self, data: &Bytes) -> Result<Option<ChangeEvent>> {
        let (relation, op, old, new) = match pgoutput::decode(data)? {
            Message::Relation(r) => return Ok(self.relation(r)),
            Message::Insert { relation, new } => (relation, RowOp::Insert, None, Some(new)),
            Message::Update { relation, old, new } => (relation, RowOp::Update, old, Some(new)),
            Message::Delete { relation, old } => (relation, RowOp::Delete, Some(old), None),
            Message::Truncate { relations } => {
                for r in relations {
                    if let Some(table) = self.relations.get(&r).and_then(|r| r.table) {
                        self.push(RowChange::new(table, RowOp::Truncate, None, None))?;
                    }
                }
                return Ok(self.part());
            }
            Message::Origin { name } => {
                if let (Some(txn), true) = (self.txn.as_mut(), name == self.skip) {
                    txn.echo = true;
                }
                return Ok(None);
            }
            Message::Other(_) => return Ok(None),
        };
        let rel = self.relations.get(&relation).ok_or_else(|| Error::corrupt(format!("pgoutput: a change of relation {relation} before its description")))?;
        let Some(table) = rel.table else { return Ok(None) };
        if let Some(why) = &rel.changed {
            self.txn = None;
            return Ok(Some(ChangeEvent::SchemaChange { position: position(self.at), statement: why.clone() }));
        }
        let def = &self.tables[table];
        if op != RowOp::Insert && def.primary_key.is_empty() && !rel.full {
            return Err(Error::bad_input(format!(
                "table {} has no primary key and does not log whole rows: set ALTER TABLE {} REPLICA IDENTITY FULL at the source",
                def.display_name(),
                def.display_name()
            )));
        }
        let (after, unchanged) = match &new {
            Some(t) => {
                let (image, unchanged) = image(def, t)?;
                (Some(image), unchanged)
            }
            None => (None, Vec::new()),
        };
        // Without an old image (the key did not change) the new one names the row.
        let before = match (&old, op) {
            (Some(t), _) => Some(image(def, t)?.0),
            (None, RowOp::Update) => after.clone(),
            (None, _) => None,
        };
        self.push(RowChange { table, op, before, after, unchanged })?;
        Ok(self.part())
    }

    /// Records a relation's description; a replicated table whose columns are not the replica's
    /// can no longer be applied.
    fn relation(&mut self, r: Relation) -> Option<ChangeEvent> {
        let table = self.by_name.get(&(r.namespace.clone(), r.name.clone())).copied();
        let changed = table.and_then(|i| {
            let def = &self.tables[i];
            let theirs: Vec<&str> = r.columns.iter().map(|c| c.name.as_str()).collect();
            let ours: Vec<&str> = def.columns.iter().map(|c| c.name.as_str()).collect();
            (theirs != ours)
                .then(|| format!("table {} now has the columns ({}); the replica's has ({})", def.display_name(), theirs.join(", "), ours.join(", ")))
        });
        self.relations.insert(r.id, Rel { table, full: r.identity == b'f', changed });
        None
    }

    fn push(&mut self, change: RowChange) -> Result<()> {
        let txn = self.txn.as_mut().ok_or_else(|| Error::corrupt("pgoutput: a change outside a transaction"))?;
        if txn.echo {
            return Ok(());
        }
        txn.bytes += change.before.as_ref().map_or(0, |b| b.len() as u64) + change.after.as_ref().map_or(0, |b| b.len() as u64);
        txn.changes.push(change);
        Ok(())
    }

    /// The rows read of the open transaction as a part, once there are [`PART_ROWS`] of them.
    fn part(&mut self) -> Option<ChangeEvent> {
        let txn = self.txn.as_mut().filter(|t| t.changes.len() >= PART_ROWS)?;
        txn.parted = true;
        Some(ChangeEvent::Part(std::mem::take(&mut txn.changes)))
    }
}

/// A logged row as one `COPY` text row of `table`, and its columns not logged (unchanged
/// TOASTed values, written as NULL).
fn image(table: &TableDef, tuple: &[Datum]) -> Result<(Bytes, Vec<usize>)> {
    if tuple.len() != table.columns.len() {
        return Err(Error::corrupt(format!(
            "pgoutput: a row of table {} with {} columns, {} expected",
            table.display_name(),
            tuple.len(),
            table.columns.len()
        )));
    }
    let mut out = Vec::with_capacity(64);
    let mut unchanged = Vec::new();
    for (i, d) in tuple.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        match d {
            Datum::Null => encode_pg_field(&mut out, None),
            Datum::Unchanged => {
                encode_pg_field(&mut out, None);
                unchanged.push(i);
            }
            Datum::Text(v) => encode_pg_field(&mut out, Some(v)),
        }
    }
    out.push(b'\n');
    Ok((Bytes::from(out), unchanged))
}

#[async_trait]
impl ChangeStream for PgChangeStream {
    async fn next(&mut self) -> Result<ChangeEvent> {
        loop {
            let got = tokio::time::timeout(IDLE_EVERY, self.client()?.recv()).await;
            let event = match got {
                Err(_) if self.txn.is_none() => return Ok(ChangeEvent::Idle { position: position(self.at), at: Utc::now() }),
                Err(_) => continue,
                Ok(Ok(Some(e))) => e,
                Ok(Ok(None)) => return Err(Error::unreachable(format!("PostgreSQL at {} ended the replication stream", addr(&self.url)))),
                Ok(Err(e)) => return Err(wire_err(&self.url, "streaming changes", e)),
            };
            if let Some(e) = self.handle(event)? {
                return Ok(e);
            }
        }
    }

    fn source_id(&self) -> &str {
        &self.source_id
    }

    async fn source_end(&mut self) -> Result<Option<(Position, u64)>> {
        if self.probe.is_none() {
            self.probe = Some(connect(&self.url, &self.url.database).await?);
        }
        let probe = self.probe.as_ref().ok_or_else(|| Error::internal("no probe connection"))?;
        let end: String = probe.query_one("SELECT pg_catalog.pg_current_wal_lsn()::text", &[]).await.map_err(|e| pg_err("reading the WAL position", e))?.get(0);
        let end = Lsn::parse(&end).map_err(|_| Error::internal(format!("the server's WAL position {end:?}")))?.as_u64();
        Ok(Some((position(end), end.saturating_sub(self.at))))
    }

    fn confirm(&mut self, at: &Position) {
        if let (Ok(at), Some(client)) = (lsn(at), self.client.as_ref()) {
            client.update_applied_lsn(Lsn::from_u64(at));
        }
    }

    async fn close(mut self: Box<Self>) -> Result<()> {
        if let Some(mut c) = self.client.take() {
            let _ = c.shutdown().await;
        }
        Ok(())
    }
}
