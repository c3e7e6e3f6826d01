//! Micro-benchmarks of the request hot path: RESP parsing, dispatch through the command
//! table into a shard, reply encoding, the shard lookup on its own, and the session
//! operations (create, get, touch) below the protocol.

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use criterion::{Criterion, criterion_group, criterion_main};
use sessiond::command::{self, Context};
use sessiond::config::Config;
use sessiond::protocol::{Protocol, RequestParser};
use sessiond::server::{ClientState, ServerState};
use sessiond::session::{CreateRequest, SessionId};
use sessiond::store::{Value, now_ms};

const SET_REQUEST: &[u8] = b"*3\r\n$3\r\nSET\r\n$10\r\nkey:000042\r\n$3\r\nxyz\r\n";
const GET_REQUEST: &[u8] = b"*2\r\n$3\r\nGET\r\n$10\r\nkey:000042\r\n";

fn server_and_client() -> (Arc<ServerState>, ClientState) {
    let state = Arc::new(ServerState::new(Config::default()));
    let addr: SocketAddr = "127.0.0.1:1".parse().expect("a valid address");
    let (mailbox, _inbox) = sessiond::pubsub::Mailbox::new();
    let handle = state.clients.register(addr, addr, mailbox);
    let user = state.users.default_user().clone();
    let client = ClientState::new(handle, user, state.default_namespace(), true);
    (state, client)
}

/// Parses every request in `input`, runs it and encodes its reply, as a connection does.
fn run_batch(state: &ServerState, client: &mut ClientState, input: &[u8], out: &mut BytesMut) {
    let mut parser = RequestParser::new(512 * 1024 * 1024);
    let mut offset = 0;
    while let Ok(Some(request)) = parser.parse(&input[offset..]) {
        offset += request.consumed;
        let mut ctx = Context {
            server: state,
            client,
            now: now_ms(),
        };
        let reply = command::execute(&mut ctx, &request.args.as_slices());
        reply.encode(Protocol::Resp2, out);
    }
}

fn benchmarks(c: &mut Criterion) {
    let (state, mut client) = server_and_client();
    let mut out = BytesMut::with_capacity(64 * 1024);

    c.bench_function("parse_set_request", |b| {
        let mut parser = RequestParser::new(512 * 1024 * 1024);
        b.iter(|| {
            black_box(
                parser
                    .parse(black_box(SET_REQUEST))
                    .map(|r| r.map(|r| r.consumed)),
            )
        })
    });

    c.bench_function("set_parse_execute_encode", |b| {
        b.iter(|| {
            out.clear();
            run_batch(&state, &mut client, black_box(SET_REQUEST), &mut out);
        })
    });

    c.bench_function("get_parse_execute_encode", |b| {
        b.iter(|| {
            out.clear();
            run_batch(&state, &mut client, black_box(GET_REQUEST), &mut out);
        })
    });

    let pipeline: Vec<u8> = GET_REQUEST.repeat(16);
    c.bench_function("get_pipeline_16", |b| {
        b.iter(|| {
            out.clear();
            run_batch(&state, &mut client, black_box(&pipeline), &mut out);
        })
    });

    let db = client.database();
    let now = now_ms();
    for i in 0..100_000 {
        let key = format!("key:{i:06}");
        db.lock(key.as_bytes())
            .set(key.as_bytes(), Value::string("v".into()), None, now);
    }
    c.bench_function("shard_lookup_100k_keys", |b| {
        let mut i = 0u32;
        b.iter(|| {
            i = (i + 7919) % 100_000;
            let key = format!("key:{i:06}");
            let mut shard = db.lock(key.as_bytes());
            black_box(shard.get(key.as_bytes(), now).is_some())
        })
    });
}

/// The four fields of a session-shaped record (114 bytes), as in `benches/memory.sh`.
const SESSION_FIELDS: &[(&[u8], &[u8])] = &[
    (b"user_id", b"42"),
    (b"csrf", b"0123456789abcdef0123456789abcdef"),
    (b"created_at", b"1732352400"),
    (b"last_path", b"/account/orders/2026/11?page=3&sort=desc"),
];

fn session_benchmarks(c: &mut Criterion) {
    let (_state, client) = server_and_client();
    let namespace = client.namespace();
    let (sessions, policy) = (namespace.sessions(), namespace.policy());
    let now = now_ms();
    let request = |user: &'static [u8]| CreateRequest {
        user,
        idle_s: None,
        absolute_s: None,
        fields: SESSION_FIELDS,
    };
    let ids: Vec<SessionId> = (0..100_000)
        .map(|_| {
            sessions
                .create(&request(b"someone"), &policy, now)
                .expect("no cap, small data")
        })
        .collect();

    c.bench_function("session_create", |b| {
        b.iter(|| black_box(sessions.create(&request(b"bench"), &policy, now_ms())))
    });
    c.bench_function("session_get_all_fields_100k", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 7919) % ids.len();
            black_box(sessions.read(&ids[i], true, &policy, now_ms(), |record| {
                record.fields().count()
            }))
        })
    });
    c.bench_function("session_touch_100k", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 7919) % ids.len();
            black_box(sessions.read(&ids[i], true, &policy, now_ms(), |record| record.deadline()))
        })
    });
}

criterion_group!(benches, benchmarks, session_benchmarks);
criterion_main!(benches);
