//! The one retry policy of tandem: the object store's requests and the databases' connections
//! and redoable operations are retried with it.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::{Error, Result};

/// How a transient failure is retried: after `init_backoff`, doubling up to `max_backoff`, at
/// most `max_retries` times, and no retry starts later than `retry_timeout` after the first
/// attempt. Set with the options `retry_max_retries` (a count) and `retry_timeout` (seconds,
/// `30` or `30s`): the repository's store options, or a database URL's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_retries: usize,
    pub retry_timeout: Duration,
    pub init_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 10 retries within 3 minutes, from 100 ms doubling up to 15 s.
    fn default() -> Self {
        RetryPolicy { max_retries: 10, retry_timeout: Duration::from_secs(180), init_backoff: Duration::from_millis(100), max_backoff: Duration::from_secs(15) }
    }
}

/// The longest `retry_timeout` accepted (a day).
const MAX_RETRY_TIMEOUT: u64 = 86_400;

impl RetryPolicy {
    /// Applies option `key` = `value` if it is one of the policy's; returns whether it was.
    ///
    /// Errors: `BadInput` for a value that is not a count (at most 1000) or a number of seconds
    /// (at most a day).
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool> {
        let bad = |why: &str| Error::bad_input(format!("invalid value {value:?} of {key}: {why}"));
        match key {
            "retry_max_retries" => {
                let n: usize = value.trim().parse().map_err(|_| bad("expected a count"))?;
                if n > 1000 {
                    return Err(bad("at most 1000"));
                }
                self.max_retries = n;
            }
            "retry_timeout" => {
                let secs: u64 = value.trim().trim_end_matches('s').parse().map_err(|_| bad("expected seconds, like 30 or 30s"))?;
                if secs > MAX_RETRY_TIMEOUT {
                    return Err(bad("at most 86400 seconds"));
                }
                self.retry_timeout = Duration::from_secs(secs);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The wait before retry number `retry` (0-based).
    pub fn backoff(&self, retry: usize) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31) as u32).unwrap_or(u32::MAX);
        self.init_backoff.saturating_mul(factor).min(self.max_backoff)
    }

    /// Runs `op` until it succeeds, fails with an error that is not
    /// [transient](Error::is_transient), or the policy's limits are reached (the last error is
    /// returned then). Each retry is logged at WARN with `what` and the error.
    pub async fn run<T, F, Fut>(&self, what: &str, op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.retry(what, op, false).await
    }

    /// [`RetryPolicy::run`] for an operation that is long and safe to redo whole (a restore that
    /// failed before its commit, a backup before its manifest): `retry_timeout` counts from the
    /// start of the attempt that failed, not of the first, so a failure after an hour of work
    /// is still retried.
    pub async fn run_whole<T, F, Fut>(&self, what: &str, op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.retry(what, op, true).await
    }

    async fn retry<T, F, Fut>(&self, what: &str, mut op: F, per_attempt: bool) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut started = Instant::now();
        let mut retry = 0;
        loop {
            let attempt = Instant::now();
            match op().await {
                Err(e) if e.is_transient() && retry < self.max_retries => {
                    let wait = self.backoff(retry);
                    if per_attempt {
                        started = attempt;
                    }
                    if started.elapsed() + wait > self.retry_timeout {
                        return Err(e);
                    }
                    retry += 1;
                    tracing::warn!("{what}: {e}; retry {retry} of {} in {} ms", self.max_retries, wait.as_millis());
                    tokio::time::sleep(wait).await;
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kind;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn options_and_backoff() {
        let mut p = RetryPolicy::default();
        assert!(p.set("retry_max_retries", "3").unwrap());
        assert!(p.set("retry_timeout", "30s").unwrap());
        assert!(!p.set("sslmode", "require").unwrap());
        assert_eq!((p.max_retries, p.retry_timeout), (3, Duration::from_secs(30)));
        for (k, v) in [("retry_max_retries", "-1"), ("retry_max_retries", "1001"), ("retry_timeout", "300000y"), ("retry_timeout", "99999999")] {
            let e = p.set(k, v).unwrap_err();
            assert_eq!(e.kind(), Kind::BadInput, "{k}={v}");
        }
        assert_eq!(p.backoff(0), Duration::from_millis(100));
        assert_eq!(p.backoff(3), Duration::from_millis(800));
        assert_eq!(p.backoff(200), Duration::from_secs(15));
    }

    #[tokio::test]
    async fn retries_only_transient_errors_within_the_limits() {
        let policy = RetryPolicy { max_retries: 3, init_backoff: Duration::from_millis(1), ..RetryPolicy::default() };
        let calls = AtomicUsize::new(0);
        let r: Result<()> = policy.run("op", || async { Err(Error::unreachable(format!("try {}", calls.fetch_add(1, Ordering::SeqCst)))) }).await;
        assert_eq!((r.unwrap_err().to_string(), calls.load(Ordering::SeqCst)), ("try 0".to_string(), 1), "not transient: no retry");
        let calls = AtomicUsize::new(0);
        let r: Result<()> = policy.run("op", || async { Err(Error::unreachable(format!("try {}", calls.fetch_add(1, Ordering::SeqCst))).transient()) }).await;
        assert_eq!((r.unwrap_err().to_string(), calls.load(Ordering::SeqCst)), ("try 3".to_string(), 4), "three retries, then the last error");
        let calls = AtomicUsize::new(0);
        let r = policy
            .run("op", || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(Error::unreachable("reset").transient()),
                    n => Ok(n),
                }
            })
            .await;
        assert_eq!(r.unwrap(), 1);
        let calls = AtomicUsize::new(0);
        let short = RetryPolicy { retry_timeout: Duration::ZERO, ..policy };
        let r: Result<()> = short.run("op", || async { Err(Error::unreachable(format!("try {}", calls.fetch_add(1, Ordering::SeqCst))).transient()) }).await;
        assert_eq!(r.unwrap_err().to_string(), "try 0", "no retry past the timeout");
        // A whole operation: the timeout counts from the failing attempt's start.
        let calls = AtomicUsize::new(0);
        let slow = RetryPolicy { retry_timeout: Duration::from_millis(150), ..policy };
        let op = || async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            match calls.fetch_add(1, Ordering::SeqCst) {
                n @ 0..=1 => Err(Error::unreachable(format!("try {n}")).transient()),
                n => Ok(n),
            }
        };
        assert_eq!(slow.run_whole("op", op).await.unwrap(), 2, "each attempt has the whole timeout");
        calls.store(0, Ordering::SeqCst);
        assert_eq!(slow.run("op", op).await.unwrap_err().to_string(), "try 1", "the first attempt's start counts");
    }
}
