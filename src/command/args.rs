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
    fn floats_follow_string2ld() {
        assert_eq!(parse_float(b"1.5"), Some(1.5));
        assert_eq!(parse_float(b"5.0e3"), Some(5000.0));
        assert_eq!(parse_float(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_float(b" 1"), None);
        assert_eq!(parse_float(b"nan"), None);
        assert_eq!(parse_float(b"abc"), None);
    }
}
