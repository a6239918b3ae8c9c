//! porta's answers and the sweep's times: see `fuzz_harness::answers`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::answers(data));
