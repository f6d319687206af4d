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

/// Configured site `name` as one side of a move of the platform (switchover, failover, rejoin).
pub fn move_side(config: &crate::config::Config, name: &str) -> Result<tandem_core::SwitchoverSite<'static>> {
    let (engine, url) = engine_for(config.site(name)?.db_url())?;
    Ok(tandem_core::SwitchoverSite { name: name.to_string(), engine, url })
}

/// The scratch database of an operation on `next_to` (on `engine`): `url` when given (it must
/// be on the same engine; `whose` names what it is next to, for the error), else the database
/// `<database><suffix>` on `next_to`'s server, with its credentials.
pub fn scratch_url(url: Option<&str>, engine: &dyn Engine, next_to: &DbUrl, suffix: &str, whose: &str) -> Result<DbUrl> {
    let Some(url) = url else {
        let mut scratch = next_to.clone();
        scratch.database = format!("{}{suffix}", next_to.database);
        return Ok(scratch);
    };
    let (e, url) = engine_for(url)?;
    if e.name() != engine.name() {
        return Err(tandem_error::Error::bad_input(format!("the scratch database {url} must be on {whose}'s engine ({})", engine.name())));
    }
    Ok(url)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_database_is_next_to_its_target_or_given_on_the_same_engine() {
        let (engine, target) = engine_for("mysql://u:secret@h:3306/metastore").unwrap();
        let s = scratch_url(None, engine, &target, "_tandem_drill", "site dr").unwrap();
        assert_eq!((s.host.as_str(), s.database.as_str(), s.password()), ("h", "metastore_tandem_drill", Some("secret")));
        assert_eq!(scratch_url(Some("mysql://u@other/x"), engine, &target, "_s", "site dr").unwrap().host, "other");
        let e = scratch_url(Some("postgres://u@other/x"), engine, &target, "_s", "site dr").unwrap_err().to_string();
        assert!(e.contains("must be on site dr's engine (mysql)"), "{e}");
    }
}
