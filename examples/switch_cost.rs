//! The demo: this CPU's raw context-switch cost next to a plain function
//! call.
//!
//! `cargo run --release --example switch_cost`
//!
//! It times a ping-pong between the main stack and one context (a round
//! trip is two switches) and a loop of non-inlined calls, best of several
//! runs. Times on a shared machine are noisy; `ci/callgrind.sh` counts
//! instructions instead, and `cargo bench --bench raw` compares with
//! corosensei.

use greenlet::raw::{self, StackPointer};
use greenlet::stack::Stack;
use std::hint::black_box;
use std::time::Instant;

const ROUND_TRIPS: usize = 10_000_000;
const RUNS: usize = 5;

unsafe extern "C" fn add_one(mut from: StackPointer, mut data: usize) -> ! {
    loop {
        // SAFETY: `from` switched to us and is suspended.
        let t = unsafe { raw::switch(from, data + 1) };
        (from, data) = (t.sp, t.data);
    }
}

#[inline(never)]
fn add(x: usize) -> usize {
    x + 1
}

/// Best time per iteration of `f(n)`, in nanoseconds.
fn best_ns(mut f: impl FnMut(usize) -> usize) -> f64 {
    (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            let x = f(ROUND_TRIPS);
            assert_eq!(x, ROUND_TRIPS, "every iteration adds one");
            t.elapsed().as_secs_f64() * 1e9 / ROUND_TRIPS as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let stack = Stack::new(64 * 1024).expect("map a stack");
    // SAFETY: the stack outlives the context, which is abandoned suspended in
    // its loop (nothing on it needs dropping).
    let mut sp = unsafe { raw::stack_init(stack.top(), add_one) };
    let mut switch = |n: usize| {
        let mut x = 0;
        for _ in 0..n {
            // SAFETY: `sp` is the context's current saved stack pointer.
            let t = unsafe { raw::switch(sp, black_box(x)) };
            (sp, x) = (t.sp, t.data);
        }
        x
    };
    let round_trip = best_ns(&mut switch);
    let call = best_ns(|n| {
        let mut x = 0;
        for _ in 0..n {
            x = add(black_box(x));
        }
        x
    });
    println!("greenlet raw switch on {}:", std::env::consts::ARCH);
    println!("  round trip (2 switches)  {round_trip:7.2} ns");
    println!("  one switch               {:7.2} ns", round_trip / 2.0);
    println!("  plain function call      {call:7.2} ns");
    println!(
        "  one switch / one call    {:7.1}x",
        round_trip / 2.0 / call
    );
    println!(
        "(best of {RUNS} runs of {ROUND_TRIPS} round trips; each switch saves the \
         callee-saved registers and the FP control state)"
    );
}
