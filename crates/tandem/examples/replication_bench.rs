//! Continuous replication against MariaDB's own replication, same source, same writer, same run
//! (`bench/replication.sh` builds and runs it; results in BENCHMARKS.md).
//!
//! Three throwaway MariaDB servers: the source, a native replica (`CHANGE MASTER TO` at the
//! source's position before the tables exist) and tandem's replica (`tandem replicate`, which
//! bootstraps from a backup). Then:
//! 1. **lag**: a writer inserts `--rate` rows/s (a multi-row insert every 10 ms) and stamps a
//!    heartbeat row with the source's clock; every 100 ms each replica is asked how old the
//!    heartbeat it holds is. p50 / p99 / max over `--seconds`.
//! 2. **apply rate**: both replicas stopped, `--backlog` rows inserted in transactions of 100,
//!    both started; rows / time until each holds them all.
//!
//! Usage: `replication_bench [--rate N] [--seconds N] [--backlog N]`.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tandem_testkit::{tandem_bin, Flavor, Server, PASSWORD, USER};

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
    let out = server.try_sql("bench", "SELECT TIMESTAMPDIFF(MICROSECOND, t, NOW(6)) FROM hb WHERE id = 1").ok()?;
    out.trim().parse::<f64>().ok().map(|us| us / 1000.0)
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

fn start_tandem(cfg: &std::path::Path, log: &std::path::Path) -> Child {
    let log = std::fs::File::create(log).expect("log");
    Command::new(tandem_bin())
        .args(["--config", cfg.to_str().expect("utf-8"), "replicate", "dr"])
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

/// Peak RSS of a running process, in MB.
fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|kb| kb.parse::<f64>().ok()).unwrap_or(0.0) / 1024.0
}

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
    start.elapsed()
}

fn main() {
    let a = args();
    eprintln!("starting three MariaDB servers");
    let (src, native, tgt) = (Server::start(Flavor::MariaDb), Server::start(Flavor::MariaDb), Server::start(Flavor::MariaDb));
    native.sql("mysql", "SET GLOBAL server_id = 2");
    tgt.sql("mysql", "SET GLOBAL server_id = 3");
    let status = src.sql("mysql", "SHOW MASTER STATUS");
    let mut fields = status.split('\t');
    let (file, pos) = (fields.next().expect("binlog file"), fields.next().expect("binlog position"));
    native.sql(
        "mysql",
        &format!(
            "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {}, MASTER_USER = '{USER}', MASTER_PASSWORD = '{PASSWORD}', \
             MASTER_LOG_FILE = '{file}', MASTER_LOG_POS = {pos}, MASTER_USE_GTID = no; START SLAVE;",
            src.port()
        ),
    );
    src.sql(
        "mysql",
        "CREATE DATABASE bench; USE bench; \
         CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL, v VARCHAR(100) NOT NULL, t DATETIME(6) NOT NULL); \
         CREATE TABLE hb (id INT PRIMARY KEY, t DATETIME(6) NOT NULL); INSERT INTO hb VALUES (1, NOW(6));",
    );
    tgt.sql("mysql", "CREATE DATABASE bench");
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("tandem.toml");
    std::fs::write(
        &cfg,
        format!(
            "repo = \"{}\"\n[sites.primary]\ndb = \"{}\"\n[sites.dr]\ndb = \"{}\"\nsource = \"primary\"\n",
            dir.path().join("repo").display(),
            src.url("bench"),
            tgt.url("bench")
        ),
    )
    .expect("config");
    let mut tandem = start_tandem(&cfg, &dir.path().join("replicate.log"));
    wait_until("both replicas to hold the heartbeat", Duration::from_secs(120), || heartbeat_age_ms(&native).is_some() && heartbeat_age_ms(&tgt).is_some());

    eprintln!("lag: {} rows/s for {} s", a.rate, a.seconds);
    let mut writer = src.client("bench").stdin(Stdio::piped()).stdout(Stdio::null()).spawn().expect("writer");
    let mut stdin = writer.stdin.take().expect("stdin");
    let per_tick = (a.rate / 100).max(1);
    let values: Vec<String> = (0..per_tick).map(|i| format!("({i}, REPEAT('x', 60), NOW(6))")).collect();
    let insert = format!("INSERT INTO items (k, v, t) VALUES {};\nUPDATE hb SET t = NOW(6) WHERE id = 1;\n", values.join(", "));
    let (mut lag_native, mut lag_tandem) = (Vec::new(), Vec::new());
    let start = Instant::now();
    let mut next_sample = Instant::now();
    let mut tick = Instant::now();
    while start.elapsed() < Duration::from_secs(a.seconds) {
        stdin.write_all(insert.as_bytes()).expect("write");
        tick += Duration::from_millis(10);
        if Instant::now() >= next_sample {
            lag_native.extend(heartbeat_age_ms(&native));
            lag_tandem.extend(heartbeat_age_ms(&tgt));
            next_sample += Duration::from_millis(100);
        }
        if let Some(wait) = tick.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    drop(stdin);
    let _ = writer.wait();
    let written = count(&src);
    let rss = peak_rss_mb(tandem.id());
    wait_until("both replicas to catch up", Duration::from_secs(300), || count(&native) == written && count(&tgt) == written);

    eprintln!("apply rate: a backlog of {} rows", a.backlog);
    native.sql("mysql", "STOP SLAVE");
    stop_tandem(&mut tandem);
    let mut sql = String::from("USE bench;\n");
    for _ in 0..a.backlog / 100 {
        sql.push_str("INSERT INTO items (k, v, t) SELECT seq, REPEAT('y', 60), NOW(6) FROM seq_1_to_100;\n");
    }
    src.sql("mysql", &sql);
    let target = count(&src);
    native.sql("mysql", "START SLAVE");
    let mut tandem = start_tandem(&cfg, &dir.path().join("replicate2.log"));
    let started = Instant::now();
    let (mut native_done, mut tandem_done) = (None, None);
    wait_until("both replicas to apply the backlog", Duration::from_secs(1800), || {
        if native_done.is_none() && count(&native) == target {
            native_done = Some(started.elapsed());
        }
        if tandem_done.is_none() && count(&tgt) == target {
            tandem_done = Some(started.elapsed());
        }
        native_done.is_some() && tandem_done.is_some()
    });
    let rss = rss.max(peak_rss_mb(tandem.id()));
    stop_tandem(&mut tandem);
    for s in [&src, &native, &tgt] {
        s.kill();
    }

    let stats = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (percentile(v, 0.5), percentile(v, 0.99), v.last().copied().unwrap_or(f64::NAN), v.len())
    };
    let (n50, n99, nmax, nn) = stats(&mut lag_native);
    let (t50, t99, tmax, tn) = stats(&mut lag_tandem);
    let rate = |d: Option<Duration>| a.backlog as f64 / d.map(|d| d.as_secs_f64()).unwrap_or(f64::NAN);
    let (nr, tr) = (rate(native_done), rate(tandem_done));
    println!("| measure | MariaDB replica | tandem replicate | ratio tandem/native |");
    println!("|---|---:|---:|---:|");
    println!("| lag p50 at {} rows/s (ms, {} / {} samples) | {n50:.0} | {t50:.0} | {:.2} |", a.rate, nn, tn, t50 / n50);
    println!("| lag p99 (ms) | {n99:.0} | {t99:.0} | {:.2} |", t99 / n99);
    println!("| lag max (ms) | {nmax:.0} | {tmax:.0} | {:.2} |", tmax / nmax);
    println!("| apply rate, backlog of {} rows (rows/s) | {nr:.0} | {tr:.0} | {:.2} |", a.backlog, tr / nr);
    println!("| peak RSS of tandem (MB) | | {rss:.0} | |");
}
