//! The messages of PostgreSQL's `pgoutput` logical decoding plugin, protocol version 1
//! (PostgreSQL's "Logical Replication Message Formats"), other than Begin, Commit and Message,
//! which the replication client reads itself.

use bytes::{Buf, Bytes};
use tandem_error::{Error, Result};

/// One decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Message {
    /// A table's description, sent before its first change in a session and after it changed.
    Relation(Relation),
    Insert {
        relation: u32,
        new: Vec<Datum>,
    },
    /// `old`: the key (identity `K`) or the whole row (`O`, REPLICA IDENTITY FULL), when
    /// logged: when the key changed, or the table logs whole rows.
    Update {
        relation: u32,
        old: Option<Vec<Datum>>,
        new: Vec<Datum>,
    },
    Delete {
        relation: u32,
        old: Vec<Datum>,
    },
    Truncate {
        relations: Vec<u32>,
    },
    /// The transaction was replicated into this server from elsewhere (a replication origin).
    Origin {
        name: String,
    },
    /// Anything else (types, and messages of later protocol versions): nothing to do.
    Other(u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Relation {
    pub id: u32,
    pub namespace: String,
    pub name: String,
    /// `d` default (primary key), `n` nothing, `f` full, `i` index.
    pub identity: u8,
    pub columns: Vec<RelColumn>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RelColumn {
    pub name: String,
    pub type_oid: u32,
    /// Part of the replica identity.
    pub key: bool,
}

/// One column of a logged row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Datum {
    Null,
    /// A TOASTed value the change did not touch: not logged.
    Unchanged,
    /// The value in the type's text output format.
    Text(Bytes),
}

/// Decodes one message.
pub(crate) fn decode(data: &Bytes) -> Result<Message> {
    let mut r = Reader { buf: data.clone() };
    let tag = r.u8()?;
    Ok(match tag {
        b'R' => {
            let id = r.u32()?;
            let namespace = r.string()?;
            let name = r.string()?;
            let identity = r.u8()?;
            let n = r.u16()?;
            let columns = (0..n)
                .map(|_| {
                    let flags = r.u8()?;
                    let name = r.string()?;
                    let type_oid = r.u32()?;
                    let _typmod = r.u32()?;
                    Ok(RelColumn { name, type_oid, key: flags & 1 != 0 })
                })
                .collect::<Result<_>>()?;
            Message::Relation(Relation { id, namespace, name, identity, columns })
        }
        b'I' => {
            let relation = r.u32()?;
            r.expect(b'N')?;
            Message::Insert { relation, new: r.tuple()? }
        }
        b'U' => {
            let relation = r.u32()?;
            let old = match r.u8()? {
                b'K' | b'O' => {
                    let old = r.tuple()?;
                    r.expect(b'N')?;
                    Some(old)
                }
                b'N' => None,
                other => return Err(corrupt(format!("an update with tuple kind {:?}", other as char))),
            };
            Message::Update { relation, old, new: r.tuple()? }
        }
        b'D' => {
            let relation = r.u32()?;
            match r.u8()? {
                b'K' | b'O' => Message::Delete { relation, old: r.tuple()? },
                other => return Err(corrupt(format!("a delete with tuple kind {:?}", other as char))),
            }
        }
        b'T' => {
            let n = r.u32()?;
            let _options = r.u8()?;
            Message::Truncate { relations: (0..n).map(|_| r.u32()).collect::<Result<_>>()? }
        }
        b'O' => {
            let _commit_lsn = r.u64()?;
            Message::Origin { name: r.string()? }
        }
        other => Message::Other(other),
    })
}

fn corrupt(what: String) -> Error {
    Error::corrupt(format!("pgoutput: {what}"))
}

struct Reader {
    buf: Bytes,
}

impl Reader {
    fn need(&self, n: usize) -> Result<()> {
        match self.buf.remaining() >= n {
            true => Ok(()),
            false => Err(corrupt("a message ends too early".into())),
        }
    }

    fn u8(&mut self) -> Result<u8> {
        self.need(1)?;
        Ok(self.buf.get_u8())
    }

    fn u16(&mut self) -> Result<u16> {
        self.need(2)?;
        Ok(self.buf.get_u16())
    }

    fn u32(&mut self) -> Result<u32> {
        self.need(4)?;
        Ok(self.buf.get_u32())
    }

    fn u64(&mut self) -> Result<u64> {
        self.need(8)?;
        Ok(self.buf.get_u64())
    }

    fn expect(&mut self, tag: u8) -> Result<()> {
        match self.u8()? {
            t if t == tag => Ok(()),
            t => Err(corrupt(format!("expected {:?}, found {:?}", tag as char, t as char))),
        }
    }

    /// A NUL-terminated string.
    fn string(&mut self) -> Result<String> {
        let end = self.buf.iter().position(|&b| b == 0).ok_or_else(|| corrupt("a string without its end".into()))?;
        let s = self.buf.split_to(end);
        self.buf.advance(1);
        String::from_utf8(s.to_vec()).map_err(|_| corrupt("a name that is not UTF-8".into()))
    }

    fn tuple(&mut self) -> Result<Vec<Datum>> {
        let n = self.u16()?;
        (0..n)
            .map(|_| match self.u8()? {
                b'n' => Ok(Datum::Null),
                b'u' => Ok(Datum::Unchanged),
                b't' => {
                    let len = self.u32()? as usize;
                    self.need(len)?;
                    Ok(Datum::Text(self.buf.split_to(len)))
                }
                other => Err(corrupt(format!("a column of kind {:?} (binary output is not requested)", other as char))),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(out: &mut Vec<u8>, cols: &[Option<&str>]) {
        out.extend((cols.len() as u16).to_be_bytes());
        for c in cols {
            match c {
                None => out.push(b'n'),
                Some("\u{0}") => out.push(b'u'),
                Some(v) => {
                    out.push(b't');
                    out.extend((v.len() as u32).to_be_bytes());
                    out.extend(v.as_bytes());
                }
            }
        }
    }

    #[test]
    fn messages_decode() {
        let mut rel = vec![b'R'];
        rel.extend(16384u32.to_be_bytes());
        rel.extend(b"public\0TBLS\0d");
        rel.extend(2u16.to_be_bytes());
        rel.extend(b"\x01TBL_ID\0");
        rel.extend(20u32.to_be_bytes());
        rel.extend((-1i32).to_be_bytes());
        rel.extend(b"\x00OWNER\0");
        rel.extend(25u32.to_be_bytes());
        rel.extend((-1i32).to_be_bytes());
        let Message::Relation(r) = decode(&Bytes::from(rel)).unwrap() else { panic!("a relation") };
        assert_eq!((r.id, r.namespace.as_str(), r.name.as_str(), r.identity), (16384, "public", "TBLS", b'd'));
        assert_eq!(r.columns.iter().map(|c| (c.name.as_str(), c.key)).collect::<Vec<_>>(), vec![("TBL_ID", true), ("OWNER", false)]);

        let mut upd = vec![b'U'];
        upd.extend(16384u32.to_be_bytes());
        upd.push(b'N');
        tuple(&mut upd, &[Some("7"), Some("\u{0}")]);
        let m = decode(&Bytes::from(upd)).unwrap();
        assert_eq!(m, Message::Update { relation: 16384, old: None, new: vec![Datum::Text(Bytes::from_static(b"7")), Datum::Unchanged] });

        let mut del = vec![b'D'];
        del.extend(16384u32.to_be_bytes());
        del.push(b'K');
        tuple(&mut del, &[Some("7"), None]);
        assert_eq!(decode(&Bytes::from(del)).unwrap(), Message::Delete { relation: 16384, old: vec![Datum::Text(Bytes::from_static(b"7")), Datum::Null] });

        let mut trunc = vec![b'T'];
        trunc.extend(2u32.to_be_bytes());
        trunc.push(0);
        trunc.extend(1u32.to_be_bytes());
        trunc.extend(2u32.to_be_bytes());
        assert_eq!(decode(&Bytes::from(trunc)).unwrap(), Message::Truncate { relations: vec![1, 2] });
    }

    #[test]
    fn broken_messages_are_corrupt_not_panics() {
        for bad in [
            &b"I\x00\x00"[..],
            b"I\x00\x00\x40\x00X",
            b"U\x00\x00\x40\x00N\x00\x01t\x00\x00\x00\x09ab",
            b"R\x00\x00\x00\x01public",
            b"D\x00\x00\x00\x01Z",
            b"O\x00",
        ] {
            let e = decode(&Bytes::copy_from_slice(bad)).expect_err("refused");
            assert_eq!(e.kind(), tandem_error::Kind::Corrupt, "{e}");
        }
    }
}
