//! Channels, patterns and keyspace notifications.
//!
//! One hub serves every namespace; each subscription is filed under its namespace's id, so a
//! client of one namespace can neither hear nor count another's channels. Messages go to each
//! subscriber's connection task through its mailbox and are encoded there, in the
//! subscriber's own protocol version. What waits for a subscriber is accounted in its
//! [`Backlog`]: past `client-output-buffer-limit pubsub` the subscriber is disconnected.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use bytes::Bytes;
use parking_lot::RwLock;
use tokio::sync::Notify;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::config::{OutputLimit, SharedOutputLimit};
use crate::glob::glob_match;
pub use crate::keyspace_events::{EventClass, NotifyFlags};

/// A message on its way to one subscriber.
#[derive(Debug)]
pub struct Message {
    /// The pattern that matched, for `pmessage`; `None` for a direct channel subscription.
    pub pattern: Option<Bytes>,
    /// The channel it was published on.
    pub channel: Bytes,
    /// What was published.
    pub payload: Bytes,
}

impl Message {
    /// About the bytes it takes in a subscriber's output, framing included.
    pub fn encoded_len(&self) -> u64 {
        let pattern = self.pattern.as_ref().map_or(0, Bytes::len);
        (pattern + self.channel.len() + self.payload.len() + 48) as u64
    }
}

/// What reaches a connection from elsewhere, between its own commands.
#[derive(Debug)]
pub enum Delivery {
    /// A pub/sub message to write to the client.
    Message(Arc<Message>),
    /// A line already encoded for the client (a MONITOR line).
    Line(Bytes),
    /// CLIENT KILL: close the connection.
    Disconnect,
}

/// Where a connection receives its deliveries, with the account of its waiting output.
#[derive(Clone, Debug)]
pub struct Mailbox {
    sender: UnboundedSender<Delivery>,
    backlog: Arc<Backlog>,
}

/// The receiving end of a [`Mailbox`], read by the connection task.
pub type Inbox = UnboundedReceiver<Delivery>;

impl Mailbox {
    /// A new mailbox and the inbox its deliveries arrive in.
    pub fn new() -> (Mailbox, Inbox) {
        let (sender, inbox) = unbounded_channel();
        let mailbox = Mailbox {
            sender,
            backlog: Arc::default(),
        };
        (mailbox, inbox)
    }

    /// Asks the connection to close after its current command (CLIENT KILL).
    pub fn disconnect(&self) {
        let _ = self.sender.send(Delivery::Disconnect);
    }

    /// The account of this client's waiting output.
    pub fn backlog(&self) -> &Arc<Backlog> {
        &self.backlog
    }

    /// Queues `message` unless that takes the client's waiting output past `limit`, in which
    /// case the client is marked for disconnection instead; false if it was not queued.
    fn deliver(&self, message: &Arc<Message>, limit: OutputLimit, now_ms: u64) -> bool {
        self.admit(message.encoded_len(), limit, now_ms)
            && self.sender.send(Delivery::Message(message.clone())).is_ok()
    }

    /// Queues an encoded `line` (MONITOR) under the same rule as [`Mailbox::deliver`].
    pub fn deliver_line(&self, line: Bytes, limit: OutputLimit, now_ms: u64) -> bool {
        self.admit(line.len() as u64, limit, now_ms)
            && self.sender.send(Delivery::Line(line)).is_ok()
    }

    /// Accounts `size` more waiting bytes, unless that breaks `limit`: then the client is
    /// marked for disconnection and nothing may be queued.
    fn admit(&self, size: u64, limit: OutputLimit, now_ms: u64) -> bool {
        if self.backlog.has_overflowed() {
            return false;
        }
        let waiting = self.backlog.bytes.fetch_add(size, Ordering::Relaxed) + size;
        if self.backlog.exceeds(waiting, limit, now_ms) {
            self.backlog.overflow();
            return false;
        }
        true
    }
}

/// A subscriber's output that has not reached it yet: messages in its mailbox, or encoded
/// and not yet written. A client whose backlog passes the pub/sub output limit is
/// disconnected, so a subscriber that stops reading cannot make the server hold unbounded
/// memory for it.
#[derive(Debug, Default)]
pub struct Backlog {
    bytes: AtomicU64,
    /// Since when (Unix ms) `bytes` has been over the soft limit; 0 while it is not.
    over_soft_since: AtomicU64,
    overflowed: AtomicBool,
    wake: Notify,
}

impl Backlog {
    /// `bytes` of delivered output reached the client's socket.
    pub fn written(&self, bytes: u64) {
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// Bytes waiting now (CLIENT LIST `omem`).
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Whether the client went over its output limit and must be closed.
    pub fn has_overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Acquire)
    }

    /// Completes once the client has gone over its output limit.
    pub async fn overflowed(&self) {
        while !self.has_overflowed() {
            self.wake.notified().await;
        }
    }

    fn overflow(&self) {
        self.overflowed.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// Whether `waiting` bytes break `limit`: over the hard limit, or over the soft one for
    /// its whole period.
    fn exceeds(&self, waiting: u64, limit: OutputLimit, now_ms: u64) -> bool {
        if limit.hard > 0 && waiting > limit.hard {
            return true;
        }
        if limit.soft == 0 || waiting <= limit.soft {
            self.over_soft_since.store(0, Ordering::Relaxed);
            return false;
        }
        match self
            .over_soft_since
            .compare_exchange(0, now_ms, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => false,
            Err(since) => now_ms.saturating_sub(since) >= limit.soft_seconds * 1000,
        }
    }
}

/// Identifies a subscription: the namespace and the channel or pattern.
type Topic = (u32, Bytes);

#[derive(Debug, Default)]
struct Subscriptions {
    channels: HashMap<Topic, HashMap<u64, Mailbox>>,
    patterns: HashMap<Topic, HashMap<u64, Mailbox>>,
}

/// The server-wide pub/sub hub.
#[derive(Debug, Default)]
pub struct Hub {
    subscriptions: RwLock<Subscriptions>,
    /// Channel plus pattern subscriptions, so publishing to nobody costs one load.
    total: AtomicUsize,
    notify_flags: AtomicU32,
    /// `client-output-buffer-limit pubsub`.
    output_limit: SharedOutputLimit,
}

impl Hub {
    /// A hub with keyspace notifications set to `flags`.
    pub fn new(flags: NotifyFlags) -> Self {
        let hub = Hub::default();
        hub.set_notify_flags(flags);
        hub
    }

    /// Changes which keyspace events are published (`notify-keyspace-events`).
    pub fn set_notify_flags(&self, flags: NotifyFlags) {
        self.notify_flags.store(flags.bits(), Ordering::Relaxed);
    }

    /// Changes how much output may wait for a subscriber
    /// (`client-output-buffer-limit pubsub`).
    pub fn set_output_limit(&self, limit: OutputLimit) {
        self.output_limit.store(limit);
    }

    /// How much output may wait for a subscriber (also a monitor) before it is closed.
    pub fn output_limit(&self) -> OutputLimit {
        self.output_limit.load()
    }

    /// Subscribes a client to a channel; false if it already was.
    pub fn subscribe(
        &self,
        namespace: u32,
        channel: Bytes,
        client: u64,
        mailbox: &Mailbox,
    ) -> bool {
        self.add(namespace, channel, client, mailbox, false)
    }

    /// Subscribes a client to a pattern; false if it already was.
    pub fn psubscribe(
        &self,
        namespace: u32,
        pattern: Bytes,
        client: u64,
        mailbox: &Mailbox,
    ) -> bool {
        self.add(namespace, pattern, client, mailbox, true)
    }

    /// Removes a channel subscription; false if there was none.
    pub fn unsubscribe(&self, namespace: u32, channel: &Bytes, client: u64) -> bool {
        self.remove(namespace, channel, client, false)
    }

    /// Removes a pattern subscription; false if there was none.
    pub fn punsubscribe(&self, namespace: u32, pattern: &Bytes, client: u64) -> bool {
        self.remove(namespace, pattern, client, true)
    }

    fn add(
        &self,
        namespace: u32,
        topic: Bytes,
        client: u64,
        mailbox: &Mailbox,
        pattern: bool,
    ) -> bool {
        let mut subs = self.subscriptions.write();
        let table = if pattern {
            &mut subs.patterns
        } else {
            &mut subs.channels
        };
        let added = table
            .entry((namespace, topic))
            .or_default()
            .insert(client, mailbox.clone())
            .is_none();
        if added {
            self.total.fetch_add(1, Ordering::Relaxed);
        }
        added
    }

    fn remove(&self, namespace: u32, topic: &Bytes, client: u64, pattern: bool) -> bool {
        let mut subs = self.subscriptions.write();
        let table = if pattern {
            &mut subs.patterns
        } else {
            &mut subs.channels
        };
        let key = (namespace, topic.clone());
        let Some(members) = table.get_mut(&key) else {
            return false;
        };
        let removed = members.remove(&client).is_some();
        if members.is_empty() {
            table.remove(&key);
        }
        if removed {
            self.total.fetch_sub(1, Ordering::Relaxed);
        }
        removed
    }

    /// Whether nobody subscribes to any channel or pattern (publishing would reach no one).
    pub fn is_idle(&self) -> bool {
        self.total.load(Ordering::Relaxed) == 0
    }

    /// Delivers `payload` to every subscriber of `channel` in the namespace, directly or by
    /// pattern; returns how many received it.
    pub fn publish(&self, namespace: u32, channel: &[u8], payload: &[u8]) -> usize {
        if self.total.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        let subs = self.subscriptions.read();
        let channel = Bytes::copy_from_slice(channel);
        let payload = Bytes::copy_from_slice(payload);
        let (limit, now_ms) = (self.output_limit.load(), crate::store::now_ms());
        let deliver = |members: &HashMap<u64, Mailbox>, message: &Arc<Message>| {
            members
                .values()
                .filter(|mailbox| mailbox.deliver(message, limit, now_ms))
                .count()
        };
        let mut receivers = 0;
        if let Some(members) = subs.channels.get(&(namespace, channel.clone())) {
            let message = Arc::new(Message {
                pattern: None,
                channel: channel.clone(),
                payload: payload.clone(),
            });
            receivers += deliver(members, &message);
        }
        for ((ns, pattern), members) in &subs.patterns {
            if *ns == namespace && glob_match(pattern, &channel, false) {
                let message = Arc::new(Message {
                    pattern: Some(pattern.clone()),
                    channel: channel.clone(),
                    payload: payload.clone(),
                });
                receivers += deliver(members, &message);
            }
        }
        receivers
    }

    /// Publishes the keyspace and keyevent notifications for `event` on `key`, as far as
    /// `notify-keyspace-events` asks for them.
    pub fn notify_keyspace(
        &self,
        namespace: u32,
        db: usize,
        class: EventClass,
        event: &str,
        key: &[u8],
    ) {
        let flags = NotifyFlags::from_bits(self.notify_flags.load(Ordering::Relaxed));
        if !flags.wants(class) || self.total.load(Ordering::Relaxed) == 0 {
            return;
        }
        if flags.keyspace() {
            let mut channel = format!("__keyspace@{db}__:").into_bytes();
            channel.extend_from_slice(key);
            self.publish(namespace, &channel, event.as_bytes());
        }
        if flags.keyevent() {
            let channel = format!("__keyevent@{db}__:{event}");
            self.publish(namespace, channel.as_bytes(), key);
        }
    }

    /// Active channels of the namespace matching `pattern` (all when `None`), for PUBSUB CHANNELS.
    pub fn channels(&self, namespace: u32, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let subs = self.subscriptions.read();
        let names: BTreeSet<Bytes> = subs
            .channels
            .keys()
            .filter(|(ns, name)| {
                *ns == namespace && pattern.is_none_or(|p| glob_match(p, name, false))
            })
            .map(|(_, name)| name.clone())
            .collect();
        names.into_iter().collect()
    }

    /// Subscribers of one channel in the namespace, for PUBSUB NUMSUB.
    pub fn subscriber_count(&self, namespace: u32, channel: &[u8]) -> usize {
        self.subscriptions
            .read()
            .channels
            .get(&(namespace, Bytes::copy_from_slice(channel)))
            .map_or(0, HashMap::len)
    }

    /// Distinct patterns subscribed to in the namespace, for PUBSUB NUMPAT.
    pub fn pattern_count(&self, namespace: u32) -> usize {
        self.subscriptions
            .read()
            .patterns
            .keys()
            .filter(|(ns, _)| *ns == namespace)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_do_not_hear_each_other() {
        let hub = Hub::default();
        let (tx, mut rx) = Mailbox::new();
        hub.subscribe(1, Bytes::from_static(b"news"), 7, &tx);
        assert_eq!(hub.publish(2, b"news", b"hello"), 0);
        assert_eq!(hub.publish(1, b"news", b"hello"), 1);
        let Ok(Delivery::Message(message)) = rx.try_recv() else {
            panic!("the subscriber gets the message");
        };
        assert_eq!(message.payload, Bytes::from_static(b"hello"));
        assert!(hub.channels(2, None).is_empty());
    }

    #[test]
    fn the_soft_output_limit_closes_only_after_its_period() {
        let backlog = Backlog::default();
        let limit = OutputLimit {
            hard: 100,
            soft: 10,
            soft_seconds: 2,
        };
        assert!(!backlog.exceeds(5, limit, 1_000));
        assert!(
            !backlog.exceeds(20, limit, 1_000),
            "over soft: the period starts"
        );
        assert!(!backlog.exceeds(20, limit, 2_999));
        assert!(backlog.exceeds(20, limit, 3_000));
        assert!(
            !backlog.exceeds(5, limit, 3_001),
            "under it again: the period resets"
        );
        assert!(!backlog.exceeds(20, limit, 3_002));
        assert!(backlog.exceeds(101, limit, 3_002), "over hard: at once");
    }

    #[test]
    fn a_subscriber_over_its_limit_gets_nothing_more() {
        let hub = Hub::default();
        // Each message takes 152 bytes (100 of payload, 4 of channel, 48 of framing).
        hub.set_output_limit(OutputLimit {
            hard: 400,
            soft: 0,
            soft_seconds: 0,
        });
        let (tx, mut rx) = Mailbox::new();
        hub.subscribe(0, Bytes::from_static(b"news"), 1, &tx);
        let payload = [b'p'; 100];
        assert_eq!(hub.publish(0, b"news", &payload), 1);
        assert_eq!(hub.publish(0, b"news", &payload), 1);
        assert!(!tx.backlog().has_overflowed());
        assert_eq!(
            hub.publish(0, b"news", &payload),
            0,
            "past 300 bytes waiting"
        );
        assert!(tx.backlog().has_overflowed());
        assert_eq!(hub.publish(0, b"news", b""), 0);
        assert!(rx.try_recv().is_ok() && rx.try_recv().is_ok() && rx.try_recv().is_err());
    }

    #[test]
    fn patterns_match_and_count_once_per_pattern() {
        let hub = Hub::default();
        let (tx, mut rx) = Mailbox::new();
        hub.psubscribe(0, Bytes::from_static(b"n*"), 1, &tx);
        hub.subscribe(0, Bytes::from_static(b"news"), 1, &tx);
        assert_eq!(hub.publish(0, b"news", b"x"), 2);
        assert!(rx.try_recv().is_ok() && rx.try_recv().is_ok());
        assert_eq!(hub.pattern_count(0), 1);
        assert!(hub.punsubscribe(0, &Bytes::from_static(b"n*"), 1));
        assert_eq!(hub.pattern_count(0), 0);
    }

    #[test]
    fn keyspace_events_follow_the_flags() {
        let hub = Hub::new(NotifyFlags::parse("Kx").expect("valid flags"));
        let (tx, mut rx) = Mailbox::new();
        hub.psubscribe(0, Bytes::from_static(b"__key*"), 1, &tx);
        hub.notify_keyspace(0, 0, EventClass::String, "set", b"k");
        assert!(rx.try_recv().is_err(), "string events are not enabled");
        hub.notify_keyspace(0, 3, EventClass::Expired, "expired", b"k");
        let Ok(Delivery::Message(message)) = rx.try_recv() else {
            panic!("expired is enabled");
        };
        assert_eq!(&message.channel[..], b"__keyspace@3__:k");
        assert_eq!(&message.payload[..], b"expired");
    }
}
