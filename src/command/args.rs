//! Parsing of command arguments, with Redis's rules and error texts.

use super::CommandError;
use crate::store::value::parse_canonical_int;

/// Parses an integer argument the way Redis's `string2ll` does (no `+`, no leading zeros).
pub fn int(arg: &[u8]) -> Result<i64, CommandError> {
    parse_canonical_int(arg).ok_or(CommandError::NotInteger)
}

/// Parses a non-negative integer argument; a negative one is `error`.
pub fn non_negative(arg: &[u8], error: CommandError) -> Result<i64, CommandError> {
    match int(arg)? {
        n if n < 0 => Err(error),
        n => Ok(n),
    }
}

/// Parses a float argument the way Redis's `string2ld` does: no surrounding spaces, no NaN.
pub fn float(arg: &[u8]) -> Result<f64, CommandError> {
    parse_float(arg).ok_or(CommandError::NotFloat)
}

/// A float in Redis's accepted syntax (`1.5`, `-3e2`, `inf`), or `None`.
pub fn parse_float(arg: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(arg).ok()?;
    if text.is_empty() || text.starts_with(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    let value = match text.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => text.parse::<f64>().ok()?,
    };
    (!value.is_nan()).then_some(value)
}

/// Parses a SCAN-family cursor as Redis's `strtoul` does: an optional sign (a negative
/// cursor wraps around), decimal digits, nothing else; the empty string is cursor 0.
pub fn cursor(arg: &[u8]) -> Result<u64, CommandError> {
    let invalid = || CommandError::err("invalid cursor");
    let (negative, digits) = match arg {
        [] => return Ok(0),
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let value = digits.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    });
    let value = value.ok_or_else(invalid)?;
    Ok(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// Whether an argument equals an option name, ignoring ASCII case.
pub fn is(arg: &[u8], option: &str) -> bool {
    arg.eq_ignore_ascii_case(option.as_bytes())
}

/// An argument as (lossy) text, for messages and names.
pub fn text(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_follow_string2ll() {
        assert_eq!(int(b"-12"), Ok(-12));
        assert_eq!(int(b"1.0"), Err(CommandError::NotInteger));
        assert_eq!(int(b""), Err(CommandError::NotInteger));
    }

    #[test]
    fn cursors_follow_strtoul() {
        assert_eq!(cursor(b"17"), Ok(17));
        assert_eq!(cursor(b""), Ok(0));
        assert_eq!(cursor(b"+3"), Ok(3));
        assert_eq!(cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(cursor(b"18446744073709551615"), Ok(u64::MAX));
        for bad in [
            &b"18446744073709551616"[..],
            b" 1",
            b"1 ",
            b"x",
            b"-",
            b"0x1",
        ] {
            assert_eq!(
                cursor(bad),
                Err(CommandError::err("invalid cursor")),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn floats_follow_string2ld() {
        assert_eq!(parse_float(b"1.5"), Some(1.5));
        assert_eq!(parse_float(b"5.0e3"), Some(5000.0));
        assert_eq!(parse_float(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_float(b" 1"), None);
        assert_eq!(parse_float(b"nan"), None);
        assert_eq!(parse_float(b"abc"), None);
    }
}
