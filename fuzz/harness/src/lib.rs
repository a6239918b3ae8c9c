//! The fuzz harness: one function per boundary where outside bytes come in, each fed raw
//! bytes and each panicking when a property fails. `fuzz/fuzz_targets/*.rs` hand them to
//! libFuzzer; the main crate's `tests/fuzz_regressions.rs` replays the seeds and every past
//! finding through the very same functions, as plain tests. No libFuzzer in here.
//!
//! - [`decode()`]: `webhook::decode`, and the same XML form-encoded and base64-encoded.
//! - [`token_url()`]: `AccessToken::parse` and `tokens_url`.
//! - [`answers()`]: every parser of porta's answers.
//! - [`lambda_event()`]: a whole invocation through `invocation::handle`, with [`stub`].

pub mod answers;
pub mod decode;
mod edits;
pub mod lambda_event;
pub mod stub;
pub mod token_url;

pub use answers::answers;
pub use decode::decode;
pub use lambda_event::{FIXTURES, lambda_event, structured_event};
pub use token_url::token_url;
