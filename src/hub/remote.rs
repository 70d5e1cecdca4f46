//! The hub's inbox for wakes from other threads: a worker of
//! [`spawn_blocking`](super::spawn_blocking) that finished, a
//! [`Sender`](super::Sender) whose receiver waits. Like the reactor, it
//! knows no greenlets: what arrives is a park's [`Key`] (as a word), and
//! the scheduler wakes that park. A stale key (the wait ended meanwhile, by
//! a kill or a timeout) wakes nothing.
//!
//! Another thread [`wake`](Remote::wake)s: it pushes the key under a mutex
//! and, if the hub sleeps in its poller and no wake is already on its way,
//! wakes the poller through a `mio::Waker` (an `eventfd` on Linux). A hub
//! that is running, or watching the inbox before it sleeps, costs the
//! waker no system call. The hub looks at
//! [`has_wakes`](Remote::has_wakes) (one atomic load) on every turn of its
//! loop and takes the keys; when it has nothing else to do it blocks in the
//! poller, which the waker interrupts. So a busy hub takes cross-thread
//! wakes without a system call, and an idle one sleeps until one comes.
//!
//! When the hub's thread exits, the inbox is [`close`](Remote::close)d:
//! later wakes are dropped, and senders learn that nobody will receive.

use super::slab::Key;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

pub(crate) struct Remote {
    inbox: Mutex<Inbox>,
    /// Keys are waiting in the inbox and the poller has been (or is being)
    /// woken for them: later wakes skip the system call. Cleared by the hub
    /// before it takes the keys, so a key pushed after the take wakes it
    /// again.
    notified: AtomicBool,
    /// The hub is (about to be) asleep in its poller: only then does a wake
    /// need the waker's system call.
    sleeping: AtomicBool,
    waker: mio::Waker,
}

struct Inbox {
    keys: Vec<u64>,
    /// The hub's thread has exited (or is tearing its hub down).
    closed: bool,
}

impl Remote {
    pub(crate) fn new(waker: mio::Waker) -> Remote {
        Remote {
            inbox: Mutex::new(Inbox {
                keys: Vec::new(),
                closed: false,
            }),
            notified: AtomicBool::new(false),
            sleeping: AtomicBool::new(false),
            waker,
        }
    }

    /// From any thread: wake the park `key` of this hub. False if the hub
    /// is gone (its thread exited): nothing will ever look at the key.
    pub(crate) fn wake(&self, key: Key) -> bool {
        {
            let mut inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
            if inbox.closed {
                return false;
            }
            inbox.keys.push(key.to_word());
        }
        // SeqCst here and in `sleep`: either this sees the hub asleep and
        // wakes it, or the hub sees `notified` and does not sleep.
        if !self.notified.swap(true, Ordering::SeqCst) && self.sleeping.load(Ordering::SeqCst) {
            // A failed write to the eventfd leaves the key in the inbox;
            // the hub still finds it at its next turn (it is busy, or it
            // will be woken by its next timer or event). Nothing to report
            // to the waker's caller, which must not fail.
            let _ = self.waker.wake();
        }
        true
    }

    /// The hub is about to sleep in its poller: from now on a wake writes
    /// to the waker. False if a wake came meanwhile (then it must not
    /// sleep; it is not marked asleep).
    pub(crate) fn sleep(&self) -> bool {
        self.sleeping.store(true, Ordering::SeqCst);
        if self.notified.load(Ordering::SeqCst) {
            self.sleeping.store(false, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// The hub is back from its poller.
    pub(crate) fn awake(&self) {
        self.sleeping.store(false, Ordering::Relaxed);
    }

    /// Whether keys may be waiting (one atomic load, for every turn of the
    /// hub's loop).
    #[inline]
    pub(crate) fn has_wakes(&self) -> bool {
        self.notified.load(Ordering::Acquire)
    }

    /// Take the keys that arrived, into `out` (cleared first).
    ///
    /// `notified` is cleared under the inbox's lock, together with the
    /// take: a waker that pushes after this unlock sees it cleared (its own
    /// lock orders it after the clear), so it sets it again and checks
    /// whether the hub sleeps. Cleared before the lock, the clear could
    /// become visible only after such a waker's `swap` had seen the old
    /// `true`: that waker would neither set it nor wake the hub, and its key
    /// would sit in the inbox while the hub sleeps (a hang seen once on
    /// aarch64 under qemu, in the 4-thread channel test).
    pub(crate) fn take(&self, out: &mut Vec<u64>) {
        out.clear();
        let mut inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
        self.notified.store(false, Ordering::SeqCst);
        std::mem::swap(&mut inbox.keys, out);
    }

    /// The hub is going away: drop what is in the inbox, refuse later
    /// wakes.
    pub(crate) fn close(&self) {
        let mut inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
        inbox.closed = true;
        inbox.keys = Vec::new();
    }
}
