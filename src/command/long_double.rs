//! INCRBYFLOAT arithmetic in C `long double`, so results match Redis byte for byte (Redis
//! parses with `strtold`, adds in 80-bit precision on x86-64 and prints with `%.17Lf`; an
//! `f64` differs in the last digits, and accepts neither hex input nor 1e400).

use super::CommandError;

/// The longest result Redis prints (`MAX_LONG_DOUBLE_CHARS`).
const MAX_CHARS: usize = 5 * 1024;

unsafe extern "C" {
    fn sessiond_incr_long_double(
        current: *const u8,
        current_len: usize,
        incr: *const u8,
        incr_len: usize,
        out: *mut u8,
        out_len: usize,
    ) -> std::ffi::c_long;
}

/// Why an addition has no result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddError {
    /// The current value is not a float.
    CurrentNotFloat,
    /// The increment is not a float.
    IncrementNotFloat,
    /// The sum is NaN or infinite.
    NotFinite,
    /// The sum does not fit Redis's buffer.
    TooLong,
}

/// Adds `increment` to `current` (`None` = absent key, counted as 0) and returns the text
/// Redis would store, or the error Redis would reply (INCRBYFLOAT's wording).
pub fn increment(current: Option<&[u8]>, increment: &[u8]) -> Result<Vec<u8>, CommandError> {
    add(current, increment).map_err(|error| match error {
        AddError::CurrentNotFloat | AddError::IncrementNotFloat => CommandError::NotFloat,
        AddError::NotFinite => CommandError::err("increment would produce NaN or Infinity"),
        AddError::TooLong => CommandError::err("value is too long to be represented"),
    })
}

/// Adds `increment` to `current` (`None` = counted as 0) in `long double`, and returns the
/// text Redis would store; each command words the errors its own way.
pub fn add(current: Option<&[u8]>, increment: &[u8]) -> Result<Vec<u8>, AddError> {
    let mut out = vec![0u8; MAX_CHARS];
    let (current_ptr, current_len) =
        current.map_or((std::ptr::null(), 0), |c| (c.as_ptr(), c.len()));
    // SAFETY: every pointer comes with the length of a live slice (or is null with length 0
    // for an absent value), and the C function writes at most `out.len()` bytes into `out`.
    let written = unsafe {
        sessiond_incr_long_double(
            current_ptr,
            current_len,
            increment.as_ptr(),
            increment.len(),
            out.as_mut_ptr(),
            out.len(),
        )
    };
    match written {
        -1 => Err(AddError::CurrentNotFloat),
        -2 => Err(AddError::IncrementNotFloat),
        -3 => Err(AddError::NotFinite),
        n if n < 0 => Err(AddError::TooLong),
        n => {
            out.truncate(n as usize);
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(current: Option<&str>, by: &str) -> Result<String, CommandError> {
        increment(current.map(str::as_bytes), by.as_bytes())
            .map(|bytes| String::from_utf8(bytes).expect("ascii"))
    }

    #[test]
    fn matches_redis_long_double_results() {
        assert_eq!(add(Some("10.50"), "0.1").as_deref(), Ok("10.6"));
        assert_eq!(add(None, "5.0e3").as_deref(), Ok("5000"));
        assert_eq!(add(None, "0x10").as_deref(), Ok("16"));
        assert_eq!(add(Some("-1"), "1").as_deref(), Ok("0"));
        assert_eq!(add(None, "1e400").map(|s| s.len()), Ok(401));
    }

    #[test]
    fn rejects_what_redis_rejects() {
        assert_eq!(add(Some("abc"), "1"), Err(CommandError::NotFloat));
        assert_eq!(add(Some(""), "1"), Err(CommandError::NotFloat));
        assert_eq!(add(None, " 1"), Err(CommandError::NotFloat));
        assert_eq!(add(None, "nan"), Err(CommandError::NotFloat));
        assert!(add(None, "inf").is_err());
    }

    #[test]
    fn errors_say_which_operand_is_wrong() {
        assert_eq!(super::add(Some(b"x"), b"1"), Err(AddError::CurrentNotFloat));
        assert_eq!(
            super::add(Some(b"1"), b"x"),
            Err(AddError::IncrementNotFloat)
        );
        assert_eq!(super::add(None, b"-inf"), Err(AddError::NotFinite));
        assert_eq!(super::add(Some(b"1.5"), b"1").as_deref(), Ok(&b"2.5"[..]));
    }
}
