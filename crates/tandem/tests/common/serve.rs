//! Running `tandem serve` in tests: a daemon process, a tiny HTTP client and a webhook receiver.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::tandem_bin;

/// A running `tandem serve`; killed (SIGKILL) on drop.
pub struct Daemon {
    pub child: Child,
    pub addr: String,
    pub log: std::path::PathBuf,
}

impl Daemon {
    /// Starts `tandem serve --config cfg --listen 127.0.0.1:0` and waits for its address. Its
    /// stderr goes to `log`.
    pub fn start(cfg: &Path, log: &Path) -> Daemon {
        Daemon::start_with_env(cfg, log, &[])
    }

    /// [`Daemon::start`] with extra environment variables.
    pub fn start_with_env(cfg: &Path, log: &Path, env: &[(&str, &str)]) -> Daemon {
        let mut child = Command::new(tandem_bin())
            .args(["--config", cfg.to_str().unwrap(), "-v", "serve", "--listen", "127.0.0.1:0"])
            .env_remove("TANDEM_REPO")
            .env_remove("TANDEM_CONFIG")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .expect("start tandem serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}; log:\n{}", std::fs::read_to_string(log).unwrap_or_default()))
            .to_string();
        Daemon { child, addr, log: log.to_path_buf() }
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        http(&self.addr, "GET", path, None)
    }

    pub fn post(&self, path: &str, token: Option<&str>) -> (u16, String) {
        http(&self.addr, "POST", path, token)
    }

    pub fn status(&self) -> serde_json::Value {
        let (code, body) = self.get("/api/status");
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// The job object of `site`/`job` in the status.
    pub fn job(&self, site: &str, job: &str) -> serde_json::Value {
        let s = self.status();
        let site = s["sites"].as_array().unwrap().iter().find(|x| x["name"] == site).unwrap_or_else(|| panic!("no site {site}: {s}")).clone();
        site["jobs"].as_array().unwrap().iter().find(|j| j["job"] == job).unwrap_or_else(|| panic!("no job {job}: {site}")).clone()
    }

    /// Waits until `cond(status)` holds; panics with the status and log after `timeout`.
    pub fn wait_for(&self, what: &str, timeout: Duration, cond: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.status();
            if cond(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; status:\n{s:#}\nlog:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The status page as headless Chromium renders it (its DOM after load).
    pub fn browser_dom(&self) -> String {
        let out = Command::new("chromium")
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--virtual-time-budget=3000", "--dump-dom"])
            .arg(format!("http://{}/", self.addr))
            .output()
            .expect("chromium (installed by scripts/test.sh)");
        assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn log_text(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(60).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// Value of a metric line `name{labels} value` (labels as written, e.g. `site="dr"`).
    pub fn metric(&self, name: &str, labels: &str) -> Option<f64> {
        let (_, body) = self.get("/metrics");
        body.lines()
            .find(|l| l.starts_with(&format!("{name}{{")) && l.contains(labels) || (labels.is_empty() && l.starts_with(&format!("{name} "))))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the exit (at most `timeout`); returns the exit code.
    pub fn terminate(&mut self, timeout: Duration) -> Option<i32> {
        // SAFETY: sending a signal to our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code();
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// One HTTP/1.1 request; returns status and body.
pub fn http(addr: &str, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let code = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    // Bodies of axum come with Content-Length (no chunking) for these small answers.
    (code, body.to_string())
}

/// A webhook endpoint that records every POST body.
pub struct Webhook {
    pub url: String,
    pub bodies: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Webhook {
    pub fn start() -> Webhook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let sink = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream);
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len];
                if reader.read_exact(&mut body).is_ok() {
                    if let Ok(v) = serde_json::from_slice(&body) {
                        sink.lock().unwrap().push(v);
                    }
                }
                let _ = reader.get_mut().write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
            }
        });
        Webhook { url, bodies }
    }

    pub fn events(&self) -> Vec<serde_json::Value> {
        self.bodies.lock().unwrap().clone()
    }
}
