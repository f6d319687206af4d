//! The one place that maps names and URL schemes to implementations.

use tandem_engine::{DbUrl, Engine};
use tandem_error::{Error, Result};

/// Every engine tandem has.
pub fn engines() -> Vec<Box<dyn Engine>> {
    vec![Box::new(tandem_mysql::MySql), Box::new(tandem_postgres::Postgres)]
}

/// Parses a database URL and finds the engine for its scheme.
pub fn engine_for(url: &str) -> Result<(Box<dyn Engine>, DbUrl)> {
    let url = DbUrl::parse(url)?;
    let engine = engines().into_iter().find(|e| e.schemes().contains(&url.scheme.as_str())).ok_or_else(|| {
        let schemes: Vec<String> = engines().iter().flat_map(|e| e.schemes().iter().map(|s| format!("{s}://"))).collect();
        Error::bad_input(format!("unknown database URL scheme {}:// in {url} (supported: {})", url.scheme, schemes.join(", ")))
    })?;
    Ok((engine, url))
}
