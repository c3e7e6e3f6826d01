//! The persistence area's error type.

use std::path::PathBuf;

use super::file::FORMAT_VERSION;

/// Why an AOF file, a manifest or a record could not be read or written.
///
/// Damage found *inside* a file's records is not an error: the reader reports it as the
/// file's [`super::file::FileEnd`], so a caller can decide whether it is a truncatable tail.
#[derive(Debug, thiserror::Error)]
pub enum AofError {
    /// The operating system refused a read, write, fsync or rename.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not start with a valid AOF header.
    #[error("{path}: not a sessiond AOF file: {problem}")]
    Header {
        /// The file.
        path: PathBuf,
        /// What is wrong with the header.
        problem: HeaderProblem,
    },
    /// The file is an AOF file of a format this build cannot read.
    #[error(
        "{path}: AOF format version {version} is not supported (this build reads {FORMAT_VERSION})"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// The version in its header.
        version: u32,
    },
    /// The manifest cannot be parsed.
    #[error("{path}:{line}: {problem}")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// The 1-based line (0 when the problem is the file as a whole).
        line: usize,
        /// What is wrong.
        problem: ManifestProblem,
    },
    /// An effect encodes to more than [`super::codec::MAX_PAYLOAD_LEN`] bytes.
    #[error("record of {len} bytes is over the 1 GiB limit")]
    RecordTooLarge {
        /// Bytes of the encoded payload.
        len: usize,
    },
    /// The encoder refused an effect (a bug: every [`super::Effect`] is encodable).
    #[error("cannot encode record: {0}")]
    Encode(String),
    /// Bytes that are not valid records where the loader may not truncate: anywhere but the
    /// tail of the last file, or anything but a torn tail.
    #[error("{path}: corrupt at offset {offset}: {what}; `sessiond check-aof` reports the details")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Offset of the first bad byte.
        offset: u64,
        /// What is wrong there.
        what: String,
    },
    /// The last file ends in a torn record and `aof-load-truncated` is `no`.
    #[error(
        "{path}: the last record, at offset {offset} ({bytes} bytes), is torn; start with \
         `aof-load-truncated yes` or run `sessiond check-aof --fix` to truncate it"
    )]
    TornTail {
        /// The file.
        path: PathBuf,
        /// Offset of the torn record.
        offset: u64,
        /// Bytes from there to the end.
        bytes: u64,
    },
    /// A valid record this build cannot apply (a value kind it does not have, a malformed
    /// packed session).
    #[error("{path}: the record at offset {offset} cannot be applied: {what}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// Offset of the record.
        offset: u64,
        /// What it holds.
        what: &'static str,
    },
    /// The directory holds AOF files with records but no manifest naming them.
    #[error(
        "{dir}: AOF files are present but appendonly.aof.manifest is missing; refusing to start over them"
    )]
    NoManifest {
        /// The AOF directory.
        dir: PathBuf,
    },
}

/// What is wrong with a file's header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderProblem {
    /// The file is shorter than a header.
    #[error("{len} bytes, shorter than the {need}-byte header")]
    Short {
        /// The file's length.
        len: usize,
        /// The header's length.
        need: usize,
    },
    /// The first bytes are not the magic.
    #[error("bad magic bytes")]
    Magic,
    /// The kind byte is neither base nor incremental.
    #[error("unknown file kind {0}")]
    Kind(u8),
    /// Reserved bytes are not zero.
    #[error("reserved header bytes are not zero")]
    Reserved,
}

/// What is wrong with a manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestProblem {
    /// The manifest is not UTF-8 text.
    #[error("not UTF-8 text")]
    NotText,
    /// A line lacks one of `file`, `seq`, `type`, or a key has no value.
    #[error("expected `file NAME seq N type b|i`, missing `{0}`")]
    Missing(&'static str),
    /// A file name that is not a plain name inside the AOF directory.
    #[error("bad file name {0:?}")]
    Name(String),
    /// A sequence number that is not a non-negative integer.
    #[error("bad seq {0:?}")]
    Seq(String),
    /// A type other than `b` (base) or `i` (incremental).
    #[error("bad type {0:?} (expected b or i)")]
    Type(String),
    /// No base file is listed.
    #[error("no base file")]
    NoBase,
    /// A base file after the first line, or a second base.
    #[error("the base file must be listed once, first")]
    BaseNotFirst,
    /// Incremental sequence numbers that do not increase.
    #[error("incremental seq {seq} does not follow {previous}")]
    Order {
        /// The sequence number on this line.
        seq: u64,
        /// The one before it.
        previous: u64,
    },
    /// The same file listed twice.
    #[error("file {0:?} listed twice")]
    Duplicate(String),
}
