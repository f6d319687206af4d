//! The MySQL/MariaDB engine of tandem.
//!
//! * [`Engine::snapshot`] opens one consistent view of a whole database on several connections
//!   (`FLUSH TABLES WITH READ LOCK` held only while every worker starts its
//!   `START TRANSACTION WITH CONSISTENT SNAPSHOT`, the binlog position read under the lock), or on
//!   one connection when the user lacks the RELOAD privilege. Rows are read with the text protocol
//!   and `character_set_results = NULL`, so every field is the column's stored bytes, and written
//!   as [`RowEncoding::MysqlTsv`].
//! * [`Engine::target`] / [`Target::begin`] restore all-or-nothing through a staging database on
//!   the same server (`<target>__tandem_stage_<id>`): tables are created and loaded there with
//!   `LOAD DATA LOCAL INFILE ... CHARACTER SET binary`, and [`RestoreSession::commit`] swaps every
//!   table in with one atomic `RENAME TABLE`. A crash before that statement leaves the target as
//!   it was; the staging database is dropped by the next `begin`.
//!
//! Every connection (binlog streaming included) uses TLS as the URL's `sslmode` says ([`tls`]).
//!
//! Stored routines and events are not copied (a warning is logged when the source has any).

mod apply;
mod binlog;
mod foreign;
mod keys;
mod pool;
mod restore;
mod schema;
mod snapshot;
mod tls;
mod transaction;
mod writes;

use std::time::Duration;

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};
use tandem_engine::changes::{Applier, Capture, ChangeStream, Heartbeat, LogRetention, Origin};
use tandem_engine::tls::SslMode;
use tandem_engine::{
    ColumnDef, DbUrl, Engine, ForeignSchema, LogicalColumn, LogicalType, Position, RowEncoding, SchemaDump, Snapshot, SnapshotOptions, TableDef, Target, Value,
};
use tandem_error::{Error, Kind, Result};

/// How long a connection attempt may take before the server counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// sql_mode of every tandem session: no strict mode (zero dates load as they were stored), an
/// explicit 0 in an AUTO_INCREMENT column stays 0, no silent engine substitution, and no
/// ANSI_QUOTES so `SHOW CREATE` output uses backticks.
pub(crate) const SQL_MODE: &str = "NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION";

/// The MySQL/MariaDB engine (`mysql://` and `mariadb://` URLs).
#[derive(Debug, Clone, Copy, Default)]
pub struct MySql;

#[async_trait]
impl Engine for MySql {
    fn name(&self) -> &'static str {
        "mysql"
    }

    fn schemes(&self) -> &'static [&'static str] {
        &["mysql", "mariadb"]
    }

    fn row_encoding(&self) -> RowEncoding {
        RowEncoding::MysqlTsv
    }

    async fn snapshot(&self, url: &DbUrl, opts: &SnapshotOptions) -> Result<Box<dyn Snapshot>> {
        if let Some(i) = &opts.import {
            // begin_capture never exports one: nothing to import.
            return Err(Error::internal(format!("MySQL cannot read in an exported snapshot ({})", i.id)));
        }
        Ok(Box::new(snapshot::MySnapshot::open(url, opts).await?))
    }

    async fn target(&self, url: &DbUrl) -> Result<Box<dyn Target>> {
        Ok(Box::new(restore::MyTarget::open(url).await?))
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
        Ok(Box::new(binlog::MyChangeStream::open(url, from, tables, capture).await?))
    }

    async fn heartbeat(&self, url: &DbUrl, capture: &Capture) -> Result<Box<dyn Heartbeat>> {
        Ok(Box::new(binlog::heartbeat::MyHeartbeat::open(url, capture).await?))
    }

    fn compare_positions(&self, a: &Position, b: &Position) -> Result<std::cmp::Ordering> {
        binlog::BinlogPos::parse(a)?.compare(&binlog::BinlogPos::parse(b)?)
    }

    async fn set_writable(&self, url: &DbUrl, writable: bool) -> Result<Vec<String>> {
        let mut conn = connect(url, &[]).await?;
        let done = writes::set_writable(&mut conn, &url.database, writable).await;
        let _ = conn.disconnect().await;
        done
    }

    async fn log_retention(&self, url: &DbUrl, from: &Position, _: &Capture) -> Result<Option<LogRetention>> {
        binlog::retention(url, from).await.map(Some)
    }

    async fn applier(&self, url: &DbUrl, tables: Vec<TableDef>, origin: Option<&Origin>) -> Result<Box<dyn Applier>> {
        Ok(Box::new(apply::MyApplier::open(url, tables, origin).await?))
    }

    async fn transaction(&self, url: &DbUrl) -> Result<Box<dyn tandem_engine::Transaction>> {
        Ok(Box::new(transaction::MyTransaction::begin(url).await?))
    }

    async fn drop_database(&self, url: &DbUrl) -> Result<()> {
        let mut conn = connect(url, &[]).await?;
        let r = conn.query_drop(format!("DROP DATABASE IF EXISTS {}", q(&url.database))).await.map_err(db_err);
        let _ = conn.disconnect().await;
        r
    }
}

/// MySQL/MariaDB spelling of SQL (backticks, backslash-escaped literals).
pub(crate) struct MyDialect;

impl tandem_engine::Dialect for MyDialect {
    fn ident(&self, name: &str) -> String {
        q(name)
    }
    fn literal(&self, s: &str) -> String {
        lit(s)
    }
    fn text_order(&self, expr: &str) -> String {
        format!("CAST(CONVERT({expr} USING utf8mb4) AS BINARY)")
    }
    fn current_schema(&self) -> &'static str {
        "DATABASE()"
    }
    fn agg_tuples(&self, exprs: &[String]) -> String {
        let parts: Vec<String> = exprs.iter().map(|e| format!("COALESCE(LOWER(HEX(CONVERT({e} USING utf8mb4))), '-')")).collect();
        format!("GROUP_CONCAT(CONCAT({}) SEPARATOR ',')", parts.join(", ':', "))
    }
    fn correlated_aggregates(&self) -> bool {
        // MariaDB materializes grouped derived tables per row ("lateral derived") or sorts them
        // whole; primary-key lookups per object are several times faster.
        true
    }
}

/// `host:port` of a URL, for messages.
pub(crate) fn addr(url: &DbUrl) -> String {
    let port = url.port.unwrap_or(3306);
    if url.host.contains(':') {
        format!("[{}]:{port}", url.host)
    } else {
        format!("{}:{port}", url.host)
    }
}

/// Opens a connection to the server of `url` (no default database, TLS as the URL says) and
/// applies the common session settings plus `extra` statements.
///
/// Errors: [`Kind::Unreachable`] naming `host:port` and the server's reason when the server
/// cannot be reached in [`CONNECT_TIMEOUT`], refuses the credentials, or its TLS is missing or
/// its certificate refused (the reason is named); `BadInput` for unusable certificate files.
pub(crate) async fn connect(url: &DbUrl, extra: &[&str]) -> Result<Conn> {
    connect_with(url, extra, |o| o).await
}

/// [`connect`] with driver options adjusted by `tune`.
pub(crate) async fn connect_with(url: &DbUrl, extra: &[&str], tune: impl Fn(OptsBuilder) -> OptsBuilder) -> Result<Conn> {
    let opts = |ssl: Option<mysql_async::SslOpts>| {
        tune(
            OptsBuilder::default()
                .ip_or_hostname(url.host.clone())
                .tcp_port(url.port.unwrap_or(3306))
                .user(url.user.clone())
                .pass(url.password())
                .prefer_socket(false)
                .ssl_opts(ssl),
        )
    };
    let unreachable = |why: String| Error::unreachable(format!("cannot connect to MySQL server {}: {why}", addr(url)));
    let attempt = |o: OptsBuilder| async move {
        match tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(o)).await {
            Err(_) => Err(None),
            Ok(r) => r.map_err(Some),
        }
    };
    let once = || async {
        let ssl = tls::ssl_opts(url).await?;
        let with_tls = ssl.is_some();
        let mut result = attempt(opts(ssl)).await;
        // `prefer`: plain only when the server does not offer TLS at all.
        if url.tls.mode == SslMode::Prefer && matches!(&result, Err(Some(mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer)))) {
            result = attempt(opts(None)).await;
        }
        match result {
            Err(None) => Err(unreachable(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())).transient()),
            Err(Some(e)) => {
                let why = if with_tls { tls::failure(&e) } else { None };
                let transient = why.is_none() && is_transient(&e);
                let err = unreachable(why.unwrap_or_else(|| one_line(&e)));
                Err(if transient { err.transient() } else { err })
            }
            Ok(c) => Ok(c),
        }
    };
    let mut conn = url.retry.run(&format!("connecting to MySQL server {}", addr(url)), once).await?;
    let mut setup = vec!["SET NAMES utf8mb4".to_string(), "SET SESSION time_zone = '+00:00'".to_string(), format!("SET SESSION sql_mode = '{SQL_MODE}'")];
    setup.extend(extra.iter().map(|s| s.to_string()));
    for stmt in &setup {
        conn.query_drop(stmt.as_str()).await.map_err(|e| db_err(e).context(format!("session setup on {}", addr(url))))?;
    }
    Ok(conn)
}

/// Converts a driver error: lost connections become [`Kind::Unreachable`], everything else
/// [`Kind::Internal`]; marked [transient](Error::transient) when [`is_transient`] says so. The
/// message is the server's (one line).
pub(crate) fn db_err(e: mysql_async::Error) -> Error {
    let kind = match &e {
        mysql_async::Error::Io(_) | mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed) => Kind::Unreachable,
        // The server is shutting down, or killed the connection.
        mysql_async::Error::Server(s) if matches!(s.code, 1053 | 1927) => Kind::Unreachable,
        _ => Kind::Internal,
    };
    let err = Error::new(kind, one_line(&e));
    if is_transient(&e) {
        err.transient()
    } else {
        err
    }
}

/// Whether the failed operation may succeed if done again: a lost or refused connection (not a
/// TLS refusal), the server gone away or shutting down (2006, 2013, 1053), the connection
/// killed (1927), a lock wait timeout (1205) or deadlock (1213), a table whose definition a
/// concurrent DDL changed (1412, e.g. a restore's swap). Everything else (bad credentials, SQL
/// errors) is not.
pub fn is_transient(e: &mysql_async::Error) -> bool {
    match e {
        mysql_async::Error::Io(mysql_async::IoError::Io(_)) | mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed) => true,
        mysql_async::Error::Server(s) => matches!(s.code, 1053 | 1205 | 1213 | 1412 | 1927 | 2006 | 2013),
        _ => false,
    }
}

/// The server error code of `e`, if it is a server error.
pub(crate) fn server_code(e: &mysql_async::Error) -> Option<u16> {
    match e {
        mysql_async::Error::Server(s) => Some(s.code),
        _ => None,
    }
}

fn one_line(e: &dyn std::fmt::Display) -> String {
    e.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Quotes an identifier with backticks.
pub(crate) fn q(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

/// Quotes a string literal (for use with `NO_BACKSLASH_ESCAPES` off).
pub(crate) fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// Escapes `%`, `_` and `\` for a LIKE pattern.
pub(crate) fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// Server version string and whether the server is MariaDB.
pub(crate) async fn server_version(conn: &mut Conn) -> Result<(String, bool)> {
    let v: Option<Vec<u8>> = conn.query_first("SELECT VERSION()").await.map_err(db_err)?;
    let v = String::from_utf8_lossy(&v.unwrap_or_default()).into_owned();
    let maria = v.to_ascii_lowercase().contains("mariadb");
    Ok((v, maria))
}

/// Runs a query whose result columns are all read as (lossy) UTF-8 strings; NULL becomes `None`.
pub(crate) async fn query_strings(conn: &mut Conn, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
    let rows: Vec<mysql_async::Row> = conn.query(sql).await.map_err(db_err)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            row.unwrap_raw()
                .into_iter()
                .map(|v| match v {
                    None | Some(mysql_async::Value::NULL) => None,
                    Some(mysql_async::Value::Bytes(b)) => Some(String::from_utf8_lossy(&b).into_owned()),
                    Some(other) => Some(other.as_sql(true).trim_matches('\'').to_string()),
                })
                .collect()
        })
        .collect())
}

/// Field `i` of a row from [`query_strings`], empty when NULL or missing.
pub(crate) fn field(row: &[Option<String>], i: usize) -> String {
    row.get(i).cloned().flatten().unwrap_or_default()
}
