//! Fencing writes ([`tandem_engine::Engine::set_writable`]): the server's `read_only`, which
//! holds for every user without `READ_ONLY ADMIN`/`SUPER` (tandem's sessions need one of them
//! to write into a fenced server), and the database's other sessions killed, so no open
//! transaction of an application commits after the fence.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tandem_error::{Result, ResultExt};

use crate::{db_err, field, lit, query_strings};

pub(crate) async fn set_writable(conn: &mut Conn, database: &str, writable: bool) -> Result<Vec<String>> {
    let value = if writable { "OFF" } else { "ON" };
    // Nothing to do (and no privilege needed) for a server that takes writes already.
    if writable && query_strings(conn, "SELECT @@global.read_only").await?.first().is_some_and(|r| field(r, 0) == "0") {
        return Ok(Vec::new());
    }
    conn.query_drop(format!("SET GLOBAL read_only = {value}"))
        .await
        .map_err(db_err)
        .with_context(|| format!("setting the server's read_only {value} (the user needs the SUPER or READ_ONLY ADMIN privilege)"))?;
    let mut done = vec![format!("the server's read_only is {value}")];
    if writable {
        return Ok(done);
    }
    // Replication threads (a binlog reader) and the server's own are no application sessions.
    let sessions = query_strings(
        conn,
        &format!(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = {} AND ID <> CONNECTION_ID() \
             AND COMMAND NOT IN ('Binlog Dump', 'Binlog Dump GTID', 'Daemon') ORDER BY ID",
            lit(database)
        ),
    )
    .await?;
    let mut killed = 0;
    for row in &sessions {
        // A session that ended meanwhile is no error (1094: unknown thread).
        match conn.query_drop(format!("KILL {}", field(row, 0))).await {
            Ok(()) => killed += 1,
            Err(e) if crate::server_code(&e) == Some(1094) => {}
            Err(e) => return Err(db_err(e).context("ending the database's sessions")),
        }
    }
    done.push(format!("{killed} session(s) on database {database} ended"));
    Ok(done)
}
