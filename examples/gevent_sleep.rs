//! Program 3 of the seed: two greenlets spawned on the hub and joined with
//! `join_all`, first sleeping with a blocking sleep, then with the hub's.
//!
//! ```text
//! # blocking sleep (std::thread::sleep)
//! running in func1-- Fri Jul 21 17:20:17 2017
//! running in func1 again-- Fri Jul 21 17:20:19 2017
//! running in func2-- Fri Jul 21 17:20:19 2017
//! running in func2 again-- Fri Jul 21 17:20:21 2017
//! cost time: 4.002
//! # hub sleep (greenlet::hub::sleep)
//! running in func1-- Fri Jul 21 17:20:21 2017
//! running in func2-- Fri Jul 21 17:20:21 2017
//! running in func1 again-- Fri Jul 21 17:20:23 2017
//! running in func2 again-- Fri Jul 21 17:20:23 2017
//! cost time: 2.001
//! ```
//!
//! A blocking sleep blocks the whole thread, hub included: the greenlets run
//! one after the other and the run takes 4 "seconds". The hub's sleep
//! switches to the hub, which runs the other greenlet meanwhile: 2 seconds,
//! lines interleaved.
//!
//! `cargo run --example gevent_sleep [blocking|hub]` runs one variant (both
//! by default). `GREENLET_SEED_SECOND_MS` shortens a "second" for tests
//! (default 1000); "cost time" is printed in those seconds.

#[path = "common/seed_clock.rs"]
mod seed_clock;

use greenlet::hub;
use seed_clock::{ctime, second_ms};
use std::time::{Duration, Instant};

#[derive(Clone, Copy)]
enum Sleep {
    Blocking,
    Hub,
}

fn sleep(how: Sleep, seconds: u64) {
    let d = Duration::from_millis(seconds * second_ms());
    match how {
        Sleep::Blocking => std::thread::sleep(d),
        Sleep::Hub => hub::sleep(d),
    }
}

fn func(n: u32, how: Sleep) {
    println!("running in func{n}-- {}", ctime());
    sleep(how, 2);
    println!("running in func{n} again-- {}", ctime());
}

fn run(how: Sleep) {
    let t1 = Instant::now();
    let g1 = hub::spawn(move || func(1, how));
    let g2 = hub::spawn(move || func(2, how));
    hub::join_all(&[g1, g2], None);
    let cost = t1.elapsed().as_secs_f64() * 1000.0 / second_ms() as f64;
    println!("cost time: {cost:.3}");
}

fn main() {
    seed_clock::start();
    let which = std::env::args().nth(1).unwrap_or_default();
    if which.is_empty() || which == "blocking" {
        println!("# blocking sleep (std::thread::sleep)");
        run(Sleep::Blocking);
    }
    if which.is_empty() || which == "hub" {
        println!("# hub sleep (greenlet::hub::sleep)");
        run(Sleep::Hub);
    }
    if !["", "blocking", "hub"].contains(&which.as_str()) {
        eprintln!("usage: gevent_sleep [blocking|hub]");
        std::process::exit(2);
    }
}
