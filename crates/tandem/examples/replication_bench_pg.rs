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

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tandem_testkit::{peak_rss_mib, tandem_bin, Flavor, Server, PASSWORD, USER};

struct Args {
    rate: u64,
    seconds: u64,
    backlog: u64,
}

fn args() -> Args {
    let mut a = Args { rate: 2000, seconds: 60, backlog: 200_000 };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let value = pair.get(1).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{} needs a number", pair[0]));
        match pair[0].as_str() {
            "--rate" => a.rate = value,
            "--seconds" => a.seconds = value,
            "--backlog" => a.backlog = value,
            other => panic!("unknown option {other}"),
        }
    }
    a
}

/// The heartbeat's age on `server`, in milliseconds (None before it exists there).
fn heartbeat_age_ms(server: &Server) -> Option<f64> {
    let sql = match server.flavor() {
        Flavor::MariaDb => "SELECT TIMESTAMPDIFF(MICROSECOND, t, UTC_TIMESTAMP(6)) / 1000 FROM hb WHERE id = 1",
        Flavor::Postgres => "SELECT extract(epoch FROM clock_timestamp() - t) * 1000 FROM hb WHERE id = 1",
    };
    server.try_sql("bench", sql).ok()?.trim().parse::<f64>().ok()
}

/// What the backlog phases wait for: the same row count and sum of `k` as the source.
fn digest(server: &Server) -> String {
    server.try_sql("bench", "SELECT COUNT(*), COALESCE(SUM(k), 0) FROM items").unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ")
}

fn count(server: &Server) -> u64 {
    server.try_sql("bench", "SELECT COUNT(*) FROM items").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

/// The most WAL any slot on `src` keeps now, in MB.
fn slot_wal_mb(src: &Server) -> f64 {
    src.try_sql("postgres", "SELECT COALESCE(max(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)), 0) / 1e6 FROM pg_replication_slots")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn start_tandem(cfg: &std::path::Path, site: &str, log: &std::path::Path) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("log");
    Command::new(tandem_bin())
        .args(["--config", cfg.to_str().expect("utf-8"), "replicate", site])
        .stdout(Stdio::from(log.try_clone().expect("log")))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start tandem replicate")
}

fn stop_tandem(child: &mut Child) {
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
}

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
    start.elapsed()
}

/// The replicas under measurement, named as in the table.
struct Replicas<'a> {
    native: &'a Server,
    tandem: Vec<(&'static str, &'a Server, Child)>,
    cfg: std::path::PathBuf,
    log: std::path::PathBuf,
    rss: Vec<f64>,
}

impl Replicas<'_> {
    fn start(&mut self) {
        self.native.sql("bench", "ALTER SUBSCRIPTION native ENABLE");
        for (site, _, child) in &mut self.tandem {
            *child = start_tandem(&self.cfg, site, &self.log.with_extension(*site));
        }
    }

    fn stop(&mut self) {
        self.native.sql("bench", "ALTER SUBSCRIPTION native DISABLE");
        for (i, (_, _, child)) in self.tandem.iter_mut().enumerate() {
            self.rss[i] = self.rss[i].max(peak_rss_mib(child.id()));
            stop_tandem(child);
        }
    }

    /// With every replica stopped, runs `sql` at the source; then starts them and measures how
    /// long each takes to reach the source's digest: seconds, native first.
    fn backlog(&mut self, src: &Server, what: &str, sql: &str) -> Vec<f64> {
        eprintln!("apply rate: {what}");
        self.stop();
        src.sql("bench", sql);
        let want = digest(src);
        self.start();
        let started = Instant::now();
        let mut servers: Vec<&Server> = vec![self.native];
        servers.extend(self.tandem.iter().map(|t| t.1));
        let mut done: Vec<Option<f64>> = vec![None; servers.len()];
        wait_until(what, Duration::from_secs(1800), || {
            for (d, s) in done.iter_mut().zip(&servers) {
                if d.is_none() && digest(s) == want {
                    *d = Some(started.elapsed().as_secs_f64());
                }
            }
            done.iter().all(Option::is_some)
        });
        done.into_iter().map(|d| d.unwrap_or(f64::NAN)).collect()
    }
}

const SCHEMA: &str = "CREATE TABLE items (id BIGSERIAL PRIMARY KEY, k INT NOT NULL, v VARCHAR(100) NOT NULL, t TIMESTAMPTZ NOT NULL); \
                      CREATE TABLE hb (id INT PRIMARY KEY, t TIMESTAMPTZ NOT NULL);";

fn main() {
    let a = args();
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
    let mut replicas = Replicas { native: &native, tandem: vec![("dr", &tgt, first), ("dr_my", &my, second)], cfg, log, rss: vec![0.0; 2] };
    wait_until("every replica to hold the heartbeat", Duration::from_secs(120), || {
        heartbeat_age_ms(&native).is_some() && heartbeat_age_ms(&tgt).is_some() && heartbeat_age_ms(&my).is_some()
    });

    eprintln!("lag: {} rows/s for {} s", a.rate, a.seconds);
    let mut writer = src.client("bench").stdin(Stdio::piped()).stdout(Stdio::null()).spawn().expect("writer");
    let mut stdin = writer.stdin.take().expect("stdin");
    let per_tick = (a.rate / 100).max(1);
    let insert = format!(
        "INSERT INTO items (k, v, t) SELECT i, repeat('x', 60), clock_timestamp() FROM generate_series(1, {per_tick}) i;\n\
         UPDATE hb SET t = clock_timestamp() WHERE id = 1;\n"
    );
    let mut lags: Vec<Vec<f64>> = vec![Vec::new(); 3];
    let lagged = [&native, &tgt, &my];
    let mut wal_mb: f64 = 0.0;
    let start = Instant::now();
    let mut next_sample = Instant::now();
    let mut tick = Instant::now();
    while start.elapsed() < Duration::from_secs(a.seconds) {
        stdin.write_all(insert.as_bytes()).expect("write");
        tick += Duration::from_millis(10);
        if Instant::now() >= next_sample {
            for (l, s) in lags.iter_mut().zip(lagged) {
                l.extend(heartbeat_age_ms(s));
            }
            wal_mb = wal_mb.max(slot_wal_mb(&src));
            next_sample += Duration::from_millis(100);
        }
        if let Some(wait) = tick.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    drop(stdin);
    let _ = writer.wait();
    let written = count(&src);
    wait_until("every replica to catch up", Duration::from_secs(300), || lagged.iter().all(|s| count(s) == written));

    let n = a.backlog / 100;
    let first_id: u64 = src.sql("bench", "SELECT MIN(id) FROM items").trim().parse().expect("min id");
    let ranges = |stmt: &str| {
        (0..n).map(|i| stmt.replace("{lo}", &(first_id + i * 100).to_string()).replace("{hi}", &(first_id + i * 100 + 99).to_string())).collect::<String>()
    };
    let insert_100 = "INSERT INTO items (k, v, t) SELECT i, repeat('y', 60), clock_timestamp() FROM generate_series(1, 100) i;\n";
    let inserts = replicas.backlog(&src, "inserts", &insert_100.repeat(n as usize));
    let updates = replicas.backlog(&src, "updates", &ranges("UPDATE items SET k = k + 1 WHERE id BETWEEN {lo} AND {hi};\n"));
    let deletes = replicas.backlog(&src, "deletes", &ranges("DELETE FROM items WHERE id BETWEEN {lo} AND {hi};\n"));
    replicas.stop();
    for s in [&src, &native, &tgt, &my] {
        s.kill();
    }

    let stats = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (percentile(v, 0.5), percentile(v, 0.99), v.last().copied().unwrap_or(f64::NAN), v.len())
    };
    let s: Vec<_> = lags.iter_mut().map(stats).collect();
    println!("| measure | PostgreSQL subscriber | tandem → PostgreSQL | ratio | tandem → MariaDB | ratio |");
    println!("|---|---:|---:|---:|---:|---:|");
    let row = |what: &str, v: [f64; 3]| println!("| {what} | {:.0} | {:.0} | {:.2} | {:.0} | {:.2} |", v[0], v[1], v[1] / v[0], v[2], v[2] / v[0]);
    row(&format!("lag p50 at {} rows/s (ms, {} samples)", a.rate, s[0].3), [s[0].0, s[1].0, s[2].0]);
    row("lag p99 (ms)", [s[0].1, s[1].1, s[2].1]);
    row("lag max (ms)", [s[0].2, s[1].2, s[2].2]);
    for (what, secs) in [("inserts", inserts), ("updates", updates), ("deletes", deletes)] {
        let rate = |i: usize| a.backlog as f64 / secs[i];
        row(&format!("apply rate, {} rows of {what} in transactions of 100 (rows/s)", a.backlog), [rate(0), rate(1), rate(2)]);
    }
    println!("| most WAL kept by any slot during the lag run (MB) | {wal_mb:.1} | | | | |");
    println!("| peak RSS of tandem (MB) | | {:.0} | | {:.0} | |", replicas.rss[0], replicas.rss[1]);
}
