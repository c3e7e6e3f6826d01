//! Arbitrary bytes as one connection's input: the RESP frame decoder and inline parser,
//! then every request through the command table against an in-process server, and every
//! reply encoded in RESP2 and RESP3. See `common.rs` for what is checked and what is not run.

#![no_main]

#[allow(dead_code)]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::run_requests(data);
});
