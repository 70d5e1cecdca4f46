//! The hub's timers: a binary heap ordered by (deadline, sequence number),
//! with lazy cancellation. An entry names its target by a key or an id, not
//! a greenlet; the scheduler says which entries are still live.

use super::slab::Key;
use std::cell::{Cell, RefCell};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::Instant;

/// What a timer fires.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TimerTarget {
    /// The park's own timer (a wait with a deadline).
    Park(Key),
    /// The `with_timeout` with this id.
    Timeout(u64),
}

pub(crate) struct TimerEntry {
    pub(crate) deadline: Instant,
    pub(crate) seq: u64,
    pub(crate) target: TimerTarget,
}

// `BinaryHeap` is a max-heap: order by (deadline, seq) reversed, so the
// earliest deadline (and, among equal ones, the first armed) is on top.
impl Ord for TimerEntry {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.deadline, other.seq).cmp(&(self.deadline, self.seq))
    }
}
impl PartialOrd for TimerEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for TimerEntry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for TimerEntry {}

pub(crate) struct Timers {
    heap: RefCell<BinaryHeap<TimerEntry>>,
    /// Armed timers; the heap may also hold cancelled entries, skipped when
    /// they reach the top.
    live: Cell<usize>,
    next_seq: Cell<u64>,
}

impl Timers {
    pub(crate) const fn new() -> Timers {
        Timers {
            heap: RefCell::new(BinaryHeap::new()),
            live: Cell::new(0),
            next_seq: Cell::new(1),
        }
    }

    /// A fresh sequence number (timers and `with_timeout` ids share them,
    /// so both increase in the order they were made).
    pub(crate) fn next_seq(&self) -> u64 {
        let s = self.next_seq.get();
        self.next_seq.set(s + 1);
        s
    }

    /// How many timers are armed.
    #[inline]
    pub(crate) fn live(&self) -> usize {
        self.live.get()
    }

    /// Arm a timer. `is_live` tells cancelled entries from armed ones: when
    /// cancelled entries dominate the heap they are dropped all at once, so
    /// the heap stays within a constant factor of the armed timers.
    pub(crate) fn push(&self, entry: TimerEntry, is_live: impl FnMut(&TimerEntry) -> bool) {
        self.live.set(self.live.get() + 1);
        let mut heap = self.heap.borrow_mut();
        heap.push(entry);
        if heap.len() > 64 && heap.len() > 4 * self.live.get() {
            heap.retain(is_live);
        }
    }

    /// An armed timer was cancelled (its entry stays until it surfaces) or
    /// fired.
    pub(crate) fn disarmed(&self) {
        self.live.set(self.live.get() - 1);
    }

    /// The entry on top, if its deadline is at or before `now` (live or
    /// not: the caller checks).
    pub(crate) fn pop_due(&self, now: Instant) -> Option<TimerEntry> {
        let mut heap = self.heap.borrow_mut();
        match heap.peek() {
            Some(t) if t.deadline <= now => heap.pop(),
            _ => None,
        }
    }

    /// The earliest live deadline, dropping cancelled entries on top.
    pub(crate) fn next_deadline(
        &self,
        mut is_live: impl FnMut(&TimerEntry) -> bool,
    ) -> Option<Instant> {
        let mut heap = self.heap.borrow_mut();
        while let Some(t) = heap.peek() {
            if is_live(t) {
                return Some(t.deadline);
            }
            heap.pop();
        }
        None
    }
}
