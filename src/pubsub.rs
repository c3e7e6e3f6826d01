//! Channels, patterns and keyspace notifications.
//!
//! One hub serves every namespace; each subscription is filed under its namespace's id, so a
//! client of one namespace can neither hear nor count another's channels. Messages go to each
//! subscriber's connection task through an unbounded channel and are encoded there, in the
//! subscriber's own protocol version.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use bytes::Bytes;
use parking_lot::RwLock;
use tokio::sync::mpsc::UnboundedSender;

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

/// What reaches a connection from elsewhere, between its own commands.
#[derive(Debug)]
pub enum Delivery {
    /// A pub/sub message to write to the client.
    Message(Arc<Message>),
    /// CLIENT KILL: close the connection.
    Disconnect,
}

/// Where a connection receives its deliveries.
pub type Mailbox = UnboundedSender<Delivery>;

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

fn deliver(members: &HashMap<u64, Mailbox>, message: &Arc<Message>) -> usize {
    members
        .values()
        .filter(|mailbox| mailbox.send(Delivery::Message(message.clone())).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc::unbounded_channel;

    #[test]
    fn namespaces_do_not_hear_each_other() {
        let hub = Hub::default();
        let (tx, mut rx) = unbounded_channel();
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
    fn patterns_match_and_count_once_per_pattern() {
        let hub = Hub::default();
        let (tx, mut rx) = unbounded_channel();
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
        let (tx, mut rx) = unbounded_channel();
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
