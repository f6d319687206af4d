#!/usr/bin/env python3
"""Real-client harness for Hive Metastore tests: PySpark (Hive 2.3.10 client) + DataNucleus SchemaTool.

Run with the venv python that scripts/hms-env.sh prepares ($SPARK_PY). Every subcommand prints JSON
on stdout (the `writer` prints one JSON object per line) and exits non-zero with a message on stderr
on failure. Spark/Java logging goes to stderr.

    create-schema  create the Hive 2.3 metastore schema in an EMPTY database + the VERSION row
    populate       create the "retail" sample through Spark; prints what `read` prints + timings
    read           list databases/tables/partitions/functions, count rows; --expect compares
    write-more     create a new database, table and partition (ids after a restore); then read
    writer         keep creating tables/partitions for --duration seconds, one progress line each

See tests/hms/README.md.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_VERSION = "2.3.0"
VERSION_COMMENT = "Hive release version 2.3.0 (schema created by tandem tests/hms/hms.py)"

ENGINES = {
    "mariadb": {
        "driver": "org.mariadb.jdbc.Driver",
        "jar_env": "HMS_JDBC_MARIADB",
        "jar_default": "/usr/share/java/mariadb-java-client.jar",
        "apt": "libmariadb-java",
    },
    "postgres": {
        "driver": "org.postgresql.Driver",
        "jar_env": "HMS_JDBC_POSTGRES",
        "jar_default": "/usr/share/java/postgresql.jar",
        "apt": "libpostgresql-jdbc-java",
    },
}


class Fail(Exception):
    """A failure with a message meant for the user (no traceback)."""


def log(msg):
    print(f"hms.py: {msg}", file=sys.stderr, flush=True)


def emit(obj):
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, sort_keys=True) + "\n")
    sys.stdout.flush()


# ------------------------------------------------------------------------------------------------
# Connection settings
# ------------------------------------------------------------------------------------------------

def jdbc_url(engine, url):
    """Normalises the JDBC URL: MariaDB needs useMysqlMetadata=true so DataNucleus sees "MySQL"."""
    if engine == "mariadb":
        if not (url.startswith("jdbc:mysql://") or url.startswith("jdbc:mariadb://")):
            raise Fail(f"--jdbc-url for mariadb must start with jdbc:mysql:// or jdbc:mariadb://, got {url!r}")
        if "usemysqlmetadata=" not in url.lower():
            url += ("&" if "?" in url else "?") + "useMysqlMetadata=true"
    else:
        if not url.startswith("jdbc:postgresql://"):
            raise Fail(f"--jdbc-url for postgres must start with jdbc:postgresql://, got {url!r}")
    return url


def jdbc_jar(args):
    e = ENGINES[args.engine]
    jar = args.jdbc_jar or os.environ.get(e["jar_env"]) or e["jar_default"]
    if not os.path.isfile(jar):
        raise Fail(f"JDBC driver jar {jar} not found (apt-get install {e['apt']}, or source scripts/hms-env.sh)")
    return jar


def spark_jars_dir():
    try:
        import pyspark
    except ImportError:
        raise Fail("pyspark is not importable: run hms.py with $SPARK_PY from scripts/hms-env.sh")
    d = os.path.join(os.path.dirname(pyspark.__file__), "jars")
    if not os.path.isdir(d):
        raise Fail(f"pyspark has no jars/ directory at {d}")
    return d


def find_jar(jars, prefix):
    """The single jar in Spark's jars/ whose name starts with prefix followed by a version."""
    pat = re.compile(re.escape(prefix) + r"-\d[^/]*\.jar$")
    hits = sorted(f for f in os.listdir(jars) if pat.match(f))
    if not hits:
        raise Fail(f"no {prefix}-<version>.jar in {jars}")
    return os.path.join(jars, hits[-1])


def java_bin():
    j = shutil.which("java")
    if not j:
        raise Fail("java not found on PATH (need Java 17+)")
    return j


def run_sql(args, url, statements, what):
    """Runs SQL statements through JdbcExec.java (single-file source, no build) and returns one
    parsed result per statement (a list of rows for queries, an update count otherwise)."""
    cmd = [java_bin(), "-cp", jdbc_jar(args), os.path.join(HERE, "JdbcExec.java"), url, args.user, args.password]
    p = subprocess.run(cmd, input="\n;;\n".join(statements).encode(), capture_output=True)
    if p.returncode != 0:
        raise Fail(f"{what}: {p.stderr.decode(errors='replace').strip()[-2000:]}")
    return [json.loads(line) for line in p.stdout.decode().splitlines() if line.strip()]


# ------------------------------------------------------------------------------------------------
# create-schema
# ------------------------------------------------------------------------------------------------

def cmd_create_schema(args):
    t0 = time.time()
    url = jdbc_url(args.engine, args.jdbc_url)
    jars = spark_jars_dir()
    timings = {}

    # 1. The database must be empty; on MariaDB it must be latin1/latin1_bin (Hive's MySQL scripts:
    #    with utf8mb4, PARAM_VALUE varchar(32672) is too long and creation fails).
    if args.engine == "mariadb":
        count, dbinfo = run_sql(args, url, [
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()",
            "SELECT DATABASE(), @@character_set_database, @@collation_database",
        ], "checking the target database")
        db, cs, coll = dbinfo[0]
        if db is None:
            raise Fail(f"the JDBC URL {url} names no database")
    else:
        count, dbinfo = run_sql(args, url, [
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()",
            "SELECT current_database(), pg_encoding_to_char(encoding), current_schema() FROM pg_database WHERE datname = current_database()",
        ], "checking the target database")
        db, cs, coll = dbinfo[0]
    n = int(count[0][0])
    if n:
        raise Fail(f"database {db} is not empty ({n} tables): create-schema needs an empty database")
    if args.engine == "mariadb" and (cs, coll) != ("latin1", "latin1_bin"):
        log(f"database {db} is {cs}/{coll}: switching it to latin1/latin1_bin as Hive's MySQL scripts do")
        run_sql(args, url, ["ALTER DATABASE CHARACTER SET latin1 COLLATE latin1_bin"], "ALTER DATABASE")
    timings["checks"] = round(time.time() - t0, 2)

    # 2. DataNucleus SchemaTool with package.jdo from the hive-metastore jar.
    t1 = time.time()
    hms_jar = find_jar(jars, "hive-metastore")
    cp = [find_jar(jars, p) for p in ("datanucleus-core", "datanucleus-api-jdo", "datanucleus-rdbms", "javax.jdo")]
    cp += [hms_jar, jdbc_jar(args)]
    with tempfile.TemporaryDirectory(prefix="hms-schematool-") as tmp:
        with zipfile.ZipFile(hms_jar) as z:
            z.extract("package.jdo", tmp)
        props = os.path.join(tmp, "datanucleus.properties")
        with open(props, "w") as f:
            for k, v in [
                ("javax.jdo.option.ConnectionURL", url),
                ("javax.jdo.option.ConnectionDriverName", ENGINES[args.engine]["driver"]),
                ("javax.jdo.option.ConnectionUserName", args.user),
                ("javax.jdo.option.ConnectionPassword", args.password),
                # as Hive sets them (HiveConf defaults for the metastore)
                ("datanucleus.identifierFactory", "datanucleus1"),
                ("datanucleus.rdbms.useLegacyNativeValueStrategy", "true"),
                ("datanucleus.storeManagerType", "rdbms"),
            ]:
                f.write(f"{k}={escape_prop(v)}\n")
        cmd = [java_bin(), "-cp", os.pathsep.join(cp), "org.datanucleus.store.schema.SchemaTool",
               "-create", "-api", "JDO", "-props", props, os.path.join(tmp, "package.jdo")]
        p = subprocess.run(cmd, cwd=tmp, capture_output=True)
    out = (p.stdout + p.stderr).decode(errors="replace")
    if args.verbose:
        sys.stderr.write(out)
    if p.returncode != 0 or "SchemaTool completed successfully" not in out:
        errs = [l for l in out.splitlines() if ("Exception" in l or "ERROR" in l or "SEVERE" in l)]
        raise Fail("DataNucleus SchemaTool failed (rc=%d):\n%s" % (p.returncode, "\n".join(errs[:20]) or out[-3000:]))
    timings["schematool"] = round(time.time() - t1, 2)

    # 3. The VERSION row (Hive's scripts insert it; SchemaTool does not).
    t2 = time.time()
    if args.engine == "mariadb":
        ins = ("INSERT INTO VERSION (VER_ID, SCHEMA_VERSION, VERSION_COMMENT) VALUES (1, '%s', '%s')"
               % (SCHEMA_VERSION, VERSION_COMMENT))
        cnt = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()"
        tables = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY 1"
    else:
        ins = ('INSERT INTO "VERSION" ("VER_ID", "SCHEMA_VERSION", "VERSION_COMMENT") VALUES (1, \'%s\', \'%s\')'
               % (SCHEMA_VERSION, VERSION_COMMENT))
        cnt = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        tables = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1"
    _, n, names = run_sql(args, url, [ins, cnt, tables], "inserting the VERSION row")
    timings["version_row"] = round(time.time() - t2, 2)
    timings["total"] = round(time.time() - t0, 2)
    emit({
        "engine": args.engine,
        "jdbc_url": url,
        "database": db,
        "schema_version": SCHEMA_VERSION,
        "table_count": int(n[0][0]),
        "tables": [r[0] for r in names],
        "seconds": timings,
    })


def escape_prop(v):
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace(":", "\\:").replace("=", "\\=")


# ------------------------------------------------------------------------------------------------
# Spark
# ------------------------------------------------------------------------------------------------

def spark_session(args, app):
    """A local SparkSession whose embedded Hive 2.3 metastore client talks to the given database."""
    url = jdbc_url(args.engine, args.jdbc_url)
    jar = jdbc_jar(args)
    spark_jars_dir()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    log4j = os.environ.get("HMS_SPARK_LOG4J") or os.path.join(HERE, "log4j2.properties")
    warehouse = os.path.abspath(args.warehouse)
    os.makedirs(warehouse, exist_ok=True)
    conf = {
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": warehouse,
        "spark.driver.extraClassPath": jar,
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # short-lived JVM on 2 cores: C1 only and the serial GC roughly halve start + first queries
        "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC "
                                         f"-Dlog4j2.configurationFile=file:{log4j}",
        "spark.sql.shuffle.partitions": "1",
        "spark.default.parallelism": "1",
        # the JDBC driver must be visible to the (isolated) Hive client classloader
        "spark.sql.hive.metastore.sharedPrefixes": "com.mysql.jdbc,org.postgresql,com.microsoft.sqlserver,oracle.jdbc,org.mariadb.jdbc",
        "spark.hadoop.javax.jdo.option.ConnectionURL": url,
        "spark.hadoop.javax.jdo.option.ConnectionDriverName": ENGINES[args.engine]["driver"],
        "spark.hadoop.javax.jdo.option.ConnectionUserName": args.user,
        "spark.hadoop.javax.jdo.option.ConnectionPassword": args.password,
        "spark.hadoop.datanucleus.schema.autoCreateAll": "false",
        "spark.hadoop.hive.metastore.schema.verification": "false",
        # fail fast instead of the default 10 x 2 s retries of the embedded metastore client
        "spark.hadoop.hive.metastore.failure.retries": "1",
        "spark.hadoop.hive.metastore.client.connect.retry.delay": "1",
        "spark.hadoop.hive.hmshandler.retry.attempts": "1",
        "spark.hadoop.hive.hmshandler.retry.interval": "100ms",
        # let Hive-format tables take partition values with any characters
        "spark.hadoop.hive.exec.dynamic.partition.mode": "nonstrict",
    }
    for kv in args.conf or []:
        k, _, v = kv.partition("=")
        conf[k] = v
    from pyspark.sql import SparkSession

    b = SparkSession.builder.master("local[1]").appName(app)
    for k, v in conf.items():
        b = b.config(k, v)
    # The JVM inherits our stdout: point it at stderr while it starts so stdout stays pure JSON.
    saved = os.dup(1)
    sys.stdout.flush()
    os.dup2(2, 1)
    try:
        t = time.time()
        spark = b.enableHiveSupport().getOrCreate()
        # touch the metastore now so connection problems fail here, with a clear message
        spark.sql("SHOW DATABASES").collect()
        started = round(time.time() - t, 2)
    except Exception as e:  # noqa: BLE001
        raise Fail(f"cannot start Spark on metastore {url}: {short_error(e)}")
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    return spark, started


def short_error(e):
    """The first lines of an exception's message plus its Java root cause (if any)."""
    s = (getattr(e, "desc", None) or str(e)).strip()
    lines = [l for l in s.splitlines() if l.strip() and not l.lstrip().startswith("at ")]
    msg = "\n".join(lines[:8])[:2000]
    try:
        j = getattr(e, "java_exception", None) or getattr(e, "_origin", None)
        seen = 0
        while j is not None and j.getCause() is not None and seen < 50:
            j = j.getCause()
            seen += 1
        if seen:
            root = f"{j.getClass().getName()}: {j.getMessage()}"
            if root not in msg:
                msg += f"\n  root cause: {root}"
    except Exception:  # noqa: BLE001
        pass
    return msg


def q_ident(name):
    return "`" + name.replace("`", "``") + "`"


def sql_str(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def describe(spark, fq):
    """(details, partition columns) of a table from DESCRIBE TABLE EXTENDED: type, provider,
    location, statistics (TABLE_PARAMS), view text."""
    info, part_cols, section = {}, [], None
    for r in spark.sql(f"DESCRIBE TABLE EXTENDED {fq}").collect():
        key = (r[0] or "").strip()
        if key in ("# Partition Information", "# Detailed Table Information"):
            section = key
            continue
        if key.startswith("#"):
            continue
        if section == "# Partition Information" and key and not key.startswith("#"):
            part_cols.append(key)
        if section == "# Detailed Table Information" and key in ("Type", "Provider", "Location", "Statistics", "View Text"):
            info[key.lower().replace(" ", "_")] = (r[1] or "").strip()
    return info, part_cols


def read_state(spark, with_details=True):
    """What `read` prints: databases, tables (row counts), partitions, functions, details."""
    t = time.time()
    state = {"databases": [], "tables": {}, "partitions": {}, "partition_specs": {}, "functions": {},
             "details": {}, "errors": {}}
    dbs = sorted(r[0] for r in spark.sql("SHOW DATABASES").collect())
    state["databases"] = dbs
    for db in dbs:
        for tr in spark.sql(f"SHOW TABLES IN {q_ident(db)}").collect():
            if tr["isTemporary"]:
                continue
            name = f"{db}.{tr['tableName']}"
            fq = f"{q_ident(db)}.{q_ident(tr['tableName'])}"
            try:
                state["tables"][name] = spark.sql(f"SELECT COUNT(*) FROM {fq}").collect()[0][0]
            except Exception as e:  # noqa: BLE001
                state["errors"][name] = short_error(e)
                continue
            try:
                info, part_cols = describe(spark, fq)
                if with_details:
                    state["details"][name] = info
                if part_cols:
                    specs = sorted(r[0] for r in spark.sql(f"SHOW PARTITIONS {fq}").collect())
                    state["partitions"][name] = len(specs)
                    state["partition_specs"][name] = specs
            except Exception as e:  # noqa: BLE001
                state["errors"][name + " (describe/partitions)"] = short_error(e)
        try:
            funcs = spark.sql(f"SHOW USER FUNCTIONS FROM {q_ident(db)}").collect()
        except Exception as e:  # noqa: BLE001
            state["errors"][db + " (functions)"] = short_error(e)
            funcs = []
        for fr in funcs:
            fname = fr[0]
            if "." not in fname:
                continue
            if fname.startswith("spark_catalog."):
                fname = fname[len("spark_catalog."):]
            if not fname.startswith(db + "."):
                continue
            try:
                # every sample function is a string -> string UDF; calling it proves the class (and
                # any USING JAR resource) resolves on this site
                v = spark.sql(f"SELECT {fname}('abc ção')").collect()[0][0]
                state["functions"][fname] = v
            except Exception as e:  # noqa: BLE001
                state["functions"][fname] = "ERROR: " + short_error(e).splitlines()[0][:300]
    if not state["errors"]:
        del state["errors"]
    state.setdefault("seconds", {})["read"] = round(time.time() - t, 2)
    return state


def cmd_read(args):
    t0 = time.time()
    spark, started = spark_session(args, "hms-read")
    try:
        state = read_state(spark, with_details=not args.no_details)
    finally:
        spark.stop()
    state["seconds"]["spark_start"] = started
    state["seconds"]["total"] = round(time.time() - t0, 2)
    problems = []
    if args.expect:
        problems = compare(load_expect(args.expect), state, args.expect_map or [], args.ignore or [])
        state["expect"] = {"file": args.expect, "ok": not problems, "differences": problems}
    emit(state)
    if problems:
        raise Fail("read differs from %s:\n  %s" % (args.expect, "\n  ".join(problems)))
    if state.get("errors"):
        raise Fail("errors while reading: " + json.dumps(state["errors"], ensure_ascii=False))


def load_expect(path):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise Fail(f"cannot read --expect file: {e}")
    # accept the output of populate/read as is (a JSON object, possibly one of several lines)
    for line in reversed([l for l in text.splitlines() if l.strip()] or [text]):
        try:
            obj = json.loads(line)
            if isinstance(obj, dict):
                return obj
        except ValueError:
            pass
    try:
        return json.loads(text)
    except ValueError as e:
        raise Fail(f"--expect file {path} is not JSON: {e}")


COMPARED = ("databases", "tables", "partitions", "partition_specs", "functions", "details")


def compare(expect, got, maps, ignore):
    """Differences between an expected and an actual read, for the keys present in `expect`."""
    pairs = []
    for m in maps:
        if "=" not in m:
            raise Fail(f"--expect-map needs FROM=TO, got {m!r}")
        pairs.append(m.split("=", 1))

    def remap(v):
        if isinstance(v, str):
            for a, b in pairs:
                if v.startswith(a):
                    return b + v[len(a):]
        return v

    problems = []
    for key in COMPARED:
        if key not in expect or key in ignore:
            continue
        e, g = expect[key], got.get(key)
        if key == "databases":
            if sorted(e) != sorted(g or []):
                problems.append(f"databases: expected {sorted(e)}, got {sorted(g or [])}")
            continue
        g = g or {}
        for name in sorted(set(e) | set(g)):
            if name not in g:
                problems.append(f"{key}: {name} missing (expected {json.dumps(e[name], ensure_ascii=False)})")
            elif name not in e:
                problems.append(f"{key}: {name} unexpected ({json.dumps(g[name], ensure_ascii=False)})")
            else:
                ev = e[name]
                if key == "details":
                    ev = {k: remap(v) if k == "location" else v for k, v in ev.items()}
                if ev != g[name]:
                    problems.append(f"{key}: {name}: expected {json.dumps(ev, ensure_ascii=False, sort_keys=True)}, "
                                    f"got {json.dumps(g[name], ensure_ascii=False, sort_keys=True)}")
    return problems


# ------------------------------------------------------------------------------------------------
# populate
# ------------------------------------------------------------------------------------------------

def make_udf_jar(path):
    """A tiny jar for CREATE FUNCTION ... USING JAR (so FUNC_RU.RESOURCE_URI holds a location)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nCreated-By: tandem tests/hms\n\n")
        z.writestr("tandem/README.txt", "resource jar of the retail sample functions\n")


def populate_statements(wh):
    ext = os.path.join(wh, "external")
    udf_jar = os.path.join(wh, "udf", "retail-udfs.jar")
    make_udf_jar(udf_jar)
    os.makedirs(os.path.join(ext, "returns"), exist_ok=True)
    return [
        "CREATE DATABASE retail COMMENT 'retail sample' WITH DBPROPERTIES ('owner_team'='retail')",
        f"CREATE DATABASE other LOCATION {sql_str(os.path.join(ext, 'other.db'))}",

        # managed datasource table (path in SERDE_PARAMS), non-ASCII data + table property
        "CREATE TABLE retail.customers (id INT, name STRING, city STRING) USING parquet "
        "TBLPROPERTIES ('note'='clientes – ação')",
        "INSERT INTO retail.customers VALUES (1,'Ana','São Paulo'),(2,'Zoë','Zürich'),"
        "(3,'Bob','New York'),(4,'José','São Paulo'),(5,'Chloé','Paris')",

        # managed Hive-format parquet table, partitioned, partition value with a space
        "CREATE TABLE retail.orders (order_id INT, customer_id INT, amount DECIMAL(10,2)) "
        "PARTITIONED BY (order_status STRING) STORED AS PARQUET",
        "INSERT INTO retail.orders PARTITION (order_status='COMPLETE') VALUES (1,1,10.50),(2,2,20.00),(3,4,7.25)",
        "INSERT INTO retail.orders PARTITION (order_status='ON HOLD') VALUES (4,3,99.99)",
        "INSERT INTO retail.orders PARTITION (order_status='PENDING') VALUES (5,5,1.00),(6,1,2.00)",

        # managed Hive-format text table
        "CREATE TABLE retail.order_items (order_id INT, sku STRING, qty INT) "
        "ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' STORED AS TEXTFILE",
        "INSERT INTO retail.order_items VALUES (1,'A-1',2),(1,'B-2',1),(2,'A-1',5),(3,'C-3',1)",

        # external Hive-format text table under DIR/external
        "CREATE EXTERNAL TABLE retail.stores (store_id INT, city STRING) "
        "ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\t' STORED AS TEXTFILE "
        f"LOCATION {sql_str(os.path.join(ext, 'stores'))}",
        "INSERT INTO retail.stores VALUES (1,'São Paulo'),(2,'Zürich')",

        # external Hive-format parquet table, partition values with '=', '/', spaces, non-ASCII
        "CREATE EXTERNAL TABLE retail.tags (tag_id INT, label STRING) PARTITIONED BY (k STRING) "
        f"STORED AS PARQUET LOCATION {sql_str(os.path.join(ext, 'tags'))}",
        "INSERT INTO retail.tags PARTITION (k='a=b/c') VALUES (1,'slash and equals')",
        "INSERT INTO retail.tags PARTITION (k='x y') VALUES (2,'space'),(3,'space 2')",
        "INSERT INTO retail.tags PARTITION (k='Köln') VALUES (4,'umlaut')",

        # managed datasource table partitioned by a non-ASCII value (partitions in the metastore)
        "CREATE TABLE retail.sales_by_city (sale_id INT, amount DOUBLE, city STRING) USING parquet "
        "PARTITIONED BY (city)",
        "INSERT INTO retail.sales_by_city PARTITION (city='São Paulo') VALUES (1, 3.5),(2, 4.5)",
        "INSERT INTO retail.sales_by_city PARTITION (city='Zürich') VALUES (3, 1.0)",
        "INSERT INTO retail.sales_by_city PARTITION (city='New York') VALUES (4, 2.0),(5, 2.5),(6, 3.0)",

        # external datasource table: the path lives in SERDE_PARAMS 'path' (and SDS.LOCATION)
        f"CREATE TABLE retail.returns (order_id INT, reason STRING) USING parquet "
        f"LOCATION {sql_str(os.path.join(ext, 'returns'))}",
        "INSERT INTO retail.returns VALUES (2,'damaged'),(4,'late')",

        # a view
        "CREATE VIEW retail.completed_orders AS SELECT order_id, customer_id, amount FROM retail.orders "
        "WHERE order_status = 'COMPLETE'",

        # permanent functions: one plain (FUNCS), one with a jar resource (FUNC_RU.RESOURCE_URI)
        "CREATE FUNCTION retail.to_upper AS 'org.apache.hadoop.hive.ql.udf.generic.GenericUDFUpper'",
        "CREATE FUNCTION retail.to_lower AS 'org.apache.hadoop.hive.ql.udf.generic.GenericUDFLower' "
        f"USING JAR {sql_str(udf_jar)}",

        # the other database: a managed text table and a datasource table
        "CREATE TABLE other.notes (id INT, body STRING) STORED AS TEXTFILE",
        "INSERT INTO other.notes VALUES (1,'first'),(2,'second')",
        "CREATE TABLE other.metrics (name STRING, value DOUBLE) USING parquet",
        "INSERT INTO other.metrics VALUES ('cpu',0.5),('mem',0.75),('disk',0.1)",

        # statistics: table, partition and column stats (TABLE_PARAMS / PARTITION_PARAMS)
        "ANALYZE TABLE retail.customers COMPUTE STATISTICS FOR COLUMNS id, name, city",
        "ANALYZE TABLE retail.orders COMPUTE STATISTICS",
        "ANALYZE TABLE retail.orders PARTITION (order_status) COMPUTE STATISTICS",
        "ANALYZE TABLE retail.order_items COMPUTE STATISTICS FOR COLUMNS order_id, qty",
        "ANALYZE TABLE other.metrics COMPUTE STATISTICS",
    ]


def run_statements(spark, statements):
    for s in statements:
        try:
            spark.sql(s).collect()
        except Exception as e:  # noqa: BLE001
            raise Fail(f"statement failed: {s}\n{short_error(e)}")


def cmd_populate(args):
    t0 = time.time()
    spark, started = spark_session(args, "hms-populate")
    try:
        existing = {r[0] for r in spark.sql("SHOW DATABASES").collect()}
        if "retail" in existing or "other" in existing:
            raise Fail("the metastore already has database retail/other: populate needs a fresh metastore")
        t = time.time()
        run_statements(spark, populate_statements(os.path.abspath(args.warehouse)))
        populated = round(time.time() - t, 2)
        state = read_state(spark)
    finally:
        spark.stop()
    state["seconds"].update({"spark_start": started, "populate": populated, "total": round(time.time() - t0, 2)})
    emit(state)
    if state.get("errors"):
        raise Fail("errors while reading back: " + json.dumps(state["errors"], ensure_ascii=False))


# ------------------------------------------------------------------------------------------------
# write-more
# ------------------------------------------------------------------------------------------------

def cmd_write_more(args):
    t0 = time.time()
    tag = args.tag
    if not re.fullmatch(r"[a-z0-9_]+", tag):
        raise Fail("--tag must match [a-z0-9_]+")
    spark, started = spark_session(args, "hms-write-more")
    try:
        t = time.time()
        db = f"more_{tag}"
        part = f"RESTORED {tag}"
        created = {
            "database": db,
            "tables": [f"{db}.items", f"retail.after_{tag}"],
            "partitions": {"retail.orders": f"order_status={part}"},
        }
        run_statements(spark, [
            f"CREATE DATABASE {db}",
            f"CREATE TABLE {db}.items (id INT, label STRING) PARTITIONED BY (p STRING) STORED AS PARQUET",
            f"INSERT INTO {db}.items PARTITION (p='one') VALUES (1,'x'),(2,'y')",
            f"INSERT INTO {db}.items PARTITION (p='two') VALUES (3,'z')",
            f"CREATE TABLE retail.after_{tag} (id INT) USING parquet",
            f"INSERT INTO retail.after_{tag} VALUES (1),(2),(3),(4)",
            f"INSERT INTO retail.orders PARTITION (order_status={sql_str(part)}) VALUES (100, 1, 1.00)",
        ])
        wrote = round(time.time() - t, 2)
        state = {} if args.no_read else read_state(spark)
    finally:
        spark.stop()
    state["created"] = created
    state.setdefault("seconds", {}).update({"spark_start": started, "write": wrote, "total": round(time.time() - t0, 2)})
    emit(state)
    if state.get("errors"):
        raise Fail("errors while reading back: " + json.dumps(state["errors"], ensure_ascii=False))


# ------------------------------------------------------------------------------------------------
# writer
# ------------------------------------------------------------------------------------------------

def cmd_writer(args):
    stop = {"flag": False}

    def on_signal(signum, _frame):
        stop["flag"] = True
        log(f"writer: signal {signum}, stopping after the current step")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    spark, started = spark_session(args, "hms-writer")
    db = args.database
    done_tables, done_parts, errors = [], [], []
    try:
        run_statements(spark, [
            f"CREATE DATABASE IF NOT EXISTS {db}",
            f"CREATE TABLE IF NOT EXISTS {db}.log (i INT, at DOUBLE) PARTITIONED BY (batch INT) STORED AS PARQUET",
        ])
        existing = [r["tableName"] for r in spark.sql(f"SHOW TABLES IN {db}").collect()]
        nums = [int(m.group(1)) for t in existing for m in [re.fullmatch(r"t_(\d+)", t)] if m]
        i = max(nums, default=0)
        emit({"writer": "started", "database": db, "start": i + 1, "spark_start": started, "at": time.time()})
        t0 = time.time()
        while not stop["flag"] and time.time() - t0 < args.duration:
            i += 1
            table = f"{db}.t_{i:05d}"
            try:
                stmts = [f"CREATE TABLE {table} (id INT, at DOUBLE) USING parquet"]
                if not args.metadata_only:
                    stmts.append(f"INSERT INTO {table} VALUES ({i}, {time.time()})")
                # metadata only: a PARTITIONS/SDS/SERDES row (+ids) without a Spark job
                stmts.append(f"ALTER TABLE {db}.log ADD PARTITION (batch={i})")
                run_statements(spark, stmts)
            except Fail as e:
                errors.append(str(e).splitlines()[0])
                emit({"progress": i, "error": str(e), "at": time.time()})
                if len(errors) >= args.max_errors:
                    break
                time.sleep(args.interval)
                continue
            done_tables.append(table)
            done_parts.append(f"{db}.log/batch={i}")
            emit({"progress": i, "table": table, "partition": f"batch={i}", "at": time.time(),
                  "elapsed": round(time.time() - t0, 2)})
            if args.interval:
                time.sleep(args.interval)
    finally:
        spark.stop()
    emit({"writer": "done", "database": db, "tables": done_tables, "partitions": len(done_parts),
          "iterations": len(done_tables), "errors": errors})
    if errors and len(errors) >= args.max_errors:
        raise Fail(f"writer stopped after {len(errors)} errors: {errors[-1]}")


# ------------------------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(prog="hms.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p, spark=True):
        p.add_argument("--engine", required=True, choices=sorted(ENGINES))
        p.add_argument("--jdbc-url", required=True, help="jdbc:mysql://H:P/DB or jdbc:postgresql://H:P/DB")
        p.add_argument("--user", default=os.environ.get("HMS_JDBC_USER", "tandem"))
        p.add_argument("--password", default=os.environ.get("HMS_JDBC_PASSWORD", "tandem-pw"))
        p.add_argument("--jdbc-jar", help="JDBC driver jar (default: $HMS_JDBC_MARIADB / $HMS_JDBC_POSTGRES / Debian's)")
        if spark:
            p.add_argument("--warehouse", required=True, help="spark.sql.warehouse.dir (local directory)")
            p.add_argument("--conf", action="append", metavar="K=V", help="extra Spark config (repeatable)")

    p = sub.add_parser("create-schema", help="create the Hive 2.3 schema in an empty database")
    common(p, spark=False)
    p.add_argument("--verbose", action="store_true", help="show SchemaTool's log on stderr")
    p.set_defaults(fn=cmd_create_schema)

    p = sub.add_parser("populate", help="create the retail sample through Spark, then read it")
    common(p)
    p.set_defaults(fn=cmd_populate)

    p = sub.add_parser("read", help="list and count everything; --expect compares")
    common(p)
    p.add_argument("--expect", help="JSON from an earlier populate/read to compare with")
    p.add_argument("--expect-map", action="append", metavar="FROM=TO",
                   help="rewrite expected locations (prefix) before comparing (repeatable)")
    p.add_argument("--ignore", action="append", choices=COMPARED, help="do not compare this key (repeatable)")
    p.add_argument("--no-details", action="store_true", help="skip DESCRIBE (type/provider/location/statistics)")
    p.set_defaults(fn=cmd_read)

    p = sub.add_parser("write-more", help="new database, table and partition; then read")
    common(p)
    p.add_argument("--tag", default="1", help="suffix of the names created ([a-z0-9_]+)")
    p.add_argument("--no-read", action="store_true")
    p.set_defaults(fn=cmd_write_more)

    p = sub.add_parser("writer", help="keep creating tables/partitions for --duration seconds")
    common(p)
    p.add_argument("--duration", type=float, required=True, help="seconds to keep writing")
    p.add_argument("--interval", type=float, default=0.0, help="pause between steps (seconds)")
    p.add_argument("--database", default="writer")
    p.add_argument("--max-errors", type=int, default=3)
    p.add_argument("--metadata-only", action="store_true", help="create tables without writing a row into them")
    p.set_defaults(fn=cmd_writer)

    args = ap.parse_args(argv)
    try:
        args.fn(args)
    except Fail as e:
        print(f"hms.py {args.cmd}: error: {e}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print(f"hms.py {args.cmd}: interrupted", file=sys.stderr, flush=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
