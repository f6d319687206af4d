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
