//! What HSCAN, SSCAN and ZSCAN share: their MATCH and COUNT options and the shape of their
//! reply. (SCAN, with its TYPE option, has its own in `keys.rs`.)

use super::CommandError;
use super::args::{self, is};
use crate::glob::glob_match;
use crate::protocol::Reply;

/// The options of a collection scan.
#[derive(Debug)]
pub struct ScanOptions<'a> {
    /// MATCH's pattern; `None` for none or `*`, which matches everything.
    pattern: Option<&'a [u8]>,
    /// About how many members to visit (COUNT, 10 by default, at least 1).
    pub count: usize,
}

impl<'a> ScanOptions<'a> {
    /// Parses `[MATCH pattern] [COUNT count]` in any order, each any number of times.
    pub fn parse(mut options: &[&'a [u8]]) -> Result<ScanOptions<'a>, CommandError> {
        let mut scan = ScanOptions {
            pattern: None,
            count: 10,
        };
        while let [option, value, rest @ ..] = options {
            if is(option, "COUNT") {
                scan.count = usize::try_from(args::int(value)?)
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or(CommandError::Syntax)?;
            } else if is(option, "MATCH") {
                scan.pattern = Some(*value).filter(|p| *p != b"*");
            } else {
                return Err(CommandError::Syntax);
            }
            options = rest;
        }
        if !options.is_empty() {
            return Err(CommandError::Syntax);
        }
        Ok(scan)
    }

    /// Whether a member (or field) named `name` is returned.
    pub fn matches(&self, name: &[u8]) -> bool {
        self.pattern.is_none_or(|p| glob_match(p, name, false))
    }
}

/// The reply of a collection scan: the next cursor, then the items.
pub fn scan_reply(cursor: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![Reply::text(cursor.to_string()), Reply::Array(items)])
}
