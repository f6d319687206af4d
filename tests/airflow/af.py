#!/usr/bin/env python3
"""Real-client harness for Airflow 3 tests: the Airflow CLI and Airflow's own models on a
PostgreSQL metadata database.

Run with the venv python that scripts/airflow-env.sh prepares ($AIRFLOW_PY). Every subcommand
takes --db-url postgresql://USER:PW@HOST:PORT/DB, --fernet-key KEY and --home DIR (AIRFLOW_HOME;
a temp dir by default), uses tests/airflow/dags/ as the DAG folder, prints ONE JSON object on
stdout and exits 1 with `af.py <cmd>: error: ...` on stderr on failure. Airflow's own logging goes
to stderr. Nothing here binds a port: no api-server, no scheduler, no log server.

    migrate     `airflow db migrate` (real CLI); alembic version + table count
    populate    the tandem sample (DAGs, variables, connections, pools, runs) on a migrated DB
    read        the state as JSON, secrets decrypted with --fernet-key; --expect compares
    trigger     `airflow dags trigger DAG` (real CLI); the new run's id and state
    pause       `airflow dags pause DAG` (real CLI); is_paused read back
    unpause     `airflow dags unpause DAG` (real CLI); is_paused read back
    cli         any `airflow ...` command in this environment: {rc, stdout, stderr}
    facts       schema facts for tandem (sequences, FKs, encrypted columns, jobs, states)

See tests/airflow/README.md.
"""

import argparse
import atexit
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
DAGS_FOLDER = os.path.join(HERE, "dags")

# The sample's DAG files (tests/airflow/dags/) and which of them populate leaves paused.
SAMPLE_DAGS = ["tandem_etl", "tandem_fail", "tandem_hourly", "tandem_paused"]
KEEP_PAUSED = {"tandem_paused"}

# Fixed times so that run ids do not depend on the clock.
T0 = datetime.datetime(2024, 1, 1, 6, 0, tzinfo=datetime.timezone.utc)

# Sections of `read` output that --expect compares, and how list items are keyed.
LIST_KEYS = {
    "dag_runs": ("dag_id", "run_id"),
    "task_instances": ("dag_id", "run_id", "task_id", "map_index"),
    "triggers": ("id",),
    "xcoms": ("dag_id", "run_id", "task_id", "map_index", "key"),
    "jobs": ("id",),
}
COMPARED = ["airflow_version", "alembic_version", "dags", "variables", "variables_meta", "connections",
            "pools", "dag_runs", "task_instances", "triggers", "xcoms", "assets", "jobs", "counts"]
# Singular labels for difference messages ("variable env_name: expected ...").
LABELS = {"dags": "dag", "variables": "variable", "variables_meta": "variable", "connections": "connection",
          "pools": "pool", "dag_runs": "dag_run", "task_instances": "task_instance", "triggers": "trigger",
          "xcoms": "xcom", "assets": "asset", "jobs": "job", "counts": "count"}
# The audit log grows with every CLI call on either copy: not state (see README).
DEFAULT_IGNORES = ["counts.log"]

# The real stdout, kept for the one JSON object; fd 1 itself is pointed at stderr so that nothing
# Airflow prints (task logs, warnings, print() in DAGs) can end up in the JSON.
_REAL_STDOUT = None
CMD = "?"
T_START = time.time()


class Fail(Exception):
    """A failure with a message meant for the user (no traceback)."""


def log(msg):
    print(f"af.py: {msg}", file=sys.stderr, flush=True)


def emit(obj):
    _REAL_STDOUT.write(json.dumps(obj, ensure_ascii=False, sort_keys=True, default=str) + "\n")
    _REAL_STDOUT.flush()


def protect_stdout():
    global _REAL_STDOUT
    sys.stdout.flush()
    _REAL_STDOUT = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)


# ------------------------------------------------------------------------------------------------
# Environment
# ------------------------------------------------------------------------------------------------

def sqlalchemy_url(db_url):
    """postgresql://u:p@h:port/db -> postgresql+psycopg2://u:p@h:port/db (quoting kept as given)."""
    u = urllib.parse.urlsplit(db_url)
    if u.scheme not in ("postgresql", "postgres", "postgresql+psycopg2"):
        raise Fail(f"--db-url must be postgresql://USER:PW@HOST:PORT/DB, got {db_url!r}")
    if not u.hostname or not u.path.strip("/"):
        raise Fail(f"--db-url needs a host and a database name, got {db_url!r}")
    return urllib.parse.urlunsplit(("postgresql+psycopg2",) + tuple(u)[1:])


def check_fernet_key(key):
    from cryptography.fernet import Fernet
    for part in key.split(","):
        try:
            Fernet(part.encode())
        except Exception as e:  # ValueError / binascii.Error
            raise Fail(f"--fernet-key is not a valid Fernet key ({e}): 32 url-safe base64-encoded bytes, "
                       "e.g. from `python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`")


def setup_env(args):
    """Sets the AIRFLOW_* environment for this process and every CLI child. Must run before the
    first `import airflow`."""
    url = sqlalchemy_url(args.db_url)
    check_fernet_key(args.fernet_key)
    home = args.home
    if not home:
        home = tempfile.mkdtemp(prefix="af-home-")
        atexit.register(shutil.rmtree, home, True)
    os.makedirs(home, exist_ok=True)
    env = {
        "AIRFLOW_HOME": home,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url,
        "AIRFLOW__CORE__FERNET_KEY": args.fernet_key,
        "AIRFLOW__CORE__DAGS_FOLDER": DAGS_FOLDER,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__DATABASE__LOAD_DEFAULT_CONNECTIONS": "False",
        # Never bind anything: no scheduler health server, no log server, no statsd/otel.
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW__METRICS__STATSD_ON": "False",
        "AIRFLOW__METRICS__OTEL_ON": "False",
        "AIRFLOW__TRACES__OTEL_ON": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO" if args.verbose else "WARNING",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": os.path.join(home, "logs"),
        "PYTHONWARNINGS": "ignore",
    }
    os.environ.update(env)
    # Settings from the caller's environment that would point Airflow elsewhere.
    for k in ("AIRFLOW_CONFIG", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD",
              "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_SECRET", "AIRFLOW__CORE__FERNET_KEY_CMD",
              "AIRFLOW__CORE__FERNET_KEY_SECRET", "AIRFLOW__SECRETS__BACKEND"):
        os.environ.pop(k, None)
    return home


def airflow_bin():
    b = os.environ.get("AIRFLOW_BIN") or os.path.join(os.path.dirname(sys.executable), "airflow")
    if not os.path.exists(b):
        raise Fail(f"airflow CLI not found at {b}: run af.py with $AIRFLOW_PY from scripts/airflow-env.sh")
    return b


def run_cli(argv, check=True, timeout=600):
    """Runs the real `airflow` CLI with this environment; returns (rc, stdout, stderr, seconds).
    The child is stopped with us (SIGTERM/SIGINT to af.py, or a timeout)."""
    t0 = time.time()
    cmd = [airflow_bin()] + list(argv)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                         env=os.environ.copy())
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_child(p)
        raise Fail(f"`airflow {' '.join(argv)}` timed out after {timeout} s")
    except BaseException:
        stop_child(p)
        raise
    secs = round(time.time() - t0, 2)
    if check and p.returncode != 0:
        raise Fail(f"`airflow {' '.join(argv)}` failed (rc={p.returncode}):\n{tail(err)}\n{tail(out, 10)}".rstrip())
    return p.returncode, out, err, secs


def stop_child(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def tail(text, n=25):
    lines = [l for l in (text or "").splitlines() if l.strip()]
    return "\n".join(lines[-n:])


def engine():
    """A plain SQLAlchemy engine on the database (no Airflow import: fast)."""
    import sqlalchemy
    return sqlalchemy.create_engine(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], poolclass=sqlalchemy.pool.NullPool)


def sql(conn, query, **params):
    from sqlalchemy import text
    return conn.execute(text(query), params).fetchall()


def db_overview(conn):
    """(alembic version or None, sorted table list)."""
    tables = [r[0] for r in sql(conn, "SELECT table_name FROM information_schema.tables "
                                      "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1")]
    version = None
    if "alembic_version" in tables:
        rows = sql(conn, "SELECT version_num FROM alembic_version")
        version = rows[0][0] if rows else None
    return version, tables


def connect_checked():
    import sqlalchemy
    try:
        eng = engine()
        conn = eng.connect()
    except sqlalchemy.exc.OperationalError as e:
        raise Fail(f"cannot connect to the database: {str(e.orig).strip() if e.orig else e}")
    return conn


def require_migrated(conn):
    version, tables = db_overview(conn)
    if not version:
        raise Fail("the database is not an Airflow metadata DB (no alembic_version): run `af.py migrate` first")
    return version, tables


def airflow_version():
    import importlib.metadata
    return importlib.metadata.version("apache-airflow")


def iso(v):
    return v.isoformat() if isinstance(v, (datetime.datetime, datetime.date)) else v


# ------------------------------------------------------------------------------------------------
# migrate
# ------------------------------------------------------------------------------------------------

def cmd_migrate(args):
    with connect_checked() as conn:
        before, _ = db_overview(conn)
    _, out, err, secs = run_cli(["db", "migrate"])
    with connect_checked() as conn:
        version, tables = db_overview(conn)
    if not version:
        raise Fail(f"`airflow db migrate` left no alembic_version:\n{tail(err)}")
    return {"airflow_version": airflow_version(), "alembic_version": version, "alembic_version_before": before,
            "table_count": len(tables), "tables": tables, "seconds": {"db_migrate": secs}}


# ------------------------------------------------------------------------------------------------
# populate
# ------------------------------------------------------------------------------------------------

VARIABLES = [
    # key, value, serialize_json, description
    ("env_name", "primary", False, "the site this DB belongs to"),
    ("config_json", {"region": "us-east-1", "buckets": ["gs://lake-us/raw", "gs://lake-us/curated"],
                     "limits": {"rows": 1000, "ratio": 0.5}, "enabled": True}, True, "a JSON variable"),
    ("greeting", "Zürich ✓ 日本", False, "non-ASCII: Latin-1, a symbol and CJK"),
    ("api_token", "tok-3f9a-secret", False, "a secret (is_encrypted)"),
    ("multiline", "line 1\nline 2\ttabbed 'quoted' \"double\" \\backslash", False, None),
    ("empty_value", "", False, "an empty string"),
]

CONNECTIONS = [
    dict(conn_id="tandem_postgres", conn_type="postgres", host="db.primary.internal", login="etl_user",
         password="pä$$wörd ✓ 1", schema="warehouse", port=5432,
         extra=json.dumps({"sslmode": "require", "application_name": "tandem Zürich"}, ensure_ascii=False),
         description="warehouse database"),
    dict(conn_id="tandem_http", conn_type="http", host="api.primary.internal", login=None,
         password="bearer-0123456789", schema="https", port=443,
         extra=json.dumps({"headers": {"X-Region": "primary", "X-Note": "日本"}, "timeout": 30}, ensure_ascii=False),
         description=None),
    dict(conn_id="tandem_aws", conn_type="aws", host=None, login="AKIAEXAMPLEKEY",
         password="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", schema=None, port=None,
         extra=json.dumps({"region_name": "us-east-1", "endpoint_url": "https://s3.us-east-1.amazonaws.com"}),
         description="object storage credentials"),
    dict(conn_id="tandem_plain", conn_type="generic", host="plain.internal", login="nobody",
         password=None, schema=None, port=8080, extra=None, description="no password, no extra (nothing encrypted)"),
]

POOLS = [
    # name, slots, description, include_deferred
    ("tandem_pool", 4, "tandem test pool", False),
    ("etl_pool", 2, "ETL pool Zürich ✓", True),
]


def cmd_populate(args):
    t0 = time.time()
    secs = {}
    with connect_checked() as conn:
        require_migrated(conn)
        n_runs = sql(conn, "SELECT COUNT(*) FROM dag_run")[0][0]
        n_vars = sql(conn, "SELECT COUNT(*) FROM variable")[0][0]
        if n_runs or n_vars:
            raise Fail(f"the database already has {n_runs} dag runs and {n_vars} variables: populate needs a freshly migrated DB")

    t = time.time()
    import airflow  # noqa: F401  (configures settings + ORM from the environment set above)
    from airflow.utils.session import create_session
    secs["import_airflow"] = round(time.time() - t, 2)

    # 1. DAG files -> dag, dag_version, serialized_dag, dag_code, dag_bundle, asset ...
    t = time.time()
    if args.use_cli:
        run_cli(["dags", "reserialize"])
    else:
        reserialize()
    with create_session() as session:
        from sqlalchemy import text
        errors = session.execute(text("SELECT filename, stacktrace FROM import_error")).fetchall()
        if errors:
            raise Fail("DAG files failed to import:\n" + "\n".join(f"{f}: {tail(s, 3)}" for f, s in errors))
        have = {r[0] for r in session.execute(text("SELECT dag_id FROM dag"))}
        missing = sorted(set(SAMPLE_DAGS) - have)
        if missing:
            raise Fail(f"DAGs not loaded from {DAGS_FOLDER}: {', '.join(missing)}")
    secs["reserialize"] = round(time.time() - t, 2)

    # 2. pause states, variables, connections, pools, jobs (before dag.test(): once a task ran in
    #    this process, Variable.set would go through the task SDK instead of the DB)
    t = time.time()
    job_ids = set_up_state()
    secs["state"] = round(time.time() - t, 2)

    # 3. real runs: tandem_etl to success, tandem_fail to failure
    t = time.time()
    dag_test("tandem_etl", expect_state="success", use_cli=args.use_cli)
    dag_test("tandem_fail", expect_state="failed", use_cli=args.use_cli)
    secs["dags_test"] = round(time.time() - t, 2)

    # 4. runs "interrupted by the disaster": queued runs, a running run with a running task, a
    #    running run with a deferred task and its trigger
    t = time.time()
    interrupted_runs(job_ids)
    # The primary's scheduler and triggerer were alive up to the end of populate (the "snapshot").
    with create_session() as session:
        session.execute(text("UPDATE job SET latest_heartbeat = now() WHERE state = 'running'"))
    secs["interrupted_runs"] = round(time.time() - t, 2)

    t = time.time()
    out = read_state()
    secs["read"] = round(time.time() - t, 2)
    secs["total"] = round(time.time() - t0, 2)
    out["seconds"] = secs
    if out.get("errors"):
        raise_with_output(out, "populate read back errors: " + "; ".join(out["errors"]))
    return out


def reserialize():
    """What `airflow dags reserialize` does (airflow/cli/commands/dag_command.py dag_reserialize)."""
    from airflow.dag_processing.bundles.base import unpack_bundle_version
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.utils.session import create_session

    with create_session() as session:
        manager = DagBundlesManager()
        manager.sync_bundles_to_db(session=session)
        session.commit()
        for bundle in manager.get_all_dag_bundles():
            bundle.initialize()
            bag = BundleDagBag(bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
            version, version_data = unpack_bundle_version(bundle.get_current_version(), bundle)
            sync_bag_to_db(bag, bundle.name, bundle_version=version, version_data=version_data, session=session)


def set_up_state():
    from airflow.jobs.job import Job
    from airflow.models import Connection, DagModel, Variable
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        for dm in session.scalars(select(DagModel).where(DagModel.dag_id.in_(SAMPLE_DAGS))):
            dm.is_paused = dm.dag_id in KEEP_PAUSED
        for key, value, as_json, desc in VARIABLES:
            Variable.set(key, value, description=desc, serialize_json=as_json, session=session)
        for c in CONNECTIONS:
            session.add(Connection(**c))
        for name, slots, desc, deferred in POOLS:
            Pool.create_or_update_pool(name, slots, desc, deferred, session=session)
        # The primary's scheduler and triggerer, alive at the moment of the "disaster".
        sched = Job(job_type="SchedulerJob", state="running", executor_class="LocalExecutor")
        sched.hostname = "primary-scheduler-0"
        trig = Job(job_type="TriggererJob", state="running")
        trig.hostname = "primary-triggerer-0"
        session.add_all([sched, trig])
        session.flush()
        return {"scheduler": sched.id, "triggerer": trig.id}


def dag_test(dag_id, expect_state, use_cli):
    """Runs one DAG to completion without a scheduler, like `airflow dags test DAG DATE`."""
    from airflow.models import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    if use_cli:
        rc, out, err, _ = run_cli(["dags", "test", dag_id, T0.isoformat()], check=False)
        if rc != 0 and not (expect_state == "failed" and "DagRun failed" in err):
            raise Fail(f"`airflow dags test {dag_id}` failed (rc={rc}):\n{tail(err)}")
        with create_session() as session:
            dr = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.id.desc())).first()
            state = dr.state if dr else None
    else:
        from airflow.cli.commands.dag_command import get_bagged_dag
        dag = get_bagged_dag(bundle_names=None, dag_id=dag_id, dagfile_path=None)
        if dag is None:
            raise Fail(f"DAG {dag_id} not found in {DAGS_FOLDER}")
        # The same call `airflow dags test` makes; run_after fixed -> run id manual__2024-01-01T06:00:00+00:00
        dr = dag.test(run_after=T0, logical_date=T0)
        state = dr.state
    if str(state) != expect_state:
        raise Fail(f"dags test {dag_id}: run ended {state}, expected {expect_state}")


def interrupted_runs(job_ids):
    from airflow.models import DagRun, TaskInstance, Trigger
    from airflow.models.dagbag import DBDagBag
    from airflow.providers.standard.triggers.temporal import DateTimeTrigger
    from airflow.timetables.base import DataInterval
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType
    from sqlalchemy import select

    now = datetime.datetime.now(datetime.timezone.utc)
    bag = DBDagBag()

    def make_run(session, dag_id, run_type, logical, state, conf=None):
        dag = bag.get_latest_version_of_dag(dag_id, session=session)
        if dag is None:
            raise Fail(f"no serialized DAG {dag_id}")
        if run_type == DagRunType.SCHEDULED:
            interval = dag.timetable.infer_manual_data_interval(run_after=logical)
            interval = DataInterval(logical, logical + datetime.timedelta(hours=1))
        else:
            interval = dag.timetable.infer_manual_data_interval(run_after=logical)
        run_id = dag.timetable.generate_run_id(run_type=run_type, run_after=logical, data_interval=interval)
        dr = dag.create_dagrun(
            run_id=run_id, logical_date=logical, data_interval=(interval.start, interval.end), run_after=logical,
            conf=conf, run_type=run_type, state=state, start_date=now if state == DagRunState.RUNNING else None,
            triggered_by=DagRunTriggeredByType.TIMETABLE if run_type == DagRunType.SCHEDULED else DagRunTriggeredByType.CLI,
            triggering_user_name=None if run_type == DagRunType.SCHEDULED else "tandem",
            creating_job_id=job_ids["scheduler"], session=session)
        if state == DagRunState.QUEUED:
            dr.queued_at = now
        session.flush()
        return dr

    def tis(session, dr):
        return {ti.task_id: ti for ti in session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == dr.dag_id, TaskInstance.run_id == dr.run_id))}

    hour = datetime.datetime(2024, 6, 1, tzinfo=datetime.timezone.utc)
    with create_session() as session:
        # queued: two scheduled runs of tandem_hourly and a manual one of tandem_etl with conf
        make_run(session, "tandem_hourly", DagRunType.SCHEDULED, hour, DagRunState.QUEUED)
        make_run(session, "tandem_hourly", DagRunType.SCHEDULED, hour + datetime.timedelta(hours=1), DagRunState.QUEUED)
        make_run(session, "tandem_etl", DagRunType.MANUAL, T0 + datetime.timedelta(days=2), DagRunState.QUEUED,
                 conf={"city": "Zürich", "reason": "queued when the region failed"})

        # running: tandem_etl with extract done, transform running (on the primary's worker,
        # queued by the primary's scheduler job), load not started
        dr = make_run(session, "tandem_etl", DagRunType.MANUAL, T0 + datetime.timedelta(days=1), DagRunState.RUNNING)
        t = tis(session, dr)
        ex, tr = t["extract"], t["transform"]
        ex.state, ex.try_number, ex.start_date, ex.end_date = TaskInstanceState.SUCCESS, 1, now, now
        ex.duration, ex.hostname = 0.5, "primary-worker-1"
        tr.state, tr.try_number, tr.start_date = TaskInstanceState.RUNNING, 1, now
        tr.hostname, tr.pid, tr.queued_by_job_id, tr.last_heartbeat_at = "primary-worker-1", 4242, job_ids["scheduler"], now
        tr.queued_dttm, tr.executor = now, "LocalExecutor"

        # running: tandem_hourly with `wait` deferred on a trigger held by the primary's triggerer
        dr = make_run(session, "tandem_hourly", DagRunType.SCHEDULED, hour + datetime.timedelta(hours=2),
                      DagRunState.RUNNING)
        classpath, kwargs = DateTimeTrigger(moment=datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)).serialize()
        trigger = Trigger(classpath=classpath, kwargs=kwargs)
        trigger.triggerer_id = job_ids["triggerer"]
        session.add(trigger)
        session.flush()
        w = tis(session, dr)["wait"]
        w.state, w.try_number, w.start_date, w.trigger_id = TaskInstanceState.DEFERRED, 1, now, trigger.id
        w.next_method, w.queued_by_job_id, w.hostname = "execute_complete", job_ids["scheduler"], "primary-worker-1"


# ------------------------------------------------------------------------------------------------
# read
# ------------------------------------------------------------------------------------------------

def read_state():
    """The state of the metadata DB through Airflow's models; secrets decrypted with the key.
    Decryption failures are collected under `errors` (never raised halfway)."""
    import airflow  # noqa: F401
    from cryptography.fernet import InvalidToken
    from airflow.jobs.job import Job
    from airflow.models import Connection, Trigger, Variable
    from airflow.models.crypto import get_fernet
    from airflow.utils.session import create_session
    from sqlalchemy import select, text

    errors = []
    out = {"airflow_version": airflow_version()}
    with create_session() as session:
        q = lambda s, **p: session.execute(text(s), p).fetchall()  # noqa: E731
        version_rows = q("SELECT version_num FROM alembic_version")
        out["alembic_version"] = version_rows[0][0] if version_rows else None
        tables = [r[0] for r in q("SELECT table_name FROM information_schema.tables "
                                  "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1")]
        out["counts"] = {t: q(f'SELECT COUNT(*) FROM "{t}"')[0][0] for t in tables}

        out["dags"] = {}
        for r in q("SELECT d.dag_id, d.is_paused, d.is_stale, d.bundle_name, d.relative_fileloc, d.timetable_summary, "
                   "d.max_active_runs, (SELECT COUNT(*) FROM dag_version v WHERE v.dag_id = d.dag_id), "
                   "(SELECT COUNT(*) FROM serialized_dag s WHERE s.dag_id = d.dag_id), "
                   "(SELECT string_agg(t.name, ',' ORDER BY t.name) FROM dag_tag t WHERE t.dag_id = d.dag_id) "
                   "FROM dag d ORDER BY 1"):
            out["dags"][r[0]] = {"is_paused": r[1], "is_stale": r[2], "bundle_name": r[3], "relative_fileloc": r[4],
                                 "timetable_summary": r[5], "max_active_runs": r[6], "dag_versions": r[7],
                                 "serialized": r[8], "tags": (r[9] or "").split(",") if r[9] else []}

        fernet = get_fernet()

        out["variables"], out["variables_meta"] = {}, {}
        var_ok = True
        for key, val, desc, enc in q("SELECT key, val, description, is_encrypted FROM variable ORDER BY key"):
            if enc and val is not None:
                try:
                    val = fernet.decrypt(val.encode()).decode()
                except InvalidToken:
                    # Airflow's Variable.val logs an error and returns None here (no exception)
                    errors.append(f"variable {key}: cannot decrypt val")
                    val, var_ok = None, False
            out["variables"][key] = val
            out["variables_meta"][key] = {"description": desc, "is_encrypted": enc}
        if var_ok:
            for v in session.scalars(select(Variable)):
                if v.val != out["variables"][v.key]:
                    errors.append(f"variable {v.key}: Variable.val gives {v.val!r}")

        # Raw rows + Airflow's own Fernet (get_fernet: honours comma-separated key lists): loading a
        # Connection through the ORM with a wrong key raises InvalidToken in its on-load hook already,
        # so the models are used only to cross-check once everything decrypted.
        out["connections"] = {}
        conn_ok = True
        for r in q("SELECT conn_id, conn_type, host, login, port, schema, description, is_encrypted, "
                   "is_extra_encrypted, password, extra FROM connection ORDER BY conn_id"):
            item = {"conn_type": r[1], "host": r[2], "login": r[3], "port": r[4], "schema": r[5], "description": r[6],
                    "is_encrypted": r[7], "is_extra_encrypted": r[8], "password": r[9], "extra": r[10]}
            for field, flag in (("password", r[7]), ("extra", r[8])):
                if flag and item[field] is not None:
                    try:
                        item[field] = fernet.decrypt(item[field].encode()).decode()
                    except InvalidToken:
                        errors.append(f"connection {r[0]}: cannot decrypt {field}")
                        item[field] = None
                        conn_ok = False
            out["connections"][r[0]] = item
        if conn_ok:
            for c in session.scalars(select(Connection)):
                for field in ("password", "extra"):
                    if getattr(c, field) != out["connections"][c.conn_id][field]:
                        errors.append(f"connection {c.conn_id}: Connection.{field} disagrees with the decrypted column")

        out["pools"] = {r[0]: r[1] for r in q("SELECT pool, slots FROM slot_pool ORDER BY 1")}

        out["dag_runs"] = [
            {"dag_id": r[0], "run_id": r[1], "state": r[2], "run_type": r[3], "logical_date": iso(r[4]), "conf": r[5],
             "triggered_by": r[6]}
            for r in q("SELECT dag_id, run_id, state, run_type, logical_date, conf, triggered_by FROM dag_run ORDER BY dag_id, run_id")]
        out["task_instances"] = [
            {"dag_id": r[0], "run_id": r[1], "task_id": r[2], "map_index": r[3], "state": r[4], "try_number": r[5]}
            for r in q("SELECT dag_id, run_id, task_id, map_index, state, try_number FROM task_instance "
                       "ORDER BY dag_id, run_id, task_id, map_index")]
        out["xcoms"] = [
            {"dag_id": r[0], "run_id": r[1], "task_id": r[2], "map_index": r[3], "key": r[4], "value": r[5]}
            for r in q("SELECT dag_id, run_id, task_id, map_index, key, value FROM xcom "
                       "ORDER BY dag_id, run_id, task_id, map_index, key")]
        out["assets"] = {r[0]: r[1] for r in q("SELECT name, uri FROM asset ORDER BY 1")}

        out["triggers"] = []
        for t in session.scalars(select(Trigger).order_by(Trigger.id)):
            try:
                kwargs = t.kwargs  # Trigger.kwargs decrypts the kwargs column
            except InvalidToken:
                errors.append(f"trigger {t.id} ({t.classpath}): cannot decrypt kwargs")
                kwargs = None
            out["triggers"].append({"id": t.id, "classpath": t.classpath, "triggerer_id": t.triggerer_id,
                                    "kwargs": json.loads(json.dumps(kwargs, default=str)) if kwargs is not None else None})

        # Airflow 3.x: connection tests queued for workers hold Fernet-encrypted password/extra too.
        if "connection_test_request" in tables:
            for r in q("SELECT id, connection_id, is_encrypted, is_extra_encrypted, password, extra "
                       "FROM connection_test_request ORDER BY id"):
                for field, flag, raw in (("password", r[2], r[4]), ("extra", r[3], r[5])):
                    if flag and raw is not None:
                        try:
                            fernet.decrypt(raw.encode())
                        except InvalidToken:
                            errors.append(f"connection_test_request {r[0]} ({r[1]}): cannot decrypt {field}")
        # dag_bundle.signed_url_template is signed (itsdangerous) with the Fernet key.
        from airflow.models.dagbundle import DagBundleModel
        for b in session.scalars(select(DagBundleModel)):
            if b.signed_url_template and b._unsign_url() is None:
                errors.append(f"dag_bundle {b.name}: signed_url_template does not verify with this key")

        out["jobs"] = []
        now = datetime.datetime.now(datetime.timezone.utc)
        for j in session.scalars(select(Job).order_by(Job.id)):
            out["jobs"].append({"id": j.id, "job_type": j.job_type, "state": j.state, "hostname": j.hostname})
        if out["jobs"]:
            from airflow.jobs.job import most_recent_job
            sj = most_recent_job("SchedulerJob", session=session)
            if sj is not None and sj.latest_heartbeat is not None:
                out["scheduler_heartbeat_age"] = round((now - sj.latest_heartbeat).total_seconds(), 1)
                out["scheduler_alive"] = sj.is_alive()  # Airflow's judgement: running + heartbeat < threshold
    if errors:
        out["errors"] = errors
    return out


def raise_with_output(out, msg):
    emit(out)
    raise Fail(msg)


def cmd_read(args):
    t0 = time.time()
    with connect_checked() as conn:
        require_migrated(conn)
    out = read_state()
    problems = []
    if out.get("errors"):
        problems.append(f"the Fernet key cannot decrypt {len(out['errors'])} secret(s) (wrong --fernet-key?): "
                        + "; ".join(out["errors"]))
    if args.expect:
        try:
            with open(args.expect, encoding="utf-8") as f:
                expected = json.load(f)
        except (OSError, ValueError) as e:
            raise Fail(f"--expect {args.expect}: {e}")
        ignores = list(args.ignore or []) + ([] if args.no_default_ignores else DEFAULT_IGNORES)
        diffs = compare(expected, out, ignores, args.ignore_paused)
        out["expect"] = {"file": args.expect, "ignored": ignores + (["dags.*.is_paused"] if args.ignore_paused else []),
                         "differences": diffs, "ok": not diffs}
        if diffs:
            problems.append(f"{len(diffs)} difference(s) from {args.expect}:\n  " + "\n  ".join(diffs))
    out["seconds"] = {"read": round(time.time() - t0, 2)}
    if problems:
        raise_with_output(out, "\n".join(problems))
    return out


def keyed(section, value):
    """Lists become dicts keyed by their identity fields so that differences name the item."""
    if section in LIST_KEYS and isinstance(value, list):
        return {"/".join(str(item.get(k)) for k in LIST_KEYS[section]): item for item in value}
    return value


def compare(expected, got, ignores, ignore_paused):
    diffs = []
    top_ignores = {i for i in ignores if "." not in i}
    sub_ignores = {tuple(i.split(".", 1)) for i in ignores if "." in i}

    def fmt(v):
        return json.dumps(v, ensure_ascii=False, sort_keys=True, default=str) if not isinstance(v, str) else repr(v)

    for section in COMPARED:
        if section in top_ignores or section not in expected:
            continue
        exp, act = keyed(section, expected[section]), keyed(section, got.get(section))
        label = LABELS.get(section, section)
        if not isinstance(exp, dict) or not isinstance(act, dict):
            if exp != act:
                diffs.append(f"{label}: expected {fmt(exp)}, got {fmt(act)}")
            continue
        for name in sorted(set(exp) | set(act)):
            if (section, name) in sub_ignores:
                continue
            if name not in act:
                diffs.append(f"{label} {name}: missing")
                continue
            if name not in exp:
                diffs.append(f"{label} {name}: unexpected (not in the expected state)")
                continue
            e, a = exp[name], act[name]
            if isinstance(e, dict) and isinstance(a, dict):
                for field in sorted(set(e) | set(a)):
                    if section == "dags" and field == "is_paused" and ignore_paused:
                        continue
                    if e.get(field) != a.get(field):
                        diffs.append(f"{label} {name}: {field}: expected {fmt(e.get(field))}, got {fmt(a.get(field))}")
            elif e != a:
                diffs.append(f"{label} {name}: expected {fmt(e)}, got {fmt(a)}")
    return diffs


# ------------------------------------------------------------------------------------------------
# trigger / pause / unpause / cli
# ------------------------------------------------------------------------------------------------

def dag_row(conn, dag_id):
    rows = sql(conn, "SELECT dag_id, is_paused FROM dag WHERE dag_id = :d", d=dag_id)
    if not rows:
        known = [r[0] for r in sql(conn, "SELECT dag_id FROM dag ORDER BY 1")]
        raise Fail(f"no DAG {dag_id!r} in the database (have: {', '.join(known) or 'none'})")
    return rows[0]


def cmd_trigger(args):
    with connect_checked() as conn:
        require_migrated(conn)
        dag_row(conn, args.dag)
        max_id = sql(conn, "SELECT COALESCE(MAX(id), 0) FROM dag_run")[0][0]
    argv = ["dags", "trigger", args.dag, "--output", "json"]
    if args.run_id:
        argv += ["--run-id", args.run_id]
    if args.conf:
        argv += ["--conf", args.conf]
    _, out, err, secs = run_cli(argv)
    try:
        start = out.index("[")
        printed = json.loads(out[start:])[0]
    except (ValueError, IndexError):
        raise Fail(f"`airflow dags trigger` printed no run:\n{tail(out)}\n{tail(err)}")
    run_id = printed.get("dag_run_id")
    with connect_checked() as conn:
        rows = sql(conn, "SELECT id, state, run_type, triggered_by, created_dag_version_id, log_template_id, "
                         "(SELECT COUNT(*) FROM task_instance t WHERE t.dag_id = r.dag_id AND t.run_id = r.run_id) "
                         "FROM dag_run r WHERE dag_id = :d AND run_id = :r", d=args.dag, r=run_id)
    if not rows:
        raise Fail(f"`airflow dags trigger` reported run {run_id!r} but it is not in dag_run")
    r = rows[0]
    return {"dag_id": args.dag, "run_id": run_id, "state": r[1], "run_type": r[2], "triggered_by": r[3],
            "id": r[0], "previous_max_id": max_id, "created_dag_version_id": str(r[4]) if r[4] else None,
            "log_template_id": r[5], "task_instances": r[6], "cli": printed, "seconds": {"cli": secs}}


def cmd_pause(args, paused):
    with connect_checked() as conn:
        require_migrated(conn)
        _, before = dag_row(conn, args.dag)
    _, out, err, secs = run_cli(["dags", "pause" if paused else "unpause", args.dag, "--output", "json", "--yes"])
    with connect_checked() as conn:
        _, after = dag_row(conn, args.dag)
    if after != paused:
        raise Fail(f"`airflow dags {'pause' if paused else 'unpause'} {args.dag}` left is_paused={after}:\n{tail(out)}\n{tail(err)}")
    return {"dag_id": args.dag, "is_paused": after, "was_paused": before, "changed": before != after,
            "cli_stdout": out.strip(), "seconds": {"cli": secs}}


def cmd_cli(args):
    argv = list(args.args)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise Fail("nothing to run: af.py cli [OPTIONS] -- ARGS...")
    rc, out, err, secs = run_cli(argv, check=False)
    res = {"argv": argv, "rc": rc, "stdout": out, "stderr": err, "seconds": secs}
    if rc != 0:
        raise_with_output(res, f"`airflow {' '.join(argv)}` exited {rc}: {tail(err, 3)}")
    return res


# ------------------------------------------------------------------------------------------------
# facts
# ------------------------------------------------------------------------------------------------

def cmd_facts(args):
    """Schema facts that tandem's Airflow support depends on, taken from the real DB."""
    with connect_checked() as conn:
        version, tables = require_migrated(conn)
        facts = {"airflow_version": airflow_version(), "alembic_version": version, "table_count": len(tables)}
        facts["counts"] = {t: sql(conn, f'SELECT COUNT(*) FROM "{t}"')[0][0] for t in tables}
        facts["sequences"] = [
            {"sequence": r[0], "table": r[1], "column": r[2], "kind": r[3], "last_value": r[4]}
            for r in sql(conn, """
                SELECT s.relname, t.relname, a.attname,
                       CASE d.deptype WHEN 'i' THEN 'identity' ELSE 'serial' END, ps.last_value
                FROM pg_class s
                JOIN pg_namespace n ON n.oid = s.relnamespace AND n.nspname = current_schema()
                JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                JOIN pg_class t ON t.oid = d.refobjid
                JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
                LEFT JOIN pg_sequences ps ON ps.schemaname = n.nspname AND ps.sequencename = s.relname
                WHERE s.relkind = 'S' ORDER BY 2, 1""")]
        facts["foreign_keys"] = [
            {"table": r[0], "columns": r[1], "references": r[2], "ref_columns": r[3], "on_delete": r[4]}
            for r in sql(conn, """
                SELECT c.conrelid::regclass::text,
                       (SELECT string_agg(attname, ',') FROM pg_attribute WHERE attrelid = c.conrelid AND attnum = ANY(c.conkey)),
                       c.confrelid::regclass::text,
                       (SELECT string_agg(attname, ',') FROM pg_attribute WHERE attrelid = c.confrelid AND attnum = ANY(c.confkey)),
                       CASE c.confdeltype WHEN 'c' THEN 'cascade' WHEN 'n' THEN 'set null' WHEN 'r' THEN 'restrict'
                                          WHEN 'd' THEN 'set default' ELSE 'no action' END
                FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace AND n.nspname = current_schema()
                WHERE c.contype = 'f' ORDER BY 3, 1""")]
        facts["uuid_primary_keys"] = [
            f"{r[0]}.{r[1]}" for r in sql(conn, """
                SELECT k.table_name, k.column_name FROM information_schema.table_constraints tc
                JOIN information_schema.key_column_usage k ON k.constraint_name = tc.constraint_name AND k.table_schema = tc.table_schema
                JOIN information_schema.columns c ON c.table_name = k.table_name AND c.column_name = k.column_name AND c.table_schema = k.table_schema
                WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema() AND c.data_type = 'uuid' ORDER BY 1""")]
        facts["bytea_columns"] = [f"{r[0]}.{r[1]}" for r in sql(conn, """
                SELECT table_name, column_name FROM information_schema.columns
                WHERE table_schema = current_schema() AND data_type = 'bytea' ORDER BY 1, 2""")]
        facts["dag_is_paused_column"] = sql(conn, """
                SELECT data_type || ' ' || CASE is_nullable WHEN 'YES' THEN 'NULL' ELSE 'NOT NULL' END || ' default ' || COALESCE(column_default, 'none')
                FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'dag' AND column_name = 'is_paused'""")[0][0]
        facts["jobs"] = [{"id": r[0], "job_type": r[1], "state": r[2], "hostname": r[3], "latest_heartbeat": iso(r[4]),
                          "start_date": iso(r[5]), "end_date": iso(r[6]), "executor_class": r[7]}
                         for r in sql(conn, "SELECT id, job_type, state, hostname, latest_heartbeat, start_date, end_date, "
                                            "executor_class FROM job ORDER BY id")]
        facts["encrypted"] = {
            "connection": [list(r) for r in sql(conn, "SELECT conn_id, is_encrypted, is_extra_encrypted FROM connection ORDER BY 1")],
            "variable": [list(r) for r in sql(conn, "SELECT key, is_encrypted FROM variable ORDER BY 1")],
            "trigger_kwargs_prefix": [r[0] for r in sql(conn, "SELECT left(kwargs, 6) FROM trigger ORDER BY id")],
            "dag_bundle_signed_url_template": [list(r) for r in sql(conn, "SELECT name, signed_url_template FROM dag_bundle ORDER BY 1")],
        }
        facts["log_events"] = {r[0]: r[1] for r in sql(conn, "SELECT event, COUNT(*) FROM log GROUP BY 1 ORDER BY 1")}
        facts["log_template"] = [list(r) for r in sql(conn, "SELECT id, filename FROM log_template ORDER BY id")]
        facts["dag_run_states"] = {f"{r[0]}/{r[1]}": r[2] for r in sql(conn, "SELECT state, run_type, COUNT(*) FROM dag_run GROUP BY 1, 2 ORDER BY 1, 2")}
        facts["task_instance_states"] = {str(r[0]): r[1] for r in sql(conn, "SELECT state, COUNT(*) FROM task_instance GROUP BY 1 ORDER BY 1")}
    import airflow  # noqa: F401
    from airflow.utils.state import DagRunState, TaskInstanceState
    facts["enum_dag_run_state"] = [s.value for s in DagRunState]
    facts["enum_task_instance_state"] = [s.value for s in TaskInstanceState]
    return facts


# ------------------------------------------------------------------------------------------------
# main
# ------------------------------------------------------------------------------------------------

def parser():
    p = argparse.ArgumentParser(prog="af.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(sp):
        sp.add_argument("--db-url", required=True, help="postgresql://USER:PW@HOST:PORT/DB")
        sp.add_argument("--fernet-key", required=True, help="the site's Fernet key ([core] fernet_key)")
        sp.add_argument("--home", help="AIRFLOW_HOME (default: a temp dir, removed at exit)")
        sp.add_argument("--verbose", action="store_true", help="Airflow logging at INFO (default WARNING)")
        return sp

    common(sub.add_parser("migrate", help="airflow db migrate"))
    sp = common(sub.add_parser("populate", help="create the tandem sample on a migrated DB"))
    sp.add_argument("--use-cli", action="store_true",
                    help="load DAGs and run them with the real `airflow dags reserialize` / `airflow dags test` "
                         "CLI (slower: ~10-20 s a call) instead of the same functions in-process")
    sp = common(sub.add_parser("read", help="print the state; --expect compares"))
    sp.add_argument("--expect", help="an earlier populate/read output to compare with")
    sp.add_argument("--ignore", action="append", metavar="KEY",
                    help="skip a section (dag_runs) or an entry (counts.job, variables.env_name); repeatable")
    sp.add_argument("--ignore-paused", action="store_true", help="do not compare dags.*.is_paused")
    sp.add_argument("--no-default-ignores", action="store_true", help=f"also compare {', '.join(DEFAULT_IGNORES)}")
    sp = common(sub.add_parser("trigger", help="airflow dags trigger DAG"))
    sp.add_argument("--dag", required=True)
    sp.add_argument("--run-id")
    sp.add_argument("--conf", help="JSON")
    for name in ("pause", "unpause"):
        sp = common(sub.add_parser(name, help=f"airflow dags {name} DAG"))
        sp.add_argument("--dag", required=True)
    sp = common(sub.add_parser("cli", help="airflow ARGS... in this environment"))
    sp.add_argument("args", nargs=argparse.REMAINDER, help="-- then the airflow arguments")
    common(sub.add_parser("facts", help="schema facts from the real DB"))
    return p


def on_sigterm(signum, frame):
    raise KeyboardInterrupt()


def main():
    global CMD
    args = parser().parse_args()
    CMD = args.cmd
    protect_stdout()
    # SIGTERM like Ctrl-C: unwinds, so a running airflow CLI child is stopped too (run_cli)
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        setup_env(args)
        handler = {
            "migrate": cmd_migrate, "populate": cmd_populate, "read": cmd_read, "trigger": cmd_trigger,
            "pause": lambda a: cmd_pause(a, True), "unpause": lambda a: cmd_pause(a, False),
            "cli": cmd_cli, "facts": cmd_facts,
        }[args.cmd]
        emit(handler(args))
    except Fail as e:
        print(f"af.py {CMD}: error: {e}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print(f"af.py {CMD}: error: interrupted", file=sys.stderr, flush=True)
        return 130
    except Exception as e:  # an unexpected failure: keep the traceback, still one clear last line
        import traceback
        traceback.print_exc()
        print(f"af.py {CMD}: error: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
