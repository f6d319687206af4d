//! Secrets a system keeps encrypted with a per-site key, re-encrypted by a restore into a site
//! with another key and decrypted by verify to compare what they hide.
//!
//! Everything above a system handles a site's key as an opaque [`SiteKey`]; only the system
//! knows its scheme and turns a key into a [`SecretCodec`] ([`System::secret_codec`]:
//! Airflow's is a Fernet key ring).
//!
//! [`System::secret_codec`]: crate::System::secret_codec

use std::sync::Arc;

use tandem_error::Result;

/// One site's key for the secrets its system encrypts, as the user gave it, with where it came
/// from (`--fernet-key-to`, `sites.dr.fernet-key`) for messages. Never printed: `Debug` shows
/// only the origin.
#[derive(Clone)]
pub struct SiteKey {
    secret: secrecy::SecretString,
    origin: String,
}

impl SiteKey {
    pub fn new(secret: impl Into<String>, origin: impl Into<String>) -> SiteKey {
        let secret: String = secret.into();
        SiteKey { secret: secret.into(), origin: origin.into() }
    }
    /// The key material, for the system's codec only.
    pub fn expose(&self) -> &str {
        secrecy::ExposeSecret::expose_secret(&self.secret)
    }
    /// Where the key came from, for messages.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

impl std::fmt::Debug for SiteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SiteKey({}, …)", self.origin)
    }
}

/// The keys of the two sides of a restore or verify; a side without a key is `None`.
#[derive(Debug, Clone, Default)]
pub struct SiteKeys {
    pub source: Option<SiteKey>,
    pub target: Option<SiteKey>,
}

impl SiteKeys {
    pub fn is_empty(&self) -> bool {
        self.source.is_none() && self.target.is_none()
    }
}

/// Encrypts and decrypts one site's secrets in its system's scheme.
pub trait SecretCodec: Send + Sync {
    /// The plaintext of `token`, or `None` if the key does not open it.
    fn decrypt(&self, token: &str) -> Option<Vec<u8>>;
    /// A new token for `plain`.
    fn encrypt(&self, plain: &[u8]) -> String;
}

/// The codecs of a restore from one site into another.
#[derive(Clone)]
pub struct Rekey {
    pub from: Arc<dyn SecretCodec>,
    pub to: Arc<dyn SecretCodec>,
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
    fn site_keys_never_show_the_key() {
        let k = SiteKey::new("s3cret-material", "--fernet-key-to");
        let shown = format!("{k:?} {:?}", SiteKeys { source: Some(k.clone()), target: None });
        assert!(shown.contains("--fernet-key-to") && !shown.contains("s3cret"), "{shown}");
        assert_eq!(k.expose(), "s3cret-material");
    }
}
