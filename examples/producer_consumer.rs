//! Program 1 of the seed: a producer and a consumer taking turns on one
//! thread, the consumer being a generator (Python's `yield` / `send`).
//!
//! ```python
//! def consumer():
//!     r = " "
//!     while True:
//!         n = yield r
//!         print("[consumer]<-- %s" % n)
//!         time.sleep(1)
//!         r = "ok"
//!
//! def producer(c):
//!     next(c)
//!     n = 0
//!     while n < 10:
//!         n += 1
//!         print("[producer]-->%s" % n)
//!         cr = c.send(n)
//!         print("[producer] consumer return:%s" % cr)
//!     c.close()
//! ```
//!
//! prints 30 lines, three per n = 1..=10:
//!
//! ```text
//! [producer]-->1
//! [consumer]<-- 1
//! [producer] consumer return:ok
//! ...
//! [producer]-->10
//! [consumer]<-- 10
//! [producer] consumer return:ok
//! ```
//!
//! `GREENLET_SEED_SECOND_MS` shortens the consumer's one-second sleep for
//! tests (default 1000).

use greenlet::{Generator, GeneratorState};
use std::time::Duration;

/// The consumer: a generator that receives `Option<u32>` and yields the
/// answer `&str`.
///
/// Python's generator protocol starts a generator with `next(c)`, which is
/// `c.send(None)`: the value sent to start it has nowhere to go, because no
/// `yield` is waiting yet. `Generator::resume` delivers its first input as
/// the body's argument instead, so the consumer takes `Option<u32>`: the
/// producer primes it with `resume(None)` exactly where Python calls
/// `next(c)`, and sends `Some(n)` afterwards, where Python sends `n`. The
/// body checks that the priming value is `None`, as CPython refuses to start
/// a generator with anything else.
///
/// (A consumer written for Rust alone would take `u32` and start with the
/// first `n` as its argument, needing no priming; the `Option` keeps the
/// shape of the Python program.)
type Consumer = Generator<Option<u32>, &'static str>;

fn consumer() -> Consumer {
    Generator::new(|y, prime: Option<u32>| {
        assert!(prime.is_none(), "a generator is started by sending None");
        let mut r = " ";
        loop {
            let n = y
                .suspend(r)
                .expect("after next(c) the producer sends numbers");
            println!("[consumer]<-- {n}");
            std::thread::sleep(second());
            r = "ok";
        }
    })
}

fn producer(mut c: Consumer) {
    yielded(c.resume(None)); // next(c)
    let mut n = 0;
    while n < 10 {
        n += 1;
        println!("[producer]-->{n}");
        let cr = yielded(c.resume(Some(n))); // c.send(n)
        println!("[producer] consumer return:{cr}");
    }
    // c.close(): dropping a suspended generator unwinds it (GreenletExit is
    // raised at its pending `yield`), like Python's GeneratorExit.
    drop(c);
}

/// The value of a `yield`; the consumer never returns.
fn yielded(state: GeneratorState<&'static str, ()>) -> &'static str {
    match state {
        GeneratorState::Yielded(r) => r,
        GeneratorState::Complete(()) => unreachable!("the consumer loops forever"),
    }
}

/// One (possibly shortened) second.
fn second() -> Duration {
    let ms = std::env::var("GREENLET_SEED_SECOND_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&ms: &u64| ms > 0)
        .unwrap_or(1000);
    Duration::from_millis(ms)
}

fn main() {
    let c1 = consumer();
    producer(c1);
}
