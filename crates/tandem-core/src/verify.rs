//! Verify: two databases of one system compared object by object (see
//! [`tandem_system::verify`]), or a backup compared with a database by restoring it into a
//! scratch database next to the target first.
//!
//! Each side is read through one consistent snapshot; for every kind of object both sides run one
//! query ordered by the object key, and the two streams are merged like a sorted join: an object
//! on both sides is GOOD or BAD (with the fields that differ), an object on one side only is
//! ONLY_IN_SOURCE / ONLY_IN_TARGET. Memory holds a few buffers per side, whatever the size.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use serde::Serialize;
use tandem_engine::{rowcodec, DbUrl, Engine, RowEncoding, RowSink, Snapshot, SnapshotOptions};
use tandem_error::{Error, Result, ResultExt};
use tandem_repo::{BackupId, Repository};
use tandem_system::verify::{decode_tuples, normalize, Field, Loc, Plan, Planned, Side};
use tandem_system::{LocationMap, System};

use crate::{restore, Events, RestoreRequest, Unit};

/// One side of a verify.
pub enum VerifySource<'a> {
    /// A live database.
    Db { engine: &'a dyn Engine, url: DbUrl },
    /// A backup, restored into `scratch` (dropped afterwards) to be compared.
    Backup { repo: Repository, id: Option<BackupId>, scratch: DbUrl },
}

/// Everything a verify needs.
pub struct VerifyRequest<'a> {
    pub source: VerifySource<'a>,
    /// The target's engine.
    pub engine: &'a dyn Engine,
    /// Every engine tandem has (a backup of another engine is converted into the scratch).
    pub engines: &'a [Box<dyn Engine>],
    pub target: DbUrl,
    /// Applied to the source's locations before comparing (the map of the restore).
    pub locations: LocationMap,
    /// How many differences are kept by name (all are counted).
    pub max_differences: usize,
}

/// Counts of one kind of object.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KindReport {
    pub kind: String,
    pub good: u64,
    pub bad: u64,
    pub only_in_source: u64,
    pub only_in_target: u64,
}

/// One difference, named for a human.
#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    pub kind: String,
    /// `table retail.orders`, `retail.orders partition order_status=COMPLETE`.
    pub object: String,
    /// `location differs: source … vs target …`, `only in source`.
    pub detail: String,
}

/// The outcome of a verify. The two sides are equal iff `equal`.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub system: String,
    pub source: String,
    pub target: String,
    pub source_version: Option<String>,
    pub target_version: Option<String>,
    pub equal: bool,
    pub kinds: Vec<KindReport>,
    pub differences: Vec<Difference>,
    pub differences_total: u64,
    pub warnings: Vec<String>,
}

/// Runs a verify. Differences are results, not errors: an error means the sides could not be
/// compared (unreachable, not of a system verify knows, different systems).
pub async fn verify(req: VerifyRequest<'_>, events: Arc<dyn Events>) -> Result<VerifyReport> {
    match &req.source {
        VerifySource::Db { engine, url } => {
            let (engine, url) = (*engine, url.clone());
            compare_dbs(&req, engine, &url, url.to_string(), events).await
        }
        VerifySource::Backup { repo, id, scratch } => {
            let id = match id {
                Some(id) => id.clone(),
                None => repo.latest_backup().await?.ok_or_else(|| Error::bad_input(format!("repository {} has no backups", repo.url())))?,
            };
            let restored = restore(
                RestoreRequest {
                    engine: req.engine,
                    engines: req.engines,
                    target: scratch.clone(),
                    repo: repo.clone(),
                    backup: Some(id.clone()),
                    force: true,
                    dry_run: false,
                    locations: LocationMap::default(),
                    require_mapped: false,
                },
                events.clone(),
            )
            .await
            .with_context(|| format!("restoring backup {id} into the scratch database {} to compare it", scratch.database))?;
            let label = format!("backup {id} (restored into scratch database {})", scratch.database);
            let result = compare_dbs(&req, req.engine, scratch, label, events.clone()).await;
            if let Err(e) = req.engine.drop_database(scratch).await {
                events.warn(&format!("dropping the scratch database {} failed: {e}", scratch.database));
            }
            let mut report = result?;
            report.source_version = restored.system_version;
            Ok(report)
        }
    }
}

/// Opens a one-connection snapshot of a side and recognises its system.
async fn open(engine: &dyn Engine, url: &DbUrl, what: &str) -> Result<(Box<dyn Snapshot>, Box<dyn System>, Option<String>)> {
    let snapshot = engine.snapshot(url, &SnapshotOptions { parallelism: 1 }).await.with_context(|| format!("{what} {url}"))?;
    for system in tandem_system::all() {
        if let Some(d) = system.detect(snapshot.as_ref()).await? {
            return Ok((snapshot, system, d.version));
        }
    }
    Err(Error::internal("no system recognised the database (generic should always match)"))
}

async fn compare_dbs(req: &VerifyRequest<'_>, src_engine: &dyn Engine, src_url: &DbUrl, src_label: String, events: Arc<dyn Events>) -> Result<VerifyReport> {
    events.phase("opening both sides", None, Unit::Items);
    let (src, system, src_version) = open(src_engine, src_url, "source").await?;
    let opened = open(req.engine, &req.target, "target").await;
    let (dst, dst_system, dst_version) = match opened {
        Ok(o) => o,
        Err(e) => {
            let _ = src.close().await;
            return Err(e);
        }
    };
    events.phase_done();
    let result = run(req, &*src, &*dst, system.as_ref(), dst_system.as_ref(), events).await;
    let _ = src.close().await;
    let _ = dst.close().await;
    let (kinds, differences, total, mut warnings) = result?;
    if src_version != dst_version {
        warnings.push(format!(
            "the schema versions differ (source {}, target {}): only what both layouts have is compared",
            src_version.as_deref().unwrap_or("-"),
            dst_version.as_deref().unwrap_or("-")
        ));
    }
    let equal = kinds.iter().all(|k| k.bad == 0 && k.only_in_source == 0 && k.only_in_target == 0);
    Ok(VerifyReport {
        system: system.name().to_string(),
        source: src_label,
        target: req.target.to_string(),
        source_version: src_version,
        target_version: dst_version,
        equal,
        kinds,
        differences,
        differences_total: total,
        warnings,
    })
}

type Outcome = (Vec<KindReport>, Vec<Difference>, u64, Vec<String>);

async fn run(req: &VerifyRequest<'_>, src: &dyn Snapshot, dst: &dyn Snapshot, system: &dyn System, dst_system: &dyn System, events: Arc<dyn Events>) -> Result<Outcome> {
    let views = system.verify_views();
    if views.is_empty() {
        return Err(Error::unsupported(format!(
            "the source {} is {} ({}): tandem verify compares Hive Metastores",
            req_source_label(req),
            system.describe(),
            system.name()
        )));
    }
    if dst_system.name() != system.name() {
        return Err(Error::bad_input(format!(
            "the target {} is not {} like the source (it is {}; {} has the tables {})",
            req.target,
            system.describe(),
            dst_system.describe(),
            system.describe(),
            system.marker_tables().join(", ")
        )));
    }
    let (src_tables, dst_tables) = (&src.schema().tables, &dst.schema().tables);
    let empty = |tables: &[tandem_engine::TableDef]| tables.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
    // First pass without emptiness, to know which child tables matter.
    let (all_src, all_dst) = (empty(src_tables), empty(dst_tables));
    let probe_a = Side { tables: src_tables, dialect: src.dialect(), empty: &all_src };
    let probe_b = Side { tables: dst_tables, dialect: dst.dialect(), empty: &all_dst };
    let children: BTreeSet<&str> = views.iter().filter_map(|v| Plan::new(*v, &probe_a, &probe_b)).flat_map(|p| p.child_tables()).collect();
    let src_empty = empty_tables(src, &children).await?;
    let dst_empty = empty_tables(dst, &children).await?;
    let a = Side { tables: src_tables, dialect: src.dialect(), empty: &src_empty };
    let b = Side { tables: dst_tables, dialect: dst.dialect(), empty: &dst_empty };

    let mut kinds: BTreeMap<String, KindReport> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut diffs = Vec::new();
    let mut total = 0u64;
    for view in views {
        let Some(plan) = Plan::new(*view, &a, &b) else { continue };
        let (Some(sql_a), Some(sql_b)) = (plan.sql(&a), plan.sql(&b)) else { continue };
        events.phase(&format!("comparing {}", view.kind), None, Unit::Items);
        let mut merge = Merge { plan: &plan, map: &req.locations, kinds: &mut kinds, order: &mut order, diffs: &mut diffs, total: &mut total, max: req.max_differences };
        merge.kinds_entry(view.kind);
        let (tx_a, rx_a) = mpsc::channel::<Bytes>(4);
        let (tx_b, rx_b) = mpsc::channel::<Bytes>(4);
        let produce_a = async move {
            let mut sink = ChanSink(tx_a);
            src.query(&sql_a, &mut sink).await.context("source")
        };
        let produce_b = async move {
            let mut sink = ChanSink(tx_b);
            dst.query(&sql_b, &mut sink).await.context("target")
        };
        let consume = merge.run(
            Reader::new(rx_a, src.info().row_encoding, "source"),
            Reader::new(rx_b, dst.info().row_encoding, "target"),
            events.as_ref(),
        );
        futures::try_join!(produce_a, produce_b, consume).with_context(|| format!("comparing {}", view.kind))?;
        events.phase_done();
    }
    let kinds = order.iter().filter_map(|k| kinds.remove(k)).collect();
    Ok((kinds, diffs, total, Vec::new()))
}

fn req_source_label(req: &VerifyRequest<'_>) -> String {
    match &req.source {
        VerifySource::Db { url, .. } => url.to_string(),
        VerifySource::Backup { id, .. } => id.as_ref().map(|i| format!("backup {i}")).unwrap_or_else(|| "latest backup".into()),
    }
}

/// Names (as the schema lists them) of the tables in `names` that have no rows.
async fn empty_tables(snapshot: &dyn Snapshot, names: &BTreeSet<&str>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for name in names {
        let Some(t) = snapshot.schema().tables.iter().find(|t| t.name.eq_ignore_ascii_case(name)) else { continue };
        let mut sink = Collect(0);
        snapshot.query(&format!("SELECT 1 FROM {} LIMIT 1", snapshot.dialect().table(t)), &mut sink).await?;
        if sink.0 == 0 {
            out.push(t.name.clone());
        }
    }
    Ok(out)
}

struct Collect(usize);

#[async_trait]
impl RowSink for Collect {
    async fn write(&mut self, rows: Bytes) -> Result<()> {
        self.0 += rows.len();
        Ok(())
    }
}

struct ChanSink(mpsc::Sender<Bytes>);

#[async_trait]
impl RowSink for ChanSink {
    async fn write(&mut self, rows: Bytes) -> Result<()> {
        self.0.send(rows).await.map_err(|_| Error::internal("the comparison stopped reading"))
    }
}

/// A field value after decoding and normalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Val {
    One(Option<String>),
    Many(Vec<Vec<Option<String>>>),
}

/// One object of one side.
struct Record {
    key: Vec<String>,
    values: Vec<Val>,
}

/// Pulls the rows of one side's query and turns them into records.
struct Reader {
    rx: mpsc::Receiver<Bytes>,
    encoding: RowEncoding,
    rows: VecDeque<Vec<Option<Vec<u8>>>>,
    side: &'static str,
    last: Option<Vec<String>>,
}

impl Reader {
    fn new(rx: mpsc::Receiver<Bytes>, encoding: RowEncoding, side: &'static str) -> Reader {
        Reader { rx, encoding, rows: VecDeque::new(), side, last: None }
    }

    async fn next(&mut self, plan: &Plan) -> Result<Option<Record>> {
        while self.rows.is_empty() {
            match self.rx.next().await {
                Some(buf) => self.rows.extend(rowcodec::decode_rows(self.encoding, &buf)?),
                None => return Ok(None),
            }
        }
        let Some(row) = self.rows.pop_front() else { return Ok(None) };
        let text = |f: Option<Vec<u8>>| f.map(|b| String::from_utf8_lossy(&b).into_owned());
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
        let mut values = Vec::with_capacity(plan.fields.len());
        for (p, f) in plan.fields.iter().zip(it) {
            values.push(match p.field {
                Field::Col { norm, .. } => Val::One(normalize(norm, text(f))),
                Field::Agg { name, .. } => {
                    let s = text(f).unwrap_or_default();
                    let mut tuples = decode_tuples(&s).ok_or_else(|| Error::internal(format!("{}: cannot decode {name} of {key:?}", self.side)))?;
                    for t in tuples.iter_mut() {
                        for (i, e) in t.iter_mut().enumerate() {
                            *e = normalize(p.norm(i), e.take());
                        }
                    }
                    tuples.sort();
                    Val::Many(tuples)
                }
            });
        }
        Ok(Some(Record { key, values }))
    }
}

fn key_cmp(a: &[String], b: &[String]) -> Ordering {
    a.iter().map(|s| s.as_bytes()).cmp(b.iter().map(|s| s.as_bytes()))
}

/// Maps the storage locations of a source record.
fn map_locations(plan: &Plan, map: &LocationMap, r: &mut Record) {
    if map.is_empty() {
        return;
    }
    for (p, v) in plan.fields.iter().zip(r.values.iter_mut()) {
        match (p.field, v) {
            (Field::Col { loc: true, .. }, Val::One(Some(s))) => *s = map.map(s),
            (Field::Agg { loc, .. }, Val::Many(tuples)) if loc != Loc::No => {
                for t in tuples.iter_mut() {
                    let at = match loc {
                        Loc::At(i) => Some(i),
                        Loc::Keyed { key, value, keys } => t.get(key).cloned().flatten().filter(|k| keys.contains(&k.as_str())).map(|_| value),
                        Loc::No => None,
                    };
                    if let Some(Some(s)) = at.and_then(|i| t.get_mut(i)) {
                        *s = map.map(s);
                    }
                }
                tuples.sort();
            }
            _ => {}
        }
    }
}

struct Merge<'a> {
    plan: &'a Plan,
    map: &'a LocationMap,
    kinds: &'a mut BTreeMap<String, KindReport>,
    order: &'a mut Vec<String>,
    diffs: &'a mut Vec<Difference>,
    total: &'a mut u64,
    max: usize,
}

impl Merge<'_> {
    fn kinds_entry(&mut self, kind: &str) -> &mut KindReport {
        if !self.kinds.contains_key(kind) {
            self.order.push(kind.to_string());
        }
        self.kinds.entry(kind.to_string()).or_insert_with(|| KindReport { kind: kind.to_string(), ..Default::default() })
    }

    /// The kind an object counts under (`views` for a table whose type says so).
    fn kind_of(&self, r: &Record) -> &'static str {
        let v = self.plan.view;
        if let Some((field, subs)) = v.subkind {
            if let Some(i) = self.plan.fields.iter().position(|p| p.field.name() == field) {
                if let Val::One(Some(t)) = &r.values[i] {
                    if let Some((_, k)) = subs.iter().find(|(value, _)| value == t) {
                        return k;
                    }
                }
            }
        }
        v.kind
    }

    fn note(&mut self, kind: &str, r: &Record, detail: String) {
        *self.total += 1;
        if self.diffs.len() < self.max {
            self.diffs.push(Difference { kind: kind.to_string(), object: (self.plan.view.label)(&r.key), detail });
        }
    }

    /// The next source record, its locations mapped.
    async fn next_source(&self, a: &mut Reader) -> Result<Option<Record>> {
        let mut r = a.next(self.plan).await?;
        if let Some(r) = r.as_mut() {
            map_locations(self.plan, self.map, r);
        }
        Ok(r)
    }

    async fn run(mut self, mut a: Reader, mut b: Reader, events: &dyn Events) -> Result<()> {
        let mut ra = self.next_source(&mut a).await?;
        let mut rb = b.next(self.plan).await?;
        let mut n = 0u64;
        loop {
            let ord = match (&ra, &rb) {
                (None, None) => break,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(x), Some(y)) => key_cmp(&x.key, &y.key),
            };
            match ord {
                Ordering::Less => {
                    let r = ra.take().ok_or_else(|| Error::internal("merge"))?;
                    let kind = self.kind_of(&r);
                    self.kinds_entry(kind).only_in_source += 1;
                    self.note(kind, &r, "only in source".into());
                    ra = self.next_source(&mut a).await?;
                }
                Ordering::Greater => {
                    let r = rb.take().ok_or_else(|| Error::internal("merge"))?;
                    let kind = self.kind_of(&r);
                    self.kinds_entry(kind).only_in_target += 1;
                    self.note(kind, &r, "only in target".into());
                    rb = b.next(self.plan).await?;
                }
                Ordering::Equal => {
                    let (x, y) = (ra.take(), rb.take());
                    let (Some(x), Some(y)) = (x, y) else { return Err(Error::internal("merge")) };
                    let kind = self.kind_of(&x);
                    let details = field_differences(&self.plan.fields, &x, &y);
                    if details.is_empty() {
                        self.kinds_entry(kind).good += 1;
                    } else {
                        self.kinds_entry(kind).bad += 1;
                        for d in details {
                            self.note(kind, &x, d);
                        }
                    }
                    ra = self.next_source(&mut a).await?;
                    rb = b.next(self.plan).await?;
                }
            }
            n += 1;
            if n.is_multiple_of(4096) {
                events.advance(4096);
            }
        }
        events.advance(n % 4096);
        Ok(())
    }
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
fn field_differences(fields: &[Planned], x: &Record, y: &Record) -> Vec<String> {
    let mut out = Vec::new();
    for ((p, a), b) in fields.iter().zip(&x.values).zip(&y.values) {
        if a == b {
            continue;
        }
        let name = p.field.name();
        match (a, b) {
            (Val::One(a), Val::One(b)) => out.push(format!("{name} differs: source {} vs target {}", show(a), show(b))),
            (Val::Many(a), Val::Many(b)) => {
                let pairs = matches!(p.field, Field::Agg { pairs: true, .. });
                if pairs {
                    let ma: BTreeMap<_, _> = a.iter().map(|t| (t.first().cloned().flatten(), t.get(1).cloned().flatten())).collect();
                    let mb: BTreeMap<_, _> = b.iter().map(|t| (t.first().cloned().flatten(), t.get(1).cloned().flatten())).collect();
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
                } else {
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
            }
            _ => out.push(format!("{name} differs")),
        }
    }
    out
}
