//! porta's answers and the sweep's times: see `access_token_revoker_fuzz::answers`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| access_token_revoker_fuzz::answers(data));
