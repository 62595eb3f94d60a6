//! Pushing back under overload. A validator admits a client's transaction only while the
//! transactions already waiting are at most `max_queue_delay` of work at the rate the
//! network has committed lately, and never fewer than two blocks' worth. Past it, the
//! submission is refused at once with `OVERLOADED` (gRPC `RESOURCE_EXHAUSTED`), before
//! its signature is checked, so that offered twice what the network can commit, what is
//! admitted still commits within about that delay and the client knows to retry,
//! instead of every transaction queueing for minutes.
//!
//! Transactions gossiped by other validators are not pushed back here: they were
//! admitted by a validator already (the mempool's own bounds still hold them).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{Node, SubmitError, poisoned};

/// The commits the rate is measured over.
const WINDOW: Duration = Duration::from_secs(5);
/// Most commits remembered (a bound for chains that commit many small blocks a second).
const MAX_RECORDS: usize = 4096;

/// The transactions committed lately, to estimate the rate the network commits at.
#[derive(Debug, Default)]
pub(crate) struct Backlog {
    commits: VecDeque<(Instant, usize)>,
}

impl Backlog {
    /// Notes a block of `txs` transactions committed at `now`.
    pub(crate) fn record(&mut self, now: Instant, txs: usize) {
        self.commits.push_back((now, txs));
        while self.commits.len() > MAX_RECORDS {
            self.commits.pop_front();
        }
        self.forget(now);
    }

    fn forget(&mut self, now: Instant) {
        while self
            .commits
            .front()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) > WINDOW)
        {
            self.commits.pop_front();
        }
    }

    /// Transactions committed per second over the last [`WINDOW`] (or since the first
    /// commit in it, at least one second).
    pub(crate) fn rate(&mut self, now: Instant) -> f64 {
        self.forget(now);
        let Some((first, _)) = self.commits.front() else {
            return 0.0;
        };
        let span = now
            .saturating_duration_since(*first)
            .max(Duration::from_secs(1));
        let txs: usize = self.commits.iter().map(|(_, n)| n).sum();
        txs as f64 / span.as_secs_f64()
    }
}

/// How many more transactions may be admitted while `waiting` wait and the network
/// commits `rate` a second: the pool may hold `max_delay` of work, and at least
/// `floor`. `None`: none (overloaded).
pub(crate) fn room(waiting: usize, rate: f64, max_delay: Duration, floor: usize) -> Option<usize> {
    // A float to an integer saturates; a rate is never negative.
    let bound = ((rate * max_delay.as_secs_f64()) as usize).max(floor);
    bound.checked_sub(waiting).filter(|r| *r > 0)
}

impl Node {
    /// Notes a committed block of `txs` transactions for the admission bound.
    pub(crate) fn note_committed_txs(&self, txs: usize) {
        if let Ok(mut b) = self.backlog.lock() {
            b.record(Instant::now(), txs);
        }
    }

    /// How many of a client's transactions may be admitted now.
    pub(crate) fn admission(&self) -> Result<Admission, SubmitError> {
        let max_delay = self.config.max_queue_delay;
        // What blocks can take now: transactions parked behind a nonce gap are bounded
        // apart (`--mempool-max-parked`) and are no work for the network yet.
        let waiting = self.mempool_ready();
        if max_delay.is_zero() {
            return Ok(Admission {
                room: usize::MAX,
                waiting,
                per_sec: 0,
                max_delay_ms: 0,
            });
        }
        let rate = self
            .backlog
            .lock()
            .map_err(|_| poisoned())?
            .rate(Instant::now());
        let floor = self.config.max_block_txs.saturating_mul(2);
        Ok(Admission {
            room: room(waiting, rate, max_delay, floor).unwrap_or(0),
            waiting,
            per_sec: rate as u64,
            max_delay_ms: u64::try_from(max_delay.as_millis()).unwrap_or(u64::MAX),
        })
    }
}

/// What a validator admits of a client's transactions now: `room` more, with `waiting`
/// already waiting while the network commits `per_sec` a second.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Admission {
    pub(crate) room: usize,
    waiting: usize,
    per_sec: u64,
    max_delay_ms: u64,
}

impl Admission {
    /// The refusal of a transaction past the room.
    pub(crate) fn refusal(&self) -> SubmitError {
        SubmitError::Overloaded {
            waiting: self.waiting.saturating_add(self.room),
            per_sec: self.per_sec,
            max_delay_ms: self.max_delay_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_counts_the_last_five_seconds() {
        let t0 = Instant::now();
        let mut b = Backlog::default();
        assert_eq!(b.rate(t0), 0.0);
        b.record(t0, 1000);
        // Within the first second, the rate is over one second.
        assert_eq!(b.rate(t0 + Duration::from_millis(500)), 1000.0);
        b.record(t0 + Duration::from_secs(2), 3000);
        assert_eq!(b.rate(t0 + Duration::from_secs(4)), 1000.0);
        // Six seconds on, the first block is forgotten.
        assert_eq!(b.rate(t0 + Duration::from_secs(6)), 750.0);
        assert_eq!(b.rate(t0 + Duration::from_secs(60)), 0.0);
        for i in 0..(MAX_RECORDS as u64 + 10) {
            b.record(t0 + Duration::from_secs(61) + Duration::from_micros(i), 1);
        }
        assert_eq!(b.commits.len(), MAX_RECORDS);
    }

    #[test]
    fn room_is_the_delay_s_worth_and_never_below_the_floor() {
        let second = Duration::from_secs(1);
        assert_eq!(room(0, 0.0, second, 4000), Some(4000));
        assert_eq!(room(3999, 0.0, second, 4000), Some(1));
        assert_eq!(room(4000, 0.0, second, 4000), None);
        assert_eq!(room(5000, 10_000.0, second, 4000), Some(5000));
        assert_eq!(room(5000, 10_000.0, Duration::from_millis(500), 4000), None);
        assert_eq!(room(0, f64::MAX, second, 4000), Some(usize::MAX));
    }
}
