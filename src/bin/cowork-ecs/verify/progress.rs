//! Progress on a terminal while verify reads (stderr, not in a pipe or a file).

use std::time::{Duration, Instant};

/// Whether stderr is a terminal (progress is shown there, not in a pipe
/// or a file).
pub(super) fn is_terminal() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal()
}

/// Progress on a terminal: at most twice a second, one line rewritten.
pub(super) struct Progress {
    on: bool,
    last: Instant,
    pub(super) seals: u64,
    pub(super) records: u64,
    pub(super) documents: u64,
}

impl Progress {
    /// Progress shown when `on`.
    pub(super) fn new(on: bool) -> Self {
        Progress {
            on,
            last: Instant::now(),
            seals: 0,
            records: 0,
            documents: 0,
        }
    }

    /// Shows the counts if half a second passed since the last time.
    pub(super) fn tick(&mut self) {
        if self.on && self.last.elapsed() >= Duration::from_millis(500) {
            self.show();
        }
    }

    fn show(&mut self) {
        eprint!(
            "\rverify: {} seals, {} records checked, {} documents read",
            self.seals, self.records, self.documents
        );
        self.last = Instant::now();
    }

    /// The last counts and a newline (on a terminal).
    pub(super) fn finish(&mut self) {
        if self.on {
            self.show();
            eprintln!();
        }
    }
}
