//! Fencing writes ([`tandem_engine::Engine::set_writable`]): the database's
//! `default_transaction_read_only`, which every new session of an application gets (tandem's
//! own sessions turn it off at connect), and the database's other client sessions terminated,
//! so no open transaction of an application commits after the fence. Log readers (walsenders)
//! and tandem's own sessions (application name `tandem`: a replication's heartbeat) stay.

use tandem_engine::DbUrl;
use tandem_error::Result;

use crate::{connect, ident, pg_err};

pub(crate) async fn set_writable(url: &DbUrl, writable: bool) -> Result<Vec<String>> {
    let client = connect(url, &url.database).await?;
    let db = ident(&url.database);
    // Nothing to do (and no privilege needed) for a database that takes writes already.
    let fenced = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_db_role_setting s JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase \
             WHERE d.datname = pg_catalog.current_database() AND s.setrole = 0 AND 'default_transaction_read_only=on' = ANY (s.setconfig))",
            &[],
        )
        .await
        .and_then(|r| r.try_get::<_, bool>(0))
        .map_err(|e| pg_err("reading the database's settings", e))?;
    match (writable, fenced) {
        (true, false) => return Ok(Vec::new()),
        (false, true) => return Ok(vec![format!("database {} refuses writes for new sessions already", url.database)]),
        _ => {}
    }
    let sql = match writable {
        true => format!("ALTER DATABASE {db} RESET default_transaction_read_only"),
        false => format!("ALTER DATABASE {db} SET default_transaction_read_only = on"),
    };
    client.batch_execute(&sql).await.map_err(|e| pg_err(format!("{sql} (the database's owner or a superuser may)"), e))?;
    let mut done = vec![format!("database {} is {}", url.database, if writable { "writable" } else { "read-only for new sessions" })];
    if !writable {
        done.push(format!("{} session(s) on database {} ended", end_sessions(&client).await?, url.database));
    }
    Ok(done)
}

/// Ends the database's client sessions but tandem's own that began before now (the database is
/// read-only for later ones), in passes until one finds none: a session that was connecting
/// while the database turned read-only may have read the old default and show up only after
/// the first pass. How many were ended.
async fn end_sessions(client: &tokio_postgres::Client) -> Result<i64> {
    const PASSES: usize = 10;
    let now: String = client
        .query_one("SELECT pg_catalog.clock_timestamp()::text", &[])
        .await
        .and_then(|r| r.try_get(0))
        .map_err(|e| pg_err("reading the server's clock", e))?;
    let sql = format!(
        "SELECT count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(pid)) FROM pg_catalog.pg_stat_activity \
         WHERE datname = pg_catalog.current_database() AND pid <> pg_catalog.pg_backend_pid() AND backend_type = 'client backend' \
           AND application_name <> 'tandem' AND backend_start <= '{now}'::timestamptz"
    );
    let mut ended = 0;
    for pass in 0..PASSES {
        let n: i64 = client
            .query_one(&sql, &[])
            .await
            .and_then(|r| r.try_get::<_, i64>(0))
            .map_err(|e| pg_err("ending the database's sessions (pg_signal_backend may)", e))?;
        ended += n;
        if n == 0 && pass > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(ended)
}

/// The application name of a restore's session while it holds the site's role row.
pub(crate) const RESTORE_SESSION: &str = "tandem restore";

/// Ends the restores into `url`'s database (their sessions are named [`RESTORE_SESSION`]).
pub(crate) async fn interrupt_restores(url: &DbUrl) -> Result<u64> {
    let client = connect(url, &url.database).await?;
    let ended = client
        .query_one(
            "SELECT count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(pid)) FROM pg_catalog.pg_stat_activity \
             WHERE datname = pg_catalog.current_database() AND pid <> pg_catalog.pg_backend_pid() AND application_name = $1",
            &[&RESTORE_SESSION],
        )
        .await
        .and_then(|r| r.try_get::<_, i64>(0))
        .map_err(|e| pg_err("ending the restores into the database (pg_signal_backend may)", e))?;
    Ok(ended.max(0) as u64)
}
