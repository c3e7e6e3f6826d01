//! SESSION.NAMESPACE USE|CREATE|CONFIG|INFO|LIST|DROP: moving between, managing and
//! describing namespaces.
//!
//! CREATE, CONFIG and DROP carry the `admin` flag, so dispatch lets only `*` users run them;
//! USE and INFO check here that the user may use the namespace named.

use super::args;
use super::{CommandError, CommandResult, Context};
use crate::config::{InvalidValue, check_namespace_name};
use crate::protocol::Reply;
use crate::session::Policy;
use crate::store::Namespace;

/// SESSION.NAMESPACE USE name: switches to `name`, database 0.
pub fn use_namespace(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let name = name_arg(args[2])?;
    check_permitted(ctx, name)?;
    ctx.server.enter_namespace(ctx.client, name)?;
    Ok(Reply::Ok)
}

/// SESSION.NAMESPACE CREATE name [option value ...]
pub fn create(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let name = name_arg(args[2])?;
    check_namespace_name(name).map_err(|reason| CommandError::err(reason.to_string()))?;
    let mut policy = Policy::default();
    apply_options(&mut policy, &args[3..])?;
    ctx.server.create_namespace(name, policy)?;
    Ok(Reply::Ok)
}

/// SESSION.NAMESPACE CONFIG name option value [option value ...]: all options or none.
pub fn config(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let name = name_arg(args[2])?;
    let namespace = ctx.server.namespace_named(name)?;
    namespace.update_policy(|policy| apply_options(policy, &args[3..]))?;
    Ok(Reply::Ok)
}

/// SESSION.NAMESPACE INFO [name]: the current namespace, or `name` if the user may use it.
pub fn info(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let Some(&name) = args.get(2) else {
        return Ok(describe(ctx.client.namespace()));
    };
    if args.len() > 3 {
        return Err(CommandError::Syntax);
    }
    let name = name_arg(name)?;
    check_permitted(ctx, name)?;
    let namespace = ctx.server.namespace_named(name)?;
    Ok(describe(&namespace))
}

/// SESSION.NAMESPACE LIST: the namespaces the user may use, sorted.
pub fn list(ctx: &mut Context, _args: &[&[u8]]) -> CommandResult {
    let user = ctx.client.user();
    let mut names: Vec<String> = ctx
        .server
        .store
        .namespaces()
        .iter()
        .map(|namespace| namespace.name().to_string())
        .filter(|name| user.may_use(name))
        .collect();
    names.sort_unstable();
    Ok(Reply::Array(names.into_iter().map(Reply::text).collect()))
}

/// SESSION.NAMESPACE DROP name: discards the namespace and its data, disconnecting the other
/// connections inside it.
pub fn drop(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let name = name_arg(args[2])?;
    ctx.server.drop_namespace(name, ctx.client)?;
    Ok(Reply::Ok)
}

/// A namespace name argument; names are UTF-8, like the config file they are declared in.
fn name_arg(arg: &[u8]) -> Result<&str, CommandError> {
    std::str::from_utf8(arg)
        .map_err(|_| CommandError::err(InvalidValue::NamespaceName(args::text(arg)).to_string()))
}

/// `-NOPERM` unless the connection's user may use namespace `name`. Names the user may not
/// use get this answer whether they exist or not, so their existence does not leak.
fn check_permitted(ctx: &Context, name: &str) -> Result<(), CommandError> {
    let user = ctx.client.user();
    if user.may_use(name) {
        Ok(())
    } else {
        Err(CommandError::Coded(format!(
            "NOPERM User {} has no permissions to use namespace '{name}'",
            user.name()
        )))
    }
}

/// Applies `option value ...` pairs (option names in any case) to `policy`, stopping at the
/// first bad one.
fn apply_options(policy: &mut Policy, pairs: &[&[u8]]) -> Result<(), CommandError> {
    if !pairs.len().is_multiple_of(2) {
        return Err(CommandError::Syntax);
    }
    for pair in pairs.chunks_exact(2) {
        let option = args::text(pair[0]).to_ascii_lowercase();
        policy
            .set(&option, &args::text(pair[1]))
            .map_err(|error| CommandError::err(error.to_string()))?;
    }
    Ok(())
}

/// The INFO map: the name, every policy option (numbers as integers), how many databases
/// hold keys and how many keys they hold together, and how many sessions and users are
/// active.
fn describe(namespace: &Namespace) -> Reply {
    let mut fields = vec![(Reply::text("name"), Reply::text(namespace.name()))];
    for (option, value) in namespace.policy().options() {
        let value = value
            .parse::<i64>()
            .map_or_else(|_| Reply::text(value), Reply::Int);
        fields.push((Reply::text(option), value));
    }
    let key_counts: Vec<usize> = namespace
        .databases()
        .map(|database| database.len())
        .filter(|&keys| keys > 0)
        .collect();
    let keys: usize = key_counts.iter().sum();
    fields.push((
        Reply::text("databases"),
        Reply::Int(key_counts.len() as i64),
    ));
    fields.push((Reply::text("keys"), Reply::Int(keys as i64)));
    let sessions = namespace.sessions().stats();
    fields.push((
        Reply::text("sessions_active"),
        Reply::Int(sessions.active as i64),
    ));
    fields.push((
        Reply::text("users_active"),
        Reply::Int(sessions.users_active as i64),
    ));
    Reply::Map(fields)
}
