//! The per-connection task: read → decode → dispatch → encode → write.
//!
//! Every complete request in the read buffer is executed in order and all their replies go
//! out in one write (pipelining). Replies wait for the end of the worker's turn: every other
//! connection ready on the worker runs its commands first, then the journal is written once
//! for all of them and their replies leave together, as in Redis's event loop. Pub/sub
//! messages arrive on the client's mailbox and are written between batches, encoded in the
//! client's protocol version.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{ClientState, ServerState};
use crate::command::{self, Context};
use crate::protocol::{Protocol, Reply, RequestParser};
use crate::pubsub::{Backlog, Delivery, Inbox, Mailbox, Message};
use crate::store::now_ms;

const READ_BUFFER: usize = 16 * 1024;
/// How long a closing connection keeps discarding what the peer still sends.
const LINGER: Duration = Duration::from_millis(250);

/// Serves one client until it disconnects, quits or is killed (CLIENT KILL, or the idle sweep
/// in [`super::close_idle_clients`]).
pub async fn serve(state: Arc<ServerState>, socket: TcpStream) {
    let Some((addr, local_addr)) = addresses(&state, &socket) else {
        return;
    };
    serve_stream(state, socket, addr, local_addr).await;
}

/// The peer's and the local address of an admitted socket, with Nagle's algorithm turned off
/// (each batch of replies is one write); `None`, with the admission given back, when the
/// peer is already gone.
pub(super) fn addresses(
    state: &ServerState,
    socket: &TcpStream,
) -> Option<(SocketAddr, SocketAddr)> {
    let (Ok(addr), Ok(local_addr)) = (socket.peer_addr(), socket.local_addr()) else {
        state.clients.release_admission();
        return None;
    };
    let _ = socket.set_nodelay(true);
    Some((addr, local_addr))
}

/// Serves an admitted client over `stream`, plain TCP or TLS, as [`serve`] describes.
pub(super) async fn serve_stream<S: AsyncRead + AsyncWrite + Unpin>(
    state: Arc<ServerState>,
    mut socket: S,
    addr: SocketAddr,
    local_addr: SocketAddr,
) {
    let (mailbox, mut inbox) = Mailbox::new();
    let backlog = mailbox.backlog().clone();
    let handle = state.clients.register(addr, local_addr, mailbox);
    let namespace = state.default_namespace();
    let authenticated = state.config.read().requirepass.is_none();
    let user = state.users.default_user().clone();
    let mut client = Registered {
        state: &state,
        client: ClientState::new(handle, user, namespace, authenticated),
    };
    let mut connection = Connection {
        parser: RequestParser::new(state.live.proto_max_bulk_len()),
        input: BytesMut::with_capacity(READ_BUFFER),
        output: BytesMut::with_capacity(READ_BUFFER),
        unpersisted: 0,
        backlog,
        delivered: 0,
        replies_over_soft_since: None,
    };
    let outcome = connection
        .run(&state, &mut socket, &mut client.client, &mut inbox)
        .await;
    drop(client);
    if outcome.is_ok() {
        close_gracefully(&mut socket).await;
    }
}

/// A connection's client while it is registered. Dropping it forgets the client (registry
/// entry, `connected_clients`, subscriptions), on the way out of a panic in the client's
/// handling too: tokio catches the panic and drops the task, which closes the socket.
struct Registered<'a> {
    state: &'a ServerState,
    client: ClientState,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            tracing::error!(
                "Client id={} addr={} closed: its command's handling panicked (logged \
                 above); the server goes on",
                self.client.id(),
                self.client.handle().addr
            );
        }
        self.state.forget_client(&mut self.client);
    }
}

/// Ends a connection so that the peer reads every reply first. Closing a socket with unread
/// input resets it, and a reset discards what the peer has not read yet, such as the error
/// reply to an oversized request it is still sending; so the write side is shut first and
/// the peer's remaining input is read and dropped for up to [`LINGER`].
pub(super) async fn close_gracefully<S: AsyncRead + AsyncWrite + Unpin>(socket: &mut S) {
    if socket.shutdown().await.is_err() {
        return;
    }
    let mut sink = [0u8; 8192];
    let drain = async {
        while let Ok(read) = socket.read(&mut sink).await {
            if read == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

struct Connection {
    parser: RequestParser,
    input: BytesMut,
    output: BytesMut,
    /// Journal position the replies in `output` wait for (0 = none): they leave only once
    /// every change they could show is persisted as `appendfsync` promises.
    unpersisted: u64,
    /// The account of pub/sub output waiting for this client; it says when the client went
    /// over `client-output-buffer-limit pubsub`.
    backlog: Arc<Backlog>,
    /// Bytes of delivered messages in `output`, settled in `backlog` once written.
    delivered: u64,
    /// Since when the replies in `output` have been over the normal class's soft limit.
    replies_over_soft_since: Option<Instant>,
}

/// Why a connection was closed by `client-output-buffer-limit`.
fn over_output_limit(client: &ClientState) -> std::io::Error {
    tracing::warn!(
        "Client id={} addr={} closed for overcoming of output buffer limits.",
        client.id(),
        client.handle().addr
    );
    std::io::Error::other("output buffer limit reached")
}

impl Connection {
    async fn run<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        state: &ServerState,
        socket: &mut S,
        client: &mut ClientState,
        inbox: &mut Inbox,
    ) -> std::io::Result<()> {
        let backlog = self.backlog.clone();
        loop {
            tokio::select! {
                biased;
                // Only subscribers and monitors receive messages, so only they can
                // overflow; a branch whose condition is false is never polled and costs
                // nothing.
                () = backlog.overflowed(), if client.receives_messages() => {
                    return Err(over_output_limit(client));
                }
                read = socket.read_buf(&mut self.input) => {
                    let read = read?;
                    if read == 0 {
                        return Ok(());
                    }
                    state.stats.count_read(read as u64, self.input.len() as u64);
                    self.execute_buffered(state, socket, client, inbox).await?;
                }
                Some(delivery) = inbox.recv() => {
                    if self.deliver(delivery, client.protocol()) == Flow::Close
                        || self.deliver_pending(inbox, client.protocol()) == Flow::Close
                    {
                        return Ok(());
                    }
                    // A keyspace event tells of a change: it waits for it like a reply.
                    self.unpersisted = state.store.journal().durable_end();
                }
            }
            if !self.output.is_empty() {
                self.flush(state, socket, client).await?;
            }
            if client.wants_close() {
                return Ok(());
            }
        }
    }

    /// Writes the replies gathered so far at the end of the worker's turn, once what they
    /// acknowledge is persisted. A client that goes over its pub/sub output limit meanwhile
    /// is closed without waiting for it to read.
    async fn flush<S: AsyncWrite + Unpin>(
        &mut self,
        state: &ServerState,
        socket: &mut S,
        client: &ClientState,
    ) -> std::io::Result<()> {
        let position = std::mem::take(&mut self.unpersisted);
        let_the_turn_run().await;
        if position > 0 {
            state.store.journal().persist(position);
        }
        if self.backlog.has_overflowed() {
            return Err(over_output_limit(client));
        }
        tokio::select! {
            biased;
            () = self.backlog.overflowed(), if client.receives_messages() => {
                return Err(over_output_limit(client));
            }
            written = write_all_flushed(socket, &self.output) => written?,
        }
        self.backlog.written(std::mem::take(&mut self.delivered));
        self.replies_over_soft_since = None;
        state.stats.count_write(self.output.len() as u64);
        self.output.clear();
        Ok(())
    }

    /// Fails when the replies gathered for a client without subscriptions break
    /// `client-output-buffer-limit normal`.
    fn check_reply_limit(
        &mut self,
        state: &ServerState,
        client: &ClientState,
    ) -> std::io::Result<()> {
        let limit = state.live.normal_output_limit();
        let waiting = self.output.len() as u64;
        if client.subscription_count() > 0 || (limit.hard == 0 && limit.soft == 0) {
            return Ok(());
        }
        let over_hard = limit.hard > 0 && waiting > limit.hard;
        let over_soft = limit.soft > 0 && waiting > limit.soft;
        if !over_soft {
            self.replies_over_soft_since = None;
        }
        // The clock is read only once over the soft limit: this runs after every batch.
        let soft_expired = over_soft
            && self
                .replies_over_soft_since
                .get_or_insert_with(Instant::now)
                .elapsed()
                >= Duration::from_secs(limit.soft_seconds);
        if over_hard || soft_expired {
            return Err(over_output_limit(client));
        }
        Ok(())
    }

    /// Runs every complete request in the input buffer, appending replies to the output.
    async fn execute_buffered<S: AsyncWrite + Unpin>(
        &mut self,
        state: &ServerState,
        socket: &mut S,
        client: &mut ClientState,
        inbox: &mut Inbox,
    ) -> std::io::Result<()> {
        let mut consumed = 0;
        let mut executed = 0;
        self.parser
            .set_max_bulk_len(state.live.proto_max_bulk_len());
        loop {
            self.parser.set_authenticated(client.is_authenticated());
            let request = match self.parser.parse(&self.input[consumed..]) {
                Ok(Some(request)) => request,
                Ok(None) => break,
                Err(error) => {
                    let reply = Reply::Error(error.to_string());
                    count_error(state, &reply);
                    reply.encode(client.protocol(), &mut self.output);
                    client.close_after_reply();
                    break;
                }
            };
            consumed += request.consumed;
            let mut ctx = Context {
                server: state,
                client,
                now: now_ms(),
            };
            let reply = command::execute(&mut ctx, &request.args.as_slices());
            self.unpersisted = state.store.journal().durable_end();
            executed += 1;
            if let Some(pause) = client.take_pause() {
                self.flush(state, socket, client).await?;
                tokio::time::sleep(pause).await;
            }
            // Messages this command published to the client itself precede its reply, as
            // they would in Redis's output buffer.
            if client.subscription_count() > 0
                && self.deliver_pending(inbox, client.protocol()) == Flow::Close
            {
                client.close_after_reply();
                break;
            }
            count_error(state, &reply);
            reply.encode(client.protocol(), &mut self.output);
            self.check_reply_limit(state, client)?;
            if client.wants_close() {
                break;
            }
        }
        self.input.advance(consumed);
        state.stats.count_commands(executed);
        Ok(())
    }
}

/// Lets every other connection task already queued on this worker run before this one goes
/// on, so a worker's turn runs all its ready connections' commands before any of their
/// replies: the first connection back writes the journal for the whole turn (one write(2),
/// under `always` one fsync) and the replies reach the clients together, which on a loopback
/// or small machine saves a wake-up of the client per reply. Unlike `tokio::task::yield_now`
/// it does not poll the I/O driver first, which would begin a new turn.
async fn let_the_turn_run() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await;
}

/// Writes `bytes` and flushes them: a TLS stream may keep encrypted bytes buffered after a
/// write until it is flushed (a TCP stream's flush does nothing). The loop is `write_all`'s,
/// written out because LLVM stopped inlining tokio's `WriteAll` here once the connection
/// loop became generic: 35 more instructions per GET under callgrind.
async fn write_all_flushed<S: AsyncWrite + Unpin>(
    socket: &mut S,
    mut bytes: &[u8],
) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match socket.write(bytes).await? {
            0 => return Err(std::io::ErrorKind::WriteZero.into()),
            written => bytes = &bytes[written..],
        }
    }
    socket.flush().await
}

/// Counts an error reply for INFO `errorstats` and for the metrics, when they are on.
fn count_error(state: &ServerState, reply: &Reply) {
    if let Reply::Error(text) = reply {
        state.stats.count_error(text);
        if state.metrics.is_some() {
            crate::metrics::error_reply(text);
        }
    }
}

/// Whether the connection goes on after a delivery.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
}

impl Connection {
    /// Writes a delivered message into the output, or reports a disconnect request.
    fn deliver(&mut self, delivery: Delivery, protocol: Protocol) -> Flow {
        match delivery {
            Delivery::Message(message) => {
                self.delivered += message.encoded_len();
                encode_message(&message, protocol, &mut self.output);
                Flow::Continue
            }
            Delivery::Line(line) => {
                self.delivered += line.len() as u64;
                self.output.extend_from_slice(&line);
                Flow::Continue
            }
            Delivery::Disconnect => Flow::Close,
        }
    }

    /// Takes every delivery already waiting in the inbox.
    fn deliver_pending(&mut self, inbox: &mut Inbox, protocol: Protocol) -> Flow {
        while let Ok(delivery) = inbox.try_recv() {
            if self.deliver(delivery, protocol) == Flow::Close {
                return Flow::Close;
            }
        }
        Flow::Continue
    }
}

/// Encodes a pub/sub message: an array in RESP2, a push frame in RESP3.
fn encode_message(message: &Message, protocol: Protocol, out: &mut BytesMut) {
    let mut items = Vec::with_capacity(4);
    match &message.pattern {
        Some(pattern) => {
            items.push(Reply::Bulk("pmessage".into()));
            items.push(Reply::Bulk(pattern.clone()));
        }
        None => items.push(Reply::Bulk("message".into())),
    }
    items.push(Reply::Bulk(message.channel.clone()));
    items.push(Reply::Bulk(message.payload.clone()));
    Reply::Push(items).encode(protocol, out);
}
