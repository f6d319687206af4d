//! Airflow's Fernet-encrypted values, re-encrypted by a restore into a site with another key:
//! `connection.password` (when `is_encrypted`), `connection.extra` (when `is_extra_encrypted`),
//! `variable.val` (when `is_encrypted`) and `trigger.kwargs` (unless plain JSON).
//! `connection_test_request` is emptied on restore instead; `dag_bundle.signed_url_template` is a
//! signature, not a secret, and stays as it is.

use tandem_engine::TableDef;
use tandem_error::{Error, Result};

use crate::{Rekey, RowRewriter};

/// One encrypted column: its index, the index of the flag that says it is encrypted (`None`:
/// encrypted unless it is plain JSON), its name.
struct Secret {
    index: usize,
    flag: Option<usize>,
    column: String,
}

struct Rewriter {
    /// `connection`, `variable`, `trigger`: names the row in errors with the `name` column.
    what: &'static str,
    name: usize,
    secrets: Vec<Secret>,
    keys: Rekey,
}

/// Whether a boolean field is true in either engine's row encoding (`t`, `1`, `\x01`).
pub(crate) fn is_true(field: Option<&[u8]>) -> bool {
    matches!(field, Some(b"t" | b"1" | b"\x01" | b"true"))
}

pub(super) fn rewriter(table: &TableDef, keys: &Rekey) -> Option<Box<dyn RowRewriter>> {
    let (what, name, columns): (&'static str, &str, &[(&str, Option<&str>)]) = match table.name.to_ascii_lowercase().as_str() {
        "connection" => ("connection", "conn_id", &[("password", Some("is_encrypted")), ("extra", Some("is_extra_encrypted"))]),
        "variable" => ("variable", "key", &[("val", Some("is_encrypted"))]),
        "trigger" => ("trigger", "id", &[("kwargs", None)]),
        _ => return None,
    };
    let name = table.column(name)?.0;
    let secrets: Vec<Secret> = columns
        .iter()
        .filter_map(|(c, flag)| {
            let (index, col) = table.column(c)?;
            let flag = match flag {
                Some(f) => Some(table.column(f)?.0),
                None => None,
            };
            Some(Secret { index, flag, column: col.name.clone() })
        })
        .collect();
    (!secrets.is_empty()).then(|| Box::new(Rewriter { what, name, secrets, keys: keys.clone() }) as Box<dyn RowRewriter>)
}

impl RowRewriter for Rewriter {
    fn rewrite(&self, row: &mut [Option<Vec<u8>>]) -> Result<()> {
        for s in &self.secrets {
            if let Some(f) = s.flag {
                if !is_true(row.get(f).and_then(|v| v.as_deref())) {
                    continue;
                }
            }
            let Some(value) = row.get(s.index).and_then(|v| v.as_deref()) else { continue };
            if value.is_empty() || (s.flag.is_none() && value.first() == Some(&b'{')) {
                continue;
            }
            let token = String::from_utf8_lossy(value);
            let Some(plain) = self.keys.from.decrypt(&token) else {
                let name = row.get(self.name).and_then(|v| v.as_deref()).map(String::from_utf8_lossy).unwrap_or_default();
                return Err(Error::bad_input(format!(
                    "{} {name}: the source's Fernet key cannot decrypt {} (is it the source site's key?); nothing was changed",
                    self.what, s.column
                )));
            };
            row[s.index] = Some(self.keys.to.encrypt(&plain).into_bytes());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::airflow::fernet::Keyring;
    use crate::{SecretCodec, SiteKey};
    use std::sync::Arc;
    use tandem_engine::ColumnDef;

    fn table(name: &str, cols: &[&str]) -> TableDef {
        TableDef { name: name.into(), columns: cols.iter().map(|c| ColumnDef { name: c.to_string(), ..Default::default() }).collect(), ..Default::default() }
    }

    #[test]
    fn re_encrypts_only_what_is_encrypted_and_names_what_fails() {
        let (a, b) = (fernet::Fernet::generate_key(), fernet::Fernet::generate_key());
        let ring = |k: &str| Keyring::parse(&SiteKey::new(k, "key")).unwrap();
        let keys = Rekey { from: Arc::new(ring(&a)), to: Arc::new(ring(&b)) };
        let old = ring(&a);
        let conn = table("connection", &["id", "conn_id", "password", "extra", "is_encrypted", "is_extra_encrypted"]);
        let rw = rewriter(&conn, &keys).unwrap();
        let pw = old.encrypt(b"pw");
        let mut row =
            vec![Some(b"1".to_vec()), Some(b"pg".to_vec()), Some(pw.into_bytes()), Some(b"{\"a\": 1}".to_vec()), Some(b"t".to_vec()), Some(b"f".to_vec())];
        rw.rewrite(&mut row).unwrap();
        let new = String::from_utf8(row[2].clone().unwrap()).unwrap();
        assert_eq!(keys.to.decrypt(&new).unwrap(), b"pw");
        assert_eq!(row[3].as_deref(), Some(&b"{\"a\": 1}"[..]), "a plain extra stays");
        let mut bad =
            vec![Some(b"2".to_vec()), Some(b"my_conn".to_vec()), Some(keys.to.encrypt(b"x").into_bytes()), None, Some(b"1".to_vec()), Some(b"0".to_vec())];
        let e = rw.rewrite(&mut bad).unwrap_err();
        assert!(e.to_string().contains("connection my_conn") && e.to_string().contains("password"), "{e}");
        assert!(rewriter(&table("dag", &["dag_id"]), &keys).is_none());
        let trig = rewriter(&table("trigger", &["id", "classpath", "kwargs"]), &keys).unwrap();
        let mut plain = vec![Some(b"3".to_vec()), None, Some(b"{\"moment\": 1}".to_vec())];
        trig.rewrite(&mut plain).unwrap();
        assert_eq!(plain[2].as_deref(), Some(&b"{\"moment\": 1}"[..]));
    }
}
