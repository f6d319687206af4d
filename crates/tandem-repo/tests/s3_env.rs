//! `s3://bucket/prefix` configured only through the usual environment variables
//! (AWS_ENDPOINT_URL, AWS_ALLOW_HTTP, AWS_ACCESS_KEY_ID, …). A test binary of its own with one
//! test, so setting the process environment races with nothing.

mod common;

use common::s3server::{server, Raw, ACCESS_KEY, BUCKET, SECRET_KEY};
use common::Target;

#[tokio::test]
async fn s3_configured_from_environment() {
    let s = server();
    for (k, v) in [
        ("AWS_ENDPOINT_URL", s.endpoint.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_REGION", "us-east-1"),
    ] {
        std::env::set_var(k, v);
    }
    let prefix = format!("env-{:08x}/nested/repo", rand::random::<u32>());
    let t = Target { url: format!("s3://{BUCKET}/{prefix}"), options: vec![], raw: s.raw(&prefix), _dir: None, key: None };
    common::round_trip(&t).await;
    common::locks(&t).await;
    assert!(s.root.join(BUCKET).join(&prefix).join("tandem-repo.json").is_file());
    let prefix = format!("env-{:08x}/encrypted", rand::random::<u32>());
    let t = Target { url: format!("s3://{BUCKET}/{prefix}"), options: vec![], raw: s.raw(&prefix), _dir: None, key: Some(common::test_key()) };
    common::round_trip(&t).await;
    common::locks(&t).await;
}
