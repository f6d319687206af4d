//! Verify: two databases of one system compared object by object (see
//! [`tandem_system::verify`]), or a backup compared with a database by restoring it into a
//! scratch database next to the target first.
//!
//! Each side is read through one consistent snapshot; for every kind of object both sides run one
//! query ordered by the object key, and the two streams are merged like a sorted join: an object
//! on both sides is GOOD or BAD (with the fields that differ), an object on one side only is
//! ONLY_IN_SOURCE / ONLY_IN_TARGET. Memory holds a few buffers per side, whatever the size.

mod records;

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::channel::mpsc;
use futures::SinkExt;
use serde::Serialize;
use tandem_engine::{DbUrl, Engine, RowSink, Snapshot, SnapshotOptions};
use tandem_error::{Error, Result, ResultExt};
use tandem_repo::{BackupId, Repository};
use tandem_system::verify::{Plan, Side, Size, SMALL_TABLE};
use tandem_system::{LocationMap, SiteKeys, System};

use crate::{restore, Events, Registry, RestoreRequest, Unit};
use records::{equal, field_differences, key_cmp, Batches, Record, Val};

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
    /// Every engine and system tandem has (a backup of another engine is converted into the
    /// scratch; each side's system is recognised).
    pub registry: &'a Registry,
    pub target: DbUrl,
    /// Applied to the source's locations before comparing (the map of the restore).
    pub locations: LocationMap,
    /// How many differences are kept by name (all are counted).
    pub max_differences: usize,
    /// Keys to compare encrypted values decrypted (source side, target side).
    pub keys: SiteKeys,
    /// A target that moves with the source (a live replica): held at the source snapshot's
    /// position while both are read, so they are compared at one point of the source's history.
    pub align: Option<&'a dyn Align>,
}

/// Brings a moving target to the point of the source's snapshot before it is read.
#[async_trait]
pub trait Align: Send + Sync {
    /// Holds the target at exactly `position` (of the source's log): `Ok(true)` once it is
    /// there, `Ok(false)` when it had already passed it (it is then held where it is, and the
    /// verify reads the source afresh and asks again).
    async fn hold_at(&self, position: &tandem_engine::Position) -> Result<bool>;

    /// Keeps the target held while the compare runs (never returns but with an error).
    async fn keep(&self) -> Result<()>;

    /// Lets the target move on.
    async fn release(&self) -> Result<()>;
}

/// How often a verify reads the source afresh because the target had passed its snapshot.
const ALIGN_TRIES: usize = 5;

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
    /// The source's log position both sides were read at, when the target was held there
    /// ([`VerifyRequest::align`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_at: Option<String>,
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
            let mut scratch_req = RestoreRequest::new(req.engine, req.registry, scratch.clone(), repo.clone());
            scratch_req.backup = Some(id.clone());
            scratch_req.replace = tandem_engine::Replace::Always;
            let restored = restore(scratch_req, events.clone())
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
async fn open<'r>(registry: &'r Registry, engine: &dyn Engine, url: &DbUrl, what: &str) -> Result<(Box<dyn Snapshot>, &'r dyn System, Option<String>)> {
    let snapshot = engine.snapshot(url, &SnapshotOptions::parallel(1)).await.with_context(|| format!("{what} {url}"))?;
    for system in registry.systems() {
        if let Some(d) = system.detect(snapshot.as_ref()).await? {
            return Ok((snapshot, system, d.version));
        }
    }
    Err(Error::internal("no system recognised the database (generic should always match)"))
}

/// Lets a held target move on (a failure is a warning: the compare is done).
async fn release(req: &VerifyRequest<'_>, events: &dyn Events) {
    if let Some(Err(e)) = futures::future::OptionFuture::from(req.align.map(|a| a.release())).await {
        events.warn(&format!("the target could not be released: {e}; resume it by hand"));
    }
}

/// The source's snapshot, with the target held at its position when it moves (see [`Align`]).
async fn open_aligned<'r>(req: &VerifyRequest<'r>, engine: &dyn Engine, url: &DbUrl) -> Result<(Box<dyn Snapshot>, &'r dyn System, Option<String>)> {
    let Some(align) = req.align else { return open(req.registry, engine, url, "source").await };
    for _ in 0..ALIGN_TRIES {
        let opened = open(req.registry, engine, url, "source").await?;
        match align.hold_at(&opened.0.info().position).await {
            Ok(true) => return Ok(opened),
            Ok(false) => {
                let _ = opened.0.close().await;
            }
            Err(e) => {
                let _ = opened.0.close().await;
                let _ = align.release().await;
                return Err(e);
            }
        }
    }
    let _ = align.release().await;
    Err(Error::conflict(format!("the target passed {ALIGN_TRIES} snapshots of the source in a row before it could be held")))
}

async fn compare_dbs(req: &VerifyRequest<'_>, src_engine: &dyn Engine, src_url: &DbUrl, src_label: String, events: Arc<dyn Events>) -> Result<VerifyReport> {
    events.phase("opening both sides", None, Unit::Items);
    let (src, system, src_version) = open_aligned(req, src_engine, src_url).await?;
    let held_at = req.align.map(|_| src.info().position.value.clone());
    let opened = open(req.registry, req.engine, &req.target, "target").await;
    let (dst, dst_system, dst_version) = match opened {
        Ok(o) => o,
        Err(e) => {
            let _ = src.close().await;
            release(req, events.as_ref()).await;
            return Err(e);
        }
    };
    events.phase_done();
    let compare = run(req, &*src, &*dst, system, dst_system, events.clone());
    let result = match req.align {
        Some(align) => tokio::select! {
            r = compare => r,
            e = align.keep() => Err(e.err().unwrap_or_else(|| Error::internal("the hold ended"))),
        },
        None => compare.await,
    };
    let _ = src.close().await;
    let _ = dst.close().await;
    release(req, events.as_ref()).await;
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
        held_at,
    })
}

type Outcome = (Vec<KindReport>, Vec<Difference>, u64, Vec<String>);

async fn run(
    req: &VerifyRequest<'_>,
    src: &dyn Snapshot,
    dst: &dyn Snapshot,
    system: &dyn System,
    dst_system: &dyn System,
    events: Arc<dyn Events>,
) -> Result<Outcome> {
    let views = system.verify_views();
    if views.is_empty() {
        return Err(Error::unsupported(format!(
            "the source {} is {} ({}): tandem verify compares the systems that describe their objects ({})",
            req_source_label(req),
            system.describe(),
            system.name(),
            crate::restore::names(req.registry.systems().filter(|s| !s.verify_views().is_empty()))
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
    let codec = |k: &Option<tandem_system::SiteKey>| k.as_ref().map(|k| system.secret_codec(k)).transpose();
    let (key_a, key_b) = (codec(&req.keys.source)?, codec(&req.keys.target)?);
    let (src_tables, dst_tables) = (&src.schema().tables, &dst.schema().tables);
    // First the plans without sizes, to know which child tables matter.
    let unknown = BTreeMap::new();
    let probe_a = Side { tables: src_tables, dialect: src.dialect(), sizes: &unknown };
    let probe_b = Side { tables: dst_tables, dialect: dst.dialect(), sizes: &unknown };
    let children: BTreeSet<&str> = views.iter().filter_map(|v| Plan::new(*v, &probe_a, &probe_b)).flat_map(|p| p.child_tables()).collect();
    let src_sizes = table_sizes(src, &children).await?;
    let dst_sizes = table_sizes(dst, &children).await?;
    let a = Side { tables: src_tables, dialect: src.dialect(), sizes: &src_sizes };
    let b = Side { tables: dst_tables, dialect: dst.dialect(), sizes: &dst_sizes };

    let mut kinds: BTreeMap<String, KindReport> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut diffs = Vec::new();
    let mut total = 0u64;
    for view in views {
        let Some(plan) = Plan::new(*view, &a, &b) else { continue };
        let (Some(sql_a), Some(sql_b)) = (plan.sql(&a), plan.sql(&b)) else { continue };
        tracing::debug!(kind = view.kind, source = %sql_a, target = %sql_b, "verify queries");
        events.phase(&format!("comparing {}", view.kind), None, Unit::Items);
        let mut merge = Merge { plan: &plan, kinds: &mut kinds, order: &mut order, diffs: &mut diffs, total: &mut total, max: req.max_differences };
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
        let map = (!req.locations.is_empty()).then(|| req.locations.clone());
        let consume = merge.run(
            Batches::spawn(rx_a, plan.clone(), src.info().row_encoding, "source", map, key_a.clone()),
            Batches::spawn(rx_b, plan.clone(), dst.info().row_encoding, "target", None, key_b.clone()),
            events.as_ref(),
        );
        let started = std::time::Instant::now();
        futures::try_join!(produce_a, produce_b, consume).with_context(|| format!("comparing {}", view.kind))?;
        tracing::info!(kind = view.kind, seconds = started.elapsed().as_secs_f64(), "compared");
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

/// Sizes of the tables in `names` (by name as the schema lists them), counting rows only up to
/// just past [`SMALL_TABLE`].
async fn table_sizes(snapshot: &dyn Snapshot, names: &BTreeSet<&str>) -> Result<BTreeMap<String, Size>> {
    let mut out = BTreeMap::new();
    for name in names {
        let Some(t) = snapshot.schema().tables.iter().find(|t| t.name.eq_ignore_ascii_case(name)) else { continue };
        let mut sink = Collect(Vec::new());
        let sql = format!("SELECT COUNT(*) FROM (SELECT 1 AS one FROM {} LIMIT {}) x", snapshot.dialect().table(t), SMALL_TABLE + 1);
        snapshot.query(&sql, &mut sink).await?;
        let n: u64 = String::from_utf8_lossy(&sink.0).trim().parse().unwrap_or(u64::MAX);
        out.insert(
            t.name.clone(),
            if n == 0 {
                Size::Empty
            } else if n <= SMALL_TABLE {
                Size::Small
            } else {
                Size::Large
            },
        );
    }
    Ok(out)
}

struct Collect(Vec<u8>);

#[async_trait]
impl RowSink for Collect {
    async fn write(&mut self, rows: Bytes) -> Result<()> {
        self.0.extend_from_slice(&rows);
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

struct Merge<'a> {
    plan: &'a Plan,
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

    async fn run(mut self, mut a: Batches, mut b: Batches, events: &dyn Events) -> Result<()> {
        let mut ra = a.next().await?;
        let mut rb = b.next().await?;
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
                    ra = a.next().await?;
                }
                Ordering::Greater => {
                    let r = rb.take().ok_or_else(|| Error::internal("merge"))?;
                    let kind = self.kind_of(&r);
                    self.kinds_entry(kind).only_in_target += 1;
                    self.note(kind, &r, "only in target".into());
                    rb = b.next().await?;
                }
                Ordering::Equal => {
                    let (x, y) = (ra.take(), rb.take());
                    let (Some(x), Some(y)) = (x, y) else { return Err(Error::internal("merge")) };
                    let kind = self.kind_of(&x);
                    if equal(&self.plan.fields, &x, &y) {
                        self.kinds_entry(kind).good += 1;
                    } else {
                        self.kinds_entry(kind).bad += 1;
                        for d in field_differences(&self.plan.fields, &x, &y) {
                            self.note(kind, &x, d);
                        }
                    }
                    ra = a.next().await?;
                    rb = b.next().await?;
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
