//! Session ids: UUID v4 from the OS CSPRNG (122 random bits), lower-case hyphenated.
//!
//! Random bytes are drawn from the OS in blocks (one `getrandom` call per 256 ids) and each
//! block is used once, so creating a session does not cost a system call.

use std::cell::RefCell;
use std::fmt;

use uuid::Uuid;

/// Bytes drawn from the OS per refill: 256 ids.
const BLOCK: usize = 16 * 256;

/// A session id: the 16 bytes of a UUID v4.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId([u8; 16]);

struct RandomBlock {
    bytes: [u8; BLOCK],
    used: usize,
}

thread_local! {
    static RANDOM: RefCell<RandomBlock> = const {
        RefCell::new(RandomBlock { bytes: [0; BLOCK], used: BLOCK })
    };
}

impl SessionId {
    /// A fresh random id.
    pub fn generate() -> SessionId {
        RANDOM.with_borrow_mut(|block| {
            if block.used == BLOCK {
                getrandom::fill(&mut block.bytes)
                    .expect("the OS random number generator is available");
                block.used = 0;
            }
            let mut random = [0u8; 16];
            random.copy_from_slice(&block.bytes[block.used..block.used + 16]);
            block.bytes[block.used..block.used + 16].fill(0);
            block.used += 16;
            SessionId(
                *uuid::Builder::from_random_bytes(random)
                    .as_uuid()
                    .as_bytes(),
            )
        })
    }

    /// Parses the text form a client sends back; `None` for anything that is not a UUID in
    /// lower- or upper-case hyphenated form (such ids name no session).
    pub fn parse(text: &[u8]) -> Option<SessionId> {
        if text.len() != 36 {
            return None;
        }
        Uuid::try_parse_ascii(text)
            .ok()
            .map(|uuid| SessionId(*uuid.as_bytes()))
    }

    /// The raw 16 bytes.
    pub fn bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Rebuilds an id from its raw bytes (as stored in a session record).
    pub fn from_bytes(bytes: [u8; 16]) -> SessionId {
        SessionId(bytes)
    }

    /// The 36-byte text form, lower-case hyphenated.
    pub fn text(&self) -> [u8; 36] {
        let mut out = [0u8; 36];
        Uuid::from_bytes(self.0).hyphenated().encode_lower(&mut out);
        out
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&Uuid::from_bytes(self.0).hyphenated(), f)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_v4_lowercase_and_parse_back() {
        let id = SessionId::generate();
        let text = id.text();
        let text = std::str::from_utf8(&text).unwrap();
        assert_eq!(text, text.to_lowercase());
        assert_eq!(&text[14..15], "4", "version nibble");
        assert!("89ab".contains(&text[19..20]), "RFC 4122 variant");
        assert_eq!(SessionId::parse(text.as_bytes()), Some(id));
        assert_eq!(SessionId::parse(text.to_uppercase().as_bytes()), Some(id));
        assert_eq!(id.to_string(), text);
    }

    #[test]
    fn ids_differ_and_garbage_does_not_parse() {
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| SessionId::generate()).collect();
        assert_eq!(ids.len(), 1000);
        assert_eq!(SessionId::parse(b"not-an-id"), None);
        assert_eq!(SessionId::parse(b"0123456789abcdef0123456789abcdef"), None);
        assert_eq!(SessionId::parse(b""), None);
    }
}
