//! `generic`: any schema, copied faithfully, no semantics.

use crate::System;

/// Recognises every database.
pub struct Generic;

impl System for Generic {
    fn name(&self) -> &'static str {
        "generic"
    }

    fn describe(&self) -> &'static str {
        "a database"
    }
}
