//! Runs N round trips of one kind of switch and nothing else, so that
//! `valgrind --tool=callgrind` can count instructions per round trip:
//! run it with two different N and divide the difference in instructions by
//! the difference in N (`ci/callgrind.sh` does exactly that).
//!
//! Usage: `switch_counts <raw|greenlet|generator|create|corosensei|corosensei_create|call|hub_yield|hub_yield_pair|tokio_yield> <n>`
//!
//! `create` is create + run to completion + drop of a `Greenlet` with a
//! pooled stack; `corosensei_create` the same with a reused stack. The
//! corosensei kinds exist where corosensei does (not on s390x, powerpc64).
//! `hub_yield` is one task's `hub::sleep(ZERO)` (with nothing else ready it
//! returns without a switch);
//! `hub_yield_pair` two tasks yielding to each other (two switches per
//! round trip); `tokio_yield` one tokio task's `yield_now` on a
//! `current_thread` runtime.

#[cfg(peer_corosensei)]
use corosensei::{Coroutine, CoroutineResult};
use greenlet::raw::{self, StackPointer};
use greenlet::stack::Stack;
use greenlet::{Generator, GeneratorState, Greenlet};
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

#[cfg(peer_corosensei)]
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
fn greenlet_round_trips(n: usize) -> usize {
    let main = Greenlet::main();
    let child = Greenlet::new(move |mut x: usize| {
        loop {
            x = main.switch(x + 1);
        }
    });
    let mut x = 0;
    for _ in 0..n {
        x = child.switch(black_box(x));
    }
    x
}

#[inline(never)]
fn generator_round_trips(n: usize) -> usize {
    let mut g = Generator::new(|y, mut x: usize| {
        loop {
            x = y.suspend(x + 1);
        }
    });
    let mut x = 0;
    for _ in 0..n {
        match g.resume(black_box(x)) {
            GeneratorState::Yielded(v) => x = v,
            GeneratorState::Complete(()) => unreachable!(),
        }
    }
    x
}

#[inline(never)]
fn greenlet_creates(n: usize) -> usize {
    let mut total = 0;
    for _ in 0..n {
        let child = Greenlet::new(|x: usize| x + 1);
        let r: usize = child.switch(black_box(0usize));
        total += r;
    }
    total
}

#[cfg(peer_corosensei)]
#[inline(never)]
fn corosensei_creates(n: usize) -> usize {
    let mut stack = Some(corosensei::stack::DefaultStack::default());
    let mut total = 0;
    for _ in 0..n {
        let mut co = Coroutine::with_stack(stack.take().unwrap(), |_, x: usize| x + 1);
        match co.resume(black_box(0usize)) {
            CoroutineResult::Return(r) => total += r,
            CoroutineResult::Yield(()) => unreachable!(),
        }
        stack = Some(co.into_stack());
    }
    total
}

/// One task yielding `n` times through the hub (`sleep(ZERO)`: task to
/// hub to task).
#[inline(never)]
fn hub_yields(n: usize) -> usize {
    let t = greenlet::hub::spawn(move || {
        let mut k = 0;
        for _ in 0..n {
            greenlet::hub::sleep(std::time::Duration::ZERO);
            k += 1;
        }
        k
    });
    t.get().expect("no panic")
}

/// Two tasks yielding `n` times each in alternation: per round trip, task A
/// yields to task B and B yields back to A (two real switches through the
/// hub's ready queue, by direct handoff), where `hub_yields` with one task
/// has nobody to yield to.
#[inline(never)]
fn hub_yield_pairs(n: usize) -> usize {
    let task = move || {
        let mut k = 0;
        for _ in 0..n {
            greenlet::hub::sleep(std::time::Duration::ZERO);
            k += 1;
        }
        k
    };
    let a = greenlet::hub::spawn(task);
    let b = greenlet::hub::spawn(task);
    let ka = a.get().expect("no panic");
    let kb = b.get().expect("no panic");
    assert_eq!(ka, kb);
    ka
}

/// The peer of `hub_yields`: one tokio task on a `current_thread` runtime
/// yielding `n` times.
#[inline(never)]
fn tokio_yields(n: usize) -> usize {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let t = tokio::spawn(async move {
            let mut k = 0;
            for _ in 0..n {
                tokio::task::yield_now().await;
                k += 1;
            }
            k
        });
        t.await.expect("no panic")
    })
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
        eprintln!(
            "usage: switch_counts <raw|greenlet|generator|create|corosensei|corosensei_create|call|hub_yield|hub_yield_pair|tokio_yield> <n>"
        );
        std::process::exit(2);
    };
    let x = match which.as_str() {
        "raw" => raw_round_trips(n),
        "greenlet" => greenlet_round_trips(n),
        "generator" => generator_round_trips(n),
        "create" => greenlet_creates(n),
        #[cfg(peer_corosensei)]
        "corosensei" => corosensei_round_trips(n),
        #[cfg(peer_corosensei)]
        "corosensei_create" => corosensei_creates(n),
        "call" => call_round_trips(n),
        "hub_yield" => hub_yields(n),
        "hub_yield_pair" => hub_yield_pairs(n),
        "tokio_yield" => tokio_yields(n),
        other => {
            eprintln!("unknown kind {other}");
            std::process::exit(2);
        }
    };
    assert_eq!(x, n, "every round trip adds one");
}
