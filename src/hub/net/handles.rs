//! How a socket moves between std and the hub, the same for every socket
//! type: `from_std`, `try_clone` and `into_std`, written once as a macro
//! (the rules are in [the module docs](super#handing-sockets-over)).

/// `from_std`, `try_clone`, `into_std` (and the private `wrap`) for `$t`,
/// a socket type holding a `Registered<$mio>` in a field `reg`; `$std` is
/// the std type it comes from and goes back to, `$what` what it is called
/// in the docs. Each method's example is written for its type by the
/// invocation: the doc comments in the braces after `from_std:`,
/// `try_clone:` and `into_std:` (a fenced doctest each) go below that
/// method's own docs, under `# Examples`.
macro_rules! impl_handles {
    (
        $t:ident, $mio:ty, $std:ty, $what:literal,
        from_std: { $(#[$from_std:meta])* },
        try_clone: { $(#[$try_clone:meta])* },
        into_std: { $(#[$into_std:meta])* } $(,)?
    ) => {
        impl $t {
            #[doc = concat!("Take over a ", $what, " made elsewhere (say, with options set")]
            /// through `socket2`): it is made non-blocking and registered
            /// with this thread's hub.
            ///
            /// # Errors
            /// If it cannot be made non-blocking or registered.
            ///
            /// # Examples
            ///
            $(#[$from_std])*
            pub fn from_std(sock: $std) -> std::io::Result<$t> {
                sock.set_nonblocking(true)?;
                $t::wrap(<$mio>::from_std(sock))
            }

            fn wrap(sock: $mio) -> std::io::Result<$t> {
                Ok($t {
                    reg: super::registration::Registered::new(sock)?,
                })
            }

            #[doc = concat!("A second handle to the same ", $what, " (`dup(2)`), registered")]
            /// with the hub on its own: two greenlets can each own one and
            /// wait at the same time, say a reader and a writer (see
            /// [the module docs](super#handing-sockets-over)).
            ///
            /// # Errors
            /// `dup(2)`'s (`EMFILE`, ...), or the hub's registration's.
            ///
            /// # Examples
            ///
            $(#[$try_clone])*
            pub fn try_clone(&self) -> std::io::Result<$t> {
                Ok($t {
                    reg: self.reg.try_clone()?,
                })
            }

            #[doc = concat!("Leave the hub: deregister the ", $what, " and return it as")]
            /// std's type, **in blocking mode** again (see
            /// [the module docs](super#handing-sockets-over): clones share
            /// the mode).
            ///
            /// # Errors
            /// If it cannot be set back to blocking (it is closed then).
            ///
            /// # Examples
            ///
            $(#[$into_std])*
            pub fn into_std(self) -> std::io::Result<$std> {
                let sock = <$std>::from(self.reg.into_inner());
                sock.set_nonblocking(false)?;
                Ok(sock)
            }
        }
    };
}

pub(super) use impl_handles;
