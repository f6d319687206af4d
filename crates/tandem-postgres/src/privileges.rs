//! Owners and grants: read from the catalog with the schema, given back by a restore.
//!
//! Covered: user schemas other than `public` (whose owner and grants the target keeps), tables,
//! views, materialized views, sequences, functions and procedures; the same objects a restore
//! recreates (partitioned parents, foreign tables and aggregates are not, so they are not listed).
//! Not covered: column-level grants, `ALTER DEFAULT PRIVILEGES`, types, role memberships (roles
//! are the server's, not the database's).
//!
//! A restore (inside its transaction, after the post-data statements) gives each object to its
//! owner, or to the restore's `reassign_to` role, when that role exists on the target and the
//! restoring role may hand objects to it (a superuser, or a member of it); then it grants what
//! was granted to roles that exist. Everything it cannot do is one warning per role: the object
//! stays owned by the restoring role, which is what a restore without privileges does.

use std::collections::{BTreeMap, HashMap};

use tandem_engine::{Grant, ObjectKind, ObjectPrivileges, Privileges};
use tandem_error::Result;
use tokio_postgres::Client;

use crate::catalog::{not_ext, USER_NS};
use crate::{ident, pg_err, pg_text};

/// The owners and grants of the database's objects, in creation order (schemas, relations by
/// oid, routines by oid). Runs in the snapshot (or the restore's transaction).
pub(crate) async fn read(client: &Client) -> Result<Privileges> {
    let column_owned = "EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass \
                        AND d.objid = c.oid AND d.deptype IN ('a', 'i'))";
    let sql = format!(
        "WITH o AS ( \
           SELECT 0 AS ord, n.oid::int8 AS oid, 'schema' AS kind, pg_catalog.quote_ident(n.nspname) AS name, n.nspowner AS owner, n.nspacl AS acl, false AS follows \
             FROM pg_catalog.pg_namespace n WHERE {USER_NS} AND n.nspname <> 'public' AND {} \
           UNION ALL \
           SELECT 1, c.oid::int8, CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized-view' WHEN 'S' THEN 'sequence' ELSE 'table' END, \
                  pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname), c.relowner, c.relacl, c.relkind = 'S' AND {column_owned} \
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
            WHERE c.relkind IN ('r', 'v', 'm', 'S') AND {USER_NS} AND {} \
           UNION ALL \
           SELECT 2, p.oid::int8, CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END, p.oid::pg_catalog.regprocedure::text, p.proowner, p.proacl, false \
             FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
            WHERE p.prokind IN ('f', 'p') AND {USER_NS} AND {}) \
         SELECT o.kind, o.name, CASE WHEN o.follows THEN NULL ELSE pg_catalog.pg_get_userbyid(o.owner)::text END, \
                CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END, a.privilege_type::text, a.is_grantable \
           FROM o LEFT JOIN LATERAL pg_catalog.aclexplode(o.acl) a ON a.grantee <> o.owner \
          ORDER BY o.ord, o.oid, 4, 5",
        not_ext("pg_namespace", "n.oid"),
        not_ext("pg_class", "c.oid"),
        not_ext("pg_proc", "p.oid"),
    );
    let rows = client.query(&sql, &[]).await.map_err(|e| pg_err("reading owners and grants from the catalog", e))?;
    let mut objects: Vec<ObjectPrivileges> = Vec::new();
    for r in &rows {
        let bad = |e: tokio_postgres::Error| tandem_error::Error::internal(format!("reading owners and grants: {}", pg_text(&e)));
        let (kind, name): (String, String) = (r.try_get(0).map_err(bad)?, r.try_get(1).map_err(bad)?);
        let Some(kind) = parse_kind(&kind) else { continue };
        if objects.last().is_none_or(|o| o.kind != kind || o.name != name) {
            objects.push(ObjectPrivileges { kind, name, owner: r.try_get(2).map_err(bad)?, grants: Vec::new() });
        }
        let role: Option<String> = r.try_get(3).map_err(bad)?;
        if let (Some(role), Some(object)) = (role, objects.last_mut()) {
            object.grants.push(Grant {
                role,
                privilege: r.try_get(4).map_err(bad)?,
                grantable: r.try_get::<_, Option<bool>>(5).map_err(bad)?.unwrap_or(false),
            });
        }
    }
    Ok(Privileges { objects, reassign_to: None })
}

fn parse_kind(s: &str) -> Option<ObjectKind> {
    Some(match s {
        "schema" => ObjectKind::Schema,
        "table" => ObjectKind::Table,
        "view" => ObjectKind::View,
        "materialized-view" => ObjectKind::MaterializedView,
        "sequence" => ObjectKind::Sequence,
        "function" => ObjectKind::Function,
        "procedure" => ObjectKind::Procedure,
        _ => return None,
    })
}

/// `ALTER <this> name OWNER TO ...`; `None` for a kind this version does not know.
fn alter_keyword(kind: ObjectKind) -> Option<&'static str> {
    Some(match kind {
        ObjectKind::Schema => "SCHEMA",
        ObjectKind::Table => "TABLE",
        ObjectKind::View => "VIEW",
        ObjectKind::MaterializedView => "MATERIALIZED VIEW",
        ObjectKind::Sequence => "SEQUENCE",
        ObjectKind::Function => "FUNCTION",
        ObjectKind::Procedure => "PROCEDURE",
        ObjectKind::Other => return None,
    })
}

/// `GRANT ... ON <this> name`.
fn grant_keyword(kind: ObjectKind) -> Option<&'static str> {
    match kind {
        ObjectKind::Table | ObjectKind::View | ObjectKind::MaterializedView => Some("TABLE"),
        other => alter_keyword(other),
    }
}

/// The statements that give `privileges` back on the target, given its roles (name → whether
/// the restoring role may hand objects to it), and the warnings for what cannot be given.
/// With `reassign_to`, `current` (the objects as restored) is what is handed over.
fn statements(privileges: &Privileges, current: &Privileges, roles: &HashMap<String, bool>) -> (Vec<String>, Vec<String>) {
    let mut stmts = Vec::new();
    let mut missing: BTreeMap<String, usize> = BTreeMap::new();
    let mut refused: BTreeMap<String, usize> = BTreeMap::new();
    let owners: Vec<(&ObjectPrivileges, Option<&str>)> = match &privileges.reassign_to {
        Some(role) => current.objects.iter().map(|o| (o, o.owner.as_ref().map(|_| role.as_str()))).collect(),
        None => privileges.objects.iter().map(|o| (o, o.owner.as_deref())).collect(),
    };
    for (object, owner) in owners {
        let (Some(owner), Some(keyword)) = (owner, alter_keyword(object.kind)) else { continue };
        match roles.get(owner) {
            None => *missing.entry(owner.to_string()).or_default() += 1,
            Some(false) => *refused.entry(owner.to_string()).or_default() += 1,
            Some(true) => stmts.push(format!("ALTER {keyword} {} OWNER TO {}", object.name, ident(owner))),
        }
    }
    for object in &privileges.objects {
        let Some(keyword) = grant_keyword(object.kind) else { continue };
        for g in &object.grants {
            if g.role != "PUBLIC" && !roles.contains_key(&g.role) {
                *missing.entry(g.role.clone()).or_default() += 1;
                continue;
            }
            let role = if g.role == "PUBLIC" { "PUBLIC".to_string() } else { ident(&g.role) };
            let option = if g.grantable { " WITH GRANT OPTION" } else { "" };
            stmts.push(format!("GRANT {} ON {keyword} {} TO {role}{option}", g.privilege, object.name));
        }
    }
    let mut warnings: Vec<String> =
        missing.into_iter().map(|(role, n)| format!("role {role} does not exist on the target: {n} of its objects or grants are not given back")).collect();
    warnings.extend(
        refused.into_iter().map(|(role, n)| {
            format!("the restoring role may not give objects to role {role} (not a member of it): {n} objects keep the restoring role as owner")
        }),
    );
    (stmts, warnings)
}

/// Refuses (BadInput, before anything is changed) a `reassign_to` role that does not exist on
/// the target or that the restoring role may not give objects to.
pub(crate) async fn check_reassign(client: &Client, privileges: &Privileges) -> Result<()> {
    let Some(role) = &privileges.reassign_to else { return Ok(()) };
    let row = client
        .query_opt("SELECT pg_catalog.pg_has_role(current_user, oid, 'MEMBER') FROM pg_catalog.pg_roles WHERE rolname = $1", &[role])
        .await
        .map_err(|e| pg_err("listing the target's roles", e))?;
    match row.map(|r| r.try_get::<_, bool>(0)) {
        Some(Ok(true)) => Ok(()),
        Some(_) => Err(tandem_error::Error::bad_input(format!("the restoring user may not give objects to role {role} (it is not a member of it)"))),
        None => Err(tandem_error::Error::bad_input(format!("role {role}, which should own the restored objects, does not exist on the target"))),
    }
}

/// Gives the owners and grants back inside the restore's transaction (see the module doc).
/// Errors: a statement the server refuses (the restore then rolls back).
pub(crate) async fn restore(client: &Client, privileges: &Privileges) -> Result<()> {
    if privileges.is_empty() {
        return Ok(());
    }
    let rows = client
        .query("SELECT rolname::text, pg_catalog.pg_has_role(current_user, oid, 'MEMBER') FROM pg_catalog.pg_roles", &[])
        .await
        .map_err(|e| pg_err("listing the target's roles", e))?;
    let roles: HashMap<String, bool> = rows.iter().filter_map(|r| Some((r.try_get(0).ok()?, r.try_get(1).ok()?))).collect();
    let current = if privileges.reassign_to.is_some() { read(client).await? } else { Privileges::default() };
    let (stmts, warnings) = statements(privileges, &current, &roles);
    for w in warnings {
        tracing::warn!("{w}");
    }
    for stmt in stmts {
        client.batch_execute(&stmt).await.map_err(|e| pg_err(&stmt, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(kind: ObjectKind, name: &str, owner: Option<&str>, grants: &[(&str, &str)]) -> ObjectPrivileges {
        ObjectPrivileges {
            kind,
            name: name.into(),
            owner: owner.map(Into::into),
            grants: grants.iter().map(|(r, p)| Grant { role: r.to_string(), privilege: p.to_string(), grantable: false }).collect(),
        }
    }

    #[test]
    fn owners_and_grants_for_the_roles_that_exist() {
        let p = Privileges {
            objects: vec![
                object(ObjectKind::Table, "public.t", Some("app"), &[("reader", "SELECT"), ("gone", "SELECT"), ("PUBLIC", "SELECT")]),
                object(ObjectKind::Sequence, "public.t_id_seq", None, &[("reader", "USAGE")]),
                object(ObjectKind::View, "public.v", Some("gone"), &[]),
                object(ObjectKind::Function, "public.f(integer)", Some("boss"), &[]),
            ],
            reassign_to: None,
        };
        let roles: HashMap<String, bool> = [("app".into(), true), ("reader".into(), true), ("boss".into(), false)].into();
        let (stmts, warnings) = statements(&p, &Privileges::default(), &roles);
        assert_eq!(
            stmts,
            vec![
                "ALTER TABLE public.t OWNER TO \"app\"",
                "GRANT SELECT ON TABLE public.t TO \"reader\"",
                "GRANT SELECT ON TABLE public.t TO PUBLIC",
                "GRANT USAGE ON SEQUENCE public.t_id_seq TO \"reader\"",
            ]
        );
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("role gone does not exist") && warnings[0].contains("2 of its"), "{warnings:?}");
        assert!(warnings[1].contains("role boss") && warnings[1].contains("1 objects"), "{warnings:?}");
    }

    #[test]
    fn a_kind_of_a_newer_version_is_skipped() {
        let p: Privileges =
            serde_json::from_str(r#"{"objects": [{"kind": "tablespace", "name": "x", "owner": "app", "grants": [{"role": "r", "privilege": "CREATE"}]}]}"#)
                .unwrap();
        assert_eq!(p.objects[0].kind, ObjectKind::Other);
        let roles: HashMap<String, bool> = [("app".into(), true), ("r".into(), true)].into();
        assert_eq!(statements(&p, &Privileges::default(), &roles), (Vec::<String>::new(), Vec::<String>::new()));
    }

    #[test]
    fn reassigning_hands_over_what_was_restored() {
        let p = Privileges { objects: Vec::new(), reassign_to: Some("Airflow User".into()) };
        let current = Privileges {
            objects: vec![object(ObjectKind::Table, "public.a", Some("postgres"), &[]), object(ObjectKind::Sequence, "public.a_id_seq", None, &[])],
            reassign_to: None,
        };
        let roles: HashMap<String, bool> = [("Airflow User".into(), true)].into();
        let (stmts, warnings) = statements(&p, &current, &roles);
        assert_eq!(stmts, vec!["ALTER TABLE public.a OWNER TO \"Airflow User\""]);
        assert!(warnings.is_empty());
    }
}
