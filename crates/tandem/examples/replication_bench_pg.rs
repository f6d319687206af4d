//! Continuous replication from PostgreSQL against PostgreSQL's own logical replication (a
//! `CREATE SUBSCRIPTION` subscriber), same source, same writer, same run
//! (`bench/replication-pg.sh` builds and runs it; results in BENCHMARKS.md).
//!
//! Three throwaway PostgreSQL servers and a MariaDB one: the source, a native subscriber (its
//! publication's initial copy, then streaming) and two tandem replicas (`tandem replicate`,
//! which bootstraps through its own slot): PostgreSQL (same engine) and MariaDB (cross-engine).
//! Then:
//! 1. **lag**: a writer inserts `--rate` rows/s (a multi-row insert every 10 ms) and stamps a
//!    heartbeat row with the source's clock; every 100 ms each replica is asked how old the
//!    heartbeat it holds is. p50 / p99 / max over `--seconds`, and the most WAL any slot kept.
//! 2. **apply rates**: every replica stopped (the subscription disabled), a backlog made at the
//!    source in transactions of 100 rows (`--backlog` inserted rows, then as many updated, then
//!    deleted), every replica started; rows / time until each holds the source's state.
//!
//! Usage: `replication_bench_pg [--rate N] [--seconds N] [--backlog N]`.

#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use common::{start_tandem, wait_until, Replicas};
use tandem_testkit::{Flavor, Server, PASSWORD, USER};

/// The heartbeat's age on `server`, in milliseconds (None before it exists there).
fn heartbeat_age_ms(server: &Server) -> Option<f64> {
    let sql = match server.flavor() {
        Flavor::MariaDb => "SELECT TIMESTAMPDIFF(MICROSECOND, t, UTC_TIMESTAMP(6)) / 1000 FROM hb WHERE id = 1",
        Flavor::Postgres => "SELECT extract(epoch FROM clock_timestamp() - t) * 1000 FROM hb WHERE id = 1",
    };
    server.try_sql("bench", sql).ok()?.trim().parse::<f64>().ok()
}

/// The most WAL any slot on `src` keeps now, in MB.
fn slot_wal_mb(src: &Server) -> f64 {
    src.try_sql("postgres", "SELECT COALESCE(max(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)), 0) / 1e6 FROM pg_replication_slots")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0.0)
}

const SCHEMA: &str = "CREATE TABLE items (id BIGSERIAL PRIMARY KEY, k INT NOT NULL, v VARCHAR(100) NOT NULL, t TIMESTAMPTZ NOT NULL); \
                      CREATE TABLE hb (id INT PRIMARY KEY, t TIMESTAMPTZ NOT NULL);";

fn main() {
    let a = common::args();
    eprintln!("starting three PostgreSQL servers and a MariaDB one");
    let (src, native, tgt, my) =
        (Server::start(Flavor::Postgres), Server::start(Flavor::Postgres), Server::start(Flavor::Postgres), Server::start(Flavor::MariaDb));
    for s in [&src, &native, &tgt] {
        s.sql("postgres", "CREATE DATABASE bench");
    }
    my.sql("mysql", "CREATE DATABASE bench");
    src.sql("bench", &format!("{SCHEMA} INSERT INTO hb VALUES (1, clock_timestamp()); CREATE PUBLICATION native FOR TABLE items, hb;"));
    native.sql("bench", SCHEMA);
    native.sql(
        "bench",
        &format!("CREATE SUBSCRIPTION native CONNECTION 'host=127.0.0.1 port={} user={USER} password={PASSWORD} dbname=bench' PUBLICATION native", src.port()),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("tandem.toml");
    std::fs::write(
        &cfg,
        format!(
            "repo = \"{}\"\n[sites.primary]\ndb = \"{}\"\n[sites.dr]\ndb = \"{}\"\nsource = \"primary\"\n[sites.dr_my]\ndb = \"{}\"\nsource = \"primary\"\n",
            dir.path().join("repo").display(),
            src.url("bench"),
            tgt.url("bench"),
            my.url("bench")
        ),
    )
    .expect("config");
    let log = dir.path().join("replicate.log");
    let first = start_tandem(&cfg, "dr", &log.with_extension("dr"));
    wait_until("the PostgreSQL replica's bootstrap", Duration::from_secs(120), || heartbeat_age_ms(&tgt).is_some());
    let second = start_tandem(&cfg, "dr_my", &log.with_extension("dr_my"));
    let mut replicas = Replicas {
        native: &native,
        native_start: ("bench", "ALTER SUBSCRIPTION native ENABLE"),
        native_stop: ("bench", "ALTER SUBSCRIPTION native DISABLE"),
        tandem: vec![("dr", &tgt, first), ("dr_my", &my, second)],
        cfg,
        log,
        rss: vec![0.0; 2],
    };
    wait_until("every replica to hold the heartbeat", Duration::from_secs(120), || {
        heartbeat_age_ms(&native).is_some() && heartbeat_age_ms(&tgt).is_some() && heartbeat_age_ms(&my).is_some()
    });

    eprintln!("lag: {} rows/s for {} s", a.rate, a.seconds);
    let per_tick = (a.rate / 100).max(1);
    // The test servers run with synchronous_commit = off, under which a commit reaches the
    // WAL senders only with the WAL writer's next flush (up to 200 ms): the writer commits
    // synchronously, as a production primary does.
    let tick = format!(
        "SET synchronous_commit = on; INSERT INTO items (k, v, t) SELECT i, repeat('x', 60), clock_timestamp() FROM generate_series(1, {per_tick}) i;\n\
         UPDATE hb SET t = clock_timestamp() WHERE id = 1;\n"
    );
    let mut wal_mb: f64 = 0.0;
    let mut lags = common::write_and_sample(&src, &tick, a.seconds, &[&native, &tgt, &my], heartbeat_age_ms, || wal_mb = wal_mb.max(slot_wal_mb(&src)));
    let rates =
        replicas.backlogs(&src, a.backlog, "INSERT INTO items (k, v, t) SELECT i, repeat('y', 60), clock_timestamp() FROM generate_series(1, 100) i;\n");
    replicas.stop();
    for s in [&src, &native, &tgt, &my] {
        s.kill();
    }

    let wal = format!("| most WAL kept by any slot during the lag run (MB) | {wal_mb:.1} | | | | |");
    common::print_table(["PostgreSQL subscriber", "tandem → PostgreSQL", "tandem → MariaDB"], &a, &mut lags, &rates, &[wal], &replicas.rss);
}
