//! `tandem replicate` as a child process, and the sites it replicates.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::*;

/// A `tandem replicate` child process with its output in files.
pub struct Replica {
    pub child: Child,
    pub out: PathBuf,
}

impl Replica {
    pub fn start(cfg: &Path, site: &str, extra: &[&str], dir: &Path) -> Replica {
        let out = dir.join(format!("{site}-{}.log", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()));
        let log = std::fs::File::create(&out).unwrap();
        let child = Command::new(tandem_bin())
            .args(["-v", "--config", p(cfg), "replicate", site])
            .args(extra)
            .env_remove("TANDEM_REPO")
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start tandem replicate");
        Replica { child, out }
    }

    /// Panics with the log when the process has exited.
    pub fn check_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("tandem replicate exited ({status}):\n{}", self.log());
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn sigterm(&mut self) -> i32 {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.wait(Duration::from_secs(30))
    }

    /// Waits for the process to exit; its exit code.
    pub fn wait(&mut self, limit: Duration) -> i32 {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "tandem replicate did not exit:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Waits until `ok` holds, failing with `what` and the replica logs after `limit`.
pub fn wait_until(what: &str, limit: Duration, replicas: &mut [&mut Replica], mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        replicas.iter_mut().for_each(|r| r.check_running());
        if Instant::now() > deadline {
            let logs: Vec<String> = replicas.iter().map(|r| r.log()).collect();
            panic!("timed out waiting for {what}; replica logs:\n{}", logs.join("\n----\n"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Writes `dir/tandem.toml`: a repository in `dir/repo`, site `primary` at `source`, and each
/// `(name, url, extra lines)` replica with `source = "primary"`; its path.
pub fn replica_config(dir: &Path, source: &str, replicas: &[(&str, &str, &str)]) -> PathBuf {
    let mut text = format!("repo = \"{}\"\n[sites.primary]\ndb = \"{source}\"\n", p(&dir.join("repo")));
    for (name, url, extra) in replicas {
        text.push_str(&format!("[sites.{name}]\ndb = \"{url}\"\nsource = \"primary\"\n{extra}"));
    }
    let cfg = dir.join("tandem.toml");
    std::fs::write(&cfg, text).unwrap();
    cfg
}

/// A huge source transaction, and where to see it.
pub struct Huge<'a> {
    /// The source and the replica: server and database.
    pub source: (&'a Server, &'a str),
    pub replica: (&'a Server, &'a str),
    /// A one-row digest of the table, the same on both.
    pub digest: &'a str,
    /// The one statement at the source that writes the transaction.
    pub insert: &'a str,
    /// How long the replica applies before it is killed.
    pub kill_after: Duration,
    pub peak_limit_mib: f64,
}

/// With replica `site` of `cfg` bootstrapped and running as `a`: one huge source transaction
/// reaches the replica whole. Killed while applying it, the replica shows none of it or all; the
/// restarted replica applies it exactly once with its peak memory under the limit.
pub fn huge_transaction_is_applied_whole_once(cfg: &Path, site: &str, dir: &Path, mut a: Replica, h: Huge) {
    let ((src, src_db), (dst, dst_db)) = (h.source, h.replica);
    let none = src.sql(src_db, h.digest);
    src.sql(src_db, h.insert);
    let whole = src.sql(src_db, h.digest);
    std::thread::sleep(h.kill_after);
    a.kill9();
    let seen = dst.sql(dst_db, h.digest);
    assert!(seen == whole || seen == none, "the replica shows part of a transaction: {seen} (the source: {whole}, before it: {none})");

    let mut a = Replica::start(cfg, site, &[], dir);
    wait_until("the huge transaction", Duration::from_secs(400), &mut [&mut a], || dst.sql(dst_db, h.digest) == whole);
    let peak = tandem_testkit::peak_rss_mib(a.child.id());
    eprintln!("killed at: {}; peak RSS applying the whole transaction: {peak:.0} MiB", if seen == whole { "after the commit" } else { "before the commit" });
    assert!(peak > 0.0, "the peak RSS of tandem replicate could not be read");
    assert!(peak < h.peak_limit_mib, "tandem replicate peaked at {peak:.0} MiB applying the transaction");
    assert_eq!(a.sigterm(), 0, "{}", a.log());
}

/// `tandem replicate status SITE --json`.
pub fn status(cfg: &Path, site: &str) -> serde_json::Value {
    tandem(&["--config", p(cfg), "--json", "replicate", "status", site]).json()
}

/// Whether the site's replica holds a checkpoint (it is bootstrapped).
pub fn bootstrapped(cfg: &Path, site: &str) -> bool {
    !status(cfg, site)["checkpoint"].is_null()
}

/// How many times the kill -9 tests kill a replica: `TANDEM_KILLS`, else `default`
/// (bench/replication-soak.sh runs them with 50 and more).
pub fn kills(default: u32) -> u32 {
    std::env::var("TANDEM_KILLS").ok().and_then(|k| k.parse().ok()).unwrap_or(default)
}

/// Kills replica `a` (site `site` of `cfg`) `kills` times, each at a random moment 200–1000 ms
/// after its last start, and starts it again, while `write(i)` runs for `i` in `0..60 × kills`
/// on another thread.
pub fn kill_9_under_writer(a: &mut Replica, (cfg, site, dir): (&Path, &str, &Path), kills: u32, write: impl Fn(u32) + Sync) {
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| (0..60 * kills).for_each(&write));
        for _ in 0..kills {
            std::thread::sleep(Duration::from_millis(
                200 + (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() % 800) as u64,
            ));
            a.kill9();
            *a = Replica::start(cfg, site, &[], dir);
        }
        writer.join().unwrap();
    });
}

/// Sites `a` and `b`, databases of `server`, streaming into each other after a failback: `b` is
/// bootstrapped from `a`, then `a` from `b` (with `b` stopped meanwhile when `pause_b`, else
/// streaming on through it). Then writes on one side at a time reach the other, and nothing
/// comes back: an echo would be a duplicate key (stopping a replication) or change a row back.
/// `extra` is added to both sites' config; `rows` reads `t` as one comparable text. Both
/// replications are stopped with SIGTERM at the end.
pub fn two_sites_echo_nothing(server: &Server, (a, b): (&str, &str), extra: &str, rows: &str, pause_b: bool, dir: &Path) -> PathBuf {
    let cfg = dir.join("tandem.toml");
    let site = |name: &str, db: &str, source: &str| format!("[sites.{name}]\ndb = \"{}\"\nsource = \"{source}\"\n{extra}", server.url(db));
    std::fs::write(&cfg, format!("repo = \"{}\"\n{}{}", p(&dir.join("repo")), site("a", a, "b"), site("b", b, "a"))).unwrap();
    let rows = |db: &str| server.sql(db, rows);
    // Both sites are standbys (each the other's replica): a PostgreSQL standby refuses the
    // application's writes, so the writes here are an administrator's.
    let write = |db: &str, sql: &str| match server.flavor() {
        Flavor::Postgres => server.sql(db, &format!("SET default_transaction_read_only = off; {sql}")),
        Flavor::MariaDb => server.sql(db, sql),
    };

    let mut rb = Replica::start(&cfg, "b", &[], dir);
    wait_until("b's bootstrap", Duration::from_secs(120), &mut [&mut rb], || bootstrapped(&cfg, "b"));
    if pause_b {
        assert_eq!(rb.sigterm(), 0, "{}", rb.log());
    }
    let mut ra = Replica::start(&cfg, "a", &["--rebootstrap"], dir);
    let a_bootstrapped = || bootstrapped(&cfg, "a");
    match pause_b {
        true => {
            wait_until("a's bootstrap from b", Duration::from_secs(120), &mut [&mut ra], a_bootstrapped);
            rb = Replica::start(&cfg, "b", &[], dir);
        }
        false => wait_until("a's bootstrap from b", Duration::from_secs(120), &mut [&mut ra, &mut rb], a_bootstrapped),
    }
    for round in 0..3 {
        write(a, &format!("INSERT INTO t VALUES ({}, 'from a'); UPDATE t SET v = 'a{round}' WHERE id = 1;", 10 + round));
        wait_until("a's writes to reach b", Duration::from_secs(60), &mut [&mut ra, &mut rb], || rows(b) == rows(a));
        write(b, &format!("INSERT INTO t VALUES ({}, 'from b'); DELETE FROM t WHERE id = 2; UPDATE t SET v = 'b{round}' WHERE id = 1;", 20 + round));
        wait_until("b's writes to reach a", Duration::from_secs(60), &mut [&mut ra, &mut rb], || rows(a) == rows(b));
    }
    // Quiet for a while: an echo would now arrive.
    let settled = rows(a);
    std::thread::sleep(Duration::from_secs(4));
    ra.check_running();
    rb.check_running();
    assert_eq!((rows(a), rows(b)), (settled.clone(), settled), "both sites equal, nothing echoed");
    assert!(rows(a).contains("1=b2") && rows(a).contains("22=from b") && rows(a).contains("12=from a"), "{}", rows(a));
    assert_eq!(ra.sigterm(), 0, "{}", ra.log());
    assert_eq!(rb.sigterm(), 0, "{}", rb.log());
    cfg
}
