//! The clock of the seed programs' printouts, shared by the examples that
//! reproduce them: Python's `time.ctime()`, running `1000 /
//! GREENLET_SEED_SECOND_MS` times faster when that variable shortens a
//! "second" for tests (default 1000 ms), so that printed timestamps keep
//! their relative distances.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

thread_local! {
    static CLOCK: (Instant, i64, u64) = {
        let epoch = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs();
        (Instant::now(), epoch as i64, second_ms())
    };
}

/// Milliseconds in a "second" (`GREENLET_SEED_SECOND_MS`, default 1000).
pub fn second_ms() -> u64 {
    std::env::var("GREENLET_SEED_SECOND_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&ms| ms > 0)
        .unwrap_or(1000)
}

/// Start the clock now (otherwise it starts at the first `ctime`).
pub fn start() {
    CLOCK.with(|_| ());
}

/// Python's `time.ctime()` of the (scaled) clock: the start time plus the
/// scaled seconds elapsed since.
pub fn ctime() -> String {
    let (start, epoch, ms) = CLOCK.with(|c| *c);
    // time_t is 32 bits on some targets (i686): compute in i64, then narrow.
    let t = (epoch + (start.elapsed().as_millis() as u64 / ms) as i64) as libc::time_t;
    let mut buf = [0 as libc::c_char; 64];
    // SAFETY: ctime_r writes at most 26 bytes (NUL included) into `buf`.
    let s = unsafe { libc::ctime_r(&t, buf.as_mut_ptr()) };
    assert!(!s.is_null(), "ctime_r failed");
    // SAFETY: on success `buf` holds a NUL-terminated string.
    let s = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    s.to_string_lossy().trim_end().to_owned()
}
