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

#[path = "common/seed_clock.rs"]
mod seed_clock;

use greenlet::Greenlet;
use seed_clock::{ctime, second_ms};
use std::cell::RefCell;
use std::time::Duration;

thread_local! {
    static GR1: RefCell<Option<Greenlet>> = const { RefCell::new(None) };
    static GR2: RefCell<Option<Greenlet>> = const { RefCell::new(None) };
}

/// Sleep `n` seconds (scaled).
fn sleep(n: u64) {
    std::thread::sleep(Duration::from_millis(n * second_ms()));
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
    seed_clock::start();
    GR1.with(|g| *g.borrow_mut() = Some(Greenlet::new(func1)));
    GR2.with(|g| *g.borrow_mut() = Some(Greenlet::new(func2)));
    let () = gr(&GR1).switch(());
    // func2 has ended and returned to main; func1 is suspended. Dropping the
    // last handles kills it (GreenletExit unwinds its stack).
    GR2.with(|g| g.borrow_mut().take());
    GR1.with(|g| g.borrow_mut().take());
}
