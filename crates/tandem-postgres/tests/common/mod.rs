//! Helpers shared by the integration tests: in-memory backup and restore through the engine.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use tandem_engine::{DbUrl, Engine, RowSink, SchemaDump, SnapshotInfo, SnapshotOptions};
use tandem_error::Result;
use tandem_postgres::Postgres;
use tandem_testkit::{Flavor, Server};

pub fn server() -> &'static Server {
    Server::shared(Flavor::Postgres)
}

pub fn url(db: &str) -> DbUrl {
    DbUrl::parse(&server().url(db)).expect("url")
}

/// Collects buffers and checks that each holds whole rows.
#[derive(Default)]
pub struct MemSink {
    pub bufs: Vec<Bytes>,
    pub delay_ms: u64,
}

#[async_trait]
impl RowSink for MemSink {
    async fn write(&mut self, rows: Bytes) -> Result<()> {
        assert!(rows.last() == Some(&b'\n'), "buffer does not end with a whole row");
        self.bufs.push(rows);
        if self.delay_ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(self.delay_ms)).await;
        }
        Ok(())
    }
}

/// A backup held in memory.
pub struct Backup {
    pub info: SnapshotInfo,
    pub schema: SchemaDump,
    /// table display name → (buffers, row count)
    pub data: BTreeMap<String, (Vec<Bytes>, u64)>,
}

/// Snapshot + copy_out of every table, `parallelism` tables at a time.
pub async fn backup(db: &str, parallelism: usize, delay_ms: u64) -> Backup {
    let snap = Postgres.snapshot(&url(db), &SnapshotOptions::parallel(parallelism)).await.expect("snapshot");
    let schema = snap.schema().clone();
    let info = snap.info().clone();
    let snap_ref = &snap;
    let results: Vec<(String, Vec<Bytes>, u64)> = futures::stream::iter(schema.tables.clone())
        .map(|t| async move {
            let mut sink = MemSink { delay_ms, ..Default::default() };
            let n = snap_ref.copy_out(&t, &mut sink).await.expect("copy_out");
            (t.display_name(), sink.bufs, n)
        })
        .buffer_unordered(parallelism)
        .collect()
        .await;
    snap.close().await.expect("close");
    Backup { info, schema, data: results.into_iter().map(|(n, b, c)| (n, (b, c))).collect() }
}

/// Restores `backup` into `db` and commits.
pub async fn restore(db: &str, backup: &Backup, replace: bool) -> Result<()> {
    let target = Postgres.target(&url(db)).await?;
    let session = target.begin(&backup.schema, if replace { tandem_engine::Replace::Always } else { tandem_engine::Replace::Never }).await?;
    for t in &backup.schema.tables {
        let (bufs, rows) = backup.data.get(&t.display_name()).cloned().unwrap_or_default();
        let n = session.copy_in(t, futures::stream::iter(bufs.into_iter().map(Ok)).boxed()).await?;
        assert_eq!(n, rows, "rows of {}", t.display_name());
    }
    session.commit().await
}

/// Fingerprint of a table's content.
pub fn table_md5(db: &str, table: &str) -> String {
    server().sql(db, &format!("SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM {table} t"))
}

fn pg_dump() -> PathBuf {
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir("/usr/lib/postgresql").map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).collect()).unwrap_or_default();
    dirs.sort();
    dirs.iter().rev().map(|d| d.join("pg_dump")).find(|p| p.exists()).unwrap_or_else(|| "pg_dump".into())
}

/// `pg_dump --schema-only` of `db` without comments, settings and blank lines.
pub fn schema_text(db: &str) -> String {
    let (args, env) = server().tool_args(db);
    let out = Command::new(pg_dump()).args(["--schema-only", "--no-owner", "--no-privileges"]).args(&args).envs(env).output().expect("pg_dump");
    assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            !(l.is_empty()
                || l.starts_with("--")
                || l.starts_with("SET ")
                || l.starts_with("SELECT pg_catalog.set_config")
                || l.starts_with("\\restrict")
                || l.starts_with("\\unrestrict"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}
