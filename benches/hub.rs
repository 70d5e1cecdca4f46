//! The hub against tokio's `current_thread` runtime, in the same criterion
//! run:
//!
//! * `echo/<server>/<connections>`: round trips per second of a 64-byte
//!   echo over loopback with 1, 100 and 1,000 connections. The server runs
//!   on its own thread: the hub's (`examples/common/echo.rs`) or an
//!   equivalent tokio `current_thread` server. The client is the same for
//!   both: this thread's hub, one greenlet per connection. One iteration is
//!   one round trip on every connection. The client is pinned to CPU 0 and
//!   the servers to CPU 1.
//! * `echo_server_cpu/<server>/<connections>`: the same, timed by the
//!   server thread's CPU time: what a round trip costs the server.
//! * `yield/<runtime>`: 100,000 greenlets (tasks) each yielding 10 times
//!   (`hub::sleep(ZERO)`, `tokio::task::yield_now`): one iteration is the
//!   whole run, spawn to join, so the time per yield is the iteration time
//!   over 1,000,000.
//! * `yield_one/<runtime>`: one task yielding in a loop: the cost of one
//!   trip through the scheduler without the spawn and the cache misses of
//!   100,000 stacks.
//! * `queue_pingpong/<runtime>`: two tasks passing a `u64` back and forth
//!   over two unbounded channels (`hub::sync::Queue`,
//!   `tokio::sync::mpsc::unbounded_channel`): one iteration is one message
//!   (half a round trip), so the time reported is the time per message.
//! * `mutex/<runtime>/uncontended`: one task locking and unlocking a mutex
//!   (`hub::sync::Mutex`, `tokio::sync::Mutex`) in a loop; one iteration is
//!   one lock + unlock.
//! * `mutex/<runtime>/contended100`: 100 tasks each locking, yielding while
//!   they hold the lock (so that the other 99 queue up on it), and
//!   unlocking, in a loop; one iteration is one lock + unlock of one task,
//!   hand-off to the next waiter included.
//! * `udp_echo/<runtime>`: UDP echo round trips on one thread; see the
//!   section at the end of this file.
//!
//! `cargo bench --bench hub`.

#[path = "../examples/common/echo.rs"]
mod echo;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use greenlet::hub::{
    self,
    net::TcpListener,
    sync::{Mutex, Queue},
};
use std::cell::RefCell;
use std::hint::black_box;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Pin the calling thread to CPU `cpu` (if the machine has it), so that the
/// server and the client each keep a core of their own in every run: the
/// scheduler moving them around is most of the run-to-run noise here.
fn pin(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes
    // inside it; sched_setaffinity only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set);
    }
}

/// A server thread: its address and the clock of its CPU time.
#[derive(Clone, Copy)]
struct Server {
    addr: SocketAddr,
    clock: libc::clockid_t,
}

/// The CPU-time clock of the calling thread.
fn thread_clock() -> libc::clockid_t {
    let mut clock = 0;
    // SAFETY: pthread_self is this thread; the id is written to a local.
    let rc = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut clock) };
    assert_eq!(rc, 0, "pthread_getcpuclockid");
    clock
}

/// The CPU time `clock` has counted.
fn cpu_time(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes one timespec to a local.
    assert_eq!(unsafe { libc::clock_gettime(clock, &mut ts) }, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Start `serve` on a thread of its own (pinned to CPU 1).
fn server(serve: impl FnOnce(std::net::TcpListener) + Send + 'static) -> Server {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        pin(1);
        tx.send(thread_clock()).expect("send clock");
        serve(l)
    });
    let clock = rx.recv().expect("server clock");
    Server { addr, clock }
}

fn greenlet_server() -> Server {
    server(|l| echo::serve(TcpListener::from_std(l).expect("register"), 0))
}

fn tokio_server() -> Server {
    server(|l| {
        l.set_nonblocking(true).expect("nonblocking");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(l).expect("register");
            loop {
                let (mut s, _) = l.accept().await.expect("accept");
                let _ = s.set_nodelay(true);
                tokio::spawn(async move {
                    let mut buf = [0u8; 16 * 1024];
                    loop {
                        let n = match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        if s.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        })
    })
}

/// What an echo iteration reports: wall time, or the server thread's CPU
/// time.
#[derive(Clone, Copy)]
enum Clock {
    Wall,
    ServerCpu,
}

fn echo_group(c: &mut Criterion, group: &str, clock: Clock) {
    let mut g = c.benchmark_group(group);
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_millis(500));
    pin(0); // the client: this thread
    let servers = [
        ("greenlet_hub", greenlet_server()),
        ("tokio_current_thread", tokio_server()),
    ];
    for conns in [1usize, 100, 1000] {
        g.throughput(Throughput::Elements(conns as u64));
        for (name, server) in servers {
            // Connections persist across samples (connecting is not timed).
            let streams = RefCell::new(Some(echo::connect_all(server.addr, conns)));
            g.bench_with_input(BenchmarkId::new(name, conns), &conns, |b, _| {
                b.iter_custom(|iters| {
                    let s = streams.borrow_mut().take().expect("streams");
                    let (t, cpu) = (Instant::now(), cpu_time(server.clock));
                    let s = echo::run_rounds(s, iters);
                    let d = match clock {
                        Clock::Wall => t.elapsed(),
                        Clock::ServerCpu => cpu_time(server.clock).saturating_sub(cpu),
                    };
                    *streams.borrow_mut() = Some(s);
                    d
                })
            });
        }
    }
    g.finish();
}

fn echo_bench(c: &mut Criterion) {
    echo_group(c, "echo", Clock::Wall);
    // The same, timed by the server thread's CPU time (user + system): the
    // server's cost per round trip, without the wake-up latencies of idle
    // CPUs that dominate (and blur) the wall time here.
    echo_group(c, "echo_server_cpu", Clock::ServerCpu);
}

const TASKS: usize = 100_000;
const YIELDS: usize = 10;

fn yield_bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("yield");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements((TASKS * YIELDS) as u64));
    g.bench_function("greenlet_hub", |b| {
        b.iter(|| {
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| {
                    hub::spawn(|| {
                        for _ in 0..YIELDS {
                            hub::sleep(Duration::ZERO);
                        }
                    })
                })
                .collect();
            assert_eq!(hub::join_all(&tasks, None), TASKS);
        })
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    g.bench_function("tokio_current_thread", |b| {
        b.iter(|| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..TASKS)
                    .map(|_| {
                        tokio::spawn(async {
                            for _ in 0..YIELDS {
                                tokio::task::yield_now().await;
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.expect("task");
                }
            })
        })
    });
    g.finish();
}

fn yield_one_bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("yield_one");
    g.bench_function("greenlet_hub", |b| {
        b.iter_custom(|iters| {
            let t = hub::spawn(move || {
                let t = Instant::now();
                for _ in 0..iters {
                    hub::sleep(Duration::ZERO);
                }
                t.elapsed()
            });
            t.get().expect("no panic")
        })
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    g.bench_function("tokio_current_thread", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                tokio::spawn(async move {
                    let t = Instant::now();
                    for _ in 0..iters {
                        tokio::task::yield_now().await;
                    }
                    t.elapsed()
                })
                .await
                .expect("no panic")
            })
        })
    });
    g.finish();
}

/// `elapsed` for `done` units of work, scaled to `wanted` units (a run may
/// do one message more than asked, to end on a whole round trip).
fn scaled(elapsed: Duration, done: u64, wanted: u64) -> Duration {
    if done == wanted || done == 0 {
        elapsed
    } else {
        elapsed.mul_f64(wanted as f64 / done as f64)
    }
}

/// `msgs` messages between two hub tasks over two queues; the time they took
/// (scaled to exactly `msgs`).
fn hub_pingpong(msgs: u64) -> Duration {
    let (ping, pong) = (Queue::<u64>::new(), Queue::<u64>::new());
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
    let t = hub::spawn(move || {
        let t = Instant::now();
        let mut v = 0;
        while v < msgs {
            ping.put(v + 1).expect("open");
            v = pong.get().expect("open");
        }
        let d = t.elapsed();
        ping.close();
        scaled(d, v, msgs)
    });
    let d = t.get().expect("no panic");
    echo.get().expect("no panic");
    d
}

/// The same with two tokio tasks and two unbounded mpsc channels.
fn tokio_pingpong(rt: &tokio::runtime::Runtime, msgs: u64) -> Duration {
    use tokio::sync::mpsc::unbounded_channel;
    rt.block_on(async move {
        let (ping_tx, mut ping_rx) = unbounded_channel::<u64>();
        let (pong_tx, mut pong_rx) = unbounded_channel::<u64>();
        let echo = tokio::spawn(async move {
            while let Some(v) = ping_rx.recv().await {
                if pong_tx.send(v + 1).is_err() {
                    break;
                }
            }
        });
        let t = tokio::spawn(async move {
            let t = Instant::now();
            let mut v = 0;
            while v < msgs {
                ping_tx.send(v + 1).expect("open");
                v = pong_rx.recv().await.expect("open");
            }
            let d = t.elapsed();
            drop(ping_tx);
            scaled(d, v, msgs)
        });
        let d = t.await.expect("no panic");
        echo.await.expect("no panic");
        d
    })
}

fn queue_pingpong_bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("queue_pingpong");
    g.throughput(Throughput::Elements(1)); // one message
    g.bench_function("greenlet_hub", |b| b.iter_custom(hub_pingpong));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    g.bench_function("tokio_current_thread", |b| {
        b.iter_custom(|iters| tokio_pingpong(&rt, iters))
    });
    g.finish();
}

/// Tasks of `mutex/<runtime>/contended100`.
const CONTENDERS: u64 = 100;

/// `locks` lock + unlock pairs, `tasks` tasks sharing them (each yields while
/// it holds the lock when there are several); their time.
fn hub_mutex(tasks: u64, locks: u64) -> Duration {
    let each = locks.div_ceil(tasks);
    let m = Rc::new(Mutex::new(0u64));
    let t = Instant::now();
    let all: Vec<_> = (0..tasks)
        .map(|_| {
            let m = Rc::clone(&m);
            hub::spawn(move || {
                for _ in 0..each {
                    let mut g = m.lock();
                    *g += 1;
                    if tasks > 1 {
                        hub::sleep(Duration::ZERO);
                    }
                    drop(black_box(g));
                }
            })
        })
        .collect();
    assert_eq!(hub::join_all(&all, None), all.len());
    let d = t.elapsed();
    assert_eq!(*m.lock(), each * tasks);
    scaled(d, each * tasks, locks)
}

fn tokio_mutex(rt: &tokio::runtime::Runtime, tasks: u64, locks: u64) -> Duration {
    let each = locks.div_ceil(tasks);
    rt.block_on(async move {
        let m = Arc::new(tokio::sync::Mutex::new(0u64));
        let t = Instant::now();
        let all: Vec<_> = (0..tasks)
            .map(|_| {
                let m = Arc::clone(&m);
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
        let d = t.elapsed();
        assert_eq!(*m.lock().await, each * tasks);
        scaled(d, each * tasks, locks)
    })
}

fn mutex_bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("mutex");
    g.throughput(Throughput::Elements(1)); // one lock + unlock
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    for (case, tasks) in [("uncontended", 1), ("contended100", CONTENDERS)] {
        g.bench_function(format!("greenlet_hub/{case}"), |b| {
            b.iter_custom(|iters| hub_mutex(tasks, iters))
        });
        g.bench_function(format!("tokio_current_thread/{case}"), |b| {
            b.iter_custom(|iters| tokio_mutex(&rt, tasks, iters))
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    echo_bench,
    yield_bench,
    yield_one_bench,
    queue_pingpong_bench,
    mutex_bench
);
criterion_main!(benches, udp_benches);

// ---------------------------------------------------------------------------
// UDP echo (issue 15).
//
// `udp_echo/<runtime>`: a client and an echo server on one thread (one hub,
// or one tokio `current_thread` runtime), two UDP sockets over loopback
// (`examples/common/udp_echo.rs`). One iteration is one round trip of a
// 64-byte datagram. The sockets are made anew for each sample, outside the
// timed part.

#[path = "../examples/common/udp_echo.rs"]
mod udp_echo;

fn udp_echo_bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("udp_echo");
    g.throughput(Throughput::Elements(1)); // one round trip
    g.bench_function("greenlet_hub", |b| {
        b.iter_custom(|iters| udp_echo::hub_round_trips(iters).1)
    });
    let rt = udp_echo::tokio_runtime();
    g.bench_function("tokio_current_thread", |b| {
        b.iter_custom(|iters| udp_echo::tokio_round_trips(&rt, iters).1)
    });
    g.finish();
}

criterion_group!(udp_benches, udp_echo_bench);
