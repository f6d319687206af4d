//! An in-process S3-compatible server (`s3s-fs`) for tests: serves a temp dir on
//! 127.0.0.1:<free port> from its own thread and runtime, so it outlives each test's runtime.
//! Started once per test binary; a failure to start panics (tests never skip silently).

use std::sync::OnceLock;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

pub const BUCKET: &str = "tandem-test";
pub const ACCESS_KEY: &str = "tandem-access";
pub const SECRET_KEY: &str = "tandem-secret-key";

pub struct Server {
    pub endpoint: String,
    /// The directory the server stores buckets in (`<root>/<bucket>/<key>`).
    pub root: std::path::PathBuf,
}

/// The server of this test binary, started on first use.
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(start)
}

fn start() -> Server {
    let dir = tempfile::Builder::new().prefix("tandem-s3-").tempdir().expect("creating the S3 server's temp dir");
    // Kept for the life of the process; a watchdog removes it when the process is gone.
    let root = dir.keep();
    crate::server::remove_when_gone(&root);
    std::fs::create_dir_all(root.join(BUCKET)).expect("creating the test bucket");
    let (tx, rx) = std::sync::mpsc::channel::<Result<std::net::SocketAddr, String>>();
    let fs_root = root.clone();
    std::thread::Builder::new()
        .name("s3s-test-server".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
                Ok(rt) => rt,
                Err(e) => return drop(tx.send(Err(format!("runtime: {e}")))),
            };
            rt.block_on(async move {
                let fs = match s3s_fs::FileSystem::new(&fs_root) {
                    Ok(fs) => fs,
                    Err(e) => return drop(tx.send(Err(format!("s3s-fs: {e:?}")))),
                };
                let service = {
                    let mut b = S3ServiceBuilder::new(fs);
                    b.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
                    b.build()
                };
                let listener = match tokio::net::TcpListener::bind(("127.0.0.1", 0)).await {
                    Ok(l) => l,
                    Err(e) => return drop(tx.send(Err(format!("bind: {e}")))),
                };
                let addr = listener.local_addr().map_err(|e| format!("local_addr: {e}"));
                let _ = tx.send(addr);
                let http = ConnBuilder::new(TokioExecutor::new());
                loop {
                    let Ok((socket, _)) = listener.accept().await else { continue };
                    let conn = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                }
            });
        })
        .expect("spawning the S3 server thread");
    let addr = match rx.recv_timeout(std::time::Duration::from_secs(30)) {
        Ok(Ok(addr)) => addr,
        Ok(Err(e)) => panic!("the in-process S3 server did not start: {e}"),
        Err(e) => panic!("the in-process S3 server did not start: {e}"),
    };
    Server { endpoint: format!("http://{addr}"), root }
}

impl Server {
    /// Store options that point tandem at this server without environment variables.
    pub fn options(&self) -> Vec<(String, String)> {
        [
            ("aws_endpoint", self.endpoint.as_str()),
            ("aws_allow_http", "true"),
            ("aws_access_key_id", ACCESS_KEY),
            ("aws_secret_access_key", SECRET_KEY),
            ("aws_region", "us-east-1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// Environment variables that point a child process (the `tandem` binary) at this server
    /// through the usual AWS variables.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_REGION", "us-east-1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
}
