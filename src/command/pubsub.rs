//! Pub/sub commands. Subscription confirmations are push frames in RESP3 and arrays in RESP2,
//! one per channel, as Redis sends them.

use std::collections::BTreeSet;

use bytes::Bytes;

use super::{CommandResult, Context};
use crate::protocol::Reply;
use crate::server::ClientState;

fn confirmation(kind: &'static str, topic: Option<Bytes>, count: usize) -> Reply {
    Reply::Push(vec![
        Reply::Bulk(Bytes::from_static(kind.as_bytes())),
        Reply::optional(topic),
        Reply::Int(count as i64),
    ])
}

/// Channels or patterns: the two kinds of subscription, handled by one implementation.
#[derive(Clone, Copy)]
enum Kind {
    Channel,
    Pattern,
}

impl Kind {
    fn subscribed(self, client: &mut ClientState) -> &mut BTreeSet<Bytes> {
        match self {
            Kind::Channel => &mut client.channels,
            Kind::Pattern => &mut client.patterns,
        }
    }

    fn confirm(self, subscribing: bool) -> &'static str {
        match (self, subscribing) {
            (Kind::Channel, true) => "subscribe",
            (Kind::Pattern, true) => "psubscribe",
            (Kind::Channel, false) => "unsubscribe",
            (Kind::Pattern, false) => "punsubscribe",
        }
    }
}

/// SUBSCRIBE channel [channel ...]
pub fn subscribe(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    add(ctx, &args[1..], Kind::Channel)
}

/// PSUBSCRIBE pattern [pattern ...]
pub fn psubscribe(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    add(ctx, &args[1..], Kind::Pattern)
}

/// UNSUBSCRIBE [channel ...]: all channels when none is named.
pub fn unsubscribe(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    remove(ctx, &args[1..], Kind::Channel)
}

/// PUNSUBSCRIBE [pattern ...]: all patterns when none is named.
pub fn punsubscribe(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    remove(ctx, &args[1..], Kind::Pattern)
}

fn add(ctx: &mut Context, topics: &[&[u8]], kind: Kind) -> CommandResult {
    let namespace = ctx.client.namespace().id();
    let (id, mailbox) = (ctx.client.id(), ctx.client.mailbox().clone());
    let mut replies = Vec::with_capacity(topics.len());
    for topic in topics {
        let topic = Bytes::copy_from_slice(topic);
        if kind.subscribed(ctx.client).insert(topic.clone()) {
            let hub = &ctx.server.hub;
            match kind {
                Kind::Channel => hub.subscribe(namespace, topic.clone(), id, &mailbox),
                Kind::Pattern => hub.psubscribe(namespace, topic.clone(), id, &mailbox),
            };
        }
        let count = ctx.client.subscription_count();
        replies.push(confirmation(kind.confirm(true), Some(topic), count));
    }
    ctx.client.sync_subscription_info();
    Ok(Reply::Many(replies))
}

fn remove(ctx: &mut Context, topics: &[&[u8]], kind: Kind) -> CommandResult {
    let named: Vec<Bytes> = if topics.is_empty() {
        kind.subscribed(ctx.client).iter().cloned().collect()
    } else {
        topics.iter().map(|t| Bytes::copy_from_slice(t)).collect()
    };
    let namespace = ctx.client.namespace().id();
    let id = ctx.client.id();
    let mut replies = Vec::with_capacity(named.len().max(1));
    for topic in named {
        if kind.subscribed(ctx.client).remove(&topic) {
            let hub = &ctx.server.hub;
            match kind {
                Kind::Channel => hub.unsubscribe(namespace, &topic, id),
                Kind::Pattern => hub.punsubscribe(namespace, &topic, id),
            };
        }
        let count = ctx.client.subscription_count();
        replies.push(confirmation(kind.confirm(false), Some(topic), count));
    }
    if replies.is_empty() {
        let count = ctx.client.subscription_count();
        replies.push(confirmation(kind.confirm(false), None, count));
    }
    ctx.client.sync_subscription_info();
    Ok(Reply::Many(replies))
}

/// PUBLISH channel message
pub fn publish(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let namespace = ctx.client.namespace().id();
    let receivers = ctx.server.hub.publish(namespace, args[1], args[2]);
    Ok(Reply::Int(receivers as i64))
}

/// PUBSUB CHANNELS [pattern]
pub fn channels(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    if args.len() > 3 {
        return Err(super::CommandError::err(format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(args[1])
        )));
    }
    let namespace = ctx.client.namespace().id();
    Ok(Reply::bulks(
        ctx.server.hub.channels(namespace, args.get(2).copied()),
    ))
}

/// PUBSUB NUMSUB [channel ...]
pub fn numsub(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let namespace = ctx.client.namespace().id();
    let mut items = Vec::with_capacity((args.len() - 2) * 2);
    for channel in &args[2..] {
        items.push(Reply::bulk(channel));
        items.push(Reply::Int(
            ctx.server.hub.subscriber_count(namespace, channel) as i64,
        ));
    }
    Ok(Reply::Array(items))
}

/// PUBSUB NUMPAT
pub fn numpat(ctx: &mut Context, _args: &[&[u8]]) -> CommandResult {
    let namespace = ctx.client.namespace().id();
    Ok(Reply::Int(ctx.server.hub.pattern_count(namespace) as i64))
}
