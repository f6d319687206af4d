//! All-or-nothing restores through a staging database on the target server.
//!
//! `begin` creates `<target>__tandem_stage_<id>` and the tables in it (an InnoDB table with a
//! PRIMARY KEY without its secondary indexes and foreign keys, see
//! [`DeferredDdl`](crate::schema::DeferredDdl)); `copy_in` loads rows with one
//! `LOAD DATA LOCAL INFILE` per buffer of the stream (small transactions) and then adds the
//! table's secondary indexes back with one `ALTER TABLE` (a sorted index build); `commit` adds the
//! indexes of tables `copy_in` never saw and every deferred foreign key (with
//! `foreign_key_checks = 0`; `SHOW CREATE TABLE` ends up as the source's), checks the post-data
//! statements in the staging database, then moves every current table of the target into `<target>__tandem_old_<id>`
//! and every staged table into the target with ONE `RENAME TABLE` statement (atomic), runs the
//! post-data statements (views, triggers) in the target and drops the two helper databases.
//! A crash before the rename leaves the target untouched; the helper databases are leftovers that
//! the next `begin` on the same target drops. A named lock (`GET_LOCK`) keeps two restores into
//! the same target apart.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tandem_engine::{DbUrl, Replace, RestoreSession, SchemaDump, TableDef, Target, TargetState};
use tandem_error::{Error, Kind, Result, ResultExt};

use crate::pool::ConnPool;
use crate::schema::{defer_indexes, load_sql, DeferredDdl};
use crate::{addr, connect, db_err, field, like_escape, lit, q, query_strings, server_code, server_version};
use tandem_engine::changes::Origin;

/// Number of load connections of a restore session.
const LOADERS: usize = 2;

/// How long `begin` waits for another restore into the same target to finish (a dropped session
/// releases its lock once its cleanup has run).
const LOCK_WAIT_SECS: u32 = 5;

/// Session settings of load connections.
const LOAD_SESSION: &[&str] = &["SET SESSION foreign_key_checks = 0", "SET SESSION unique_checks = 0"];

/// A restore target: one database on a MySQL/MariaDB server. A missing database is created by
/// `begin`, not before, so a dry run changes nothing.
pub(crate) struct MyTarget {
    url: DbUrl,
    version: String,
}

impl MyTarget {
    /// Connects to the server (the database may not exist yet).
    pub async fn open(url: &DbUrl) -> Result<MyTarget> {
        let mut conn = connect(url, &[]).await?;
        let (version, _) = server_version(&mut conn).await?;
        let _ = conn.disconnect().await;
        Ok(MyTarget { url: url.clone(), version })
    }
}

async fn db_exists(conn: &mut Conn, db: &str) -> Result<bool> {
    let rows = query_strings(conn, &format!("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {}", lit(db))).await?;
    Ok(!rows.is_empty())
}

/// Relations of `db` as `(name, TABLE_TYPE)`, by name.
async fn relations(conn: &mut Conn, db: &str) -> Result<Vec<(String, String)>> {
    let rows =
        query_strings(conn, &format!("SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} ORDER BY TABLE_NAME", lit(db)))
            .await?;
    Ok(rows.iter().map(|r| (field(r, 0), field(r, 1))).collect())
}

/// Triggers of `db`.
async fn triggers(conn: &mut Conn, db: &str) -> Result<Vec<String>> {
    let rows = query_strings(conn, &format!("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = {}", lit(db))).await?;
    Ok(rows.iter().map(|r| field(r, 0)).collect())
}

/// The part of the target's name used in helper database and lock names (at most 40 bytes, so
/// `<prefix>__tandem_stage_<8 hex>` fits MySQL's 64-character limit).
fn name_prefix(db: &str) -> String {
    if db.len() <= 40 {
        return db.to_string();
    }
    let mut end = 31;
    while !db.is_char_boundary(end) {
        end -= 1;
    }
    // FNV-1a: stable across runs and builds.
    let hash = db.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
    format!("{}_{:08x}", &db[..end], hash as u32)
}

/// How long one attempt of the swap waits for the target's metadata locks, and how many
/// attempts a swap makes.
const SWAP_LOCK_WAIT_S: u32 = 2;
const SWAP_ATTEMPTS: u32 = 30;

/// Runs the swap's `RENAME TABLE`, giving way to readers: a reader's open transaction holds
/// metadata locks on the target's tables, and a waiting `RENAME` makes every new query on them
/// queue behind it, so a client that reads on two connections (Spark) would wait for the swap
/// while the swap waits for it, forever (`lock_wait_timeout` defaults to a year). Each attempt
/// waits [`SWAP_LOCK_WAIT_S`], then lets the queue drain for a second; after [`SWAP_ATTEMPTS`]
/// the swap fails (Conflict) and the target keeps its old content.
/// A table missing when the RENAME runs (1146) is, with a `guard` (database, table), the
/// guard's [`Replace::guard_lost`].
async fn rename_yielding(ctl: &mut Conn, sql: &str, guard: Option<(&str, &str)>) -> Result<()> {
    ctl.query_drop(format!("SET SESSION lock_wait_timeout = {SWAP_LOCK_WAIT_S}")).await.map_err(db_err)?;
    let mut attempt = 1;
    let result = loop {
        match ctl.query_drop(sql).await {
            Err(e) if server_code(&e) == Some(1205) && attempt < SWAP_ATTEMPTS => {
                tracing::info!(attempt, "the target's tables are in use by other sessions; trying the swap again");
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            Err(e) if server_code(&e) == Some(1205) => {
                break Err(Error::conflict(format!(
                    "other sessions kept the target's tables in use (open transactions hold their metadata locks) through {SWAP_ATTEMPTS} \
                     attempts of {SWAP_LOCK_WAIT_S} s; the target keeps its old content"
                )))
            }
            Err(e) if server_code(&e) == Some(1146) && guard.is_some() => {
                let (db, table) = guard.unwrap_or_default();
                break Err(Replace::guard_lost(db, table));
            }
            other => break other.map_err(db_err),
        }
    };
    ctl.query_drop("SET SESSION lock_wait_timeout = DEFAULT").await.map_err(db_err)?;
    result
}

fn conflict_not_empty(db: &str, rel: &[(String, String)]) -> Error {
    Error::conflict(format!("target database {db} is not empty ({} relations, e.g. {})", rel.len(), rel.first().map(|r| r.0.as_str()).unwrap_or("?")))
        .with_hint(tandem_error::Hint::ReplaceTarget)
}

#[async_trait]
impl Target for MyTarget {
    async fn inspect(&self) -> Result<TargetState> {
        let mut conn = connect(&self.url, &[]).await?;
        let rel = relations(&mut conn, &self.url.database).await?;
        let _ = conn.disconnect().await;
        Ok(TargetState { server_version: self.version.clone(), relations: rel.into_iter().map(|r| r.0).collect() })
    }

    async fn begin(&self, schema: &SchemaDump, replace: Replace) -> Result<Box<dyn RestoreSession>> {
        let db = self.url.database.clone();
        let prefix = name_prefix(&db);
        let mut ctl = connect(&self.url, LOAD_SESSION).await?;
        let got: Option<Option<i64>> =
            ctl.query_first(format!("SELECT GET_LOCK({}, {LOCK_WAIT_SECS})", lit(&format!("tandem-restore:{prefix}")))).await.map_err(db_err)?;
        if got.flatten() != Some(1) {
            return Err(Error::conflict(format!("another restore into database {db} on {} is in progress", addr(&self.url))));
        }
        if !db_exists(&mut ctl, &db).await? {
            ctl.query_drop(format!("CREATE DATABASE {}", q(&db))).await.map_err(db_err).with_context(|| format!("creating database {db}"))?;
        }
        let rel = relations(&mut ctl, &db).await?;
        if !rel.is_empty() && !replace.allowed() {
            return Err(conflict_not_empty(&db, &rel));
        }
        // Leftovers of earlier restores that died before finishing.
        let pattern = like_escape(&prefix);
        let leftovers = query_strings(
            &mut ctl,
            &format!(
                "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE {} OR SCHEMA_NAME LIKE {}",
                lit(&format!("{pattern}\\_\\_tandem\\_stage\\_%")),
                lit(&format!("{pattern}\\_\\_tandem\\_old\\_%"))
            ),
        )
        .await?;
        for r in &leftovers {
            let name = field(r, 0);
            tracing::info!(database = %name, "dropping the leftover of an earlier restore");
            ctl.query_drop(format!("DROP DATABASE IF EXISTS {}", q(&name)))
                .await
                .map_err(db_err)
                .with_context(|| format!("dropping leftover database {name}"))?;
        }

        let nonce = {
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
            ((t as u64) ^ ((std::process::id() as u64) << 32)) as u32 ^ (t >> 32) as u32
        };
        let staging = format!("{prefix}__tandem_stage_{nonce:08x}");
        let old = format!("{prefix}__tandem_old_{nonce:08x}");
        let mut create = format!("CREATE DATABASE {}", q(&staging));
        if let Some(cs) = &schema.charset {
            create.push_str(&format!(" CHARACTER SET {cs}"));
        }
        if let Some(co) = &schema.collation {
            create.push_str(&format!(" COLLATE {co}"));
        }
        ctl.query_drop(create).await.map_err(db_err).with_context(|| format!("creating staging database {staging}"))?;
        let mut session = MySession {
            url: self.url.clone(),
            target: db.clone(),
            staging: staging.clone(),
            old,
            replace,
            schema: schema.clone(),
            ctl: Mutex::new(None),
            loaders: ConnPool::new(Vec::new()),
            deferred: BTreeMap::new(),
            indexed: Mutex::new(HashSet::new()),
            finished: false,
        };
        // From here on, dropping `session` cleans the staging database up.
        let setup = async {
            ctl.query_drop(format!("USE {}", q(&staging))).await.map_err(db_err)?;
            let mut deferred = BTreeMap::new();
            for (i, stmt) in schema.pre_data.iter().enumerate() {
                let split = defer_indexes(stmt);
                let sql = split.as_ref().map(|d| d.create.as_str()).unwrap_or(stmt);
                ctl.query_drop(sql).await.map_err(db_err).with_context(|| format!("pre-data statement {} ({})", i + 1, head(stmt)))?;
                if let Some(d) = split {
                    deferred.insert(d.table.clone(), d);
                }
            }
            let use_staging = format!("USE {}", q(&staging));
            let mut loaders = Vec::with_capacity(LOADERS);
            for _ in 0..LOADERS {
                let mut c = connect(&self.url, LOAD_SESSION).await?;
                c.query_drop(use_staging.as_str()).await.map_err(db_err)?;
                loaders.push(c);
            }
            Ok::<_, Error>((loaders, deferred))
        };
        let loaders = setup.await.map(|(loaders, deferred)| {
            session.deferred = deferred;
            loaders
        });
        session.ctl = Mutex::new(Some(ctl));
        session.loaders = ConnPool::new(loaders.with_context(|| format!("restore into {db}: staging database {staging}"))?);
        Ok(Box::new(session))
    }
}

/// The first line of a statement, shortened, for messages.
fn head(stmt: &str) -> String {
    let line = stmt.lines().next().unwrap_or("");
    let mut end = line.len().min(80);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    line[..end].to_string()
}

/// One restore in progress (see the module docs).
struct MySession {
    url: DbUrl,
    target: String,
    staging: String,
    old: String,
    replace: Replace,
    schema: SchemaDump,
    /// Control connection: holds the restore lock, runs DDL.
    ctl: Mutex<Option<Conn>>,
    loaders: ConnPool,
    /// Tables created without their secondary indexes and foreign keys (added back before the
    /// swap), by name.
    deferred: BTreeMap<String, DeferredDdl>,
    /// Tables whose deferred indexes `copy_in` has added back already.
    indexed: Mutex<HashSet<String>>,
    finished: bool,
}

impl MySession {
    fn take_ctl(&self) -> Result<Conn> {
        self.ctl.lock().ok().and_then(|mut c| c.take()).ok_or_else(|| Error::internal("restore session has no control connection"))
    }

    async fn run(conn: &mut Conn, sql: String) -> Result<()> {
        conn.query_drop(sql.as_str()).await.map_err(db_err).with_context(|| head(&sql))
    }

    /// Everything of commit up to and including the atomic rename.
    async fn swap(&self, ctl: &mut Conn) -> Result<()> {
        let (t, s, o) = (&self.target, &self.staging, &self.old);
        // Check the post-data statements where a failure is still invisible, then remove what
        // they created (triggers would block moving tables to another database).
        Self::run(ctl, format!("USE {}", q(s))).await?;
        // Indexes first (a foreign key needs the referenced table's index), then foreign keys.
        let indexed = self.indexed.lock().map(|d| d.clone()).unwrap_or_default();
        for d in self.deferred.values().filter(|d| !indexed.contains(&d.table)) {
            if let Some(sql) = d.index_sql() {
                Self::run(ctl, sql).await.with_context(|| format!("table {}: adding its indexes", d.table))?;
            }
        }
        for d in self.deferred.values() {
            if let Some(sql) = d.foreign_key_sql() {
                Self::run(ctl, sql).await.with_context(|| format!("table {}: adding its foreign keys", d.table))?;
            }
        }
        for (i, stmt) in self.schema.post_data.iter().enumerate() {
            ctl.query_drop(stmt.as_str()).await.map_err(db_err).with_context(|| format!("post-data statement {} ({})", i + 1, head(stmt)))?;
        }
        for trg in triggers(ctl, s).await? {
            Self::run(ctl, format!("DROP TRIGGER {}.{}", q(s), q(&trg))).await?;
        }
        let staged = relations(ctl, s).await?;
        for (name, kind) in &staged {
            if kind == "VIEW" {
                Self::run(ctl, format!("DROP VIEW {}.{}", q(s), q(name))).await?;
            }
        }
        // Held across the RENAME, taken before the target is read or touched: a promote waits
        // for the swap, or the swap finds the site active.
        let role_lock = match self.replace.checks_role() {
            true => lock_role(&self.url, t).await?,
            false => None,
        };
        let current = relations(ctl, t).await?;
        if !current.is_empty() && !self.replace.allowed() {
            return Err(conflict_not_empty(t, &current));
        }
        // The guard table is renamed with the rest: should it vanish after this check, the one
        // RENAME fails as a whole (1146) and the target keeps its content.
        let guard = self.replace.guard();
        if let Some(g) = guard.filter(|g| !current.iter().any(|(name, _)| name.eq_ignore_ascii_case(g))) {
            return Err(Replace::guard_lost(t, g));
        }
        let mut renames = Vec::new();
        if !current.is_empty() {
            Self::run(ctl, format!("CREATE DATABASE {}", q(o))).await?;
            for trg in triggers(ctl, t).await? {
                Self::run(ctl, format!("DROP TRIGGER {}.{}", q(t), q(&trg))).await?;
            }
            for (name, kind) in &current {
                if kind == "VIEW" {
                    Self::run(ctl, format!("DROP VIEW {}.{}", q(t), q(name))).await?;
                } else {
                    renames.push(format!("{}.{} TO {}.{}", q(t), q(name), q(o), q(name)));
                }
            }
        }
        for (name, kind) in &staged {
            if kind != "VIEW" {
                renames.push(format!("{}.{} TO {}.{}", q(s), q(name), q(t), q(name)));
            }
        }
        if !renames.is_empty() {
            tandem_error::failpoint!("mysql-before-rename");
            rename_yielding(ctl, &format!("RENAME TABLE {}", renames.join(", ")), guard.map(|g| (t.as_str(), g)))
                .await
                .context("moving the restored tables in")?;
            tandem_error::failpoint!("mysql-after-rename");
        }
        if let Some(mut conn) = role_lock {
            let _ = conn.query_drop("COMMIT").await;
            let _ = conn.disconnect().await;
        }
        Ok(())
    }

    /// After the swap: database defaults, views and triggers, cleanup.
    async fn finish(&self, ctl: &mut Conn) -> Result<()> {
        let t = &self.target;
        let mut alter = String::new();
        if let Some(cs) = &self.schema.charset {
            alter.push_str(&format!(" CHARACTER SET {cs}"));
        }
        if let Some(co) = &self.schema.collation {
            alter.push_str(&format!(" COLLATE {co}"));
        }
        if !alter.is_empty() {
            Self::run(ctl, format!("ALTER DATABASE {}{alter}", q(t))).await?;
        }
        Self::run(ctl, format!("USE {}", q(t))).await?;
        for (i, stmt) in self.schema.post_data.iter().enumerate() {
            ctl.query_drop(stmt.as_str())
                .await
                .map_err(db_err)
                .with_context(|| format!("the restored tables are in place, but post-data statement {} ({}) failed", i + 1, head(stmt)))?;
        }
        Self::run(ctl, format!("DROP DATABASE IF EXISTS {}", q(&self.old))).await?;
        Self::run(ctl, format!("DROP DATABASE IF EXISTS {}", q(&self.staging))).await?;
        Ok(())
    }
}

#[async_trait]
impl RestoreSession for MySession {
    fn parallelism(&self) -> usize {
        LOADERS
    }

    /// The control connection logs the swap (the only statements on the target database; the
    /// loads go into the staging database) with the origin's server id.
    async fn mark(&self, origin: &Origin) -> Result<bool> {
        let mut ctl = self.take_ctl()?;
        let marked = crate::apply::mark(&mut ctl, origin).await.is_ok();
        if let Ok(mut c) = self.ctl.lock() {
            *c = Some(ctl);
        }
        Ok(marked)
    }

    async fn copy_in(&self, table: &TableDef, rows: BoxStream<'static, Result<Bytes>>) -> Result<u64> {
        let name = table.display_name();
        let mut lease = self.loaders.get().await.with_context(|| format!("table {name}"))?;
        // One LOAD DATA per buffer of the stream (small transactions: the binlog cache and undo
        // log stay small); a task fetches the next buffers meanwhile.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes>>(1);
        let feeder = tokio::spawn(async move {
            let mut rows = rows;
            while let Some(item) = rows.next().await {
                let stop = item.is_err();
                if tx.send(item).await.is_err() || stop {
                    break;
                }
            }
        });
        let _abort_feeder = AbortOnDrop(feeder);
        let sql = load_sql(table);
        let mut loaded = 0u64;
        while let Some(item) = rx.recv().await {
            let data = match item {
                Ok(d) => d,
                Err(e) => {
                    self.loaders.put(lease);
                    return Err(e.context(format!("table {name}")));
                }
            };
            if data.is_empty() {
                continue;
            }
            let cell = Mutex::new(Some(data));
            lease.conn.set_infile_handler(async move {
                let data = cell.lock().ok().and_then(|mut c| c.take());
                let data = data.ok_or_else(|| mysql_async::Error::Other("LOCAL INFILE data requested twice".into()))?;
                Ok(futures::stream::once(async move { Ok::<Bytes, std::io::Error>(data) }).boxed())
            });
            if let Err(e) = lease.conn.query_drop(sql.as_str()).await {
                let code = server_code(&e);
                self.loaders.lost(lease);
                let err = match code {
                    Some(1148 | 3948 | 4166) => Error::unsupported(format!(
                        "LOAD DATA LOCAL INFILE is disabled on {} ({}); enable local_infile on the server",
                        addr(&self.url),
                        db_err(e)
                    )),
                    _ => db_err(e),
                };
                return Err(err.context(format!("table {name}")));
            }
            loaded += lease.conn.affected_rows();
            if lease.conn.get_warnings() > 0 {
                let warnings = match query_strings(&mut lease.conn, "SHOW WARNINGS").await {
                    Ok(w) => w,
                    Err(e) => {
                        self.loaders.put(lease);
                        return Err(e.context(format!("table {name}")));
                    }
                };
                let all = warnings.len();
                if let Some(w) = warnings.iter().find(|w| field(w, 0) != "Note") {
                    self.loaders.put(lease);
                    return Err(Error::new(
                        Kind::Internal,
                        format!("table {name}: the server changed loaded values ({all} warnings, first: {} {}: {})", field(w, 0), field(w, 1), field(w, 2)),
                    ));
                }
            }
        }
        // Deferred secondary indexes: one sorted build now, while other tables still load.
        if let Some(sql) = self.deferred.get(&table.name).and_then(DeferredDdl::index_sql) {
            if let Err(e) = lease.conn.query_drop(sql.as_str()).await {
                self.loaders.lost(lease);
                return Err(db_err(e).context(format!("table {name}: adding its indexes")));
            }
            if let Ok(mut done) = self.indexed.lock() {
                done.insert(table.name.clone());
            }
        }
        self.loaders.put(lease);
        Ok(loaded)
    }

    fn dialect(&self) -> &'static dyn tandem_engine::Dialect {
        &crate::MyDialect
    }

    async fn execute(&self, sql: &str) -> Result<u64> {
        let mut ctl = self.take_ctl()?;
        let result = ctl.query_drop(sql).await.map_err(db_err).with_context(|| head(sql));
        let rows = ctl.affected_rows();
        if let Ok(mut slot) = self.ctl.lock() {
            *slot = Some(ctl);
        }
        result.map(|()| rows)
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        let mut ctl = self.take_ctl()?;
        for c in self.loaders.drain() {
            let _ = c.disconnect().await;
        }
        let ctx = format!("restore into {} on {}", self.target, addr(&self.url));
        if let Err(e) = self.swap(&mut ctl).await {
            // Nothing is visible yet: drop what this session made.
            let _ = ctl.query_drop(format!("DROP DATABASE IF EXISTS {}", q(&self.staging))).await;
            let _ = ctl.query_drop(format!("DROP DATABASE IF EXISTS {}", q(&self.old))).await;
            self.finished = true;
            return Err(e.context(ctx));
        }
        self.finished = true;
        let result = self.finish(&mut ctl).await;
        let _ = ctl.disconnect().await;
        result.context(ctx)
    }

    async fn abort(mut self: Box<Self>) -> Result<()> {
        for c in self.loaders.drain() {
            let _ = c.disconnect().await;
        }
        let mut ctl = match self.take_ctl() {
            Ok(c) => c,
            Err(_) => connect(&self.url, &[]).await?,
        };
        self.finished = true;
        let r = ctl.query_drop(format!("DROP DATABASE IF EXISTS {}", q(&self.staging))).await.map_err(db_err);
        let _ = ctl.disconnect().await;
        r.with_context(|| format!("dropping staging database {}", self.staging))
    }
}

/// Locks database `db`'s role row ([`tandem_engine::role`]) on a connection of its own, in a
/// transaction left open for the caller; Conflict when the site is active. `None` when the
/// server has no role table (no site on it has a role).
async fn lock_role(url: &DbUrl, db: &str) -> Result<Option<Conn>> {
    use tandem_engine::role::{Role, SiteRole};
    let d = &crate::MyDialect;
    let mut conn = connect(url, &[]).await?;
    let exists = query_strings(&mut conn, &SiteRole::exists_sql(d)).await?;
    if exists.first().and_then(|r| r.first().cloned().flatten()).as_deref() != Some("1") {
        let _ = conn.disconnect().await;
        return Ok(None);
    }
    conn.query_drop("START TRANSACTION").await.map_err(db_err)?;
    let rows = query_strings(&mut conn, &SiteRole::lock_sql(d, db)).await.context("locking the site's role")?;
    if let Some(role) = rows.first().map(|r| SiteRole::from_row(r)).transpose()? {
        if role.role == Role::Active {
            let _ = conn.disconnect().await;
            return Err(Replace::active_site(db, &role));
        }
    }
    Ok(Some(conn))
}

/// Aborts a task when dropped (a `copy_in` that ends early stops fetching its rows).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Drop for MySession {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // Best effort: the next `begin` drops the staging database anyway.
        let ctl = self.ctl.get_mut().ok().and_then(|c| c.take());
        let staging = self.staging.clone();
        if let (Some(mut ctl), Ok(rt)) = (ctl, tokio::runtime::Handle::try_current()) {
            rt.spawn(async move {
                let _ = ctl.query_drop(format!("DROP DATABASE IF EXISTS {}", q(&staging))).await;
                let _ = ctl.disconnect().await;
            });
        }
    }
}
