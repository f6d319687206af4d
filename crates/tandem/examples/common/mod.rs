//! What the replication benchmarks share: `tandem replicate` children, waiting, percentiles, and
//! the measured replicas (a native one and tandem's) with the backlog phase.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tandem_testkit::{peak_rss_mib, tandem_bin, Server};

pub struct Args {
    pub rate: u64,
    pub seconds: u64,
    pub backlog: u64,
}

/// `[--rate N] [--seconds N] [--backlog N]`: 2000 rows/s for 60 s and 200 000 rows by default.
pub fn args() -> Args {
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

/// What the backlog phases wait for: the same row count and sum of `k` as the source.
pub fn digest(server: &Server) -> String {
    server.try_sql("bench", "SELECT COUNT(*), COALESCE(SUM(k), 0) FROM items").unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn count(server: &Server) -> u64 {
    server.try_sql("bench", "SELECT COUNT(*) FROM items").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// p50, p99, max and the number of samples.
pub fn stats(v: &mut [f64]) -> (f64, f64, f64, usize) {
    v.sort_by(f64::total_cmp);
    (percentile(v, 0.5), percentile(v, 0.99), v.last().copied().unwrap_or(f64::NAN), v.len())
}

pub fn start_tandem(cfg: &std::path::Path, site: &str, log: &std::path::Path) -> Child {
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

pub fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
    start.elapsed()
}

/// The replicas under measurement, named as in the table: the native replica (started and
/// stopped by SQL on it) and tandem's.
pub struct Replicas<'a> {
    pub native: &'a Server,
    /// The native replica's start and stop: (database, statement).
    pub native_start: (&'static str, &'static str),
    pub native_stop: (&'static str, &'static str),
    pub tandem: Vec<(&'static str, &'a Server, Child)>,
    pub cfg: std::path::PathBuf,
    pub log: std::path::PathBuf,
    pub rss: Vec<f64>,
}

impl Replicas<'_> {
    fn start(&mut self) {
        self.native.sql(self.native_start.0, self.native_start.1);
        for (site, _, child) in &mut self.tandem {
            *child = start_tandem(&self.cfg, site, &self.log.with_extension(*site));
        }
    }

    pub fn stop(&mut self) {
        self.native.sql(self.native_stop.0, self.native_stop.1);
        for (i, (_, _, child)) in self.tandem.iter_mut().enumerate() {
            self.rss[i] = self.rss[i].max(peak_rss_mib(child.id()));
            stop_tandem(child);
        }
    }

    /// With every replica stopped, runs `sql` at the source; then starts them and measures how
    /// long each takes to reach the source's digest: seconds, native first.
    pub fn backlog(&mut self, src: &Server, what: &str, sql: &str) -> Vec<f64> {
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

    /// The backlog phases: `n` transactions of 100 inserted rows (`insert_100`), then the same
    /// rows updated and deleted by id ranges; seconds per phase, native first.
    pub fn backlogs(&mut self, src: &Server, backlog: u64, insert_100: &str) -> [(&'static str, Vec<f64>); 3] {
        let n = backlog / 100;
        let first_id: u64 = src.sql("bench", "SELECT MIN(id) FROM items").trim().parse().expect("min id");
        let ranges = |stmt: &str| {
            (0..n).map(|i| stmt.replace("{lo}", &(first_id + i * 100).to_string()).replace("{hi}", &(first_id + i * 100 + 99).to_string())).collect::<String>()
        };
        let inserts = self.backlog(src, "inserts", &insert_100.repeat(n as usize));
        let updates = self.backlog(src, "updates", &ranges("UPDATE items SET k = k + 1 WHERE id BETWEEN {lo} AND {hi};\n"));
        let deletes = self.backlog(src, "deletes", &ranges("DELETE FROM items WHERE id BETWEEN {lo} AND {hi};\n"));
        [("inserts", inserts), ("updates", updates), ("deletes", deletes)]
    }
}

/// The Markdown table: lag percentiles and apply rates of the native replica and both tandem
/// replicas, with ratios to the native one.
pub fn print_table(header: [&str; 3], a: &Args, lags: &mut [Vec<f64>], rates: &[(&str, Vec<f64>)], extra: &[String], rss: &[f64]) {
    let s: Vec<_> = lags.iter_mut().map(|l| stats(l)).collect();
    println!("| measure | {} | {} | ratio | {} | ratio |", header[0], header[1], header[2]);
    println!("|---|---:|---:|---:|---:|---:|");
    let row = |what: &str, v: [f64; 3]| println!("| {what} | {:.0} | {:.0} | {:.2} | {:.0} | {:.2} |", v[0], v[1], v[1] / v[0], v[2], v[2] / v[0]);
    row(&format!("lag p50 at {} rows/s (ms, {} samples)", a.rate, s[0].3), [s[0].0, s[1].0, s[2].0]);
    row("lag p99 (ms)", [s[0].1, s[1].1, s[2].1]);
    row("lag max (ms)", [s[0].2, s[1].2, s[2].2]);
    for (what, secs) in rates {
        let rate = |i: usize| a.backlog as f64 / secs[i];
        row(&format!("apply rate, {} rows of {what} in transactions of 100 (rows/s)", a.backlog), [rate(0), rate(1), rate(2)]);
    }
    for line in extra {
        println!("{line}");
    }
    println!("| peak RSS of tandem (MB) | | {:.0} | | {:.0} | |", rss[0], rss[1]);
}

/// Pipes `tick` into one client of the source every 10 ms for `seconds` (on its own thread, so
/// sampling never holds the writer up), and every 100 ms asks each of `lagged` for its
/// heartbeat's age (`age`) and calls `sample`; the ages per replica.
pub fn write_and_sample(
    src: &Server,
    tick: &str,
    seconds: u64,
    lagged: &[&Server],
    age: fn(&Server) -> Option<f64>,
    mut sample: impl FnMut(),
) -> Vec<Vec<f64>> {
    use std::io::Write;
    let mut writer = src.client("bench").stdin(Stdio::piped()).stdout(Stdio::null()).spawn().expect("writer");
    let mut stdin = writer.stdin.take().expect("stdin");
    let mut lags: Vec<Vec<f64>> = vec![Vec::new(); lagged.len()];
    let end = Instant::now() + Duration::from_secs(seconds);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut next_tick = Instant::now();
            while Instant::now() < end {
                stdin.write_all(tick.as_bytes()).expect("write");
                next_tick += Duration::from_millis(10);
                if let Some(wait) = next_tick.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
            drop(stdin);
        });
        let mut next_sample = Instant::now();
        while Instant::now() < end {
            for (l, s) in lags.iter_mut().zip(lagged) {
                l.extend(age(s));
            }
            sample();
            next_sample += Duration::from_millis(100);
            if let Some(wait) = next_sample.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
    });
    let _ = writer.wait();
    let written = count(src);
    wait_until("every replica to catch up", Duration::from_secs(300), || lagged.iter().all(|s| count(s) == written));
    lags
}
