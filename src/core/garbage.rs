//! Which old generations of a key may be deleted (docs/design.md, "Collecting
//! old generations"): those below a generation we wrote more than a grace
//! period ago, so every decision shorter than `VERIFY_AFTER` is safe from them.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use super::locker::offset_allowance;

/// A decision whose basis (the read, or our own write, that showed the head)
/// is older than this when its insert is acknowledged is verified by reading
/// the head again before it is trusted.
pub(crate) const VERIFY_AFTER: Duration = Duration::from_secs(3);
/// Room for the reads and the clocks' drift between two offset checks.
const MARGIN: Duration = Duration::from_secs(1);
/// Our own wins are remembered as bounds at most this often...
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// ...and at most this many of them (the oldest are dropped: a later bound
/// collects what they would have).
const MAX_SAMPLES: usize = 256;

/// How old a generation of ours must be before everything below it may go:
/// with every clock within `maxoffset` of the server's, a generation above
/// a decider's head was written after the decider's read, so it outlives
/// that read by more than `VERIFY_AFTER`.
pub(crate) fn grace(maxoffset: f64) -> Duration {
    VERIFY_AFTER
        .saturating_add(offset_allowance(maxoffset))
        .saturating_add(MARGIN)
}

/// Generations this locker wrote, with their `ts_written`, oldest first.
#[derive(Default)]
pub(crate) struct Bounds {
    samples: VecDeque<(i64, SystemTime)>,
    /// Everything below this was collected already.
    collected_below: i64,
}

impl Bounds {
    /// Remembers a generation we won, written at `written`: the newest one
    /// always, older ones about `SAMPLE_EVERY` apart.
    pub fn won(&mut self, gen: i64, written: SystemTime) {
        if self.samples.back().is_some_and(|&(last, _)| gen <= last) {
            return;
        }
        let n = self.samples.len();
        // The newest sample is replaced only when the new one is close to the
        // sample before it: the last win before a pause stays, as the bound
        // that pause makes old.
        let close = n >= 2 && {
            let (_, before) = self.samples[n - 2];
            written
                .duration_since(before)
                .map_or(true, |d| d < SAMPLE_EVERY)
        };
        if close {
            self.samples.pop_back();
        } else if n == MAX_SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back((gen, written));
    }

    /// The newest remembered generation written before `now - grace`, if
    /// any generation below it is left to delete: every generation below it
    /// may go. It and the older ones are forgotten.
    pub fn take(&mut self, now: SystemTime, grace: Duration) -> Option<i64> {
        let old = |at: SystemTime| now.duration_since(at).is_ok_and(|age| age > grace);
        let n = self.samples.iter().take_while(|&&(_, at)| old(at)).count();
        let bound = self.samples.drain(..n).next_back().map(|(gen, _)| gen)?;
        // Generation 1 is kept, so a bound of 2 or less has nothing below it.
        let floor = self.collected_below.max(2);
        (bound > floor).then(|| {
            self.collected_below = bound;
            bound
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_is_the_newest_generation_older_than_the_grace() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let ms = Duration::from_millis;
        let mut b = Bounds::default();
        b.won(1, t0);
        b.won(2, t0 + ms(10));
        b.won(3, t0 + ms(20)); // replaces 2, which was within 100 ms of 1
        b.won(5, t0 + ms(1_000));
        b.won(9, t0 + ms(2_000));
        b.won(8, t0 + ms(2_500)); // not newer: ignored
        let grace = grace(0.5);
        assert_eq!(grace, Duration::from_secs(5));
        assert_eq!(b.take(t0 + ms(5_000), grace), None);
        assert_eq!(
            b.take(t0 + ms(5_015), grace),
            None,
            "a bound of 1 deletes nothing"
        );
        assert_eq!(b.take(t0 + ms(6_500), grace), Some(5));
        assert_eq!(b.take(t0 + ms(6_500), grace), None);
        assert_eq!(b.take(t0 + ms(60_000), grace), Some(9));
    }

    #[test]
    fn the_last_win_before_a_pause_is_kept() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let ms = Duration::from_millis;
        let mut b = Bounds::default();
        for gen in 1..=80 {
            b.won(gen, t0 + ms(gen as u64));
        }
        b.won(81, t0 + ms(6_000));
        b.won(82, t0 + ms(6_004));
        assert_eq!(b.take(t0 + ms(6_010), grace(0.5)), Some(80));
    }

    #[test]
    fn a_huge_offset_saturates() {
        assert_eq!(grace(f64::MAX), Duration::MAX);
    }
}
