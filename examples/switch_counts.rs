//! Runs N round trips of one kind of switch and nothing else, so that
//! `valgrind --tool=callgrind` can count instructions per round trip:
//! run it with two different N and divide the difference in instructions by
//! the difference in N (`ci/callgrind.sh` does exactly that).
//!
//! Usage: `switch_counts <raw|corosensei|call> <round trips>`

use corosensei::{Coroutine, CoroutineResult};
use greenlet::raw::{self, StackPointer};
use greenlet::stack::Stack;
use std::hint::black_box;

unsafe extern "C" fn add_one(mut from: StackPointer, mut data: usize) -> ! {
    loop {
        // SAFETY: `from` switched to us and is suspended.
        let t = unsafe { raw::switch(from, data + 1) };
        (from, data) = (t.sp, t.data);
    }
}

#[inline(never)]
fn raw_round_trips(n: usize) -> usize {
    let stack = Stack::new(64 * 1024).expect("stack");
    let mut x = 0;
    // SAFETY: the stack outlives the context, which is abandoned suspended
    // in its loop with nothing to drop.
    unsafe {
        let mut sp = raw::stack_init(stack.top(), add_one);
        for _ in 0..n {
            let t = raw::switch(sp, black_box(x));
            (sp, x) = (t.sp, t.data);
        }
    }
    x
}

#[inline(never)]
fn corosensei_round_trips(n: usize) -> usize {
    let mut co = Coroutine::new(|y, mut input: usize| {
        loop {
            input = y.suspend(input + 1);
        }
    });
    let mut x = 0;
    for _ in 0..n {
        match co.resume(black_box(x)) {
            CoroutineResult::Yield(v) => x = v,
            CoroutineResult::Return(()) => unreachable!(),
        }
    }
    // The coroutine is suspended in an endless loop; leak it rather than
    // unwind it, as the raw side does.
    std::mem::forget(co);
    x
}

#[inline(never)]
fn add(x: usize) -> usize {
    x + 1
}

fn call_round_trips(n: usize) -> usize {
    let mut x = 0;
    for _ in 0..n {
        x = add(black_box(x));
    }
    x
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(which), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse().ok())) else {
        eprintln!("usage: switch_counts <raw|corosensei|call> <round trips>");
        std::process::exit(2);
    };
    let x = match which.as_str() {
        "raw" => raw_round_trips(n),
        "corosensei" => corosensei_round_trips(n),
        "call" => call_round_trips(n),
        other => {
            eprintln!("unknown kind {other}");
            std::process::exit(2);
        }
    };
    assert_eq!(x, n, "every round trip adds one");
}
