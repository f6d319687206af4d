//! Secrets a system encrypts with a site key (Airflow's Fernet key), re-encrypted by a restore
//! into a site with another key, and decrypted by verify to compare what they hide.
//!
//! Keys are Fernet keys (url-safe base64 of 32 bytes); a comma-separated list is a key ring as
//! Airflow reads it: the first key encrypts, every key may decrypt.

use tandem_error::{Error, Result};

/// The Fernet key ring of one site.
#[derive(Clone)]
pub struct Keyring {
    ring: fernet::MultiFernet,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyring(…)")
    }
}

impl Keyring {
    /// Parses `KEY[,KEY…]`. Errors (BadInput) name the position of a key that is not a Fernet
    /// key, never the key itself.
    pub fn parse(spec: &str, what: &str) -> Result<Keyring> {
        let mut keys = Vec::new();
        for (i, k) in spec.split(',').map(str::trim).filter(|k| !k.is_empty()).enumerate() {
            keys.push(fernet::Fernet::new(k).ok_or_else(|| {
                Error::bad_input(format!("{what}: key {} is not a Fernet key (32 bytes in url-safe base64, as `airflow` generates them)", i + 1))
            })?);
        }
        if keys.is_empty() {
            return Err(Error::bad_input(format!("{what} is empty")));
        }
        Ok(Keyring { ring: fernet::MultiFernet::new(keys) })
    }

    /// The plaintext of `token`, or `None` if no key of the ring opens it.
    pub fn decrypt(&self, token: &str) -> Option<Vec<u8>> {
        self.ring.decrypt(token.trim()).ok()
    }

    /// A new token for `plain` under the first key.
    pub fn encrypt(&self, plain: &[u8]) -> String {
        self.ring.encrypt(plain)
    }
}

/// The keys of a restore from one site into another.
#[derive(Debug, Clone)]
pub struct Rekey {
    pub from: Keyring,
    pub to: Keyring,
}

/// Changes a system makes to the raw fields of a table's rows while they load (re-encrypting
/// secrets). Fields are the row encoding's unescaped bytes in the table's column order.
pub trait RowRewriter: Send + Sync {
    /// Rewrites one row in place. Errors (BadInput) name the row by its natural key.
    fn rewrite(&self, row: &mut [Option<Vec<u8>>]) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_decrypt_with_any_key_and_encrypt_with_the_first() {
        let (a, b) = (fernet::Fernet::generate_key(), fernet::Fernet::generate_key());
        let old = Keyring::parse(&a, "key").unwrap();
        let ring = Keyring::parse(&format!("{b}, {a}"), "key").unwrap();
        let token = old.encrypt(b"s3cret");
        assert_eq!(ring.decrypt(&token).unwrap(), b"s3cret");
        let new = ring.encrypt(b"x");
        assert!(old.decrypt(&new).is_none(), "encrypted with the first key of the ring");
        assert_eq!(Keyring::parse(&b, "key").unwrap().decrypt(&new).unwrap(), b"x");
        let e = Keyring::parse("not-a-key", "--fernet-key-to").unwrap_err();
        assert!(e.to_string().contains("--fernet-key-to: key 1 is not a Fernet key") && !e.to_string().contains("not-a-key"), "{e}");
        assert!(Keyring::parse(" , ", "k").is_err());
    }
}
