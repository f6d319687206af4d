//! What `tandem verify` compares in a Hive Metastore: catalogs, databases, tables and views,
//! partitions, functions, roles and global privileges, each with its storage descriptor, serde,
//! parameters, columns, privileges and column statistics — never surrogate ids, so two metastores
//! with other ids but the same content are equal.
//!
//! Left out: partition column lists (a partition shares its table's columns unless schema
//! evolution gave it its own), `PARTITION_KEY_VALS` (implied by the partition name), constraints,
//! statistics sketches (`BIT_VECTOR`), the ACID and notification tables (state of the running
//! service, not of the catalog).

use crate::verify::{Field, Join, KeyPart, Loc, Norm, View};

const fn j(table: &'static str, alias: &'static str, on: &'static [(&'static str, &'static str, &'static str)], left: bool) -> Join {
    Join { table, alias, on, left }
}

const fn col(name: &'static str, alias: &'static str, column: &'static str) -> Field {
    Field::Col { name, alias, column, norm: Norm::Text, loc: false }
}

const fn bool_col(name: &'static str, alias: &'static str, column: &'static str) -> Field {
    Field::Col { name, alias, column, norm: Norm::Bool, loc: false }
}

const fn loc_col(name: &'static str, alias: &'static str, column: &'static str) -> Field {
    Field::Col { name, alias, column, norm: Norm::Text, loc: true }
}

/// A `(key, value)` parameter table of the object whose id is `parent.id`.
const fn params(name: &'static str, table: &'static str, fk: &'static str, parent: &'static str, id: &'static str, loc: Loc) -> Field {
    Field::Agg { name, table, on: (fk, parent, id), join: None, columns: &[("c", "PARAM_KEY", Norm::Text), ("c", "PARAM_VALUE", Norm::Text)], loc, pairs: true }
}

const fn list(
    name: &'static str,
    table: &'static str,
    on: (&'static str, &'static str, &'static str),
    columns: &'static [(&'static str, &'static str, Norm)],
) -> Field {
    Field::Agg { name, table, on, join: None, columns, loc: Loc::No, pairs: false }
}

const T: Norm = Norm::Text;

const STATS: &[(&str, &str, Norm)] = &[
    ("c", "COLUMN_NAME", T),
    ("c", "ENGINE", T),
    ("c", "COLUMN_TYPE", T),
    ("c", "LONG_LOW_VALUE", T),
    ("c", "LONG_HIGH_VALUE", T),
    ("c", "DOUBLE_LOW_VALUE", Norm::Float),
    ("c", "DOUBLE_HIGH_VALUE", Norm::Float),
    ("c", "BIG_DECIMAL_LOW_VALUE", T),
    ("c", "BIG_DECIMAL_HIGH_VALUE", T),
    ("c", "NUM_NULLS", T),
    ("c", "NUM_DISTINCTS", T),
    ("c", "AVG_COL_LEN", Norm::Float),
    ("c", "MAX_COL_LEN", T),
    ("c", "NUM_TRUES", T),
    ("c", "NUM_FALSES", T),
    ("c", "LAST_ANALYZED", T),
];

/// Storage descriptor and serde of the object whose `SDS` row is aliased `s` (serde `se`).
macro_rules! storage {
    () => {
        [
            loc_col("location", "s", "LOCATION"),
            col("input format", "s", "INPUT_FORMAT"),
            col("output format", "s", "OUTPUT_FORMAT"),
            bool_col("compressed", "s", "IS_COMPRESSED"),
            bool_col("stored as subdirectories", "s", "IS_STOREDASSUBDIRECTORIES"),
            col("buckets", "s", "NUM_BUCKETS"),
            col("serde name", "se", "NAME"),
            col("serde library", "se", "SLIB"),
            col("serde description", "se", "DESCRIPTION"),
            col("serializer class", "se", "SERIALIZER_CLASS"),
            col("deserializer class", "se", "DESERIALIZER_CLASS"),
            col("serde type", "se", "SERDE_TYPE"),
            params("serde param", "SERDE_PARAMS", "SERDE_ID", "se", "SERDE_ID", Loc::Keyed { key: 0, value: 1, keys: &["path", "avro.schema.url"] }),
            params("storage param", "SD_PARAMS", "SD_ID", "s", "SD_ID", Loc::No),
            list("bucket columns", "BUCKETING_COLS", ("SD_ID", "s", "SD_ID"), &[("c", "INTEGER_IDX", T), ("c", "BUCKET_COL_NAME", T)]),
            list("sort columns", "SORT_COLS", ("SD_ID", "s", "SD_ID"), &[("c", "INTEGER_IDX", T), ("c", "COLUMN_NAME", T), ("c", "ORDER", T)]),
            list("skewed columns", "SKEWED_COL_NAMES", ("SD_ID", "s", "SD_ID"), &[("c", "INTEGER_IDX", T), ("c", "SKEWED_COL_NAME", T)]),
            Field::Agg {
                name: "skewed values",
                table: "SKEWED_VALUES",
                on: ("SD_ID_OID", "s", "SD_ID"),
                join: Some(j("SKEWED_STRING_LIST_VALUES", "v", &[("STRING_LIST_ID", "c", "STRING_LIST_ID_EID")], false)),
                columns: &[("c", "INTEGER_IDX", T), ("v", "INTEGER_IDX", T), ("v", "STRING_LIST_VALUE", T)],
                loc: Loc::No,
                pairs: false,
            },
            Field::Agg {
                name: "skewed value locations",
                table: "SKEWED_COL_VALUE_LOC_MAP",
                on: ("SD_ID", "s", "SD_ID"),
                join: Some(j("SKEWED_STRING_LIST_VALUES", "v", &[("STRING_LIST_ID", "c", "STRING_LIST_ID_KID")], false)),
                columns: &[("c", "LOCATION", T), ("v", "INTEGER_IDX", T), ("v", "STRING_LIST_VALUE", T)],
                loc: Loc::At(0),
                pairs: false,
            },
        ]
    };
}

const STORAGE: [Field; 19] = storage!();

const fn concat<const A: usize, const B: usize, const N: usize>(a: [Field; A], b: [Field; B]) -> [Field; N] {
    assert!(A + B == N);
    let mut out = [a[0]; N];
    let mut i = 0;
    while i < A {
        out[i] = a[i];
        i += 1;
    }
    while i < N {
        out[i] = b[i - A];
        i += 1;
    }
    out
}

/// `catalog.db.name` without the default catalog.
fn qualified(k: &[String]) -> String {
    let parts: Vec<&str> = k.iter().enumerate().filter(|(i, p)| !(*i == 0 && p.as_str() == "hive")).map(|(_, p)| p.as_str()).collect();
    parts.join(".")
}

const CATALOG: KeyPart = KeyPart { alias: "d", column: "CTLG_NAME", default: Some("hive") };

const TABLE_FIELDS: [Field; 14] = [
    col("type", "t", "TBL_TYPE"),
    col("owner", "t", "OWNER"),
    col("owner type", "t", "OWNER_TYPE"),
    col("retention", "t", "RETENTION"),
    col("create time", "t", "CREATE_TIME"),
    col("last access time", "t", "LAST_ACCESS_TIME"),
    col("view text", "t", "VIEW_ORIGINAL_TEXT"),
    col("expanded view text", "t", "VIEW_EXPANDED_TEXT"),
    bool_col("rewrite enabled", "t", "IS_REWRITE_ENABLED"),
    col("write id", "t", "WRITE_ID"),
    params(
        "param",
        "TABLE_PARAMS",
        "TBL_ID",
        "t",
        "TBL_ID",
        Loc::Keyed { key: 0, value: 1, keys: &["avro.schema.url", "metadata_location", "previous_metadata_location"] },
    ),
    list("columns", "COLUMNS_V2", ("CD_ID", "s", "CD_ID"), &[("c", "INTEGER_IDX", T), ("c", "COLUMN_NAME", T), ("c", "TYPE_NAME", T), ("c", "COMMENT", T)]),
    list(
        "partition keys",
        "PARTITION_KEYS",
        ("TBL_ID", "t", "TBL_ID"),
        &[("c", "INTEGER_IDX", T), ("c", "PKEY_NAME", T), ("c", "PKEY_TYPE", T), ("c", "PKEY_COMMENT", T)],
    ),
    list("column statistics", "TAB_COL_STATS", ("TBL_ID", "t", "TBL_ID"), STATS),
];

const TABLE_PRIVS: [Field; 2] = [
    list(
        "privileges",
        "TBL_PRIVS",
        ("TBL_ID", "t", "TBL_ID"),
        &[
            ("c", "TBL_PRIV", T),
            ("c", "PRINCIPAL_NAME", T),
            ("c", "PRINCIPAL_TYPE", T),
            ("c", "GRANTOR", T),
            ("c", "GRANTOR_TYPE", T),
            ("c", "GRANT_OPTION", T),
            ("c", "CREATE_TIME", T),
            ("c", "AUTHORIZER", T),
        ],
    ),
    list(
        "column privileges",
        "TBL_COL_PRIVS",
        ("TBL_ID", "t", "TBL_ID"),
        &[
            ("c", "COLUMN_NAME", T),
            ("c", "TBL_COL_PRIV", T),
            ("c", "PRINCIPAL_NAME", T),
            ("c", "PRINCIPAL_TYPE", T),
            ("c", "GRANTOR", T),
            ("c", "GRANTOR_TYPE", T),
            ("c", "GRANT_OPTION", T),
            ("c", "CREATE_TIME", T),
            ("c", "AUTHORIZER", T),
        ],
    ),
];

const ALL_TABLE_FIELDS: [Field; 35] = concat::<16, 19, 35>(concat::<14, 2, 16>(TABLE_FIELDS, TABLE_PRIVS), STORAGE);

const PARTITION_FIELDS: [Field; 7] = [
    col("create time", "p", "CREATE_TIME"),
    col("last access time", "p", "LAST_ACCESS_TIME"),
    col("write id", "p", "WRITE_ID"),
    params("param", "PARTITION_PARAMS", "PART_ID", "p", "PART_ID", Loc::Keyed { key: 0, value: 1, keys: &["avro.schema.url"] }),
    list(
        "privileges",
        "PART_PRIVS",
        ("PART_ID", "p", "PART_ID"),
        &[
            ("c", "PART_PRIV", T),
            ("c", "PRINCIPAL_NAME", T),
            ("c", "PRINCIPAL_TYPE", T),
            ("c", "GRANTOR", T),
            ("c", "GRANTOR_TYPE", T),
            ("c", "GRANT_OPTION", T),
            ("c", "CREATE_TIME", T),
            ("c", "AUTHORIZER", T),
        ],
    ),
    list(
        "column privileges",
        "PART_COL_PRIVS",
        ("PART_ID", "p", "PART_ID"),
        &[
            ("c", "COLUMN_NAME", T),
            ("c", "PART_COL_PRIV", T),
            ("c", "PRINCIPAL_NAME", T),
            ("c", "PRINCIPAL_TYPE", T),
            ("c", "GRANTOR", T),
            ("c", "GRANTOR_TYPE", T),
            ("c", "GRANT_OPTION", T),
            ("c", "CREATE_TIME", T),
            ("c", "AUTHORIZER", T),
        ],
    ),
    list("column statistics", "PART_COL_STATS", ("PART_ID", "p", "PART_ID"), STATS),
];

const ALL_PARTITION_FIELDS: [Field; 26] = concat::<7, 19, 26>(PARTITION_FIELDS, STORAGE);

/// Every kind of object a metastore verify compares, in report order.
pub(crate) const VIEWS: &[View] = &[
    View {
        kind: "catalogs",
        from: &[j("CTLGS", "g", &[], false)],
        key: &[KeyPart { alias: "g", column: "NAME", default: None }],
        fields: &[col("description", "g", "DESC"), loc_col("location", "g", "LOCATION_URI"), col("create time", "g", "CREATE_TIME")],
        label: |k| format!("catalog {}", k.join(".")),
        subkind: None,
    },
    View {
        kind: "databases",
        from: &[j("DBS", "d", &[], false)],
        key: &[CATALOG, KeyPart { alias: "d", column: "NAME", default: None }],
        fields: &[
            col("description", "d", "DESC"),
            loc_col("location", "d", "DB_LOCATION_URI"),
            loc_col("managed location", "d", "DB_MANAGED_LOCATION_URI"),
            col("owner", "d", "OWNER_NAME"),
            col("owner type", "d", "OWNER_TYPE"),
            col("type", "d", "TYPE"),
            col("connector", "d", "DATACONNECTOR_NAME"),
            col("remote database", "d", "REMOTE_DBNAME"),
            col("create time", "d", "CREATE_TIME"),
            params("param", "DATABASE_PARAMS", "DB_ID", "d", "DB_ID", Loc::No),
            Field::Agg {
                name: "privileges",
                table: "DB_PRIVS",
                on: ("DB_ID", "d", "DB_ID"),
                join: None,
                columns: &[
                    ("c", "DB_PRIV", T),
                    ("c", "PRINCIPAL_NAME", T),
                    ("c", "PRINCIPAL_TYPE", T),
                    ("c", "GRANTOR", T),
                    ("c", "GRANTOR_TYPE", T),
                    ("c", "GRANT_OPTION", T),
                    ("c", "CREATE_TIME", T),
                    ("c", "AUTHORIZER", T),
                ],
                loc: Loc::No,
                pairs: false,
            },
        ],
        label: |k| format!("database {}", qualified(k)),
        subkind: None,
    },
    View {
        kind: "tables",
        from: &[
            j("TBLS", "t", &[], false),
            j("DBS", "d", &[("DB_ID", "t", "DB_ID")], false),
            j("SDS", "s", &[("SD_ID", "t", "SD_ID")], true),
            j("SERDES", "se", &[("SERDE_ID", "s", "SERDE_ID")], true),
        ],
        key: &[CATALOG, KeyPart { alias: "d", column: "NAME", default: None }, KeyPart { alias: "t", column: "TBL_NAME", default: None }],
        fields: &ALL_TABLE_FIELDS,
        label: |k| format!("table {}", qualified(k)),
        subkind: Some(("type", &[("VIRTUAL_VIEW", "views"), ("MATERIALIZED_VIEW", "materialized views")])),
    },
    View {
        kind: "partitions",
        from: &[
            j("PARTITIONS", "p", &[], false),
            j("TBLS", "t", &[("TBL_ID", "p", "TBL_ID")], false),
            j("DBS", "d", &[("DB_ID", "t", "DB_ID")], false),
            j("SDS", "s", &[("SD_ID", "p", "SD_ID")], true),
            j("SERDES", "se", &[("SERDE_ID", "s", "SERDE_ID")], true),
        ],
        key: &[
            CATALOG,
            KeyPart { alias: "d", column: "NAME", default: None },
            KeyPart { alias: "t", column: "TBL_NAME", default: None },
            KeyPart { alias: "p", column: "PART_NAME", default: None },
        ],
        fields: &ALL_PARTITION_FIELDS,
        label: |k| match k.split_last() {
            Some((part, table)) => format!("{} partition {part}", qualified(table)),
            None => String::new(),
        },
        subkind: None,
    },
    View {
        kind: "functions",
        from: &[j("FUNCS", "f", &[], false), j("DBS", "d", &[("DB_ID", "f", "DB_ID")], false)],
        key: &[CATALOG, KeyPart { alias: "d", column: "NAME", default: None }, KeyPart { alias: "f", column: "FUNC_NAME", default: None }],
        fields: &[
            col("class", "f", "CLASS_NAME"),
            col("owner", "f", "OWNER_NAME"),
            col("owner type", "f", "OWNER_TYPE"),
            col("type", "f", "FUNC_TYPE"),
            col("create time", "f", "CREATE_TIME"),
            Field::Agg {
                name: "resources",
                table: "FUNC_RU",
                on: ("FUNC_ID", "f", "FUNC_ID"),
                join: None,
                columns: &[("c", "INTEGER_IDX", T), ("c", "RESOURCE_TYPE", T), ("c", "RESOURCE_URI", T)],
                loc: Loc::At(2),
                pairs: false,
            },
        ],
        label: |k| format!("function {}", qualified(k)),
        subkind: None,
    },
    View {
        kind: "roles",
        from: &[j("ROLES", "r", &[], false)],
        key: &[KeyPart { alias: "r", column: "ROLE_NAME", default: None }],
        fields: &[
            col("owner", "r", "OWNER_NAME"),
            col("create time", "r", "CREATE_TIME"),
            list(
                "members",
                "ROLE_MAP",
                ("ROLE_ID", "r", "ROLE_ID"),
                &[
                    ("c", "PRINCIPAL_NAME", T),
                    ("c", "PRINCIPAL_TYPE", T),
                    ("c", "GRANTOR", T),
                    ("c", "GRANTOR_TYPE", T),
                    ("c", "GRANT_OPTION", T),
                    ("c", "ADD_TIME", T),
                ],
            ),
        ],
        label: |k| format!("role {}", k.join(".")),
        subkind: None,
    },
    View {
        kind: "global privileges",
        from: &[j("GLOBAL_PRIVS", "g", &[], false)],
        key: &[
            KeyPart { alias: "g", column: "PRINCIPAL_TYPE", default: None },
            KeyPart { alias: "g", column: "PRINCIPAL_NAME", default: None },
            KeyPart { alias: "g", column: "USER_PRIV", default: None },
            KeyPart { alias: "g", column: "GRANTOR", default: None },
            KeyPart { alias: "g", column: "AUTHORIZER", default: Some("") },
        ],
        fields: &[col("grantor type", "g", "GRANTOR_TYPE"), col("grant option", "g", "GRANT_OPTION"), col("create time", "g", "CREATE_TIME")],
        label: |k| format!("global privilege {}", k.iter().filter(|p| !p.is_empty()).cloned().collect::<Vec<_>>().join(" ")),
        subkind: None,
    },
];
