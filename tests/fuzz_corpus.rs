//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) and the reproducers of what
//! fuzzing found (`fuzz/artifacts-found/`) through the fuzz targets' own harness, so that CI
//! keeps guarding what the fuzzer reached without running libFuzzer. See `fuzz/README.md`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

#[allow(dead_code)]
#[path = "../fuzz/fuzz_targets/common.rs"]
mod fuzz_harness;

use fuzz_harness::Checks;

/// Findings reproduced in `fuzz/artifacts-found/` that are not fixed in `src/` yet: each has
/// an ignored test below, and the harness tolerates it elsewhere (see [`Checks`]). The
/// other reproducers there are fixed, and [`fixed_findings_stay_fixed`] replays them.
const OPEN_FINDINGS: &[&str] = &[
    "aof_record-nested-batch-stack-overflow",
    "aof_record-declared-length-allocation",
];

/// The stack a connection runs on: a tokio worker thread's (2 MiB, tokio's default).
const SERVER_STACK: usize = 2 << 20;

/// The stack the corpora are replayed on. The fuzzer runs inputs on its main thread (8 MiB),
/// and this harness, unoptimised, takes more stack per level of the decoders' recursion.
const REPLAY_STACK: usize = 64 << 20;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Runs `f` on a thread with a `stack`-byte stack; a panic in it fails the caller.
fn on_stack<T: Send + 'static>(stack: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(stack)
        .spawn(f)
        .expect("spawns a thread")
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Every file in `dir`, sorted by name, with its bytes.
fn inputs(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let data = std::fs::read(&path).expect("reads a corpus file");
            (path, data)
        })
        .collect()
}

/// Runs `run` on every input, then fails naming each input that panicked.
fn replay<T>(inputs: &[(PathBuf, Vec<u8>)], run: impl Fn(&[u8]) -> T) -> Vec<T> {
    let mut results = Vec::new();
    let mut panicked = Vec::new();
    for (path, data) in inputs {
        match catch_unwind(AssertUnwindSafe(|| run(data))) {
            Ok(result) => results.push(result),
            Err(_) => panicked.push(path.display().to_string()),
        }
    }
    assert!(panicked.is_empty(), "inputs that panicked: {panicked:#?}");
    results
}

#[test]
fn a_known_good_request_gets_its_reply() {
    let outcome = fuzz_harness::run_requests(b"*1\r\n$4\r\nPING\r\n");
    assert_eq!(outcome.output, b"+PONG\r\n");
    let outcome = fuzz_harness::run_requests(b"SET k v\r\nGET k\r\nHELLO 3\r\nQUIT\r\nPING\r\n");
    assert_eq!(outcome.requests, 4, "QUIT ends the connection");
    assert!(outcome.output.starts_with(b"+OK\r\n$1\r\nv\r\n%"));
    let outcome = fuzz_harness::run_requests(b"*1\r\n$-1\r\n");
    assert_eq!(
        outcome.protocol_error.as_deref(),
        Some("invalid bulk length")
    );
}

#[test]
fn a_session_id_placeholder_names_the_last_session() {
    let outcome =
        fuzz_harness::run_requests(b"SESSION.CREATE alice DATA k v\r\nSESSION.PEEK @sid k\r\n");
    assert!(
        outcome.output.ends_with(b"$1\r\nv\r\n"),
        "{:?}",
        String::from_utf8_lossy(&outcome.output)
    );
}

#[test]
fn the_harness_refuses_what_it_must_not_run() {
    let outcome = fuzz_harness::run_requests(b"CONFIG SET appendonly yes\r\n");
    assert_eq!((outcome.requests, outcome.refused), (1, 1));
    let outcome = fuzz_harness::run_requests(b"CONFIG SET hz 20 Proto-Max-Bulk-Len 1gb\r\n");
    assert_eq!(outcome.refused, 1);
    let outcome = fuzz_harness::run_requests(b"CONFIG SET hz 20\r\nDEBUG SLEEP 100\r\n");
    assert_eq!(outcome.refused, 0);
    assert_eq!(outcome.output, b"+OK\r\n+OK\r\n");
}

#[test]
fn the_batch_tag_is_the_batch_variant() {
    use sessiond::persistence::{Effect, codec};
    let mut record = Vec::new();
    codec::encode(&Effect::Batch(Vec::new()), &mut record).expect("encodes");
    assert_eq!(record[codec::FRAME_LEN], fuzz_harness::BATCH_TAG);
}

#[test]
fn request_corpus_replays_without_a_panic() {
    let corpus = inputs(&fuzz_dir().join("corpus/request"));
    assert!(
        corpus.len() >= 20,
        "the request corpus has {} files",
        corpus.len()
    );
    let outcomes = on_stack(REPLAY_STACK, move || {
        replay(&corpus, fuzz_harness::run_requests)
    });
    let executed: usize = outcomes.iter().map(|o| o.requests - o.refused).sum();
    assert!(
        executed >= outcomes.len(),
        "the corpus runs few commands: {executed}"
    );
    assert!(
        outcomes
            .iter()
            .any(|o| o.output.windows(6).any(|w| w == b"+PONG\r")),
        "no corpus input gets a PONG"
    );
}

#[test]
fn aof_record_corpus_replays_without_a_panic() {
    let corpus = inputs(&fuzz_dir().join("corpus/aof_record"));
    assert!(
        corpus.len() >= 20,
        "the AOF corpus has {} files",
        corpus.len()
    );
    let outcomes = on_stack(REPLAY_STACK, move || {
        replay(&corpus, fuzz_harness::run_aof_record)
    });
    assert!(
        outcomes.iter().any(|o| o.raw_records > 0),
        "no corpus input holds a valid record"
    );
    assert!(
        outcomes.iter().any(|o| o.loaded && o.fixed_records > 1),
        "no corpus input loads several records"
    );
}

/// Runs a reproducer through the harness of the target it is named after (`request-...`,
/// `aof_record-...`), no finding tolerated, on a connection's stack.
fn run_strictly(name: &str, data: Vec<u8>) {
    let name = name.to_string();
    on_stack(SERVER_STACK, move || {
        if name.starts_with("request-") {
            fuzz_harness::run_requests_with(&data, Checks::STRICT);
        } else if name.starts_with("aof_record-") {
            fuzz_harness::run_aof_record_with(&data, Checks::STRICT);
        } else {
            panic!("{name}: a reproducer's name starts with its target");
        }
    });
}

fn reproducer(name: &str) -> Vec<u8> {
    std::fs::read(fuzz_dir().join("artifacts-found").join(name)).expect("reads a reproducer")
}

#[test]
fn fixed_findings_stay_fixed() {
    let mut fixed = 0;
    for (path, data) in inputs(&fuzz_dir().join("artifacts-found")) {
        let name = path.file_name().and_then(|n| n.to_str()).expect("a name");
        if !OPEN_FINDINGS.contains(&name) {
            run_strictly(name, data);
            fixed += 1;
        }
    }
    assert!(
        fixed >= 2,
        "request-error-reply-crlf and request-nested-array-stack-overflow are fixed and replayed"
    );
}

#[test]
fn open_findings_are_still_tolerated() {
    // Until they are fixed, the fuzz targets and the corpus replay run past them.
    on_stack(REPLAY_STACK, || {
        for name in OPEN_FINDINGS {
            let data = reproducer(name);
            if name.starts_with("request-") {
                fuzz_harness::run_requests(&data);
            } else {
                fuzz_harness::run_aof_record(&data);
            }
        }
    });
}

// Each open finding, no finding tolerated. Those that overflow the stack abort the test
// binary (a stack overflow is not a panic) when run with `--ignored`.

#[test]
#[ignore = "open finding: nested Batch effects recurse in the AOF payload decoder without a \
            depth limit (src/persistence/codec.rs, decode) and overflow the stack, aborting \
            the process; not fixed in src/ yet"]
fn open_finding_nested_batch_stack_overflow() {
    let name = "aof_record-nested-batch-stack-overflow";
    run_strictly(name, reproducer(name));
}

#[test]
#[ignore = "open finding: the AOF payload decoder allocates a string's declared length before \
            reading it (src/persistence/codec.rs, decode: bincode without a limit), aborting \
            on a huge one; not fixed in src/ yet"]
fn open_finding_declared_length_allocation() {
    let name = "aof_record-declared-length-allocation";
    run_strictly(name, reproducer(name));
}
