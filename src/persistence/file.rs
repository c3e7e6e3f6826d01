//! One AOF file: its header, and a reader that walks its records and classifies its end.
//!
//! ```text
//! offset  size  field
//!      0    12  magic     b"SESSIOND-AOF"
//!     12     4  version   u32 LE, FORMAT_VERSION
//!     16     1  kind      1 = base, 2 = incremental
//!     17     3  reserved  zero
//!     20     …  records   back to back, each framed as in `codec`
//! ```
//!
//! How a file ends decides what a loader or `check-aof --fix` may do (see [`DamageKind`]):
//! only a *torn tail* of the last file is truncatable; anything else stops with the file and
//! the offset of the first bad byte.

use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use super::codec::{self, Corruption, DecodeError};
use super::effect::Effect;
use super::error::{AofError, HeaderProblem};

/// The first bytes of every AOF file.
pub const MAGIC: &[u8; 12] = b"SESSIOND-AOF";

/// The format this build writes and reads: header, framing and [`Effect`] encoding.
pub const FORMAT_VERSION: u32 = 1;

/// Bytes of the header; the first record starts here.
pub const HEADER_LEN: usize = 20;

/// How many bytes the reader asks the OS for at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Whether a file is a base (a snapshot written by a rewrite) or an incremental file (the
/// effects logged after that snapshot).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A snapshot of the whole state, written by a rewrite.
    Base,
    /// Effects appended after the base, in order.
    Incremental,
}

impl FileKind {
    /// The byte in the file header.
    fn code(self) -> u8 {
        match self {
            FileKind::Base => 1,
            FileKind::Incremental => 2,
        }
    }

    /// The word used in reports.
    pub fn name(self) -> &'static str {
        match self {
            FileKind::Base => "base",
            FileKind::Incremental => "incremental",
        }
    }
}

/// Appends the header of a `kind` file to `buf`: the first bytes a writer puts in a new file
/// (and fsyncs before a manifest names it).
pub fn encode_header(kind: FileKind, buf: &mut Vec<u8>) {
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    buf.push(kind.code());
    buf.extend_from_slice(&[0; 3]);
}

/// Checks a header and returns the file's kind. `path` only labels errors.
pub fn decode_header(bytes: &[u8], path: &Path) -> Result<FileKind, AofError> {
    let problem = |problem| AofError::Header {
        path: path.to_path_buf(),
        problem,
    };
    let Some(header) = bytes.get(..HEADER_LEN) else {
        return Err(problem(HeaderProblem::Short {
            len: bytes.len(),
            need: HEADER_LEN,
        }));
    };
    if &header[..12] != MAGIC {
        return Err(problem(HeaderProblem::Magic));
    }
    let version = u32::from_le_bytes([header[12], header[13], header[14], header[15]]);
    if version != FORMAT_VERSION {
        return Err(AofError::Version {
            path: path.to_path_buf(),
            version,
        });
    }
    let kind = match header[16] {
        1 => FileKind::Base,
        2 => FileKind::Incremental,
        other => return Err(problem(HeaderProblem::Kind(other))),
    };
    if header[17..] != [0; 3] {
        return Err(problem(HeaderProblem::Reserved));
    }
    Ok(kind)
}

/// A record the reader decoded, and where. [`AofReader::visit`] lends records that borrow
/// the reader's buffer; [`AofReader::next_record`] returns owned ones.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<'a> {
    /// Byte offset of the record's frame in the file.
    pub offset: u64,
    /// Bytes of the record, frame included.
    pub len: u64,
    /// What it says.
    pub effect: Effect<'a>,
}

impl Record<'_> {
    /// The same record owning its data.
    pub fn into_owned(self) -> Record<'static> {
        Record {
            offset: self.offset,
            len: self.len,
            effect: self.effect.into_owned(),
        }
    }
}

/// How a file ends, after its last valid record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileEnd {
    /// Every byte after the header belongs to a valid record.
    Clean,
    /// The bytes from `offset` to the end of the file are not valid records.
    Damaged(Damage),
}

/// Bytes at the end of a file that are not valid records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Offset of the first byte that is not part of a valid record (where a fix truncates).
    pub offset: u64,
    /// Bytes from `offset` to the end of the file.
    pub bytes: u64,
    /// What is wrong there.
    pub kind: DamageKind,
}

/// What is wrong at a damaged offset, and whether it looks like an interrupted append.
///
/// The rule: damage is a **torn tail** when it is what a crash during an append can leave
/// behind — [`Incomplete`](DamageKind::Incomplete), [`BadLastRecord`](DamageKind::BadLastRecord)
/// or [`ZeroFilled`](DamageKind::ZeroFilled). Only a torn tail of the *last* file is
/// truncatable; a torn tail of an earlier file, and every other kind anywhere, is corruption:
/// files before the last were complete and fsynced before the next one was started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DamageKind {
    /// The file ends inside the record at the offset (inside its frame, or before its
    /// declared payload length), and no valid record starts after it: an append cut short.
    Incomplete,
    /// The record at the offset is complete and ends exactly at the end of the file, but fails
    /// its checksum or decoding: a crash can persist a file's new length before all of its
    /// data blocks, so the last record of a file may hold stale bytes.
    BadLastRecord(Corruption),
    /// Every byte from the offset to the end of the file is zero: the file's length was
    /// extended but its blocks were never written (what several file systems show after a
    /// crash). A zero frame is never a valid record, as payloads are never empty.
    ZeroFilled,
    /// A record that fails its checksum or decoding, with more bytes after it.
    Corrupt(Corruption),
    /// The file ends inside the record at the offset by its declared length, yet a valid
    /// record starts at `valid_at` inside that span: the length field itself is damaged.
    LengthMismatch {
        /// Offset of the valid record found after the damaged one.
        valid_at: u64,
    },
}

impl DamageKind {
    /// Whether this damage looks like an interrupted append (truncatable in the last file).
    pub fn is_torn(&self) -> bool {
        matches!(
            self,
            DamageKind::Incomplete | DamageKind::BadLastRecord(_) | DamageKind::ZeroFilled
        )
    }
}

impl std::fmt::Display for DamageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DamageKind::Incomplete => write!(f, "the last record is incomplete"),
            DamageKind::BadLastRecord(why) => write!(f, "the last record is damaged: {why}"),
            DamageKind::ZeroFilled => write!(f, "zero bytes where records should be"),
            DamageKind::Corrupt(why) => write!(f, "corrupt record: {why}"),
            DamageKind::LengthMismatch { valid_at } => write!(
                f,
                "record length runs past the end of the file, yet a valid record starts at \
                 offset {valid_at}: damaged length"
            ),
        }
    }
}

/// What [`AofReader::next_record`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// The next valid record.
    Record(Record<'static>),
    /// No more records: how the file ends. Every later call returns it again.
    End(FileEnd),
}

/// Reads an AOF file from its header to its end, one record at a time, with bounded memory
/// (a buffer as large as the largest record).
#[derive(Debug)]
pub struct AofReader<R> {
    source: R,
    path: PathBuf,
    kind: FileKind,
    /// Bytes read and not yet consumed are `buf[pos..]`.
    buf: Vec<u8>,
    pos: usize,
    /// File offset of `buf[pos]`.
    offset: u64,
    /// Position in the file of the record at `buf[pos]` (0 for the first).
    index: u64,
    /// The source has nothing more.
    eof: bool,
    end: Option<FileEnd>,
}

impl<R: Read> AofReader<R> {
    /// Reads and checks the header of `source`. `path` labels errors.
    pub fn new(mut source: R, path: impl Into<PathBuf>) -> Result<AofReader<R>, AofError> {
        let path = path.into();
        let mut header = Vec::with_capacity(HEADER_LEN);
        (&mut source)
            .take(HEADER_LEN as u64)
            .read_to_end(&mut header)
            .map_err(|source| AofError::Io {
                path: path.clone(),
                source,
            })?;
        let kind = decode_header(&header, &path)?;
        Ok(AofReader {
            source,
            path,
            kind,
            buf: Vec::new(),
            pos: 0,
            offset: HEADER_LEN as u64,
            index: 0,
            eof: false,
            end: None,
        })
    }

    /// The file's kind, from its header.
    pub fn kind(&self) -> FileKind {
        self.kind
    }

    /// The next record, or how the file ends. Fails only when reading fails.
    pub fn next_record(&mut self) -> Result<Next, AofError> {
        Ok(
            match self.visit(|record| ControlFlow::Break(record.into_owned()))? {
                ControlFlow::Break(record) => Next::Record(record),
                ControlFlow::Continue(end) => Next::End(end),
            },
        )
    }

    /// Lends each record in turn to `f`, borrowing the reader's buffer (loading copies only
    /// what it keeps), until `f` breaks or the file ends; then says how it ends. Fails only
    /// when reading fails.
    pub fn visit<B>(
        &mut self,
        f: impl FnMut(Record<'_>) -> ControlFlow<B>,
    ) -> Result<ControlFlow<B, FileEnd>, AofError> {
        self.visit_selected(|_| true, f)
    }

    /// As [`AofReader::visit`], but lends only the records whose position in the file
    /// (0, 1, 2, …) `select` picks. The others are skipped by their frame alone, their
    /// checksum and payload unchecked: for readers that share a file, each checking the
    /// records it takes.
    pub fn visit_selected<B>(
        &mut self,
        select: impl Fn(u64) -> bool,
        mut f: impl FnMut(Record<'_>) -> ControlFlow<B>,
    ) -> Result<ControlFlow<B, FileEnd>, AofError> {
        loop {
            if let Some(end) = &self.end {
                return Ok(ControlFlow::Continue(end.clone()));
            }
            let rest = &self.buf[self.pos..];
            let outcome = if select(self.index) {
                codec::decode(rest).map(|(effect, len)| (Some(effect), len))
            } else {
                codec::record_len(rest).map(|len| (None, len))
            };
            match outcome {
                Ok((effect, len)) => {
                    let flow = effect.map(|effect| {
                        f(Record {
                            offset: self.offset,
                            len: len as u64,
                            effect,
                        })
                    });
                    self.pos += len;
                    self.offset += len as u64;
                    self.index += 1;
                    if let Some(ControlFlow::Break(value)) = flow {
                        return Ok(ControlFlow::Break(value));
                    }
                }
                Err(DecodeError::Incomplete { needed, .. }) if !self.eof => self.fill(needed)?,
                Err(error) => {
                    let end = self.classify(error)?;
                    self.end = Some(end);
                }
            }
        }
    }

    /// Reads until `needed` unconsumed bytes are buffered or the source ends.
    fn fill(&mut self, needed: usize) -> Result<(), AofError> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        while self.buf.len() < needed && !self.eof {
            // Grow with the bytes that arrive, not with the declared length: a torn or
            // damaged length must not allocate what the file does not hold.
            let want = (needed - self.buf.len()).clamp(READ_CHUNK, 16 * READ_CHUNK);
            let read = self.read_some(want)?;
            self.eof = read == 0;
        }
        Ok(())
    }

    /// Appends up to `want` bytes from the source to the buffer; 0 at the end.
    fn read_some(&mut self, want: usize) -> Result<usize, AofError> {
        let start = self.buf.len();
        self.buf.resize(start + want, 0);
        let read = loop {
            match self.source.read(&mut self.buf[start..]) {
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        self.buf.truncate(start + *read.as_ref().unwrap_or(&0));
        read.map_err(|source| AofError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Decides what the bytes that failed to decode at the current offset are (module rule).
    fn classify(&mut self, error: DecodeError) -> Result<FileEnd, AofError> {
        let rest = &self.buf[self.pos..];
        if rest.is_empty() && self.eof {
            return Ok(FileEnd::Clean);
        }
        let offset = self.offset;
        let kind = match error {
            DecodeError::Incomplete { .. } => match first_valid_record(rest) {
                Some(at) => DamageKind::LengthMismatch {
                    valid_at: offset + at as u64,
                },
                None if rest.iter().all(|&b| b == 0) => DamageKind::ZeroFilled,
                None => DamageKind::Incomplete,
            },
            DecodeError::Corrupt(why) => {
                let (bytes, all_zero) = self.drain_rest()?;
                let damage = if all_zero {
                    DamageKind::ZeroFilled
                } else if why.record_len().map(|len| len as u64) == Some(bytes) {
                    DamageKind::BadLastRecord(why)
                } else {
                    DamageKind::Corrupt(why)
                };
                return Ok(FileEnd::Damaged(Damage {
                    offset,
                    bytes,
                    kind: damage,
                }));
            }
        };
        Ok(FileEnd::Damaged(Damage {
            offset,
            bytes: rest.len() as u64,
            kind,
        }))
    }

    /// Consumes the rest of the file: how many bytes it holds and whether all are zero.
    fn drain_rest(&mut self) -> Result<(u64, bool), AofError> {
        let mut bytes = 0u64;
        let mut all_zero = true;
        loop {
            let rest = &self.buf[self.pos..];
            bytes += rest.len() as u64;
            all_zero &= rest.iter().all(|&b| b == 0);
            self.buf.clear();
            self.pos = 0;
            if self.eof || self.read_some(READ_CHUNK)? == 0 {
                self.eof = true;
                return Ok((bytes, all_zero));
            }
        }
    }
}

/// The offset of the first complete, valid record that starts inside `bytes` after its
/// first byte, if any. A torn tail holds none (its bytes are a prefix of one record); a
/// damaged length that claims more bytes than the file has usually hides some.
fn first_valid_record(bytes: &[u8]) -> Option<usize> {
    (1..bytes.len()).find(|&at| codec::decode(&bytes[at..]).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persistence::codec::tests::samples;

    fn file(kind: FileKind, effects: &[Effect]) -> (Vec<u8>, Vec<u64>) {
        let mut buf = Vec::new();
        encode_header(kind, &mut buf);
        let mut offsets = Vec::new();
        for effect in effects {
            offsets.push(buf.len() as u64);
            codec::encode(effect, &mut buf).expect("encodes");
        }
        (buf, offsets)
    }

    /// Every record, then the end.
    fn read_all(bytes: &[u8]) -> (Vec<Record<'static>>, FileEnd) {
        let mut reader = AofReader::new(bytes, "test.aof").expect("header");
        let mut records = Vec::new();
        loop {
            match reader.next_record().expect("reads") {
                Next::Record(record) => records.push(record),
                Next::End(end) => {
                    assert_eq!(reader.next_record().expect("reads"), Next::End(end.clone()));
                    return (records, end);
                }
            }
        }
    }

    fn damaged(end: FileEnd) -> Damage {
        match end {
            FileEnd::Damaged(damage) => damage,
            FileEnd::Clean => panic!("expected damage, the file is clean"),
        }
    }

    #[test]
    fn header_layout() {
        let mut buf = Vec::new();
        encode_header(FileKind::Incremental, &mut buf);
        assert_eq!(buf.len(), HEADER_LEN);
        assert_eq!(&buf[..12], b"SESSIOND-AOF");
        assert_eq!(buf[12..], [1, 0, 0, 0, 2, 0, 0, 0]);
        let path = Path::new("x");
        assert_eq!(decode_header(&buf, path).ok(), Some(FileKind::Incremental));
    }

    #[test]
    fn bad_headers_are_refused() {
        let path = Path::new("x");
        let mut good = Vec::new();
        encode_header(FileKind::Base, &mut good);
        let problem = |bytes: &[u8]| match decode_header(bytes, path) {
            Err(AofError::Header { problem, .. }) => Some(problem),
            _ => None,
        };
        assert_eq!(
            problem(&good[..HEADER_LEN - 1]),
            Some(HeaderProblem::Short {
                len: HEADER_LEN - 1,
                need: HEADER_LEN
            })
        );
        let mut bad = good.clone();
        bad[0] = b's';
        assert_eq!(problem(&bad), Some(HeaderProblem::Magic));
        let mut bad = good.clone();
        bad[16] = 3;
        assert_eq!(problem(&bad), Some(HeaderProblem::Kind(3)));
        let mut bad = good.clone();
        bad[19] = 1;
        assert_eq!(problem(&bad), Some(HeaderProblem::Reserved));
        let mut bad = good;
        bad[12] = 2;
        assert!(matches!(
            decode_header(&bad, path),
            Err(AofError::Version { version: 2, .. })
        ));
    }

    #[test]
    fn reads_every_record_of_a_clean_file() {
        let effects = samples();
        let (bytes, offsets) = file(FileKind::Base, &effects);
        let (records, end) = read_all(&bytes);
        assert_eq!(end, FileEnd::Clean);
        assert_eq!(records.len(), effects.len());
        for ((record, effect), offset) in records.iter().zip(&effects).zip(&offsets) {
            assert_eq!(&record.effect, effect);
            assert_eq!(record.offset, *offset);
        }
        let (records, end) = read_all(&bytes[..HEADER_LEN]);
        assert_eq!((records.len(), end), (0, FileEnd::Clean));
    }

    #[test]
    fn a_cut_at_every_offset_of_the_last_record_is_a_torn_tail() {
        let effects = samples();
        let (bytes, offsets) = file(FileKind::Incremental, &effects);
        let last = offsets[offsets.len() - 1];
        for cut in last + 1..bytes.len() as u64 {
            let (records, end) = read_all(&bytes[..cut as usize]);
            assert_eq!(records.len(), effects.len() - 1, "cut at {cut}");
            let damage = damaged(end);
            assert_eq!(
                (damage.offset, damage.bytes),
                (last, cut - last),
                "cut at {cut}"
            );
            assert!(damage.kind.is_torn(), "cut at {cut}: {:?}", damage.kind);
        }
    }

    #[test]
    fn a_flipped_byte_in_an_earlier_record_is_corruption_at_its_offset() {
        let effects = samples();
        let (bytes, offsets) = file(FileKind::Base, &effects);
        let (at, next) = (offsets[5] as usize, offsets[6] as usize);
        for flip in at + 4..next {
            let mut bad = bytes.clone();
            bad[flip] ^= 0x01;
            let (records, end) = read_all(&bad);
            assert_eq!(records.len(), 5, "flip at {flip}");
            let damage = damaged(end);
            assert_eq!(damage.offset, at as u64, "flip at {flip}");
            assert_eq!(damage.bytes, (bytes.len() - at) as u64);
            assert!(
                matches!(
                    damage.kind,
                    DamageKind::Corrupt(Corruption::Checksum { .. })
                ),
                "flip at {flip}: {:?}",
                damage.kind
            );
        }
    }

    #[test]
    fn a_damaged_length_is_never_taken_for_a_torn_tail() {
        let effects = samples();
        let (bytes, offsets) = file(FileKind::Base, &effects);
        let at = offsets[5] as usize;
        for (byte, value) in [(0, 0x00), (0, 0xff), (1, 0x10), (2, 0x01), (3, 0x40)] {
            let mut bad = bytes.clone();
            bad[at + byte] = value;
            let damage = damaged(read_all(&bad).1);
            assert_eq!(damage.offset, at as u64);
            assert!(
                !damage.kind.is_torn(),
                "length byte {byte} = {value:#x}: {:?}",
                damage.kind
            );
        }
        // Longer than the rest of the file: a valid record starts inside the claimed span.
        let mut bad = bytes.clone();
        bad[at + 2] = 0x01;
        assert_eq!(
            damaged(read_all(&bad).1).kind,
            DamageKind::LengthMismatch {
                valid_at: offsets[6]
            }
        );
    }

    #[test]
    fn a_bad_last_record_that_reaches_the_end_is_torn() {
        let (mut bytes, offsets) = file(FileKind::Incremental, &samples());
        let last = offsets[offsets.len() - 1];
        let end = bytes.len() - 1;
        bytes[end] ^= 0xff;
        let damage = damaged(read_all(&bytes).1);
        assert_eq!(
            (damage.offset, damage.bytes),
            (last, bytes.len() as u64 - last)
        );
        assert!(matches!(
            damage.kind,
            DamageKind::BadLastRecord(Corruption::Checksum { .. })
        ));
    }

    #[test]
    fn a_zero_filled_tail_is_torn() {
        let (mut bytes, offsets) = file(FileKind::Incremental, &samples()[..3]);
        let clean_len = bytes.len() as u64;
        for zeros in [1, 7, 8, 9, 100, 70_000] {
            let mut padded = bytes.clone();
            padded.resize(padded.len() + zeros, 0);
            let (records, end) = read_all(&padded);
            assert_eq!(records.len(), 3);
            assert_eq!(
                damaged(end),
                Damage {
                    offset: clean_len,
                    bytes: zeros as u64,
                    kind: DamageKind::ZeroFilled
                },
                "{zeros} zeros"
            );
        }
        // Zeros over the middle of the last record, then to the end.
        let from = offsets[2] as usize + 3;
        bytes[from..].fill(0);
        let damage = damaged(read_all(&bytes).1);
        assert_eq!(damage.offset, offsets[2]);
        assert!(damage.kind.is_torn(), "{:?}", damage.kind);
    }

    #[test]
    fn large_records_are_read_across_chunks() {
        let big = Effect::Set {
            namespace: "n".into(),
            db: 0,
            key: b"k".to_vec().into(),
            value: crate::persistence::effect::StoredValue::String(
                vec![b'x'; 3 * READ_CHUNK].into(),
            ),
            expire_at: 0,
        };
        let effects = vec![big.clone(), samples()[0].clone(), big];
        let (bytes, _) = file(FileKind::Base, &effects);
        let (records, end) = read_all(&bytes);
        assert_eq!(end, FileEnd::Clean);
        let read: Vec<Effect> = records.into_iter().map(|r| r.effect).collect();
        assert_eq!(read, effects);
    }
}
