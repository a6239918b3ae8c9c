//! A whole invocation, raw event to response: see `fuzz_harness::lambda_event`.
#![no_main]

libfuzzer_sys::fuzz_target!(
    init: {
        // The audit and warning lines are on the request path too: format them, then drop them.
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(std::io::sink)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
    },
    |data: &[u8]| fuzz_harness::lambda_event(data)
);
