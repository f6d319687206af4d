//! The engine-neutral part of a schema that a restore into another engine needs besides column
//! types: secondary indexes on plain columns (unique constraints included, the primary key not)
//! and foreign keys. Expression and partial indexes are left out (no portable equivalent).

use std::collections::HashMap;

use tandem_engine::{ForeignKeyDef, IndexDef, TableDef};
use tandem_error::{Error, Result};
use tokio_postgres::Client;

use crate::{pg_err, pg_text};

/// `confdeltype` / `confupdtype` letters as SQL.
fn action(letter: &str) -> String {
    match letter {
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        "r" => "RESTRICT",
        _ => "NO ACTION",
    }
    .to_string()
}

/// Fills `indexes` and `foreign_keys` of every table of `tables`.
pub(crate) async fn read_keys(client: &Client, tables: &mut [TableDef]) -> Result<()> {
    let get = |e: tokio_postgres::Error| Error::internal(format!("reading the PostgreSQL catalog: {}", pg_text(&e)));
    let mut by_name: HashMap<(String, String), &mut TableDef> =
        tables.iter_mut().map(|t| ((t.schema.clone().unwrap_or_default(), t.name.clone()), t)).collect();
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text, ic.relname::text, i.indisunique, \
                    ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(i.indkey) WITH ORDINALITY k(attnum, ord) \
                          JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.ord) \
             FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indrelid \
             JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE NOT i.indisprimary AND i.indexprs IS NULL AND i.indpred IS NULL AND NOT (0 = ANY (i.indkey::int2[])) \
               AND c.relkind = 'r' ORDER BY 1, 2, 3",
            &[],
        )
        .await
        .map_err(|e| pg_err("reading indexes from the catalog", e))?;
    for r in &rows {
        let key: (String, String) = (r.try_get(0).map_err(get)?, r.try_get(1).map_err(get)?);
        if let Some(t) = by_name.get_mut(&key) {
            t.indexes.push(IndexDef { name: r.try_get(2).map_err(get)?, unique: r.try_get(3).map_err(get)?, columns: r.try_get(4).map_err(get)? });
        }
    }
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text, con.conname::text, rc.relname::text, \
                    ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(con.conkey) WITH ORDINALITY k(attnum, ord) \
                          JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord), \
                    ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(con.confkey) WITH ORDINALITY k(attnum, ord) \
                          JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord), \
                    con.confdeltype::text, con.confupdtype::text \
             FROM pg_catalog.pg_constraint con JOIN pg_catalog.pg_class c ON c.oid = con.conrelid \
             JOIN pg_catalog.pg_class rc ON rc.oid = con.confrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE con.contype = 'f' ORDER BY 1, 2, 3",
            &[],
        )
        .await
        .map_err(|e| pg_err("reading foreign keys from the catalog", e))?;
    for r in &rows {
        let key: (String, String) = (r.try_get(0).map_err(get)?, r.try_get(1).map_err(get)?);
        if let Some(t) = by_name.get_mut(&key) {
            t.foreign_keys.push(ForeignKeyDef {
                name: r.try_get(2).map_err(get)?,
                ref_table: r.try_get(3).map_err(get)?,
                columns: r.try_get(4).map_err(get)?,
                ref_columns: r.try_get(5).map_err(get)?,
                on_delete: action(&r.try_get::<_, String>(6).map_err(get)?),
                on_update: action(&r.try_get::<_, String>(7).map_err(get)?),
            });
        }
    }
    Ok(())
}
