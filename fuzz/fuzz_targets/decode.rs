//! `webhook::decode` on any bytes: see `access_token_revoker_fuzz::decode`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| access_token_revoker_fuzz::decode(data));
