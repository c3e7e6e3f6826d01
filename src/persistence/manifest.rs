//! The manifest: which files make up the AOF, in replay order.
//!
//! `appendonly.aof.manifest` in the `dir` directory is text, one file per line, as in
//! Redis 7's multi-part AOF:
//!
//! ```text
//! file appendonly.aof.1.base.aof seq 1 type b
//! file appendonly.aof.1.incr.aof seq 1 type i
//! file appendonly.aof.2.incr.aof seq 2 type i
//! ```
//!
//! Exactly one base (`type b`), listed first, then the incremental files (`type i`) with
//! increasing `seq`. Keys may come in any order; unknown keys are ignored (room for later
//! additions); empty lines and lines starting with `#` are skipped. File names are plain
//! names inside the directory. The manifest is replaced atomically ([`Manifest::write`]), so
//! a reader sees the old list or the new one, never a mix.

use std::fmt;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::{AofError, ManifestProblem};
use super::file::FileKind;

/// The manifest's file name inside the AOF directory.
pub const MANIFEST_NAME: &str = "appendonly.aof.manifest";

/// The name of the base file with sequence number `seq`.
pub fn base_name(seq: u64) -> String {
    format!("appendonly.aof.{seq}.base.aof")
}

/// The name of the incremental file with sequence number `seq`.
pub fn incr_name(seq: u64) -> String {
    format!("appendonly.aof.{seq}.incr.aof")
}

/// One file the manifest lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestEntry {
    /// Its name inside the AOF directory.
    pub name: String,
    /// Its sequence number (bases and incremental files are numbered separately).
    pub seq: u64,
    /// Base or incremental.
    pub kind: FileKind,
}

/// The files of an AOF: one base, then the incremental files in replay order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// The snapshot replay starts from.
    pub base: ManifestEntry,
    /// The files replayed after the base, in order.
    pub incrementals: Vec<ManifestEntry>,
}

impl Manifest {
    /// Every file in replay order: the base, then the incremental files.
    pub fn files(&self) -> impl Iterator<Item = &ManifestEntry> {
        std::iter::once(&self.base).chain(&self.incrementals)
    }

    /// Parses manifest text. `path` labels errors.
    pub fn parse(text: &str, path: &Path) -> Result<Manifest, AofError> {
        let error = |line, problem| AofError::Manifest {
            path: path.to_path_buf(),
            line,
            problem,
        };
        let mut base: Option<ManifestEntry> = None;
        let mut incrementals: Vec<ManifestEntry> = Vec::new();
        let mut seen_line = false;
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let entry = parse_line(line).map_err(|problem| error(number, problem))?;
            let names = base.iter().chain(&incrementals);
            if names.into_iter().any(|e| e.name == entry.name) {
                return Err(error(number, ManifestProblem::Duplicate(entry.name)));
            }
            match entry.kind {
                FileKind::Base if seen_line => {
                    return Err(error(number, ManifestProblem::BaseNotFirst));
                }
                FileKind::Base => base = Some(entry),
                FileKind::Incremental => {
                    if let Some(previous) = incrementals.last().map(|e| e.seq)
                        && entry.seq <= previous
                    {
                        let problem = ManifestProblem::Order {
                            seq: entry.seq,
                            previous,
                        };
                        return Err(error(number, problem));
                    }
                    incrementals.push(entry);
                }
            }
            seen_line = true;
        }
        let base = base.ok_or_else(|| error(0, ManifestProblem::NoBase))?;
        Ok(Manifest { base, incrementals })
    }

    /// Reads and parses `dir/appendonly.aof.manifest`.
    pub fn read(dir: &Path) -> Result<Manifest, AofError> {
        let path = dir.join(MANIFEST_NAME);
        let bytes = std::fs::read(&path).map_err(|source| AofError::Io {
            path: path.clone(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|_| AofError::Manifest {
            path: path.clone(),
            line: 0,
            problem: ManifestProblem::NotText,
        })?;
        Manifest::parse(&text, &path)
    }

    /// Replaces `dir/appendonly.aof.manifest` atomically: writes a temporary file, fsyncs
    /// it, renames it over the manifest and fsyncs the directory, so after a crash the
    /// manifest is either the old one or this one, complete.
    pub fn write(&self, dir: &Path) -> Result<(), AofError> {
        let temp = dir.join(format!("{MANIFEST_NAME}.tmp"));
        let path = dir.join(MANIFEST_NAME);
        let io = |path: &PathBuf| {
            let path = path.clone();
            move |source| AofError::Io { path, source }
        };
        let mut file = File::create(&temp).map_err(io(&temp))?;
        file.write_all(self.to_string().as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io(&temp))?;
        drop(file);
        std::fs::rename(&temp, &path).map_err(io(&path))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&dir.to_path_buf()))
    }
}

impl fmt::Display for Manifest {
    /// The manifest's text, one `file NAME seq N type b|i` line per file.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for entry in self.files() {
            let kind = match entry.kind {
                FileKind::Base => 'b',
                FileKind::Incremental => 'i',
            };
            writeln!(f, "file {} seq {} type {kind}", entry.name, entry.seq)?;
        }
        Ok(())
    }
}

/// Parses one `key value ...` line.
fn parse_line(line: &str) -> Result<ManifestEntry, ManifestProblem> {
    let mut words = line.split_whitespace();
    let (mut name, mut seq, mut kind) = (None, None, None);
    while let Some(key) = words.next() {
        let value = words.next().ok_or(ManifestProblem::Missing("value"))?;
        match key {
            "file" => name = Some(value),
            "seq" => seq = Some(value),
            "type" => kind = Some(value),
            _ => {}
        }
    }
    let name = name.ok_or(ManifestProblem::Missing("file"))?;
    let seq = seq.ok_or(ManifestProblem::Missing("seq"))?;
    let kind = kind.ok_or(ManifestProblem::Missing("type"))?;
    if !is_plain_name(name) {
        return Err(ManifestProblem::Name(name.to_string()));
    }
    Ok(ManifestEntry {
        name: name.to_string(),
        seq: seq
            .parse()
            .map_err(|_| ManifestProblem::Seq(seq.to_string()))?,
        kind: match kind {
            "b" => FileKind::Base,
            "i" => FileKind::Incremental,
            other => return Err(ManifestProblem::Type(other.to_string())),
        },
    })
}

/// Whether `name` names a file inside the directory (no separators, not `.` or `..`), so a
/// manifest can never point a loader outside the AOF directory.
fn is_plain_name(name: &str) -> bool {
    name != "." && name != ".." && !name.contains(['/', '\\']) && !name.contains(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, AofError> {
        Manifest::parse(text, Path::new("m"))
    }

    fn problem(text: &str) -> (usize, ManifestProblem) {
        match parse(text) {
            Err(AofError::Manifest { line, problem, .. }) => (line, problem),
            other => panic!("{text:?} parsed as {other:?}"),
        }
    }

    fn entry(name: String, seq: u64, kind: FileKind) -> ManifestEntry {
        ManifestEntry { name, seq, kind }
    }

    fn sample() -> Manifest {
        Manifest {
            base: entry(base_name(3), 3, FileKind::Base),
            incrementals: vec![
                entry(incr_name(7), 7, FileKind::Incremental),
                entry(incr_name(8), 8, FileKind::Incremental),
            ],
        }
    }

    #[test]
    fn text_round_trips_in_redis_7_form() {
        let text = sample().to_string();
        assert_eq!(
            text,
            "file appendonly.aof.3.base.aof seq 3 type b\n\
             file appendonly.aof.7.incr.aof seq 7 type i\n\
             file appendonly.aof.8.incr.aof seq 8 type i\n"
        );
        assert_eq!(parse(&text).ok(), Some(sample()));
    }

    #[test]
    fn keys_in_any_order_comments_and_unknown_keys() {
        let text = "# written by sessiond\n\n  type b seq 1 file a.aof startoffset 0\n";
        let manifest = parse(text).expect("parses");
        assert_eq!(manifest.base, entry("a.aof".into(), 1, FileKind::Base));
        assert!(manifest.incrementals.is_empty());
    }

    #[test]
    fn bad_manifests_name_the_line() {
        let base = "file b seq 1 type b\n";
        assert_eq!(
            problem("file b seq 1\n"),
            (1, ManifestProblem::Missing("type"))
        );
        assert_eq!(
            problem("file b seq\n"),
            (1, ManifestProblem::Missing("value"))
        );
        assert_eq!(
            problem("file b seq -1 type b\n"),
            (1, ManifestProblem::Seq("-1".into()))
        );
        assert_eq!(
            problem("file b seq 1 type h\n"),
            (1, ManifestProblem::Type("h".into()))
        );
        assert_eq!(
            problem("file ../b seq 1 type b\n"),
            (1, ManifestProblem::Name("../b".into()))
        );
        assert_eq!(problem(""), (0, ManifestProblem::NoBase));
        assert_eq!(
            problem("file i seq 1 type i\n"),
            (0, ManifestProblem::NoBase)
        );
        assert_eq!(
            problem("file i seq 1 type i\nfile b seq 1 type b\n"),
            (2, ManifestProblem::BaseNotFirst)
        );
        assert_eq!(
            problem(&format!("{base}file b2 seq 2 type b\n")),
            (2, ManifestProblem::BaseNotFirst)
        );
        assert_eq!(
            problem(&format!("{base}file i seq 2 type i\nfile j seq 2 type i\n")),
            (
                3,
                ManifestProblem::Order {
                    seq: 2,
                    previous: 2
                }
            )
        );
        assert_eq!(
            problem(&format!("{base}file b seq 2 type i\n")),
            (2, ManifestProblem::Duplicate("b".into()))
        );
    }

    #[test]
    fn write_replaces_the_manifest_atomically() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join(MANIFEST_NAME), "old").expect("write");
        sample().write(dir.path()).expect("writes");
        assert_eq!(Manifest::read(dir.path()).ok(), Some(sample()));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("lists")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, [MANIFEST_NAME], "no temporary file is left behind");
        assert!(matches!(
            Manifest::read(&dir.path().join("missing")),
            Err(AofError::Io { .. })
        ));
    }
}
