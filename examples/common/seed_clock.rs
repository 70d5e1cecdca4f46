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
    format_ctime(epoch + (start.elapsed().as_millis() as u64 / ms) as i64)
}

/// `t` (seconds since the Unix epoch) as `ctime_r` formats it, in local
/// time.
#[cfg(unix)]
fn format_ctime(t: i64) -> String {
    // time_t is 32 bits on some targets (i686): compute in i64, then narrow.
    let t = t as libc::time_t;
    let mut buf = [0 as libc::c_char; 64];
    // SAFETY: ctime_r writes at most 26 bytes (NUL included) into `buf`.
    let s = unsafe { libc::ctime_r(&t, buf.as_mut_ptr()) };
    assert!(!s.is_null(), "ctime_r failed");
    // SAFETY: on success `buf` holds a NUL-terminated string.
    let s = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    s.to_string_lossy().trim_end().to_owned()
}

/// `t` (seconds since the Unix epoch) in `ctime`'s format, in UTC: Windows'
/// C library has no `ctime_r`, and the seed's story only needs the
/// distances between the times.
#[cfg(not(unix))]
fn format_ctime(t: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // Days to a civil date (the proleptic Gregorian calendar), counting in
    // 400-year eras from 0000-03-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} {year}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}
