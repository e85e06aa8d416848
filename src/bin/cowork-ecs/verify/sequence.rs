//! A session's sequence numbers, kept as runs: the gaps and the duplicates.

use std::collections::BTreeMap;

/// Sequence numbers seen in a session, as runs (start -> end, inclusive),
/// and those seen more than once (how many times).
#[derive(Default, Debug)]
pub(super) struct Sequence {
    runs: BTreeMap<i64, i64>,
    pub(super) twice: BTreeMap<i64, usize>,
}

impl Sequence {
    /// One more number.
    pub(super) fn insert(&mut self, n: i64) {
        let before = self.runs.range(..=n).next_back().map(|(s, e)| (*s, *e));
        if before.is_some_and(|(_, end)| n <= end) {
            *self.twice.entry(n).or_insert(1) += 1;
            return;
        }
        let after = n
            .checked_add(1)
            .and_then(|next| self.runs.remove(&next))
            .unwrap_or(n);
        match before {
            Some((start, end)) if end.checked_add(1) == Some(n) => {
                self.runs.insert(start, after);
            }
            _ => {
                self.runs.insert(n, after);
            }
        }
    }

    /// The lowest and the highest number.
    pub(super) fn bounds(&self) -> Option<(i64, i64)> {
        let lo = *self.runs.keys().next()?;
        let hi = *self.runs.values().next_back()?;
        Some((lo, hi))
    }

    /// The numbers between the lowest and the highest not seen, as
    /// [`runs_text`] writes them (`None`: none).
    pub(super) fn missing(&self) -> Option<String> {
        let gaps: Vec<(i64, i64)> = self
            .runs
            .iter()
            .zip(self.runs.keys().skip(1))
            .map(|((_, end), next)| (end + 1, next - 1))
            .collect();
        (!gaps.is_empty()).then(|| runs_text(&gaps))
    }
}

/// `1, 3..5, 9` for the runs `[(1, 1), (3, 5), (9, 9)]`.
fn runs_text(runs: &[(i64, i64)]) -> String {
    let texts: Vec<String> = runs
        .iter()
        .map(|(lo, hi)| {
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}..{hi}")
            }
        })
        .collect();
    texts.join(", ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ranges_are_compact() {
        assert_eq!(runs_text(&[(1, 1), (3, 5), (9, 9)]), "1, 3..5, 9");
        assert_eq!(runs_text(&[(7, 7)]), "7");
    }

    #[test]
    fn a_sequence_is_kept_as_runs_with_its_gaps_and_duplicates() {
        let mut seq = Sequence::default();
        for n in [5, 1, 3, 2, 9, 3, 7, 8, 3, 12, 11, i64::MAX] {
            seq.insert(n);
        }
        assert_eq!(
            seq.runs,
            [(1, 3), (5, 5), (7, 9), (11, 12), (i64::MAX, i64::MAX)].into()
        );
        assert_eq!(seq.twice, [(3, 3)].into());
        assert_eq!(seq.bounds(), Some((1, i64::MAX)));
        assert_eq!(
            seq.missing().unwrap(),
            format!("4, 6, 10, 13..{}", i64::MAX - 1)
        );
        // Runs join when the number between them comes.
        seq.insert(4);
        seq.insert(6);
        seq.insert(10);
        assert_eq!(seq.runs.len(), 2);
        assert_eq!(seq.runs[&1], 12);
        let mut one = Sequence::default();
        one.insert(0);
        assert_eq!((one.bounds(), one.missing()), (Some((0, 0)), None));
        assert_eq!(Sequence::default().bounds(), None);
    }
}
