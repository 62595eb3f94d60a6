//! The backup file (`kyoto backup`, `kyotod restore`; README, "Backups and restore"):
//! the 8-byte magic `KYOTOBK` 0x01, then records, each a 4-byte big-endian length and a
//! protobuf message: one [`pb::BackupHeader`], then the [`pb::GetBlockResponse`] of every
//! height from 1 to the header's, in order. A block carries its commit certificate, so
//! a restore verifies every block as an observer does; the file itself needs no trust.

use std::io::{self, Read, Write};

use kyoto_proto::v1 as pb;
use prost::Message;

/// The first bytes of every backup file.
pub const MAGIC: &[u8; 8] = b"KYOTOBK\x01";

/// The header's `format`.
pub const FORMAT: &str = "kyoto-backup/v1";

/// Largest record read: a block of 4,000 transactions of 16 KiB with its receipts and
/// certificate fits with room to spare.
pub const MAX_RECORD_BYTES: u32 = 128 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("not a Kyoto Ledger backup (it does not start with the backup magic)")]
    NotABackup,
    #[error("the backup's format is `{0}`, not {FORMAT}")]
    Format(String),
    #[error("the backup ends inside {0}: it was cut short")]
    Truncated(String),
    #[error("{what} is {bytes} bytes, over the {MAX_RECORD_BYTES}-byte limit")]
    TooLarge { what: String, bytes: u32 },
    #[error("{what} does not decode: {source}")]
    Decode {
        what: String,
        source: prost::DecodeError,
    },
    #[error("the backup holds block {found} where block {expected} belongs")]
    OutOfOrder { expected: u64, found: u64 },
    #[error("the backup goes on after block {0}, its last")]
    TrailingData(u64),
    #[error("the backup has blocks up to {written}, not {promised} as its header says")]
    Incomplete { written: u64, promised: u64 },
}

fn height_of(block: &pb::GetBlockResponse) -> u64 {
    block
        .block
        .as_ref()
        .and_then(|b| b.header.as_ref())
        .map_or(0, |h| h.height)
}

fn write_record(w: &mut impl Write, bytes: &[u8]) -> Result<(), BackupError> {
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|n| *n <= MAX_RECORD_BYTES)
        .ok_or_else(|| BackupError::TooLarge {
            what: "a record".to_owned(),
            bytes: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
        })?;
    w.write_all(&len.to_be_bytes())?;
    w.write_all(bytes)?;
    Ok(())
}

/// Fills `buf`; `Ok(false)` at a clean end of file before its first byte.
fn read_full(r: &mut impl Read, buf: &mut [u8], what: &str) -> Result<bool, BackupError> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(BackupError::Truncated(what.to_owned())),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(true)
}

/// The next record, or none at the end of the file.
fn read_record(r: &mut impl Read, what: &str) -> Result<Option<Vec<u8>>, BackupError> {
    let mut len = [0u8; 4];
    if !read_full(r, &mut len, what)? {
        return Ok(None);
    }
    let len = u32::from_be_bytes(len);
    if len > MAX_RECORD_BYTES {
        return Err(BackupError::TooLarge {
            what: what.to_owned(),
            bytes: len,
        });
    }
    // Read through `take` so a lying length costs only what the file really holds.
    let mut bytes = Vec::new();
    r.take(u64::from(len)).read_to_end(&mut bytes)?;
    if bytes.len() != len as usize {
        return Err(BackupError::Truncated(what.to_owned()));
    }
    Ok(Some(bytes))
}

/// Writes a backup: the header, then each block in order.
pub struct BackupWriter<W: Write> {
    w: W,
    promised: u64,
    next: u64,
}

impl<W: Write> BackupWriter<W> {
    pub fn new(mut w: W, header: &pb::BackupHeader) -> Result<Self, BackupError> {
        if header.height == u64::MAX {
            return Err(BackupError::OutOfOrder {
                expected: u64::MAX - 1,
                found: u64::MAX,
            });
        }
        w.write_all(MAGIC)?;
        write_record(&mut w, &header.encode_to_vec())?;
        Ok(Self {
            w,
            promised: header.height,
            next: 1,
        })
    }

    /// Appends the next block; heights must run 1, 2, … up to the header's.
    pub fn block(&mut self, block: &pb::GetBlockResponse) -> Result<(), BackupError> {
        let found = height_of(block);
        if found != self.next || found > self.promised {
            return Err(BackupError::OutOfOrder {
                expected: self.next,
                found,
            });
        }
        write_record(&mut self.w, &block.encode_to_vec())?;
        self.next += 1;
        Ok(())
    }

    /// The heights still to write before the backup is complete.
    pub fn remaining(&self) -> u64 {
        (self.promised + 1).saturating_sub(self.next)
    }

    /// Checks every promised block was written and returns the writer.
    pub fn finish(mut self) -> Result<W, BackupError> {
        if self.remaining() != 0 {
            return Err(BackupError::Incomplete {
                written: self.next - 1,
                promised: self.promised,
            });
        }
        self.w.flush()?;
        Ok(self.w)
    }
}

/// Reads a backup: its header, then its blocks in order.
pub struct BackupReader<R: Read> {
    r: R,
    header: pb::BackupHeader,
    next: u64,
}

impl<R: Read> BackupReader<R> {
    pub fn open(mut r: R) -> Result<Self, BackupError> {
        let mut magic = [0u8; 8];
        if !read_full(&mut r, &mut magic, "the magic")? || &magic != MAGIC {
            return Err(BackupError::NotABackup);
        }
        let bytes = read_record(&mut r, "the header")?
            .ok_or_else(|| BackupError::Truncated("the header".to_owned()))?;
        let header =
            pb::BackupHeader::decode(bytes.as_slice()).map_err(|source| BackupError::Decode {
                what: "the header".to_owned(),
                source,
            })?;
        if header.format != FORMAT {
            return Err(BackupError::Format(header.format));
        }
        Ok(Self { r, header, next: 1 })
    }

    pub fn header(&self) -> &pb::BackupHeader {
        &self.header
    }

    /// The next block, or none once the header's last height was read and the file
    /// ends there.
    pub fn next_block(&mut self) -> Result<Option<pb::GetBlockResponse>, BackupError> {
        let what = format!("block {}", self.next);
        if self.next > self.header.height {
            return match read_record(&mut self.r, &what)? {
                None => Ok(None),
                Some(_) => Err(BackupError::TrailingData(self.header.height)),
            };
        }
        let bytes =
            read_record(&mut self.r, &what)?.ok_or_else(|| BackupError::Truncated(what.clone()))?;
        let block = pb::GetBlockResponse::decode(bytes.as_slice())
            .map_err(|source| BackupError::Decode { what, source })?;
        let found = height_of(&block);
        if found != self.next {
            return Err(BackupError::OutOfOrder {
                expected: self.next,
                found,
            });
        }
        self.next += 1;
        Ok(Some(block))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(height: u64) -> pb::GetBlockResponse {
        pb::GetBlockResponse {
            block: Some(pb::Block {
                header: Some(pb::BlockHeader {
                    height,
                    ..Default::default()
                }),
                transactions: vec![vec![7; 10]],
            }),
            ..Default::default()
        }
    }

    fn backup(n: u64) -> Vec<u8> {
        let header = pb::BackupHeader {
            format: FORMAT.to_owned(),
            height: n,
            ..Default::default()
        };
        let mut w = BackupWriter::new(Vec::new(), &header).unwrap();
        for h in 1..=n {
            w.block(&block(h)).unwrap();
        }
        w.finish().unwrap()
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<u64>, BackupError> {
        let mut r = BackupReader::open(bytes)?;
        let mut heights = Vec::new();
        while let Some(b) = r.next_block()? {
            heights.push(height_of(&b));
        }
        Ok(heights)
    }

    #[test]
    fn a_backup_reads_back_block_by_block_and_any_cut_is_named() {
        let bytes = backup(3);
        assert_eq!(read_all(&bytes).unwrap(), [1, 2, 3]);
        for cut in 0..bytes.len() {
            assert!(
                read_all(&bytes[..cut]).is_err(),
                "cut at {cut} read as whole"
            );
        }
        let mut longer = bytes.clone();
        longer.extend_from_slice(&backup(1)[8..]);
        assert!(matches!(
            read_all(&longer),
            Err(BackupError::TrailingData(3))
        ));
        assert!(matches!(
            read_all(b"not a backup"),
            Err(BackupError::NotABackup)
        ));
    }

    #[test]
    fn a_writer_refuses_blocks_out_of_order_and_an_unfinished_backup() {
        let header = pb::BackupHeader {
            format: FORMAT.to_owned(),
            height: 2,
            ..Default::default()
        };
        let mut w = BackupWriter::new(Vec::new(), &header).unwrap();
        assert!(matches!(
            w.block(&block(2)),
            Err(BackupError::OutOfOrder {
                expected: 1,
                found: 2
            })
        ));
        w.block(&block(1)).unwrap();
        assert!(matches!(
            w.finish(),
            Err(BackupError::Incomplete {
                written: 1,
                promised: 2
            })
        ));
    }

    #[test]
    fn a_lying_length_is_refused_without_reading_that_much() {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&(MAX_RECORD_BYTES + 1).to_be_bytes());
        assert!(matches!(
            BackupReader::open(bytes.as_slice()),
            Err(BackupError::TooLarge { .. })
        ));
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&1_000_000u32.to_be_bytes());
        bytes.extend_from_slice(&[0; 10]);
        assert!(matches!(
            BackupReader::open(bytes.as_slice()),
            Err(BackupError::Truncated(_))
        ));
    }
}
