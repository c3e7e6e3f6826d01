//! Arbitrary bytes as AOF records and AOF files: the record codec, the file reader and the
//! loader. See `common.rs`.

#![no_main]

#[allow(dead_code)]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::run_aof_record(data);
});
