//! The README demo: a primary and a DR site on two throwaway MariaDB servers, a sample database,
//! backup → list → restore into DR → check, each step shown as the `tandem` command it runs.

use std::process::Command;

use tandem_testkit::{tandem_bin, Flavor, Server};

const SAMPLE: &str = r#"
CREATE TABLE departments (department_id INT PRIMARY KEY, department_name VARCHAR(45) NOT NULL);
CREATE TABLE categories (category_id INT AUTO_INCREMENT PRIMARY KEY, category_department_id INT NOT NULL,
  category_name VARCHAR(45) NOT NULL, FOREIGN KEY (category_department_id) REFERENCES departments(department_id));
CREATE TABLE products (product_id INT AUTO_INCREMENT PRIMARY KEY, product_category_id INT NOT NULL,
  product_name VARCHAR(100) NOT NULL, product_price DECIMAL(10,2) NOT NULL, product_image VARCHAR(255),
  FOREIGN KEY (product_category_id) REFERENCES categories(category_id));
CREATE TABLE customers (customer_id INT AUTO_INCREMENT PRIMARY KEY, customer_fname VARCHAR(45), customer_lname VARCHAR(45),
  customer_city VARCHAR(45), KEY (customer_lname));
CREATE TABLE orders (order_id INT AUTO_INCREMENT PRIMARY KEY, order_date DATETIME NOT NULL, order_customer_id INT NOT NULL,
  order_status VARCHAR(45) NOT NULL, KEY (order_status), FOREIGN KEY (order_customer_id) REFERENCES customers(customer_id));
CREATE TABLE order_items (order_item_id INT AUTO_INCREMENT PRIMARY KEY, order_item_order_id INT NOT NULL,
  order_item_product_id INT NOT NULL, order_item_quantity TINYINT NOT NULL, order_item_subtotal DECIMAL(10,2) NOT NULL,
  FOREIGN KEY (order_item_order_id) REFERENCES orders(order_id), FOREIGN KEY (order_item_product_id) REFERENCES products(product_id));
CREATE VIEW completed_orders AS SELECT order_id, order_date, order_customer_id FROM orders WHERE order_status = 'COMPLETE';
INSERT INTO departments VALUES (2,'Fitness'),(3,'Footwear'),(4,'Apparel'),(5,'Golf'),(6,'Outdoors'),(7,'Fan Shop');
INSERT INTO categories (category_department_id, category_name)
  SELECT d.department_id, CONCAT(d.department_name, ' ', n.n) FROM departments d
  CROSS JOIN (SELECT 1 n UNION SELECT 2 UNION SELECT 3 UNION SELECT 4) n;
INSERT INTO products (product_category_id, product_name, product_price, product_image)
  SELECT c.category_id, CONCAT('Product ', c.category_id, '-', s.seq), 9.99 + s.seq, CONCAT('http://images.acme.com/', s.seq, '.jpg')
  FROM categories c JOIN seq_1_to_50 s;
INSERT INTO customers (customer_fname, customer_lname, customer_city)
  SELECT ELT(1 + seq % 5, 'Mary', 'Jürgen', 'Zoë', 'Ana', 'Ravi'), CONCAT('Customer', seq), ELT(1 + seq % 4, 'Caguas', 'München', 'Brooklyn', 'São Paulo')
  FROM seq_1_to_12000;
INSERT INTO orders (order_date, order_customer_id, order_status)
  SELECT '2026-01-01' + INTERVAL (seq % 300) DAY, 1 + seq % 12000, ELT(1 + seq % 4, 'COMPLETE', 'CLOSED', 'PENDING', 'PROCESSING')
  FROM seq_1_to_68000;
INSERT INTO order_items (order_item_order_id, order_item_product_id, order_item_quantity, order_item_subtotal)
  SELECT 1 + seq % 68000, 1 + seq % 1200, 1 + seq % 5, (1 + seq % 5) * 19.99 FROM seq_1_to_172000;
"#;

fn main() {
    println!("== starting two throwaway MariaDB servers on 127.0.0.1 (primary and DR site)");
    let primary = Server::start(Flavor::MariaDb);
    let dr = Server::start(Flavor::MariaDb);
    println!("   primary on port {}, dr on port {}", primary.port(), dr.port());

    println!("== creating the sample database `retail` on the primary");
    primary.sql("mysql", "CREATE DATABASE retail CHARACTER SET utf8mb4 COLLATE utf8mb4_bin");
    primary.sql("retail", SAMPLE);

    let work = tempfile::Builder::new().prefix("tandem-demo-").tempdir().expect("temp dir");
    let repo = work.path().join("repo");
    let config = work.path().join("tandem.toml");
    std::fs::write(
        &config,
        format!(
            "repo = \"{}\"\n\n[sites.primary]\ndb = \"{}\"\n\n[sites.dr]\ndb = \"{}\"\n",
            repo.display(),
            primary.url("retail"),
            dr.url("retail")
        ),
    )
    .expect("write config");
    println!("== config {}:\n{}", config.display(), std::fs::read_to_string(&config).unwrap_or_default());

    let run = |args: &[&str]| {
        println!("$ tandem {}", args.join(" "));
        let status = Command::new(tandem_bin()).arg("--config").arg(&config).args(args).status().expect("run tandem");
        if !status.success() {
            eprintln!("demo: `tandem {}` failed ({status})", args.join(" "));
            std::process::exit(1);
        }
        println!();
    };
    run(&["backup", "primary"]);
    run(&["backups", "list"]);
    run(&["restore", "dr", "--dry-run"]);
    run(&["restore", "dr"]);
    run(&["backups", "show", "latest"]);
    run(&["repo", "check", "--read-data"]);

    println!("== comparing the primary and the DR site");
    let mut same = true;
    for table in ["departments", "categories", "products", "customers", "orders", "order_items"] {
        let q = format!("CHECKSUM TABLE {table}; SELECT count(*) FROM {table}");
        let (a, b) = (primary.sql("retail", &q), dr.sql("retail", &q));
        let rows = a.lines().last().unwrap_or("?").to_string();
        let ok = a == b;
        same &= ok;
        println!("   {table:<12} {rows:>7} rows  {}", if ok { "identical" } else { "DIFFERENT" });
    }
    let completed = dr.sql("retail", "SELECT count(*) FROM completed_orders");
    println!("   view completed_orders on the DR site: {completed} rows");
    println!("== stopping both servers");
    drop((primary, dr));
    if !same {
        std::process::exit(1);
    }
    println!("demo OK");
}
