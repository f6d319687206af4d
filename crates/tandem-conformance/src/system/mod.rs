//! The system conformance suite: the contracts of [`tandem_system::System`], checked for every
//! system × supported schema version × engine against a real database of that layout.
//!
//! `tests/systems.rs` instantiates every check for one case with one [`system_suite!`] line.
//! A case's database is made once per test process ([`Fixture`]) and only read; checks that
//! change something work on a copy.

mod checks;
mod fixtures;

pub use checks::*;
pub use fixtures::Fixture;

use std::sync::OnceLock;

use tandem_core::Registry;
use tandem_engine::DbUrl;
use tandem_system::System;

use crate::engine::Subject;

/// One system at one schema layout on one engine.
pub struct Case {
    pub system: &'static dyn System,
    pub fixture: Fixture,
    pub subject: Subject,
    /// Every engine and system, as the binary registers them.
    pub registry: &'static Registry,
    /// A statement (in the engine's dialect) that changes one object verify compares, on a
    /// copy; `None` for systems without verify views.
    pub change: Option<fn(&dyn tandem_engine::Dialect) -> String>,
    /// The case's database, made on first use.
    pub db: &'static OnceLock<String>,
}

impl Case {
    /// The case's database (made by its fixture on first use) and its URL.
    pub async fn database(&self) -> (String, DbUrl) {
        let subject = self.subject;
        let fixture = self.fixture;
        let db = self.db.get_or_init(|| fixture.make(subject));
        (db.clone(), subject.url(db))
    }

    pub fn what(&self) -> String {
        format!("{} {} on {}", self.system.name(), self.fixture.label(), self.subject.engine.name())
    }
}

/// Instantiates every check for one case:
/// `system_suite!(name, SYSTEM, FIXTURE, ENGINE, FLAVOR, CHANGE)` makes a module `name` with one
/// test per check; `CHANGE` is a `fn(&dyn Dialect) -> String` statement that changes something
/// verify compares, or `None`. The test file provides `fn registry() -> &'static Registry`.
#[macro_export]
macro_rules! system_suite {
    ($name:ident, $system:expr, $fixture:expr, $engine:expr, $flavor:expr, $change:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::system::Case;
            static DB: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            fn case() -> Case {
                Case {
                    system: &$system,
                    fixture: $fixture,
                    subject: $crate::engine::Subject::new(&$engine, $flavor),
                    registry: super::registry(),
                    change: $change,
                    db: &DB,
                }
            }
            $crate::system_suite!(@checks case;
                detect_recognises_the_layout,
                summary_tables_exist,
                location_columns_exist_from_their_version_on,
                fixups_are_idempotent,
                verify_views_compare_a_copy_as_good);
        }
    };
    (@checks $case:ident; $($check:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                $crate::system::$check(&$case()).await;
            }
        )+
    };
}
