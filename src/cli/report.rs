//! One line per step: a status, the step, what was found or done, and what to do.

use std::io::Write;

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// As it should be; nothing done.
    Ok,
    /// Changed to be as it should be.
    Changed,
    /// Not as it should be, or it could not be done: the command fails.
    Fail,
    /// Worth a look, but not a failure.
    Warn,
    /// Not checked.
    Skip,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Changed => "changed",
            Self::Fail => "FAIL",
            Self::Warn => "warn",
            Self::Skip => "skip",
        }
    }
}

/// Writes the step lines and counts them.
pub struct Report<W: Write> {
    out: W,
    /// Steps that failed.
    pub failed: usize,
    /// Steps that changed something in 3scale.
    pub changed: usize,
    /// Steps reported.
    pub steps: usize,
}

impl<W: Write> Report<W> {
    /// A report written to `out`.
    pub fn new(out: W) -> Self {
        Self {
            out,
            failed: 0,
            changed: 0,
            steps: 0,
        }
    }

    /// One step's line: `ok      Field token_value: …`.
    pub fn step(&mut self, status: Status, step: &str, text: &str) {
        self.steps += 1;
        match status {
            Status::Fail => self.failed += 1,
            Status::Changed => self.changed += 1,
            _ => {}
        }
        self.line(&format!("{:<7} {step}: {text}", status.label()));
    }

    /// A line that is no step: a summary or a hint.
    pub fn line(&mut self, text: &str) {
        // Nothing to do if stderr is gone; the exit status still tells.
        let _ = writeln!(self.out, "{text}");
    }

    /// The lines written so far, for tests.
    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_aligned_and_counted() {
        let mut report = Report::new(Vec::new());
        report.step(Status::Ok, "Field token_value", "hidden");
        report.step(Status::Changed, "Webhook", "set");
        report.step(Status::Fail, "Ping", "no answer");
        let (failed, changed, steps) = (report.failed, report.changed, report.steps);
        let text = String::from_utf8(report.into_inner()).expect("utf-8");
        assert_eq!((failed, changed, steps), (1, 1, 3));
        assert_eq!(
            text,
            "ok      Field token_value: hidden\nchanged Webhook: set\nFAIL    Ping: no answer\n"
        );
    }
}
