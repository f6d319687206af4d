//! Airflow's secret codec: a Fernet key ring as Airflow reads `[core] fernet_key` (url-safe
//! base64 of 32 bytes; a comma-separated list is a ring: the first key encrypts, every key may
//! decrypt).

use tandem_error::{Error, Result};

use crate::{SecretCodec, SiteKey};

/// The Fernet key ring of one site.
pub(crate) struct Keyring {
    ring: fernet::MultiFernet,
}

impl Keyring {
    /// Parses `KEY[,KEY…]`. Errors (BadInput) name the key's origin and the position of a key
    /// that is not a Fernet key, never the key itself.
    pub(crate) fn parse(key: &SiteKey) -> Result<Keyring> {
        let what = key.origin();
        let mut keys = Vec::new();
        for (i, k) in key.expose().split(',').map(str::trim).filter(|k| !k.is_empty()).enumerate() {
            keys.push(fernet::Fernet::new(k).ok_or_else(|| {
                Error::bad_input(format!("{what}: key {} is not a Fernet key (32 bytes in url-safe base64, as `airflow` generates them)", i + 1))
            })?);
        }
        if keys.is_empty() {
            return Err(Error::bad_input(format!("{what} is empty")));
        }
        Ok(Keyring { ring: fernet::MultiFernet::new(keys) })
    }
}

impl SecretCodec for Keyring {
    fn decrypt(&self, token: &str) -> Option<Vec<u8>> {
        self.ring.decrypt(token.trim()).ok()
    }

    fn encrypt(&self, plain: &[u8]) -> String {
        self.ring.encrypt(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(spec: &str) -> Result<Keyring> {
        Keyring::parse(&SiteKey::new(spec, "--fernet-key-to"))
    }

    #[test]
    fn rings_decrypt_with_any_key_and_encrypt_with_the_first() {
        let (a, b) = (fernet::Fernet::generate_key(), fernet::Fernet::generate_key());
        let old = ring(&a).unwrap();
        let both = ring(&format!("{b}, {a}")).unwrap();
        let token = old.encrypt(b"s3cret");
        assert_eq!(both.decrypt(&token).unwrap(), b"s3cret");
        let new = both.encrypt(b"x");
        assert!(old.decrypt(&new).is_none(), "encrypted with the first key of the ring");
        assert_eq!(ring(&b).unwrap().decrypt(&new).unwrap(), b"x");
        let e = ring("not-a-key").err().unwrap();
        assert!(e.to_string().contains("--fernet-key-to: key 1 is not a Fernet key") && !e.to_string().contains("not-a-key"), "{e}");
        assert!(ring(" , ").is_err());
    }
}
