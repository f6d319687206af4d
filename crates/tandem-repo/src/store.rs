//! Opening an `object_store` from a repository URL, and mapping its errors.
//!
//! Supported locations: a local path (relative or absolute) or `file://` URL, `s3://bucket/prefix`
//! (also `s3a://`), `gs://bucket/prefix`, `az://container/prefix` (also `azure://`). Cloud stores
//! take credentials and endpoints from the usual environment variables (`AWS_*`, `GOOGLE_*`,
//! `AZURE_*`); explicit options (object_store config keys such as `aws_endpoint`) override them.
//! The retry and timeout policy of every remote store is set here, in [`remote_policy`].

use std::path::Path as FsPath;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ClientConfigKey, ObjectStore, RetryConfig};
use tandem_error::{Error, Result, RetryPolicy};
use url::Url;

/// The schemes [`open_store`] understands, for messages.
const SUPPORTED: &str = "a local path, file://, s3://, gs://, az:// (azure://)";

/// Per-request timeout of remote stores (a request moves at most one chunk of a few MiB).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Connect timeout of remote stores.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An opened store and how to name it in messages.
pub(crate) struct Opened {
    pub store: Arc<dyn ObjectStore>,
    /// The URL without credentials, query or fragment.
    pub display: String,
}

/// Whether a missing local directory is an error or gets created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Missing {
    Fail,
    Create,
}

/// Opens the store a repository URL points at. Errors: BadInput for an unusable URL, unknown
/// scheme, unknown option, a local path that is a file, or (with [`Missing::Fail`]) a missing
/// local directory; Unreachable if the local directory cannot be created or read.
pub(crate) fn open_store(url: &str, options: &[(&str, &str)], missing: Missing) -> Result<Opened> {
    let trimmed = url.trim();
    if trimmed.is_empty() {
        return Err(Error::bad_input("repository URL is empty"));
    }
    if trimmed.starts_with("file:") {
        let parsed = Url::parse(trimmed).map_err(|e| Error::bad_input(format!("invalid repository URL {trimmed:?}: {e}")))?;
        let dir = parsed.to_file_path().map_err(|()| Error::bad_input(format!("repository URL {trimmed:?} is not a local file path")))?;
        reject_options(options, "file")?;
        return open_local(&dir, trimmed, missing);
    }
    let Some((scheme, _)) = trimmed.split_once("://") else {
        reject_options(options, "local")?;
        return open_local(FsPath::new(trimmed), trimmed, missing);
    };
    let scheme = scheme.to_ascii_lowercase();
    if !matches!(scheme.as_str(), "s3" | "s3a" | "gs" | "az" | "azure") {
        return Err(Error::bad_input(format!("unsupported repository URL scheme {scheme:?} in {}; supported: {SUPPORTED}", redact_str(trimmed))));
    }
    let parsed = Url::parse(trimmed).map_err(|e| Error::bad_input(format!("invalid repository URL {}: {e}", redact_str(trimmed))))?;
    let display = redact(&parsed);
    let bucket = parsed.host_str().filter(|h| !h.is_empty()).ok_or_else(|| Error::bad_input(format!("repository URL {display} names no bucket")))?;
    let prefix = Path::from_url_path(parsed.path()).map_err(|e| Error::bad_input(format!("invalid prefix in repository URL {display}: {e}")))?;
    let base = format!("{scheme}://{bucket}");
    let (retry, options) = retry_policy(options, &display)?;
    let options = &options[..];
    let built: std::result::Result<Arc<dyn ObjectStore>, object_store::Error> = match scheme.as_str() {
        "s3" | "s3a" => {
            let mut b = AmazonS3Builder::from_env().with_url(&base);
            for (k, v) in options {
                b = b.with_config(parse_key::<AmazonS3ConfigKey>(k, &display)?, *v);
            }
            for (key, value) in remote_policy() {
                let key = AmazonS3ConfigKey::Client(key);
                if b.get_config_value(&key).is_none() {
                    b = b.with_config(key, value);
                }
            }
            b.with_retry(retry.clone()).build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        }
        "gs" => {
            let mut b = GoogleCloudStorageBuilder::from_env().with_url(&base);
            for (k, v) in options {
                b = b.with_config(parse_key::<GoogleConfigKey>(k, &display)?, *v);
            }
            for (key, value) in remote_policy() {
                let key = GoogleConfigKey::Client(key);
                if b.get_config_value(&key).is_none() {
                    b = b.with_config(key, value);
                }
            }
            b.with_retry(retry.clone()).build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        }
        _ => {
            let mut b = MicrosoftAzureBuilder::from_env().with_url(&base);
            for (k, v) in options {
                b = b.with_config(parse_key::<AzureConfigKey>(k, &display)?, *v);
            }
            for (key, value) in remote_policy() {
                let key = AzureConfigKey::Client(key);
                if b.get_config_value(&key).is_none() {
                    b = b.with_config(key, value);
                }
            }
            b.with_retry(retry.clone()).build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        }
    };
    let store = built.map_err(|e| Error::bad_input(format!("cannot configure the store for {display}: {e}")))?;
    let store: Arc<dyn ObjectStore> = if prefix.as_ref().is_empty() { store } else { Arc::new(PrefixStore::new(store, prefix)) };
    Ok(Opened { store, display })
}

/// Timeouts of every remote store (applied unless the environment or options set them).
fn remote_policy() -> [(ClientConfigKey, String); 2] {
    [(ClientConfigKey::Timeout, format!("{}s", REQUEST_TIMEOUT.as_secs())), (ClientConfigKey::ConnectTimeout, format!("{}s", CONNECT_TIMEOUT.as_secs()))]
}

/// Retries of every remote store: transient failures (5xx, timeouts, connection resets) are
/// retried as tandem's one [`RetryPolicy`] says (by default 10 times within 3 minutes per
/// request); the options `retry_max_retries` and `retry_timeout` change it and are taken out
/// of the returned options.
fn retry_policy<'a>(options: &[(&'a str, &'a str)], display: &str) -> Result<(RetryConfig, Vec<(&'a str, &'a str)>)> {
    let mut policy = RetryPolicy::default();
    let mut rest = Vec::with_capacity(options.len());
    for &(k, v) in options {
        if !policy.set(k, v).map_err(|e| e.context(format!("store option of repository {display}")))? {
            rest.push((k, v));
        }
    }
    let backoff = object_store::BackoffConfig { init_backoff: policy.init_backoff, max_backoff: policy.max_backoff, base: 2.0 };
    Ok((RetryConfig { max_retries: policy.max_retries, retry_timeout: policy.retry_timeout, backoff }, rest))
}

fn parse_key<K: std::str::FromStr>(key: &str, display: &str) -> Result<K> {
    key.parse::<K>().map_err(|_| Error::bad_input(format!("unknown store option {key:?} for repository {display}")))
}

fn reject_options(options: &[(&str, &str)], what: &str) -> Result<()> {
    match options.first() {
        Some((k, _)) => Err(Error::bad_input(format!("store option {k:?} does not apply to a {what} repository"))),
        None => Ok(()),
    }
}

fn open_local(dir: &FsPath, display: &str, missing: Missing) -> Result<Opened> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(Error::bad_input(format!("repository path {display} is a file, not a directory"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match missing {
            Missing::Fail => return Err(Error::bad_input(format!("no tandem repository at {display} (the directory does not exist)"))),
            Missing::Create => std::fs::create_dir_all(dir).map_err(|e| Error::unreachable(format!("cannot create repository directory {display}: {e}")))?,
        },
        Err(e) => return Err(Error::unreachable(format!("cannot access repository path {display}: {e}"))),
    }
    let canonical = std::fs::canonicalize(dir).map_err(|e| Error::unreachable(format!("cannot access repository path {display}: {e}")))?;
    // put() writes a staged file and renames (or hard-links, for create-only puts) it into place,
    // so readers never see a partial object; fsync makes a finished put durable like a cloud put.
    let store = LocalFileSystem::new_with_prefix(&canonical)
        .map_err(|e| Error::unreachable(format!("cannot open repository directory {display}: {e}")))?
        .with_fsync(true);
    Ok(Opened { store: Arc::new(store), display: display.to_string() })
}

/// The URL without user info, query or fragment (where credentials could hide).
fn redact(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

fn redact_str(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) => redact(&u),
        Err(_) => match url.split_once("://") {
            Some((scheme, rest)) => format!("{scheme}://{}", rest.rsplit_once('@').map_or(rest, |(_, r)| r)),
            None => url.to_string(),
        },
    }
}

/// Maps a store error during `action` (e.g. "reading backups/x.json") to Unreachable, naming the
/// repository. NotFound / AlreadyExists must be handled by the caller before this.
pub(crate) fn store_error(display: &str, action: impl std::fmt::Display, e: object_store::Error) -> Error {
    Error::unreachable(format!("repository {display}: {action}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_scheme_is_named() {
        let e = open_store("ftp://user:secret@host/x", &[], Missing::Fail).err().map(|e| e.to_string());
        let e = e.unwrap_or_default();
        assert!(e.contains("\"ftp\"") && e.contains("s3://") && !e.contains("secret"), "{e}");
    }

    #[test]
    fn redaction_drops_credentials() {
        assert_eq!(redact_str("s3://key:secret@bucket/p?x=1"), "s3://bucket/p");
        assert_eq!(redact_str("s3://key:sec/ret@bu cket/p"), "s3://bu cket/p");
    }

    #[test]
    fn s3_url_with_prefix_builds() {
        let o = open_store(
            "s3://bucket/some/prefix",
            &[("aws_endpoint", "http://127.0.0.1:1"), ("aws_allow_http", "true"), ("aws_region", "us-east-1")],
            Missing::Fail,
        );
        let o = o.map_err(|e| e.to_string());
        assert!(o.is_ok(), "{:?}", o.err());
        let e = open_store("s3://bucket/p", &[("no_such_option", "1")], Missing::Fail).err().map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("no_such_option"));
    }
}
