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
