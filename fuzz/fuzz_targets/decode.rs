//! `webhook::decode` on any bytes: see `fuzz_harness::decode`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::decode(data));
