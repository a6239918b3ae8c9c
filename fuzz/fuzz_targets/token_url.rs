//! `AccessToken::parse` and the revoke URL: see `access_token_revoker_fuzz::token_url`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| access_token_revoker_fuzz::token_url(data));
