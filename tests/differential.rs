//! Differential tests: sessiond against a reference `redis-server`, byte for byte.
//!
//! Every `*.redis` file in `tests/differential/` is a script. The test starts
//! one redis-server and one sessiond, and runs each script twice — in RESP2,
//! then in RESP3 (each connection first sends `HELLO 3`) — sending every
//! command to both servers over raw TCP and comparing the reply bytes
//! exactly, error strings included. Before each run both servers get
//! `FLUSHALL` and `CONFIG SET notify-keyspace-events ""`; every run uses
//! fresh connections. All mismatches of all scripts are collected and
//! reported in one failure, each with the script, line number, protocol,
//! command and both replies escaped (`\r\n` shown).
//!
//! # Adding a script
//!
//! Drop a new `NAME.redis` file into `tests/differential/`; nothing else to
//! change. Run the scripts whose names contain NAME with `DIFF_SCRIPT=NAME
//! cargo test --test differential`, and print every line with both replies
//! with `DIFF_VERBOSE=1 ... -- --nocapture` (handy to check, while writing a
//! script, that redis-server answers what you meant to test). Keep replies
//! deterministic: no cursors, random picks or timings except under
//! `[ignore]`/`[approx]`/`[sorted]`. A script that changes a configuration
//! parameter other than `notify-keyspace-events` must set it back at its
//! end, since the servers are shared by all scripts. Both servers run with
//! `--enable-debug-command local` so that `DEBUG SLEEP` works on both.
//!
//! # Script format
//!
//! One command per line, split into arguments like redis-cli does:
//! whitespace separates arguments; `"double quotes"` take the escapes `\n \r
//! \t \b \a \\ \" \xHH`; `'single quotes'` take only `\'`; `""` is an empty
//! argument. Blank lines and lines whose first non-blank character is `#`
//! are ignored. A line may start with prefixes, in any order:
//!
//! * `@N` — send on connection N (1 to 9; default 1). Connections open on
//!   first use; in the RESP3 run each sends `HELLO 3` first, compared as with
//!   `[hello]`.
//! * `[approx N]` — integers (`:`) anywhere in the reply may differ by at
//!   most N (`[approx 1000]` for PTTL, `[approx 1]` for TTL).
//! * `[sorted]` — the reply's elements are compared after sorting (RESP3
//!   map entries as key/value pairs; a RESP2 flat array element by element):
//!   for KEYS, PUBSUB CHANNELS, CONFIG GET with patterns and other unordered
//!   replies.
//! * `[ignore]` — run on both, compare nothing (TIME, CLIENT ID, SCAN cursors),
//!   but both must answer.
//! * `[type]` — compare only the RESP type bytes and the element counts of
//!   aggregates, recursively; not the contents nor the lengths of strings
//!   (INFO-like text).
//! * `[hello]` — for HELLO replies: the same shape (types and element
//!   counts, recursively), the same field names in the same order, and the
//!   same `proto` value; other values (server, version, id...) may differ.
//! * `[since X.Y]` — compare only when the reference redis-server is at
//!   least version X.Y (the command still runs on both); otherwise the line
//!   is counted as not compared and the test prints a note.
//! * `[read]` — send nothing: read one frame (a pushed message) from the
//!   connection, waiting at most 2 s; no frame on either side is a mismatch.
//!   Also used for the extra replies of a command that answers with several
//!   frames (`SUBSCRIBE a b` answers twice: the line and one `[read]`).
//! * `[resp2]`, `[resp3]` — run the line only in that protocol's run, for
//!   commands whose number of frames differs between the protocols (a
//!   subscribed connection that publishes to itself gets the message and
//!   the reply in RESP3, one error in RESP2).
//!
//! Example: `@2 [read]`, `[approx 1000] PTTL k`, `SET k "a b\r\n"`.
//!
//! At the end of each run the harness sends `PING` on every open connection
//! and compares the replies, so a frame one server sent and the script never
//! read (an extra event, a second reply) shows up as a mismatch.
//!
//! Besides the scripts, [`scan_visits_the_same_keys`] compares full SCAN
//! iterations, whose cursors legitimately differ between servers.

mod common;

use common::{Frame, RawClient, ReadError, Server, escape, frame};
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the scripts live.
const SCRIPT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/differential");

/// How long a `[read]` waits for a pushed frame.
const PUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// How long an ordinary command waits for its reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// The highest connection number a script may use.
const MAX_CONNECTIONS: usize = 9;

/// How one line's replies are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compare {
    /// Byte for byte.
    Exact,
    /// Integers may differ by at most this much.
    Approx(i64),
    /// Elements compared after sorting.
    Sorted,
    /// Not compared.
    Ignore,
    /// Type bytes and aggregate lengths only.
    Type,
    /// HELLO: shape, field names, `proto`.
    Hello,
}

/// One command (or `[read]`) of a script.
#[derive(Debug, Clone)]
struct Step {
    /// 1-based line number in the script.
    line: usize,
    /// The line as written, for reports.
    text: String,
    /// 1-based connection number.
    conn: usize,
    /// How the replies are compared.
    compare: Compare,
    /// Minimum reference version (major, minor) for the comparison.
    since: Option<(u32, u32)>,
    /// Read a pushed frame instead of sending a command.
    read: bool,
    /// Run only in this protocol's run (`[resp2]`, `[resp3]`).
    only: Option<Proto>,
    /// The command's arguments (empty for `[read]`).
    args: Vec<Vec<u8>>,
}

/// A parsed script file.
#[derive(Debug)]
struct Script {
    /// The file name, for reports.
    name: String,
    /// Its steps in order.
    steps: Vec<Step>,
}

/// The protocol a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    /// RESP2 (no HELLO).
    Resp2,
    /// RESP3 (`HELLO 3` on every connection first).
    Resp3,
}

impl Proto {
    /// The label used in reports.
    fn label(self) -> &'static str {
        match self {
            Proto::Resp2 => "RESP2",
            Proto::Resp3 => "RESP3",
        }
    }
}

/// Splits a command line into arguments the way redis-cli does.
fn split_args(line: &str) -> Result<Vec<Vec<u8>>, String> {
    let bytes = line.as_bytes();
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == bytes.len() {
            return Ok(args);
        }
        let mut arg = Vec::new();
        match bytes[i] {
            b'"' => {
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => return Err("unterminated double quote".to_string()),
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') => {
                            let Some(&escaped) = bytes.get(i + 1) else {
                                return Err("backslash at the end of the line".to_string());
                            };
                            i += 2;
                            match escaped {
                                b'n' => arg.push(b'\n'),
                                b'r' => arg.push(b'\r'),
                                b't' => arg.push(b'\t'),
                                b'b' => arg.push(0x08),
                                b'a' => arg.push(0x07),
                                b'x' => {
                                    let hex = bytes
                                        .get(i..i + 2)
                                        .and_then(|h| std::str::from_utf8(h).ok())
                                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                                        .ok_or("\\x needs two hex digits")?;
                                    arg.push(hex);
                                    i += 2;
                                }
                                other => arg.push(other),
                            }
                        }
                        Some(&b) => {
                            arg.push(b);
                            i += 1;
                        }
                    }
                }
                if bytes.get(i).is_some_and(|b| !b.is_ascii_whitespace()) {
                    return Err("closing quote must be followed by a space".to_string());
                }
            }
            b'\'' => {
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => return Err("unterminated single quote".to_string()),
                        Some(b'\'') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') if bytes.get(i + 1) == Some(&b'\'') => {
                            arg.push(b'\'');
                            i += 2;
                        }
                        Some(&b) => {
                            arg.push(b);
                            i += 1;
                        }
                    }
                }
                if bytes.get(i).is_some_and(|b| !b.is_ascii_whitespace()) {
                    return Err("closing quote must be followed by a space".to_string());
                }
            }
            _ => {
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                    arg.push(bytes[i]);
                    i += 1;
                }
            }
        }
        args.push(arg);
    }
}

/// Parses one `[directive]` into `step`.
fn apply_directive(step: &mut Step, directive: &str) -> Result<(), String> {
    let words: Vec<&str> = directive.split_whitespace().collect();
    let mut set_compare = |compare: Compare| {
        if step.compare != Compare::Exact {
            return Err(format!("[{directive}] conflicts with an earlier directive"));
        }
        step.compare = compare;
        Ok(())
    };
    match words.as_slice() {
        ["approx", n] => {
            let n = n
                .parse()
                .map_err(|_| format!("[approx N] needs an integer, got {n:?}"))?;
            set_compare(Compare::Approx(n))
        }
        ["sorted"] => set_compare(Compare::Sorted),
        ["ignore"] => set_compare(Compare::Ignore),
        ["type"] => set_compare(Compare::Type),
        ["hello"] => set_compare(Compare::Hello),
        ["read"] => {
            step.read = true;
            Ok(())
        }
        ["resp2"] => {
            step.only = Some(Proto::Resp2);
            Ok(())
        }
        ["resp3"] => {
            step.only = Some(Proto::Resp3);
            Ok(())
        }
        ["since", version] => {
            step.since =
                Some(parse_version(version).ok_or_else(|| format!("bad version {version:?}"))?);
            Ok(())
        }
        _ => Err(format!("unknown directive [{directive}]")),
    }
}

/// Parses `X.Y` or `X.Y.Z` into (X, Y).
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Parses one script line; `Ok(None)` for blank and comment lines.
fn parse_line(number: usize, line: &str) -> Result<Option<Step>, String> {
    let mut rest = line.trim();
    if rest.is_empty() || rest.starts_with('#') {
        return Ok(None);
    }
    let mut step = Step {
        line: number,
        text: rest.to_string(),
        conn: 1,
        compare: Compare::Exact,
        since: None,
        read: false,
        only: None,
        args: Vec::new(),
    };
    loop {
        if let Some(after) = rest.strip_prefix('@') {
            let digits = after
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after.len());
            let conn: usize = after[..digits]
                .parse()
                .map_err(|_| "@ must be followed by a connection number".to_string())?;
            if !(1..=MAX_CONNECTIONS).contains(&conn) {
                return Err(format!(
                    "connection @{conn} is not in 1..={MAX_CONNECTIONS}"
                ));
            }
            step.conn = conn;
            rest = after[digits..].trim_start();
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']').ok_or("unclosed [directive")?;
            apply_directive(&mut step, after[..end].trim())?;
            rest = after[end + 1..].trim_start();
        } else {
            break;
        }
    }
    step.args = split_args(rest)?;
    match (step.read, step.args.is_empty()) {
        (true, false) => Err("[read] sends nothing: remove the command".to_string()),
        (false, true) => Err("no command on the line".to_string()),
        _ => Ok(Some(step)),
    }
}

/// Reads and parses one script file.
fn load_script(path: &Path) -> Result<Script, String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
    let mut steps = Vec::new();
    for (index, line) in text.lines().enumerate() {
        match parse_line(index + 1, line) {
            Ok(Some(step)) => steps.push(step),
            Ok(None) => {}
            Err(e) => return Err(format!("{name}:{}: {e}: {line}", index + 1)),
        }
    }
    Ok(Script { name, steps })
}

/// The script files, sorted by name, filtered by `DIFF_SCRIPT` if set.
fn script_paths() -> Vec<PathBuf> {
    let filter = std::env::var("DIFF_SCRIPT").ok();
    let entries = std::fs::read_dir(SCRIPT_DIR)
        .unwrap_or_else(|e| panic!("cannot read the script folder {SCRIPT_DIR}: {e}"));
    let mut paths: Vec<PathBuf> = entries
        .map(|entry| entry.expect("list the script folder").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "redis"))
        .filter(|path| {
            filter.as_deref().is_none_or(|f| {
                path.file_stem()
                    .is_some_and(|stem| stem.to_string_lossy().contains(f))
            })
        })
        .collect();
    paths.sort();
    paths
}

/// What one server answered to one step.
type Outcome = Result<Vec<u8>, String>;

/// Shows an outcome for a report.
fn show(outcome: &Outcome) -> String {
    match outcome {
        Ok(bytes) => format!("\"{}\"", escape(bytes)),
        Err(e) => format!("<{e}>"),
    }
}

/// One mismatch, for the report.
fn mismatch(location: &str, what: &str, reference: &Outcome, candidate: &Outcome) -> String {
    format!(
        "{location} {what}\n    redis:    {}\n    sessiond: {}",
        show(reference),
        show(candidate)
    )
}

/// Whether two integer frames are within `n` of each other.
fn integers_close(a: &Frame, b: &Frame, n: i64) -> bool {
    match (a.integer(), b.integer()) {
        (Some(x), Some(y)) => x.abs_diff(y) <= n.unsigned_abs(),
        _ => a.raw == b.raw,
    }
}

/// Compares frames recursively, allowing integers to differ by `n`.
fn approx_equal(a: &Frame, b: &Frame, n: i64) -> bool {
    if a.kind != b.kind || a.null != b.null {
        return false;
    }
    if a.kind == b':' {
        return integers_close(a, b, n);
    }
    a.data == b.data
        && a.items.len() == b.items.len()
        && a.items
            .iter()
            .zip(&b.items)
            .all(|(x, y)| approx_equal(x, y, n))
}

/// The elements of an aggregate as sortable units (map entries as pairs).
fn sorted_units(f: &Frame) -> Vec<Vec<u8>> {
    let mut units: Vec<Vec<u8>> = if matches!(f.kind, b'%' | b'|') {
        f.items
            .chunks(2)
            .map(|pair| pair.iter().flat_map(|item| item.raw.clone()).collect())
            .collect()
    } else {
        f.items.iter().map(|item| item.raw.clone()).collect()
    };
    units.sort();
    units
}

/// Same type bytes and aggregate lengths, recursively.
fn same_type(a: &Frame, b: &Frame) -> bool {
    a.kind == b.kind
        && a.null == b.null
        && a.items.len() == b.items.len()
        && a.items.iter().zip(&b.items).all(|(x, y)| same_type(x, y))
}

/// HELLO replies: same shape, same field names in order, same `proto`.
fn same_hello(a: &Frame, b: &Frame) -> bool {
    if a.is_error() || b.is_error() {
        return a.raw == b.raw;
    }
    same_type(a, b)
        && a.items
            .chunks(2)
            .zip(b.items.chunks(2))
            .all(|(x, y)| x[0].raw == y[0].raw)
        && a.get("proto").map(|f| &f.raw) == b.get("proto").map(|f| &f.raw)
}

/// Whether two outcomes match under `compare`.
fn outcomes_match(compare: Compare, reference: &Outcome, candidate: &Outcome) -> bool {
    let (reference, candidate) = match (reference, candidate) {
        (Ok(r), Ok(c)) => (r, c),
        // Both servers closed the connection (after QUIT): that matches.
        (Err(r), Err(c)) => return r == c && r.starts_with("connection closed"),
        _ => return false,
    };
    if compare == Compare::Exact {
        return reference == candidate;
    }
    let (r, c) = (frame(reference), frame(candidate));
    match compare {
        Compare::Exact => unreachable!("handled above"),
        Compare::Ignore => true,
        Compare::Approx(n) => approx_equal(&r, &c, n),
        Compare::Sorted => {
            r.kind == c.kind && r.null == c.null && sorted_units(&r) == sorted_units(&c)
        }
        Compare::Type => same_type(&r, &c),
        Compare::Hello => same_hello(&r, &c),
    }
}

/// A connection to each server, opened on first use.
struct ConnPair {
    /// The connection to the reference redis-server.
    reference: RawClient,
    /// The connection to sessiond.
    candidate: RawClient,
    /// Set once a reply did not come: later steps are skipped, not waited for.
    stuck: bool,
}

/// Sends `args` (unless `read`) on one connection and reads one frame.
fn exchange(client: &mut RawClient, args: &[Vec<u8>], read: bool) -> Outcome {
    let timeout = if read {
        PUSH_TIMEOUT
    } else {
        match client.try_send(args) {
            Ok(()) => REPLY_TIMEOUT,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                ) =>
            {
                return Err("connection closed".to_string());
            }
            Err(e) => return Err(format!("cannot send: {e}")),
        }
    };
    match client.try_read_reply(timeout) {
        Ok(bytes) => Ok(bytes),
        Err(ReadError::Timeout) if read => Err(format!("nothing arrived within {timeout:?}")),
        Err(ReadError::Timeout) => Err(format!("no reply within {timeout:?}")),
        Err(ReadError::Closed { partial }) if partial.is_empty() => {
            Err("connection closed".to_string())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Opens a connection to each server; the error says which one failed.
fn open_pair(pair: &Pair) -> Result<ConnPair, String> {
    let reference = RawClient::try_connect(pair.reference.addr())
        .map_err(|e| format!("cannot connect to redis-server: {e}"))?;
    let candidate = RawClient::try_connect(pair.candidate.addr())
        .map_err(|e| format!("cannot connect to sessiond: {e}"))?;
    Ok(ConnPair {
        reference,
        candidate,
        stuck: false,
    })
}

/// The two servers under comparison.
struct Pair {
    /// The reference redis-server.
    reference: Server,
    /// sessiond.
    candidate: Server,
    /// The reference's version (major, minor).
    reference_version: (u32, u32),
}

impl Pair {
    /// Starts both servers.
    fn start() -> Pair {
        // DEBUG SLEEP is for tests; both need this to allow it.
        let reference = Server::redis(&["--enable-debug-command", "local"]);
        let candidate = Server::sessiond(&["--enable-debug-command", "local"]);
        let info = reference.raw().call(&["INFO", "server"]);
        let info = String::from_utf8_lossy(&info).into_owned();
        let reference_version = info
            .lines()
            .find_map(|line| line.strip_prefix("redis_version:"))
            .and_then(|v| parse_version(v.trim()))
            .unwrap_or_else(|| panic!("no redis_version in INFO server: {info}"));
        Pair {
            reference,
            candidate,
            reference_version,
        }
    }
}

/// The result of running scripts: mismatch reports and skipped comparisons.
#[derive(Default)]
struct Report {
    /// One entry per mismatch.
    mismatches: Vec<String>,
    /// Lines not compared because the reference is too old.
    not_compared: BTreeMap<(u32, u32), usize>,
    /// Steps run, over both protocols.
    steps: usize,
}

/// Runs one script in one protocol, adding to `report`.
fn run_script(pair: &Pair, script: &Script, proto: Proto, report: &mut Report) {
    let verbose = std::env::var_os("DIFF_VERBOSE").is_some();
    let where_ = |line: usize| format!("{}:{line} [{}]", script.name, proto.label());

    // Same starting state for every run.
    let mut admin = match open_pair(pair) {
        Ok(admin) => admin,
        Err(e) => {
            report
                .mismatches
                .push(format!("{} (harness set-up)\n    {e}", where_(0)));
            return;
        }
    };
    for command in [
        vec![b"FLUSHALL".to_vec()],
        vec![
            b"CONFIG".to_vec(),
            b"SET".to_vec(),
            b"notify-keyspace-events".to_vec(),
            Vec::new(),
        ],
    ] {
        let r = exchange(&mut admin.reference, &command, false);
        let c = exchange(&mut admin.candidate, &command, false);
        if !outcomes_match(Compare::Exact, &r, &c) {
            let what = format!(
                "(harness set-up) {}",
                String::from_utf8_lossy(&command.join(&b' '))
            );
            report.mismatches.push(mismatch(&where_(0), &what, &r, &c));
        }
    }

    let mut conns: BTreeMap<usize, ConnPair> = BTreeMap::new();
    for step in &script.steps {
        if step.only.is_some_and(|only| only != proto) {
            continue;
        }
        report.steps += 1;
        let conn = match conns.entry(step.conn) {
            Entry::Occupied(open) => open.into_mut(),
            Entry::Vacant(slot) => {
                let mut opened = match open_pair(pair) {
                    Ok(opened) => opened,
                    Err(e) => {
                        report.mismatches.push(format!(
                            "{} {}\n    not run: {e}",
                            where_(step.line),
                            step.text
                        ));
                        continue;
                    }
                };
                if proto == Proto::Resp3 {
                    let hello = vec![b"HELLO".to_vec(), b"3".to_vec()];
                    let r = exchange(&mut opened.reference, &hello, false);
                    let c = exchange(&mut opened.candidate, &hello, false);
                    if !outcomes_match(Compare::Hello, &r, &c) {
                        let what = format!("@{} HELLO 3 (opening the connection)", step.conn);
                        report
                            .mismatches
                            .push(mismatch(&where_(step.line), &what, &r, &c));
                    }
                }
                slot.insert(opened)
            }
        };
        if conn.stuck {
            report.mismatches.push(format!(
                "{} {}\n    not run: the connection stopped answering earlier",
                where_(step.line),
                step.text
            ));
            continue;
        }
        let r = exchange(&mut conn.reference, &step.args, step.read);
        let c = exchange(&mut conn.candidate, &step.args, step.read);
        if verbose {
            println!("{}", mismatch(&where_(step.line), &step.text, &r, &c));
        }
        if let Some(since) = step.since
            && pair.reference_version < since
        {
            *report.not_compared.entry(since).or_default() += 1;
            continue;
        }
        if !outcomes_match(step.compare, &r, &c) {
            report
                .mismatches
                .push(mismatch(&where_(step.line), &step.text, &r, &c));
            let silent = |o: &Outcome| matches!(o, Err(e) if e.starts_with("no reply"));
            if silent(&r) || silent(&c) {
                conn.stuck = true;
            }
        }
    }

    // Nothing may be left unread: a PING on every connection must get its
    // own reply first, on both servers.
    let ping = vec![b"PING".to_vec()];
    for (number, conn) in &mut conns {
        if conn.stuck {
            continue;
        }
        let r = exchange(&mut conn.reference, &ping, false);
        let c = exchange(&mut conn.candidate, &ping, false);
        if !outcomes_match(Compare::Exact, &r, &c) {
            let what = format!("@{number} PING (end of script: frames left unread?)");
            report
                .mismatches
                .push(mismatch(&where_(script.steps.len()), &what, &r, &c));
        }
    }
}

/// Every script, in RESP2 and in RESP3, gives the same replies on both servers.
#[test]
fn scripts_match_redis() {
    let paths = script_paths();
    assert!(
        !paths.is_empty(),
        "no *.redis scripts in {SCRIPT_DIR} (or none matches DIFF_SCRIPT)"
    );
    let scripts: Vec<Script> = paths
        .iter()
        .map(|path| load_script(path).unwrap_or_else(|e| panic!("bad script: {e}")))
        .collect();
    let mut pair = Pair::start();
    let mut report = Report::default();
    for script in &scripts {
        for proto in [Proto::Resp2, Proto::Resp3] {
            run_script(&pair, script, proto, &mut report);
        }
    }
    for (version, count) in &report.not_compared {
        println!(
            "note: {count} lines need redis {}.{} to be compared; the reference is {}.{}",
            version.0, version.1, pair.reference_version.0, pair.reference_version.1
        );
    }
    println!(
        "{} scripts, {} steps run, {} mismatches",
        scripts.len(),
        report.steps,
        report.mismatches.len()
    );
    if !report.mismatches.is_empty() {
        let mut message = format!(
            "{} mismatches between redis-server and sessiond:\n",
            report.mismatches.len()
        );
        for mismatch in &report.mismatches {
            let _ = writeln!(message, "\n{mismatch}");
        }
        if !pair.candidate.is_running() {
            let _ = write!(
                message,
                "\nsessiond is not running any more; its last output:\n{}",
                pair.candidate.output_tail()
            );
        }
        panic!("{message}");
    }
}

/// A set of keys.
type KeySet = BTreeSet<Vec<u8>>;

/// Runs a full SCAN iteration (`SCAN cursor extra...` until cursor 0) and
/// returns the keys it visited, failing on a malformed reply.
fn scan_all(client: &mut RawClient, extra: &[&str]) -> KeySet {
    let mut keys = BTreeSet::new();
    let mut cursor = b"0".to_vec();
    for _ in 0..100_000 {
        let mut args = vec![b"SCAN".to_vec(), cursor.clone()];
        args.extend(extra.iter().map(|a| a.as_bytes().to_vec()));
        let reply = frame(&client.call(&args));
        assert!(
            reply.kind == b'*' && reply.items.len() == 2,
            "SCAN {} {}: expected [cursor, keys], got \"{}\"",
            escape(&cursor),
            extra.join(" "),
            escape(&reply.raw)
        );
        cursor = reply.items[0].data.clone();
        keys.extend(reply.items[1].items.iter().map(|key| key.data.clone()));
        if cursor == b"0" {
            return keys;
        }
    }
    panic!(
        "SCAN {} did not finish within 100000 calls",
        extra.join(" ")
    );
}

/// A full SCAN visits the same keys on both servers, whatever the cursors.
#[test]
fn scan_visits_the_same_keys() {
    let pair = Pair::start();
    let mut reference = pair.reference.raw();
    let mut candidate = pair.candidate.raw();
    let mut expected_all = BTreeSet::new();
    for i in 0..300 {
        for key in [format!("user:{i}"), format!("cart:{i}"), format!("x{i}y")] {
            let set = ["SET", key.as_str(), "v"];
            assert_eq!(reference.call(&set), b"+OK\r\n");
            assert_eq!(candidate.call(&set), b"+OK\r\n", "SET {key} on sessiond");
            expected_all.insert(key.into_bytes());
        }
    }
    let expected_strings = expected_all.clone();
    let mut expected_hashes = BTreeSet::new();
    for i in 0..50 {
        let key = format!("hash:{i}");
        let hset = ["HSET", key.as_str(), "f", "v"];
        assert_eq!(reference.call(&hset), b":1\r\n");
        assert_eq!(candidate.call(&hset), b":1\r\n", "HSET {key} on sessiond");
        expected_hashes.insert(key.clone().into_bytes());
        expected_all.insert(key.into_bytes());
    }
    let expected_users: KeySet = (0..300).map(|i| format!("user:{i}").into_bytes()).collect();
    let cases: [(&[&str], Option<&KeySet>); 9] = [
        (&[], Some(&expected_all)),
        (&["COUNT", "1"], Some(&expected_all)),
        (&["COUNT", "1000"], Some(&expected_all)),
        (&["MATCH", "user:*"], Some(&expected_users)),
        (&["MATCH", "user:*", "COUNT", "7"], Some(&expected_users)),
        (&["TYPE", "string"], Some(&expected_strings)),
        (&["MATCH", "x1?y", "TYPE", "string", "COUNT", "3"], None),
        (&["TYPE", "hash"], Some(&expected_hashes)),
        (&["TYPE", "HASH", "MATCH", "hash:1*"], None),
    ];
    for (extra, expected) in cases {
        let from_reference = scan_all(&mut reference, extra);
        if let Some(expected) = expected {
            assert_eq!(&from_reference, expected, "redis SCAN {extra:?}");
        }
        let from_candidate = scan_all(&mut candidate, extra);
        let missing: Vec<String> = from_reference
            .difference(&from_candidate)
            .map(|k| escape(k))
            .collect();
        let extra_keys: Vec<String> = from_candidate
            .difference(&from_reference)
            .map(|k| escape(k))
            .collect();
        assert!(
            missing.is_empty() && extra_keys.is_empty(),
            "SCAN {extra:?}: sessiond missed {missing:?} and returned extra {extra_keys:?}"
        );
    }
    assert_eq!(
        scan_all(&mut reference, &["MATCH", "x1?y"]).len(),
        10,
        "x10y..x19y"
    );
}

/// Runs a full HSCAN iteration of `key` and returns the pairs it visited,
/// failing on a malformed reply or a pair returned twice.
fn hscan_all(client: &mut RawClient, key: &str, extra: &[&str]) -> BTreeSet<(Vec<u8>, Vec<u8>)> {
    let mut pairs = BTreeSet::new();
    let mut cursor = b"0".to_vec();
    for _ in 0..100_000 {
        let mut args = vec![b"HSCAN".to_vec(), key.as_bytes().to_vec(), cursor.clone()];
        args.extend(extra.iter().map(|a| a.as_bytes().to_vec()));
        let reply = frame(&client.call(&args));
        assert!(
            reply.kind == b'*'
                && reply.items.len() == 2
                && reply.items[1].items.len().is_multiple_of(2),
            "HSCAN {key} {}: expected [cursor, pairs], got \"{}\"",
            escape(&cursor),
            escape(&reply.raw)
        );
        cursor = reply.items[0].data.clone();
        for pair in reply.items[1].items.chunks(2) {
            let new = pairs.insert((pair[0].data.clone(), pair[1].data.clone()));
            assert!(new, "HSCAN {key} returned {} twice", escape(&pair[0].data));
        }
        if cursor == b"0" {
            return pairs;
        }
    }
    panic!("HSCAN {key} did not finish within 100000 calls");
}

/// A full HSCAN of a packed hash and of a table visits the same pairs on both
/// servers, with and without MATCH and COUNT, whatever the cursors.
#[test]
fn hscan_visits_the_same_fields() {
    let pair = Pair::start();
    let mut reference = pair.reference.raw();
    let mut candidate = pair.candidate.raw();
    for (key, fields) in [("small", 5), ("large", 700)] {
        for i in 0..fields {
            let set = ["HSET", key, &format!("f{i}"), &format!("v{i}")];
            assert_eq!(reference.call(&set), b":1\r\n");
            assert_eq!(candidate.call(&set), b":1\r\n", "HSET {key} on sessiond");
        }
        let encoding = ["OBJECT", "ENCODING", key];
        assert_eq!(
            reference.call(&encoding),
            candidate.call(&encoding),
            "{key}"
        );
        for extra in [
            &[][..],
            &["COUNT", "1"],
            &["COUNT", "1000"],
            &["MATCH", "f1*"],
            &["MATCH", "f?", "COUNT", "3"],
        ] {
            let from_reference = hscan_all(&mut reference, key, extra);
            let from_candidate = hscan_all(&mut candidate, key, extra);
            assert_eq!(from_candidate, from_reference, "HSCAN {key} {extra:?}");
            if extra.is_empty() {
                assert_eq!(from_reference.len(), fields, "HSCAN {key}: every field");
            }
        }
    }
}

/// The script parser follows redis-cli's quoting and the prefixes above.
#[test]
fn script_lines_parse() {
    let only = parse_line(1, "[resp3] @2 [read]")
        .expect("valid")
        .expect("a step");
    assert_eq!(only.only, Some(Proto::Resp3));
    let step = parse_line(7, r#"@2 [approx 1000] SET "a b\r\n" 'c\'d' "" "\x41""#)
        .expect("valid line")
        .expect("a step");
    assert_eq!(step.conn, 2);
    assert_eq!(step.compare, Compare::Approx(1000));
    assert_eq!(
        step.args,
        vec![
            b"SET".to_vec(),
            b"a b\r\n".to_vec(),
            b"c'd".to_vec(),
            Vec::new(),
            b"A".to_vec()
        ]
    );
    let read = parse_line(1, "@3 [read]").expect("valid").expect("a step");
    assert!(read.read && read.args.is_empty() && read.conn == 3);
    assert!(parse_line(1, "   # comment").expect("valid").is_none());
    assert!(parse_line(1, "").expect("valid").is_none());
    assert!(parse_line(1, "SET \"open").is_err());
    assert!(parse_line(1, "SET \"a\"b").is_err());
    assert!(parse_line(1, "[read] GET k").is_err());
    assert!(parse_line(1, "[sorted] [ignore] KEYS *").is_err());
    assert!(parse_line(1, "[bogus] PING").is_err());
    assert!(parse_line(1, "@0 PING").is_err());
    let since = parse_line(1, "[since 7.2] CLIENT SETINFO lib-name x")
        .expect("valid")
        .expect("a step");
    assert_eq!(since.since, Some((7, 2)));
}

/// The comparison modes accept what they should and reject the rest.
#[test]
fn comparison_modes() {
    let ok = |bytes: &[u8]| -> Outcome { Ok(bytes.to_vec()) };
    assert!(outcomes_match(
        Compare::Exact,
        &ok(b"+OK\r\n"),
        &ok(b"+OK\r\n")
    ));
    assert!(!outcomes_match(
        Compare::Exact,
        &ok(b":1\r\n"),
        &ok(b":2\r\n")
    ));
    assert!(outcomes_match(
        Compare::Approx(1000),
        &ok(b":99000\r\n"),
        &ok(b":99999\r\n")
    ));
    assert!(!outcomes_match(
        Compare::Approx(1),
        &ok(b":100\r\n"),
        &ok(b":98\r\n")
    ));
    assert!(!outcomes_match(
        Compare::Approx(5),
        &ok(b":1\r\n"),
        &ok(b"$1\r\n1\r\n")
    ));
    let ab = b"*2\r\n$1\r\na\r\n$1\r\nb\r\n";
    let ba = b"*2\r\n$1\r\nb\r\n$1\r\na\r\n";
    assert!(outcomes_match(Compare::Sorted, &ok(ab), &ok(ba)));
    assert!(!outcomes_match(
        Compare::Sorted,
        &ok(ab),
        &ok(b"*1\r\n$1\r\na\r\n")
    ));
    assert!(outcomes_match(
        Compare::Type,
        &ok(b"$3\r\nabc\r\n"),
        &ok(b"$1\r\nx\r\n")
    ));
    assert!(!outcomes_match(
        Compare::Type,
        &ok(b"$3\r\nabc\r\n"),
        &ok(b"+abc\r\n")
    ));
    assert!(outcomes_match(
        Compare::Ignore,
        &ok(b":1\r\n"),
        &ok(b"+x\r\n")
    ));
    assert!(!outcomes_match(
        Compare::Ignore,
        &ok(b":1\r\n"),
        &Err("no reply".into())
    ));
    let hello = |server: &str, proto: &str| -> Outcome {
        Ok(format!(
            "%2\r\n$6\r\nserver\r\n${}\r\n{server}\r\n$5\r\nproto\r\n:{proto}\r\n",
            server.len()
        )
        .into_bytes())
    };
    assert!(outcomes_match(
        Compare::Hello,
        &hello("redis", "3"),
        &hello("sessiond", "3")
    ));
    assert!(!outcomes_match(
        Compare::Hello,
        &hello("redis", "3"),
        &hello("redis", "2")
    ));
    let closed: Outcome = Err("connection closed".into());
    assert!(outcomes_match(Compare::Exact, &closed, &closed));
    let silent: Outcome = Err("nothing arrived within 2s".into());
    assert!(!outcomes_match(Compare::Exact, &silent, &silent));
}
