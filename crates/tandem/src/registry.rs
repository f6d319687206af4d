//! The one place that names implementations: every engine and system of this build.

use std::sync::LazyLock;

use tandem_core::Registry;
use tandem_engine::{DbUrl, Engine};
use tandem_error::Result;

static REGISTRY: LazyLock<Registry> = LazyLock::new(|| {
    Registry::new(
        vec![Box::new(tandem_mysql::MySql), Box::new(tandem_postgres::Postgres)],
        // Most specific first; generic (every database) last.
        vec![Box::new(tandem_system::HiveMetastore), Box::new(tandem_system::Airflow), Box::new(tandem_system::Generic)],
    )
});

/// Every engine and system tandem has.
pub fn registry() -> &'static Registry {
    &REGISTRY
}

/// Parses a database URL and finds the engine for its scheme.
pub fn engine_for(url: &str) -> Result<(&'static dyn Engine, DbUrl)> {
    registry().engine_for(url)
}
