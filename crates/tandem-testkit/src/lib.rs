//! Throwaway database servers for tests and the demo.
//!
//! [`Server::start`] initializes a fresh MariaDB or PostgreSQL data directory in a temp dir, starts
//! the server on a free port bound to 127.0.0.1 only (MariaDB with a ROW binlog, PostgreSQL with
//! `wal_level=logical`) and waits until it answers. The server is stopped by pid when the
//! [`Server`] is dropped, and a watchdog process also stops it (and removes its directory) when the
//! process that started it dies, even by a panic in a static or a `kill -9`.
//!
//! Each test should take its own database with [`Server::create_database`]; servers are
//! expensive (2–5 s to start) and may be shared through [`Server::shared`].
//!
//! [`Server::start_with`] starts one serving TLS with certificates from [`certs::TestCa`].
//!
//! [`s3::server`] is an in-process S3-compatible server for repository tests.
//!
//! Every helper panics with the server's own error text on failure: this crate is for tests.

pub mod certs;
pub mod s3;
mod server;

pub use server::{pg_bin, Flavor, Options, Server, PASSWORD, USER};

/// Peak resident memory (VmHWM) of a running process, in MiB; 0 when it cannot be read.
pub fn peak_rss_mib(pid: u32) -> f64 {
    proc_status_mib(pid, "VmHWM").unwrap_or(0.0)
}

/// A memory field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`, …) in MiB; `None` once the process
/// is gone.
pub fn proc_status_mib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let value = status.lines().find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?;
    value.split_whitespace().next()?.parse::<f64>().ok().map(|kib| kib / 1024.0)
}

/// Path of the `tandem` binary built by cargo next to the running test or example binary, or
/// `TANDEM_BIN` when set.
pub fn tandem_bin() -> std::path::PathBuf {
    if let Ok(p) = std::env::var("TANDEM_BIN") {
        return p.into();
    }
    // target/<profile>/deps/<test-binary> → target/<profile>/tandem
    let exe = std::env::current_exe().expect("current exe");
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") || dir.ends_with("examples") {
        dir.pop();
    }
    let bin = dir.join("tandem");
    assert!(bin.exists(), "tandem binary not found at {} (build it first or set TANDEM_BIN)", bin.display());
    bin
}
