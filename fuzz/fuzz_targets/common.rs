//! The per-input harness of the fuzz targets, shared with `tests/fuzz_corpus.rs`, which
//! replays the committed corpora through this same code without a fuzzer. It uses only
//! `sessiond`'s public API and crates the main package already depends on, so the test can
//! include this file as a module.
//!
//! Neither entry point may panic on any input. Besides the library's own panics they assert
//! properties a connection or a restart relies on; a failed assertion is a finding as much
//! as a crash is.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bytes::BytesMut;
use sessiond::command::{self, Context};
use sessiond::config::{Config, NamespaceAccess, NamespaceSpec, ProtectedAction, UserSpec};
use sessiond::persistence::codec::{self, Corruption, DecodeError, FRAME_LEN, MAX_PAYLOAD_LEN};
use sessiond::persistence::file::{HEADER_LEN, encode_header};
use sessiond::persistence::manifest::{MANIFEST_NAME, base_name, incr_name};
use sessiond::persistence::{AofReader, Effect, FileEnd, FileKind, Next, check, load};
use sessiond::protocol::{Protocol, Reply, RequestParser};
use sessiond::pubsub::{Delivery, Mailbox};
use sessiond::server::{ClientState, ServerState};
use sessiond::store::now_ms;

/// `proto-max-bulk-len` of the fuzzed server: 1 MiB instead of 512 MiB, so that no input can
/// make it hold more than a few hundred MiB (SETRANGE pads a value up to this length, once
/// per key) and every input runs in milliseconds.
pub const MAX_BULK_LEN: u64 = 1024 * 1024;

/// A user besides the default one, for AUTH and namespace access in the seeds.
pub const FUZZ_USER: &str = "fuzzer";
/// Its password.
pub const FUZZ_PASSWORD: &str = "fuzzpass";
/// A namespace declared at start-up, that the user may use.
pub const FUZZ_NAMESPACE: &str = "shop";

/// The configuration of the fuzzed server: no AOF, a small keyspace, one extra user and
/// namespace. Built once: `Config::default()` asks the OS for the number of cores, which
/// costs several times what building a server from it does.
fn config() -> Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(fuzz_config).clone()
}

fn fuzz_config() -> Config {
    Config {
        appendonly: false,
        databases: 16,
        shards: 2,
        proto_max_bulk_len: MAX_BULK_LEN,
        enable_debug_command: ProtectedAction::Yes,
        users: vec![UserSpec {
            name: FUZZ_USER.into(),
            password: FUZZ_PASSWORD.into(),
            namespaces: NamespaceAccess::List(vec![FUZZ_NAMESPACE.into()]),
        }],
        namespaces: vec![NamespaceSpec {
            name: FUZZ_NAMESPACE.into(),
            options: vec![("max-sessions-per-user".into(), "3".into())],
        }],
        ..Config::default()
    }
}

/// What [`run_requests`] did with one input.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The replies, encoded as the connection would have written them.
    pub output: Vec<u8>,
    /// Requests parsed (empty ones included).
    pub requests: usize,
    /// Requests the harness did not run (see [`refused`]).
    pub refused: usize,
    /// The protocol error that would have closed the connection, if any.
    pub protocol_error: Option<String>,
}

/// Feeds `data` to a fresh server as one connection's input: every request the parser finds
/// is run and its reply encoded, in the protocol the connection speaks (RESP2 until a
/// `HELLO 3`), until the input ends, a protocol error closes the connection, or a command
/// (QUIT, CLIENT KILL) does. Every reply is also encoded in the other protocol version and
/// checked, so both encoders see every reply. An argument `@sid` stands for the last
/// session id a command returned ([`SESSION_PLACEHOLDER`]).
///
/// A fresh server per input keeps inputs independent, so that a crash replays from its
/// input alone.
pub fn run_requests(data: &[u8]) -> Outcome {
    let state = ServerState::new(config());
    let addr: SocketAddr = "127.0.0.1:1".parse().expect("a valid address");
    let (mailbox, mut inbox) = Mailbox::new();
    let handle = state.clients.register(addr, addr, mailbox);
    let authenticated = state.config.read().requirepass.is_none();
    let user = state.users.default_user().clone();
    let mut client = ClientState::new(handle, user, state.default_namespace(), authenticated);
    let mut parser = RequestParser::new(state.live.proto_max_bulk_len());
    let mut outcome = Outcome::default();
    let mut out = BytesMut::new();
    let mut consumed = 0;
    let mut last_session: Option<Vec<u8>> = None;
    loop {
        parser.set_max_bulk_len(state.live.proto_max_bulk_len());
        parser.set_authenticated(client.is_authenticated());
        let rest = &data[consumed..];
        let request = match parser.parse(rest) {
            Ok(Some(request)) => request,
            Ok(None) => break,
            Err(error) => {
                let reply = Reply::Error(error.to_string());
                check_encoding(&reply);
                reply.encode(client.protocol(), &mut out);
                outcome.protocol_error = Some(error.0);
                break;
            }
        };
        assert!(
            request.consumed > 0 && request.consumed <= rest.len(),
            "a request said it used {} of {} bytes",
            request.consumed,
            rest.len()
        );
        check_split_parses(rest, request.consumed, &parser_like(&state, &client));
        consumed += request.consumed;
        outcome.requests += 1;
        let args = request.args.as_slices();
        let args: Vec<&[u8]> = args
            .iter()
            .map(|&arg| match &last_session {
                Some(id) if arg == SESSION_PLACEHOLDER => id.as_slice(),
                _ => arg,
            })
            .collect();
        let reply = if refused(&args) {
            outcome.refused += 1;
            Reply::Error("ERR refused by the fuzz harness".into())
        } else {
            let mut ctx = Context {
                server: &state,
                client: &mut client,
                now: now_ms(),
            };
            command::execute(&mut ctx, &args)
        };
        if let Reply::Bulk(id) = &reply
            && gives_session_id(&args)
        {
            last_session = Some(id.to_vec());
        }
        // DEBUG SLEEP only asks the connection to wait before it writes: the wait is dropped.
        let _ = client.take_pause();
        check_encoding(&reply);
        // Pub/sub messages are dropped; CLIENT KILL of this client closes the connection.
        let mut killed = false;
        while let Ok(delivery) = inbox.try_recv() {
            killed |= matches!(delivery, Delivery::Disconnect);
        }
        reply.encode(client.protocol(), &mut out);
        if killed || client.wants_close() {
            break;
        }
    }
    state.forget_client(&mut client);
    outcome.output = out.to_vec();
    outcome
}

/// An argument the harness replaces by the id that the last SESSION.CREATE, ROTATE or
/// RECOVER returned: ids are random, so an input could not name an existing session
/// otherwise.
pub const SESSION_PLACEHOLDER: &[u8] = b"@sid";

/// Whether a request answers with a new session's id.
fn gives_session_id(args: &[&[u8]]) -> bool {
    args.first().is_some_and(|name| {
        ["session.create", "session.rotate", "session.recover"]
            .iter()
            .any(|command| name.eq_ignore_ascii_case(command.as_bytes()))
    })
}

/// Requests the harness does not run, because in-process they would change more than the
/// server's memory, or let an input allocate without bound:
/// - `CONFIG SET appendonly ...`: turning the AOF on starts the AOF thread and writes files.
/// - `CONFIG SET proto-max-bulk-len ...`: raising it lets SETRANGE pad values to 512 MiB.
/// - `DEBUG PANIC`: it panics on purpose (a connection survives it, `tests/panics.rs`).
///
/// Everything else runs, SHUTDOWN and DEBUG SLEEP included: no handler sleeps, blocks or
/// exits itself. In-process SHUTDOWN only notifies a waiter that is not there (the server's
/// main loop), and DEBUG SLEEP only records a pause for the connection to sleep, which this
/// harness drops.
pub fn refused(args: &[&[u8]]) -> bool {
    let is = |arg: &[u8], word: &str| arg.eq_ignore_ascii_case(word.as_bytes());
    match args {
        [name, sub, params @ ..] if is(name, "config") && is(sub, "set") => params
            .iter()
            .step_by(2)
            .any(|param| is(param, "appendonly") || is(param, "proto-max-bulk-len")),
        [name, sub, ..] => is(name, "debug") && is(sub, "panic"),
        _ => false,
    }
}

/// The limits the connection's parser has for the next request: a fresh parser with them.
fn parser_like(state: &ServerState, client: &ClientState) -> impl Fn() -> RequestParser {
    let max_bulk_len = state.live.proto_max_bulk_len();
    let authenticated = client.is_authenticated();
    move || {
        let mut parser = RequestParser::new(max_bulk_len);
        parser.set_authenticated(authenticated);
        parser
    }
}

/// A request split by the network must parse as it does whole: a prefix is neither a
/// protocol error nor a request, and once a prefix was seen the whole request still parses,
/// to the same length (the parser's memory of how many bytes a frame needs must not ask for
/// more than the frame has, or the connection would wait for bytes that never come).
fn check_split_parses(buf: &[u8], len: usize, new_parser: &impl Fn() -> RequestParser) {
    let mut cuts = [1, len / 2, len.saturating_sub(2), len.saturating_sub(1)];
    cuts.sort_unstable();
    let mut previous = 0;
    for cut in cuts {
        if cut == 0 || cut >= len || cut == previous {
            continue;
        }
        previous = cut;
        let mut parser = new_parser();
        let prefix = parser.parse(&buf[..cut]).map(|r| r.map(|r| r.consumed));
        assert_eq!(
            prefix,
            Ok(None),
            "the first {cut} bytes of a {len}-byte request parse as something else"
        );
        let whole = parser.parse(buf).map(|r| r.map(|r| r.consumed));
        assert_eq!(
            whole,
            Ok(Some(len)),
            "after its first {cut} bytes, a {len}-byte request no longer parses"
        );
    }
}

/// Checks that a reply encodes, in both protocol versions, to exactly the frames it stands
/// for: a text holding a line break, for one, would end its frame early and make the client
/// read the rest as further replies.
pub fn check_encoding(reply: &Reply) {
    let expected = frame_count(reply);
    for protocol in [Protocol::Resp2, Protocol::Resp3] {
        let mut out = BytesMut::new();
        reply.encode(protocol, &mut out);
        let found = count_frames(&out, protocol);
        assert_eq!(
            found,
            Ok(expected),
            "{protocol:?} encoding of {reply:?} is {:?}",
            String::from_utf8_lossy(&out)
        );
    }
}

/// How many top-level frames a reply is written as.
fn frame_count(reply: &Reply) -> usize {
    match reply {
        Reply::Silent => 0,
        Reply::Many(replies) => replies.iter().map(frame_count).sum(),
        _ => 1,
    }
}

/// Decodes `bytes` as back-to-back frames: how many, or why they are not whole frames.
fn count_frames(bytes: &[u8], protocol: Protocol) -> Result<usize, String> {
    let mut at = 0;
    let mut count = 0;
    while at < bytes.len() {
        let decoded = match protocol {
            Protocol::Resp2 => redis_protocol::resp2::decode::decode(&bytes[at..])
                .map(|frame| frame.map(|(_, used)| used)),
            Protocol::Resp3 => redis_protocol::resp3::decode::complete::decode(&bytes[at..])
                .map(|frame| frame.map(|(_, used)| used)),
        };
        match decoded {
            Ok(Some(used)) if used > 0 => {
                at += used;
                count += 1;
            }
            Ok(_) => return Err(format!("incomplete frame at byte {at}")),
            Err(error) => return Err(format!("bad frame at byte {at}: {error:?}")),
        }
    }
    Ok(count)
}

/// What [`run_aof_record`] found, for the test's sanity checks.
#[derive(Debug, Default)]
pub struct AofOutcome {
    /// Records decoded from `data` as it is.
    pub raw_records: usize,
    /// Records decoded from `data` once its checksums were made to match.
    pub fixed_records: usize,
    /// Whether `data`, checksums fixed, loaded as the last file of an AOF.
    pub loaded: bool,
}

/// Feeds `data` to the AOF decoding path: as back-to-back records (the codec), as a whole
/// file, header included, and as the records of a file behind a valid header (the reader).
/// Random bytes rarely carry a matching CRC32C, so the records are also tried with every
/// checksum recomputed, which lets the payload decoder and the loader see them: read by
/// [`AofReader`], loaded into a fresh store from an AOF directory, and checked as
/// `sessiond check-aof` does.
pub fn run_aof_record(data: &[u8]) -> AofOutcome {
    let fixed = with_fixed_checksums(data);
    let mut outcome = AofOutcome {
        raw_records: walk_records(data),
        ..AofOutcome::default()
    };
    check_payload(data);
    read_file(data);
    outcome.fixed_records = walk_records(&fixed);
    let mut file = Vec::with_capacity(HEADER_LEN + fixed.len());
    encode_header(FileKind::Incremental, &mut file);
    file.extend_from_slice(&fixed);
    read_file(&file);
    outcome.loaded = load_and_check(&fixed);
    outcome
}

/// Decodes records from the start of `data` until one does not decode, checking that the
/// codec's two views of a record's length agree and that every decoded effect re-encodes.
fn walk_records(data: &[u8]) -> usize {
    let mut at = 0;
    let mut records = 0;
    loop {
        let rest = &data[at..];
        let frame_len = codec::record_len(rest);
        match codec::decode(rest) {
            Ok((effect, len)) => {
                assert_eq!(frame_len, Ok(len), "record_len and decode disagree at {at}");
                check_reencodes(&effect);
                at += len;
                records += 1;
            }
            Err(DecodeError::Incomplete { needed, available }) => {
                assert!(needed > available && available == rest.len());
                assert!(
                    matches!(frame_len, Err(DecodeError::Incomplete { needed: n, .. }) if n == needed),
                    "record_len says {frame_len:?} where decode needs {needed} bytes"
                );
                return records;
            }
            Err(DecodeError::Corrupt(why)) => {
                match (&why, &frame_len) {
                    (Corruption::Length { len }, Err(DecodeError::Corrupt(same))) => {
                        assert_eq!(same, &Corruption::Length { len: *len });
                    }
                    (Corruption::Checksum { record_len, .. }, Ok(len))
                    | (Corruption::Payload { record_len, .. }, Ok(len)) => {
                        assert_eq!(record_len, len);
                    }
                    _ => panic!("decode says {why:?}, record_len says {frame_len:?}"),
                }
                return records;
            }
        }
    }
}

/// Frames `payload` as one record with the right checksum and decodes it: the bincode
/// decoder of [`Effect`] on arbitrary bytes.
fn check_payload(payload: &[u8]) {
    if payload.is_empty() || payload.len() > MAX_PAYLOAD_LEN as usize {
        return;
    }
    let record = frame(payload);
    match codec::decode(&record) {
        Ok((effect, len)) => {
            assert_eq!(len, record.len());
            check_reencodes(&effect);
        }
        Err(DecodeError::Corrupt(Corruption::Payload { record_len, .. })) => {
            assert_eq!(record_len, record.len());
        }
        Err(other) => panic!("a well-framed payload failed with {other:?}"),
    }
}

/// `payload` framed as a record: length, CRC32C, payload.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut record = Vec::with_capacity(FRAME_LEN + payload.len());
    record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    record.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    record.extend_from_slice(payload);
    record
}

/// `data` read as back-to-back frames, each checksum replaced by the CRC32C of the payload
/// after it (as much of it as there is); bytes after the last whole frame header stay.
fn with_fixed_checksums(data: &[u8]) -> Vec<u8> {
    let mut fixed = data.to_vec();
    let mut at = 0;
    while at + FRAME_LEN <= fixed.len() {
        let len = u32::from_le_bytes(fixed[at..at + 4].try_into().expect("4 bytes"));
        if len == 0 || len > MAX_PAYLOAD_LEN {
            break;
        }
        let start = at + FRAME_LEN;
        let end = start.saturating_add(len as usize).min(fixed.len());
        let checksum = crc32c::crc32c(&fixed[start..end]);
        fixed[at + 4..start].copy_from_slice(&checksum.to_le_bytes());
        at = end;
    }
    fixed
}

/// An effect that decoded must encode again, and that encoding must decode to an effect that
/// encodes the same (encoding is canonical even where decoding is lenient).
fn check_reencodes(effect: &Effect) {
    let mut first = Vec::new();
    let len = codec::encode(effect, &mut first)
        .unwrap_or_else(|error| panic!("a decoded effect does not encode: {error}"));
    assert_eq!(len, first.len());
    let (again, used) = codec::decode(&first)
        .unwrap_or_else(|error| panic!("an encoded effect does not decode: {error}"));
    assert_eq!(used, first.len());
    let mut second = Vec::new();
    codec::encode(&again, &mut second).expect("encodes again");
    assert_eq!(first, second, "encoding is not stable for {effect:?}");
}

/// Reads `file` (header first) with [`AofReader`] record by record, and checks that the
/// records tile the file up to how it ends; then reads it as two readers sharing the
/// records, as loading a base does, and checks they find the same first damage.
fn read_file(file: &[u8]) {
    let Ok(mut reader) = AofReader::new(file, "fuzz.aof") else {
        return;
    };
    let mut next_offset = HEADER_LEN as u64;
    let mut records = 0u64;
    let end = loop {
        match reader.next_record().expect("reading memory cannot fail") {
            Next::Record(record) => {
                assert_eq!(record.offset, next_offset, "records do not tile the file");
                next_offset += record.len;
                records += 1;
            }
            Next::End(end) => break end,
        }
    };
    match &end {
        FileEnd::Clean => assert_eq!(next_offset, file.len() as u64, "clean before the end"),
        FileEnd::Damaged(damage) => {
            assert_eq!(
                damage.offset, next_offset,
                "damage is not where records stop"
            );
            assert_eq!(damage.offset + damage.bytes, file.len() as u64);
            assert!(damage.bytes > 0);
        }
    }
    let again = reader.next_record().expect("reading memory cannot fail");
    assert_eq!(
        again,
        Next::End(end.clone()),
        "the end changed when asked again"
    );

    let mut first_damage: Option<u64> = None;
    let mut shared = 0u64;
    for share in 0..2u64 {
        let mut reader = AofReader::new(file, "fuzz.aof").expect("the header read before");
        let visited = reader
            .visit_selected(
                |index| index % 2 == share,
                |_| {
                    shared += 1;
                    ControlFlow::<()>::Continue(())
                },
            )
            .expect("reading memory cannot fail");
        let ControlFlow::Continue(found) = visited else {
            unreachable!("the visitor never breaks");
        };
        if let FileEnd::Damaged(damage) = found {
            first_damage = Some(first_damage.map_or(damage.offset, |d| d.min(damage.offset)));
        }
    }
    let sequential = match &end {
        FileEnd::Clean => None,
        FileEnd::Damaged(damage) => Some(damage.offset),
    };
    assert_eq!(
        first_damage, sequential,
        "readers sharing the file find other damage than one reader"
    );
    assert!(shared >= records, "shared readers took fewer records");
}

/// Writes `records` as an AOF directory twice, once as the base before an empty incremental
/// file (a base that is not last is loaded by several threads) and once as the last
/// incremental file after an empty base (read by one, a torn tail truncated), loads each into
/// a fresh store and checks it as `check-aof` does. Returns whether the second one loaded.
fn load_and_check(records: &[u8]) -> bool {
    let dir = tempfile::Builder::new()
        .prefix("sessiond-fuzz-aof")
        .tempdir_in(scratch_dir())
        .expect("a temporary directory");
    let mut loaded = false;
    for records_in_base in [true, false] {
        let (base, incr) = if records_in_base {
            (records, &[][..])
        } else {
            (&[][..], records)
        };
        write_aof(dir.path(), base, incr);
        let state = ServerState::new(config());
        loaded = load::load(dir.path(), &state.store, true, now_ms()).is_ok();
        if let Ok(report) = check::check(dir.path()) {
            let mut text = String::new();
            for file in &report.files {
                let _ = writeln!(text, "{file}");
            }
            let _ = (report.is_valid(), report.fixable());
        }
    }
    loaded
}

/// Where the temporary AOF directories go: memory, where the machine has a tmpfs for it.
fn scratch_dir() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// An AOF directory: a manifest naming base 1 and incremental 1, holding these records.
pub fn write_aof(dir: &Path, base: &[u8], incr: &[u8]) {
    for (name, kind, records) in [
        (base_name(1), FileKind::Base, base),
        (incr_name(1), FileKind::Incremental, incr),
    ] {
        let mut bytes = Vec::with_capacity(HEADER_LEN + records.len());
        encode_header(kind, &mut bytes);
        bytes.extend_from_slice(records);
        std::fs::write(dir.join(name), bytes).expect("writes the AOF file");
    }
    let manifest = format!(
        "file {} seq 1 type b\nfile {} seq 1 type i\n",
        base_name(1),
        incr_name(1)
    );
    std::fs::write(dir.join(MANIFEST_NAME), manifest).expect("writes the manifest");
}
