//! `AccessToken::parse` and the revoke URL: see `fuzz_harness::token_url`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::token_url(data));
