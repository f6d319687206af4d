//! Change capture from PostgreSQL: logical decoding with the built-in `pgoutput` plugin through a
//! replication slot and a publication, both named after the replica ([`Capture`]).
//!
//! - **Start** ([`begin`]): the source's settings and the published tables are checked (a table
//!   without primary key or `REPLICA IDENTITY FULL` is refused: once published, UPDATE and
//!   DELETE on it would fail at the source); tandem's publication is made anew for the tables in
//!   scope (or an existing one named in the config is used); tandem's slot is made anew with
//!   `CREATE_REPLICATION_SLOT ... EXPORT_SNAPSHOT` on a replication connection. The exported
//!   snapshot, read by the seed's backup, holds exactly the transactions committed before the
//!   slot's consistent point, where the stream starts: no gap, no overlap.
//! - **Stream** ([`stream`]): `START_REPLICATION` from the replica's position; the slot is told
//!   a position only when the replica has committed it ([`ChangeStream::confirm`]), so the
//!   source never releases WAL the replica lacks.
//! - **Hygiene**: [`retention`] reports the WAL the slot keeps and the source's limit;
//!   [`drop`] removes the slot and tandem's publication.
//!
//! Positions are LSNs (`0/16B3748`): the end of the last applied transaction's commit record.
//!
//! [`ChangeStream::confirm`]: tandem_engine::changes::ChangeStream::confirm

pub(crate) mod heartbeat;
mod pgoutput;
pub(crate) mod stream;

use pgwire_replication::{Lsn, PgWireError, ReplicationClient, ReplicationConfig};
use tandem_engine::changes::{Capture, CaptureStart, LogRetention};
use tandem_engine::{DbUrl, ImportSnapshot, Position, PositionKind, Scope, TableDef};
use tandem_error::{Error, Hint, Result};
use tokio_postgres::Client;

use crate::{addr, connect, ident, literal, pg_err, qname};

/// An LSN of a [`Position`].
pub(crate) fn lsn(p: &Position) -> Result<u64> {
    let bad = || Error::bad_input(format!("position {:?} ({}) is not a PostgreSQL WAL position (like 0/16B3748)", p.value, p.kind.as_str()));
    if p.kind != PositionKind::Lsn {
        return Err(bad());
    }
    Lsn::parse(&p.value).map(Lsn::as_u64).map_err(|_| bad())
}

pub(crate) fn position(lsn: u64) -> Position {
    Position { kind: PositionKind::Lsn, value: Lsn::from_u64(lsn).to_string(), gtid: None }
}

/// The publication a capture streams.
fn publication(capture: &Capture) -> &str {
    capture.publication.as_deref().unwrap_or(&capture.name)
}

/// The replication connection's settings (TLS as the URL says): values are rendered as a
/// snapshot's `COPY` renders them.
async fn replication_config(url: &DbUrl, capture: &Capture, start: u64) -> Result<ReplicationConfig> {
    let user = crate::user(url);
    Ok(ReplicationConfig::new(
        url.host.clone(),
        user,
        url.password().unwrap_or_default().to_string(),
        url.database.clone(),
        capture.name.clone(),
        publication(capture),
    )
    .with_port(url.port.unwrap_or(5432))
    .with_tls(crate::tls::replication(url).await?)
    .with_start_lsn(Lsn::from_u64(start))
    .with_status_interval(std::time::Duration::from_secs(1))
    .with_application_name("tandem")
    .with_options("-c datestyle=ISO -c intervalstyle=postgres -c timezone=UTC -c extra_float_digits=3 -c bytea_output=hex"))
}

/// A replication-client error met while doing `what`: `Unreachable` when the connection broke
/// or was refused, `BadInput` for what the source's settings or the slot's state refuse.
fn wire_err(url: &DbUrl, what: &str, e: PgWireError) -> Error {
    let at = format!("PostgreSQL at {}: {what}", addr(url));
    match &e {
        PgWireError::Tls(m) => Error::unreachable(format!("{at}: {}", tandem_engine::tls::client::refusal(m))),
        PgWireError::Io(_) | PgWireError::Auth(_) => Error::unreachable(format!("{at}: {e}")),
        PgWireError::Server(m) if m.contains("SQLSTATE 57P0") || m.contains("SQLSTATE 08") => Error::unreachable(format!("{at}: {m}")),
        PgWireError::Server(m) if m.contains("SQLSTATE 42704") || m.contains("SQLSTATE 55000") => {
            Error::bad_input(format!("{at}: {m}; the replica cannot go on from this slot")).with_hint(Hint::Rebootstrap)
        }
        PgWireError::Server(m) if m.contains("SQLSTATE 55006") => {
            Error::conflict(format!("{at}: {m} (another replication of this site is running; stop it first)"))
        }
        PgWireError::Server(m) if m.contains("SQLSTATE 42501") || m.contains("SQLSTATE 28") => Error::bad_input(format!(
            "{at}: {m}; the user needs the REPLICATION attribute (ALTER ROLE ... REPLICATION) or, on managed servers, the replication role (rds_replication)"
        )),
        PgWireError::Server(m) if m.contains("SQLSTATE 53") => {
            Error::bad_input(format!("{at}: {m}; raise max_wal_senders / max_replication_slots on the source (a restart is needed)"))
        }
        PgWireError::Server(m) => Error::bad_input(format!("{at}: {m}")),
        PgWireError::Protocol(m) => Error::corrupt(format!("{at}: {m}")),
        _ => Error::internal(format!("{at}: {e}")),
    }
}

/// BadInput unless the source can decode logically and the user may replicate.
async fn check_source(c: &Client, url: &DbUrl) -> Result<()> {
    let at = format!("PostgreSQL at {}", addr(url));
    let row = c
        .query_one(
            "SELECT current_setting('wal_level'), r.rolsuper OR r.rolreplication \
                OR (EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'rds_replication') AND pg_catalog.pg_has_role('rds_replication', 'member')), \
                current_user::text \
             FROM pg_catalog.pg_roles r WHERE r.rolname = current_user",
            &[],
        )
        .await
        .map_err(|e| pg_err(format!("{at}: reading its replication settings"), e))?;
    let (level, may, user): (String, bool, String) = (row.get(0), row.get(1), row.get(2));
    if level != "logical" {
        return Err(Error::bad_input(format!("{at} has wal_level = {level}; streaming its changes needs wal_level = logical (set it and restart the server)")));
    }
    if !may {
        return Err(Error::bad_input(format!(
            "{at}: user {user} may not stream changes; give it the REPLICATION attribute (ALTER ROLE {} REPLICATION) or, on managed servers, the replication role",
            ident(&user)
        )));
    }
    Ok(())
}

/// A slot's state on the source.
struct Slot {
    confirmed_flush: Option<u64>,
    /// `reserved`, `extended`, `unreserved`, `lost` (PostgreSQL 13+; `None` before).
    wal_status: Option<String>,
    /// Bytes of WAL kept for it (from its restart point to the current end).
    retained: Option<u64>,
}

async fn slot(c: &Client, name: &str) -> Result<Option<Slot>> {
    let rows = c
        .query(
            "SELECT confirmed_flush_lsn::text, to_jsonb(s) ->> 'wal_status', \
                pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), restart_lsn)::int8 \
             FROM pg_catalog.pg_replication_slots s WHERE slot_name = $1 AND database = current_database()",
            &[&name],
        )
        .await
        .map_err(|e| pg_err(format!("reading replication slot {name}"), e))?;
    Ok(rows.first().map(|r| Slot {
        confirmed_flush: r.get::<_, Option<String>>(0).and_then(|s| Lsn::parse(&s).ok()).map(Lsn::as_u64),
        wal_status: r.get(1),
        retained: r.get::<_, Option<i64>>(2).map(|b| b.max(0) as u64),
    }))
}

/// The tables of the database in `scope` (every user table), refusing those whose updates
/// would fail at the source once published.
async fn published_tables(c: &Client, url: &DbUrl, scope: &Scope) -> Result<Vec<TableDef>> {
    let rows = c
        .query(
            &format!(
                "SELECT n.nspname::text, c.relname::text, c.relreplident::text, \
                    EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p') \
                 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND {} ORDER BY 1, 2",
                crate::catalog::USER_NS
            ),
            &[],
        )
        .await
        .map_err(|e| pg_err("listing the tables to publish", e))?;
    let mut tables = Vec::new();
    let mut refused = Vec::new();
    for r in rows {
        let t = TableDef { schema: Some(r.get(0)), name: r.get(1), ..TableDef::default() };
        if !scope.contains(&t) {
            continue;
        }
        let (identity, keyed): (String, bool) = (r.get(2), r.get(3));
        match (identity.as_str(), keyed) {
            ("f", _) | ("d", true) => tables.push(t),
            _ => refused.push(t.display_name()),
        }
    }
    if !refused.is_empty() {
        return Err(Error::bad_input(format!(
            "tables of database {} on {} have no primary key: {}; once published, UPDATE and DELETE on them would fail at the source. \
             Give each a primary key or REPLICA IDENTITY FULL (ALTER TABLE ... REPLICA IDENTITY FULL), or leave them out of the site's scope (exclude); nothing was changed",
            url.database,
            addr(url),
            refused.join(", ")
        )));
    }
    Ok(tables)
}

/// Makes the capture's publication anew (tandem's own), or checks that the named one exists.
async fn publish(c: &Client, capture: &Capture, tables: &[TableDef]) -> Result<()> {
    if let Some(name) = &capture.publication {
        return match publication_exists(c, name).await? {
            true => Ok(()),
            false => Err(Error::bad_input(format!("publication {name} does not exist on the source (create it, or let tandem make its own)"))),
        };
    }
    let list: Vec<String> = tables.iter().map(|t| qname(t.schema.as_deref().unwrap_or("public"), &t.name)).collect();
    let create = match list.is_empty() {
        true => format!("CREATE PUBLICATION {}", ident(&capture.name)),
        false => format!("CREATE PUBLICATION {} FOR TABLE {}", ident(&capture.name), list.join(", ")),
    };
    let sql = format!("DROP PUBLICATION IF EXISTS {}; {create}", ident(&capture.name));
    c.batch_execute(&sql).await.map_err(|e| match e.code().map(|c| c.code()) {
        Some("42501") => Error::bad_input(format!(
            "creating publication {}: {}; the user must own the published tables and may create in the database",
            capture.name,
            crate::pg_text(&e)
        )),
        _ => pg_err(format!("creating publication {}", capture.name), e),
    })
}

/// How long dropping a slot waits for the process holding it to let go (a walsender outlives
/// the stream that closed it by a moment); a slot still held after it is in use.
const SLOT_RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Drops slot `name` if it exists and no session uses it (waiting [`SLOT_RELEASE_WAIT`]).
async fn drop_slot(c: &Client, name: &str) -> Result<bool> {
    let active_pid = || async {
        let rows = c
            .query("SELECT active_pid FROM pg_catalog.pg_replication_slots WHERE slot_name = $1", &[&name])
            .await
            .map_err(|e| pg_err(format!("reading replication slot {name}"), e))?;
        Ok::<_, Error>(rows.first().map(|r| r.get::<_, Option<i32>>(0)))
    };
    // A stream closed a moment ago still has its walsender for a while, holding the slot.
    let deadline = std::time::Instant::now() + SLOT_RELEASE_WAIT;
    let mut active = active_pid().await?;
    while matches!(active, Some(Some(_))) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        active = active_pid().await?;
    }
    match active {
        None => Ok(false),
        Some(Some(pid)) => Err(Error::conflict(format!("replication slot {name} is in use by server process {pid}: stop the replication that uses it first"))),
        Some(None) => {
            c.execute("SELECT pg_catalog.pg_drop_replication_slot($1)", &[&name]).await.map_err(|e| pg_err(format!("dropping replication slot {name}"), e))?;
            Ok(true)
        }
    }
}

/// See [`tandem_engine::Engine::begin_capture`].
pub(crate) async fn begin(url: &DbUrl, capture: &Capture, scope: &Scope) -> Result<CaptureStart> {
    let c = connect(url, &url.database).await?;
    check_source(&c, url).await?;
    // Tables published by somebody else are theirs to check.
    let tables = match capture.publication {
        None => published_tables(&c, url, scope).await?,
        Some(_) => Vec::new(),
    };
    drop_slot(&c, &capture.name).await?;
    let free: i64 = c
        .query_one("SELECT current_setting('max_replication_slots')::int8 - (SELECT count(*) FROM pg_catalog.pg_replication_slots)", &[])
        .await
        .map_err(|e| pg_err("counting replication slots", e))?
        .get(0);
    if free <= 0 {
        return Err(Error::bad_input(format!(
            "PostgreSQL at {}: every replication slot (max_replication_slots) is taken; raise it (a restart is needed) or drop an unused slot",
            addr(url)
        )));
    }
    publish(&c, capture, &tables).await?;
    let mut client =
        ReplicationClient::connect_gated(replication_config(url, capture, 0).await?).await.map_err(|e| wire_err(url, "connecting for replication", e))?;
    let create = format!("CREATE_REPLICATION_SLOT {} LOGICAL pgoutput EXPORT_SNAPSHOT", capture.name);
    let rows = client.simple_query(&create).await.map_err(|e| wire_err(url, &format!("creating replication slot {}", capture.name), e))?;
    let text = |i: usize| rows.first().and_then(|r| r.get(i).cloned().flatten()).map(|b| String::from_utf8_lossy(&b).into_owned());
    let (Some(point), Some(snapshot)) = (text(1), text(2)) else {
        return Err(Error::internal(format!("CREATE_REPLICATION_SLOT {} returned no consistent point and snapshot", capture.name)));
    };
    let point = Lsn::parse(&point).map_err(|_| Error::internal(format!("CREATE_REPLICATION_SLOT returned the position {point:?}")))?;
    tracing::info!(slot = %capture.name, at = %point, "replication slot created");
    Ok(CaptureStart { snapshot: ImportSnapshot { id: snapshot, position: position(point.as_u64()) }, guard: Box::new(client) })
}

/// See [`tandem_engine::Engine::drop_capture`].
pub(crate) async fn drop(url: &DbUrl, capture: &Capture) -> Result<Vec<String>> {
    let c = connect(url, &url.database).await?;
    let mut dropped = Vec::new();
    if drop_slot(&c, &capture.name).await? {
        dropped.push(format!("replication slot {}", capture.name));
    }
    // Only tandem's own publication: one named in the config is somebody else's.
    if capture.publication.is_none() && publication_exists(&c, &capture.name).await? {
        c.batch_execute(&format!("DROP PUBLICATION {}", ident(&capture.name)))
            .await
            .map_err(|e| pg_err(format!("dropping publication {}", capture.name), e))?;
        dropped.push(format!("publication {}", capture.name));
    }
    Ok(dropped)
}

/// See [`tandem_engine::Engine::log_retention`]: the slot must exist, not be invalidated, and
/// not have moved past `from`.
pub(crate) async fn retention(url: &DbUrl, from: &Position, capture: &Capture) -> Result<LogRetention> {
    let from = lsn(from)?;
    let c = connect(url, &url.database).await?;
    let limit: Option<i64> = c
        .query_one("SELECT CASE WHEN setting::int8 < 0 THEN NULL ELSE setting::int8 * 1024 * 1024 END FROM pg_catalog.pg_settings WHERE name = 'max_slot_wal_keep_size'", &[])
        .await
        .ok()
        .and_then(|r| r.get(0));
    let state = slot(&c, &capture.name).await?;
    let kept = state.as_ref().is_some_and(|s| s.wal_status.as_deref() != Some("lost") && s.confirmed_flush.is_none_or(|f| f <= from));
    Ok(LogRetention { kept, retained_bytes: state.and_then(|s| s.retained), limit_bytes: limit.map(|l| l as u64), ..LogRetention::default() })
}

/// Why the capture's publication does not publish every one of `tables`, if it does not (it
/// is gone, or a table was dropped and made again at the source since: the new one is not in a
/// publication of listed tables, and its changes would be lost without a word).
async fn unpublished(c: &Client, capture: &Capture, tables: &[TableDef]) -> Result<Option<String>> {
    let name = publication(capture);
    if !publication_exists(c, name).await? {
        return Ok(Some(format!("publication {} does not exist", literal(name))));
    }
    let rows = c
        .query("SELECT schemaname::text, tablename::text FROM pg_catalog.pg_publication_tables WHERE pubname = $1", &[&name])
        .await
        .map_err(|e| pg_err(format!("reading publication {name}"), e))?;
    let published: std::collections::HashSet<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let missing: Vec<String> = tables
        .iter()
        .filter(|t| !published.contains(&(t.schema.clone().unwrap_or_else(|| "public".into()), t.name.clone())))
        .map(TableDef::display_name)
        .collect();
    Ok((!missing.is_empty()).then(|| {
        format!("publication {name} does not publish {} (dropped and made again at the source since the replica was bootstrapped?)", missing.join(", "))
    }))
}

/// Whether publication `name` exists in the database.
async fn publication_exists(c: &Client, name: &str) -> Result<bool> {
    let found = c.query("SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1", &[&name]).await.map_err(|e| pg_err("reading publications", e))?;
    Ok(!found.is_empty())
}

/// BadInput (with the rebootstrap hint) unless slot `capture` can stream the changes of
/// `tables` from `from`.
async fn check_slot(c: &Client, url: &DbUrl, capture: &Capture, tables: &[TableDef], from: u64) -> Result<()> {
    let at = format!("PostgreSQL at {}", addr(url));
    let gone =
        |why: String| Err(Error::bad_input(format!("{at}: {why}; the replica cannot catch up and must be bootstrapped again")).with_hint(Hint::Rebootstrap));
    match slot(c, &capture.name).await? {
        None => gone(format!("replication slot {} does not exist in database {} (dropped?)", capture.name, url.database)),
        Some(s) if s.wal_status.as_deref() == Some("lost") => {
            gone(format!("replication slot {} was invalidated: the source removed WAL it kept (max_slot_wal_keep_size)", capture.name))
        }
        Some(Slot { confirmed_flush: Some(f), .. }) if f > from => {
            gone(format!("replication slot {} has moved on to {}, past the replica's position {}", capture.name, Lsn::from_u64(f), Lsn::from_u64(from)))
        }
        Some(_) => match unpublished(c, capture, tables).await? {
            Some(why) => gone(why),
            None => Ok(()),
        },
    }
}
