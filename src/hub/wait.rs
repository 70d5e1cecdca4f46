//! Waiting for IO readiness: the waiting calls built on the [`Reactor`](super::reactor::Reactor)
//! (below: readiness, knowing no greenlets) and the scheduler's [`Park`]
//! (above: the one waiting primitive). [`wait_readable`](super::wait_readable)
//! and `wait_writable` on any descriptor, and the waits of `hub::net`'s
//! sockets on their lifelong registrations.

use super::reactor::Dir;
use super::scheduler::{Hub, Park, Wake};
use super::slab::Key;
use crate::os::net::{self, BorrowedSock};
use std::io;
use std::time::{Duration, Instant};

/// [`wait_readable`](super::wait_readable) / `wait_writable`.
pub(crate) fn wait_fd(
    hub: &Hub,
    fd: BorrowedSock<'_>,
    dir: Dir,
    timeout: Option<Duration>,
) -> io::Result<()> {
    // The borrow keeps the descriptor open (and its number ours) until
    // the wait returns; the registration is keyed by the number.
    let fd = net::raw(&fd);
    let deadline = timeout.map(|t| Instant::now() + t);
    let reg = match hub.io.attach(fd) {
        Ok(reg) => reg,
        // epoll refuses regular files and directories: they are always
        // ready, as poll(2) reports them.
        Err(e) if net::always_ready(&e) => return Ok(()),
        Err(e) => return Err(e),
    };
    // Detach the temporary registration however this ends.
    struct Detach<'a>(&'a Hub, Key);
    impl Drop for Detach<'_> {
        fn drop(&mut self) {
            self.0.io.detach(self.1);
        }
    }
    let _detach = Detach(hub, reg);
    // Wait for the event the (re)registration queues if it is ready now,
    // not for a bit that an earlier event set (its data may be gone).
    wait_registered(hub, reg, dir, true, deadline)
}

/// Wait until the registration `reg` is ready in `dir`. With `clear`, the
/// readiness bit is cleared first (the caller's system call just said
/// "would block"); without it, a set bit returns at once.
pub(crate) fn wait_registered(
    hub: &Hub,
    reg: Key,
    dir: Dir,
    clear: bool,
    deadline: Option<Instant>,
) -> io::Result<()> {
    if hub.io.is_ready(reg, dir, clear) {
        return Ok(());
    }
    let park = Park::new(
        hub,
        match dir {
            Dir::Read => "hub::wait_readable",
            Dir::Write => "hub::wait_writable",
        },
    );
    hub.io.add_waiter(reg, dir, park.key());
    // Removes the wait's interest however the wait ends (dropped before
    // the park).
    struct Interest<'a>(&'a Hub, Key, Dir, Key);
    impl Drop for Interest<'_> {
        fn drop(&mut self) {
            self.0.io.remove_waiter(self.1, self.2, self.3);
        }
    }
    let _interest = Interest(hub, reg, dir, park.key());
    if let Some(d) = deadline {
        park.deadline(d);
    }
    match park.wait() {
        Wake::Io => Ok(()),
        Wake::Timer => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "greenlet::hub: timed out waiting for the socket to become {}",
                dir.word()
            ),
        )),
        Wake::Shutdown => Err(io::Error::other(
            "greenlet::hub: the thread is exiting and its hub has shut down",
        )),
        other => unreachable!("greenlet::hub: an IO wait was resumed with {other:?}"),
    }
}
