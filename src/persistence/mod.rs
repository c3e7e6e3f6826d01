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
//! - [`effect`]: what a record says; [`capture`]: live state to effects.
//! - [`journal`]: appending effects and persisting them before replies (group commit).
//! - [`load`]: replaying the AOF at start-up; [`rewrite`]: compacting it in the background.
//! - [`codec`]: one record's bytes (the only module that knows bincode).
//! - [`file`](mod@file): a file's header; [`AofReader`] walks its records and classifies its end.
//! - [`manifest`]: the list of files; parsed, written atomically.
//! - [`check`]: `sessiond check-aof`.
//! - [`error`]: [`AofError`], the area's error type.

pub mod capture;
pub mod check;
pub mod codec;
pub mod effect;
pub mod error;
pub mod file;
pub mod journal;
pub mod load;
pub mod manifest;
pub mod rewrite;

pub use effect::{Effect, StoredEnding, StoredSession, StoredValue};
pub use error::AofError;
pub use file::{AofReader, Damage, DamageKind, FileEnd, FileKind, Next, Record};
pub use journal::{Journal, RewriteError};
pub use manifest::{Manifest, ManifestEntry};
