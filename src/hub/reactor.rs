//! IO readiness for the hub, over `mio` (epoll on Linux, kqueue on macOS,
//! AFD polls on a completion port on Windows). The reactor
//! knows no greenlets: a waiter is a [`Key`] it was handed, and `poll`
//! hands the keys whose readiness came back to a function of the caller's
//! (the scheduler wakes those parks). The waiting calls built on it are in
//! `wait.rs`.
//!
//! A file descriptor is registered once, edge-triggered, for both
//! directions; the registration remembers what the last events said
//! (`readable`, `writable`) and which parks wait for each direction.
//!
//! * Sockets of [`hub::net`](super::net) are registered for their whole
//!   life. An operation first tries the system call; only when it would
//!   block does it clear the readiness bit and wait for the next edge.
//! * [`wait_readable`](super::wait_readable) / `wait_writable` on any other
//!   descriptor register it for the duration of the wait (shared by
//!   concurrent waiters) and deregister it when the last wait ends.
//!
//! # Descriptor numbers that are closed and reused
//!
//! `by_fd` maps a number to its registration, but a number outlives
//! nothing: C code may close a descriptor while a greenlet waits on it
//! (breaking the `BorrowedFd` it lent), and the next `socket(2)` may get
//! the same number. epoll itself keys an entry by the number *and* the
//! open file, and drops the entry when the file closes. So:
//!
//! * A registration removes the `by_fd` entry and issues `EPOLL_CTL_DEL`
//!   only while the number still maps to that registration. A stale one
//!   (its number taken over by a newer registration) only leaves the slab:
//!   the kernel dropped its epoll entry with its file, and a `DEL` by number
//!   would remove the newcomer's.
//! * A new registration of a number takes it over: it replaces the
//!   `by_fd` entry (the stale registration stays in the slab, unreachable
//!   by number, until its last wait ends, by timeout or otherwise: no event
//!   can reach it). A wait that finds the number mapped but the kernel
//!   answering `ENOENT` to `EPOLL_CTL_MOD` has met a stale entry, and
//!   registers the new file afresh.
//! * If the old file lives on through another descriptor, the kernel keeps
//!   its epoll entry (with the stale token) until that file closes; its
//!   events may wake whatever registration reuses the token's slot. That is
//!   a spurious wake-up, which every waiter here tolerates (readiness is a
//!   hint; socket operations retry on "would block").
//!
//! On Windows a temporary registration is made through its lent socket
//! ([`Lent`]), and a socket that a `hub::net` object registered for its
//! life cannot be reached by number: a wait on it registers the socket a
//! second time (mio polls each registration on its own), taking the number
//! over as above. Handle values are reused on Windows too; the stale cases
//! above are not staged there (no `dup2`), so that path is untested.

use super::slab::{Key, Slab};
use crate::os::net::{Lent, RawSock};
use mio::{Events, Interest, Poll, Token, event::Source};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::time::Duration;

/// A direction of readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    Read,
    Write,
}

impl Dir {
    pub(crate) fn word(self) -> &'static str {
        match self {
            Dir::Read => "readable",
            Dir::Write => "writable",
        }
    }
}

struct Reg {
    fd: RawSock,
    /// The socket lent to a temporary registration, which the poller knows
    /// it by (`None`: registered by a `hub::net` object for its life).
    lent: Option<Lent>,
    /// Waits in progress on a temporary registration.
    users: usize,
    readable: bool,
    writable: bool,
    /// The peer shut its side (or an error came): final, so reads never
    /// wait again (they return 0 or the error).
    read_closed: bool,
    /// Hang-up or error: final, writes never wait again.
    write_closed: bool,
    readers: Vec<Key>,
    writers: Vec<Key>,
}

impl Reg {
    /// The readiness bit of `dir`, and whether it is final (closed).
    fn ready_mut(&mut self, dir: Dir) -> (&mut bool, bool) {
        match dir {
            Dir::Read => (&mut self.readable, self.read_closed),
            Dir::Write => (&mut self.writable, self.write_closed),
        }
    }

    /// The parks waiting for `dir`.
    fn waiters_mut(&mut self, dir: Dir) -> &mut Vec<Key> {
        match dir {
            Dir::Read => &mut self.readers,
            Dir::Write => &mut self.writers,
        }
    }
}

/// The token of the hub's cross-thread waker: no registration's index
/// (slab indices are `u32`).
const WAKER: Token = Token(usize::MAX);

pub(crate) struct Reactor {
    poll: RefCell<Poll>,
    events: RefCell<Events>,
    regs: RefCell<Slab<Reg>>,
    by_fd: RefCell<HashMap<RawSock, Key>>,
    /// Parks waiting for IO (for the deadlock check).
    waiters: Cell<usize>,
}

impl Reactor {
    pub(crate) fn new() -> io::Result<Reactor> {
        Ok(Reactor {
            poll: RefCell::new(Poll::new()?),
            events: RefCell::new(Events::with_capacity(1024)),
            regs: RefCell::new(Slab::new()),
            by_fd: RefCell::new(HashMap::new()),
            waiters: Cell::new(0),
        })
    }

    pub(crate) fn waiters(&self) -> usize {
        self.waiters.get()
    }

    pub(crate) fn registrations(&self) -> usize {
        self.regs.borrow().len()
    }

    /// Wait up to `timeout` (`None`: forever) for events, and hand every
    /// waiter they wake to `wake`.
    pub(crate) fn poll(
        &self,
        timeout: Option<Duration>,
        mut wake: impl FnMut(Key),
    ) -> io::Result<()> {
        let mut events = self.events.borrow_mut();
        self.poll.borrow_mut().poll(&mut events, timeout)?;
        let mut regs = self.regs.borrow_mut();
        for ev in events.iter() {
            if ev.token() == WAKER {
                // Another thread woke the poller: the scheduler looks at
                // its inbox on every turn.
                continue;
            }
            let Some(reg) = regs.get_by_index_mut(ev.token().0) else {
                continue;
            };
            // An error or hang-up wakes both directions: the next system
            // call reports it.
            let broken = ev.is_error();
            if broken || ev.is_read_closed() {
                reg.read_closed = true;
            }
            if broken || ev.is_write_closed() {
                reg.write_closed = true;
            }
            if broken || ev.is_readable() || ev.is_read_closed() {
                reg.readable = true;
                for k in reg.readers.drain(..) {
                    wake(k);
                }
            }
            if broken || ev.is_writable() || ev.is_write_closed() {
                reg.writable = true;
                for k in reg.writers.drain(..) {
                    wake(k);
                }
            }
        }
        Ok(())
    }

    /// A waker that makes a [`poll`](Reactor::poll) in progress (or the
    /// next one) return, from any thread. One per reactor (mio's rule).
    pub(crate) fn waker(&self) -> io::Result<mio::Waker> {
        mio::Waker::new(self.poll.borrow().registry(), WAKER)
    }

    /// Register `source` (whose descriptor is `fd`) for its life; it starts
    /// out presumed ready both ways (the first system call finds out).
    pub(crate) fn register(&self, source: &mut impl Source, fd: RawSock) -> io::Result<Key> {
        self.add(Some(source), fd, None)
    }

    /// A new registration of `fd` for both directions, edge-triggered:
    /// for a `hub::net` object's life (`source`, presumed ready), or, with
    /// `source` `None`, of the socket `lent` for one wait (one user, ready
    /// once an event says so).
    fn add(
        &self,
        source: Option<&mut dyn Source>,
        fd: RawSock,
        lent: Option<Lent>,
    ) -> io::Result<Key> {
        let persistent = source.is_some();
        let key = self.regs.borrow_mut().insert(Reg {
            fd,
            lent,
            users: usize::from(!persistent),
            readable: persistent,
            writable: persistent,
            read_closed: false,
            write_closed: false,
            readers: Vec::new(),
            writers: Vec::new(),
        });
        let token = Token(key.index());
        let both = Interest::READABLE | Interest::WRITABLE;
        let mut regs = self.regs.borrow_mut();
        let source = match source {
            Some(s) => s,
            None => regs
                .get_mut(key)
                .and_then(|r| r.lent.as_mut())
                .expect("a lent socket") as &mut dyn Source,
        };
        let poll = self.poll.borrow();
        let r = match poll.registry().register(source, token, both) {
            // The number's file is registered already, under the token of
            // a registration it took over (see the module docs): retarget
            // that entry.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                poll.registry().reregister(source, token, both)
            }
            r => r,
        };
        drop(poll);
        if let Err(e) = r {
            regs.remove(key);
            return Err(e);
        }
        drop(regs);
        self.by_fd.borrow_mut().insert(fd, key);
        Ok(key)
    }

    /// Forget that `key` is ready in `dir`: the next operation waits for
    /// an event first. For a socket that an operation just drained (a read
    /// that returned less than asked): with epoll, every new arrival after
    /// that raises an event, so the "would block" call can be skipped.
    pub(crate) fn clear_ready(&self, key: Key, dir: Dir) {
        if let Some(r) = self.regs.borrow_mut().get_mut(key) {
            // An end of stream (or error) that came with the data raises no
            // further event: after it, the next call must not wait.
            let (bit, closed) = r.ready_mut(dir);
            *bit = closed;
        }
    }

    /// Ask the poller for the present readiness of `key` (registered
    /// through `source`) again: it queues an event if it is ready now.
    ///
    /// # Errors
    /// The poller's.
    pub(crate) fn rearm(&self, key: Key, source: &mut impl Source) -> io::Result<()> {
        let both = Interest::READABLE | Interest::WRITABLE;
        self.poll
            .borrow()
            .registry()
            .reregister(source, Token(key.index()), both)
    }

    /// Undo [`register`](Reactor::register), before `source` is closed.
    pub(crate) fn deregister(&self, key: Key, source: &mut impl Source) {
        self.remove(key, Some(source));
    }

    /// Remove the registration `key`; the poller is told through `source`,
    /// or, for a temporary registration, through its lent socket.
    ///
    /// If a newer registration has taken the number over (the descriptor
    /// was closed and the number reused), only this registration's slab
    /// entry goes: the epoll entry and the `by_fd` entry are the newer
    /// one's (see the module docs).
    fn remove(&self, key: Key, source: Option<&mut dyn Source>) {
        let reg = self.regs.borrow_mut().remove(key);
        let Some(mut reg) = reg else { return };
        debug_assert!(reg.readers.is_empty() && reg.writers.is_empty());
        {
            let mut by_fd = self.by_fd.borrow_mut();
            if by_fd.get(&reg.fd) != Some(&key) {
                return;
            }
            by_fd.remove(&reg.fd);
        }
        let source = match (source, reg.lent.as_mut()) {
            (Some(s), _) => s,
            (None, Some(lent)) => lent as &mut dyn Source,
            (None, None) => return,
        };
        // Closing the descriptor removes it from epoll anyway; a failure
        // here cannot leave anything behind.
        let _ = self.poll.borrow().registry().deregister(source);
    }

    /// Register `fd` for one wait (or join the registration already there).
    ///
    /// Either way the kernel checks the descriptor's readiness afresh (an
    /// `EPOLL_CTL_ADD` or `EPOLL_CTL_MOD` queues an event if it is ready
    /// now), so a wait that clears its bit and then waits for an event
    /// sees the present state: level-triggered semantics for each call,
    /// over an edge-triggered registration.
    ///
    /// A registration of the number whose file is gone (the kernel answers
    /// `ENOENT`: the number was closed and reused under it) is stale: the
    /// new file gets a registration of its own, which takes the number over.
    /// So does a socket registered for its life by a `hub::net` object
    /// where the poller cannot reach it by number (Windows: a lent socket
    /// that was never registered answers `NotFound`, see `os::net`).
    pub(crate) fn attach(&self, fd: RawSock) -> io::Result<Key> {
        let existing = self.by_fd.borrow().get(&fd).copied();
        if let Some(key) = existing {
            let r = {
                let mut regs = self.regs.borrow_mut();
                let reg = regs.get_mut(key).expect("by_fd names live registrations");
                match reg.lent.as_mut() {
                    Some(lent) => self.rearm(key, lent),
                    None => self.rearm(key, &mut Lent::new(fd)),
                }
            };
            match r {
                Ok(()) => {
                    if let Some(reg) = self.regs.borrow_mut().get_mut(key) {
                        reg.users += 1;
                    }
                    return Ok(key);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        self.add(None, fd, Some(Lent::new(fd)))
    }

    /// Undo one [`attach`](Reactor::attach): the last user of a temporary
    /// registration removes it.
    pub(crate) fn detach(&self, key: Key) {
        let unused = {
            let mut regs = self.regs.borrow_mut();
            match regs.get_mut(key) {
                Some(reg) => {
                    reg.users -= 1;
                    reg.lent.is_some() && reg.users == 0
                }
                None => false,
            }
        };
        if unused {
            self.remove(key, None);
        }
    }

    /// Whether `reg` is ready in `dir`; with `clear`, forget an earlier
    /// readiness first (the caller's system call just said "would block"),
    /// so only a final end (closed) counts.
    pub(crate) fn is_ready(&self, reg: Key, dir: Dir, clear: bool) -> bool {
        let mut regs = self.regs.borrow_mut();
        let r = regs.get_mut(reg).expect("a live registration");
        let (bit, closed) = r.ready_mut(dir);
        if clear {
            *bit = closed;
        }
        *bit
    }

    /// Hand `waiter` to the next event of `reg` in `dir`.
    pub(crate) fn add_waiter(&self, reg: Key, dir: Dir, waiter: Key) {
        let mut regs = self.regs.borrow_mut();
        let r = regs.get_mut(reg).expect("a live registration");
        r.waiters_mut(dir).push(waiter);
        self.waiters.set(self.waiters.get() + 1);
    }

    /// Undo [`add_waiter`](Reactor::add_waiter) (if an event has not
    /// already taken the waiter).
    pub(crate) fn remove_waiter(&self, reg: Key, dir: Dir, waiter: Key) {
        if let Some(r) = self.regs.borrow_mut().get_mut(reg) {
            r.waiters_mut(dir).retain(|&k| k != waiter);
        }
        self.waiters.set(self.waiters.get() - 1);
    }
}
