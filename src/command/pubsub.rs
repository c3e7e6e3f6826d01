//! Pub/sub commands. Subscription confirmations are push frames in RESP3 and arrays in RESP2,
//! one per channel, as Redis sends them.

use bytes::Bytes;

use super::{CommandResult, Context};
use crate::protocol::Reply;

fn confirmation(kind: &'static str, topic: Option<Bytes>, count: usize) -> Reply {
    Reply::Push(vec![
        Reply::Bulk(Bytes::from_static(kind.as_bytes())),
        Reply::optional(topic),
        Reply::Int(count as i64),
    ])
}

/// SUBSCRIBE channel [channel ...]
pub fn subscribe(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let namespace = ctx.client.namespace().id();
    let mut replies = Vec::with_capacity(args.len() - 1);
    for channel in &args[1..] {
        let channel = Bytes::copy_from_slice(channel);
        if ctx.client.channels.insert(channel.clone()) {
            let (id, mailbox) = (ctx.client.id(), ctx.client.mailbox().clone());
            ctx.server
                .hub
                .subscribe(namespace, channel.clone(), id, &mailbox);
        }
        replies.push(confirmation(
            "subscribe",
            Some(channel),
            ctx.client.subscription_count(),
        ));
    }
    ctx.client.sync_subscription_info();
    Ok(Reply::Many(replies))
}

/// PSUBSCRIBE pattern [pattern ...]
pub fn psubscribe(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let namespace = ctx.client.namespace().id();
    let mut replies = Vec::with_capacity(args.len() - 1);
    for pattern in &args[1..] {
        let pattern = Bytes::copy_from_slice(pattern);
        if ctx.client.patterns.insert(pattern.clone()) {
            let (id, mailbox) = (ctx.client.id(), ctx.client.mailbox().clone());
            ctx.server
                .hub
                .psubscribe(namespace, pattern.clone(), id, &mailbox);
        }
        replies.push(confirmation(
            "psubscribe",
            Some(pattern),
            ctx.client.subscription_count(),
        ));
    }
    ctx.client.sync_subscription_info();
    Ok(Reply::Many(replies))
}

/// UNSUBSCRIBE [channel ...]: all channels when none is named.
pub fn unsubscribe(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let named: Vec<Bytes> = if args.len() > 1 {
        args[1..]
            .iter()
            .map(|c| Bytes::copy_from_slice(c))
            .collect()
    } else {
        ctx.client.channels.iter().cloned().collect()
    };
    let namespace = ctx.client.namespace().id();
    let mut replies = Vec::new();
    for channel in named {
        if ctx.client.channels.remove(&channel) {
            ctx.server
                .hub
                .unsubscribe(namespace, &channel, ctx.client.id());
        }
        replies.push(confirmation(
            "unsubscribe",
            Some(channel),
            ctx.client.subscription_count(),
        ));
    }
    if replies.is_empty() {
        replies.push(confirmation(
            "unsubscribe",
            None,
            ctx.client.subscription_count(),
        ));
    }
    ctx.client.sync_subscription_info();
    Ok(Reply::Many(replies))
}

/// PUNSUBSCRIBE [pattern ...]: all patterns when none is named.
pub fn punsubscribe(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let named: Vec<Bytes> = if args.len() > 1 {
        args[1..]
            .iter()
            .map(|c| Bytes::copy_from_slice(c))
            .collect()
    } else {
        ctx.client.patterns.iter().cloned().collect()
    };
    let namespace = ctx.client.namespace().id();
    let mut replies = Vec::new();
    for pattern in named {
        if ctx.client.patterns.remove(&pattern) {
            ctx.server
                .hub
                .punsubscribe(namespace, &pattern, ctx.client.id());
        }
        replies.push(confirmation(
            "punsubscribe",
            Some(pattern),
            ctx.client.subscription_count(),
        ));
    }
    if replies.is_empty() {
        replies.push(confirmation(
            "punsubscribe",
            None,
            ctx.client.subscription_count(),
        ));
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
