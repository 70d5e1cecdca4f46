//! A socket registered with this thread's hub for its whole life, and the
//! loop that every socket operation runs: make the non-blocking system call,
//! and wait in the hub only if it says "would block".
//!
//! [`Registered`] owns the `mio` socket: it registers it when made, and
//! deregisters it before closing it (on drop) or before handing it back
//! ([`into_inner`](Registered::into_inner), for `into_std`). Every socket
//! type of `hub::net` is a thin wrapper around one.

use crate::hub::reactor::Dir;
use crate::hub::scheduler::{Hub, hub};
use crate::hub::slab::Key;
use crate::hub::wait::wait_registered;
use crate::os::net::{self, AsRawSock, AsSock, OwnedSock};
use mio::event::Source;
use std::io;
use std::mem::ManuallyDrop;
use std::ptr;
use std::rc::Rc;
use std::time::Instant;

/// `sock`, registered with the hub of the thread that made it (edge
/// triggered, both directions) until it is dropped or taken back.
pub(super) struct Registered<S: Source + AsRawSock> {
    hub: Rc<Hub>,
    key: Key,
    /// Dropped by hand, after the deregistration (see `Drop`), or moved
    /// out by `into_inner`.
    sock: ManuallyDrop<S>,
}

impl<S: Source + AsRawSock> Registered<S> {
    /// Register `sock` (non-blocking already) with this thread's hub. It
    /// starts out presumed ready both ways: the first system call finds out.
    ///
    /// # Errors
    /// The poller's, e.g. when out of memory; `sock` is then closed.
    pub(super) fn new(mut sock: S) -> io::Result<Self> {
        let hub = hub();
        let fd = net::raw(&sock);
        let key = hub.io.register(&mut sock, fd)?;
        Ok(Registered {
            hub,
            key,
            sock: ManuallyDrop::new(sock),
        })
    }

    /// The socket, for the system calls.
    pub(super) fn sock(&self) -> &S {
        &self.sock
    }

    /// Run `op` (a non-blocking system call) until it does not say "would
    /// block", waiting in the hub for readiness in `dir` in between.
    ///
    /// # Errors
    /// `op`'s other errors; `TimedOut` past `deadline`; the hub's if it
    /// shuts down.
    pub(super) fn run<T>(
        &self,
        dir: Dir,
        deadline: Option<Instant>,
        mut op: impl FnMut() -> io::Result<T>,
    ) -> io::Result<T> {
        let mut clear = false;
        loop {
            // A cleared bit means the last call would have blocked and no
            // event came since: wait before trying again.
            self.wait(dir, clear, deadline)?;
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => clear = true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => clear = false,
                r => return r,
            }
        }
    }

    /// Wait until the socket is ready in `dir`; with `clear`, forget an
    /// earlier readiness first (the last call said "would block").
    ///
    /// # Errors
    /// As [`run`](Registered::run).
    pub(super) fn wait(&self, dir: Dir, clear: bool, deadline: Option<Instant>) -> io::Result<()> {
        wait_registered(&self.hub, self.key, dir, clear, deadline)
    }

    /// A read or write of `len` bytes on a byte stream:
    /// [`run`](Registered::run) in `dir`. A read that returns less than
    /// asked emptied the receive buffer, and a short write filled the send
    /// buffer; epoll and kqueue report every change after that, so the next
    /// call in `dir` waits for that event instead of first making the call
    /// that would only say "would block". (Not on Windows, where mio
    /// re-arms a direction only on "would block": see
    /// `os::net::SHORT_IO_WAITS_FOR_EVENT`.)
    ///
    /// # Errors
    /// As `run`.
    pub(super) fn run_stream(
        &self,
        dir: Dir,
        len: usize,
        op: impl FnMut() -> io::Result<usize>,
    ) -> io::Result<usize> {
        let n = self.run(dir, None, op)?;
        if net::SHORT_IO_WAITS_FOR_EVENT && n > 0 && n < len {
            self.hub.io.clear_ready(self.key, dir);
        }
        Ok(n)
    }

    /// A second descriptor for the same socket (`dup(2)`, close-on-exec),
    /// registered on its own: either handle may wait while the other does.
    /// The duplicate shares the open file description, so it is
    /// non-blocking too.
    ///
    /// # Errors
    /// `dup`'s (`EMFILE`, ...) or the registration's.
    pub(super) fn try_clone(&self) -> io::Result<Self>
    where
        S: AsSock + From<OwnedSock>,
    {
        let fd = net::borrow(&*self.sock).try_clone_to_owned()?;
        Registered::new(S::from(fd))
    }

    /// Ask the poller for the socket's present readiness again: after an
    /// event that the next call found stale (a connect reported writable
    /// but not yet connected), where no call said "would block" to re-arm
    /// the registration (Windows), a wait would otherwise never wake.
    ///
    /// # Errors
    /// The poller's.
    pub(super) fn rearm(&mut self) -> io::Result<()> {
        self.hub.io.rearm(self.key, &mut *self.sock)
    }

    /// Deregister the socket and hand it back (still non-blocking).
    pub(super) fn into_inner(self) -> S {
        let mut this = ManuallyDrop::new(self);
        let this: &mut Self = &mut this;
        this.hub.io.deregister(this.key, &mut *this.sock);
        // SAFETY: `this` is never dropped or used again, so each of the two
        // fields that own something is moved out exactly once here: the
        // socket (returned) and the hub's handle (dropped).
        unsafe {
            drop(ptr::read(&this.hub));
            ManuallyDrop::take(&mut this.sock)
        }
    }
}

impl<S: Source + AsRawSock> Drop for Registered<S> {
    fn drop(&mut self) {
        // Deregister first: the descriptor's number must still be ours
        // when the reactor looks it up.
        self.hub.io.deregister(self.key, &mut *self.sock);
        // SAFETY: the socket is dropped here once; `self` is being dropped
        // and never touches it again.
        unsafe { ManuallyDrop::drop(&mut self.sock) }
    }
}
