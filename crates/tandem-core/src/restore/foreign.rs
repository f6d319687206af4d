//! The target's schema for a backup taken by another engine.

use tandem_engine::{Engine, ForeignSchema, ForeignTable, LogicalType, SchemaDump};
use tandem_error::{Error, Result};
use tandem_repo::Manifest;
use tandem_system::System;

/// How many offending columns an error lists.
const LISTED: usize = 8;

/// The schema `to` creates for the backup `m` of engine `from`, and every table's column types
/// (in manifest order). Errors (Unsupported) naming what cannot cross: views, triggers,
/// routines, columns without a neutral type.
pub(super) fn translate(m: &Manifest, from: &dyn Engine, to: &dyn Engine, system: &dyn System) -> Result<(SchemaDump, Vec<Vec<LogicalType>>)> {
    let what = format!("backup {} ({} {}) cannot be restored into {}", m.id, from.name(), m.system.name, to.name());
    if !m.schema.untranslatable.is_empty() {
        return Err(Error::unsupported(format!(
            "{what}: {} cannot be translated ({}); restore it into {} instead",
            m.schema.untranslatable.len(),
            m.schema.untranslatable.iter().take(LISTED).cloned().collect::<Vec<_>>().join(", "),
            from.name()
        )));
    }
    let mut tables = Vec::with_capacity(m.tables.len());
    let mut missing = Vec::new();
    for t in &m.tables {
        let mut columns = Vec::with_capacity(t.table.columns.len());
        for c in &t.table.columns {
            match from.logical_column(c) {
                Some(lc) => columns.push(lc),
                None => missing.push(format!("{}.{} ({})", t.table.display_name(), c.name, c.sql_type)),
            }
        }
        let charsets = t.table.columns.iter().filter_map(|c| Some((c.name.clone(), system.column_charset(&t.table.name, &c.name)?.to_string()))).collect();
        tables.push(ForeignTable { def: t.table.clone(), columns, charsets });
    }
    if !missing.is_empty() {
        return Err(Error::unsupported(format!(
            "{what}: {} column(s) have a type {} has no equivalent for: {}",
            missing.len(),
            to.name(),
            missing.iter().take(LISTED).cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    let types = tables.iter().map(|t| t.columns.iter().map(|c| c.ty.clone()).collect()).collect();
    let schema = ForeignSchema { tables, text_charset: system.text_charset().map(str::to_string) };
    let dump = to.translate_schema(&schema).map_err(|e| e.context(&what))?;
    if dump.tables.len() != m.tables.len() {
        return Err(Error::internal(format!("{what}: the {} schema has {} tables, the backup {}", to.name(), dump.tables.len(), m.tables.len())));
    }
    Ok((dump, types))
}
