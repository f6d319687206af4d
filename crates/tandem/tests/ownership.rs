//! PostgreSQL owners and grants: a restore done as a superuser gives every object back to its
//! owner and re-grants what other roles had, for the roles that exist on the target, so the
//! application's own (non-superuser) role can write after a restore; `--owner` hands everything
//! to one role instead (other role names, or a MySQL/MariaDB source).

mod common;

use common::*;

/// Runs `sql` in `db` as `role` (SET ROLE: the privileges are the role's own).
fn as_role(server: &Server, db: &str, role: &str, sql: &str) -> Result<String, String> {
    server.try_sql(db, &format!("SET ROLE {role}; {sql}"))
}

fn owner_of(server: &Server, db: &str, relation: &str) -> String {
    server.sql(db, &format!("SELECT pg_catalog.pg_get_userbyid(relowner) FROM pg_catalog.pg_class WHERE oid = '{relation}'::regclass"))
}

/// Roles `<p>_app` (owns the data), `<p>_reader` (granted SELECT) and `<p>_other`; a database
/// whose objects `<p>_app` made.
fn owned_db(server: &Server, p: &str) -> String {
    server.sql(
        "postgres",
        &format!(
            "DROP ROLE IF EXISTS {p}_app; DROP ROLE IF EXISTS {p}_reader; DROP ROLE IF EXISTS {p}_other; \
             CREATE ROLE {p}_app; CREATE ROLE {p}_reader; CREATE ROLE {p}_other;"
        ),
    );
    let db = server.create_database(p);
    server.sql(
        &db,
        &format!(
            "GRANT CREATE ON SCHEMA public TO {p}_app; CREATE SCHEMA side AUTHORIZATION {p}_app; SET ROLE {p}_app;
             CREATE TABLE public.runs (id serial PRIMARY KEY, state text NOT NULL);
             CREATE TABLE side.notes (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text);
             CREATE VIEW public.done AS SELECT id FROM public.runs WHERE state = 'done';
             CREATE FUNCTION side.twice(x int) RETURNS int LANGUAGE sql AS 'SELECT 2 * x';
             INSERT INTO public.runs (state) VALUES ('done'), ('queued');
             GRANT SELECT ON public.runs, public.done TO {p}_reader; GRANT USAGE ON SCHEMA side TO {p}_reader;
             GRANT SELECT ON side.notes TO {p}_reader; REVOKE EXECUTE ON FUNCTION side.twice(int) FROM PUBLIC;
             GRANT EXECUTE ON FUNCTION side.twice(int) TO {p}_reader;
             RESET ROLE;"
        ),
    );
    db
}

#[test]
fn a_superuser_restore_gives_objects_back_to_their_owners_and_grants() {
    let pg = Server::shared(Flavor::Postgres);
    let db = owned_db(pg, "own1");
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    backup(&pg.url(&db), &repo);

    let target = pg.create_database("own1_target");
    tandem(&["restore", "--repo", p(&repo), "--target", &pg.url(&target), "--force"]).ok();
    for rel in ["public.runs", "public.runs_id_seq", "side.notes", "public.done"] {
        assert_eq!(owner_of(pg, &target, rel), "own1_app", "{rel}");
    }
    assert_eq!(pg.sql(&target, "SELECT pg_catalog.pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'side'"), "own1_app");
    assert_eq!(pg.sql(&target, "SELECT pg_catalog.pg_get_userbyid(proowner) FROM pg_proc WHERE proname = 'twice'"), "own1_app");
    // The application's role writes (a serial and an identity column: it owns their sequences).
    as_role(pg, &target, "own1_app", "INSERT INTO public.runs (state) VALUES ('new'); INSERT INTO side.notes (body) VALUES ('n'); SELECT side.twice(2)")
        .expect("the owner writes after the restore");
    // The reader reads what it was granted and nothing more.
    assert_eq!(as_role(pg, &target, "own1_reader", "SELECT count(*) FROM public.done").unwrap(), "1");
    assert_eq!(as_role(pg, &target, "own1_reader", "SELECT side.twice(3)").unwrap(), "6");
    assert!(as_role(pg, &target, "own1_reader", "INSERT INTO public.runs (state) VALUES ('x')").unwrap_err().contains("permission denied"));
    assert!(as_role(pg, &target, "own1_other", "SELECT side.twice(3)").unwrap_err().contains("permission denied"), "EXECUTE revoked from PUBLIC");
}

#[test]
fn owner_hands_everything_to_one_role_and_a_missing_one_is_refused() {
    let pg = Server::shared(Flavor::Postgres);
    let db = owned_db(pg, "own2");
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    backup(&pg.url(&db), &repo);

    let target = pg.create_database("own2_target");
    tandem(&["restore", "--repo", p(&repo), "--target", &pg.url(&target), "--force", "--owner", "own2_other"]).ok();
    for rel in ["public.runs", "public.runs_id_seq", "side.notes", "public.done"] {
        assert_eq!(owner_of(pg, &target, rel), "own2_other", "{rel}");
    }
    as_role(pg, &target, "own2_other", "INSERT INTO public.runs (state) VALUES ('new')").expect("the new owner writes");
    assert_eq!(as_role(pg, &target, "own2_reader", "SELECT count(*) FROM public.runs").unwrap(), "3", "grants are kept");

    // A role that does not exist: refused before anything changes (the database is not even made).
    let before = fingerprint(pg, &target);
    tandem(&["restore", "--repo", p(&repo), "--target", &pg.url(&target), "--force", "--owner", "own2_nobody"]).fails_with(2, "role own2_nobody");
    assert_eq!(fingerprint(pg, &target), before);
    let missing = format!("{target}_new");
    tandem(&["restore", "--repo", p(&repo), "--target", &pg.url(&missing), "--owner", "own2_nobody"]).fails_with(2, "does not exist on the target");
    assert_eq!(pg.sql("postgres", &format!("SELECT count(*) FROM pg_database WHERE datname = '{missing}'")), "0");
}

#[test]
fn roles_missing_on_the_target_are_warned_about_and_the_restore_succeeds() {
    let pg = Server::shared(Flavor::Postgres);
    let db = owned_db(pg, "own3");
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    backup(&pg.url(&db), &repo);
    // The reader role is gone by the time of the restore (another region's server).
    pg.sql(&db, "DROP OWNED BY own3_reader");
    pg.sql("postgres", "DROP ROLE own3_reader");

    let target = pg.create_database("own3_target");
    let run = tandem(&["restore", "--repo", p(&repo), "--target", &pg.url(&target), "--force"]).ok();
    assert!(run.stderr.contains("role own3_reader does not exist on the target"), "{}", run.stderr);
    assert_eq!(owner_of(pg, &target, "public.runs"), "own3_app");
    assert_eq!(fingerprint(pg, &target), fingerprint(pg, &db));
}

#[test]
fn a_mysql_backup_restored_into_postgres_is_owned_by_the_given_role() {
    let (my, pg) = (Server::shared(Flavor::MariaDb), Server::shared(Flavor::Postgres));
    pg.sql("postgres", "DROP ROLE IF EXISTS own4_app; CREATE ROLE own4_app");
    let db = my.create_database("own4");
    my.sql(&db, "CREATE TABLE jobs (id INT AUTO_INCREMENT PRIMARY KEY, state VARCHAR(20)); INSERT INTO jobs (state) VALUES ('a'), ('b');");
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    backup(&my.url(&db), &repo);
    let target = pg.create_database("own4_target");
    tandem(&["restore", "--repo", p(&repo), "--target", &pg.url(&target), "--force", "--owner", "own4_app"]).ok();
    assert_eq!(owner_of(pg, &target, "public.jobs"), "own4_app");
    assert_eq!(as_role(pg, &target, "own4_app", "INSERT INTO public.jobs (state) VALUES ('c') RETURNING id").unwrap(), "3");
}

/// Airflow made its database as its own role; a superuser restores it elsewhere; Airflow, still
/// connecting as that role, reads and writes the copy (it could not if the superuser owned it).
#[test]
fn airflow_works_as_its_own_role_after_a_superuser_restore() {
    use common::airflow::{fernet_key, Site};
    let pg = Server::shared(Flavor::Postgres);
    pg.sql("postgres", "DROP ROLE IF EXISTS own_airflow; CREATE ROLE own_airflow LOGIN PASSWORD 'af-role-pw'");
    pg.sql("postgres", "CREATE DATABASE own_af OWNER own_airflow");
    let key = fernet_key();
    let primary = Site::new(pg, "own_af", &key).connecting_as("own_airflow", "af-role-pw");
    primary.run("migrate", &[]);
    let populated = primary.run("populate", &[]);
    let dags = populated["dags"].as_object().unwrap();
    let dag = dags.iter().find(|(_, d)| d["is_paused"] == false).map(|(k, _)| k.clone()).expect("an active DAG in the sample");
    assert_eq!(owner_of(pg, "own_af", "public.dag_run"), "own_airflow");

    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    backup(&pg.url("own_af"), &repo);
    tandem(&["restore", "--repo", p(&repo), "--target", &pg.url("own_af_dr")]).ok();
    assert_eq!(owner_of(pg, "own_af_dr", "public.dag_run"), "own_airflow");

    let dr = Site::new(pg, "own_af_dr", &key).connecting_as("own_airflow", "af-role-pw");
    dr.run("read", &[]);
    let paused = dr.run("pause", &["--dag", &dag]);
    assert!(paused["is_paused"] == true && paused["changed"] == true, "{paused}");
    let run = dr.run("trigger", &["--dag", &dag]);
    assert!(run["id"].as_i64().unwrap() > run["previous_max_id"].as_i64().unwrap(), "a new run with a fresh id: {run}");
}
