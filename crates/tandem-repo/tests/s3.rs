//! The conformance suite against an in-process S3-compatible server (s3s-fs on 127.0.0.1),
//! configured through explicit store options (no environment variables).

mod common;

use common::s3server::{server, Raw, BUCKET};
use common::Target;
use tandem_error::Kind;
use tandem_repo::Repository;

/// A fresh prefix in the test bucket.
fn target(name: &str) -> Target {
    let s = server();
    let prefix = format!("{name}-{:08x}/repo", rand::random::<u32>());
    Target { url: format!("s3://{BUCKET}/{prefix}"), options: s.options(), raw: s.raw(&prefix), _dir: None, key: None }
}

suite!(plain, target("plain"));
suite!(encrypted, target("encrypted").encrypted());
encrypted_suite!(keys, target("keys"));

#[tokio::test]
async fn s3_prefix_is_respected() {
    let t = target("prefix");
    let repo = t.create().await;
    let key = t.url.trim_start_matches(&format!("s3://{BUCKET}/")).to_string();
    // The root file sits under the prefix, in the server's directory for the bucket.
    assert!(server().root.join(BUCKET).join(&key).join("tandem-repo.json").is_file());
    // The parent prefix holds objects but is no repository: refused, nothing written.
    let parent = t.url.trim_end_matches("/repo").to_string();
    let opts: Vec<(&str, &str)> = t.options.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let e = Repository::open_or_create_with_options(&parent, &opts).await.expect_err("parent");
    assert_eq!(e.kind(), Kind::BadInput, "{e}");
    assert_eq!(repo.url(), t.url);
}

#[tokio::test]
async fn s3_unreachable_endpoint() {
    let mut t = target("down");
    // A port nothing listens on (bound and closed at once).
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port");
    for (k, v) in t.options.iter_mut() {
        if k == "aws_endpoint" {
            *v = format!("http://127.0.0.1:{port}");
        }
    }
    t.options.push(("aws_connect_timeout".into(), "2s".into()));
    t.options.push(("retry_max_retries".into(), "1".into()));
    let opts: Vec<(&str, &str)> = t.options.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let started = std::time::Instant::now();
    let e = Repository::open_with_options(&t.url, &opts).await.expect_err("unreachable");
    assert_eq!(e.kind(), Kind::Unreachable, "{e}");
    let msg = e.to_string();
    assert!(msg.contains(&t.url) && !msg.contains(common::s3server::SECRET_KEY), "{msg}");
    eprintln!("unreachable after {:?}: {msg}", started.elapsed());
}
