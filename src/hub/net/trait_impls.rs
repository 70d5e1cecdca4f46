//! The trait implementations that several socket types share, written once
//! as macros (`AsFd` or `AsSocket`, which differ by OS, are
//! `os::net::impl_as_sock!`). Each socket type holds its [`Registered`]
//! socket in a field named `reg`.
//!
//! [`Registered`]: super::registration::Registered

/// `Read` and `Write` for a byte stream socket, both for `&T` (so one
/// greenlet may read while another writes) and for `T`. The `mio` socket
/// inside must implement them for `&` too.
macro_rules! impl_stream_io {
    ($($t:ty),* $(,)?) => {$(
        impl std::io::Read for &$t {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let mut sock = self.reg.sock();
                let len = buf.len();
                self.reg.run_stream(crate::hub::reactor::Dir::Read, len, || {
                    std::io::Read::read(&mut sock, buf)
                })
            }

            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                let mut sock = self.reg.sock();
                self.reg.run(crate::hub::reactor::Dir::Read, None, || {
                    std::io::Read::read_vectored(&mut sock, bufs)
                })
            }
        }

        impl std::io::Write for &$t {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                let mut sock = self.reg.sock();
                self.reg.run_stream(crate::hub::reactor::Dir::Write, buf.len(), || {
                    std::io::Write::write(&mut sock, buf)
                })
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                let mut sock = self.reg.sock();
                self.reg.run(crate::hub::reactor::Dir::Write, None, || {
                    std::io::Write::write_vectored(&mut sock, bufs)
                })
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        impl std::io::Read for $t {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                std::io::Read::read(&mut &*self, buf)
            }

            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                std::io::Read::read_vectored(&mut &*self, bufs)
            }
        }

        impl std::io::Write for $t {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                std::io::Write::write(&mut &*self, buf)
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                std::io::Write::write_vectored(&mut &*self, bufs)
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    )*};
}

pub(super) use impl_stream_io;
