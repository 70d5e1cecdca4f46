//! Runs N round trips of one kind of switch and nothing else, so that
//! `valgrind --tool=callgrind` can count instructions per round trip:
//! run it with two different N and divide the difference in instructions by
//! the difference in N (`ci/callgrind.sh` does exactly that).
//!
//! Usage: `switch_counts <raw|greenlet|generator|create|corosensei|corosensei_create|call|hub_yield|hub_yield_pair|succession|timeout_task|tokio_yield|queue_msg|tokio_queue_msg|mutex_lock|tokio_mutex_lock|mutex_contended|tokio_mutex_contended|udp_echo|tokio_udp_echo> <n>`
//!
//! `create` is create + run to completion + drop of a `Greenlet` with a
//! pooled stack; `corosensei_create` the same with a reused stack. The
//! corosensei kinds exist where corosensei does (not on s390x, powerpc64).
//! `hub_yield` is one task's `hub::sleep(ZERO)` (with nothing else ready it
//! returns without a switch);
//! `hub_yield_pair` two tasks yielding to each other (two switches per
//! round trip); `tokio_yield` one tokio task's `yield_now` on a
//! `current_thread` runtime.
//! `succession` is one link of a chain where each greenlet creates its
//! successor, returns it to main and dies (the dead chain stays alive
//! until the end): linear only if finding the live ancestor that gets a
//! death is amortised. `timeout_task` counts hundredths of a task: N/100
//! tasks (so 1,000 and 11,000 in `ci/callgrind.sh`, all alive at once),
//! each in a `with_timeout` that expires at once around a loop of yields
//! (the timeout is delivered at its next wait): the count per unit stays
//! flat only if that delivery does not scan the other tasks' timeouts.
//!
//! The hub's toolkit against tokio's, where N counts messages or locks
//! instead of round trips:
//! `queue_msg` is one message of two tasks ping-ponging a `u64` over two
//! unbounded `hub::sync::Queue`s (N even: N/2 round trips), and
//! `tokio_queue_msg` the same over two `tokio::sync::mpsc` unbounded
//! channels; `mutex_lock` is one lock + unlock of a `hub::sync::Mutex` by a
//! single task, `tokio_mutex_lock` of a `tokio::sync::Mutex`;
//! `mutex_contended` is one lock + unlock by one of 100 tasks that each
//! yield while they hold the lock (so every unlock hands it to a waiter),
//! `tokio_mutex_contended` the same in tokio.
//!
//! `udp_echo` is one round trip of a 64-byte UDP datagram between a client
//! and an echo task on one hub over loopback (the `udp_echo` bench,
//! `examples/common/udp_echo.rs`), `tokio_udp_echo` the same with tokio's
//! `UdpSocket` on a `current_thread` runtime. Callgrind counts user-space
//! instructions only: the system calls (four a round trip, plus the
//! poller's) run in the kernel, uncounted. They are not in
//! `ci/callgrind.sh`'s default list (a million round trips of system calls
//! take minutes under callgrind): `GREENLET_CALLGRIND_N1=10000
//! GREENLET_CALLGRIND_N2=60000 ci/callgrind.sh udp_echo tokio_udp_echo`.

#[cfg(peer_corosensei)]
use corosensei::{Coroutine, CoroutineResult};
use greenlet::raw::{self, StackPointer};
use greenlet::stack::Stack;
use greenlet::{Generator, GeneratorState, Greenlet};
use std::hint::black_box;

#[path = "common/udp_echo.rs"]
mod udp_echo;

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

/// Greenlet `k` creates greenlet `k + 1` (so it is that one's parent),
/// hands it to main by returning it, and dies: each death delivers its
/// value past every dead ancestor to main, and the whole chain of dead
/// greenlets stays alive (each holds its parent) until main drops the
/// last one.
#[inline(never)]
fn successions(n: usize) -> usize {
    fn link(left: usize) -> Option<Greenlet> {
        (left > 0).then(|| Greenlet::new(link))
    }
    let mut g = Greenlet::new(link);
    let mut left = n;
    let mut k = 0;
    while let Some(next) = g.switch::<usize, Option<Greenlet>>(left) {
        g = next;
        left -= 1;
        k += 1;
    }
    k
}

/// `n` tasks, each in a `with_timeout` that expires at once around a loop
/// of yields: every timeout fires while its task is ready (not waiting),
/// so it is delivered at the task's next wait.
#[inline(never)]
fn timeout_tasks(n: usize) -> usize {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            greenlet::hub::spawn(|| {
                greenlet::hub::with_timeout(std::time::Duration::ZERO, || {
                    loop {
                        greenlet::hub::sleep(std::time::Duration::ZERO);
                    }
                })
                .is_err()
            })
        })
        .collect();
    tasks.into_iter().filter(|t| t.join(None)).count()
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

/// `n` messages between two hub tasks over two queues (`n` rounded up to
/// even: whole round trips).
#[inline(never)]
fn queue_msgs(n: usize) -> usize {
    use greenlet::hub::{self, sync::Queue};
    let (ping, pong) = (Queue::<usize>::new(), Queue::<usize>::new());
    let echo = {
        let (ping, pong) = (ping.clone(), pong.clone());
        hub::spawn(move || {
            while let Some(v) = ping.get() {
                if pong.put(v + 1).is_err() {
                    break;
                }
            }
        })
    };
    let main = hub::spawn(move || {
        let mut v = 0;
        while v < n {
            ping.put(v + 1).expect("open");
            v = pong.get().expect("open");
        }
        ping.close();
        v
    });
    let v = main.get().expect("no panic");
    echo.get().expect("no panic");
    v
}

/// The peer of `queue_msgs`: two tokio tasks, two unbounded mpsc channels.
#[inline(never)]
fn tokio_queue_msgs(n: usize) -> usize {
    use tokio::sync::mpsc::unbounded_channel;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let (ping_tx, mut ping_rx) = unbounded_channel::<usize>();
        let (pong_tx, mut pong_rx) = unbounded_channel::<usize>();
        let echo = tokio::spawn(async move {
            while let Some(v) = ping_rx.recv().await {
                if pong_tx.send(v + 1).is_err() {
                    break;
                }
            }
        });
        let main = tokio::spawn(async move {
            let mut v = 0;
            while v < n {
                ping_tx.send(v + 1).expect("open");
                v = pong_rx.recv().await.expect("open");
            }
            v
        });
        let v = main.await.expect("no panic");
        echo.await.expect("no panic");
        v
    })
}

/// `n` lock + unlock pairs of a hub mutex shared by `tasks` tasks, which
/// yield while they hold it when there are several (`n` rounded up to a
/// multiple of `tasks`).
#[inline(never)]
fn mutex_locks(tasks: usize, n: usize) -> usize {
    use greenlet::hub::{self, sync::Mutex};
    let each = n.div_ceil(tasks);
    let m = std::rc::Rc::new(Mutex::new(0usize));
    let all: Vec<_> = (0..tasks)
        .map(|_| {
            let m = std::rc::Rc::clone(&m);
            hub::spawn(move || {
                for _ in 0..each {
                    let mut g = m.lock();
                    *g += 1;
                    if tasks > 1 {
                        hub::sleep(std::time::Duration::ZERO);
                    }
                    drop(black_box(g));
                }
            })
        })
        .collect();
    assert_eq!(hub::join_all(&all, None), tasks);
    *m.lock()
}

/// The peer of `mutex_locks`: a `tokio::sync::Mutex`.
#[inline(never)]
fn tokio_mutex_locks(tasks: usize, n: usize) -> usize {
    let each = n.div_ceil(tasks);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let m = std::sync::Arc::new(tokio::sync::Mutex::new(0usize));
        let all: Vec<_> = (0..tasks)
            .map(|_| {
                let m = std::sync::Arc::clone(&m);
                tokio::spawn(async move {
                    for _ in 0..each {
                        let mut g = m.lock().await;
                        *g += 1;
                        if tasks > 1 {
                            tokio::task::yield_now().await;
                        }
                        drop(black_box(g));
                    }
                })
            })
            .collect();
        for h in all {
            h.await.expect("no panic");
        }
        *m.lock().await
    })
}

/// Tasks of `mutex_contended` and `tokio_mutex_contended`.
const CONTENDERS: usize = 100;

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
            "usage: switch_counts <raw|greenlet|generator|create|corosensei|corosensei_create|call|hub_yield|hub_yield_pair|succession|timeout_task|tokio_yield|queue_msg|tokio_queue_msg|mutex_lock|tokio_mutex_lock|mutex_contended|tokio_mutex_contended|udp_echo|tokio_udp_echo> <n>"
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
        "succession" => successions(n),
        "timeout_task" => timeout_tasks(n / 100) * 100,
        "tokio_yield" => tokio_yields(n),
        "queue_msg" => queue_msgs(n),
        "tokio_queue_msg" => tokio_queue_msgs(n),
        "mutex_lock" => mutex_locks(1, n),
        "tokio_mutex_lock" => tokio_mutex_locks(1, n),
        "mutex_contended" => mutex_locks(CONTENDERS, n),
        "tokio_mutex_contended" => tokio_mutex_locks(CONTENDERS, n),
        "udp_echo" => udp_echo::hub_round_trips(n as u64).0 as usize,
        "tokio_udp_echo" => {
            udp_echo::tokio_round_trips(&udp_echo::tokio_runtime(), n as u64).0 as usize
        }
        other => {
            eprintln!("unknown kind {other}");
            std::process::exit(2);
        }
    };
    assert_eq!(x, n, "every round trip (message, lock) adds one");
}
