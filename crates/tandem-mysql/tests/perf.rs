//! Rough throughput check against mysqldump (run with `--ignored --nocapture`, release mode).

mod common;

use std::time::Instant;

use common::*;

#[tokio::test]
#[ignore]
async fn copy_out_and_in_against_mysqldump() {
    let s = server();
    let src = s.create_database("perf_src");
    s.sql(
        &src,
        "CREATE TABLE p (id BIGINT PRIMARY KEY, a VARCHAR(200), b BIGINT, c DATETIME, d TEXT) ENGINE=InnoDB;
         INSERT INTO p SELECT seq, CONCAT('location gs://bucket/warehouse/db.db/table_', seq), seq * 7, NOW(), REPEAT('x', seq % 300) FROM seq_1_to_500000;",
    );
    let t0 = Instant::now();
    let b = backup(&src, 2).await;
    let ours = t0.elapsed();
    let bytes: usize = b.data.iter().flat_map(|d| d.1.iter()).map(|c| c.len()).sum();
    let (args, _) = s.tool_args(&src);
    let t0 = Instant::now();
    let out = std::process::Command::new("mariadb-dump").arg(&args[0]).args(["--single-transaction", "--quick"]).args(&args[1..]).output().expect("mariadb-dump");
    let dump = t0.elapsed();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dst = s.create_database("perf_dst");
    let t0 = Instant::now();
    restore(&b, &dst, false).await.expect("restore");
    let load = t0.elapsed();
    let dst2 = s.create_database("perf_dst2");
    let t0 = Instant::now();
    let mut c = s.client(&dst2);
    c.stdin(std::process::Stdio::piped());
    let mut child = c.spawn().expect("client");
    {
        use std::io::Write;
        child.stdin.take().expect("stdin").write_all(&out.stdout).expect("write");
    }
    assert!(child.wait().expect("wait").success());
    let reload = t0.elapsed();
    eprintln!(
        "copy_out {ours:?} ({} MB) vs mariadb-dump {dump:?} ({} MB): ratio {:.2}; restore {load:?} vs client reload {reload:?}: ratio {:.2}",
        bytes / 1_000_000,
        out.stdout.len() / 1_000_000,
        ours.as_secs_f64() / dump.as_secs_f64(),
        load.as_secs_f64() / reload.as_secs_f64()
    );
}
