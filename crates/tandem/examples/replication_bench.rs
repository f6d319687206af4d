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

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tandem_testkit::{peak_rss_mib, tandem_bin, Flavor, Server};

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

/// The heartbeat's age on `server`, in milliseconds (None before it exists there). Both
/// servers' clocks are the machine's, in UTC.
fn heartbeat_age_ms(server: &Server) -> Option<f64> {
    let sql = match server.flavor() {
        Flavor::MariaDb => "SELECT TIMESTAMPDIFF(MICROSECOND, t, NOW(6)) / 1000 FROM hb WHERE id = 1",
        Flavor::Postgres => "SELECT extract(epoch FROM (now() AT TIME ZONE 'UTC') - t) * 1000 FROM hb WHERE id = 1",
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
        self.native.sql("mysql", "START SLAVE");
        for (site, _, child) in &mut self.tandem {
            *child = start_tandem(&self.cfg, site, &self.log.with_extension(*site));
        }
    }

    fn stop(&mut self) {
        self.native.sql("mysql", "STOP SLAVE");
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

fn main() {
    let a = args();
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
    let mut replicas = Replicas { native: &native, tandem: vec![("dr", &tgt, first), ("dr_pg", &pg, second)], cfg, log, rss: vec![0.0; 2] };
    wait_until("every replica to hold the heartbeat", Duration::from_secs(120), || {
        heartbeat_age_ms(&native).is_some() && heartbeat_age_ms(&tgt).is_some() && heartbeat_age_ms(&pg).is_some()
    });

    eprintln!("lag: {} rows/s for {} s", a.rate, a.seconds);
    let mut writer = src.client("bench").stdin(Stdio::piped()).stdout(Stdio::null()).spawn().expect("writer");
    let mut stdin = writer.stdin.take().expect("stdin");
    let per_tick = (a.rate / 100).max(1);
    let values: Vec<String> = (0..per_tick).map(|i| format!("({i}, REPEAT('x', 60), NOW(6))")).collect();
    let insert = format!("INSERT INTO items (k, v, t) VALUES {};\nUPDATE hb SET t = NOW(6) WHERE id = 1;\n", values.join(", "));
    let mut lags: Vec<Vec<f64>> = vec![Vec::new(); 3];
    let lagged = [&native, &tgt, &pg];
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
    let inserts = replicas.backlog(&src, "inserts", &"INSERT INTO items (k, v, t) SELECT seq, REPEAT('y', 60), NOW(6) FROM seq_1_to_100;\n".repeat(n as usize));
    let updates = replicas.backlog(&src, "updates", &ranges("UPDATE items SET k = k + 1 WHERE id BETWEEN {lo} AND {hi};\n"));
    let deletes = replicas.backlog(&src, "deletes", &ranges("DELETE FROM items WHERE id BETWEEN {lo} AND {hi};\n"));
    replicas.stop();
    for s in [&src, &native, &tgt, &pg] {
        s.kill();
    }

    let stats = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (percentile(v, 0.5), percentile(v, 0.99), v.last().copied().unwrap_or(f64::NAN), v.len())
    };
    let s: Vec<_> = lags.iter_mut().map(stats).collect();
    println!("| measure | MariaDB replica | tandem → MariaDB | ratio | tandem → PostgreSQL | ratio |");
    println!("|---|---:|---:|---:|---:|---:|");
    let row = |what: &str, v: [f64; 3]| println!("| {what} | {:.0} | {:.0} | {:.2} | {:.0} | {:.2} |", v[0], v[1], v[1] / v[0], v[2], v[2] / v[0]);
    row(&format!("lag p50 at {} rows/s (ms, {} samples)", a.rate, s[0].3), [s[0].0, s[1].0, s[2].0]);
    row("lag p99 (ms)", [s[0].1, s[1].1, s[2].1]);
    row("lag max (ms)", [s[0].2, s[1].2, s[2].2]);
    for (what, secs) in [("inserts", inserts), ("updates", updates), ("deletes", deletes)] {
        let rate = |i: usize| a.backlog as f64 / secs[i];
        row(&format!("apply rate, {} rows of {what} in transactions of 100 (rows/s)", a.backlog), [rate(0), rate(1), rate(2)]);
    }
    println!("| peak RSS of tandem (MB) | | {:.0} | | {:.0} | |", replicas.rss[0], replicas.rss[1]);
}
