//! `sessiond check-aof [--fix] DIR_OR_FILE`, run as the real binary on files built with the
//! library's own encoder: torn tails at every offset, corruption in the middle, a manifest
//! directory, bad headers.

use std::path::{Path, PathBuf};
use std::process::Command;

use sessiond::persistence::file::{FileKind, encode_header};
use sessiond::persistence::manifest::{Manifest, ManifestEntry, base_name, incr_name};
use sessiond::persistence::{Effect, StoredSession, StoredValue, codec};

/// What one run printed, and whether it exited 0.
struct Run {
    success: bool,
    stdout: String,
}

fn check_aof(args: &[&Path]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_sessiond"))
        .arg("check-aof")
        .args(args)
        .output()
        .expect("run sessiond check-aof");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.is_empty(), "check-aof wrote to stderr: {stderr}");
    Run {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
    }
}

fn check(target: &Path) -> Run {
    check_aof(&[target])
}

fn fix(target: &Path) -> Run {
    check_aof(&[Path::new("--fix"), target])
}

/// The `i`th of a few different effects, hashes (whole and by fields) among them.
fn effect(i: usize) -> Effect<'static> {
    let namespace: std::borrow::Cow<'static, str> = "default".into();
    match i % 6 {
        0 => Effect::Set {
            namespace,
            db: 0,
            key: format!("key:{i}").into_bytes().into(),
            value: StoredValue::String(format!("value {i}").into_bytes().into()),
            expire_at: 1_700_000_000_000 + i as u64,
        },
        1 => Effect::SessionPut {
            namespace,
            session: StoredSession {
                id: [i as u8; 16],
                user: b"alice".to_vec().into(),
                created_at: 1_700_000_000_000,
                last_access: 1_700_000_000_000,
                idle_timeout_s: 1800,
                absolute_deadline: 0,
                version: i as u64,
                ending: None,
                fields: vec![(b"cart".to_vec().into(), b"2 items".to_vec().into())],
            },
        },
        2 => Effect::Del {
            namespace,
            db: 1,
            keys: vec![format!("key:{i}").into_bytes().into()],
        },
        3 => Effect::Set {
            namespace,
            db: 0,
            key: format!("hash:{i}").into_bytes().into(),
            value: StoredValue::Hash(vec![
                (b"user_id".to_vec().into(), b"42".to_vec().into()),
                (
                    b"csrf".to_vec().into(),
                    format!("token {i}").into_bytes().into(),
                ),
            ]),
            expire_at: 1_700_000_000_000,
        },
        4 => Effect::HashFields {
            namespace,
            db: 0,
            key: format!("hash:{i}").into_bytes().into(),
            set: vec![(
                b"field".to_vec().into(),
                format!("value {i}").into_bytes().into(),
            )],
            del: vec![b"gone".to_vec().into()],
            expire_at: 0,
        },
        _ => Effect::SessionTouch {
            namespace,
            id: [i as u8; 16],
            last_access: 1_700_000_000_500,
        },
    }
}

/// A file of `count` records: its bytes and each record's offset.
fn build(kind: FileKind, count: usize) -> (Vec<u8>, Vec<usize>) {
    let mut bytes = Vec::new();
    encode_header(kind, &mut bytes);
    let mut offsets = Vec::new();
    for i in 0..count {
        offsets.push(bytes.len());
        codec::encode(&effect(i), &mut bytes).expect("encodes");
    }
    (bytes, offsets)
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("write {path:?}: {e}"));
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {path:?}: {e}"))
}

#[test]
fn help_mentions_check_aof() {
    let output = Command::new(env!("CARGO_BIN_EXE_sessiond"))
        .arg("--help")
        .output()
        .expect("run sessiond --help");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("sessiond check-aof [--fix] DIR_OR_FILE"),
        "{text}"
    );
}

#[test]
fn a_valid_file_is_valid() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("one.aof");
    let (bytes, _) = build(FileKind::Incremental, 5);
    write(&path, &bytes);
    let run = check(&path);
    assert!(run.success, "{}", run.stdout);
    let summary = format!("incremental, 5 records, {} bytes: ok", bytes.len());
    assert!(run.stdout.contains(&summary), "{}", run.stdout);
    assert!(run.stdout.contains("AOF is valid"), "{}", run.stdout);
}

#[test]
fn a_cut_at_every_offset_of_the_last_record_is_reported_and_fixed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("torn.aof");
    let (bytes, offsets) = build(FileKind::Incremental, 6);
    let last = offsets[5];
    for cut in last + 1..bytes.len() {
        write(&path, &bytes[..cut]);
        let run = check(&path);
        assert!(!run.success, "cut at {cut}: {}", run.stdout);
        let torn = format!(
            "{}: incremental, 5 records, {cut} bytes: torn tail at offset {last}",
            path.display()
        );
        assert!(run.stdout.contains(&torn), "cut at {cut}: {}", run.stdout);
        assert_eq!(
            read(&path),
            &bytes[..cut],
            "checking must not change the file"
        );

        let run = fix(&path);
        assert!(run.success, "fix at cut {cut}: {}", run.stdout);
        let removed = format!("removing {} bytes from offset {last}", cut - last);
        assert!(
            run.stdout.contains(&removed),
            "cut at {cut}: {}",
            run.stdout
        );
        assert_eq!(read(&path), &bytes[..last], "cut at {cut}");

        let run = check(&path);
        assert!(run.success, "after fixing cut {cut}: {}", run.stdout);
        let clean = format!("incremental, 5 records, {last} bytes: ok");
        assert!(run.stdout.contains(&clean), "cut at {cut}: {}", run.stdout);
    }
}

#[test]
fn a_flipped_byte_in_an_earlier_record_is_named_and_not_fixed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("flipped.aof");
    let (mut bytes, offsets) = build(FileKind::Base, 6);
    let (start, end) = (offsets[2], offsets[3]);
    bytes[(start + end) / 2] ^= 0x04;
    write(&path, &bytes);

    let run = check(&path);
    assert!(!run.success, "{}", run.stdout);
    let corrupt = format!(
        "{}: base, 2 records, {} bytes: CORRUPT at offset {start}: corrupt record: checksum mismatch",
        path.display(),
        bytes.len()
    );
    assert!(run.stdout.contains(&corrupt), "{}", run.stdout);

    let run = fix(&path);
    assert!(!run.success, "{}", run.stdout);
    assert!(run.stdout.contains("Not fixing"), "{}", run.stdout);
    assert_eq!(read(&path), bytes, "a refused fix must not change the file");
}

/// `dir` holding a manifest, a base of 3 records and incremental files of 2 and 4.
fn aof_dir() -> (tempfile::TempDir, Vec<PathBuf>, Vec<Vec<usize>>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let entry = |name: String, seq, kind| ManifestEntry { name, seq, kind };
    let manifest = Manifest {
        base: entry(base_name(1), 1, FileKind::Base),
        incrementals: vec![
            entry(incr_name(1), 1, FileKind::Incremental),
            entry(incr_name(2), 2, FileKind::Incremental),
        ],
    };
    manifest.write(dir.path()).expect("writes the manifest");
    let mut paths = Vec::new();
    let mut offsets = Vec::new();
    for (entry, count) in manifest.files().zip([3, 2, 4]) {
        let path = dir.path().join(&entry.name);
        let (bytes, at) = build(entry.kind, count);
        write(&path, &bytes);
        paths.push(path);
        offsets.push(at);
    }
    (dir, paths, offsets)
}

#[test]
fn a_directory_is_checked_through_its_manifest_in_order() {
    let (dir, paths, _) = aof_dir();
    let run = check(dir.path());
    assert!(run.success, "{}", run.stdout);
    let lines: Vec<&str> = run.stdout.lines().collect();
    for (line, (path, what)) in lines.iter().zip(paths.iter().zip([
        "base, 3 records",
        "incremental, 2 records",
        "incremental, 4 records",
    ])) {
        assert!(
            line.starts_with(&format!("{}: {what}", path.display())),
            "{line}"
        );
        assert!(line.ends_with(": ok"), "{line}");
    }
    assert_eq!(lines.len(), 4, "{}", run.stdout);
    assert_eq!(lines[3], "AOF is valid");
}

#[test]
fn in_a_directory_only_the_last_file_has_a_fixable_tail() {
    let (dir, paths, offsets) = aof_dir();
    // A torn tail of the last file: fixed.
    let last = read(&paths[2]);
    write(&paths[2], &last[..last.len() - 3]);
    assert!(!check(dir.path()).success);
    let run = fix(dir.path());
    assert!(run.success, "{}", run.stdout);
    assert_eq!(read(&paths[2]).len(), offsets[2][3]);
    assert!(check(dir.path()).success);

    // The same damage in the middle file is corruption: named, and not fixed.
    let middle = read(&paths[1]);
    write(&paths[1], &middle[..middle.len() - 3]);
    let run = fix(dir.path());
    assert!(!run.success, "{}", run.stdout);
    let corrupt = format!(
        "{}: incremental, 1 record, {} bytes: CORRUPT at offset {}",
        paths[1].display(),
        middle.len() - 3,
        offsets[1][1]
    );
    assert!(run.stdout.contains(&corrupt), "{}", run.stdout);
    assert!(run.stdout.contains("Not fixing"), "{}", run.stdout);
    assert_eq!(read(&paths[1]).len(), middle.len() - 3);
}

#[test]
fn a_directory_without_a_valid_manifest_is_not_valid() {
    let (dir, paths, _) = aof_dir();
    let manifest = dir.path().join("appendonly.aof.manifest");
    write(&manifest, b"file appendonly.aof.1.base.aof seq 1 type x\n");
    let run = check(dir.path());
    assert!(!run.success);
    let expected = format!("{}:1: bad type \"x\"", manifest.display());
    assert!(run.stdout.contains(&expected), "{}", run.stdout);

    std::fs::remove_file(&paths[1]).expect("removes");
    write(
        &manifest,
        format!("file {} seq 1 type b\n", base_name(1)).as_bytes(),
    );
    assert!(check(dir.path()).success, "the base alone is a valid AOF");
}

/// A change made to a good file's bytes.
type Damage = Box<dyn Fn(&mut Vec<u8>)>;

#[test]
fn bad_headers_and_unknown_versions_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("header.aof");
    let (good, _) = build(FileKind::Base, 2);
    let cases: [(&str, Damage); 4] = [
        ("bad magic bytes", Box::new(|b| b[0] = b'X')),
        (
            "AOF format version 7 is not supported (this build reads 1)",
            Box::new(|b| b[12] = 7),
        ),
        ("unknown file kind 9", Box::new(|b| b[16] = 9)),
        (
            "shorter than the 20-byte header",
            Box::new(|b| b.truncate(11)),
        ),
    ];
    for (message, damage) in cases {
        let mut bytes = good.clone();
        damage(&mut bytes);
        write(&path, &bytes);
        let run = check(&path);
        assert!(!run.success, "{message}: {}", run.stdout);
        assert!(run.stdout.contains(message), "{message}: {}", run.stdout);
        assert!(
            run.stdout.contains(&path.display().to_string()),
            "{}",
            run.stdout
        );
        let run = fix(&path);
        assert!(!run.success, "{message}: {}", run.stdout);
        assert_eq!(read(&path), bytes, "{message}: a bad header is never fixed");
    }
}
