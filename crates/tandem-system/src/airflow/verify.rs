//! What `tandem verify` compares in an Airflow database: DAGs (with their tags), DAG runs and
//! their states, task instances, variables, connections and pools. Secrets are compared
//! decrypted when verify has both sites' keys. Left out: pause flags (a standby or a fenced site
//! has them changed on purpose), parse bookkeeping (`last_parsed_time`…), ids of jobs and
//! versions, the audit `log` (every CLI call on either copy adds to it), tandem's own table.

use crate::verify::{Field, Join, KeyPart, Loc, Norm, View};

const fn f(name: &'static str, alias: &'static str, column: &'static str, norm: Norm) -> Field {
    Field::Col { name, alias, column, norm, loc: false }
}

const fn key(alias: &'static str, column: &'static str) -> KeyPart {
    KeyPart { alias, column, default: None }
}

const fn from(table: &'static str, alias: &'static str) -> Join {
    Join { table, alias, on: &[], left: false }
}

use Norm::{Bool, Float, Json, Secret, Text, Timestamp};

pub(super) const VIEWS: &[View] = &[
    View {
        kind: "dags",
        from: &[from("dag", "d")],
        key: &[key("d", "dag_id")],
        fields: &[
            f("stale", "d", "is_stale", Bool),
            f("active", "d", "is_active", Bool),
            f("file", "d", "fileloc", Text),
            f("relative file", "d", "relative_fileloc", Text),
            f("bundle", "d", "bundle_name", Text),
            f("owners", "d", "owners", Text),
            f("description", "d", "description", Text),
            f("schedule", "d", "timetable_summary", Text),
            f("schedule interval", "d", "schedule_interval", Text),
            f("max active tasks", "d", "max_active_tasks", Text),
            f("max active runs", "d", "max_active_runs", Text),
            f("max consecutive failed runs", "d", "max_consecutive_failed_dag_runs", Text),
            f("next run", "d", "next_dagrun", Timestamp),
            f("next run created after", "d", "next_dagrun_create_after", Timestamp),
            Field::Agg {
                name: "tags",
                table: "dag_tag",
                on: ("dag_id", "d", "dag_id"),
                join: None,
                columns: &[("c", "name", Text)],
                loc: Loc::No,
                pairs: false,
            },
        ],
        label: |k| format!("dag {}", k.join(".")),
        subkind: None,
    },
    View {
        kind: "dag runs",
        from: &[from("dag_run", "r")],
        key: &[key("r", "dag_id"), key("r", "run_id")],
        fields: &[
            f("state", "r", "state", Text),
            f("run type", "r", "run_type", Text),
            f("logical date", "r", "logical_date", Timestamp),
            f("execution date", "r", "execution_date", Timestamp),
            f("queued at", "r", "queued_at", Timestamp),
            f("start date", "r", "start_date", Timestamp),
            f("end date", "r", "end_date", Timestamp),
            f("data interval start", "r", "data_interval_start", Timestamp),
            f("data interval end", "r", "data_interval_end", Timestamp),
            f("run after", "r", "run_after", Timestamp),
            f("conf", "r", "conf", Json),
            f("triggered by", "r", "triggered_by", Text),
            f("clear number", "r", "clear_number", Text),
        ],
        label: |k| format!("dag {} run {}", k.first().map(String::as_str).unwrap_or(""), k.get(1).map(String::as_str).unwrap_or("")),
        subkind: None,
    },
    View {
        kind: "task instances",
        from: &[from("task_instance", "t")],
        key: &[key("t", "dag_id"), key("t", "run_id"), key("t", "task_id"), key("t", "map_index")],
        fields: &[
            f("state", "t", "state", Text),
            f("try number", "t", "try_number", Text),
            f("max tries", "t", "max_tries", Text),
            f("start date", "t", "start_date", Timestamp),
            f("end date", "t", "end_date", Timestamp),
            f("duration", "t", "duration", Float),
            f("operator", "t", "operator", Text),
            f("pool", "t", "pool", Text),
            f("queue", "t", "queue", Text),
            f("priority weight", "t", "priority_weight", Text),
            f("hostname", "t", "hostname", Text),
        ],
        label: |k| match k {
            [dag, run, task, map] if map == "-1" => format!("task {dag}.{task} of run {run}"),
            [dag, run, task, map] => format!("task {dag}.{task}[{map}] of run {run}"),
            _ => k.join(" "),
        },
        subkind: None,
    },
    View {
        kind: "variables",
        from: &[from("variable", "v")],
        key: &[key("v", "key")],
        fields: &[f("value", "v", "val", Secret), f("description", "v", "description", Text)],
        label: |k| format!("variable {}", k.join(".")),
        subkind: None,
    },
    View {
        kind: "connections",
        from: &[from("connection", "c")],
        key: &[key("c", "conn_id")],
        fields: &[
            f("type", "c", "conn_type", Text),
            f("description", "c", "description", Text),
            f("host", "c", "host", Text),
            f("schema", "c", "schema", Text),
            f("login", "c", "login", Text),
            f("password", "c", "password", Secret),
            f("port", "c", "port", Text),
            f("extra", "c", "extra", Secret),
        ],
        label: |k| format!("connection {}", k.join(".")),
        subkind: None,
    },
    View {
        kind: "pools",
        from: &[from("slot_pool", "p")],
        key: &[key("p", "pool")],
        fields: &[f("slots", "p", "slots", Text), f("description", "p", "description", Text), f("include deferred", "p", "include_deferred", Bool)],
        label: |k| format!("pool {}", k.join(".")),
        subkind: None,
    },
];
