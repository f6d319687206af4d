//! `generic`: any schema, copied faithfully, no semantics.

use async_trait::async_trait;
use tandem_engine::Snapshot;
use tandem_error::Result;

use crate::{Detected, System};

/// Recognises every database.
pub struct Generic;

#[async_trait]
impl System for Generic {
    fn name(&self) -> &'static str {
        "generic"
    }

    async fn detect(&self, _snapshot: &dyn Snapshot) -> Result<Option<Detected>> {
        Ok(Some(Detected { name: self.name().into(), ..Default::default() }))
    }
}
