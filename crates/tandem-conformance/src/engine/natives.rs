//! Checks over an engine's own column types ([`Profile::mapped`](super::profile::Profile) and
//! `unmapped`), created with the server's own client: what `translate_schema` never makes but a
//! backup of a real database holds.

use tandem_engine::{DbUrl, ForeignSchema, ForeignTable, LogicalType, Value};

use super::profile::Native;
use super::{copy_database, decode, load, read, sample, Subject};

/// A new database holding `natives (id INT PRIMARY KEY, c0 <type 0>, …)` with one row per
/// literal (a column with fewer literals is NULL there) and a row of NULLs; its name and URL.
fn native_db(s: Subject, prefix: &str, natives: &[Native]) -> (String, DbUrl) {
    let (name, url) = s.database(prefix);
    let columns: String = natives.iter().enumerate().map(|(i, (ty, _))| format!(", c{i} {ty}")).collect();
    let mut sql = format!("CREATE TABLE natives (id INT PRIMARY KEY{columns});\n");
    let rows = natives.iter().map(|(_, values)| values.len()).max().unwrap_or(0) + 1;
    for row in 0..rows {
        let values: String = natives.iter().map(|(_, values)| format!(", {}", values.get(row).unwrap_or(&"NULL"))).collect();
        sql.push_str(&format!("INSERT INTO natives VALUES ({}{values});\n", row + 1));
    }
    s.sql(&name, &sql);
    (name, url)
}

/// Every row of `natives` as the server's own client prints it.
fn dump(s: Subject, db: &str) -> String {
    s.sql(db, "SELECT * FROM natives ORDER BY id")
}

/// A same-engine restore of a table of every native type (those without a logical equivalent
/// too) gives back what the server holds, as its own client prints it, and the same bytes.
pub async fn native_types_restore_identically(s: Subject) {
    let natives: Vec<Native> = s.profile().mapped.iter().chain(s.profile().unmapped).copied().collect();
    restores_identically(s, &natives).await;
}

/// [`native_types_restore_identically`] for the types of
/// [`Profile::known_bugs`](super::profile::Profile).
pub async fn native_types_with_a_known_bug_restore_identically(s: Subject) {
    restores_identically(s, s.profile().known_bugs).await;
}

async fn restores_identically(s: Subject, natives: &[Native]) {
    let (src_name, src) = native_db(s, "conf_nat_src", natives);
    let (dst_name, dst) = s.database("conf_nat_dst");
    let (_, tables) = copy_database(s, &src, &dst).await.unwrap_or_else(|e| panic!("{}: restoring native types: {e}", s.engine.name()));
    assert_eq!(dump(s, &dst_name), dump(s, &src_name), "{}: the restored rows differ", s.engine.name());
    let (_, copied) = read(s, &dst).await.expect("read the copy");
    assert!(tables[0].data == copied[0].data, "{}: the copy reads back different bytes", s.engine.name());
}

/// The snapshot reports every native type the profile calls mapped with a logical type, and
/// those it calls unmapped without one (so a cross-engine restore refuses them).
pub async fn native_types_have_their_logical_type(s: Subject) {
    let natives: Vec<Native> = s.profile().mapped.iter().chain(s.profile().unmapped).copied().collect();
    let (_, url) = native_db(s, "conf_nat_map", &natives);
    let (schema, _) = read(s, &url).await.expect("read");
    let columns = &schema.tables[0].columns[1..];
    assert_eq!(columns.len(), natives.len());
    for (col, (ty, _)) in columns.iter().zip(&natives) {
        let mapped = s.profile().mapped.iter().any(|(t, _)| t == ty);
        let logical = s.engine.logical_column(col);
        assert_eq!(logical.is_some(), mapped, "{}: {ty} (reported as {:?}) has logical type {logical:?}", s.engine.name(), col.sql_type);
    }
}

/// Every native type of `from` with a logical equivalent converts into `to` as a cross-engine
/// restore does it (decoded by `from`, translated and encoded by `to`, read back and decoded by
/// `to`): every value is the same value.
pub async fn every_native_type_converts(from: Subject, to: Subject) {
    let (_, src) = native_db(from, "conf_nat_from", from.profile().mapped);
    let what = format!("{} -> {}", from.engine.name(), to.engine.name());
    let (types, want, got) = convert(from, to, &src).await.unwrap_or_else(|e| panic!("{what}: {e}"));
    let names: Vec<String> = std::iter::once("id".to_string()).chain(from.profile().mapped.iter().map(|(ty, _)| ty.to_string())).collect();
    sample::assert_values(&what, &names, &types, &want, &got);
}

/// Converts the one table of the database `src` of `from` into a new database of `to` as a
/// cross-engine restore does; returns the column types `from` names, the rows as `from` decoded
/// them and as `to` reads them back.
pub(super) async fn convert(from: Subject, to: Subject, src: &DbUrl) -> tandem_error::Result<(Vec<LogicalType>, Vec<Vec<Value>>, Vec<Vec<Value>>)> {
    let (_, tables) = read(from, src).await?;
    let t = &tables[0];
    let columns: Vec<_> =
        t.def.columns.iter().map(|c| from.engine.logical_column(c).unwrap_or_else(|| panic!("{}: no logical type for {c:?}", from.engine.name()))).collect();
    let types = columns.iter().map(|c| c.ty.clone()).collect();
    let foreign = ForeignSchema { tables: vec![ForeignTable { def: t.def.clone(), columns, charsets: Default::default() }], text_charset: None };
    let want = decode(from.engine, t)?;
    let (_, dst) = to.database("conf_to");
    load(to, &dst, &foreign, std::slice::from_ref(&want)).await?;
    let (_, back) = read(to, &dst).await?;
    Ok((types, want, decode(to.engine, &back[0])?))
}
