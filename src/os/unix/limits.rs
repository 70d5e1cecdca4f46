//! The limits a stack error names, read when the error happens: this
//! process's mapping count (`/proc/self/maps`), `vm.max_map_count`
//! (`/proc/sys/vm/max_map_count`) and the soft `RLIMIT_AS`. The first two
//! are Linux's: elsewhere they are `Unknown` with the error of the open.
//! Used on the error path only, possibly while memory is exhausted:
//! nothing here allocates.

use std::fs::File;
use std::io::{self, Read};

/// A number read from `/proc`, or why it could not be read.
#[derive(Debug)]
pub(crate) enum ProcValue {
    Known(usize),
    Unknown(io::Error),
}

/// Counts this process's mappings: the lines of `/proc/self/maps`.
///
/// Used on the error path only, possibly while memory is exhausted, so it
/// reads through a fixed buffer on the stack and does not allocate.
pub(crate) fn count_mappings() -> ProcValue {
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
pub(crate) fn read_max_map_count() -> ProcValue {
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
pub(crate) fn address_space_limit() -> Option<u64> {
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
