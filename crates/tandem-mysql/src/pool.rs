//! A tiny pool of already-set-up connections (snapshot workers, load connections) that cannot be
//! replaced once lost: a worker is bound to its snapshot transaction.

use std::sync::Mutex;

use mysql_async::Conn;
use std::sync::Arc;
use tandem_error::{Error, Result};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Connections handed out one caller at a time. A connection that is not given back (dropped
/// after an error) is gone for good; when the last one is gone, [`ConnPool::get`] fails instead of
/// waiting forever.
pub(crate) struct ConnPool {
    conns: Mutex<Vec<Conn>>,
    permits: Arc<Semaphore>,
    live: Mutex<usize>,
}

/// A connection taken from a [`ConnPool`]; give it back with [`ConnPool::put`] when it is clean.
pub(crate) struct Lease {
    pub conn: Conn,
    permit: OwnedSemaphorePermit,
}

impl ConnPool {
    pub fn new(conns: Vec<Conn>) -> ConnPool {
        let n = conns.len();
        ConnPool { conns: Mutex::new(conns), permits: Arc::new(Semaphore::new(n)), live: Mutex::new(n) }
    }

    /// Waits for a free connection.
    pub async fn get(&self) -> Result<Lease> {
        let permit =
            self.permits.clone().acquire_owned().await.map_err(|_| Error::internal("every connection of this session has been lost after earlier errors"))?;
        let conn = self.conns.lock().map_err(|_| Error::internal("connection pool poisoned"))?.pop();
        match conn {
            Some(conn) => Ok(Lease { conn, permit }),
            None => Err(Error::internal("connection pool is empty")),
        }
    }

    /// Gives a connection back for the next caller.
    pub fn put(&self, lease: Lease) {
        if let Ok(mut conns) = self.conns.lock() {
            conns.push(lease.conn);
        }
        drop(lease.permit);
    }

    /// Records that a leased connection was dropped (it may be mid-result or broken).
    pub fn lost(&self, lease: Lease) {
        lease.permit.forget();
        drop(lease.conn);
        if let Ok(mut live) = self.live.lock() {
            *live = live.saturating_sub(1);
            if *live == 0 {
                self.permits.close();
            }
        }
    }

    /// Takes every idle connection out (for closing).
    pub fn drain(&self) -> Vec<Conn> {
        self.conns.lock().map(|mut c| std::mem::take(&mut *c)).unwrap_or_default()
    }
}
