//! Airflow releases by the alembic revision their schema ends at (the heads Airflow itself lists
//! in `airflow.utils.db._REVISION_HEADS_MAP`). A revision names the first release with that
//! schema; later releases without migrations share it.

const HEADS: &[(&str, &str)] = &[
    ("4bc4d934e2bc", "2.6.2"),
    ("405de8318b3a", "2.7.0"),
    ("10b52ebd31f7", "2.8.0"),
    ("88344c1d9134", "2.8.1"),
    ("1949afb29106", "2.9.0"),
    ("686269002441", "2.9.2"),
    ("22ed7efa9da2", "2.10.0"),
    ("5f2621c13b39", "2.10.3"),
    ("29ce7909c52b", "3.0.0"),
    ("fe199e1abd77", "3.0.3"),
    ("cc92b33c6709", "3.1.0"),
    ("509b94a1042d", "3.1.8"),
    ("1d6611b6ab7c", "3.2.0"),
    ("d2f4e1b3c5a7", "3.3.0"),
];

/// `3.3.0 or later` for a known head revision.
pub(super) fn airflow_version(revision: &str) -> Option<String> {
    HEADS.iter().find(|(r, _)| *r == revision.trim()).map(|(_, v)| format!("{v} or later with that schema"))
}
