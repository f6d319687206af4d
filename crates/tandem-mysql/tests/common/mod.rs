//! Helpers shared by the integration tests: in-memory backups and restores.
#![allow(dead_code)]

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, StreamExt};
use tandem_engine::{DbUrl, Engine, RowSink, SchemaDump, SnapshotInfo, SnapshotOptions, TableDef};
use tandem_error::Result;
use tandem_mysql::MySql;
use tandem_testkit::{Flavor, Server};

pub fn server() -> &'static Server {
    Server::shared(Flavor::MariaDb)
}

pub fn url(db: &str) -> DbUrl {
    DbUrl::parse(&server().url(db)).expect("url")
}

/// Collects buffers in memory and checks they hold whole rows.
#[derive(Default)]
pub struct MemSink(pub Vec<Bytes>);

#[async_trait]
impl RowSink for MemSink {
    async fn write(&mut self, rows: Bytes) -> Result<()> {
        assert_eq!(rows.last(), Some(&b'\n'), "buffers end with a whole row");
        self.0.push(rows);
        Ok(())
    }
}

pub struct Backup {
    pub info: SnapshotInfo,
    pub schema: SchemaDump,
    pub data: Vec<(TableDef, Vec<Bytes>, u64)>,
}

/// Snapshot + copy_out of every table.
pub async fn backup(db: &str, parallelism: usize) -> Backup {
    let snap = MySql.snapshot(&url(db), &SnapshotOptions::parallel(parallelism)).await.expect("snapshot");
    let mut data = Vec::new();
    for t in snap.schema().tables.clone() {
        let mut sink = MemSink::default();
        let n = snap.copy_out(&t, &mut sink).await.expect("copy_out");
        data.push((t, sink.0, n));
    }
    let b = Backup { info: snap.info().clone(), schema: snap.schema().clone(), data };
    snap.close().await.expect("close");
    b
}

/// begin + copy_in of every table + commit.
pub async fn restore(b: &Backup, db: &str, replace: bool) -> Result<()> {
    let target = MySql.target(&url(db)).await?;
    let session = target.begin(&b.schema, if replace { tandem_engine::Replace::Always } else { tandem_engine::Replace::Never }).await?;
    for (t, chunks, n) in &b.data {
        let s = stream::iter(chunks.clone().into_iter().map(Ok)).boxed();
        let loaded = session.copy_in(t, s).await?;
        assert_eq!(loaded, *n, "rows loaded into {}", t.name);
    }
    session.commit().await
}

/// Names of databases on the server starting with `prefix`.
pub fn databases_like(prefix: &str) -> Vec<String> {
    let out = server().sql("mysql", &format!("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE '{prefix}%'"));
    out.lines().map(str::to_string).filter(|s| !s.is_empty()).collect()
}

/// `CHECKSUM TABLE` of `db.t`.
pub fn checksum(db: &str, t: &str) -> String {
    let out = server().sql(db, &format!("CHECKSUM TABLE `{t}`"));
    out.split('\t').nth(1).unwrap_or("").to_string()
}

/// `SHOW CREATE TABLE` without the AUTO_INCREMENT counter.
pub fn create_table(db: &str, t: &str) -> String {
    let out = server().sql(db, &format!("SHOW CREATE TABLE `{t}`"));
    let mut s = out.split_once('\t').map(|x| x.1.to_string()).unwrap_or(out);
    if let Some(i) = s.find(" AUTO_INCREMENT=") {
        let end = s[i + 1..].find(' ').map(|e| i + 1 + e).unwrap_or(s.len());
        s.replace_range(i..end, "");
    }
    s
}
