//! Persistence: the append-only file (AOF).
//!
//! ```text
//! dir/appendonly.aof.manifest          which files, in replay order   (manifest)
//! dir/appendonly.aof.<seq>.base.aof    header + records: a snapshot   (file)
//! dir/appendonly.aof.<seq>.incr.aof    header + records: what followed
//!
//! record = u32 length | u32 CRC32C | payload (bincode of one Effect)  (codec)
//! ```
//!
//! Every write is logged as its [`Effect`]: absolute, idempotent state, never the command.
//! The byte-level format and the torn-versus-corrupt rule are specified in
//! `docs/aof-format.md`.
//!
//! - [`effect`]: what a record says.
//! - [`codec`]: one record's bytes (the only module that knows bincode).
//! - [`file`](mod@file): a file's header; [`AofReader`] walks its records and classifies its end.
//! - [`manifest`]: the list of files; parsed, written atomically.
//! - [`check`]: `sessiond check-aof`.
//! - [`error`]: [`AofError`], the area's error type.

pub mod check;
pub mod codec;
pub mod effect;
pub mod error;
pub mod file;
pub mod manifest;

pub use effect::{Effect, StoredEnding, StoredSession, StoredValue};
pub use error::AofError;
pub use file::{AofReader, Damage, DamageKind, FileEnd, FileKind, Next, Record};
pub use manifest::{Manifest, ManifestEntry};
