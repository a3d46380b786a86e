//! TAP-like output: `ok N - what` / `not ok N - what: detail`, then the plan `1..N`.

use std::fmt::Debug;
use std::io::Write;

pub struct Report {
    count: usize,
    failed: usize,
}

impl Report {
    pub fn new() -> Self {
        println!("TAP version 13");
        Report { count: 0, failed: 0 }
    }

    pub fn pass(&mut self, what: &str) {
        self.count += 1;
        self.emit(&format!("ok {} - {}", self.count, what));
    }

    pub fn fail(&mut self, what: &str, detail: &str) {
        self.count += 1;
        self.failed += 1;
        self.emit(&format!("not ok {} - {}: {}", self.count, what, detail));
    }

    pub fn check(&mut self, what: &str, result: Result<(), String>) {
        match result {
            Ok(()) => self.pass(what),
            Err(detail) => self.fail(what, &detail),
        }
    }

    pub fn expect_eq<T: PartialEq + Debug>(&mut self, what: &str, expected: T, got: T) {
        if expected == got {
            self.pass(what);
        } else {
            self.fail(what, &format!("expected {expected:?}, got {got:?}"));
        }
    }

    /// Like `expect_eq` where reading the observed value can fail.
    pub fn expect_eq_read<T: PartialEq + Debug>(&mut self, what: &str, expected: T, got: Result<T, String>) {
        match got {
            Ok(got) => self.expect_eq(what, expected, got),
            Err(err) => self.fail(what, &format!("expected {expected:?}, got error: {err}")),
        }
    }

    pub fn note(&mut self, text: &str) {
        self.emit(&format!("# {text}"));
    }

    /// Prints the plan and returns the exit status.
    pub fn finish(self) -> i32 {
        self.emit(&format!("1..{}", self.count));
        if self.failed > 0 {
            self.emit(&format!("# {} of {} checks failed", self.failed, self.count));
            1
        } else {
            0
        }
    }

    // Flushed per line so a crash mid-run still shows every check so far.
    fn emit(&self, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}
