//! `hive-metastore`: the Hive Metastore (Hive, Spark, Trino, Dataproc Metastore), recognised by its
//! `VERSION` table (`SCHEMA_VERSION`) next to `DBS` and `TBLS`.
//!
//! Supported layouts: schema versions 2.3.x, 3.1.x and 4.0.x, on MySQL/MariaDB and PostgreSQL
//! (the same tables and columns; upper-case names, quoted on PostgreSQL).

mod fixups;
mod verify;

use tandem_engine::{Dialect, TableDef};
use tandem_error::{Error, Hint, Result};

use crate::{Fixup, LocationColumn, System};

/// The Hive Metastore.
pub struct HiveMetastore;

/// Schema version prefixes tandem supports.
pub const SUPPORTED_VERSIONS: &[&str] = &["2.3", "3.1", "4.0"];

/// Every place a metastore stores a storage URI.
const LOCATIONS: &[LocationColumn] = &[
    LocationColumn { table: "DBS", column: "DB_LOCATION_URI", only_keys: None, since: None },
    LocationColumn { table: "DBS", column: "DB_MANAGED_LOCATION_URI", only_keys: None, since: Some("4.0") },
    LocationColumn { table: "CTLGS", column: "LOCATION_URI", only_keys: None, since: Some("3.0") },
    LocationColumn { table: "SDS", column: "LOCATION", only_keys: None, since: None },
    LocationColumn { table: "SKEWED_COL_VALUE_LOC_MAP", column: "LOCATION", only_keys: None, since: None },
    LocationColumn { table: "FUNC_RU", column: "RESOURCE_URI", only_keys: None, since: None },
    // Spark datasource tables read their data from the `path` storage property: with only
    // SDS.LOCATION rewritten Spark silently reads 0 rows.
    LocationColumn { table: "SERDE_PARAMS", column: "PARAM_VALUE", only_keys: Some(("PARAM_KEY", &["path", "avro.schema.url"])), since: None },
    LocationColumn {
        table: "TABLE_PARAMS",
        column: "PARAM_VALUE",
        only_keys: Some(("PARAM_KEY", &["avro.schema.url", "metadata_location", "previous_metadata_location"])),
        since: None,
    },
    LocationColumn { table: "PARTITION_PARAMS", column: "PARAM_VALUE", only_keys: Some(("PARAM_KEY", &["avro.schema.url"])), since: None },
];

/// Whether tandem supports metastore schema `version` (`2.3.0`, `3.1.0`, `4.0.0-beta-1`).
pub fn supported(version: &str) -> bool {
    SUPPORTED_VERSIONS.iter().any(|p| version.strip_prefix(p).is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with('-')))
}

impl System for HiveMetastore {
    fn name(&self) -> &'static str {
        "hive-metastore"
    }

    fn describe(&self) -> &'static str {
        "a Hive Metastore"
    }

    fn marker_tables(&self) -> &'static [&'static str] {
        &["VERSION", "DBS", "TBLS"]
    }

    fn version_column(&self) -> Option<&'static str> {
        Some("SCHEMA_VERSION")
    }

    fn check_version(&self, version: Option<&str>) -> Result<()> {
        let list = SUPPORTED_VERSIONS.iter().map(|v| format!("{v}.x")).collect::<Vec<_>>().join(", ");
        match version {
            Some(v) if supported(v.trim()) => Ok(()),
            Some(v) => Err(Error::bad_input(format!(
                "Hive Metastore schema version {v} is not supported (tandem supports {list}); \
                 it can be copied as it is, without location maps or fix-ups"
            ))
            .with_hint(Hint::GenericSystem)),
            None => Err(Error::bad_input(format!("the Hive Metastore has no schema version (its VERSION table is empty; tandem supports {list})"))
                .with_hint(Hint::GenericSystem)),
        }
    }

    fn summary_tables(&self) -> &'static [(&'static str, &'static str)] {
        &[("databases", "DBS"), ("tables", "TBLS"), ("partitions", "PARTITIONS"), ("functions", "FUNCS")]
    }

    fn location_columns(&self) -> &'static [LocationColumn] {
        LOCATIONS
    }

    fn post_restore(&self, tables: &[TableDef], dialect: &dyn Dialect) -> Vec<Fixup> {
        fixups::fixups(tables, dialect)
    }

    fn text_charset(&self) -> Option<&'static str> {
        Some("latin1")
    }

    fn verify_views(&self) -> &'static [crate::verify::View] {
        verify::VIEWS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        for v in ["2.3.0", "2.3.9", "3.1.0", "3.1.3000.7.1.8", "4.0.0", "4.0.0-beta-1", "4.0"] {
            assert!(supported(v), "{v}");
            assert!(HiveMetastore.check_version(Some(v)).is_ok());
        }
        for v in ["1.2.0", "2.1.0", "3.0.0", "4.1.0", "2.30.0", "garbage"] {
            assert!(!supported(v), "{v}");
            let e = HiveMetastore.check_version(Some(v)).unwrap_err();
            assert!(e.to_string().contains(v) && e.hint() == Some(Hint::GenericSystem), "{e}");
        }
        assert!(HiveMetastore.check_version(None).unwrap_err().to_string().contains("no schema version"));
    }

    #[test]
    fn recognizes_target_relations() {
        let rel = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(HiveMetastore.recognizes(&rel(&["public.DBS", "public.TBLS", "public.VERSION", "public.SDS"])));
        assert!(HiveMetastore.recognizes(&rel(&["DBS", "TBLS", "VERSION"])));
        assert!(!HiveMetastore.recognizes(&rel(&["DBS", "TBLS"])));
        assert!(!crate::Generic.recognizes(&rel(&["DBS"])));
    }
}
