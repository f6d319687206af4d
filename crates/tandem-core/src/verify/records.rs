//! One side's objects as records: decoded from the rows of its query on a task of their own,
//! compared field by field, and described when they differ.
//!
//! Records keep values as the engines sent them (aggregates as their sorted hex tuples, see
//! [`tandem_system::verify::decode_tuples`]): equal bytes are equal values, which is the common
//! case and costs no decoding. Only values whose bytes differ are decoded and normalised
//! (booleans, doubles) before they count as different.

use std::cmp::Ordering;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use tandem_engine::value::hex;
use tandem_engine::{rowcodec, RowEncoding};
use tandem_error::{Error, Result};
use tandem_system::verify::{decode_tuples, normalize, Field, Loc, Plan, Planned};
use tandem_system::{LocationMap, SecretCodec};

/// Records decoded in batches of this many.
const BATCH: usize = 512;

/// A field value as received: a scalar, or an aggregate as its sorted raw tuples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Val {
    One(Option<String>),
    Many(Vec<String>),
}

/// A field value decoded and normalised, for comparing values whose bytes differ.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Norm {
    One(Option<String>),
    Many(Vec<Vec<Option<String>>>),
}

/// One object of one side.
pub(super) struct Record {
    pub key: Vec<String>,
    pub values: Vec<Val>,
}

/// Decrypts the values of [`tandem_system::verify::Norm::Secret`] fields in place, with the
/// side's key; a value the key cannot open is left as it is.
fn decrypt_secrets(plan: &Plan, keys: &dyn SecretCodec, r: &mut Record) {
    for (p, v) in plan.fields.iter().zip(r.values.iter_mut()) {
        if let (Field::Col { norm: tandem_system::verify::Norm::Secret, .. }, Val::One(Some(s))) = (p.field, v) {
            if let Some(plain) = keys.decrypt(s) {
                *s = String::from_utf8_lossy(&plain).into_owned();
            }
        }
    }
}

/// Pulls the rows of one side's query and turns them into records.
struct Reader {
    rx: mpsc::Receiver<Bytes>,
    encoding: RowEncoding,
    rows: VecDeque<Vec<Option<Vec<u8>>>>,
    side: &'static str,
    last: Option<Vec<String>>,
}

fn text(f: Option<Vec<u8>>) -> Option<String> {
    f.map(|b| String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

impl Reader {
    async fn next(&mut self, plan: &Plan) -> Result<Option<Record>> {
        while self.rows.is_empty() {
            match self.rx.next().await {
                Some(buf) => self.rows.extend(rowcodec::decode_rows(self.encoding, &buf)?),
                None => return Ok(None),
            }
        }
        let Some(row) = self.rows.pop_front() else { return Ok(None) };
        let nkey = plan.view.key.len();
        if row.len() != nkey + plan.fields.len() {
            return Err(Error::internal(format!("{} query returned {} columns, expected {}", self.side, row.len(), nkey + plan.fields.len())));
        }
        let mut it = row.into_iter();
        let key: Vec<String> = it.by_ref().take(nkey).map(|f| text(f).unwrap_or_default()).collect();
        if let Some(last) = &self.last {
            if key_cmp(last, &key) == Ordering::Greater {
                return Err(Error::internal(format!(
                    "the {} does not list {} in key order ({:?} after {:?}); cannot compare",
                    self.side, plan.view.kind, key, last
                )));
            }
        }
        self.last = Some(key.clone());
        let values = plan
            .fields
            .iter()
            .zip(it)
            .map(|(p, f)| match p.field {
                Field::Col { .. } => Val::One(text(f)),
                Field::Agg { .. } => Val::Many(split(&text(f).unwrap_or_default())),
            })
            .collect();
        Ok(Some(Record { key, values }))
    }
}

/// The tuples of an aggregate, sorted, with lower-case hex.
fn split(agg: &str) -> Vec<String> {
    if agg.is_empty() {
        return Vec::new();
    }
    let mut v: Vec<String> = agg.split(',').map(str::to_ascii_lowercase).collect();
    v.sort_unstable();
    v
}

pub(super) fn key_cmp(a: &[String], b: &[String]) -> Ordering {
    a.iter().map(|s| s.as_bytes()).cmp(b.iter().map(|s| s.as_bytes()))
}

/// One side's records, decoded on a task of their own (so both sides decode in parallel with
/// the merge), in batches.
pub(super) struct Batches {
    rx: mpsc::Receiver<Result<Vec<Record>>>,
    current: std::vec::IntoIter<Record>,
}

impl Batches {
    /// Decodes the rows arriving on `rx`; source records get their locations mapped by `map`.
    pub fn spawn(
        rx: mpsc::Receiver<Bytes>,
        plan: Plan,
        encoding: RowEncoding,
        side: &'static str,
        map: Option<LocationMap>,
        keys: Option<Arc<dyn SecretCodec>>,
    ) -> Batches {
        let (mut tx, out) = mpsc::channel::<Result<Vec<Record>>>(4);
        tokio::spawn(async move {
            let mut reader = Reader { rx, encoding, rows: VecDeque::new(), side, last: None };
            let mut batch = Vec::with_capacity(BATCH);
            loop {
                match reader.next(&plan).await {
                    Ok(Some(mut r)) => {
                        if let Some(m) = &map {
                            map_locations(&plan, m, &mut r);
                        }
                        if let Some(k) = &keys {
                            decrypt_secrets(&plan, k.as_ref(), &mut r);
                        }
                        batch.push(r);
                        if batch.len() == BATCH && tx.send(Ok(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => {
                        if !batch.is_empty() {
                            let _ = tx.send(Ok(batch)).await;
                        }
                        return;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
        });
        Batches { rx: out, current: Vec::new().into_iter() }
    }

    pub async fn next(&mut self) -> Result<Option<Record>> {
        loop {
            if let Some(r) = self.current.next() {
                return Ok(Some(r));
            }
            match self.rx.next().await {
                Some(batch) => self.current = batch?.into_iter(),
                None => return Ok(None),
            }
        }
    }
}

/// Hex element `s` decoded (`-` is NULL).
fn unhex_element(s: &str) -> Option<Option<String>> {
    if s == "-" {
        return Some(None);
    }
    let bytes = tandem_engine::value::unhex(s)?;
    Some(Some(String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())))
}

/// Whether lower-case hex `h` spells `raw`.
fn hex_is(h: &str, raw: &[u8]) -> bool {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    h.len() == raw.len() * 2 && h.as_bytes().chunks_exact(2).zip(raw).all(|(p, b)| p[0] == DIGITS[(b >> 4) as usize] && p[1] == DIGITS[(b & 15) as usize])
}

/// Maps the storage locations of a source record.
fn map_locations(plan: &Plan, map: &LocationMap, r: &mut Record) {
    for (p, v) in plan.fields.iter().zip(r.values.iter_mut()) {
        match (p.field, v) {
            (Field::Col { loc: true, .. }, Val::One(Some(s))) => {
                if let Some((_, new)) = map.rewrite(s) {
                    *s = new;
                }
            }
            (Field::Agg { loc, .. }, Val::Many(tuples)) if loc != Loc::No => {
                let mut changed = false;
                for t in tuples.iter_mut() {
                    let mapped = {
                        let mut parts: Vec<&str> = t.split(':').collect();
                        let at = match loc {
                            Loc::At(i) => Some(i),
                            Loc::Keyed { key, value, keys } => parts.get(key).filter(|k| keys.iter().any(|want| hex_is(k, want.as_bytes()))).map(|_| value),
                            Loc::No => None,
                        };
                        let old = at.and_then(|i| parts.get(i)).and_then(|e| unhex_element(e)).flatten();
                        match (at, old.and_then(|old| map.rewrite(&old))) {
                            (Some(i), Some((_, new))) => {
                                let encoded = hex(new.as_bytes());
                                parts[i] = &encoded;
                                Some(parts.join(":"))
                            }
                            _ => None,
                        }
                    };
                    if let Some(m) = mapped {
                        *t = m;
                        changed = true;
                    }
                }
                if changed {
                    tuples.sort_unstable();
                }
            }
            _ => {}
        }
    }
}

/// The decoded, normalised form of a value.
fn normalized(p: &Planned, v: &Val) -> Norm {
    match v {
        Val::One(s) => Norm::One(normalize(p.norm(0), s.clone())),
        Val::Many(tuples) => {
            let mut out: Vec<Vec<Option<String>>> = decode_tuples(&tuples.join(",")).unwrap_or_default();
            for t in out.iter_mut() {
                for (i, e) in t.iter_mut().enumerate() {
                    *e = normalize(p.norm(i), e.take());
                }
            }
            out.sort();
            Norm::Many(out)
        }
    }
}

/// Whether two values of field `p` are the same once normalised.
fn same(p: &Planned, a: &Val, b: &Val) -> bool {
    a == b || normalized(p, a) == normalized(p, b)
}

/// Whether two records of the same key hold the same values.
pub(super) fn equal(fields: &[Planned], x: &Record, y: &Record) -> bool {
    fields.iter().zip(&x.values).zip(&y.values).all(|((p, a), b)| same(p, a, b))
}

/// Shortens a value for a message.
fn show(v: &Option<String>) -> String {
    match v {
        None => "NULL".into(),
        Some(s) if s.chars().count() > 160 => format!("{:?}…", s.chars().take(160).collect::<String>()),
        Some(s) => format!("{s:?}"),
    }
}

fn show_tuple(t: &[Option<String>]) -> String {
    format!("({})", t.iter().map(show).collect::<Vec<_>>().join(", "))
}

/// What differs between two records of the same key, one line per field.
pub(super) fn field_differences(fields: &[Planned], x: &Record, y: &Record) -> Vec<String> {
    let mut out = Vec::new();
    for ((p, a), b) in fields.iter().zip(&x.values).zip(&y.values) {
        if same(p, a, b) {
            continue;
        }
        let name = p.field.name();
        match (normalized(p, a), normalized(p, b)) {
            (Norm::One(a), Norm::One(b)) => out.push(format!("{name} differs: source {} vs target {}", show(&a), show(&b))),
            (Norm::Many(a), Norm::Many(b)) if matches!(p.field, Field::Agg { pairs: true, .. }) => {
                let pairs = |v: &[Vec<Option<String>>]| -> BTreeMap<Option<String>, Option<String>> {
                    v.iter().map(|t| (t.first().cloned().flatten(), t.get(1).cloned().flatten())).collect()
                };
                let (ma, mb) = (pairs(&a), pairs(&b));
                for (k, va) in &ma {
                    let key = k.as_deref().unwrap_or("NULL");
                    match mb.get(k) {
                        None => out.push(format!("{name} {key} only in source ({})", show(va))),
                        Some(vb) if vb != va => out.push(format!("{name} {key} differs: source {} vs target {}", show(va), show(vb))),
                        _ => {}
                    }
                }
                for (k, vb) in &mb {
                    if !ma.contains_key(k) {
                        out.push(format!("{name} {} only in target ({})", k.as_deref().unwrap_or("NULL"), show(vb)));
                    }
                }
            }
            (Norm::Many(a), Norm::Many(b)) => {
                let only_a: Vec<_> = a.iter().filter(|t| !b.contains(t)).collect();
                let only_b: Vec<_> = b.iter().filter(|t| !a.contains(t)).collect();
                let mut d = format!("{name} differ:");
                if let Some(t) = only_a.first() {
                    d.push_str(&format!(" source has {}", show_tuple(t)));
                    if only_a.len() > 1 {
                        d.push_str(&format!(" and {} more", only_a.len() - 1));
                    }
                }
                if let Some(t) = only_b.first() {
                    d.push_str(&format!("{} target has {}", if only_a.is_empty() { "" } else { ";" }, show_tuple(t)));
                    if only_b.len() > 1 {
                        d.push_str(&format!(" and {} more", only_b.len() - 1));
                    }
                }
                out.push(d);
            }
            _ => out.push(format!("{name} differs")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_compare_by_bytes_then_normalised() {
        assert_eq!(split("6B:31,61:32"), vec!["61:32".to_string(), "6b:31".to_string()]);
        assert!(split("").is_empty());
        assert_eq!(unhex_element("-"), Some(None));
        assert_eq!(unhex_element("c3bc"), Some(Some("ü".into())));
        assert!(hex_is("70617468", b"path") && !hex_is("70617469", b"path") && !hex_is("7061", b"path"));
    }
}
