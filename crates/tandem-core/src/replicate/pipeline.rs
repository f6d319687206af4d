//! Source transactions turned into the replica's changes, row by row exactly as a restore of
//! the bootstrap backup turns rows (the same [`TableTransform`]).

use std::collections::HashMap;

use tandem_engine::changes::{RowChange, TargetChange};
use tandem_engine::{Engine, TableDef};
use tandem_error::{Error, Result, ResultExt};
use tandem_repo::BackupId;

use super::passive::Keeper;
use super::ReplicateRequest;
use crate::restore::{prepare, Prepared};
use crate::transform::{Plan, Rewriter, TableTransform};
use crate::RestoreRequest;

pub(super) struct Pipeline<'a> {
    prepared: Prepared<'a>,
    target: &'a dyn Engine,
    rewriter: Option<Rewriter>,
    /// The replicated tables (those in the scope), as indexes into the backup's: the stream and
    /// the applier number tables in this order.
    tables: Vec<usize>,
    /// Keeps a standby passive (systems with a standby mode): its standby table comes after
    /// the replicated ones in the applier's tables.
    keeper: Option<Keeper<'a>>,
}

impl<'a> Pipeline<'a> {
    /// The pipeline of the replica bootstrapped from the checkpoint's backup.
    pub async fn new(req: &ReplicateRequest<'a>, target: &'a dyn Engine, checkpoint: &tandem_engine::changes::Checkpoint) -> Result<Pipeline<'a>> {
        let id: BackupId = checkpoint.backup.parse().with_context(|| format!("the replica's checkpoint names backup {:?}", checkpoint.backup))?;
        let restore_req = RestoreRequest {
            locations: req.locations.clone(),
            keys: req.keys.clone(),
            ..RestoreRequest::new(target, req.registry, req.target.clone(), req.repo.clone())
        };
        let prepared = prepare(&restore_req, &id).await.context("reading the backup the replica was bootstrapped from")?;
        let rewriter = (!req.locations.is_empty()).then(|| Rewriter::new(req.locations.clone()));
        let standby = prepared.system.standby_table();
        let tables: Vec<usize> =
            (0..prepared.manifest.tables.len()).filter(|&i| replicated(&checkpoint.scope, standby, &prepared.manifest.tables[i].table)).collect();
        let replicated: Vec<TableDef> = tables.iter().map(|&i| prepared.schema.tables[i].clone()).collect();
        let keeper = Keeper::new(prepared.system, &replicated, target)?;
        Ok(Pipeline { prepared, target, rewriter, tables, keeper })
    }

    /// The replicated tables as the source's stream delivers them.
    pub fn source_tables(&self) -> Vec<TableDef> {
        self.tables.iter().map(|&i| self.prepared.manifest.tables[i].table.clone()).collect()
    }

    /// The same tables as the replica holds them (same order), and the standby table of a
    /// passive replica after them.
    pub fn target_tables(&self) -> Vec<TableDef> {
        let mut tables: Vec<TableDef> = self.tables.iter().map(|&i| self.prepared.schema.tables[i].clone()).collect();
        tables.extend(self.keeper.as_ref().map(Keeper::record_table));
        tables
    }

    /// Every row image of `changes` in the replica's encoding, mapped and converted.
    pub fn transform<'c>(&self, changes: impl Iterator<Item = &'c RowChange>) -> Result<Vec<TargetChange>> {
        let p = &self.prepared;
        let plan = Plan {
            system: p.system,
            rewriter: self.rewriter.as_ref(),
            source_encoding: p.manifest.snapshot.row_encoding,
            source_charset: p.manifest.schema.charset.as_deref(),
            engines: p.foreign.as_ref().map(|(from, _)| (*from, self.target)),
            rekey: p.rekey.as_ref(),
        };
        let mut transforms: HashMap<usize, Option<TableTransform<'_>>> = HashMap::new();
        let mut out = Vec::with_capacity(changes.size_hint().0);
        for change in changes {
            let i = *self
                .tables
                .get(change.table)
                .ok_or_else(|| Error::internal(format!("a change of table {}, which the stream was not opened with", change.table)))?;
            let (source, target) = match (p.manifest.tables.get(i), p.schema.tables.get(i)) {
                (Some(s), Some(t)) => (&s.table, t),
                _ => return Err(Error::internal(format!("a change of table {i}, which the stream was not opened with"))),
            };
            let types = p.foreign.as_ref().and_then(|(_, types)| types.get(i)).map(Vec::as_slice).unwrap_or(&[]);
            let tf = transforms.entry(i).or_insert_with(|| TableTransform::new(&plan, source, target, types));
            let image = |b: &Option<bytes::Bytes>| -> Result<Option<bytes::Bytes>> {
                match (b, tf.as_ref()) {
                    (Some(b), Some(tf)) => tf.apply(b).map(Some),
                    (b, None) => Ok(b.clone()),
                    (None, _) => Ok(None),
                }
            };
            let mut change = TargetChange {
                table: change.table,
                op: change.op,
                before: image(&change.before)?,
                after: image(&change.after)?,
                unchanged: change.unchanged.clone(),
            };
            let remembered = self.keeper.as_ref().map(|k| k.keep(&mut change)).transpose()?.flatten();
            out.push(change);
            out.extend(remembered);
        }
        Ok(out)
    }
}

/// Whether the rows of `table` are replicated: it is in `scope`, and it is none of tandem's own
/// tables that a source which was itself a replica holds: the checkpoint table (that replica's
/// place) and the system's `standby` table (its passive state, which every replica keeps for
/// itself).
fn replicated(scope: &tandem_engine::Scope, standby: Option<&str>, table: &TableDef) -> bool {
    scope.contains(table) && !tandem_engine::changes::Checkpoint::is_table(table) && standby != Some(table.name.as_str())
}

/// The tables of a backup whose rows a replica of it holds ([`replicated`]), as its source's
/// stream delivers them.
pub(crate) fn replicated_tables(registry: &crate::Registry, manifest: &tandem_repo::Manifest, scope: &tandem_engine::Scope) -> Vec<TableDef> {
    let standby = registry.system_named(&manifest.system.name).and_then(|s| s.standby_table());
    manifest.tables.iter().map(|t| t.table.clone()).filter(|t| replicated(scope, standby, t)).collect()
}
