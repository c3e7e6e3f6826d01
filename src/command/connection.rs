//! Connection commands: PING ECHO AUTH HELLO SELECT QUIT RESET CLIENT.

use std::sync::Arc;

use bytes::Bytes;

use super::args::{self, is};
use super::{CommandError, CommandResult, Context};
use crate::protocol::{Protocol, Reply};
use crate::server::User;
use crate::server::users::{DEFAULT_USER, constant_time_eq};
use crate::store::DEFAULT_NAMESPACE;

/// The server name and version reported to clients; clients gate features on Redis versions,
/// so sessiond presents the Redis version whose behaviour it implements.
pub const COMPATIBLE_REDIS_VERSION: &str = "7.2.0";

/// PING [message]
pub fn ping(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    if args.len() > 2 {
        return Err(CommandError::WrongArity("ping".into()));
    }
    let message = args.get(1).map(|m| Bytes::copy_from_slice(m));
    if ctx.client.in_resp2_subscribe_mode() {
        return Ok(Reply::Array(vec![
            Reply::Bulk("pong".into()),
            Reply::Bulk(message.unwrap_or_default()),
        ]));
    }
    Ok(message.map_or(Reply::status("PONG"), Reply::Bulk))
}

/// ECHO message
pub fn echo(_ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    Ok(Reply::bulk(args[1]))
}

/// AUTH [username] password
pub fn auth(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    match args.len() {
        2 => authenticate(ctx, None, args[1]).map(|()| Reply::Ok),
        3 => authenticate(ctx, Some(args[1]), args[2]).map(|()| Reply::Ok),
        _ => Err(CommandError::Syntax),
    }
}

/// Checks credentials and marks the client authenticated. Logging in as another user than
/// before moves the connection to that user's first namespace, database 0; logging in again as
/// the same user keeps its namespace and database, as Redis's AUTH keeps the selected database.
fn authenticate(
    ctx: &mut Context,
    user: Option<&[u8]>,
    password: &[u8],
) -> Result<(), CommandError> {
    let user = verify(ctx, user, password)?;
    if user.name() != ctx.client.user().name() {
        ctx.server.enter_namespace(ctx.client, user.home())?;
        ctx.client.set_user(user);
    }
    ctx.client.set_authenticated(true);
    Ok(())
}

/// The user these credentials belong to: `AUTH password` and `AUTH default password` are the
/// default user (`requirepass`), any other name a configured user.
fn verify(ctx: &Context, user: Option<&[u8]>, password: &[u8]) -> Result<Arc<User>, CommandError> {
    let wrong = || {
        CommandError::Coded("WRONGPASS invalid username-password pair or user is disabled.".into())
    };
    let users = &ctx.server.users;
    if let Some(name) = user.filter(|name| *name != DEFAULT_USER.as_bytes()) {
        return users.verify(name, password).ok_or_else(wrong);
    }
    let requirepass = ctx.server.config.read().requirepass.clone();
    match requirepass {
        None if user.is_none() => Err(CommandError::err(
            "AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        )),
        None => Ok(users.default_user().clone()),
        Some(expected) if constant_time_eq(expected.as_bytes(), password) => {
            Ok(users.default_user().clone())
        }
        Some(_) => Err(wrong()),
    }
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
pub fn hello(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut protocol = ctx.client.protocol();
    if let Some(version) = args.get(1) {
        protocol = match args::int(version) {
            Ok(2) => Protocol::Resp2,
            Ok(3) => Protocol::Resp3,
            Ok(_) => {
                return Err(CommandError::Coded(
                    "NOPROTO unsupported protocol version".into(),
                ));
            }
            Err(_) => {
                return Err(CommandError::err(
                    "Protocol version is not an integer or out of range",
                ));
            }
        };
    }
    let mut name = None;
    let mut i = 2;
    while i < args.len() {
        let remaining = args.len() - i - 1;
        if is(args[i], "AUTH") && remaining >= 2 {
            authenticate(ctx, Some(args[i + 1]), args[i + 2])?;
            i += 3;
        } else if is(args[i], "SETNAME") && remaining >= 1 {
            name = Some(args[i + 1]);
            i += 2;
        } else {
            return Err(CommandError::err(format!(
                "Syntax error in HELLO option '{}'",
                args::text(args[i])
            )));
        }
    }
    if !ctx.client.is_authenticated() {
        return Err(CommandError::Coded(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into(),
        ));
    }
    if let Some(name) = name {
        set_name(ctx, name)?;
    }
    ctx.client.set_protocol(protocol);
    let proto = if protocol == Protocol::Resp3 { 3 } else { 2 };
    Ok(Reply::Map(vec![
        (Reply::text("server"), Reply::text("redis")),
        (
            Reply::text("version"),
            Reply::text(COMPATIBLE_REDIS_VERSION),
        ),
        (Reply::text("proto"), Reply::Int(proto)),
        (Reply::text("id"), Reply::Int(ctx.client.id() as i64)),
        (Reply::text("mode"), Reply::text("standalone")),
        (Reply::text("role"), Reply::text("master")),
        (Reply::text("modules"), Reply::Array(Vec::new())),
    ]))
}

/// SELECT index
pub fn select(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let index = args::int(args[1])?;
    let index = usize::try_from(index).map_err(|_| CommandError::DbIndexOutOfRange)?;
    ctx.db_at(index)?;
    ctx.client.select(index);
    Ok(Reply::Ok)
}

/// QUIT: answers OK, then the connection closes.
pub fn quit(ctx: &mut Context, _args: &[&[u8]]) -> CommandResult {
    ctx.client.close_after_reply();
    Ok(Reply::Ok)
}

/// RESET: back to a fresh connection's state (the default user in namespace `default`,
/// database 0, RESP2, no name, no subscriptions).
pub fn reset(ctx: &mut Context, _args: &[&[u8]]) -> CommandResult {
    ctx.client.take_transaction();
    ctx.client.unwatch_all();
    ctx.client.unsubscribe_all(&ctx.server.hub);
    if ctx.client.is_monitoring() {
        ctx.server.monitors.remove(ctx.client.id());
        ctx.client.set_monitoring(false);
    }
    ctx.server.enter_namespace(ctx.client, DEFAULT_NAMESPACE)?;
    ctx.client.set_user(ctx.server.users.default_user().clone());
    ctx.client.set_protocol(Protocol::Resp2);
    let needs_auth = ctx.server.config.read().requirepass.is_some();
    ctx.client.set_authenticated(!needs_auth);
    ctx.client.handle().update(|info| info.name.clear());
    Ok(Reply::status("RESET"))
}

/// CLIENT ID
pub fn client_id(ctx: &mut Context, _args: &[&[u8]]) -> CommandResult {
    Ok(Reply::Int(ctx.client.id() as i64))
}

/// CLIENT GETNAME
pub fn client_getname(ctx: &mut Context, _args: &[&[u8]]) -> CommandResult {
    let name = ctx.client.handle().info().name;
    Ok(if name.is_empty() {
        Reply::Nil
    } else {
        Reply::text(name)
    })
}

/// CLIENT SETNAME name
pub fn client_setname(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    set_name(ctx, args[2]).map(|()| Reply::Ok)
}

fn set_name(ctx: &mut Context, name: &[u8]) -> Result<(), CommandError> {
    if !is_valid_attribute(name) {
        return Err(CommandError::err(
            "Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    let name = args::text(name);
    ctx.client.handle().update(|info| info.name = name);
    Ok(())
}

/// Redis allows printable ASCII without spaces in client names and library attributes.
fn is_valid_attribute(value: &[u8]) -> bool {
    value.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

/// CLIENT SETINFO LIB-NAME|LIB-VER value
pub fn client_setinfo(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let attribute = args::text(args[2]);
    let value = args[3];
    let is_name = attribute.eq_ignore_ascii_case("lib-name");
    if !is_name && !attribute.eq_ignore_ascii_case("lib-ver") {
        return Err(CommandError::err(format!(
            "Unrecognized option '{attribute}'"
        )));
    }
    if !is_valid_attribute(value) {
        return Err(CommandError::err(format!(
            "{attribute} cannot contain spaces, newlines or special characters."
        )));
    }
    let value = args::text(value);
    ctx.client.handle().update(|info| {
        if is_name {
            info.lib_name = value;
        } else {
            info.lib_ver = value;
        }
    });
    Ok(Reply::Ok)
}

/// CLIENT LIST [TYPE normal|pubsub] [ID id ...]
pub fn client_list(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut ids: Option<Vec<u64>> = None;
    let mut kind: Option<bool> = None;
    let mut i = 2;
    while i < args.len() {
        if is(args[i], "ID") && i + 1 < args.len() {
            let parsed: Result<Vec<u64>, _> = args[i + 1..]
                .iter()
                .map(|arg| {
                    args::int(arg)
                        .ok()
                        .and_then(|n| u64::try_from(n).ok())
                        .filter(|n| *n > 0)
                })
                .map(|id| id.ok_or_else(|| CommandError::err("Invalid client ID")))
                .collect();
            ids = Some(parsed?);
            break;
        } else if is(args[i], "TYPE") && i + 1 < args.len() {
            kind = Some(
                match args::text(args[i + 1]).to_ascii_lowercase().as_str() {
                    "normal" => false,
                    "pubsub" => true,
                    "master" | "replica" | "slave" => return Ok(Reply::Verbatim(String::new())),
                    other => {
                        return Err(CommandError::err(format!("Unknown client type '{other}'")));
                    }
                },
            );
            i += 2;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let mut text = String::new();
    for handle in ctx.server.clients.all() {
        if ids.as_ref().is_some_and(|ids| !ids.contains(&handle.id)) {
            continue;
        }
        let info = handle.info();
        if kind.is_some_and(|pubsub| pubsub != info.is_pubsub()) {
            continue;
        }
        text.push_str(&handle.describe());
        text.push('\n');
    }
    Ok(Reply::Verbatim(text))
}

/// CLIENT INFO
pub fn client_info(ctx: &mut Context, _args: &[&[u8]]) -> CommandResult {
    Ok(Reply::Verbatim(format!(
        "{}\n",
        ctx.client.handle().describe()
    )))
}

/// CLIENT KILL addr:port | CLIENT KILL [ID id] [ADDR addr] [LADDR addr] [SKIPME yes|no] ...
pub fn client_kill(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    if args.len() == 3 {
        let addr = args::text(args[2]);
        let target = ctx
            .server
            .clients
            .all()
            .into_iter()
            .find(|handle| handle.addr.to_string() == addr);
        return match target {
            Some(handle) => {
                kill(ctx, &handle);
                Ok(Reply::Ok)
            }
            None => Err(CommandError::err("No such client")),
        };
    }
    if !args.len().is_multiple_of(2) {
        return Err(CommandError::Syntax);
    }
    let mut id = None;
    let mut addr = None;
    let mut local_addr = None;
    let mut skip_me = true;
    let mut kind: Option<Option<bool>> = None;
    let mut user: Option<String> = None;
    let mut max_age: Option<u64> = None;
    for pair in args[2..].chunks(2) {
        let value = args::text(pair[1]);
        match args::text(pair[0]).to_ascii_lowercase().as_str() {
            "id" => {
                id = Some(
                    args::int(pair[1])
                        .ok()
                        .and_then(|n| u64::try_from(n).ok())
                        .filter(|n| *n > 0)
                        .ok_or_else(|| CommandError::err("client-id should be greater than 0"))?,
                );
            }
            "addr" => addr = Some(value),
            "laddr" => local_addr = Some(value),
            "skipme" => {
                skip_me = match value.to_ascii_lowercase().as_str() {
                    "yes" => true,
                    "no" => false,
                    _ => return Err(CommandError::Syntax),
                }
            }
            "type" => kind = Some(client_type(&value)?),
            "user" => {
                if !ctx.server.users.exists(&value) {
                    return Err(CommandError::err(format!("No such user '{value}'")));
                }
                user = Some(value);
            }
            "maxage" => {
                max_age = Some(
                    args::int(pair[1])
                        .ok()
                        .and_then(|n| u64::try_from(n).ok())
                        .ok_or(CommandError::Syntax)?,
                );
            }
            _ => return Err(CommandError::Syntax),
        }
    }
    let mut killed = 0;
    for handle in ctx.server.clients.all() {
        let info = handle.info();
        let matches = id.is_none_or(|id| handle.id == id)
            && addr.as_ref().is_none_or(|a| handle.addr.to_string() == *a)
            && local_addr
                .as_ref()
                .is_none_or(|a| handle.local_addr.to_string() == *a)
            && kind.is_none_or(|k| k == Some(info.is_pubsub()))
            && user.as_ref().is_none_or(|u| info.user == *u)
            && max_age.is_none_or(|age| handle.age_secs() >= age)
            && !(skip_me && handle.id == ctx.client.id());
        if matches {
            kill(ctx, &handle);
            killed += 1;
        }
    }
    Ok(Reply::Int(killed))
}

/// Parses a client TYPE filter: `Some(true)` for pub/sub clients, `Some(false)` for normal
/// ones, `None` for replication types, which no client here has.
fn client_type(name: &str) -> Result<Option<bool>, CommandError> {
    match name.to_ascii_lowercase().as_str() {
        "normal" => Ok(Some(false)),
        "pubsub" => Ok(Some(true)),
        "master" | "replica" | "slave" => Ok(None),
        _ => Err(CommandError::err(format!("Unknown client type '{name}'"))),
    }
}

fn kill(ctx: &mut Context, handle: &crate::server::ClientHandle) {
    if handle.id == ctx.client.id() {
        ctx.client.close_after_reply();
    } else {
        handle.kill();
    }
}

/// CLIENT NO-EVICT on|off, CLIENT NO-TOUCH on|off: accepted for compatibility; sessiond does
/// not evict clients and does not track LRU per read.
pub fn client_flag_toggle(_ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    if is(args[2], "on") || is(args[2], "off") {
        Ok(Reply::Ok)
    } else {
        Err(CommandError::Syntax)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_attributes_are_printable_without_spaces() {
        assert!(is_valid_attribute(b"redis-py"));
        assert!(!is_valid_attribute(b"a b"));
        assert!(!is_valid_attribute(b"a\nb"));
    }
}
