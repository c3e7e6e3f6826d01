//! Per-connection state, and the registry that CLIENT LIST / KILL read.
//!
//! [`ClientState`] belongs to the connection task alone. The part other connections may see
//! or act on (name, user, namespace, last command, kill switch) lives in a shared
//! [`ClientHandle`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;

use super::namespaces::NamespaceError;
use super::users::User;
use crate::command::CommandSpec;
use crate::command::transaction::{Transaction, WatchedKeys};
use crate::protocol::Protocol;
use crate::pubsub::{Hub, Mailbox};
use crate::store::{Database, Namespace, now_ms};

/// What CLIENT LIST shows of a client, changed only by the client's own commands.
#[derive(Debug, Default, Clone)]
pub struct ClientInfo {
    /// CLIENT SETNAME.
    pub name: String,
    /// CLIENT SETINFO LIB-NAME.
    pub lib_name: String,
    /// CLIENT SETINFO LIB-VER.
    pub lib_ver: String,
    /// Selected database.
    pub db: usize,
    /// Protocol version.
    pub resp: u8,
    /// Channel subscriptions.
    pub subscriptions: usize,
    /// Pattern subscriptions.
    pub patterns: usize,
    /// The authenticated user.
    pub user: String,
    /// The id of the namespace the client works in (SESSION.NAMESPACE DROP finds its
    /// connections by it).
    pub namespace: u32,
    /// Commands queued since MULTI (CLIENT LIST's `multi`, and flag `x`); `None` outside.
    pub multi: Option<usize>,
    /// Whether the client is in MONITOR mode (CLIENT LIST's `O` flag).
    pub monitor: bool,
}

impl ClientInfo {
    /// Whether the client holds any subscription (CLIENT LIST's `P` flag, TYPE pubsub).
    pub fn is_pubsub(&self) -> bool {
        self.subscriptions + self.patterns > 0
    }
}

/// The shared face of a connection.
#[derive(Debug)]
pub struct ClientHandle {
    /// Unique, increasing client id.
    pub id: u64,
    /// The peer's address.
    pub addr: SocketAddr,
    /// Our end of the connection.
    pub local_addr: SocketAddr,
    created: Instant,
    last_interaction_ms: AtomicU64,
    /// The last command run; only pointers to the static command table are stored.
    last_command: AtomicPtr<CommandSpec>,
    info: Mutex<ClientInfo>,
    mailbox: Mailbox,
}

impl ClientHandle {
    /// Asks the connection to close after its current command.
    pub fn kill(&self) {
        self.mailbox.disconnect();
    }

    /// Where the connection's pub/sub messages and disconnect requests are delivered.
    pub fn mailbox(&self) -> &Mailbox {
        &self.mailbox
    }

    /// The name of the last command run (`NULL` before the first), for CLIENT LIST.
    fn last_command_name(&self) -> &'static str {
        let spec = self.last_command.load(Ordering::Relaxed);
        // SAFETY: `last_command` only ever holds null or a pointer made from a
        // `&'static CommandSpec` (see `ClientState::record_command`), valid for the program.
        unsafe { spec.as_ref() }.map_or("NULL", |spec| spec.name)
    }

    /// A copy of the visible information.
    pub fn info(&self) -> ClientInfo {
        self.info.lock().clone()
    }

    /// Changes the visible information.
    pub fn update(&self, change: impl FnOnce(&mut ClientInfo)) {
        change(&mut self.info.lock());
    }

    /// Milliseconds since the client last ran a command (or connected).
    pub fn idle_ms(&self, now: u64) -> u64 {
        now.saturating_sub(self.last_interaction_ms.load(Ordering::Relaxed))
    }

    /// Seconds since the client connected.
    pub fn age_secs(&self) -> u64 {
        self.created.elapsed().as_secs()
    }

    /// One line of CLIENT LIST / CLIENT INFO, in Redis's format.
    pub fn describe(&self) -> String {
        let info = self.info();
        let idle = self.idle_ms(now_ms()) / 1000;
        let flags = match (info.monitor, info.is_pubsub(), info.multi.is_some()) {
            (true, ..) => "O",
            (false, false, false) => "N",
            (false, true, false) => "P",
            (false, false, true) => "x",
            (false, true, true) => "Px",
        };
        let multi = info.multi.map_or(-1, |queued| queued as i64);
        let mut line = String::new();
        let _ = write!(
            line,
            "id={} addr={} laddr={} fd=8 name={} age={} idle={idle} flags={flags} db={} sub={} psub={} ssub=0 multi={multi} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem={} tot-mem=0 events=r cmd={} user={} redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.local_addr,
            info.name,
            self.created.elapsed().as_secs(),
            info.db,
            info.subscriptions,
            info.patterns,
            self.mailbox.backlog().bytes(),
            self.last_command_name(),
            info.user,
            info.resp,
            info.lib_name,
            info.lib_ver,
        );
        line
    }
}

/// Every connected client, by id.
#[derive(Debug, Default)]
pub struct ClientRegistry {
    clients: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    next_id: AtomicU64,
    connected: AtomicUsize,
}

impl ClientRegistry {
    /// Registers an admitted connection, whose deliveries go to `mailbox`, and returns its
    /// handle.
    pub fn register(
        &self,
        addr: SocketAddr,
        local_addr: SocketAddr,
        mailbox: Mailbox,
    ) -> Arc<ClientHandle> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let handle = Arc::new(ClientHandle {
            id,
            addr,
            local_addr,
            created: Instant::now(),
            last_interaction_ms: AtomicU64::new(now_ms()),
            last_command: AtomicPtr::new(std::ptr::null_mut()),
            info: Mutex::new(ClientInfo {
                resp: 2,
                user: "default".into(),
                ..ClientInfo::default()
            }),
            mailbox,
        });
        self.clients.lock().insert(id, handle.clone());
        handle
    }

    /// Admits one more connection if fewer than `max` are admitted; the accept loop calls
    /// this before spawning the connection's task, so a burst cannot overshoot `maxclients`.
    pub fn try_admit(&self, max: usize) -> bool {
        self.connected
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok()
    }

    /// Gives back an admission whose connection never registered.
    pub fn release_admission(&self) {
        self.connected.fetch_sub(1, Ordering::AcqRel);
    }

    /// Forgets a closed connection.
    pub fn unregister(&self, id: u64) {
        if self.clients.lock().remove(&id).is_some() {
            self.release_admission();
        }
    }

    /// How many clients are connected (admitted and not yet gone).
    pub fn count(&self) -> usize {
        self.connected.load(Ordering::Relaxed)
    }

    /// All handles, ordered by id.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.clients.lock().values().cloned().collect()
    }
}

/// The state of one connection, owned by its task.
pub struct ClientState {
    handle: Arc<ClientHandle>,
    user: Arc<User>,
    namespace: Arc<Namespace>,
    db: usize,
    protocol: Protocol,
    authenticated: bool,
    /// Channels this client is subscribed to.
    pub channels: BTreeSet<Bytes>,
    /// Patterns this client is subscribed to.
    pub patterns: BTreeSet<Bytes>,
    close_after_reply: bool,
    pause: Option<Duration>,
    /// Commands queued since MULTI, until EXEC or DISCARD.
    transaction: Option<Transaction>,
    /// Keys WATCHed for the next EXEC.
    pub watched: WatchedKeys,
    monitoring: bool,
}

impl ClientState {
    /// State for a new connection acting as `user` in `namespace`, database 0, RESP2.
    pub fn new(
        handle: Arc<ClientHandle>,
        user: Arc<User>,
        namespace: Arc<Namespace>,
        authenticated: bool,
    ) -> Self {
        let (user_name, namespace_id) = (user.name().to_string(), namespace.id());
        handle.update(|info| {
            info.user = user_name;
            info.namespace = namespace_id;
        });
        ClientState {
            handle,
            user,
            namespace,
            db: 0,
            protocol: Protocol::Resp2,
            authenticated,
            channels: BTreeSet::new(),
            patterns: BTreeSet::new(),
            close_after_reply: false,
            pause: None,
            transaction: None,
            watched: WatchedKeys::default(),
            monitoring: false,
        }
    }

    /// The client id.
    pub fn id(&self) -> u64 {
        self.handle.id
    }

    /// The shared handle.
    pub fn handle(&self) -> &Arc<ClientHandle> {
        &self.handle
    }

    /// The user the connection acts as (the default user until AUTH says otherwise).
    pub fn user(&self) -> &Arc<User> {
        &self.user
    }

    /// Acts as `user` from now on; where it works is changed separately.
    pub fn set_user(&mut self, user: Arc<User>) {
        let name = user.name().to_string();
        self.user = user;
        self.handle.update(|info| info.user = name);
    }

    /// The namespace the connection works in.
    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    /// Whether MULTI was called and no EXEC or DISCARD yet.
    pub fn in_transaction(&self) -> bool {
        self.transaction.is_some()
    }

    /// Starts queuing commands (MULTI).
    pub fn begin_transaction(&mut self) {
        self.transaction = Some(Transaction::default());
        self.handle.update(|info| info.multi = Some(0));
    }

    /// Queues a command for EXEC; false when there is no transaction.
    pub fn queue_command(&mut self, spec: &'static CommandSpec, args: &[&[u8]]) -> bool {
        let Some(transaction) = &mut self.transaction else {
            return false;
        };
        transaction.queue(spec, args);
        let queued = transaction.len();
        self.handle.update(|info| info.multi = Some(queued));
        true
    }

    /// Marks the transaction, if any, as failed (EXECABORT at EXEC).
    pub fn doom_transaction(&mut self) {
        if let Some(transaction) = &mut self.transaction {
            transaction.doom();
        }
    }

    /// Forgets every WATCHed key (UNWATCH, and what EXEC, DISCARD and RESET imply).
    pub fn unwatch_all(&mut self) {
        self.watched = WatchedKeys::default();
    }

    /// Ends the transaction (EXEC, DISCARD, RESET), returning it.
    pub fn take_transaction(&mut self) -> Option<Transaction> {
        let transaction = self.transaction.take()?;
        self.handle.update(|info| info.multi = None);
        Some(transaction)
    }

    /// The namespace the connection works in, shared (to remember it beyond this call).
    pub fn namespace_arc(&self) -> &Arc<Namespace> {
        &self.namespace
    }

    /// Moves the connection into `namespace`, database 0. Subscriptions are filed in the hub
    /// under the namespace's id and unsubscribing uses the current one, so a subscribed
    /// connection may not leave its namespace. Only [`super::ServerState::enter_namespace`]
    /// calls this, so that a concurrent SESSION.NAMESPACE DROP sees every connection inside.
    pub(super) fn enter(&mut self, namespace: Arc<Namespace>) -> Result<(), NamespaceError> {
        if namespace.id() != self.namespace.id() && self.subscription_count() > 0 {
            return Err(NamespaceError::Subscribed);
        }
        let id = namespace.id();
        self.namespace = namespace;
        self.db = 0;
        self.handle.update(|info| {
            info.namespace = id;
            info.db = 0;
        });
        Ok(())
    }

    /// The selected database.
    pub fn database(&self) -> &Database {
        self.namespace
            .database(self.db)
            .expect("SELECT only accepts databases that exist")
    }

    /// The selected database's index.
    pub fn db_index(&self) -> usize {
        self.db
    }

    /// Selects a database; the caller checked it exists.
    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.handle.update(|info| info.db = db);
    }

    /// The protocol version replies are encoded in.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Switches the protocol version (HELLO).
    pub fn set_protocol(&mut self, protocol: Protocol) {
        self.protocol = protocol;
        let resp = if protocol == Protocol::Resp3 { 3 } else { 2 };
        self.handle.update(|info| info.resp = resp);
    }

    /// Whether the client may run commands that need authentication.
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// Marks the client authenticated (or not, after RESET).
    pub fn set_authenticated(&mut self, authenticated: bool) {
        self.authenticated = authenticated;
    }

    /// Where this client's pub/sub messages are delivered.
    pub fn mailbox(&self) -> &Mailbox {
        self.handle.mailbox()
    }

    /// Channel plus pattern subscriptions.
    pub fn subscription_count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Whether messages are delivered to this client (subscriptions, MONITOR), so its
    /// waiting output is held to the pub/sub limit.
    pub fn receives_messages(&self) -> bool {
        self.subscription_count() > 0 || self.monitoring
    }

    /// Whether the client is in MONITOR mode.
    pub fn is_monitoring(&self) -> bool {
        self.monitoring
    }

    /// Enters or leaves MONITOR mode (CLIENT LIST's `O` flag).
    pub fn set_monitoring(&mut self, monitoring: bool) {
        self.monitoring = monitoring;
        self.handle.update(|info| info.monitor = monitoring);
    }

    /// Whether RESP2 subscribe mode restricts the commands this client may run.
    pub fn in_resp2_subscribe_mode(&self) -> bool {
        self.protocol == Protocol::Resp2 && self.subscription_count() > 0
    }

    /// Ends every channel and pattern subscription (RESET, and a closed connection).
    pub fn unsubscribe_all(&mut self, hub: &Hub) {
        let namespace = self.namespace.id();
        for channel in std::mem::take(&mut self.channels) {
            hub.unsubscribe(namespace, &channel, self.id());
        }
        for pattern in std::mem::take(&mut self.patterns) {
            hub.punsubscribe(namespace, &pattern, self.id());
        }
        self.sync_subscription_info();
    }

    /// Publishes the subscription counts for CLIENT LIST.
    pub fn sync_subscription_info(&self) {
        let (channels, patterns) = (self.channels.len(), self.patterns.len());
        self.handle.update(|info| {
            info.subscriptions = channels;
            info.patterns = patterns;
        });
    }

    /// Notes the command being run, for CLIENT LIST's `cmd` and `idle`.
    pub fn record_command(&self, spec: &'static CommandSpec, now: u64) {
        let spec: *const CommandSpec = spec;
        self.handle
            .last_command
            .store(spec.cast_mut(), Ordering::Relaxed);
        self.handle
            .last_interaction_ms
            .store(now, Ordering::Relaxed);
    }

    /// Asks the connection to close once this batch's replies are written (QUIT).
    pub fn close_after_reply(&mut self) {
        self.close_after_reply = true;
    }

    /// Whether the connection should close after writing its replies.
    pub fn wants_close(&self) -> bool {
        self.close_after_reply
    }

    /// Asks the connection to wait before sending this command's reply (DEBUG SLEEP).
    pub fn pause(&mut self, duration: Duration) {
        self.pause = Some(duration);
    }

    /// Takes a requested pause, if any.
    pub fn take_pause(&mut self) -> Option<Duration> {
        self.pause.take()
    }
}
