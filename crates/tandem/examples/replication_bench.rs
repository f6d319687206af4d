//! Continuous replication against MariaDB's own replication, same source, same writer, same run
//! (`bench/replication.sh` builds and runs it; results in BENCHMARKS.md).
//!
//! Three throwaway MariaDB servers and a PostgreSQL one: the source, a native replica (`CHANGE
//! MASTER TO` at the source's position before the tables exist) and two tandem replicas
//! (`tandem replicate`, which bootstraps from a backup): MariaDB (same engine) and PostgreSQL
//! (cross-engine). Then:
//! 1. **lag**: a writer inserts `--rate` rows/s (a multi-row insert every 10 ms) and stamps a
//!    heartbeat row with the source's clock; every 100 ms each replica is asked how old the
//!    heartbeat it holds is. p50 / p99 / max over `--seconds`.
//! 2. **apply rates**: every replica stopped, a backlog made at the source in transactions of
//!    100 rows (`--backlog` inserted rows, then as many updated, then deleted), every replica
//!    started; rows / time until each holds the source's state.
//!
//! Usage: `replication_bench [--rate N] [--seconds N] [--backlog N]`.

#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use common::{start_tandem, wait_until, Replicas};
use tandem_testkit::{Flavor, Server};

/// The heartbeat's age on `server`, in milliseconds (None before it exists there). Both
/// servers' clocks are the machine's, in UTC.
fn heartbeat_age_ms(server: &Server) -> Option<f64> {
    let sql = match server.flavor() {
        Flavor::MariaDb => "SELECT TIMESTAMPDIFF(MICROSECOND, t, NOW(6)) / 1000 FROM hb WHERE id = 1",
        Flavor::Postgres => "SELECT extract(epoch FROM (now() AT TIME ZONE 'UTC') - t) * 1000 FROM hb WHERE id = 1",
    };
    server.try_sql("bench", sql).ok()?.trim().parse::<f64>().ok()
}

fn main() {
    let a = common::args();
    eprintln!("starting three MariaDB servers and a PostgreSQL one");
    let (src, native, tgt, pg) =
        (Server::start(Flavor::MariaDb), Server::start(Flavor::MariaDb), Server::start(Flavor::MariaDb), Server::start(Flavor::Postgres));
    native.sql("mysql", "SET GLOBAL server_id = 2");
    tgt.sql("mysql", "SET GLOBAL server_id = 3");
    let status = src.sql("mysql", "SHOW MASTER STATUS");
    let mut fields = status.split('\t');
    let (file, pos) = (fields.next().expect("binlog file"), fields.next().expect("binlog position"));
    native.replicate_from(&src, file, pos);
    src.sql(
        "mysql",
        "CREATE DATABASE bench; USE bench; \
         CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL, v VARCHAR(100) NOT NULL, t DATETIME(6) NOT NULL); \
         CREATE TABLE hb (id INT PRIMARY KEY, t DATETIME(6) NOT NULL); INSERT INTO hb VALUES (1, NOW(6));",
    );
    tgt.sql("mysql", "CREATE DATABASE bench");
    pg.sql("postgres", "CREATE DATABASE bench");
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("tandem.toml");
    std::fs::write(
        &cfg,
        format!(
            "repo = \"{}\"\n[sites.primary]\ndb = \"{}\"\n[sites.dr]\ndb = \"{}\"\nsource = \"primary\"\n[sites.dr_pg]\ndb = \"{}\"\nsource = \"primary\"\n",
            dir.path().join("repo").display(),
            src.url("bench"),
            tgt.url("bench"),
            pg.url("bench")
        ),
    )
    .expect("config");
    let log = dir.path().join("replicate.log");
    // One bootstrap at a time: both take a backup of the source.
    let first = start_tandem(&cfg, "dr", &log.with_extension("dr"));
    wait_until("the MariaDB replica's bootstrap", Duration::from_secs(120), || heartbeat_age_ms(&tgt).is_some());
    let second = start_tandem(&cfg, "dr_pg", &log.with_extension("dr_pg"));
    let mut replicas = Replicas {
        native: &native,
        native_start: ("mysql", "START SLAVE"),
        native_stop: ("mysql", "STOP SLAVE"),
        tandem: vec![("dr", &tgt, first), ("dr_pg", &pg, second)],
        cfg,
        log,
        rss: vec![0.0; 2],
    };
    wait_until("every replica to hold the heartbeat", Duration::from_secs(120), || {
        heartbeat_age_ms(&native).is_some() && heartbeat_age_ms(&tgt).is_some() && heartbeat_age_ms(&pg).is_some()
    });

    eprintln!("lag: {} rows/s for {} s", a.rate, a.seconds);
    let per_tick = (a.rate / 100).max(1);
    let values: Vec<String> = (0..per_tick).map(|i| format!("({i}, REPEAT('x', 60), NOW(6))")).collect();
    let tick = format!("INSERT INTO items (k, v, t) VALUES {};\nUPDATE hb SET t = NOW(6) WHERE id = 1;\n", values.join(", "));
    let mut lags = common::write_and_sample(&src, &tick, a.seconds, &[&native, &tgt, &pg], heartbeat_age_ms, || {});
    let rates = replicas.backlogs(&src, a.backlog, "INSERT INTO items (k, v, t) SELECT seq, REPEAT('y', 60), NOW(6) FROM seq_1_to_100;\n");
    replicas.stop();
    for s in [&src, &native, &tgt, &pg] {
        s.kill();
    }

    common::print_table(["MariaDB replica", "tandem → MariaDB", "tandem → PostgreSQL"], &a, &mut lags, &rates, &[], &replicas.rss);
}
