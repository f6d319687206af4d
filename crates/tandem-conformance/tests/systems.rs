//! Every system runs the whole system conformance suite (`tandem_conformance::system`) for each
//! supported schema layout on each engine that hosts it: one line per case.
//!
//! Airflow runs on PostgreSQL only: Airflow supports PostgreSQL and MySQL 8, not MariaDB, and
//! the test kit has no MySQL 8 server.

use std::sync::LazyLock;

use tandem_conformance::system::Fixture::{Airflow, Hms, Plain};
use tandem_conformance::system_suite;
use tandem_core::Registry;
use tandem_engine::Dialect;
use tandem_mysql::MySql;
use tandem_postgres::Postgres;
use tandem_system::{Airflow as AirflowSystem, Generic, HiveMetastore};
use tandem_testkit::Flavor::{MariaDb as MARIADB, Postgres as POSTGRES};

/// Every engine and system, as the binary registers them.
fn registry() -> &'static Registry {
    static R: LazyLock<Registry> =
        LazyLock::new(|| Registry::new(vec![Box::new(MySql), Box::new(Postgres)], vec![Box::new(HiveMetastore), Box::new(AirflowSystem), Box::new(Generic)]));
    &R
}

/// Moves every table location of a metastore elsewhere.
fn move_locations(d: &dyn Dialect) -> String {
    format!("UPDATE {} SET {} = 'gs://elsewhere/x'", d.ident("SDS"), d.ident("LOCATION"))
}

/// Changes every variable of an Airflow DB.
fn change_variables(_: &dyn Dialect) -> String {
    "UPDATE variable SET val = 'changed'".into()
}

system_suite!(hms_2_3_mariadb, HiveMetastore, Hms("2.3"), MySql, MARIADB, Some(move_locations));
system_suite!(hms_3_1_mariadb, HiveMetastore, Hms("3.1"), MySql, MARIADB, Some(move_locations));
system_suite!(hms_4_0_mariadb, HiveMetastore, Hms("4.0"), MySql, MARIADB, Some(move_locations));
system_suite!(hms_2_3_postgres, HiveMetastore, Hms("2.3"), Postgres, POSTGRES, Some(move_locations));
system_suite!(hms_3_1_postgres, HiveMetastore, Hms("3.1"), Postgres, POSTGRES, Some(move_locations));
system_suite!(hms_4_0_postgres, HiveMetastore, Hms("4.0"), Postgres, POSTGRES, Some(move_locations));
system_suite!(airflow_postgres, AirflowSystem, Airflow, Postgres, POSTGRES, Some(change_variables));
system_suite!(generic_mariadb, Generic, Plain, MySql, MARIADB, None);
system_suite!(generic_postgres, Generic, Plain, Postgres, POSTGRES, None);
