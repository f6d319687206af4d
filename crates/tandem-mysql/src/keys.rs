//! The engine-neutral part of a schema that the DDL text does not give a restore into another
//! engine: secondary indexes on plain columns and foreign keys, from `information_schema`.
//! FULLTEXT and SPATIAL indexes and functional key parts are left out (they have no equivalent).

use std::collections::BTreeMap;

use mysql_async::Conn;
use tandem_engine::{ForeignKeyDef, IndexDef, TableDef};
use tandem_error::Result;

use crate::{field, lit, query_strings};

/// Fills `indexes` and `foreign_keys` of every table of `tables` (database `db`).
pub(crate) async fn read_keys(conn: &mut Conn, db: &str, tables: &mut [TableDef]) -> Result<()> {
    // (table, index) → (unique, plain, columns in order)
    let mut indexes: BTreeMap<(String, String), (bool, bool, Vec<String>)> = BTreeMap::new();
    for r in query_strings(
        conn,
        &format!(
            "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, INDEX_TYPE FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = {} AND INDEX_NAME <> 'PRIMARY' ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
            lit(db)
        ),
    )
    .await?
    {
        let entry = indexes.entry((field(&r, 0), field(&r, 1))).or_insert((field(&r, 2) == "0", true, Vec::new()));
        let column = r.get(3).cloned().flatten();
        let kind = field(&r, 4);
        match column {
            Some(c) if kind == "BTREE" || kind == "HASH" => entry.2.push(c),
            _ => entry.1 = false,
        }
    }
    let mut fks: BTreeMap<(String, String), ForeignKeyDef> = BTreeMap::new();
    for r in query_strings(
        conn,
        &format!(
            "SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, \
                    rc.DELETE_RULE, rc.UPDATE_RULE \
             FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS rc \
               ON rc.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND rc.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND rc.TABLE_NAME = k.TABLE_NAME \
             WHERE k.TABLE_SCHEMA = {} AND k.REFERENCED_TABLE_NAME IS NOT NULL \
             ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION",
            lit(db)
        ),
    )
    .await?
    {
        let fk = fks.entry((field(&r, 0), field(&r, 1))).or_insert_with(|| ForeignKeyDef {
            name: field(&r, 1),
            columns: Vec::new(),
            ref_table: field(&r, 3),
            ref_columns: Vec::new(),
            on_delete: field(&r, 5),
            on_update: field(&r, 6),
        });
        fk.columns.push(field(&r, 2));
        fk.ref_columns.push(field(&r, 4));
    }
    for t in tables.iter_mut() {
        t.indexes = indexes
            .range((t.name.clone(), String::new())..)
            .take_while(|((table, _), _)| table == &t.name)
            .filter(|(_, (_, plain, cols))| *plain && !cols.is_empty())
            .map(|((_, name), (unique, _, cols))| IndexDef { name: name.clone(), columns: cols.clone(), unique: *unique })
            .collect();
        t.foreign_keys = fks.range((t.name.clone(), String::new())..).take_while(|((table, _), _)| table == &t.name).map(|(_, fk)| fk.clone()).collect();
    }
    Ok(())
}
