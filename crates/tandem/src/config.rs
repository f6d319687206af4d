//! `tandem.toml`: the repository and named sites.
//!
//! ```toml
//! repo = "s3://dr-bucket/tandem"
//!
//! [sites.primary]
//! db = "mysql://hive:${HMS_PASSWORD}@metastore-us:3306/metastore"
//! system = "hive-metastore"
//!
//! [sites.dr]
//! db = "postgres://hive:${HMS_DR_PASSWORD}@metastore-eu:5432/metastore"
//! map-location = ["gs://lake-us/=gs://lake-eu/"]
//! source = "primary"                          # the site it is restored from
//! fernet-key = "${AIRFLOW_DR_FERNET_KEY}"     # Airflow: the site's Fernet key
//! ```
//!
//! `${NAME}` in a string is replaced by the environment variable NAME (an error if unset).
//! Unknown keys are errors, so a typo never silently does nothing.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use tandem_error::{Error, Result};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Repository URL or path.
    pub repo: Option<String>,
    #[serde(default)]
    pub sites: BTreeMap<String, Site>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Database URL of the site.
    pub db: String,
    /// System of the site's database (`auto` when absent).
    pub system: Option<String>,
    /// `FROM=TO` storage location rewrites applied when restoring into this site.
    #[serde(default, rename = "map-location")]
    pub map_location: Vec<String>,
    /// The site this one is restored from (a standby's primary).
    pub source: Option<String>,
    /// The site's Fernet key (Airflow), to re-encrypt secrets restored into it and to read them.
    #[serde(rename = "fernet-key")]
    pub fernet_key: Option<String>,
}

impl Config {
    /// Reads and validates a config file. Errors name the file, and the line for syntax errors.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::bad_input(format!("cannot read config file {}: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| e.context(format!("config file {}", path.display())))
    }

    pub fn parse(text: &str) -> Result<Config> {
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let msg = e.message().to_string();
            match e.span().map(|s| 1 + text.as_bytes()[..s.start.min(text.len())].iter().filter(|&&b| b == b'\n').count()) {
                Some(line) => Error::bad_input(format!("line {line}: {msg}")),
                None => Error::bad_input(msg),
            }
        })?;
        if let Some(repo) = &config.repo {
            config.repo = Some(expand_env(repo).map_err(|e| e.context("repo"))?);
        }
        for (name, site) in config.sites.iter_mut() {
            site.db = expand_env(&site.db).map_err(|e| e.context(format!("sites.{name}.db")))?;
            tandem_system::LocationMap::parse(&site.map_location).map_err(|e| e.context(format!("sites.{name}.map-location")))?;
            if let Some(k) = &site.fernet_key {
                let k = expand_env(k).map_err(|e| e.context(format!("sites.{name}.fernet-key")))?;
                tandem_system::Keyring::parse(&k, &format!("sites.{name}.fernet-key"))?;
                site.fernet_key = Some(k);
            }
        }
        for (name, site) in &config.sites {
            if let Some(src) = &site.source {
                if !config.sites.contains_key(src) {
                    return Err(Error::bad_input(format!("sites.{name}.source: there is no site {src:?}")));
                }
            }
        }
        Ok(config)
    }

    /// The site called `name`; the error lists the sites that exist.
    pub fn site(&self, name: &str) -> Result<&Site> {
        self.sites.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.sites.keys().map(String::as_str).collect();
            if known.is_empty() {
                Error::bad_input(format!("unknown site {name:?}: no sites are configured (give --config FILE with [sites.{name}])"))
            } else {
                Error::bad_input(format!("unknown site {name:?} (configured: {})", known.join(", ")))
            }
        })
    }
}

/// Replaces `${NAME}` with the value of environment variable NAME.
fn expand_env(s: &str) -> Result<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after.find('}').ok_or_else(|| Error::bad_input("unclosed ${ in value"))?;
        let name = &after[..end];
        let value = std::env::var(name).map_err(|_| Error::bad_input(format!("environment variable {name} is not set")))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sites_and_expands_env() {
        std::env::set_var("TANDEM_TEST_PW", "s3cret");
        let c = Config::parse("repo = \"/r\"\n[sites.primary]\ndb = \"mysql://u:${TANDEM_TEST_PW}@h/db\"\nsystem = \"generic\"\n").unwrap();
        assert_eq!(c.repo.as_deref(), Some("/r"));
        assert_eq!(c.site("primary").unwrap().db, "mysql://u:s3cret@h/db");
        let e = c.site("dr").unwrap_err().to_string();
        assert!(e.contains("unknown site \"dr\"") && e.contains("primary"), "{e}");
    }

    #[test]
    fn map_location_lists_are_checked_when_loaded() {
        let c = Config::parse("[sites.dr]\ndb = \"mysql://h/db\"\nmap-location = [\"gs://a/=gs://b/\"]\n").unwrap();
        assert_eq!(c.site("dr").unwrap().map_location, vec!["gs://a/=gs://b/"]);
        let e = Config::parse("[sites.dr]\ndb = \"mysql://h/db\"\nmap-location = [\"gs://a/\"]\n").unwrap_err();
        assert!(e.to_string().contains("sites.dr.map-location") && e.to_string().contains("no '='"), "{e}");
        let e = Config::parse("[sites.dr]\ndb = \"mysql://h/db\"\nmap-location = \"gs://a/=gs://b/\"\n").unwrap_err();
        assert!(e.to_string().starts_with("line 3"), "{e}");
    }

    #[test]
    fn broken_config_names_the_line() {
        let e = Config::parse("repo = \"/r\"\n[sites.primary]\ndbb = \"x\"\n").unwrap_err();
        assert!(e.to_string().starts_with("line 3"), "{e}");
        assert!(e.to_string().contains("dbb"), "{e}");
        let e = Config::parse("repo = \n").unwrap_err();
        assert!(e.to_string().starts_with("line 1"), "{e}");
        let e = Config::parse("[sites.a]\ndb = \"mysql://${TANDEM_SURELY_UNSET_VAR}\"\n").unwrap_err();
        assert!(e.to_string().contains("TANDEM_SURELY_UNSET_VAR is not set"), "{e}");
    }
}
