//! What a stack error says about Unix: the system call behind each step
//! ([`STACK_CALLS`]), and the limits, read when the error happens
//! ([`StackLimits`]): this process's mapping count (`/proc/self/maps`),
//! `vm.max_map_count` (`/proc/sys/vm/max_map_count`) and the soft
//! `RLIMIT_AS`. The first two are Linux's: elsewhere they are `Unknown`
//! with the error of the open. Used on the error path only, possibly while
//! memory is exhausted: nothing here allocates (the text is only formatted
//! when the error is displayed).

use crate::os::{StackCalls, StackLayout};
use std::fmt;
use std::fs::File;
use std::io::{self, Read};

/// The system calls of each step, as a stack error names them.
pub(crate) const STACK_CALLS: StackCalls = StackCalls {
    map: "mmap",
    guard: "mprotect, which splits the mapping in two",
    kernel_guard: "madvise MADV_GUARD_INSTALL, which needs page-table memory",
    arena: "mmap MAP_NORESERVE",
};

/// The limits a stack error names, read when it happens.
#[derive(Debug)]
pub(crate) struct StackLimits {
    /// Current number of mappings (lines of `/proc/self/maps`).
    maps: ProcValue,
    /// `vm.max_map_count`.
    max_maps: ProcValue,
    /// Soft `RLIMIT_AS` in bytes; `None` when unlimited or unknown.
    rlimit_as: Option<u64>,
}

impl StackLimits {
    /// Reads the limits now, without allocating.
    pub(crate) fn read() -> StackLimits {
        StackLimits {
            maps: count_mappings(),
            max_maps: read_max_map_count(),
            rlimit_as: address_space_limit(),
        }
    }

    /// The limits part of a stack error's message: the mappings a stack
    /// costs, the process's mappings against `vm.max_map_count`,
    /// `RLIMIT_AS`, and what to do, for a stack laid out as `layout`. (The
    /// stack's size is in the first part of the message already.)
    pub(crate) fn fmt(
        &self,
        f: &mut fmt::Formatter<'_>,
        layout: StackLayout,
        _bytes: usize,
    ) -> fmt::Result {
        // Kernel mappings a new stack adds (the failed one included).
        let per_stack = match layout {
            StackLayout::ArenaSlot | StackLayout::OwnKernelGuarded { .. } => 1,
            StackLayout::OwnProtected => 2,
        };
        match layout {
            StackLayout::ArenaSlot => write!(
                f,
                "Stacks share arena mappings (kernel guard pages), so address space, \
                 memory or the overcommit policy ran out rather than mappings; "
            )?,
            StackLayout::OwnKernelGuarded { arena_max } => write!(
                f,
                "Each stack larger than {arena_max} bytes uses 1 kernel mapping; "
            )?,
            StackLayout::OwnProtected => {
                write!(f, "Each guarded stack uses {per_stack} kernel mappings; ")?;
            }
        }
        match &self.maps {
            ProcValue::Known(n) => write!(f, "this process has {n} mappings")?,
            ProcValue::Unknown(e) => write!(
                f,
                "the number of mappings of this process is unknown (/proc/self/maps: {e})"
            )?,
        }
        match &self.max_maps {
            ProcValue::Known(max) => {
                write!(
                    f,
                    " and vm.max_map_count is {max} (/proc/sys/vm/max_map_count)"
                )?;
                // Within 1%: emulators such as qemu-user hide their own
                // mappings from /proc/self/maps, so the count can be a
                // little low even when the limit is what failed.
                if let ProcValue::Known(n) = self.maps
                    && n + per_stack + max / 100 >= *max
                {
                    write!(f, ", which is at or near that limit")?;
                }
            }
            ProcValue::Unknown(e) => write!(
                f,
                " and vm.max_map_count is unknown (/proc/sys/vm/max_map_count: {e})"
            )?,
        }
        match self.rlimit_as {
            Some(limit) => write!(f, "; RLIMIT_AS is {limit} bytes")?,
            None => write!(f, "; RLIMIT_AS is unlimited")?,
        }
        write!(
            f,
            ". If mappings are the limit, raise it (sysctl -w vm.max_map_count=262144) or \
             drop unused greenlets; if memory is the limit, raise RLIMIT_AS (ulimit -v), \
             free memory, or use smaller stacks or fewer live greenlets."
        )
    }
}

/// A number read from `/proc`, or why it could not be read.
#[derive(Debug)]
enum ProcValue {
    Known(usize),
    Unknown(io::Error),
}

/// Counts this process's mappings: the lines of `/proc/self/maps`.
///
/// Used on the error path only, possibly while memory is exhausted, so it
/// reads through a fixed buffer on the stack and does not allocate.
fn count_mappings() -> ProcValue {
    let mut file = match File::open("/proc/self/maps") {
        Ok(file) => file,
        Err(e) => return ProcValue::Unknown(e),
    };
    let mut buf = [0u8; 4096];
    let mut lines = 0;
    loop {
        match file.read(&mut buf) {
            Ok(0) => return ProcValue::Known(lines),
            Ok(n) => lines += buf[..n].iter().filter(|&&b| b == b'\n').count(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return ProcValue::Unknown(e),
        }
    }
}

/// Reads `vm.max_map_count` from `/proc/sys/vm/max_map_count` without
/// allocating.
fn read_max_map_count() -> ProcValue {
    let mut file = match File::open("/proc/sys/vm/max_map_count") {
        Ok(file) => file,
        Err(e) => return ProcValue::Unknown(e),
    };
    let mut buf = [0u8; 32];
    let mut len = 0;
    while len < buf.len() {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return ProcValue::Unknown(e),
        }
    }
    parse_decimal(&buf[..len]).map_or_else(
        || {
            ProcValue::Unknown(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a decimal number",
            ))
        },
        ProcValue::Known,
    )
}

/// Parses an unsigned decimal number surrounded by optional ASCII
/// whitespace.
fn parse_decimal(bytes: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(bytes).ok()?;
    text.trim().parse().ok()
}

/// The soft `RLIMIT_AS` in bytes, or `None` if it is unlimited or cannot be
/// read.
fn address_space_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable `rlimit` that outlives the call;
    // getrlimit writes only into it.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_AS, &raw mut limit) };
    if rc != 0 || limit.rlim_cur == libc::RLIM_INFINITY {
        return None;
    }
    // `rlim_t` is 32 or 64 bits wide depending on the target; widen it.
    #[allow(clippy::useless_conversion)]
    Some(u64::from(limit.rlim_cur))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`StackLimits::fmt`] through `Display`.
    struct Text<'a>(&'a StackLimits, StackLayout);

    impl fmt::Display for Text<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.fmt(f, self.1, (1 << 20) + 4096)
        }
    }

    #[test]
    fn limits_name_mappings_and_rlimit_as() {
        let limits = StackLimits {
            maps: ProcValue::Known(65_000),
            max_maps: ProcValue::Known(65_530),
            rlimit_as: Some(1 << 40),
        };
        let text = Text(&limits, StackLayout::OwnProtected).to_string();
        let needles = [
            "Each guarded stack uses 2 kernel mappings",
            "this process has 65000 mappings",
            "vm.max_map_count is 65530",
            "which is at or near that limit",
            "RLIMIT_AS is 1099511627776 bytes",
            "sysctl -w vm.max_map_count",
            "ulimit -v",
        ];
        for needle in needles {
            assert!(text.contains(needle), "{needle:?} missing from {text:?}");
        }
        let far = StackLimits {
            maps: ProcValue::Known(100),
            max_maps: ProcValue::Known(65_530),
            rlimit_as: None,
        };
        let text = Text(&far, StackLayout::OwnKernelGuarded { arena_max: 8 << 20 }).to_string();
        assert!(
            text.contains("larger than 8388608 bytes uses 1 kernel mapping"),
            "{text}"
        );
        assert!(text.contains("RLIMIT_AS is unlimited"), "{text}");
        assert!(!text.contains("near that limit"), "{text}");
        let unknown = StackLimits {
            maps: ProcValue::Unknown(io::Error::from(io::ErrorKind::NotFound)),
            max_maps: ProcValue::Unknown(io::Error::from(io::ErrorKind::NotFound)),
            rlimit_as: None,
        };
        let text = Text(&unknown, StackLayout::ArenaSlot).to_string();
        for needle in [
            "arena mappings",
            "mappings of this process is unknown",
            "vm.max_map_count is unknown",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from {text:?}");
        }
        assert!(STACK_CALLS.guard.starts_with("mprotect"));
    }

    #[test]
    fn parse_decimal_accepts_proc_format() {
        assert_eq!(parse_decimal(b"65530\n"), Some(65530));
        assert_eq!(parse_decimal(b" 7 "), Some(7));
        assert_eq!(parse_decimal(b""), None);
        assert_eq!(parse_decimal(b"x1"), None);
        assert_eq!(parse_decimal(b"\xff"), None);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn proc_readers_work() {
        match count_mappings() {
            ProcValue::Known(n) => assert!(n > 0),
            ProcValue::Unknown(e) => panic!("/proc/self/maps: {e}"),
        }
        if let ProcValue::Unknown(e) = read_max_map_count() {
            panic!("/proc/sys/vm/max_map_count: {e}");
        }
    }
}
