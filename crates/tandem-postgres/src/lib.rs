//! The PostgreSQL engine of tandem ([`Postgres`]).
//!
//! - **Snapshot**: one connection opens a `REPEATABLE READ READ ONLY` transaction, exports its
//!   snapshot (`pg_export_snapshot()`), takes `ACCESS SHARE` locks on every copied table (as
//!   pg_dump does) and reads the schema from the catalogs inside that snapshot; the other
//!   connections import the snapshot, so every `copy_out` sees the same instant. Rows leave as
//!   `COPY ... TO STDOUT` text ([`RowEncoding::PgCopyText`], client encoding UTF-8), in primary-key
//!   order when the table has one, batched into ~64 KiB buffers of whole rows.
//! - **Schema**: DDL is generated from the catalogs with `search_path = ''`, so every name in it is
//!   schema-qualified ([`catalog`]).
//! - **Restore**: everything happens in ONE transaction on one connection: optional replacement of
//!   the old content, `pre_data`, `COPY ... FROM STDIN FREEZE` per table, `post_data`, `COMMIT`.
//!   A crash before `COMMIT` makes the server roll back: no leftovers by construction.
//!
//! TLS follows the URL's `sslmode`/`sslrootcert`/`sslcert`/`sslkey` ([`tls`]) on every
//! connection, the replication connection included.

mod apply;
mod capture;
mod catalog;
mod foreign;
mod keys;
mod privileges;
mod restore;
mod snapshot;
mod tls;
mod transaction;
mod writes;

use std::time::Duration;

use async_trait::async_trait;
use tandem_engine::changes::{Applier, Capture, CaptureStart, ChangeStream, Heartbeat, LogRetention, Origin};
use tandem_engine::tls::{client::refusal, SslMode};
use tandem_engine::{
    ColumnDef, DbUrl, Engine, ForeignSchema, LogicalColumn, LogicalType, Position, RowEncoding, SchemaDump, Scope, Snapshot, SnapshotOptions, TableDef, Target,
    Value,
};
use tandem_error::{Error, Result};
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{Client, NoTls, Socket};

/// How long a connection attempt may take before the server counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The PostgreSQL engine (`postgres://` and `postgresql://` URLs). Stateless.
pub struct Postgres;

#[async_trait]
impl Engine for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn schemes(&self) -> &'static [&'static str] {
        &["postgres", "postgresql"]
    }

    fn row_encoding(&self) -> RowEncoding {
        RowEncoding::PgCopyText
    }

    async fn snapshot(&self, url: &DbUrl, opts: &SnapshotOptions) -> Result<Box<dyn Snapshot>> {
        Ok(Box::new(snapshot::PgSnapshot::open(url, opts.parallelism.max(1), opts.import.as_ref()).await?))
    }

    async fn target(&self, url: &DbUrl) -> Result<Box<dyn Target>> {
        Ok(Box::new(restore::PgTarget::connect(url).await?))
    }

    fn logical_column(&self, column: &ColumnDef) -> Option<LogicalColumn> {
        foreign::logical_column(column)
    }

    fn decode_value(&self, column: &ColumnDef, ty: &LogicalType, field: &[u8]) -> Result<Value> {
        foreign::decode_value(column, ty, field)
    }

    fn encode_value(&self, column: &ColumnDef, ty: &LogicalType, value: &Value, out: &mut Vec<u8>) -> Result<()> {
        foreign::encode_value(column, ty, value, out)
    }

    fn translate_schema(&self, schema: &ForeignSchema) -> Result<SchemaDump> {
        foreign::translate_schema(schema)
    }

    async fn changes(&self, url: &DbUrl, from: &Position, tables: &[TableDef], capture: &Capture) -> Result<Box<dyn ChangeStream>> {
        Ok(Box::new(capture::stream::PgChangeStream::open(url, from, tables, capture).await?))
    }

    async fn heartbeat(&self, url: &DbUrl, capture: &Capture) -> Result<Box<dyn Heartbeat>> {
        Ok(Box::new(capture::heartbeat::PgHeartbeat::open(url, capture).await?))
    }

    async fn begin_capture(&self, url: &DbUrl, capture: &Capture, scope: &Scope) -> Result<Option<CaptureStart>> {
        capture::begin(url, capture, scope).await.map(Some)
    }

    async fn drop_capture(&self, url: &DbUrl, capture: &Capture) -> Result<Vec<String>> {
        capture::drop(url, capture).await
    }

    fn compare_positions(&self, a: &Position, b: &Position) -> Result<std::cmp::Ordering> {
        Ok(capture::lsn(a)?.cmp(&capture::lsn(b)?))
    }

    async fn set_writable(&self, url: &DbUrl, writable: bool) -> Result<Vec<String>> {
        writes::set_writable(url, writable).await
    }

    fn writable_per_database(&self) -> bool {
        true
    }

    async fn interrupt_restores(&self, url: &DbUrl) -> Result<u64> {
        writes::interrupt_restores(url).await
    }

    async fn log_retention(&self, url: &DbUrl, from: &Position, capture: &Capture) -> Result<Option<LogRetention>> {
        capture::retention(url, from, capture).await.map(Some)
    }

    async fn applier(&self, url: &DbUrl, tables: Vec<TableDef>, origin: Option<&Origin>) -> Result<Box<dyn Applier>> {
        Ok(Box::new(apply::PgApplier::open(url, tables, origin).await?))
    }

    async fn transaction(&self, url: &DbUrl) -> Result<Box<dyn tandem_engine::Transaction>> {
        Ok(Box::new(transaction::PgTransaction::begin(url).await?))
    }

    async fn drop_database(&self, url: &DbUrl) -> Result<()> {
        let admin = match try_connect(url, "postgres").await? {
            Some(c) => c,
            None => connect(url, "template1").await?,
        };
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", ident(&url.database)))
            .await
            .map_err(|e| pg_err(format!("dropping database {}", url.database), e))
    }
}

/// PostgreSQL spelling of SQL (double-quoted identifiers).
pub(crate) struct PgDialect;

impl tandem_engine::Dialect for PgDialect {
    fn ident(&self, name: &str) -> String {
        ident(name)
    }
    fn literal(&self, s: &str) -> String {
        literal(s)
    }
    fn text_order(&self, expr: &str) -> String {
        format!("(({expr})::text) COLLATE \"C\"")
    }
    fn current_schema(&self) -> &'static str {
        "current_schema()"
    }
    fn agg_tuples(&self, exprs: &[String]) -> String {
        let parts: Vec<String> = exprs.iter().map(|e| format!("COALESCE(pg_catalog.encode(pg_catalog.convert_to(({e})::text, 'UTF8'), 'hex'), '-')")).collect();
        format!("pg_catalog.string_agg({}, ',')", parts.join(" || ':' || "))
    }
}

/// `host:port` of a URL, for messages.
/// Runs `sql` (simple query protocol) and returns every row, every value as text.
pub(crate) async fn simple_rows(client: &tokio_postgres::Client, sql: &str) -> std::result::Result<Vec<Vec<Option<String>>>, tokio_postgres::Error> {
    let msgs = client.simple_query(sql).await?;
    Ok(msgs
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect()),
            _ => None,
        })
        .collect())
}

pub(crate) fn addr(url: &DbUrl) -> String {
    let port = url.port.unwrap_or(5432);
    if url.host.contains(':') {
        format!("[{}]:{port}", url.host)
    } else {
        format!("{}:{port}", url.host)
    }
}

/// Connects to database `database` of the server of `url` ([`CONNECT_TIMEOUT`], TLS as the
/// URL says) and spawns the connection task on the current tokio runtime.
///
/// Errors: `BadInput` if the database does not exist or a certificate file is unusable;
/// `Unreachable` if the server cannot be reached, refuses the credentials, or its TLS is
/// missing or its certificate refused (the reason is named).
pub(crate) async fn connect(url: &DbUrl, database: &str) -> Result<Client> {
    try_connect(url, database).await?.ok_or_else(|| Error::bad_input(format!("database {database} does not exist on {}", addr(url))))
}

/// Like [`connect`], but `Ok(None)` when the database does not exist. Transient failures are
/// retried as the URL's [`retry`](DbUrl::retry) policy says.
pub(crate) async fn try_connect(url: &DbUrl, database: &str) -> Result<Option<Client>> {
    url.retry.run(&format!("connecting to PostgreSQL at {}", addr(url)), || connect_once(url, database)).await
}

async fn connect_once(url: &DbUrl, database: &str) -> Result<Option<Client>> {
    let user = user(url);
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(&url.host)
        .port(url.port.unwrap_or(5432))
        .user(&user)
        .dbname(database)
        .application_name("tandem")
        .connect_timeout(CONNECT_TIMEOUT)
        .keepalives(true)
        .ssl_mode(tls::driver_mode(url.tls.mode));
    if let Some(p) = url.password() {
        cfg.password(p);
    }
    let connected = match url.tls.mode {
        SslMode::Disable => open(&cfg, NoTls).await,
        _ => open(&cfg, tls::connector(url)?).await,
    };
    match connected {
        // A fenced database refuses application writes, never tandem's (see writes.rs). A SET,
        // not a startup option, which connection poolers refuse.
        Ok(client) => match client.batch_execute("SET default_transaction_read_only = off").await {
            Ok(()) => Ok(Some(client)),
            Err(e) => Err(pg_err(format!("connecting to PostgreSQL at {}", addr(url)), e)),
        },
        Err(e) => {
            let addr = addr(url);
            let err = match e.as_db_error() {
                Some(db) if db.code() == &SqlState::INVALID_CATALOG_NAME => return Ok(None),
                Some(db) => Error::unreachable(format!("cannot connect to PostgreSQL at {addr} as {user}: {}", db.message())),
                None => {
                    let text = pg_text(&e);
                    let why = if text.contains("TLS") || tandem_engine::tls::client::reason(&text).is_some() { refusal(&text) } else { text };
                    Error::unreachable(format!("cannot connect to PostgreSQL at {addr}: {why}"))
                }
            };
            Err(if is_transient(&e) { err.transient() } else { err })
        }
    }
}

/// Connects with `tls` and spawns the connection task.
async fn open<T>(cfg: &tokio_postgres::Config, tls: T) -> std::result::Result<Client, tokio_postgres::Error>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let (client, connection) = cfg.connect(tls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("PostgreSQL connection ended: {}", pg_text(&e));
        }
    });
    Ok(client)
}

/// The user of `url`: its own, or `PGUSER`, or the login name, or `postgres`.
pub(crate) fn user(url: &DbUrl) -> String {
    url.user.clone().or_else(|| std::env::var("PGUSER").ok()).or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "postgres".to_string())
}

/// One-line text of a driver error: the server's message (with detail) or the cause chain.
pub(crate) fn pg_text(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = db.message().to_string();
        if let Some(d) = db.detail() {
            s.push_str(" (");
            s.push_str(d);
            s.push(')');
        }
        return s;
    }
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// Converts a driver error met while doing `what` into a tandem error: `Unreachable` when the
/// connection broke, `Internal` for anything the server refused; marked
/// [transient](Error::transient) when [`is_transient`] says so.
pub(crate) fn pg_err(what: impl std::fmt::Display, e: tokio_postgres::Error) -> Error {
    let msg = format!("{what}: {}", pg_text(&e));
    // Connection failures, and a server shutting down or starting up (57P01-57P03, class 08).
    let gone = e.code().is_some_and(|c| matches!(c.code(), "57P01" | "57P02" | "57P03") || c.code().starts_with("08"));
    let err = if gone || connection_lost(&e) { Error::unreachable(msg) } else { Error::internal(msg) };
    if is_transient(&e) {
        err.transient()
    } else {
        err
    }
}

/// Whether the connection itself failed (no answer from the server, an I/O error).
fn connection_lost(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().is_none() && (e.is_closed() || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()))
}

/// Whether the failed operation may succeed if done again: a lost connection, a server shutting
/// down, starting up or failing over (57P01-57P03, class 08), a serialization failure or
/// deadlock (40001, 40P01), a lock not available (55P03), a relation dropped by a concurrent
/// DDL while the statement looked it up (XX000 "could not open relation with OID", e.g. a
/// restore's swap). Everything else (bad credentials, refused certificates, SQL errors) is not.
pub fn is_transient(e: &tokio_postgres::Error) -> bool {
    let raced_ddl = || e.as_db_error().is_some_and(|d| d.message().starts_with("could not open relation with OID"));
    match e.code() {
        Some(c) if c.code() == "XX000" => raced_ddl(),
        Some(c) => matches!(c.code(), "57P01" | "57P02" | "57P03" | "40001" | "40P01" | "55P03") || c.code().starts_with("08"),
        None => connection_lost(e) && tandem_engine::tls::client::reason(&pg_text(e)).is_none() && !pg_text(e).contains("TLS"),
    }
}

/// `"name"` with embedded quotes doubled: always-quoted SQL identifier.
pub(crate) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `"schema"."name"`.
pub(crate) fn qname(schema: &str, name: &str) -> String {
    format!("{}.{}", ident(schema), ident(name))
}

/// A SQL string literal that reads the same whatever `standard_conforming_strings` says.
pub(crate) fn literal(s: &str) -> String {
    if s.contains('\\') {
        format!("E'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(qname("public", "T"), "\"public\".\"T\"");
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(literal("a\\b'"), "E'a\\\\b'''");
    }
}
