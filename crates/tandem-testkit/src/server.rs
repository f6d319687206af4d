use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::certs::CertFiles;

/// Which server software.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flavor {
    MariaDb,
    Postgres,
}

/// User and password every throwaway server has (with all privileges).
pub const USER: &str = "tandem";
pub const PASSWORD: &str = "tandem-pw";

/// How to start a server beyond the defaults.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Serve TLS with this certificate (PostgreSQL `ssl=on`, MariaDB `--ssl-cert`/`--ssl-key`).
    pub tls: Option<CertFiles>,
    /// CA whose client certificates the server checks (PostgreSQL `ssl_ca_file`, MariaDB
    /// `--ssl-ca`), for `cert` authentication / `REQUIRE X509`.
    pub client_ca: Option<PathBuf>,
    /// PostgreSQL only: pg_hba.conf lines put before the default ones (`hostssl …`).
    pub pg_hba: Vec<String>,
}

/// A running throwaway server. Dropping it stops the server and removes its data directory.
pub struct Server {
    flavor: Flavor,
    port: u16,
    pid: i32,
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Server {
    /// Starts a new server of `flavor`. Panics with the server log if it does not come up.
    pub fn start(flavor: Flavor) -> Server {
        Server::start_with(flavor, &Options::default())
    }

    /// [`Server::start`] with [`Options`] (TLS, authentication rules).
    pub fn start_with(flavor: Flavor, opts: &Options) -> Server {
        // A port found free can be taken before the server binds it (by another server starting,
        // or an outgoing connection): start again on another port then.
        for attempt in 1.. {
            let tmp = tempfile::Builder::new().prefix(&format!("tandem-{flavor:?}-").to_lowercase()).tempdir().expect("tempdir");
            let dir = tmp.path().to_path_buf();
            let port = free_port();
            install_tls(&dir, opts);
            let pid = match flavor {
                Flavor::MariaDb => start_mariadb(&dir, port),
                Flavor::Postgres => start_postgres(&dir, port, &opts.pg_hba),
            };
            spawn_watchdog(pid, &dir);
            let server = Server { flavor, port, pid, dir, _tmp: tmp };
            match server.wait_ready() {
                Ok(()) => {
                    server.bootstrap();
                    return server;
                }
                Err(log) if attempt < 5 && log.contains("already in use") => {
                    drop(server); // stops it
                    continue;
                }
                Err(log) => panic!("{flavor:?} server did not start; log:\n{}", truncate(&log, 4000)),
            }
        }
        unreachable!()
    }

    /// One server of `flavor` shared by every test of this process (started on first use, stopped
    /// by the watchdog when the process exits).
    pub fn shared(flavor: Flavor) -> &'static Server {
        static MARIADB: OnceLock<Server> = OnceLock::new();
        static POSTGRES: OnceLock<Server> = OnceLock::new();
        let cell = match flavor {
            Flavor::MariaDb => &MARIADB,
            Flavor::Postgres => &POSTGRES,
        };
        cell.get_or_init(|| Server::start(flavor))
    }

    pub fn flavor(&self) -> Flavor {
        self.flavor
    }
    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn pid(&self) -> i32 {
        self.pid
    }
    /// Data directory root of the server (its log is `server.log` in it).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// URL scheme tandem uses for this flavor.
    pub fn scheme(&self) -> &'static str {
        match self.flavor {
            Flavor::MariaDb => "mysql",
            Flavor::Postgres => "postgres",
        }
    }

    /// URL of database `db` for the test user.
    pub fn url(&self, db: &str) -> String {
        format!("{}://{USER}:{PASSWORD}@127.0.0.1:{}/{db}", self.scheme(), self.port)
    }

    /// Creates a new empty database with a unique name starting with `prefix`; returns its name.
    pub fn create_database(&self, prefix: &str) -> String {
        let name = format!("{prefix}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
        match self.flavor {
            Flavor::MariaDb => self.sql("mysql", &format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")),
            Flavor::Postgres => self.sql("postgres", &format!("CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'")),
        };
        name
    }

    /// Runs SQL (one or more statements) in database `db` with the command-line client and returns
    /// its output: one line per row, fields separated by tabs, no headers. Panics on any error.
    pub fn sql(&self, db: &str, sql: &str) -> String {
        let out = self.try_sql(db, sql);
        match out {
            Ok(s) => s,
            Err(e) => panic!("SQL failed on {:?} db {db}: {e}\n--- SQL ---\n{}", self.flavor, truncate(sql, 2000)),
        }
    }

    /// Like [`sql`](Server::sql) but returns the client's error text instead of panicking.
    pub fn try_sql(&self, db: &str, sql: &str) -> Result<String, String> {
        let mut cmd = self.client(db);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start SQL client");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(sql.as_bytes()).expect("write SQL");
        }
        let out = child.wait_with_output().expect("SQL client");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim_end_matches('\n').to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// A command for the engine's command-line client connected to `db` as the test user,
    /// reading SQL from stdin.
    pub fn client(&self, db: &str) -> Command {
        match self.flavor {
            Flavor::MariaDb => {
                let mut c = Command::new("mariadb");
                c.args(["--no-defaults", "-h127.0.0.1", "--protocol=tcp", "-N", "-B", "--raw", "--default-character-set=utf8mb4"])
                    .arg(format!("-P{}", self.port))
                    .arg(format!("-u{USER}"))
                    .arg(format!("-p{PASSWORD}"))
                    .arg(db);
                c
            }
            Flavor::Postgres => {
                let mut c = Command::new(pg_bin("psql"));
                c.args(["-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
                    .args(["-p", &self.port.to_string(), "-U", USER, "-d", db])
                    .env("PGPASSWORD", PASSWORD);
                c
            }
        }
    }

    /// Makes this MariaDB server a native replica of `source` from binlog `file` at `pos`, and
    /// starts it (the anchor of the replication benchmarks).
    pub fn replicate_from(&self, source: &Server, file: &str, pos: &str) {
        self.sql(
            "mysql",
            &format!(
                "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {}, MASTER_USER = '{USER}', MASTER_PASSWORD = '{PASSWORD}', \
                 MASTER_LOG_FILE = '{file}', MASTER_LOG_POS = {pos}, MASTER_USE_GTID = no; START SLAVE;",
                source.port
            ),
        );
    }

    /// Environment and arguments for the engine's dump tools (`mysqldump`, `pg_dump`…): returns
    /// `(args, env)` that connect to `db`.
    pub fn tool_args(&self, db: &str) -> (Vec<String>, Vec<(String, String)>) {
        match self.flavor {
            Flavor::MariaDb => (
                vec![
                    "--no-defaults".into(),
                    "-h127.0.0.1".into(),
                    "--protocol=tcp".into(),
                    format!("-P{}", self.port),
                    format!("-u{USER}"),
                    format!("-p{PASSWORD}"),
                    db.to_string(),
                ],
                vec![],
            ),
            Flavor::Postgres => (
                vec!["-h".into(), "127.0.0.1".into(), "-p".into(), self.port.to_string(), "-U".into(), USER.into(), "-d".into(), db.to_string()],
                vec![("PGPASSWORD".into(), PASSWORD.into())],
            ),
        }
    }

    /// Kills the server with SIGKILL and waits for it to be gone (for crash tests).
    pub fn kill(&self) {
        kill_and_wait(self.pid);
    }

    /// Stops the server, leaves it down for `down`, and starts it again on the same port and
    /// data; returns once it answers ([`Server::stop`], then [`Server::start_again`]).
    pub fn restart_after(&mut self, down: Duration) {
        self.stop();
        std::thread::sleep(down);
        self.start_again();
    }

    /// Stops the server and waits for it to be gone. MariaDB is crashed (SIGKILL: its commits
    /// are in the OS's cache already); PostgreSQL gets a fast shutdown, since the kit runs it
    /// without synchronous commit (a crash would lose its last commits, as configured).
    pub fn stop(&mut self) {
        match self.flavor {
            Flavor::MariaDb => kill_and_wait(self.pid),
            // SAFETY: we only signal the pid we started.
            Flavor::Postgres => unsafe {
                libc::kill(self.pid, libc::SIGINT);
                let mut status = 0;
                libc::waitpid(self.pid, &mut status, 0);
            },
        }
    }

    /// Starts a [stopped](Server::stop) server again on the same port and data; returns once
    /// it answers.
    pub fn start_again(&mut self) {
        self.pid = match self.flavor {
            Flavor::MariaDb => launch_mariadb(&self.dir, self.port),
            Flavor::Postgres => launch_postgres(&self.dir, self.port),
        };
        spawn_watchdog(self.pid, &self.dir);
        if let Err(log) = self.wait_ready() {
            panic!("{:?} server did not start again; log:\n{}", self.flavor, truncate(&log, 4000));
        }
    }

    /// Waits until the server answers; `Err(log)` if it died or did not come up in time.
    fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ok = match self.flavor {
                Flavor::MariaDb => {
                    let mut c = Command::new("mariadb");
                    c.args(["--no-defaults", "-uroot", "-N", "-e", "SELECT 1"]).arg(format!("--socket={}", self.dir.join("mysqld.sock").display()));
                    c.stdout(Stdio::null()).stderr(Stdio::null()).status().map(|s| s.success()).unwrap_or(false)
                }
                Flavor::Postgres => Command::new(pg_bin("pg_isready"))
                    .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false),
            };
            if ok {
                return Ok(());
            }
            if !alive(self.pid) || Instant::now() > deadline {
                return Err(std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn bootstrap(&self) {
        if self.flavor == Flavor::MariaDb {
            let sql = format!("CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}'; GRANT ALL ON *.* TO '{USER}'@'%' WITH GRANT OPTION;");
            let status = Command::new("mariadb")
                .args(["--no-defaults", "-uroot", "-e", &sql])
                .arg(format!("--socket={}", self.dir.join("mysqld.sock").display()))
                .status()
                .expect("mariadb client");
            assert!(status.success(), "creating the test user failed");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        kill_and_wait(self.pid);
    }
}

fn truncate(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A free port below Linux's ephemeral range (32768-60999), where outgoing connections never
/// take it between this check and the server's bind.
fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    for _ in 0..1000 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        let port = 20000 + (h.finish() % 12000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0").local_addr().expect("addr").port()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    let exists = unsafe { libc::kill(pid, 0) == 0 };
    exists && !std::fs::read_to_string(format!("/proc/{pid}/stat")).map(|s| s.contains(") Z ")).unwrap_or(false)
}

fn kill_and_wait(pid: i32) {
    // SAFETY: we only signal the pid we started.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
    }
}

/// Removes `dir` once the current process is gone.
pub(crate) fn remove_when_gone(dir: &Path) {
    spawn_watchdog(0, dir);
}

/// A shell loop that kills `pid` (unless 0) and removes `dir` once the current process is gone.
fn spawn_watchdog(pid: i32, dir: &Path) {
    let me = std::process::id();
    let script =
        format!("while kill -0 {me} 2>/dev/null; do sleep 0.5; done; [ {pid} -gt 0 ] && kill -9 {pid} 2>/dev/null; sleep 0.5; rm -rf '{}'", dir.display());
    let _ = Command::new("sh").args(["-c", &script]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn();
}

/// Finds a PostgreSQL server binary: PATH first, then the newest /usr/lib/postgresql/*/bin.
pub fn pg_bin(name: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir("/usr/lib/postgresql").map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).collect()).unwrap_or_default();
    dirs.sort();
    if let Some(d) = dirs.iter().rev().find(|d| d.join(name).exists()) {
        return d.join(name);
    }
    PathBuf::from(name)
}

/// Runs `cmd` as the postgres user when we are root (PostgreSQL refuses to run as root).
fn as_pg_user(bin: PathBuf) -> Command {
    if is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=postgres", "--regid=postgres", "--init-groups", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

fn run_ok(mut cmd: Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(out.status.success(), "{what} failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// File names of a server's TLS material in its directory: their presence turns TLS on.
const TLS_CERT: &str = "server.crt";
const TLS_KEY: &str = "server.key";
const TLS_CLIENT_CA: &str = "client-ca.crt";

/// Copies the TLS files of `opts` into the server's directory (the key readable by its owner only).
fn install_tls(dir: &Path, opts: &Options) {
    if let Some(tls) = &opts.tls {
        std::fs::copy(&tls.cert, dir.join(TLS_CERT)).expect("copy server certificate");
        std::fs::copy(&tls.key, dir.join(TLS_KEY)).expect("copy server key");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join(TLS_KEY), std::fs::Permissions::from_mode(0o600)).expect("chmod key");
    }
    if let Some(ca) = &opts.client_ca {
        std::fs::copy(ca, dir.join(TLS_CLIENT_CA)).expect("copy client CA");
    }
}

fn start_postgres(dir: &Path, port: u16, pg_hba: &[String]) -> i32 {
    let data = dir.join("data");
    let pwfile = dir.join("pw");
    std::fs::write(&pwfile, PASSWORD).expect("pwfile");
    if is_root() {
        run_ok(
            {
                let mut c = Command::new("chown");
                c.args(["-R", "postgres:postgres"]).arg(dir);
                c
            },
            "chown",
        );
    }
    let mut init = as_pg_user(pg_bin("initdb"));
    init.arg("-D").arg(&data).args(["-U", USER, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"]);
    init.arg(format!("--pwfile={}", pwfile.display()));
    run_ok(init, "initdb");
    if !pg_hba.is_empty() {
        let hba = data.join("pg_hba.conf");
        let old = std::fs::read_to_string(&hba).expect("read pg_hba.conf");
        std::fs::write(&hba, format!("{}\n{old}", pg_hba.join("\n"))).expect("write pg_hba.conf");
    }
    launch_postgres(dir, port)
}

/// Starts postgres on an initialised data directory.
fn launch_postgres(dir: &Path, port: u16) -> i32 {
    let data = dir.join("data");
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("server.log")).expect("log");
    if is_root() {
        let _ = Command::new("chown").args(["postgres:postgres"]).arg(dir.join("server.log")).status();
    }
    let mut cmd = as_pg_user(pg_bin("postgres"));
    cmd.arg("-D").arg(&data).args(["-p", &port.to_string(), "-k"]).arg(dir);
    for setting in [
        "listen_addresses=127.0.0.1",
        "wal_level=logical",
        "max_wal_senders=20",
        "max_replication_slots=20",
        "fsync=off",
        "synchronous_commit=off",
        "full_page_writes=off",
        "shared_buffers=128MB",
        "max_connections=100",
    ] {
        cmd.args(["-c", setting]);
    }
    if dir.join(TLS_CERT).exists() {
        cmd.args(["-c", "ssl=on"]);
        cmd.arg("-c").arg(format!("ssl_cert_file={}", dir.join(TLS_CERT).display()));
        cmd.arg("-c").arg(format!("ssl_key_file={}", dir.join(TLS_KEY).display()));
    }
    if dir.join(TLS_CLIENT_CA).exists() {
        cmd.arg("-c").arg(format!("ssl_ca_file={}", dir.join(TLS_CLIENT_CA).display()));
    }
    cmd.stdin(Stdio::null()).stdout(log.try_clone().expect("log")).stderr(log);
    cmd.spawn().expect("start postgres").id() as i32
}

fn start_mariadb(dir: &Path, port: u16) -> i32 {
    let data = dir.join("data");
    // A temp dir of its own: bootstraps and servers running at once never share /tmp's files.
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).expect("tmpdir");
    let mut init = Command::new("mariadb-install-db");
    init.args(["--no-defaults", "--auth-root-authentication-method=socket", "--skip-test-db"])
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--tmpdir={}", tmp.display()));
    if is_root() {
        init.arg("--user=root");
    }
    run_ok(init, "mariadb-install-db");
    launch_mariadb(dir, port)
}

/// Starts mariadbd on an initialised data directory.
fn launch_mariadb(dir: &Path, port: u16) -> i32 {
    let (data, tmp) = (dir.join("data"), dir.join("tmp"));
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("server.log")).expect("log");
    let mut cmd = Command::new("mariadbd");
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--socket={}", dir.join("mysqld.sock").display()))
        .arg(format!("--pid-file={}", dir.join("mysqld.pid").display()))
        .arg(format!("--port={port}"))
        .arg(format!("--tmpdir={}", tmp.display()))
        .arg(format!("--log-bin={}", dir.join("binlog").display()))
        .args([
            "--bind-address=127.0.0.1",
            "--server-id=1",
            "--binlog-format=ROW",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=256M",
            "--innodb-flush-log-at-trx-commit=2",
            "--max-allowed-packet=1G",
            "--local-infile=1",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_bin",
        ]);
    if dir.join(TLS_CERT).exists() {
        cmd.arg(format!("--ssl-cert={}", dir.join(TLS_CERT).display())).arg(format!("--ssl-key={}", dir.join(TLS_KEY).display()));
    }
    if dir.join(TLS_CLIENT_CA).exists() {
        cmd.arg(format!("--ssl-ca={}", dir.join(TLS_CLIENT_CA).display()));
    }
    if is_root() {
        cmd.arg("--user=root");
    }
    cmd.stdin(Stdio::null()).stdout(log.try_clone().expect("log")).stderr(log);
    cmd.spawn().expect("start mariadbd").id() as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_servers_start_answer_and_stop() {
        for flavor in [Flavor::MariaDb, Flavor::Postgres] {
            let s = Server::start(flavor);
            let db = s.create_database("kit");
            s.sql(&db, "CREATE TABLE t (a int); INSERT INTO t VALUES (1),(2);");
            assert_eq!(s.sql(&db, "SELECT count(*) FROM t"), "2");
            assert!(s.try_sql(&db, "SELECT * FROM missing_table").is_err());
            let pid = s.pid();
            drop(s);
            assert!(!alive(pid), "{flavor:?} still running after drop");
        }
    }
}
