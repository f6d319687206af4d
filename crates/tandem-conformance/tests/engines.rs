//! Every engine runs the whole engine conformance suite (`tandem_conformance::engine`): one line
//! per engine, one per pair of engines a cross-engine restore converts between.

use tandem_conformance::{cross_engine_suite, engine_suite};

engine_suite!(mysql, tandem_mysql::MySql, tandem_testkit::Flavor::MariaDb);
engine_suite!(postgres, tandem_postgres::Postgres, tandem_testkit::Flavor::Postgres);

cross_engine_suite!(mysql_to_postgres, tandem_mysql::MySql, tandem_testkit::Flavor::MariaDb, tandem_postgres::Postgres, tandem_testkit::Flavor::Postgres);
cross_engine_suite!(postgres_to_mysql, tandem_postgres::Postgres, tandem_testkit::Flavor::Postgres, tandem_mysql::MySql, tandem_testkit::Flavor::MariaDb);
