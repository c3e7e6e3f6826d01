//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) and the reproducers of what
//! fuzzing found (`fuzz/artifacts-found/`) through the fuzz targets' own harness, so that CI
//! keeps guarding what the fuzzer reached without running libFuzzer. See `fuzz/README.md`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

#[allow(dead_code)]
#[path = "../fuzz/fuzz_targets/common.rs"]
mod fuzz_harness;

use sessiond::config::Config;
use sessiond::persistence::file::HEADER_LEN;
use sessiond::persistence::load;
use sessiond::persistence::manifest::base_name;
use sessiond::server::ServerState;
use sessiond::store::now_ms;

/// The stack a connection runs on: a tokio worker thread's (2 MiB, tokio's default). The
/// corpora and reproducers replay on it: no input may make parsing or decoding recurse as
/// deep as it nests.
const SERVER_STACK: usize = 2 << 20;

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
    let outcome = fuzz_harness::run_requests(b"DEBUG PANIC\r\nDEBUG panic\r\n");
    assert_eq!(outcome.refused, 2);
    let outcome = fuzz_harness::run_requests(b"CONFIG SET hz 20\r\nDEBUG SLEEP 100\r\n");
    assert_eq!(outcome.refused, 0);
    assert_eq!(outcome.output, b"+OK\r\n+OK\r\n");
}

#[test]
fn request_corpus_replays_without_a_panic() {
    let corpus = inputs(&fuzz_dir().join("corpus/request"));
    assert!(
        corpus.len() >= 20,
        "the request corpus has {} files",
        corpus.len()
    );
    let outcomes = on_stack(SERVER_STACK, move || {
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
    let outcomes = on_stack(SERVER_STACK, move || {
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
/// `aof_record-...`), on a connection's stack.
fn run_reproducer(name: &str, data: Vec<u8>) {
    let name = name.to_string();
    on_stack(SERVER_STACK, move || {
        if name.starts_with("request-") {
            fuzz_harness::run_requests(&data);
        } else if name.starts_with("aof_record-") {
            fuzz_harness::run_aof_record(&data);
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
    let found = inputs(&fuzz_dir().join("artifacts-found"));
    assert!(found.len() >= 4, "the four reproducers of the first runs");
    for (path, data) in found {
        let name = path.file_name().and_then(|n| n.to_str()).expect("a name");
        run_reproducer(name, data);
    }
}

/// What loading `records` as the base of an AOF directory, before an empty incremental file,
/// says: it must fail. (Damage in the last record of the last file would be a torn tail, cut
/// off; in a base it is corruption, and the base is read by the loader's threads.)
fn load_error(records: Vec<u8>) -> String {
    on_stack(SERVER_STACK, move || {
        let dir = tempfile::tempdir().expect("a temporary directory");
        fuzz_harness::write_aof(dir.path(), &records, &[]);
        let state = ServerState::new(Config {
            appendonly: false,
            ..Config::default()
        });
        match load::load(dir.path(), &state.store, true, now_ms()) {
            Ok(_) => panic!("the records load"),
            Err(error) => error.to_string(),
        }
    })
}

/// How a load error names the damage of the first record of the base.
fn first_record_corrupt() -> String {
    format!("{}: corrupt at offset {HEADER_LEN}: ", base_name(1))
}

#[test]
fn nested_batches_are_corrupt_not_a_stack_overflow() {
    // A record holding a batch in a batch, 20,000 deep.
    let error = load_error(reproducer("aof_record-nested-batch-stack-overflow"));
    assert!(
        error.contains(&first_record_corrupt()) && error.contains("a batch inside a batch"),
        "{error}"
    );
}

#[test]
fn a_huge_declared_length_is_corrupt_not_an_allocation() {
    // A 12-byte payload whose option string declares 16 TiB.
    let payload = reproducer("aof_record-declared-length-allocation");
    let error = load_error(fuzz_harness::frame(&payload));
    assert!(
        error.contains(&first_record_corrupt()) && error.contains("declares lengths"),
        "{error}"
    );
}
