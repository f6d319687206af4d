//! The heartbeat a streaming replication writes at its source every [`HEARTBEAT_EVERY`]
//! ([`tandem_engine::changes::Heartbeat`]): its stream delivers each beat after everything the
//! source committed before it, so the age of the newest beat the replica got past is its lag,
//! also while the source is idle.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Utc;
use tandem_engine::changes::Capture;
use tandem_engine::{DbUrl, Engine};
use tandem_error::Kind;

use super::HEARTBEAT_EVERY;
use crate::Events;

/// Writes heartbeats at the source until dropped. A source that does not let tandem write them
/// is said once (`refused` turns true, and later rounds do not ask again): lag is then measured
/// from commit times. A beat that fails (the source went away) is tried again at the next tick.
pub(super) async fn beat(engine: &dyn Engine, url: &DbUrl, capture: &Capture, refused: &AtomicBool, events: &dyn Events) -> Infallible {
    if refused.load(Ordering::Relaxed) {
        return std::future::pending().await;
    }
    let mut heart = match engine.heartbeat(url, capture).await {
        Ok(h) => h,
        Err(e) => {
            if e.kind() != Kind::Unreachable {
                refused.store(true, Ordering::Relaxed);
                events.warn(&format!("no heartbeat at the source ({e}); lag is measured from commit times"));
            }
            return std::future::pending().await;
        }
    };
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        if let Err(e) = heart.beat(Utc::now()).await {
            tracing::debug!("heartbeat at {url}: {e}");
        }
    }
}
