//! Program 2 of the seed: two greenlets switching back and forth.
//!
//! ```text
//! func1,ok1----> Fri Jul 21 16:27:11 2017
//! func2,ok1----> Fri Jul 21 16:27:11 2017
//! func1,ok2----> Fri Jul 21 16:27:16 2017
//! func2,ok2----> Fri Jul 21 16:27:19 2017
//! ```
//!
//! `func1` prints, switches to `gr2`; `func2` prints, switches to `gr1`;
//! `func1` sleeps 5 s, prints, switches to `gr2`; `func2` sleeps 3 s, prints
//! and ends, which returns to main (its parent). `gr1` is left suspended and
//! is killed when main drops it, as Python's garbage collector would.
//!
//! `GREENLET_SEED_SECOND_MS` shortens a "second" for tests (default 1000):
//! the sleeps shrink and the printed clock runs that much faster, so the
//! timestamps keep their relative distances (+0, +0, +5, +8 s).

use greenlet::Greenlet;
use std::cell::RefCell;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

thread_local! {
    static GR1: RefCell<Option<Greenlet>> = const { RefCell::new(None) };
    static GR2: RefCell<Option<Greenlet>> = const { RefCell::new(None) };
    static CLOCK: (Instant, i64, u64) = {
        let epoch = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs();
        (Instant::now(), epoch as i64, second_ms())
    };
}

fn second_ms() -> u64 {
    std::env::var("GREENLET_SEED_SECOND_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&ms| ms > 0)
        .unwrap_or(1000)
}

/// Sleep `n` seconds (scaled).
fn sleep(n: u64) {
    std::thread::sleep(Duration::from_millis(n * second_ms()));
}

/// Python's `time.ctime()` of the (scaled) clock: the start time plus the
/// scaled seconds elapsed since.
fn ctime() -> String {
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

fn gr(which: &'static std::thread::LocalKey<RefCell<Option<Greenlet>>>) -> Greenlet {
    which.with(|g| g.borrow().clone().expect("greenlet created"))
}

fn func1(_: ()) {
    println!("func1,ok1----> {}", ctime());
    let () = gr(&GR2).switch(()); // switch to func2
    sleep(5);
    println!("func1,ok2----> {}", ctime());
    let () = gr(&GR2).switch(()); // switch to func2 again; never resumed
}

fn func2(_: ()) {
    println!("func2,ok1----> {}", ctime());
    let () = gr(&GR1).switch(()); // back to func1
    sleep(3);
    println!("func2,ok2----> {}", ctime());
}

fn main() {
    CLOCK.with(|_| ());
    GR1.with(|g| *g.borrow_mut() = Some(Greenlet::new(func1)));
    GR2.with(|g| *g.borrow_mut() = Some(Greenlet::new(func2)));
    let () = gr(&GR1).switch(());
    // func2 has ended and returned to main; func1 is suspended. Dropping the
    // last handles kills it (GreenletExit unwinds its stack).
    GR2.with(|g| g.borrow_mut().take());
    GR1.with(|g| g.borrow_mut().take());
}
