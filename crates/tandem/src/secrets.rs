//! Where the config's secrets come from, besides the file itself: `${NAME}` environment
//! variables and secret files (`password-file`, `fernet-key-file`).
//!
//! - `${NAME}` is replaced by the variable's value; an unset variable is an error. In a
//!   database URL, a variable inside the user info (`user:${PW}@host`) is percent-encoded, so a
//!   password with `/ # ? % @ :` or spaces works as it is; elsewhere it is put in as it is (a
//!   variable may hold a whole URL, a host or a path).
//! - A secret file's content is the secret, less one trailing newline. It must not be empty; a
//!   file that others than its owner may read is used with a warning.
//!
//! Errors name the variable or the file, never the value.

use std::path::Path;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use tandem_error::{Error, Result};

/// Everything but RFC 3986's unreserved characters is encoded in the user info.
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `s` with every `${NAME}` replaced by the value of environment variable NAME.
pub fn expand(s: &str) -> Result<String> {
    expand_with(s, |_| false)
}

/// [`expand`] for a database URL: values that land in the user info are percent-encoded.
pub fn expand_url(s: &str) -> Result<String> {
    let userinfo = userinfo_range(s);
    expand_with(s, |at| userinfo.as_ref().is_some_and(|r| r.contains(&at)))
}

/// The byte range of the user info (between `://` and the last `@` of the authority).
fn userinfo_range(s: &str) -> Option<std::ops::Range<usize>> {
    let start = s.find("://")? + 3;
    let authority_end = s[start..].find(['/', '?', '#']).map_or(s.len(), |i| start + i);
    let at = s[start..authority_end].rfind('@')?;
    Some(start..start + at)
}

/// Expands `${NAME}`s; `encode(offset)` says whether the variable starting at byte `offset`
/// of `s` is percent-encoded.
fn expand_with(s: &str, encode: impl Fn(usize) -> bool) -> Result<String> {
    let mut out = String::with_capacity(s.len());
    let mut pos = 0;
    while let Some(i) = s[pos..].find("${").map(|i| pos + i) {
        out.push_str(&s[pos..i]);
        let end = s[i + 2..].find('}').map(|e| i + 2 + e).ok_or_else(|| Error::bad_input("unclosed ${ in value"))?;
        let name = &s[i + 2..end];
        let value = std::env::var(name).map_err(|_| Error::bad_input(format!("environment variable {name} is not set")))?;
        if encode(i) {
            out.extend(utf8_percent_encode(&value, USERINFO));
        } else {
            out.push_str(&value);
        }
        pos = end + 1;
    }
    out.push_str(&s[pos..]);
    Ok(out)
}

/// The secret in file `path`, less one trailing newline; `what` names it in errors.
pub fn read_file(path: &Path, what: &str) -> Result<String> {
    let data = std::fs::read(path).map_err(|e| Error::bad_input(format!("{what}: cannot read {}: {e}", path.display())))?;
    let text = String::from_utf8(strip_newline(data)).map_err(|_| Error::bad_input(format!("{what}: {} is not UTF-8 text", path.display())))?;
    if text.is_empty() {
        return Err(Error::bad_input(format!("{what}: {} is empty", path.display())));
    }
    warn_if_shared(path, what);
    Ok(text)
}

#[cfg(unix)]
fn warn_if_shared(path: &Path, what: &str) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = std::fs::metadata(path) {
        if m.permissions().mode() & 0o077 != 0 {
            tracing::warn!("{what}: {} may be read by other users (mode {:o}); chmod 600 it", path.display(), m.permissions().mode() & 0o777);
        }
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_: &Path, _: &str) {}

/// Drops one trailing `\n` (or `\r\n`), as editors and `echo` add one.
pub fn strip_newline(mut data: Vec<u8>) -> Vec<u8> {
    if data.last() == Some(&b'\n') {
        data.pop();
        if data.last() == Some(&b'\r') {
            data.pop();
        }
    }
    data
}

/// Database URL `url` with `password` put in (percent-encoded); an error if it has one already.
pub fn with_password(url: &str, password: &str) -> Result<String> {
    tandem_engine::DbUrl::parse(url)?; // its errors name the problem with the password hidden
    let mut parsed = url::Url::parse(url).map_err(|_| Error::bad_input("invalid database URL"))?;
    if parsed.password().is_some() {
        return Err(Error::bad_input("the database URL has a password already: give it there or in the file, not both"));
    }
    if parsed.username().is_empty() {
        return Err(Error::bad_input("the database URL names no user for the password (scheme://user@host/database)"));
    }
    // The url crate leaves `%` as it is: encode first, so that `%41` stays `%41`.
    let encoded = utf8_percent_encode(password, USERINFO).to_string();
    parsed.set_password(Some(&encoded)).map_err(|()| Error::bad_input("this database URL cannot hold a password"))?;
    Ok(parsed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_in_the_user_info_are_encoded_and_elsewhere_kept() {
        std::env::set_var("TANDEM_T_PW", "p/#?%@: &=+x");
        std::env::set_var("TANDEM_T_HOST", "db.example:3306");
        std::env::set_var("TANDEM_T_URL", "mysql://u:p@h/db");
        let url = expand_url("mysql://hive:${TANDEM_T_PW}@${TANDEM_T_HOST}/metastore?sslrootcert=/etc/${TANDEM_T_PW}").unwrap();
        assert_eq!(url, "mysql://hive:p%2F%23%3F%25%40%3A%20%26%3D%2Bx@db.example:3306/metastore?sslrootcert=/etc/p/#?%@: &=+x");
        let parsed = tandem_engine::DbUrl::parse(&expand_url("mysql://hive:${TANDEM_T_PW}@h/m").unwrap()).unwrap();
        assert_eq!(parsed.password(), Some("p/#?%@: &=+x"));
        assert_eq!(expand_url("${TANDEM_T_URL}").unwrap(), "mysql://u:p@h/db", "a whole URL from a variable");
        assert_eq!(expand("/k/${TANDEM_T_PW}").unwrap(), "/k/p/#?%@: &=+x");
        assert!(expand("${TANDEM_SURELY_UNSET}").unwrap_err().to_string().contains("TANDEM_SURELY_UNSET is not set"));
        assert!(expand("a${B").unwrap_err().to_string().contains("unclosed"));
    }

    #[test]
    fn files_and_passwords() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "p@ss word/#%41\n").unwrap();
        let pw = read_file(&f, "sites.a.password-file").unwrap();
        assert_eq!(pw, "p@ss word/#%41");
        let url = with_password("postgres://hive@h:5432/m?sslmode=require", &pw).unwrap();
        assert_eq!(tandem_engine::DbUrl::parse(&url).unwrap().password(), Some("p@ss word/#%41"));
        assert!(with_password("postgres://hive:x@h/m", "y").unwrap_err().to_string().contains("not both"));
        assert!(with_password("postgres://h/m", "y").unwrap_err().to_string().contains("no user"));
        std::fs::write(&f, "\n").unwrap();
        assert!(read_file(&f, "w").unwrap_err().to_string().contains("is empty"));
        std::fs::write(&f, [0xff, 0xfe]).unwrap();
        assert!(read_file(&f, "w").unwrap_err().to_string().contains("not UTF-8"));
        let e = read_file(&dir.path().join("missing"), "sites.a.password-file").unwrap_err();
        assert!(e.to_string().starts_with("sites.a.password-file: cannot read "), "{e}");
        assert_eq!(strip_newline(b"a\r\n".to_vec()), b"a");
        assert_eq!(strip_newline(b"a\n\n".to_vec()), b"a\n", "only one newline goes");
    }
}
