//! Not a test: `cargo test -p tandem-postgres --release --test bench -- --ignored --nocapture`
//! prints backup/restore times of the engine next to pg_dump -Fd -j2 / pg_restore -j2.

mod common;

use std::process::Command;
use std::time::Instant;

use common::*;

fn pg_tool(name: &str) -> std::path::PathBuf {
    let mut dirs: Vec<_> = std::fs::read_dir("/usr/lib/postgresql").expect("pg dir").filter_map(|e| e.ok()).map(|e| e.path().join("bin")).collect();
    dirs.sort();
    dirs.pop().expect("pg bin").join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn bench_vs_pg_dump() {
    let s = server();
    let src = s.create_database("pg_bench_src");
    let dst = s.create_database("pg_bench_dst");
    let dst2 = s.create_database("pg_bench_dst2");
    let rows: i64 = std::env::var("BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    s.sql(&src, &format!(
        "CREATE TABLE sds (sd_id bigint PRIMARY KEY, location varchar(4000), input_format varchar(4000), cd_id bigint, is_compressed boolean);
         INSERT INTO sds SELECT g, 'hdfs://nn/warehouse/db.db/t' || g, 'org.apache.hadoop.mapred.TextInputFormat', g / 10, g % 2 = 0 FROM generate_series(1, {rows}) g;
         CREATE INDEX sds_cd ON sds (cd_id);
         CREATE TABLE params (id bigint, k varchar(256), v text, PRIMARY KEY (id, k));
         INSERT INTO params SELECT g, 'key' || (g % 7), md5(g::text) || md5((g+1)::text) FROM generate_series(1, {rows}) g;
         VACUUM ANALYZE;"
    ));
    let t = Instant::now();
    let b = backup(&src, 2, 0).await;
    let ours_backup = t.elapsed();
    let t = Instant::now();
    {
        use futures::StreamExt;
        use tandem_engine::Engine;
        let target = tandem_postgres::Postgres.target(&url(&dst)).await.expect("target");
        let session = target.begin(&b.schema, false).await.expect("begin");
        for t in &b.schema.tables {
            let t0 = Instant::now();
            let bufs = b.data[&t.display_name()].0.clone();
            session.copy_in(t, futures::stream::iter(bufs.into_iter().map(Ok)).boxed()).await.expect("copy");
            eprintln!("copy_in {}: {:?}", t.display_name(), t0.elapsed());
        }
        let t0 = Instant::now();
        session.commit().await.expect("commit");
        eprintln!("commit (post-data): {:?}", t0.elapsed());
    }
    let ours_restore = t.elapsed();

    let dir = tempfile_dir();
    let (args, env) = s.tool_args(&src);
    let t = Instant::now();
    let st = Command::new(pg_tool("pg_dump")).args(["-Fd", "-j2", "-Z0", "-f"]).arg(&dir).args(&args).envs(env.clone()).status().expect("pg_dump");
    assert!(st.success());
    let their_backup = t.elapsed();
    let (args2, _) = s.tool_args(&dst2);
    let t = Instant::now();
    let st = Command::new(pg_tool("pg_restore")).args(["-j2"]).args(&args2).arg(&dir).envs(env).status().expect("pg_restore");
    assert!(st.success());
    let their_restore = t.elapsed();
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("rows per table {rows}: backup ours {ours_backup:?} vs pg_dump -Fd -j2 -Z0 {their_backup:?}; restore ours {ours_restore:?} vs pg_restore -j2 {their_restore:?}");
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("tandem-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}
