//! Every engine runs the whole engine conformance suite (`tandem_conformance::engine`): one line
//! per engine, one per pair of engines a cross-engine restore converts between.

use tandem_conformance::engine::profile::{MYSQL, POSTGRES};
use tandem_conformance::{cross_engine_suite, engine_suite};
use tandem_mysql::MySql;
use tandem_postgres::Postgres;
use tandem_testkit::Flavor;

engine_suite!(mysql, MySql, Flavor::MariaDb, MYSQL);
engine_suite!(postgres, Postgres, Flavor::Postgres, POSTGRES);

cross_engine_suite!(mysql_to_postgres, MySql, Flavor::MariaDb, MYSQL, Postgres, Flavor::Postgres, POSTGRES);
cross_engine_suite!(postgres_to_mysql, Postgres, Flavor::Postgres, POSTGRES, MySql, Flavor::MariaDb, MYSQL);
