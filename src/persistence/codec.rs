//! One record's bytes: framing, checksum and payload encoding.
//!
//! ```text
//! offset  size  field
//!      0     4  length    u32 LE: bytes of the payload (1 ..= MAX_PAYLOAD_LEN)
//!      4     4  checksum  u32 LE: CRC32C (Castagnoli) of the payload
//!      8   len  payload   one Effect, bincode 2 `standard()` (little-endian, varint integers)
//! ```
//!
//! A payload that cannot be one effect is [`Corruption::Payload`], whatever it declares: a
//! length its bytes do not back, or a batch inside a batch (see [`Effect::Batch`]), is an
//! error of the decoder, never an allocation of that length or a recursion as deep as the
//! input.
//!
//! This is the only module that knows bincode. bincode is unmaintained (2.0.1 is pinned; 3.0.0
//! is an empty placeholder), so it stays behind [`encode`] and [`decode`] and can be swapped
//! for another encoding of the same [`Effect`] under a new format version.

use super::effect::Effect;
use super::error::AofError;

/// Bytes of a record's frame before its payload: length and checksum.
pub const FRAME_LEN: usize = 8;

/// The largest payload accepted (1 GiB). A larger declared length is corruption, so a
/// garbage length never makes a reader allocate or wait for gigabytes.
pub const MAX_PAYLOAD_LEN: u32 = 1 << 30;

/// The bincode configuration of the payload: part of the format.
const CONFIG: bincode::config::Configuration = bincode::config::standard();

/// Why the bytes at a position are not one whole, valid record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The buffer ends inside the record: `needed` bytes make the record (as far as its
    /// frame tells), only `available` are there. At the end of a file this is a torn write.
    #[error("incomplete record: {available} of {needed} bytes")]
    Incomplete {
        /// Bytes the record needs: [`FRAME_LEN`] until the frame is complete, then the frame
        /// plus the declared payload length.
        needed: usize,
        /// Bytes the buffer holds.
        available: usize,
    },
    /// The record is complete (or its length is impossible) and wrong.
    #[error("{0}")]
    Corrupt(Corruption),
}

/// How a record is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Corruption {
    /// The declared payload length is 0 or over [`MAX_PAYLOAD_LEN`].
    #[error("impossible record length {len}")]
    Length {
        /// The declared length.
        len: u32,
    },
    /// The payload's CRC32C is not the stored one.
    #[error("checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    Checksum {
        /// Bytes of the whole record, frame included.
        record_len: usize,
        /// The checksum in the frame.
        stored: u32,
        /// The checksum of the payload as read.
        computed: u32,
    },
    /// The checksum matches but the payload is not exactly one encoded [`Effect`] (a writer
    /// bug, or a file from an incompatible build).
    #[error("payload does not decode: {reason}")]
    Payload {
        /// Bytes of the whole record, frame included.
        record_len: usize,
        /// What the decoder said.
        reason: String,
    },
}

impl Corruption {
    /// Bytes of the whole record when its length is plausible (`None` for [`Corruption::Length`]).
    pub fn record_len(&self) -> Option<usize> {
        match self {
            Corruption::Length { .. } => None,
            Corruption::Checksum { record_len, .. } | Corruption::Payload { record_len, .. } => {
                Some(*record_len)
            }
        }
    }
}

/// Appends one framed record for `effect` to `buf` and returns its length in bytes.
///
/// Appending lets a writer batch many records into one buffer and one `write`. On error
/// `buf` is left as it was.
pub fn encode(effect: &Effect, buf: &mut Vec<u8>) -> Result<usize, AofError> {
    let start = buf.len();
    buf.extend_from_slice(&[0; FRAME_LEN]);
    let encoded = bincode::serde::encode_into_std_write(effect, buf, CONFIG);
    let payload_len = buf.len() - start - FRAME_LEN;
    let len = match encoded {
        Ok(_) => u32::try_from(payload_len)
            .ok()
            .filter(|&len| len <= MAX_PAYLOAD_LEN),
        Err(error) => {
            buf.truncate(start);
            return Err(AofError::Encode(error.to_string()));
        }
    };
    let Some(len) = len else {
        buf.truncate(start);
        return Err(AofError::RecordTooLarge { len: payload_len });
    };
    let checksum = crc32c::crc32c(&buf[start + FRAME_LEN..]);
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf[start + 4..start + FRAME_LEN].copy_from_slice(&checksum.to_le_bytes());
    Ok(buf.len() - start)
}

/// The length of the whole record at the start of `buf`, from its frame alone: its
/// checksum and payload are not checked (a reader skipping a record another one checks).
pub fn record_len(buf: &[u8]) -> Result<usize, DecodeError> {
    let Some(len) = le_u32(buf, 0).filter(|_| buf.len() >= FRAME_LEN) else {
        return Err(DecodeError::Incomplete {
            needed: FRAME_LEN,
            available: buf.len(),
        });
    };
    if len == 0 || len > MAX_PAYLOAD_LEN {
        return Err(DecodeError::Corrupt(Corruption::Length { len }));
    }
    let record_len = FRAME_LEN + len as usize;
    if buf.len() < record_len {
        return Err(DecodeError::Incomplete {
            needed: record_len,
            available: buf.len(),
        });
    }
    Ok(record_len)
}

/// Decodes the record at the start of `buf`: the effect (borrowing `buf`) and the bytes it
/// took.
pub fn decode(buf: &[u8]) -> Result<(Effect<'_>, usize), DecodeError> {
    let incomplete = |needed| DecodeError::Incomplete {
        needed,
        available: buf.len(),
    };
    let (Some(len), Some(stored)) = (le_u32(buf, 0), le_u32(buf, 4)) else {
        return Err(incomplete(FRAME_LEN));
    };
    if len == 0 || len > MAX_PAYLOAD_LEN {
        return Err(DecodeError::Corrupt(Corruption::Length { len }));
    }
    let record_len = FRAME_LEN + len as usize;
    let Some(payload) = buf.get(FRAME_LEN..record_len) else {
        return Err(incomplete(record_len));
    };
    let computed = crc32c::crc32c(payload);
    if computed != stored {
        return Err(DecodeError::Corrupt(Corruption::Checksum {
            record_len,
            stored,
            computed,
        }));
    }
    let payload_error = |reason| DecodeError::Corrupt(Corruption::Payload { record_len, reason });
    match decode_payload(payload) {
        Ok((effect, used)) if used == payload.len() => Ok((effect, record_len)),
        Ok((_, used)) => Err(payload_error(format!(
            "{} bytes left over after the effect",
            payload.len() - used
        ))),
        Err(bincode::error::DecodeError::LimitExceeded) => {
            Err(payload_error(DECLARES_TOO_MUCH.to_string()))
        }
        Err(error) => Err(payload_error(error.to_string())),
    }
}

/// Why a payload that claims more than [`CLAIM_PER_BYTE`] per byte is corrupt.
const DECLARES_TOO_MUCH: &str = "it declares lengths that its bytes cannot hold";

/// Most bytes the decoder may claim per payload byte it reads. bincode counts what a decoded
/// value takes in memory: 8 for a length or a `u64` that a varint stores in one byte, the
/// bytes themselves for a string. A payload that claims more declares lengths its bytes do
/// not hold.
const CLAIM_PER_BYTE: usize = 8;

/// Decodes `payload` with bincode's limit on what it may claim (and so allocate before
/// reading: an owned string's declared length) set from the payload's own length, so a
/// length that no payload byte backs is an error, not an allocation. The limit is a type
/// parameter: the smallest of a few steps that is at least [`CLAIM_PER_BYTE`] times the
/// payload.
fn decode_payload(payload: &[u8]) -> Result<(Effect<'_>, usize), bincode::error::DecodeError> {
    const SMALL: usize = 8 << 10;
    const MEDIUM: usize = 1 << 20;
    const LARGE: usize = 128 << 20;
    const MAX: usize = MAX_PAYLOAD_LEN as usize;
    let len = payload.len();
    if len <= SMALL {
        decode_within::<{ SMALL * CLAIM_PER_BYTE }>(payload)
    } else if len <= MEDIUM {
        decode_within::<{ MEDIUM * CLAIM_PER_BYTE }>(payload)
    } else if len <= LARGE {
        decode_within::<{ LARGE * CLAIM_PER_BYTE }>(payload)
    } else {
        decode_within::<{ MAX * CLAIM_PER_BYTE }>(payload)
    }
}

/// Decodes `payload` claiming at most `LIMIT` bytes.
fn decode_within<const LIMIT: usize>(
    payload: &[u8],
) -> Result<(Effect<'_>, usize), bincode::error::DecodeError> {
    bincode::serde::borrow_decode_from_slice(payload, CONFIG.with_limit::<LIMIT>())
}

/// The little-endian u32 at `at`, if `buf` holds it.
fn le_u32(buf: &[u8], at: usize) -> Option<u32> {
    let bytes = buf.get(at..at + 4)?;
    Some(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::persistence::effect::{StoredEnding, StoredSession, StoredValue};

    /// One effect of every variant, and every kind of value.
    pub(crate) fn samples() -> Vec<Effect<'static>> {
        let ns = || "default".into();
        let session = StoredSession {
            id: [7; 16],
            user: b"alice".to_vec().into(),
            created_at: 1_700_000_000_000,
            last_access: 1_700_000_000_500,
            idle_timeout_s: 1800,
            absolute_deadline: 1_700_086_400_000,
            version: 3,
            ending: None,
            fields: vec![
                (b"cart".to_vec().into(), b"3 items".to_vec().into()),
                (vec![].into(), vec![0, 255].into()),
            ],
        };
        let ended = StoredSession {
            ending: Some(StoredEnding {
                reason: 3,
                ended_at: 1_700_000_001_000,
                recoverable_until: 1_700_003_601_000,
            }),
            fields: vec![],
            ..session.clone()
        };
        let set = |key: &[u8], value| Effect::Set {
            namespace: ns(),
            db: 0,
            key: key.to_vec().into(),
            value,
            expire_at: 0,
        };
        vec![
            Effect::NamespaceCreate {
                name: "shop".into(),
                options: vec![("idle-timeout".into(), "60".into())],
            },
            Effect::NamespaceDrop {
                name: "shop".into(),
            },
            Effect::Set {
                namespace: ns(),
                db: 15,
                key: b"counter".to_vec().into(),
                value: StoredValue::String(b"42".to_vec().into()),
                expire_at: u64::MAX,
            },
            set(b"", StoredValue::String(vec![].into())),
            set(
                b"h",
                StoredValue::Hash(vec![(b"f".to_vec().into(), b"v".to_vec().into())]),
            ),
            set(
                b"s",
                StoredValue::Set(vec![b"a".to_vec().into(), b"b".to_vec().into()]),
            ),
            set(
                b"z",
                StoredValue::SortedSet(vec![
                    (b"a".to_vec().into(), 1.5),
                    (b"b".to_vec().into(), f64::NEG_INFINITY),
                ]),
            ),
            set(
                b"l",
                StoredValue::List(vec![vec![0; 300].into(), b"x".to_vec().into()]),
            ),
            Effect::Del {
                namespace: ns(),
                db: 1,
                keys: vec![b"a".to_vec().into(), b"b".to_vec().into()],
            },
            Effect::Expire {
                namespace: ns(),
                db: 2,
                key: b"k".to_vec().into(),
                expire_at: 1_700_000_000_000,
            },
            Effect::FlushDb {
                namespace: ns(),
                db: 3,
            },
            Effect::FlushAll { namespace: ns() },
            Effect::SwapDb {
                namespace: ns(),
                a: 0,
                b: 1,
            },
            Effect::SessionPut {
                namespace: ns(),
                session,
            },
            Effect::SessionPut {
                namespace: ns(),
                session: ended,
            },
            Effect::SessionTouch {
                namespace: ns(),
                id: [9; 16],
                last_access: 1_700_000_002_000,
            },
            Effect::SessionDel {
                namespace: ns(),
                id: [9; 16],
            },
            Effect::HashFields {
                namespace: ns(),
                db: 0,
                key: b"h".to_vec().into(),
                set: vec![(b"f".to_vec().into(), b"v".to_vec().into())],
                del: vec![b"gone".to_vec().into()],
                expire_at: 1_700_000_000_000,
            },
            Effect::SetMembers {
                namespace: ns(),
                db: 0,
                key: b"s".to_vec().into(),
                add: vec![b"m".to_vec().into(), b"42".to_vec().into()],
                del: vec![b"gone".to_vec().into()],
                expire_at: 1_700_000_000_000,
            },
            Effect::ZsetMembers {
                namespace: ns(),
                db: 4,
                key: b"z".to_vec().into(),
                set: vec![
                    (b"m".to_vec().into(), -0.0),
                    (b"n".to_vec().into(), f64::INFINITY),
                ],
                del: vec![b"gone".to_vec().into()],
                expire_at: 0,
            },
            Effect::ListElements {
                namespace: ns(),
                db: 0,
                key: b"l".to_vec().into(),
                head: -3,
                len: 5,
                runs: vec![(-3, vec![b"a".to_vec().into(), b"b".to_vec().into()])],
                expire_at: 0,
            },
        ]
    }

    fn encoded(effect: &Effect) -> Vec<u8> {
        let mut buf = Vec::new();
        encode(effect, &mut buf).expect("encodes");
        buf
    }

    /// A frame around `payload` with a correct checksum.
    fn framed(payload: &[u8]) -> Vec<u8> {
        let mut buf = (payload.len() as u32).to_le_bytes().to_vec();
        buf.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
        buf.extend_from_slice(payload);
        buf
    }

    #[test]
    fn every_variant_round_trips() {
        for effect in samples() {
            let bytes = encoded(&effect);
            assert_eq!(
                decode(&bytes),
                Ok((effect.clone(), bytes.len())),
                "{effect:?}"
            );
        }
    }

    #[test]
    fn encode_appends_and_decode_walks_a_batch() {
        let mut buf = b"prefix".to_vec();
        let mut lens = Vec::new();
        for effect in samples() {
            lens.push(encode(&effect, &mut buf).expect("encodes"));
        }
        assert_eq!(&buf[..6], b"prefix");
        let mut at = 6;
        for (effect, len) in samples().into_iter().zip(lens) {
            assert_eq!(decode(&buf[at..]), Ok((effect, len)));
            at += len;
        }
        assert_eq!(at, buf.len());
    }

    #[test]
    fn frame_layout_is_length_checksum_payload() {
        let bytes = encoded(&Effect::FlushAll {
            namespace: "n".into(),
        });
        let payload = &bytes[FRAME_LEN..];
        assert_eq!(le_u32(&bytes, 0), Some(payload.len() as u32));
        assert_eq!(le_u32(&bytes, 4), Some(crc32c::crc32c(payload)));
        // Variant 6 (FlushAll), then the string as varint length + bytes.
        assert_eq!(payload, [6, 1, b'n']);
    }

    #[test]
    fn byte_strings_are_a_varint_length_then_the_bytes() {
        let bytes = encoded(&Effect::Set {
            namespace: "ns".into(),
            db: 300,
            key: b"k".into(),
            value: StoredValue::String(vec![b'v'; 2].into()),
            expire_at: 0,
        });
        // Variant 2 (Set); "ns"; db 300 as 251 + u16; "k"; value variant 0 (String) "vv";
        // expire_at 0.
        assert_eq!(
            bytes[FRAME_LEN..],
            [2, 2, b'n', b's', 251, 44, 1, 1, b'k', 0, 2, b'v', b'v', 0]
        );
    }

    #[test]
    fn hash_fields_is_variant_13_with_fields_in_order() {
        let bytes = encoded(&Effect::HashFields {
            namespace: "n".into(),
            db: 1,
            key: b"h".into(),
            set: vec![(b"f".into(), b"v".into())],
            del: vec![b"g".into()],
            expire_at: 0,
        });
        // Variant 13; "n"; db 1; "h"; one pair "f" "v"; one field "g"; expire_at 0.
        assert_eq!(
            bytes[FRAME_LEN..],
            [13, 1, b'n', 1, 1, b'h', 1, 1, b'f', 1, b'v', 1, 1, b'g', 0]
        );
    }

    #[test]
    fn set_members_is_variant_14_with_members_in_order() {
        let bytes = encoded(&Effect::SetMembers {
            namespace: "n".into(),
            db: 1,
            key: b"s".into(),
            add: vec![b"a".into(), b"b".into()],
            del: vec![b"c".into()],
            expire_at: 0,
        });
        // Variant 14; "n"; db 1; "s"; two members "a" "b"; one member "c"; expire_at 0.
        assert_eq!(
            bytes[FRAME_LEN..],
            [14, 1, b'n', 1, 1, b's', 2, 1, b'a', 1, b'b', 1, 1, b'c', 0]
        );
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let bytes = encoded(&samples()[13]);
        for cut in 0..bytes.len() {
            let needed = if cut < FRAME_LEN {
                FRAME_LEN
            } else {
                bytes.len()
            };
            assert_eq!(
                decode(&bytes[..cut]),
                Err(DecodeError::Incomplete {
                    needed,
                    available: cut
                }),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn any_flipped_payload_byte_fails_the_checksum() {
        let bytes = encoded(&samples()[13]);
        for at in FRAME_LEN..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x20;
            assert!(
                matches!(
                    decode(&bad),
                    Err(DecodeError::Corrupt(Corruption::Checksum { record_len, .. }))
                        if record_len == bytes.len()
                ),
                "flip at {at}: {:?}",
                decode(&bad)
            );
        }
        let mut bad = bytes.clone();
        bad[5] ^= 1;
        assert!(matches!(
            decode(&bad),
            Err(DecodeError::Corrupt(Corruption::Checksum { .. }))
        ));
    }

    #[test]
    fn impossible_lengths_are_corrupt_before_any_allocation() {
        for len in [0, MAX_PAYLOAD_LEN + 1, u32::MAX] {
            let mut bytes = len.to_le_bytes().to_vec();
            bytes.extend_from_slice(&[0; 4]);
            assert_eq!(
                decode(&bytes),
                Err(DecodeError::Corrupt(Corruption::Length { len }))
            );
        }
    }

    /// The reason `decode` gives for a framed `payload`, which must be corrupt.
    fn payload_error(payload: &[u8]) -> String {
        let bytes = framed(payload);
        match decode(&bytes) {
            Err(DecodeError::Corrupt(Corruption::Payload { record_len, reason })) => {
                assert_eq!(record_len, bytes.len());
                reason
            }
            other => panic!("{payload:?}: {other:?}"),
        }
    }

    #[test]
    fn a_declared_length_no_byte_backs_is_corrupt_not_allocated() {
        // NamespaceCreate "", one option whose name declares 16 TiB (a varint u64: 253).
        let mut payload = vec![0, 0, 1, 253];
        payload.extend_from_slice(&(16u64 << 40).to_le_bytes());
        assert_eq!(payload_error(&payload), DECLARES_TOO_MUCH);
    }

    #[test]
    fn the_densest_effects_decode_within_the_limit() {
        // An Expire of empty names takes 5 bytes and claims 32: close to the most per byte.
        let expire = Effect::Expire {
            namespace: "".into(),
            db: 0,
            key: b"".into(),
            expire_at: 0,
        };
        for count in [1, 1_600, 1_700, 300_000] {
            let batch = Effect::Batch(vec![expire.clone(); count]);
            let bytes = encoded(&batch);
            assert_eq!(decode(&bytes), Ok((batch, bytes.len())), "{count} effects");
        }
    }

    #[test]
    fn a_batch_inside_a_batch_is_corrupt() {
        let flush = || Effect::FlushAll {
            namespace: "n".into(),
        };
        let nested = Effect::Batch(vec![flush(), Effect::Batch(vec![flush()])]);
        let mut buf = Vec::new();
        assert!(matches!(
            encode(&nested, &mut buf),
            Err(AofError::Encode(_))
        ));
        assert!(buf.is_empty());

        // Tag 11 (Batch), one effect: tag 11 again, and so on 100,000 deep.
        let mut payload = Vec::new();
        for _ in 0..100_000 {
            payload.extend_from_slice(&[11, 1]);
        }
        payload.extend_from_slice(&[6, 1, b'n']);
        assert!(payload_error(&payload).contains("a batch inside a batch"));
        let flat = encoded(&Effect::Batch(vec![flush(), flush()]));
        assert!(
            decode(&flat).is_ok(),
            "a decoder refusal leaves no state behind"
        );
    }

    #[test]
    fn payloads_that_are_not_one_effect_are_corrupt() {
        // Unknown variant, a truncated effect, and an effect with a byte left over.
        let mut extra = encoded(&samples()[11])[FRAME_LEN..].to_vec();
        extra.push(0);
        for payload in [vec![200u8], vec![6, 5, b'n'], extra] {
            let bytes = framed(&payload);
            assert!(
                matches!(
                    decode(&bytes),
                    Err(DecodeError::Corrupt(Corruption::Payload { record_len, .. }))
                        if record_len == bytes.len()
                ),
                "{payload:?}: {:?}",
                decode(&bytes)
            );
        }
    }
}
