//! Sequences: created before the load (identity sequences inside their `CREATE TABLE`), owned
//! by their serial column, and set after the load past both the source's value and the owning
//! column's maximum.

use std::collections::HashMap;

use tandem_error::Result;

use super::{get, not_ext, query, Reader, Seq, USER_NS};
use crate::{ident, literal, qname};

impl Reader<'_> {
    /// Reads every user sequence; appends `CREATE SEQUENCE` to `pre` for those that are not an
    /// identity column's (an unowned sequence is also untranslatable). Returns (table oid,
    /// column) → index in `seqs` of the identity sequences.
    pub(super) async fn sequences(&mut self) -> Result<HashMap<(i64, String), usize>> {
        let rows = query(
            self.client,
            "sequences",
            &format!(
                "SELECT c.oid::int8, n.nspname::text, c.relname::text, pg_catalog.format_type(s.seqtypid, NULL), \
                    s.seqstart, s.seqincrement, s.seqmax, s.seqmin, s.seqcache, s.seqcycle, \
                    d.deptype::text, d.refobjid::int8, a.attname::text \
             FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid \
                  AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i') \
             LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
             WHERE {USER_NS} AND {} ORDER BY n.nspname, c.relname",
                not_ext("pg_class", "c.oid")
            ),
        )
        .await?;
        for r in &rows {
            let deptype: Option<String> = get(r, 10)?;
            let owner_oid: Option<i64> = get(r, 11)?;
            let owner_col: Option<String> = get(r, 12)?;
            let owner = match (deptype, owner_oid, owner_col) {
                (Some(d), Some(o), Some(c)) if self.table_idx.contains_key(&o) => Some((d, o, c)),
                _ => None,
            };
            self.seqs.push(Seq {
                oid: get(r, 0)?,
                schema: get(r, 1)?,
                name: get(r, 2)?,
                ty: get(r, 3)?,
                start: get(r, 4)?,
                inc: get(r, 5)?,
                max: get(r, 6)?,
                min: get(r, 7)?,
                cache: get(r, 8)?,
                cycle: get(r, 9)?,
                owner,
            });
        }
        let mut identity_seq: HashMap<(i64, String), usize> = HashMap::new();
        for (i, s) in self.seqs.iter().enumerate() {
            match &s.owner {
                Some((d, t, c)) if d == "i" => {
                    identity_seq.insert((*t, c.clone()), i);
                }
                _ => {
                    if s.owner.is_none() {
                        self.untranslatable.push(format!("sequence {}.{}", s.schema, s.name));
                    }
                    self.pre.push(format!("CREATE SEQUENCE {} AS {} {}", qname(&s.schema, &s.name), s.ty, s.options()))
                }
            }
        }
        Ok(identity_seq)
    }

    /// Appends `ALTER SEQUENCE … OWNED BY` for serial sequences to `pre` (after the tables).
    pub(super) fn sequence_owners(&mut self) {
        for s in &self.seqs {
            if let Some((d, t, c)) = &s.owner {
                if d == "a" {
                    let tb = &self.tables[self.table_idx[t]];
                    self.pre.push(format!("ALTER SEQUENCE {} OWNED BY {}.{}", qname(&s.schema, &s.name), qname(&tb.schema, &tb.name), ident(c)));
                }
            }
        }
    }

    /// Appends a `setval` per sequence to `post`: past both the source's value and, for a
    /// sequence owned by a column, the column's maximum.
    pub(super) async fn sequence_values(&mut self) -> Result<()> {
        for s in &self.seqs {
            let seq = literal(&qname(&s.schema, &s.name));
            let r = query(self.client, "sequence values", &format!("SELECT last_value, is_called FROM {}", qname(&s.schema, &s.name))).await?;
            let Some(r) = r.first() else { continue };
            let (last, called): (i64, bool) = (get(r, 0)?, get(r, 1)?);
            let setval = format!("pg_catalog.setval({seq}::pg_catalog.regclass, {last}, {called})");
            match &s.owner {
                Some((_, t, c)) if s.inc > 0 => {
                    let tb = &self.tables[self.table_idx[t]];
                    self.post.push(format!(
                        "SELECT CASE WHEN m IS NOT NULL AND m >= {last} \
                         THEN pg_catalog.setval({seq}::pg_catalog.regclass, LEAST(m, {}), true) ELSE {setval} END \
                         FROM (SELECT pg_catalog.max({})::int8 AS m FROM ONLY {}) s",
                        s.max,
                        ident(c),
                        qname(&tb.schema, &tb.name)
                    ));
                }
                _ => self.post.push(format!("SELECT {setval}")),
            }
        }
        Ok(())
    }
}
