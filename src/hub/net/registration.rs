//! A socket's registration with the hub, and the loop that every socket
//! operation runs: try the system call, wait in the hub only if it would
//! block.

use crate::hub::reactor::Dir;
use crate::hub::scheduler::{Hub, hub};
use crate::hub::slab::Key;
use crate::hub::wait::wait_registered;
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::time::Instant;

/// A socket's registration with the hub.
pub(super) struct Registration {
    pub(super) hub: Rc<Hub>,
    pub(super) key: Key,
}

impl Registration {
    pub(super) fn new(source: &mut impl mio::event::Source, fd: RawFd) -> io::Result<Registration> {
        let hub = hub();
        let key = hub.io.register(source, fd)?;
        Ok(Registration { hub, key })
    }

    /// Run `op` (a non-blocking system call) until it does not say "would
    /// block", waiting in the hub for readiness in `dir` in between.
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
            wait_registered(&self.hub, self.key, dir, clear, deadline)?;
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => clear = true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => clear = false,
                r => return r,
            }
        }
    }
}
