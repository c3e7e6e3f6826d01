//! Which arguments of a command are passwords, so that SLOWLOG and MONITOR, which show
//! commands to operators, show `(redacted)` in their place as Redis does.

/// Where a command carries a password, which the slow log must not show: AUTH's
/// arguments, HELLO's after AUTH, and `CONFIG SET requirepass`'s value, as Redis redacts.
pub fn secret_positions(args: &[&[u8]]) -> Vec<usize> {
    let name = args.first().copied().unwrap_or_default();
    let is = |arg: &[u8], word: &str| arg.eq_ignore_ascii_case(word.as_bytes());
    if is(name, "auth") {
        return (1..args.len()).collect();
    }
    if is(name, "hello") {
        return match args.iter().position(|arg| is(arg, "auth")) {
            Some(at) => (at + 1..(at + 3).min(args.len())).collect(),
            None => Vec::new(),
        };
    }
    if is(name, "config") && args.get(1).is_some_and(|sub| is(sub, "set")) {
        return (2..args.len())
            .step_by(2)
            .filter(|&at| is(args[at], "requirepass"))
            .map(|at| at + 1)
            .filter(|&at| at < args.len())
            .collect();
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_found_where_redis_finds_them() {
        let hello: &[&[u8]] = &[b"HELLO", b"3", b"AUTH", b"u", b"p", b"SETNAME", b"n"];
        assert_eq!(secret_positions(hello), [3, 4]);
        assert_eq!(secret_positions(&[b"auth", b"u", b"p"]), [1, 2]);
        let config: &[&[u8]] = &[b"CONFIG", b"SET", b"timeout", b"0", b"requirepass", b"pw"];
        assert_eq!(secret_positions(config), [5]);
        assert!(secret_positions(&[b"SET", b"auth", b"x"]).is_empty());
    }
}
