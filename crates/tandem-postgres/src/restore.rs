//! Restoring into a PostgreSQL database in ONE transaction on one connection.
//!
//! `begin` checks the target, opens the transaction, drops the old content (with `replace`) and
//! runs `pre_data`; `copy_in` streams rows with `COPY ... FROM STDIN (FREEZE)` (the tables were
//! created in the same transaction); `commit` runs `post_data` and commits. Nothing is visible to
//! others before `COMMIT`, and a crash of tandem makes the server roll everything back.
//!
//! Replacing drops every non-`public` user schema with `DROP SCHEMA ... CASCADE`, and in `public`
//! every relation, routine and type that does not belong to an extension. The `public` schema
//! itself (its owner and grants) and installed extensions are kept.

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{SinkExt, StreamExt};
use tandem_engine::changes::Origin;
use tandem_engine::{DbUrl, Replace, RestoreSession, SchemaDump, TableDef, Target, TargetState};
use tandem_error::{Error, Result};
use tokio::sync::Mutex;
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use crate::catalog::{not_ext, USER_NS};
use crate::{addr, connect, ident, pg_err, pg_text, qname, try_connect};

/// A restore target: one database. A missing database is created by `begin`, not before, so
/// a dry run changes nothing.
pub(crate) struct PgTarget {
    url: DbUrl,
    /// Connected to the target database, or to the maintenance database while it is missing.
    client: Client,
    exists: bool,
}

impl PgTarget {
    /// Connects to the database of `url`, or to the `postgres` maintenance database when it does
    /// not exist yet. Errors: `Unreachable` (server, credentials).
    pub(crate) async fn connect(url: &DbUrl) -> Result<PgTarget> {
        if let Some(client) = try_connect(url, &url.database).await? {
            return Ok(PgTarget { url: url.clone(), client, exists: true });
        }
        let admin = match try_connect(url, "postgres").await? {
            Some(c) => c,
            None => connect(url, "template1").await?,
        };
        Ok(PgTarget { url: url.clone(), client: admin, exists: false })
    }

    /// Creates the missing target database. Errors: `BadInput` if it may not be created.
    async fn create_database(&self) -> Result<()> {
        let db = &self.url.database;
        let missing = |why: String| Error::bad_input(format!("database {db} does not exist on {} and cannot be created: {why}", addr(&self.url)));
        if let Err(e) = self.client.batch_execute(&format!("CREATE DATABASE {}", ident(db))).await {
            match e.code() {
                Some(c) if c == &SqlState::DUPLICATE_DATABASE => {}
                Some(_) => return Err(missing(pg_text(&e))),
                None => return Err(pg_err(format!("creating database {db} on {}", addr(&self.url)), e)),
            }
        }
        tracing::info!("created database {db} on {}", addr(&self.url));
        Ok(())
    }
}

async fn inspect_on(client: &Client) -> Result<TargetState> {
    let version = client.query_one("SHOW server_version", &[]).await.map_err(|e| pg_err("reading the server version", e))?;
    let server_version: String = version.try_get(0).map_err(|e| pg_err("reading the server version", e))?;
    let rows = client
        .query(
            &format!(
                "SELECT n.nspname::text || '.' || c.relname::text FROM pg_catalog.pg_class c \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {USER_NS} AND {} ORDER BY 1",
                not_ext("pg_class", "c.oid")
            ),
            &[],
        )
        .await
        .map_err(|e| pg_err("listing the relations of the target", e))?;
    let relations =
        rows.iter().map(|r| r.try_get(0)).collect::<std::result::Result<Vec<String>, _>>().map_err(|e| pg_err("listing the relations of the target", e))?;
    Ok(TargetState { server_version, relations })
}

#[async_trait]
impl Target for PgTarget {
    async fn inspect(&self) -> Result<TargetState> {
        if !self.exists {
            let version = self.client.query_one("SHOW server_version", &[]).await.map_err(|e| pg_err("reading the server version", e))?;
            let server_version = version.try_get(0).map_err(|e| pg_err("reading the server version", e))?;
            return Ok(TargetState { server_version, relations: Vec::new() });
        }
        inspect_on(&self.client).await.map_err(|e| e.context(format!("target database {}", self.url.database)))
    }

    async fn begin(&self, schema: &SchemaDump, replace: Replace) -> Result<Box<dyn RestoreSession>> {
        let db = &self.url.database;
        let state = self.inspect().await?;
        if !replace.allowed() {
            if let Some(first) = state.relations.first() {
                return Err(Error::conflict(format!("target database {db} is not empty ({} relations, e.g. {first})", state.relations.len()))
                    .with_hint(tandem_error::Hint::ReplaceTarget));
            }
        }
        crate::privileges::check_reassign(&self.client, &schema.privileges).await?;
        if !self.exists {
            self.create_database().await?;
        }
        let client = connect(&self.url, db).await?;
        let ctx = format!("restore into database {db} on {}", addr(&self.url));
        client
            .batch_execute(
                "SET idle_in_transaction_session_timeout = 0; SET statement_timeout = 0; \
                 SET DateStyle = ISO; SET IntervalStyle = postgres; SET row_security = off; SET TimeZone = 'UTC'; \
                 BEGIN; SET LOCAL check_function_bodies = off; SET LOCAL synchronous_commit = off; \
                 SET LOCAL client_min_messages = warning; \
                 SELECT pg_catalog.set_config('search_path', '', true)",
            )
            .await
            .map_err(|e| pg_err(format!("{ctx}: starting the transaction"), e))?;
        if replace.checks_role() {
            // First in the transaction, held to its end (see tandem_engine::role); named, so a
            // promote or fence ends this restore instead of waiting for it.
            let name = format!("SET application_name = '{}'", crate::writes::RESTORE_SESSION);
            client.batch_execute(&name).await.map_err(|e| pg_err(format!("{ctx}: naming the session"), e))?;
            if let Err(e) = lock_role(&client, db).await {
                let _ = client.batch_execute("ROLLBACK").await;
                return Err(e.context(ctx));
            }
        }
        if replace.allowed() {
            drop_yielding(&client, db, replace.guard()).await.map_err(|e| e.context(format!("{ctx}: dropping the old content")))?;
        }
        for (i, stmt) in schema.pre_data.iter().enumerate() {
            if let Err(e) = client.batch_execute(stmt).await {
                let _ = client.batch_execute("ROLLBACK").await;
                return Err(pg_err(format!("{ctx}: pre-data statement {} ({})", i + 1, head(stmt)), e));
            }
        }
        Ok(Box::new(PgSession {
            client: Mutex::new(client),
            post_data: schema.post_data.clone(),
            privileges: schema.privileges.clone(),
            ctx,
            failed: AtomicBool::new(false),
        }))
    }
}

/// The first line of a statement, shortened, for messages.
fn head(stmt: &str) -> String {
    let line = stmt.trim().lines().next().unwrap_or("");
    let mut s: String = line.chars().take(100).collect();
    if s.len() < line.len() {
        s.push('…');
    }
    s
}

/// Drops all user content inside the open transaction (see the module doc).
async fn drop_content(client: &Client) -> Result<()> {
    let list = |sql: String| async move {
        let rows = client.query(&sql, &[]).await.map_err(|e| pg_err("listing the old content", e))?;
        rows.iter().map(|r| r.try_get::<_, String>(0)).collect::<std::result::Result<Vec<_>, _>>().map_err(|e| pg_err("listing the old content", e))
    };
    let mut stmts = Vec::new();
    for s in list(format!(
        "SELECT n.nspname::text FROM pg_catalog.pg_namespace n WHERE {USER_NS} AND n.nspname <> 'public' AND {} ORDER BY 1",
        not_ext("pg_namespace", "n.oid")
    ))
    .await?
    {
        stmts.push(format!("DROP SCHEMA IF EXISTS {} CASCADE", ident(&s)));
    }
    let public = "n.nspname = 'public'";
    for r in list(format!(
        "SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END \
                || ' IF EXISTS ' || pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {public} AND {} ORDER BY c.oid",
        not_ext("pg_class", "c.oid")
    ))
    .await?
    {
        stmts.push(format!("DROP {r} CASCADE"));
    }
    run_all(client, &mut stmts).await?;
    // Sequences that survived their tables (identity sequences went with them).
    for r in list(format!(
        "SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind = 'S' AND {public} AND {} ORDER BY c.oid",
        not_ext("pg_class", "c.oid")
    ))
    .await?
    {
        stmts.push(format!("DROP SEQUENCE IF EXISTS {r} CASCADE"));
    }
    for r in list(format!(
        "SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END \
                || ' IF EXISTS ' || p.oid::pg_catalog.regprocedure::text \
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
         WHERE {public} AND {} ORDER BY p.oid",
        not_ext("pg_proc", "p.oid")
    ))
    .await?
    {
        stmts.push(format!("DROP {r} CASCADE"));
    }
    run_all(client, &mut stmts).await?;
    for r in list(format!(
        "SELECT t.oid::pg_catalog.regtype::text FROM pg_catalog.pg_type t \
         JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
         WHERE {public} AND {} AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND \
               (SELECT r.relkind FROM pg_catalog.pg_class r WHERE r.oid = t.typrelid) = 'c')) ORDER BY t.oid",
        not_ext("pg_type", "t.oid")
    ))
    .await?
    {
        stmts.push(format!("DROP TYPE IF EXISTS {r} CASCADE"));
    }
    run_all(client, &mut stmts).await
}

async fn run_all(client: &Client, stmts: &mut Vec<String>) -> Result<()> {
    for s in stmts.drain(..) {
        client.batch_execute(&s).await.map_err(|e| match e.code() {
            Some(&SqlState::LOCK_NOT_AVAILABLE) => Error::conflict(format!("{s}: {}", pg_text(&e))),
            _ => pg_err(&s, e),
        })?;
    }
    Ok(())
}

/// How long one attempt to drop the old content waits for its locks, and how many attempts a
/// restore makes.
const DROP_LOCK_WAIT_S: u32 = 2;
const DROP_ATTEMPTS: u32 = 30;

/// [`drop_content`], giving way to readers: a reader's open transaction holds locks on the
/// target's tables, and a waiting `DROP` makes every new query on them queue behind it, so a
/// client that reads on two connections (Spark) would wait for the restore while the restore
/// waits for it, forever. Each attempt waits [`DROP_LOCK_WAIT_S`] inside a savepoint, rolls back
/// to it (releasing what it locked) and lets the queue drain for a second; after
/// [`DROP_ATTEMPTS`] the restore fails (Conflict) and the target keeps its content.
async fn drop_yielding(client: &Client, database: &str, guard: Option<&str>) -> Result<()> {
    let run = |sql: &'static str| async move { client.batch_execute(sql).await.map_err(|e| pg_err(sql, e)) };
    client.batch_execute(&format!("SET LOCAL lock_timeout = '{DROP_LOCK_WAIT_S}s'")).await.map_err(|e| pg_err("SET lock_timeout", e))?;
    for attempt in 1..=DROP_ATTEMPTS {
        run("SAVEPOINT tandem_drop").await?;
        let dropped = async {
            if let Some(table) = guard {
                if !lock_guard(client, table).await? {
                    return Ok(Err(table));
                }
            }
            drop_content(client).await.map(Ok)
        };
        match dropped.await {
            Ok(Err(table)) => return Err(Replace::guard_lost(database, table)),
            Ok(Ok(())) => {
                run("RELEASE SAVEPOINT tandem_drop").await?;
                return run("SET LOCAL lock_timeout = 0").await;
            }
            Err(e) if e.kind() == tandem_error::Kind::Conflict => {
                tracing::info!(attempt, "the target's tables are in use by other sessions; trying again: {e}");
                run("ROLLBACK TO SAVEPOINT tandem_drop").await?;
                if attempt < DROP_ATTEMPTS {
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(Error::conflict(format!(
        "other sessions kept the target's tables in use (open transactions hold their locks) through {DROP_ATTEMPTS} attempts of {DROP_LOCK_WAIT_S} s"
    )))
}

/// Locks database `db`'s role row ([`tandem_engine::role`]) for the rest of the restore
/// transaction; Conflict when the site is active. Nothing to lock without a role table.
async fn lock_role(client: &Client, db: &str) -> Result<()> {
    use tandem_engine::role::{Role, SiteRole};
    let d = &crate::PgDialect;
    let exists = crate::simple_rows(client, &SiteRole::exists_sql(d)).await.map_err(|e| pg_err("looking for the role table", e))?;
    if exists.first().and_then(|r| r.first().cloned().flatten()).as_deref() != Some("1") {
        return Ok(());
    }
    let locked = crate::simple_rows(client, &SiteRole::lock_sql(d, db)).await.map_err(|e| pg_err("locking the site's role", e))?;
    match locked.first().map(|r| SiteRole::from_row(r)).transpose()? {
        Some(role) if role.role == Role::Active => Err(Replace::active_site(db, &role)),
        _ => Ok(()),
    }
}

/// Locks the guard table of [`Replace::IfHolds`] for the rest of the restore transaction (a
/// promote's `DROP` of it waits for the restore, then finds the new content). `Ok(false)` when
/// it is gone; Conflict when its lock cannot be had within the lock timeout.
async fn lock_guard(client: &Client, table: &str) -> Result<bool> {
    let name = format!("public.{}", ident(table));
    let found = client.query_one("SELECT to_regclass($1) IS NOT NULL", &[&name]).await.and_then(|r| r.try_get::<_, bool>(0));
    if !found.map_err(|e| pg_err("looking for the guard table", e))? {
        return Ok(false);
    }
    let sql = format!("LOCK TABLE {name} IN ACCESS EXCLUSIVE MODE");
    match client.batch_execute(&sql).await {
        Ok(()) => Ok(true),
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => Ok(false),
        Err(e) if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => Err(Error::conflict(format!("{sql}: {}", pg_text(&e)))),
        Err(e) => Err(pg_err(&sql, e)),
    }
}

/// The open restore transaction.
struct PgSession {
    client: Mutex<Client>,
    post_data: Vec<String>,
    /// Given back after the post-data statements.
    privileges: tandem_engine::Privileges,
    ctx: String,
    /// Set once a statement or a COPY failed: the transaction can only be rolled back.
    failed: AtomicBool,
}

impl PgSession {
    async fn rollback(client: &Client) -> Result<()> {
        client.batch_execute("ROLLBACK").await.map_err(|e| pg_err("rolling back the restore", e))
    }
}

/// The `COPY ... FROM STDIN` statement for `table`.
pub(crate) fn copy_in_sql(table: &TableDef) -> String {
    let name = qname(table.schema.as_deref().unwrap_or("public"), &table.name);
    let cols: Vec<String> = table.columns.iter().map(|c| ident(&c.name)).collect();
    format!("COPY {name} ({}) FROM STDIN WITH (FREEZE)", cols.join(", "))
}

#[async_trait]
impl RestoreSession for PgSession {
    fn parallelism(&self) -> usize {
        1
    }

    async fn mark(&self, origin: &Origin) -> Result<bool> {
        // In a savepoint: a user who may not set origins must not abort the restore.
        let client = self.client.lock().await;
        client.batch_execute("SAVEPOINT tandem_mark").await.map_err(|e| pg_err(&self.ctx, e))?;
        let marked = crate::apply::mark(&client, &origin.0).await.is_ok();
        // Back in the top transaction either way (COPY FREEZE needs its tables made there).
        let end = if marked { "RELEASE SAVEPOINT tandem_mark" } else { "ROLLBACK TO SAVEPOINT tandem_mark; RELEASE SAVEPOINT tandem_mark" };
        client.batch_execute(end).await.map_err(|e| pg_err(&self.ctx, e))?;
        Ok(marked)
    }

    async fn copy_in(&self, table: &TableDef, mut rows: BoxStream<'static, Result<Bytes>>) -> Result<u64> {
        let what = format!("{}: loading table {}", self.ctx, table.display_name());
        if self.failed.load(Ordering::SeqCst) {
            return Err(Error::internal(format!("{what}: the restore transaction already failed")));
        }
        let client = self.client.lock().await;
        self.failed.store(true, Ordering::SeqCst);
        let sink = client.copy_in::<_, Bytes>(copy_in_sql(table).as_str()).await.map_err(|e| pg_err(&what, e))?;
        futures::pin_mut!(sink);
        while let Some(item) = rows.next().await {
            // On a stream error the sink is dropped unfinished: the driver sends CopyFail and the
            // server aborts the transaction.
            let buf = item.map_err(|e| e.context(&what))?;
            sink.send(buf).await.map_err(|e| pg_err(&what, e))?;
        }
        let n = sink.as_mut().finish().await.map_err(|e| pg_err(&what, e))?;
        self.failed.store(false, Ordering::SeqCst);
        Ok(n)
    }

    fn dialect(&self) -> &'static dyn tandem_engine::Dialect {
        &crate::PgDialect
    }

    async fn execute(&self, sql: &str) -> Result<u64> {
        let client = self.client.lock().await;
        match client.execute(sql, &[]).await {
            Ok(n) => Ok(n),
            Err(e) => {
                self.failed.store(true, Ordering::SeqCst);
                Err(pg_err(format!("{}: {}", self.ctx, head(sql)), e))
            }
        }
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        let client = self.client.into_inner();
        if self.failed.load(Ordering::SeqCst) {
            let _ = Self::rollback(&client).await;
            return Err(Error::internal(format!("{}: cannot commit, an earlier step failed; rolled back", self.ctx)));
        }
        let mut stmts = vec!["SET LOCAL maintenance_work_mem = '256MB'".to_string()];
        stmts.extend(self.post_data);
        for (i, stmt) in stmts.iter().enumerate() {
            if let Err(e) = client.batch_execute(stmt).await {
                let _ = Self::rollback(&client).await;
                return Err(before_commit(pg_err(format!("{}: post-data statement {} ({})", self.ctx, i, head(stmt)), e)));
            }
        }
        if let Err(e) = crate::privileges::restore(&client, &self.privileges).await {
            let _ = Self::rollback(&client).await;
            return Err(before_commit(e.context(format!("{}: giving back owners and grants", self.ctx))));
        }
        tandem_error::failpoint!("postgres-before-commit");
        client.batch_execute("COMMIT").await.map_err(|e| pg_err(format!("{}: COMMIT", self.ctx), e))?;
        tandem_error::failpoint!("postgres-after-commit");
        Ok(())
    }

    async fn abort(self: Box<Self>) -> Result<()> {
        let client = self.client.into_inner();
        Self::rollback(&client).await.map_err(|e| e.context(&self.ctx))
    }
}

/// A failure before `COMMIT` was sent: the transaction is rolled back whatever happened to the
/// connection (a promote or fence of the site ends a restore's session), so it is no commit of
/// unknown outcome.
fn before_commit(e: Error) -> Error {
    e.permanent().context("nothing was replaced: the restore failed before its commit")
}
