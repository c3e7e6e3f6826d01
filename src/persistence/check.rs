//! `sessiond check-aof [--fix] DIR_OR_FILE`: verify every record of an AOF, and truncate a
//! torn tail on request.
//!
//! A directory is checked through its manifest, every listed file in replay order; a single
//! file is checked as if it were the last one. Only a torn tail ([`super::file::DamageKind::is_torn`]) of
//! the last file is fixable, and only when it is the only problem: corruption anywhere else
//! means acknowledged data may be gone, which a truncation would hide.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::AofError;
use super::file::{AofReader, Damage, FileEnd, FileKind, Next};
use super::manifest::Manifest;

/// What checking one file found.
#[derive(Debug)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// Its kind, from its header (`None` when the header could not be read).
    pub kind: Option<FileKind>,
    /// Valid records before the end or the first damage.
    pub records: u64,
    /// The file's length in bytes.
    pub bytes: u64,
    /// Whether it is the last file (the only one whose torn tail is truncatable).
    pub last: bool,
    /// What is wrong, if anything.
    pub problem: Option<Problem>,
}

/// What is wrong with one file.
#[derive(Debug)]
pub enum Problem {
    /// It could not be opened or read, or its header is not a valid AOF header.
    Unreadable(AofError),
    /// Its header says one kind, the manifest another.
    KindMismatch {
        /// What the manifest lists it as.
        listed: FileKind,
        /// What its header says.
        found: FileKind,
    },
    /// Bytes that are not valid records, from `damage.offset` to the end.
    Damaged(Damage),
}

impl FileReport {
    /// The damage a fix may truncate: a torn tail of the last file.
    fn torn_tail(&self) -> Option<&Damage> {
        match &self.problem {
            Some(Problem::Damaged(damage)) if self.last && damage.kind.is_torn() => Some(damage),
            _ => None,
        }
    }
}

impl fmt::Display for FileReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        let kind = self.kind.map_or("unknown kind", FileKind::name);
        let plural = if self.records == 1 { "" } else { "s" };
        write!(
            f,
            "{path}: {kind}, {} record{plural}, {} bytes: ",
            self.records, self.bytes
        )?;
        match &self.problem {
            None => write!(f, "ok"),
            Some(Problem::Unreadable(error)) => write!(f, "unreadable: {error}"),
            Some(Problem::KindMismatch { listed, found }) => write!(
                f,
                "the manifest lists it as {}, its header says {}",
                listed.name(),
                found.name()
            ),
            Some(Problem::Damaged(damage)) => {
                let what = if self.torn_tail().is_some() {
                    "torn tail"
                } else {
                    "CORRUPT"
                };
                write!(
                    f,
                    "{what} at offset {}: {} ({} bytes from there to the end)",
                    damage.offset, damage.kind, damage.bytes
                )?;
                if damage.kind.is_torn() && !self.last {
                    write!(f, "; not the last file, so this is corruption")?;
                }
                Ok(())
            }
        }
    }
}

/// What checking a directory or a file found.
#[derive(Debug)]
pub struct Report {
    /// One report per file, in replay order.
    pub files: Vec<FileReport>,
}

impl Report {
    /// Whether every file is valid to its end.
    pub fn is_valid(&self) -> bool {
        self.files.iter().all(|file| file.problem.is_none())
    }

    /// The torn tail of the last file, when it is the only problem (what `--fix` truncates).
    pub fn fixable(&self) -> Option<(&Path, &Damage)> {
        let mut problems = self.files.iter().filter(|file| file.problem.is_some());
        let file = problems.next()?;
        if problems.next().is_some() {
            return None;
        }
        file.torn_tail().map(|damage| (file.path.as_path(), damage))
    }
}

/// Checks `target`: a directory (through its manifest) or one AOF file.
pub fn check(target: &Path) -> Result<Report, AofError> {
    if target.is_dir() {
        let manifest = Manifest::read(target)?;
        let count = manifest.files().count();
        let files = manifest
            .files()
            .enumerate()
            .map(|(index, entry)| {
                let path = target.join(&entry.name);
                check_file(&path, Some(entry.kind), index + 1 == count)
            })
            .collect();
        Ok(Report { files })
    } else {
        Ok(Report {
            files: vec![check_file(target, None, true)],
        })
    }
}

/// Reads one file to its end. `listed` is the kind a manifest gives it.
fn check_file(path: &Path, listed: Option<FileKind>, last: bool) -> FileReport {
    let mut report = FileReport {
        path: path.to_path_buf(),
        kind: None,
        records: 0,
        bytes: 0,
        last,
        problem: None,
    };
    let io = |source| AofError::Io {
        path: path.to_path_buf(),
        source,
    };
    let opened = File::open(path).and_then(|file| Ok((file.metadata()?.len(), file)));
    let reader = opened
        .map_err(io)
        .and_then(|(len, file)| {
            report.bytes = len;
            AofReader::new(file, path)
        })
        .and_then(|mut reader| {
            report.kind = Some(reader.kind());
            loop {
                match reader.next_record()? {
                    Next::Record(_) => report.records += 1,
                    Next::End(end) => return Ok(end),
                }
            }
        });
    report.problem = match (reader, listed, report.kind) {
        (Err(error), ..) => Some(Problem::Unreadable(error)),
        (Ok(_), Some(listed), Some(found)) if listed != found => {
            Some(Problem::KindMismatch { listed, found })
        }
        (Ok(FileEnd::Clean), ..) => None,
        (Ok(FileEnd::Damaged(damage)), ..) => Some(Problem::Damaged(damage)),
    };
    report
}

/// Truncates `path` to `len` bytes and fsyncs it.
fn truncate(path: &Path, len: u64) -> Result<(), AofError> {
    OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|file| {
            file.set_len(len)?;
            file.sync_all()
        })
        .map_err(|source| AofError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// Runs `check-aof`: checks `target`, prints what it found to `out`, and with `fix`
/// truncates a torn tail. Returns whether the AOF is valid at the end.
pub fn run(target: &Path, fix: bool, out: &mut impl Write) -> std::io::Result<bool> {
    let report = match check(target) {
        Ok(report) => report,
        Err(error) => {
            writeln!(out, "{error}")?;
            writeln!(out, "AOF is not valid")?;
            return Ok(false);
        }
    };
    for file in &report.files {
        writeln!(out, "{file}")?;
    }
    if report.is_valid() {
        writeln!(out, "AOF is valid")?;
        return Ok(true);
    }
    match (fix, report.fixable()) {
        (true, Some((path, damage))) => {
            if let Err(error) = truncate(path, damage.offset) {
                writeln!(out, "cannot fix: {error}")?;
                return Ok(false);
            }
            writeln!(
                out,
                "Fixed: truncated {} to {} bytes, removing {} bytes from offset {}",
                path.display(),
                damage.offset,
                damage.bytes,
                damage.offset
            )?;
            writeln!(out, "AOF is valid")?;
            Ok(true)
        }
        (true, None) => {
            writeln!(
                out,
                "Not fixing: corruption that is not a torn tail of the last file cannot be \
                 truncated away without losing the records after it; restore from a backup"
            )?;
            writeln!(out, "AOF is not valid")?;
            Ok(false)
        }
        (false, fixable) => {
            if fixable.is_some() {
                writeln!(out, "The last file has a torn tail: --fix truncates it")?;
            }
            writeln!(out, "AOF is not valid")?;
            Ok(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persistence::codec::{self, tests::samples};
    use crate::persistence::file::encode_header;
    use crate::persistence::manifest::{ManifestEntry, base_name, incr_name};

    fn write_file(path: &Path, kind: FileKind, count: usize) -> u64 {
        let mut buf = Vec::new();
        encode_header(kind, &mut buf);
        for effect in samples().iter().cycle().take(count) {
            codec::encode(effect, &mut buf).expect("encodes");
        }
        std::fs::write(path, &buf).expect("writes");
        buf.len() as u64
    }

    fn dir_with_two_files() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        write_file(&dir.path().join(base_name(1)), FileKind::Base, 4);
        write_file(&dir.path().join(incr_name(1)), FileKind::Incremental, 2);
        let entry = |name, kind| ManifestEntry { name, seq: 1, kind };
        Manifest {
            base: entry(base_name(1), FileKind::Base),
            incrementals: vec![entry(incr_name(1), FileKind::Incremental)],
        }
        .write(dir.path())
        .expect("manifest");
        dir
    }

    fn run_text(target: &Path, fix: bool) -> (bool, String) {
        let mut out = Vec::new();
        let valid = run(target, fix, &mut out).expect("writes to memory");
        (valid, String::from_utf8(out).expect("text"))
    }

    #[test]
    fn a_valid_directory_reports_each_file() {
        let dir = dir_with_two_files();
        let report = check(dir.path()).expect("checks");
        let counts: Vec<_> = report.files.iter().map(|f| (f.records, f.last)).collect();
        assert_eq!(counts, [(4, false), (2, true)]);
        assert!(report.is_valid());
    }

    #[test]
    fn a_torn_earlier_file_is_corruption_and_not_fixed() {
        let dir = dir_with_two_files();
        let base = dir.path().join(base_name(1));
        let len = std::fs::metadata(&base).expect("stat").len();
        truncate(&base, len - 1).expect("truncates");
        let (valid, text) = run_text(dir.path(), true);
        assert!(!valid, "{text}");
        assert!(text.contains("CORRUPT at offset"), "{text}");
        assert!(text.contains("Not fixing"), "{text}");
        assert_eq!(std::fs::metadata(&base).expect("stat").len(), len - 1);
    }

    #[test]
    fn a_kind_that_disagrees_with_the_manifest_is_a_problem() {
        let dir = dir_with_two_files();
        write_file(&dir.path().join(incr_name(1)), FileKind::Base, 2);
        let (valid, text) = run_text(dir.path(), true);
        assert!(!valid);
        assert!(
            text.contains("lists it as incremental, its header says base"),
            "{text}"
        );
    }

    #[test]
    fn a_missing_file_or_manifest_is_reported() {
        let dir = dir_with_two_files();
        std::fs::remove_file(dir.path().join(incr_name(1))).expect("removes");
        let (valid, text) = run_text(dir.path(), false);
        assert!(!valid);
        assert!(text.contains("unreadable"), "{text}");
        let empty = tempfile::tempdir().expect("temp dir");
        let (valid, text) = run_text(empty.path(), false);
        assert!(!valid);
        assert!(text.contains("appendonly.aof.manifest"), "{text}");
    }
}
