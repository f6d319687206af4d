//! The test kit's in-process S3 server, plus a raw object store on it for tampering.

use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::prefix::PrefixStore;
use object_store::ObjectStore;
#[allow(unused_imports)] // local.rs shares this module but uses no server
pub use tandem_testkit::s3::{server, ACCESS_KEY, BUCKET, SECRET_KEY};

/// A raw store on the test bucket of `s`, under `prefix` (bypassing tandem-repo).
pub trait Raw {
    fn raw(&self, prefix: &str) -> Arc<dyn ObjectStore>;
}

impl Raw for tandem_testkit::s3::Server {
    fn raw(&self, prefix: &str) -> Arc<dyn ObjectStore> {
        let s3 = AmazonS3Builder::new()
            .with_bucket_name(BUCKET)
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(SECRET_KEY)
            .with_region("us-east-1")
            .build()
            .expect("raw S3 store");
        if prefix.is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(PrefixStore::new(s3, prefix))
        }
    }
}
