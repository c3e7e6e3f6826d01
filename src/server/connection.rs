//! The per-connection task: read → decode → dispatch → encode → write.
//!
//! Every complete request in the read buffer is executed in order and all their replies go
//! out in one write (pipelining). Pub/sub messages arrive on the client's mailbox and are
//! written between batches, encoded in the client's protocol version.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::time::Instant;

use super::{ClientState, ServerState};
use crate::command::{self, Context};
use crate::protocol::{Protocol, Reply, RequestParser};
use crate::pubsub::Message;
use crate::store::now_ms;

const READ_BUFFER: usize = 16 * 1024;

/// Serves one client until it disconnects, quits, is killed or idles past `timeout`.
pub async fn serve(state: Arc<ServerState>, mut socket: TcpStream) {
    let (Ok(addr), Ok(local_addr)) = (socket.peer_addr(), socket.local_addr()) else {
        return;
    };
    let _ = socket.set_nodelay(true);
    let handle = state.clients.register(addr, local_addr);
    let (mailbox, mut inbox) = unbounded_channel();
    let namespace = state.default_namespace();
    let authenticated = state.config.read().requirepass.is_none();
    let mut client = ClientState::new(handle.clone(), namespace, mailbox, authenticated);
    let mut connection = Connection {
        parser: RequestParser::new(state.live.proto_max_bulk_len()),
        input: BytesMut::with_capacity(READ_BUFFER),
        output: BytesMut::with_capacity(READ_BUFFER),
    };
    let _ = connection
        .run(&state, &mut socket, &mut client, &mut inbox)
        .await;
    state.forget_client(&mut client);
}

struct Connection {
    parser: RequestParser,
    input: BytesMut,
    output: BytesMut,
}

impl Connection {
    async fn run(
        &mut self,
        state: &ServerState,
        socket: &mut TcpStream,
        client: &mut ClientState,
        inbox: &mut UnboundedReceiver<Arc<Message>>,
    ) -> std::io::Result<()> {
        let handle = client.handle().clone();
        loop {
            let idle_limit = state.live.timeout();
            let idle_deadline = (idle_limit > 0 && client.subscription_count() == 0)
                .then(|| Instant::now() + Duration::from_secs(idle_limit));
            tokio::select! {
                biased;
                () = handle.killed() => return Ok(()),
                read = socket.read_buf(&mut self.input) => {
                    if read? == 0 {
                        return Ok(());
                    }
                    self.execute_buffered(state, socket, client, inbox).await?;
                }
                Some(message) = inbox.recv() => {
                    encode_message(&message, client.protocol(), &mut self.output);
                    while let Ok(message) = inbox.try_recv() {
                        encode_message(&message, client.protocol(), &mut self.output);
                    }
                }
                () = sleep_until(idle_deadline) => return Ok(()),
            }
            if !self.output.is_empty() {
                socket.write_all(&self.output).await?;
                self.output.clear();
            }
            if client.wants_close() {
                return Ok(());
            }
        }
    }

    /// Runs every complete request in the input buffer, appending replies to the output.
    async fn execute_buffered(
        &mut self,
        state: &ServerState,
        socket: &mut TcpStream,
        client: &mut ClientState,
        inbox: &mut UnboundedReceiver<Arc<Message>>,
    ) -> std::io::Result<()> {
        let mut consumed = 0;
        loop {
            let request = match self.parser.parse(&self.input[consumed..]) {
                Ok(Some(request)) => request,
                Ok(None) => break,
                Err(error) => {
                    Reply::Error(error.to_string()).encode(client.protocol(), &mut self.output);
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
            let reply = command::execute(&mut ctx, &request.args);
            if let Some(pause) = client.take_pause() {
                socket.write_all(&self.output).await?;
                self.output.clear();
                tokio::time::sleep(pause).await;
            }
            if client.subscription_count() > 0 {
                // Messages this command published to the client itself precede its reply,
                // as they would in Redis's output buffer.
                while let Ok(message) = inbox.try_recv() {
                    encode_message(&message, client.protocol(), &mut self.output);
                }
            }
            reply.encode(client.protocol(), &mut self.output);
            if client.wants_close() {
                break;
            }
        }
        self.input.advance(consumed);
        self.parser
            .set_max_bulk_len(state.live.proto_max_bulk_len());
        Ok(())
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
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
