//! How long a MySQL/MariaDB source keeps the binlog a replica needs. The server purges a file
//! `binlog_expire_logs_seconds` after its last write (checked when it starts a new file), never
//! the file being written; a file's last write is when the next file began, which is the
//! timestamp of the next file's format description event, read through a short binlog dump.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use mysql_async::BinlogStreamRequest;
use tandem_engine::changes::LogRetention;
use tandem_engine::{DbUrl, Position};
use tandem_error::{Error, Result, ResultExt};

use super::{replica_id, BinlogPos};
use crate::{addr, connect, db_err, field, query_strings};

/// The type code of a format description event.
const FORMAT_DESCRIPTION: u8 = 15;

pub(crate) async fn retention(url: &DbUrl, from: &Position) -> Result<LogRetention> {
    let at = BinlogPos::parse(from)?;
    let mut conn = connect(url, &[]).await?;
    let what = || format!("MySQL server {}: listing its binlogs (needs the BINLOG MONITOR or REPLICATION CLIENT privilege)", addr(url));
    let logs: Vec<String> = query_strings(&mut conn, "SHOW BINARY LOGS").await.with_context(what)?.iter().map(|r| field(r, 0)).collect();
    let Some(i) = logs.iter().position(|f| *f == at.file) else {
        let _ = conn.disconnect().await;
        return Ok(LogRetention { kept: false, ..LogRetention::default() });
    };
    let expire = match query_strings(&mut conn, "SELECT @@binlog_expire_logs_seconds").await {
        Ok(rows) => rows.first().map(|r| field(r, 0)).unwrap_or_default(),
        // Servers before binlog_expire_logs_seconds: days.
        Err(_) => {
            let days = query_strings(&mut conn, "SELECT @@expire_logs_days").await?;
            (days.first().map(|r| field(r, 0)).unwrap_or_default().parse::<f64>().unwrap_or(0.0) * 86_400.0).to_string()
        }
    };
    let expire: u64 = expire.parse::<f64>().map(|s| s as u64).unwrap_or(0);
    let retention_seconds = (expire > 0).then_some(expire);
    let Some(next) = logs.get(i + 1).filter(|_| expire > 0) else {
        let _ = conn.disconnect().await;
        return Ok(LogRetention { kept: true, retention_seconds, ..LogRetention::default() });
    };
    let begun = next_began(conn, next).await.with_context(|| format!("MySQL server {}: reading when binlog {next} began", addr(url)))?;
    Ok(LogRetention { kept: true, purge_after: Some(begun + chrono::Duration::seconds(expire as i64)), retention_seconds, ..LogRetention::default() })
}

/// When binlog `file` was begun (its format description event's timestamp).
async fn next_began(conn: mysql_async::Conn, file: &str) -> Result<DateTime<Utc>> {
    let request = BinlogStreamRequest::new(replica_id()).with_filename(file.as_bytes()).with_pos(4u64);
    let mut stream = conn.get_binlog_stream(request).await.map_err(db_err)?;
    let mut began = None;
    // A fake rotate event comes first, then the file's format description.
    for _ in 0..4 {
        match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
            Ok(Some(Ok(ev))) if ev.header().event_type_raw() == FORMAT_DESCRIPTION => {
                began = DateTime::from_timestamp(ev.header().timestamp() as i64, 0).filter(|t| t.timestamp() > 0);
                break;
            }
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => return Err(db_err(e)),
            Ok(None) | Err(_) => break,
        }
    }
    let _ = stream.close().await;
    began.ok_or_else(|| Error::corrupt(format!("binlog {file} starts without a dated format description event")))
}
