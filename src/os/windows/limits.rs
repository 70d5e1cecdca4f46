//! The limits a stack error names, on Windows: there is no mapping count
//! limit like Linux's `vm.max_map_count`, nor a `/proc` to count mappings,
//! so both are `Unknown` (`Unsupported`); the address-space limit is the
//! user-mode virtual address space (`GlobalMemoryStatusEx`'s
//! `ullTotalVirtual`), which a stack error names as the ceiling it hit.
//! Nothing here allocates (the error path may run with memory exhausted).

use std::io;
use windows_sys::Win32::System::SystemInformation::{GlobalMemoryStatusEx, MEMORYSTATUSEX};

/// A number the OS was asked for, or why it could not be read.
#[derive(Debug)]
pub(crate) enum ProcValue {
    #[allow(dead_code)] // never known on Windows; the Unix family fills it
    Known(usize),
    #[allow(dead_code)] // the stack error names no mapping limit on Windows
    Unknown(io::Error),
}

/// This process's mapping count: not available on Windows.
pub(crate) fn count_mappings() -> ProcValue {
    ProcValue::Unknown(io::Error::from(io::ErrorKind::Unsupported))
}

/// The system's limit on mappings per process: Windows has none.
pub(crate) fn read_max_map_count() -> ProcValue {
    ProcValue::Unknown(io::Error::from(io::ErrorKind::Unsupported))
}

/// The size of the user-mode virtual address space in bytes, or `None` if
/// it cannot be read.
pub(crate) fn address_space_limit() -> Option<u64> {
    // SAFETY: all-zero is a valid MEMORYSTATUSEX (plain integers).
    let mut status: MEMORYSTATUSEX = unsafe { std::mem::zeroed() };
    status.dwLength = size_of::<MEMORYSTATUSEX>() as u32;
    // SAFETY: `status` is a writable MEMORYSTATUSEX whose dwLength is set,
    // as the function requires; it writes only into it.
    let ok = unsafe { GlobalMemoryStatusEx(&raw mut status) } != 0;
    ok.then_some(status.ullTotalVirtual)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_answer_without_allocating() {
        assert!(matches!(count_mappings(), ProcValue::Unknown(_)));
        assert!(matches!(read_max_map_count(), ProcValue::Unknown(_)));
        assert!(address_space_limit().is_some_and(|n| n > 1 << 30));
    }
}
