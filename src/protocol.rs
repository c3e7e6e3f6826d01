//! RESP framing: requests in, replies out.
//!
//! Requests are split by a walk over their headers: a client request is a flat array of bulk
//! strings, so the walk checks each declared count and length against the limits *before* the
//! bytes are buffered, and remembers how many bytes an incomplete frame needs at least so a
//! large bulk is not walked again on every read. (The `redis-protocol` decoder, which reads any
//! RESP value, recursed into nested arrays without a depth limit, a crash the fuzzer found, and
//! cost more than a third of a SET's instructions; the tests keep it as the reference the walk
//! must agree with.)
//!
//! Replies are built as [`Reply`] values, independent of the protocol version, and encoded for
//! RESP2 or RESP3 at the end; leaf values are encoded by `redis-protocol`.

use std::borrow::Cow;
use std::fmt::Write;

use bytes::{Bytes, BytesMut};
use redis_protocol::resp2::encode::extend_encode_borrowed as encode2;
use redis_protocol::resp2::types::BorrowedFrame as Frame2;
use redis_protocol::resp3::encode::complete::extend_encode_borrowed as encode3;
use redis_protocol::resp3::types::{BorrowedFrame as Frame3, VerbatimStringFormat};

use crate::split_args::split_args;

/// Redis's cap on the number of arguments in one request.
pub const MAX_MULTIBULK_LEN: u64 = 1024 * 1024;
/// Longest header line (`*N` / `$N`) or inline request accepted before a CRLF shows up.
pub const MAX_INLINE_LEN: usize = 64 * 1024;
/// Most arguments a client that has not authenticated may send (Redis 7).
pub const UNAUTHENTICATED_MAX_MULTIBULK_LEN: u64 = 10;
/// Longest bulk string a client that has not authenticated may send (Redis 7).
pub const UNAUTHENTICATED_MAX_BULK_LEN: u64 = 16 * 1024;

/// The RESP version a connection speaks, chosen with `HELLO`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2, the default for new connections.
    #[default]
    Resp2,
    /// RESP3, with maps, sets, doubles and push frames.
    Resp3,
}

/// A malformed request; the connection answers `-ERR Protocol error: ...` and closes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("ERR Protocol error: {0}")]
pub struct ProtocolError(pub String);

impl ProtocolError {
    fn new(message: impl Into<String>) -> Self {
        ProtocolError(message.into())
    }
}

/// One decoded request: its arguments, and the bytes of the buffer it spanned.
pub struct Request<'a> {
    /// The command name followed by its arguments.
    pub args: Arguments<'a>,
    /// How many bytes of the buffer the request used.
    pub consumed: usize,
}

/// A request's arguments: slices of the read buffer (multibulk, and plain inline words), or
/// owned bytes where quotes and escapes of an inline command had to be decoded.
pub enum Arguments<'a> {
    /// Arguments as they stand in the read buffer.
    Borrowed(Vec<&'a [u8]>),
    /// Arguments decoded from a quoted inline command.
    Owned(Vec<Vec<u8>>),
}

impl Arguments<'_> {
    /// The arguments as a slice of byte slices, the shape every handler takes.
    pub fn as_slices(&self) -> Cow<'_, [&[u8]]> {
        match self {
            Arguments::Borrowed(args) => Cow::Borrowed(args),
            Arguments::Owned(args) => Cow::Owned(args.iter().map(Vec::as_slice).collect()),
        }
    }
}

/// Splits a connection's read buffer into requests, enforcing the input limits.
#[derive(Debug)]
pub struct RequestParser {
    max_bulk_len: u64,
    authenticated: bool,
    /// Bytes the current incomplete frame needs at least before decoding is worth retrying.
    needed: usize,
}

impl RequestParser {
    /// A parser that refuses bulk strings longer than `max_bulk_len` (`proto-max-bulk-len`).
    pub fn new(max_bulk_len: u64) -> Self {
        RequestParser {
            max_bulk_len,
            authenticated: true,
            needed: 0,
        }
    }

    /// Tells the parser whether the client has authenticated; before it has, requests are
    /// limited to a few short arguments, so a stranger cannot make the server buffer much.
    pub fn set_authenticated(&mut self, authenticated: bool) {
        self.authenticated = authenticated;
    }

    /// The multibulk count and bulk length limits, and the words used when refusing them.
    fn limits(&self) -> (u64, u64, &'static str) {
        if self.authenticated {
            (MAX_MULTIBULK_LEN, self.max_bulk_len, "invalid")
        } else {
            (
                UNAUTHENTICATED_MAX_MULTIBULK_LEN,
                UNAUTHENTICATED_MAX_BULK_LEN.min(self.max_bulk_len),
                "unauthenticated",
            )
        }
    }

    /// Updates the bulk length limit (after `CONFIG SET proto-max-bulk-len`).
    pub fn set_max_bulk_len(&mut self, max_bulk_len: u64) {
        self.max_bulk_len = max_bulk_len;
    }

    /// Decodes the request at the start of `buf`. `Ok(None)` means more bytes are needed.
    /// An empty multibulk (`*0`, `*-1`) or blank inline line is skipped and yields an empty
    /// argument list, which the caller ignores.
    pub fn parse<'a>(&mut self, buf: &'a [u8]) -> Result<Option<Request<'a>>, ProtocolError> {
        if buf.is_empty() || buf.len() < self.needed {
            return Ok(None);
        }
        if buf[0] != b'*' {
            return parse_inline(buf);
        }
        match self.parse_multibulk(buf)? {
            Multibulk::Complete(request) => {
                self.needed = 0;
                Ok(Some(request))
            }
            Multibulk::Needs(needed) => {
                self.needed = needed;
                Ok(None)
            }
        }
    }

    /// Walks a multibulk frame header by header, checking each declared count and length
    /// against the limits as soon as it arrives, so nothing over them is ever buffered.
    fn parse_multibulk<'a>(&self, buf: &'a [u8]) -> Result<Multibulk<'a>, ProtocolError> {
        let Some((count, mut pos)) = header_line(buf, 0, "multibulk")? else {
            return Ok(Multibulk::Needs(buf.len() + 1));
        };
        if count <= 0 {
            // `*0`, `*-1`, and (as Redis does) any negative count: an empty request.
            return Ok(Multibulk::Complete(Request {
                args: Arguments::Borrowed(Vec::new()),
                consumed: pos,
            }));
        }
        let (max_count, max_bulk, adjective) = self.limits();
        if count as u64 > max_count {
            return Err(ProtocolError(format!("{adjective} multibulk length")));
        }
        // Sized up front, but only by what may have arrived: a declared count alone must not
        // make the server allocate.
        let mut args = Vec::with_capacity((count as usize).min(buf.len() / 4));
        for _ in 0..count {
            let Some(&marker) = buf.get(pos) else {
                return Ok(Multibulk::Needs(pos + 1));
            };
            if marker != b'$' {
                return Err(ProtocolError(format!(
                    "expected '$', got '{}'",
                    char::from(marker)
                )));
            }
            let Some((len, body)) = header_line(buf, pos, "bulk")? else {
                return Ok(Multibulk::Needs(buf.len() + 1));
            };
            if len < 0 {
                return Err(ProtocolError::new("invalid bulk length"));
            }
            if len as u64 > max_bulk {
                return Err(ProtocolError(format!("{adjective} bulk length")));
            }
            let end = body + len as usize;
            pos = end + 2;
            match buf.get(end..pos) {
                None => return Ok(Multibulk::Needs(pos)),
                Some(b"\r\n") => args.push(&buf[body..end]),
                Some(_) => return Err(ProtocolError::new("invalid request")),
            }
        }
        Ok(Multibulk::Complete(Request {
            args: Arguments::Borrowed(args),
            consumed: pos,
        }))
    }
}

/// How far a multibulk frame at the start of a buffer got.
enum Multibulk<'a> {
    /// The whole request.
    Complete(Request<'a>),
    /// Incomplete: the buffer must hold at least this many bytes before it is worth parsing
    /// again (the whole frame once every header has arrived).
    Needs(usize),
}

/// Parses the `*N` or `$N` line at `start` (its marker already checked) into the number and
/// the position after its CRLF; `None` when the CRLF has not arrived yet. `what` names the
/// line in errors, as Redis does.
fn header_line(
    buf: &[u8],
    start: usize,
    what: &str,
) -> Result<Option<(i64, usize)>, ProtocolError> {
    let rest = &buf[start + 1..];
    let Some(end) = rest.iter().position(|&b| b == b'\r') else {
        if rest.len() > MAX_INLINE_LEN {
            let what = if what == "multibulk" { "mbulk" } else { what };
            return Err(ProtocolError(format!("too big {what} count string")));
        }
        return Ok(None);
    };
    let next = start + 1 + end + 2;
    if next > buf.len() {
        return Ok(None);
    }
    let value =
        parse_i64(&rest[..end]).ok_or_else(|| ProtocolError(format!("invalid {what} length")))?;
    Ok(Some((value, next)))
}

/// Parses a decimal integer with an optional sign, as `str::parse::<i64>` would, without
/// the UTF-8 check: this runs on every header of every request.
fn parse_i64(digits: &[u8]) -> Option<i64> {
    let (negative, digits) = match digits {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, digits),
    };
    if digits.is_empty() {
        return None;
    }
    let mut value: i64 = 0;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return None;
        }
        let digit = i64::from(digit - b'0');
        value = value.checked_mul(10)?;
        value = if negative {
            value.checked_sub(digit)?
        } else {
            value.checked_add(digit)?
        };
    }
    Some(value)
}

/// Parses an inline request (`PING\r\n` typed into telnet): words split with Redis's
/// quoting rules; plain words stay slices of the buffer.
fn parse_inline(buf: &[u8]) -> Result<Option<Request<'_>>, ProtocolError> {
    let Some(newline) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > MAX_INLINE_LEN {
            return Err(ProtocolError::new("too big inline request"));
        }
        return Ok(None);
    };
    let line = &buf[..newline];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let args = if line.iter().any(|b| matches!(b, b'"' | b'\'')) {
        Arguments::Owned(
            split_args(line).ok_or_else(|| ProtocolError::new("unbalanced quotes in request"))?,
        )
    } else {
        Arguments::Borrowed(
            line.split(|b| b.is_ascii_whitespace())
                .filter(|word| !word.is_empty())
                .collect(),
        )
    };
    Ok(Some(Request {
        args,
        consumed: newline + 1,
    }))
}

/// A reply, built by commands without knowing the connection's protocol version.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// `+OK`.
    Ok,
    /// A status line such as `+PONG`.
    Status(Cow<'static, str>),
    /// An error line; the text starts with its code (`ERR`, `WRONGTYPE`, ...).
    Error(String),
    /// An integer.
    Int(i64),
    /// A binary-safe string.
    Bulk(Bytes),
    /// The absent value: `$-1` in RESP2, `_` in RESP3.
    Nil,
    /// The absent aggregate: `*-1` in RESP2, `_` in RESP3.
    NilArray,
    /// An ordered list.
    Array(Vec<Reply>),
    /// Key/value pairs: a map in RESP3, a flat array in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// An unordered collection: a set in RESP3, an array in RESP2.
    Set(Vec<Reply>),
    /// A floating point number: a double in RESP3, a bulk string in RESP2.
    Double(f64),
    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    Bool(bool),
    /// Text meant for humans (INFO, CLIENT LIST): verbatim in RESP3, bulk in RESP2.
    Verbatim(String),
    /// Out-of-band data (pub/sub messages): a push in RESP3, an array in RESP2.
    Push(Vec<Reply>),
    /// Several replies to one command (SUBSCRIBE answers once per channel).
    Many(Vec<Reply>),
    /// No reply at all (an empty request, or a command that answers later).
    Silent,
}

impl Reply {
    /// A status line.
    pub fn status(text: impl Into<Cow<'static, str>>) -> Reply {
        Reply::Status(text.into())
    }

    /// A bulk string copied from a byte slice.
    pub fn bulk(data: &[u8]) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(data))
    }

    /// A bulk string from text.
    pub fn text(data: impl Into<String>) -> Reply {
        Reply::Bulk(Bytes::from(data.into()))
    }

    /// A bulk string, or nil when absent.
    pub fn optional(data: Option<Bytes>) -> Reply {
        data.map_or(Reply::Nil, Reply::Bulk)
    }

    /// An array of bulk strings.
    pub fn bulks(items: impl IntoIterator<Item = Bytes>) -> Reply {
        Reply::Array(items.into_iter().map(Reply::Bulk).collect())
    }

    /// Whether this reply is an error.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Appends the encoding of this reply in `protocol` to `out`. An error or status line
    /// that quotes a client's CR or LF has them turned into spaces, as Redis does: a line
    /// break inside it would end the frame early and desynchronise the client.
    pub fn encode(&self, protocol: Protocol, out: &mut BytesMut) {
        match self {
            Reply::Error(line) if line.contains(['\r', '\n']) => {
                return Reply::Error(line.replace(['\r', '\n'], " ")).encode(protocol, out);
            }
            Reply::Status(line) if line.contains(['\r', '\n']) => {
                return Reply::status(line.replace(['\r', '\n'], " ")).encode(protocol, out);
            }
            _ => {}
        }
        match protocol {
            Protocol::Resp2 => self.encode2(out),
            Protocol::Resp3 => self.encode3(out),
        }
    }

    fn encode2(&self, out: &mut BytesMut) {
        let leaf = match self {
            Reply::Ok => Frame2::SimpleString(b"OK"),
            Reply::Status(s) => Frame2::SimpleString(s.as_bytes()),
            Reply::Error(e) => Frame2::Error(e),
            Reply::Int(n) => Frame2::Integer(*n),
            Reply::Bool(b) => Frame2::Integer(i64::from(*b)),
            Reply::Bulk(b) => Frame2::BulkString(b),
            Reply::Verbatim(s) => Frame2::BulkString(s.as_bytes()),
            Reply::Nil => Frame2::Null,
            Reply::NilArray => return out.extend_from_slice(b"*-1\r\n"),
            Reply::Double(d) => {
                return Frame2::BulkString(format_double(*d).as_bytes()).encode_into(out);
            }
            Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
                aggregate_header(out, b'*', items.len());
                return items.iter().for_each(|item| item.encode2(out));
            }
            Reply::Map(pairs) => {
                aggregate_header(out, b'*', pairs.len() * 2);
                return pairs.iter().for_each(|(k, v)| {
                    k.encode2(out);
                    v.encode2(out);
                });
            }
            Reply::Many(replies) => return replies.iter().for_each(|r| r.encode2(out)),
            Reply::Silent => return,
        };
        leaf.encode_into(out);
    }

    fn encode3(&self, out: &mut BytesMut) {
        let leaf = match self {
            Reply::Ok => Frame3::SimpleString {
                data: b"OK",
                attributes: None,
            },
            Reply::Status(s) => Frame3::SimpleString {
                data: s.as_bytes(),
                attributes: None,
            },
            Reply::Error(e) => Frame3::SimpleError {
                data: e,
                attributes: None,
            },
            Reply::Int(n) => Frame3::Number {
                data: *n,
                attributes: None,
            },
            Reply::Bool(b) => Frame3::Boolean {
                data: *b,
                attributes: None,
            },
            Reply::Bulk(b) => Frame3::BlobString {
                data: b,
                attributes: None,
            },
            Reply::Verbatim(s) => Frame3::VerbatimString {
                data: s.as_bytes(),
                format: VerbatimStringFormat::Text,
                attributes: None,
            },
            Reply::Nil | Reply::NilArray => Frame3::Null,
            Reply::Double(d) => {
                // Written by hand: Redis 7.0's `%.17g`, not the frame library's format.
                let _ = write!(out, ",{}\r\n", format_double(*d));
                return;
            }
            Reply::Array(items) => return aggregate3(out, b'*', items),
            Reply::Set(items) => return aggregate3(out, b'~', items),
            Reply::Push(items) => return aggregate3(out, b'>', items),
            Reply::Map(pairs) => {
                aggregate_header(out, b'%', pairs.len());
                return pairs.iter().for_each(|(k, v)| {
                    k.encode3(out);
                    v.encode3(out);
                });
            }
            Reply::Many(replies) => return replies.iter().for_each(|r| r.encode3(out)),
            Reply::Silent => return,
        };
        leaf.encode_into(out);
    }
}

/// Encoding of a single (non-aggregate) frame into an output buffer.
trait EncodeInto {
    fn encode_into(&self, out: &mut BytesMut);
}

impl EncodeInto for Frame2<'_> {
    fn encode_into(&self, out: &mut BytesMut) {
        // Encoding a well-formed leaf frame into a growable buffer cannot fail.
        let _ = encode2(out, self, false);
    }
}

impl EncodeInto for Frame3<'_> {
    fn encode_into(&self, out: &mut BytesMut) {
        // Encoding a well-formed leaf frame into a growable buffer cannot fail.
        let _ = encode3(out, self, false);
    }
}

fn aggregate3(out: &mut BytesMut, marker: u8, items: &[Reply]) {
    aggregate_header(out, marker, items.len());
    items.iter().for_each(|item| item.encode3(out));
}

/// Writes an aggregate's `<marker><count>\r\n` header; the elements follow it.
fn aggregate_header(out: &mut BytesMut, marker: u8, len: usize) {
    // Writing into a growable buffer cannot fail.
    let _ = write!(out, "{}{len}\r\n", char::from(marker));
}

/// Formats a double the way Redis 7.0 replies with one (`addReplyDouble`): C's `%.17g`
/// (17 significant digits, trailing zeros dropped, an exponent below 1e-4 and from 1e17),
/// `inf`/`-inf` for infinities. (Redis 7.2 switched to the shortest round-trip form.)
pub fn format_double(value: f64) -> String {
    const PRECISION: i32 = 17;
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if value.is_nan() {
        return "nan".to_string();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let scientific = format!("{:.*e}", (PRECISION - 1) as usize, value);
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("the e format has an exponent");
    let exponent: i32 = exponent.parse().expect("the exponent is an integer");
    if (-4..PRECISION).contains(&exponent) {
        let decimals = (PRECISION - 1 - exponent) as usize;
        trim_fraction(&format!("{value:.decimals$}")).to_string()
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim_fraction(mantissa), exponent.abs())
    }
}

/// A decimal number without the trailing zeros of its fraction (nor a bare point).
fn trim_fraction(number: &str) -> &str {
    if number.contains('.') {
        number.trim_end_matches('0').trim_end_matches('.')
    } else {
        number
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_as_percent_17g() {
        for (value, text) in [
            (1.0, "1"),
            (1.5, "1.5"),
            (-2.25, "-2.25"),
            (0.1, "0.10000000000000001"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e300, "1.0000000000000001e+300"),
            (1e-5, "1.0000000000000001e-05"),
            (0.0001, "0.0001"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (12345678901234567.0, "12345678901234568"),
            (-0.0, "-0"),
            (5e-324, "4.9406564584124654e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
        ] {
            assert_eq!(format_double(value), text, "{value:e}");
        }
    }

    #[test]
    fn line_breaks_in_error_and_status_lines_become_spaces() {
        let mut out = BytesMut::new();
        Reply::Error("ERR unknown subcommand 'a\r\nb'".into()).encode(Protocol::Resp2, &mut out);
        assert_eq!(&out[..], b"-ERR unknown subcommand 'a  b'\r\n");
        out.clear();
        Reply::status("x\ny").encode(Protocol::Resp3, &mut out);
        assert_eq!(&out[..], b"+x y\r\n");
    }

    /// Arguments and bytes consumed of one parsed request.
    type Parsed = (Vec<Vec<u8>>, usize);

    fn parse_all(input: &[u8]) -> Result<Option<Parsed>, ProtocolError> {
        let mut parser = RequestParser::new(512 * 1024 * 1024);
        parser.parse(input).map(|r| {
            r.map(|r| {
                (
                    r.args
                        .as_slices()
                        .iter()
                        .map(|a| a.to_vec())
                        .collect::<Vec<_>>(),
                    r.consumed,
                )
            })
        })
    }

    /// A small deterministic generator, so the agreement test needs no extra crate.
    struct XorShift(u64);

    impl XorShift {
        fn below(&mut self, bound: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % bound
        }
    }

    #[test]
    fn agrees_with_the_redis_protocol_decoder_on_every_prefix() {
        use redis_protocol::resp2::decode::decode_range;
        use redis_protocol::resp2::types::RangeFrame;

        let mut rng = XorShift(0x5e55_10bd);
        for _ in 0..300 {
            let mut frame = Vec::new();
            let count = rng.below(6);
            frame.extend_from_slice(format!("*{count}\r\n").as_bytes());
            for _ in 0..count {
                let len = rng.below(40) as usize;
                frame.extend_from_slice(format!("${len}\r\n").as_bytes());
                let alphabet = b"ab\r\n*$\x00\xff9";
                for _ in 0..len {
                    frame.push(alphabet[rng.below(alphabet.len() as u64) as usize]);
                }
                frame.extend_from_slice(b"\r\n");
            }
            frame.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
            for cut in 0..=frame.len() {
                let prefix = &frame[..cut];
                let ours = parse_all(prefix).unwrap();
                let reference = decode_range(prefix).unwrap().map(|(frame, used)| {
                    let args = match frame {
                        RangeFrame::Array(items) => items
                            .into_iter()
                            .map(|item| match item {
                                RangeFrame::BulkString((start, end)) => prefix[start..end].to_vec(),
                                other => panic!("generated only bulk strings, got {other:?}"),
                            })
                            .collect(),
                        other => panic!("generated only arrays, got {other:?}"),
                    };
                    (args, used)
                });
                assert_eq!(
                    ours,
                    reference,
                    "prefix {:?}",
                    String::from_utf8_lossy(prefix)
                );
            }
        }
    }

    #[test]
    fn rejects_a_bulk_not_followed_by_crlf() {
        assert_eq!(
            parse_all(b"*1\r\n$3\r\nGETxx").unwrap_err().0,
            "invalid request"
        );
        assert_eq!(parse_all(b"*0\r").unwrap(), None);
        assert_eq!(
            parse_all(b"*1\r\n$9223372036854775808\r\n").unwrap_err().0,
            "invalid bulk length"
        );
    }

    #[test]
    fn decodes_a_complete_multibulk() {
        let (args, used) = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nrest")
            .unwrap()
            .unwrap();
        assert_eq!(args, vec![b"GET".to_vec(), b"k".to_vec()]);
        assert_eq!(used, 20);
    }

    #[test]
    fn waits_for_the_rest_of_a_frame() {
        assert_eq!(parse_all(b"*2\r\n$3\r\nGET\r\n$5\r\nab").unwrap(), None);
        assert_eq!(parse_all(b"*2\r\n$3\r").unwrap(), None);
    }

    #[test]
    fn rejects_a_huge_declared_bulk_before_it_arrives() {
        let err = parse_all(b"*1\r\n$536870913\r\n").unwrap_err();
        assert_eq!(err.to_string(), "ERR Protocol error: invalid bulk length");
    }

    #[test]
    fn rejects_huge_and_malformed_multibulk_counts() {
        assert_eq!(
            parse_all(b"*1048577\r\n").unwrap_err().0,
            "invalid multibulk length"
        );
        assert_eq!(
            parse_all(b"*abc\r\n").unwrap_err().0,
            "invalid multibulk length"
        );
        assert_eq!(
            parse_all(b"*1\r\n:5\r\n").unwrap_err().0,
            "expected '$', got ':'"
        );
        assert_eq!(
            parse_all(b"*1\r\n$-1\r\n").unwrap_err().0,
            "invalid bulk length"
        );
    }

    #[test]
    fn remembers_how_much_a_large_bulk_needs() {
        let mut parser = RequestParser::new(1 << 30);
        let head = b"*1\r\n$100000\r\nabc";
        assert!(parser.parse(head).unwrap().is_none());
        assert_eq!(parser.needed, 4 + 9 + 100_000 + 2);
        assert!(parser.parse(&head[..]).unwrap().is_none());
    }

    #[test]
    fn parses_inline_requests() {
        let (args, used) = parse_all(b"SET  k v\r\nPING").unwrap().unwrap();
        assert_eq!(args, vec![b"SET".to_vec(), b"k".to_vec(), b"v".to_vec()]);
        assert_eq!(used, 10);
        assert_eq!(parse_all(b"PING").unwrap(), None);
        let (args, _) = parse_all(b"SET q \"hello world\"\r\n").unwrap().unwrap();
        assert_eq!(args[2], b"hello world".to_vec());
        assert_eq!(
            parse_all(b"SET q \"oops\r\n").unwrap_err().0,
            "unbalanced quotes in request"
        );
    }

    #[test]
    fn skips_negative_multibulk_counts() {
        let (args, used) = parse_all(b"*-5\r\nPING\r\n").unwrap().unwrap();
        assert!(args.is_empty());
        assert_eq!(used, 5);
    }

    #[test]
    fn unauthenticated_clients_get_tight_limits() {
        let mut parser = RequestParser::new(512 * 1024 * 1024);
        parser.set_authenticated(false);
        assert_eq!(
            parser.parse(b"*11\r\n").err().map(|e| e.0),
            Some("unauthenticated multibulk length".to_string())
        );
        assert_eq!(
            parser
                .parse(b"*2\r\n$4\r\nAUTH\r\n$16385\r\n")
                .err()
                .map(|e| e.0),
            Some("unauthenticated bulk length".to_string())
        );
    }

    fn encoded(reply: Reply, protocol: Protocol) -> Vec<u8> {
        let mut out = BytesMut::new();
        reply.encode(protocol, &mut out);
        out.to_vec()
    }

    #[test]
    fn encodes_maps_per_protocol() {
        let map = Reply::Map(vec![(Reply::text("a"), Reply::Int(1))]);
        assert_eq!(
            encoded(map.clone(), Protocol::Resp2),
            b"*2\r\n$1\r\na\r\n:1\r\n"
        );
        assert_eq!(encoded(map, Protocol::Resp3), b"%1\r\n$1\r\na\r\n:1\r\n");
    }

    #[test]
    fn encodes_nils_doubles_and_errors() {
        assert_eq!(encoded(Reply::Nil, Protocol::Resp2), b"$-1\r\n");
        assert_eq!(encoded(Reply::NilArray, Protocol::Resp2), b"*-1\r\n");
        assert_eq!(encoded(Reply::Nil, Protocol::Resp3), b"_\r\n");
        assert_eq!(
            encoded(Reply::Double(1.5), Protocol::Resp2),
            b"$3\r\n1.5\r\n"
        );
        assert_eq!(encoded(Reply::Double(1.5), Protocol::Resp3), b",1.5\r\n");
        assert_eq!(
            encoded(Reply::Double(0.1), Protocol::Resp3),
            b",0.10000000000000001\r\n"
        );
        assert_eq!(
            encoded(Reply::Double(f64::NEG_INFINITY), Protocol::Resp3),
            b",-inf\r\n"
        );
        assert_eq!(
            encoded(Reply::Error("ERR x".into()), Protocol::Resp2),
            b"-ERR x\r\n"
        );
    }
}
