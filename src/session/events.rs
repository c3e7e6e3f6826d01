//! Lifecycle events on `__session@NAMESPACE__:EVENT`, the payload being the session id.

use std::sync::Arc;

use crate::pubsub::Hub;

/// A lifecycle change that is published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// SESSION.CREATE.
    Created,
    /// SESSION.END, ENDALL or CLEANUP.
    Ended,
    /// The idle or absolute deadline passed.
    Expired,
    /// Ended to make room under the user's cap.
    Evicted,
    /// SESSION.ROTATE; the payload is `OLD NEW`.
    Rotated,
    /// SESSION.RECOVER; the payload is `OLD NEW`.
    Recovered,
}

const EVENTS: [(Event, &str); 6] = [
    (Event::Created, "created"),
    (Event::Ended, "ended"),
    (Event::Expired, "expired"),
    (Event::Evicted, "evicted"),
    (Event::Rotated, "rotated"),
    (Event::Recovered, "recovered"),
];

/// Publishes one namespace's session events.
#[derive(Debug)]
pub struct SessionEvents {
    hub: Arc<Hub>,
    namespace: u32,
    /// The channel of each event, in [`EVENTS`] order, built once.
    channels: Box<[Box<[u8]>]>,
}

impl SessionEvents {
    /// Events of the namespace `name` (hub id `namespace`).
    pub fn new(hub: Arc<Hub>, namespace: u32, name: &str) -> Self {
        let channels = EVENTS
            .iter()
            .map(|(_, event)| format!("__session@{name}__:{event}").into_bytes().into())
            .collect();
        SessionEvents {
            hub,
            namespace,
            channels,
        }
    }

    /// Publishes `event` with the payload `payload` makes; it is only made when someone
    /// subscribes to anything at all.
    pub fn publish(&self, event: Event, payload: impl FnOnce() -> Vec<u8>) {
        if self.hub.is_idle() {
            return;
        }
        let payload = payload();
        let index = EVENTS
            .iter()
            .position(|(e, _)| *e == event)
            .unwrap_or_default();
        self.hub
            .publish(self.namespace, &self.channels[index], &payload);
    }
}
