//! Bootstrap + catch-up of a replica of a large Hive Metastore, tandem against MariaDB's own way
//! (`bench/replication-bootstrap.sh` builds and runs it; results in BENCHMARKS.md).
//!
//! A throwaway MariaDB source gets a generated Hive 2.3 metastore (`tests/hms/gen.py`,
//! `--partitions N`, default 1 000 000). A writer then touches `--rate` partitions per second
//! (`UPDATE PARTITIONS SET LAST_ACCESS_TIME`) for the whole measurement. One after the other:
//! - **tandem**: `tandem replicate dr` into an empty database of a second server: the time until
//!   the bootstrap is done (backup + restore, the checkpoint is there), then until the replica
//!   has caught up with the writer;
//! - **native**: `mariadb-dump --single-transaction --master-data=2 | mariadb` into a third
//!   server, then `CHANGE MASTER TO` the dump's position and `START SLAVE`: the same two times.
//!
//! Caught up: the replica's `COUNT(*), SUM(LAST_ACCESS_TIME)` of `PARTITIONS` equals the source's
//! right after the writer was paused for the check.
//!
//! Usage: `replication_bootstrap [--partitions N] [--rate N] [--only-tandem]`. The tandem run's
//! resident memory, sampled every 100 ms, is written with tandem's log (`rss.log`,
//! `replicate.log`) into a directory that is kept and named at the end.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tandem_testkit::{peak_rss_mib, proc_status_mib, tandem_bin, Flavor, Server};

const DIGEST: &str = "SELECT COUNT(*), COALESCE(SUM(LAST_ACCESS_TIME), 0) FROM PARTITIONS";

fn arg(name: &str, default: u64) -> u64 {
    let argv: Vec<String> = std::env::args().collect();
    argv.iter().position(|a| a == name).and_then(|i| argv.get(i + 1)).map(|v| v.parse().expect("a number")).unwrap_or(default)
}

/// A writer touching `rate` partitions per second until dropped.
struct Writer {
    child: Child,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    fn start(src: &Server, partitions: u64, rate: u64) -> Writer {
        let mut child = src.client("metastore").stdin(Stdio::piped()).stdout(Stdio::null()).spawn().expect("writer");
        let mut stdin = child.stdin.take().expect("stdin");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut i: u64 = 0;
            let per_tick = (rate / 100).max(1);
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                for _ in 0..per_tick {
                    i += 1;
                    let sql = format!("UPDATE PARTITIONS SET LAST_ACCESS_TIME = {i} WHERE PART_ID = {};\n", i * 7919 % partitions + 1);
                    if stdin.write_all(sql.as_bytes()).is_err() {
                        return;
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        Writer { child, stop, thread: Some(thread) }
    }

    fn stop(mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = self.child.wait();
    }
}

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs one contender: `bootstrap` copies the source into the replica and starts it streaming;
/// returns (bootstrap s, caught up s after the bootstrap).
fn measure(src: &Server, replica: &Server, partitions: u64, rate: u64, bootstrap: impl FnOnce() -> Option<Child>) -> (f64, f64, Option<Child>) {
    let writer = Writer::start(src, partitions, rate);
    let start = Instant::now();
    let child = bootstrap();
    let booted = start.elapsed().as_secs_f64();
    // Caught up: the writer is stopped, and the replica holds what the source holds.
    std::thread::sleep(Duration::from_secs(5));
    writer.stop();
    let want = src.sql("metastore", DIGEST);
    wait_until("the replica to catch up", Duration::from_secs(1800), || replica.try_sql("metastore", DIGEST).ok().as_deref() == Some(want.as_str()));
    (booted, start.elapsed().as_secs_f64() - booted - 5.0, child)
}

/// Samples the resident memory of `pid` every 100 ms into `out` (`seconds MiB` per line) until
/// the process is gone.
fn trace_rss(pid: u32, out: std::path::PathBuf) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut file = std::fs::File::create(out).expect("rss log");
        let start = Instant::now();
        while let Some(mib) = proc_status_mib(pid, "VmRSS") {
            let _ = writeln!(file, "{:.1} {mib:.0}", start.elapsed().as_secs_f64());
            std::thread::sleep(Duration::from_millis(100));
        }
    })
}

fn main() {
    let (partitions, rate) = (arg("--partitions", 1_000_000), arg("--rate", 500));
    let only_tandem = std::env::args().any(|a| a == "--only-tandem");
    eprintln!("starting three MariaDB servers");
    let (src, tgt, native) = (Server::start(Flavor::MariaDb), Server::start(Flavor::MariaDb), Server::start(Flavor::MariaDb));
    tgt.sql("mysql", "SET GLOBAL server_id = 3");
    native.sql("mysql", "SET GLOBAL server_id = 2; CREATE DATABASE metastore");
    src.sql("mysql", "CREATE DATABASE metastore");
    eprintln!("generating a metastore of {partitions} partitions");
    let tables = (partitions / 2000).clamp(1, 500);
    let gen = Command::new("python3")
        .args(["tests/hms/gen.py", "--url", &src.url("metastore"), "--layout", "2.3", "--databases", "10", "--tables", &tables.to_string()])
        .args(["--partitions", &partitions.to_string(), "--seed", "1"])
        .stdout(Stdio::null())
        .status()
        .expect("gen.py");
    assert!(gen.success(), "gen.py failed");

    eprintln!("tandem: replicate into an empty database while {rate} partitions/s change");
    tgt.sql("mysql", "CREATE DATABASE metastore");
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("tandem.toml");
    let text = format!(
        "repo = \"{}\"\n[sites.primary]\ndb = \"{}\"\n[sites.dr]\ndb = \"{}\"\nsource = \"primary\"\n",
        dir.path().join("repo").display(),
        src.url("metastore"),
        tgt.url("metastore")
    );
    std::fs::write(&cfg, text).expect("config");
    let log = std::fs::File::create(dir.path().join("replicate.log")).expect("log");
    let (t_boot, t_catch, child) = measure(&src, &tgt, partitions, rate, || {
        let child = Command::new(tandem_bin())
            .args(["--config", cfg.to_str().expect("utf-8"), "-v", "replicate", "dr"])
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("tandem replicate");
        trace_rss(child.id(), dir.path().join("rss.log"));
        let booted = || tgt.try_sql("metastore", "SELECT COUNT(*) FROM tandem_replication").is_ok_and(|n| n.trim() != "0");
        wait_until("the bootstrap", Duration::from_secs(1800), booted);
        Some(child)
    });
    let rss = child.as_ref().map(|c| peak_rss_mib(c.id())).unwrap_or(0.0);
    if let Some(mut c) = child {
        // SAFETY: a signal to our own child.
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        let _ = c.wait();
    }
    let dir = dir.keep();
    eprintln!("tandem's log and resident memory: {}", dir.display());
    if only_tandem {
        for s in [&src, &tgt, &native] {
            s.kill();
        }
        println!("| {partitions} partitions, {rate} partition updates/s | tandem replicate |");
        println!("|---|---:|");
        println!("| bootstrap (s) | {t_boot:.1} |");
        println!("| catch-up after it, writer stopped 5 s in (s) | {t_catch:.1} |");
        println!("| peak RSS of tandem (MB) | {rss:.0} |");
        return;
    }

    eprintln!("native: mariadb-dump --master-data=2 | mariadb, then CHANGE MASTER TO");
    let (n_boot, n_catch, _) = measure(&src, &native, partitions, rate, || {
        let (args, env) = src.tool_args("metastore");
        let dump = dir.join("dump.sql");
        let status = Command::new("mariadb-dump")
            .args(&args)
            .args(["--single-transaction", "--quick", "--master-data=2", "--databases"])
            .envs(env)
            .stdout(std::fs::File::create(&dump).expect("dump"))
            .status()
            .expect("mariadb-dump");
        assert!(status.success(), "mariadb-dump failed");
        let (args, env) = native.tool_args("metastore");
        let load = Command::new("mariadb").args(&args).envs(env).stdin(std::fs::File::open(&dump).expect("dump")).status().expect("mariadb");
        assert!(load.success(), "loading the dump failed");
        let text = std::fs::read_to_string(&dump).expect("dump");
        let _ = std::fs::remove_file(&dump);
        let line = text.lines().find(|l| l.contains("CHANGE MASTER TO")).expect("the dump's position");
        let file = line.split("MASTER_LOG_FILE='").nth(1).and_then(|r| r.split('\'').next()).expect("file");
        let pos = line.split("MASTER_LOG_POS=").nth(1).and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next()).expect("pos");
        native.replicate_from(&src, file, pos);
        None
    });
    for s in [&src, &tgt, &native] {
        s.kill();
    }
    println!("| {partitions} partitions, {rate} partition updates/s | native (mariadb-dump \\| mariadb + replica) | tandem replicate | ratio |");
    println!("|---|---:|---:|---:|");
    println!("| bootstrap (s) | {n_boot:.1} | {t_boot:.1} | {:.2} |", t_boot / n_boot);
    println!("| catch-up after it, writer stopped 5 s in (s) | {n_catch:.1} | {t_catch:.1} | |");
    println!("| total (s) | {:.1} | {:.1} | {:.2} |", n_boot + n_catch, t_boot + t_catch, (t_boot + t_catch) / (n_boot + n_catch));
    println!("| peak RSS of tandem (MB) | | {rss:.0} | |");
}
