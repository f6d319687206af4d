//! Test certificates made on the spot with rcgen: a CA, server certificates signed by it
//! (valid, expired, or for another host name) and client certificates.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType};

/// A certificate and its private key, as PEM files.
#[derive(Debug, Clone)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A throwaway certificate authority writing its files into a directory.
pub struct TestCa {
    dir: PathBuf,
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate (PEM), for `sslrootcert` and servers checking client certificates.
    pub cert: PathBuf,
}

impl TestCa {
    /// A new CA named `name`; its files go into `dir` (created if needed).
    pub fn new(dir: &Path, name: &str) -> TestCa {
        std::fs::create_dir_all(dir).expect("certificate dir");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate");
        let path = dir.join(format!("{name}.crt"));
        std::fs::write(&path, cert.pem()).expect("write CA");
        TestCa { dir: dir.to_path_buf(), issuer: Issuer::new(params, key), cert: path }
    }

    /// A server certificate for `hosts` (DNS names or IP addresses); `expired` makes one valid
    /// only in the year 2000.
    pub fn server(&self, name: &str, hosts: &[&str], expired: bool) -> CertFiles {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.subject_alt_names = hosts
            .iter()
            .map(|h| match h.parse::<std::net::IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*h).try_into().expect("DNS name")),
            })
            .collect();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        if expired {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        self.sign(name, params)
    }

    /// A client certificate whose common name is `user` (PostgreSQL's `cert` authentication
    /// matches it to the user name).
    pub fn client(&self, name: &str, user: &str) -> CertFiles {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, user);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(name, params)
    }

    fn sign(&self, name: &str, params: CertificateParams) -> CertFiles {
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        let files = CertFiles { cert: self.dir.join(format!("{name}.crt")), key: self.dir.join(format!("{name}.key")) };
        std::fs::write(&files.cert, cert.pem()).expect("write certificate");
        std::fs::write(&files.key, key.serialize_pem()).expect("write key");
        files
    }
}

/// The certificates TLS tests need: a CA; a server certificate for `localhost` and 127.0.0.1,
/// an expired one, one for another host only (`db.wrong.test`), all signed by it; a client
/// certificate for `client_user`; and another CA that signed none of them.
pub struct TestPki {
    pub ca: TestCa,
    pub other_ca: TestCa,
    pub server: CertFiles,
    pub expired: CertFiles,
    pub wrong_host: CertFiles,
    pub client: CertFiles,
}

impl TestPki {
    /// Makes every file in `dir`.
    pub fn new(dir: &Path, client_user: &str) -> TestPki {
        let ca = TestCa::new(dir, "ca");
        let other_ca = TestCa::new(dir, "other-ca");
        let server = ca.server("server", &["localhost", "127.0.0.1"], false);
        let expired = ca.server("expired", &["localhost", "127.0.0.1"], true);
        let wrong_host = ca.server("wrong-host", &["db.wrong.test"], false);
        let client = ca.client("client", client_user);
        TestPki { ca, other_ca, server, expired, wrong_host, client }
    }
}
