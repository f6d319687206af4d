//! The one place that names implementations: every engine and system of this build.

use std::sync::LazyLock;

use tandem_core::Registry;
use tandem_engine::{DbUrl, Engine};
use tandem_error::Result;
use tandem_system::SiteKey;

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

/// Checks a configured site key before it is needed: against the site's system, or, for a site
/// whose system is recognised at run time, against the systems that keep secrets (one must
/// accept it).
pub fn check_site_key(key: &SiteKey, system: Option<&str>) -> Result<()> {
    if let Some(name) = system.filter(|s| *s != "auto") {
        return registry().system(name)?.secret_codec(key).map(|_| ());
    }
    let mut refused = None;
    for system in registry().systems().filter(|s| s.has_secrets()) {
        match system.secret_codec(key) {
            Ok(_) => return Ok(()),
            Err(e) => refused = Some(e),
        }
    }
    Err(refused.unwrap_or_else(|| tandem_error::Error::bad_input(format!("{}: no system of this tandem keeps encrypted secrets", key.origin()))))
}
