//! `hub::spawn_blocking` (API.md §3c): work on a worker thread while the
//! caller waits in the hub and the other greenlets run; panics come back;
//! kill and with_timeout end the caller's wait; waiting for a worker is
//! never a deadlock.
//!
//! Each test runs on its own thread, so each has its own hub.

#[path = "common/hub_deadlock.rs"]
#[allow(dead_code, reason = "this file uses on_own_thread only")]
mod hub_deadlock;
#[path = "common/panic_text.rs"]
mod panic_text;
#[path = "common/quiet.rs"]
mod quiet;

use greenlet::hub::{self, Elapsed};
use hub_deadlock::on_own_thread;
use panic_text::panic_text;
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// 1,000 tasks each make one 1 ms blocking call; a ticker task sleeps 5 ms
/// at a time meanwhile. The calls overlap on the pool's threads (1,000 in a
/// row would take at least 1 s), and the ticker keeps ticking.
#[test]
fn a_thousand_blocking_calls_overlap_and_the_hub_keeps_ticking() {
    on_own_thread(LIMIT, || {
        let running = Rc::new(Cell::new(true));
        let ticker = {
            let running = Rc::clone(&running);
            hub::spawn(move || {
                let (mut ticks, mut worst) = (0u32, Duration::ZERO);
                let mut last = Instant::now();
                while running.get() {
                    hub::sleep(ms(5));
                    let now = Instant::now();
                    worst = worst.max(now - last);
                    last = now;
                    ticks += 1;
                }
                (ticks, worst)
            })
        };
        let started = Instant::now();
        let calls: Vec<_> = (0..1000u64)
            .map(|i| {
                hub::spawn(move || {
                    hub::spawn_blocking(move || {
                        thread::sleep(ms(1));
                        i * 2
                    })
                })
            })
            .collect();
        for (i, c) in calls.into_iter().enumerate() {
            assert_eq!(c.get().unwrap(), i as u64 * 2);
        }
        let elapsed = started.elapsed();
        running.set(false);
        let (ticks, worst) = ticker.get().unwrap();
        let (_, pool) = hub::blocking_threads();
        println!(
            "1,000 blocking calls of 1 ms on {pool} threads: {elapsed:?} \
             (ideal {:?}); {ticks} ticks, worst tick gap {worst:?}",
            ms(1000 / pool as u64)
        );
        assert!(
            elapsed < ms(1000),
            "the calls did not overlap: {elapsed:?} for 1,000 calls of 1 ms"
        );
        assert!(ticks >= 1, "the ticker never ran while the calls waited");
    });
}

#[test]
fn the_result_comes_back_and_the_work_runs_on_another_thread() {
    on_own_thread(LIMIT, || {
        let me = thread::current().id();
        let (value, worker) = hub::spawn_blocking(|| (41 + 1, thread::current().id()));
        assert_eq!(value, 42);
        assert_ne!(worker, me);
        // Main alone waits for a worker: a wake source, not a deadlock.
        let slow = hub::spawn_blocking(|| {
            thread::sleep(ms(50));
            "slow"
        });
        assert_eq!(slow, "slow");
        assert_eq!(hub::parked_count(), 0);
    });
}

#[test]
fn a_panic_of_the_function_continues_in_the_caller() {
    quiet::quiet_panics(|p| panic_text(p).contains("boom in a worker"));
    on_own_thread(LIMIT, || {
        let r = panic::catch_unwind(AssertUnwindSafe(|| {
            hub::spawn_blocking(|| -> u32 { panic!("boom in a worker") })
        }));
        assert_eq!(panic_text(&*r.unwrap_err()), "boom in a worker");
        // The pool goes on.
        assert_eq!(hub::spawn_blocking(|| 7), 7);
        assert_eq!(hub::parked_count(), 0);
    });
}

/// Dropped on the thread that drops it, recording whether that was the
/// worker's.
struct Witness {
    hub_thread: thread::ThreadId,
    dropped_on_worker: Arc<AtomicBool>,
    dropped: Arc<AtomicUsize>,
}

impl Drop for Witness {
    fn drop(&mut self) {
        if thread::current().id() != self.hub_thread {
            self.dropped_on_worker.store(true, Ordering::SeqCst);
        }
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_killed_caller_stops_waiting_and_the_result_is_dropped_by_the_worker() {
    on_own_thread(LIMIT, || {
        let on_worker = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicBool::new(false));
        let task = {
            let (on_worker, dropped, finished) = (
                Arc::clone(&on_worker),
                Arc::clone(&dropped),
                Arc::clone(&finished),
            );
            hub::spawn(move || {
                let hub_thread = thread::current().id();
                let w = hub::spawn_blocking(move || {
                    thread::sleep(ms(300));
                    finished.store(true, Ordering::SeqCst);
                    Witness {
                        hub_thread,
                        dropped_on_worker: on_worker,
                        dropped,
                    }
                });
                drop(w);
                unreachable!("killed while waiting");
            })
        };
        hub::sleep(ms(20));
        let t = Instant::now();
        task.kill();
        assert!(task.is_ready());
        assert!(
            t.elapsed() < ms(250),
            "kill waited for the worker: {:?}",
            t.elapsed()
        );
        assert!(!finished.load(Ordering::SeqCst), "the worker is still busy");
        assert_eq!(hub::parked_count(), 0, "the killed wait left its park");
        // The worker finishes on its own and drops the result there.
        let deadline = Instant::now() + Duration::from_secs(20);
        while dropped.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "the result was never dropped");
            hub::sleep(ms(5));
        }
        assert!(
            on_worker.load(Ordering::SeqCst),
            "dropped on the hub's thread"
        );
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn with_timeout_ends_the_wait_for_a_slow_call() {
    on_own_thread(LIMIT, || {
        let t = Instant::now();
        let r = hub::with_timeout(ms(30), || {
            hub::spawn_blocking(|| {
                thread::sleep(ms(400));
                1
            })
        });
        assert_eq!(r, Err(Elapsed));
        assert!(
            t.elapsed() < ms(350),
            "waited for the worker: {:?}",
            t.elapsed()
        );
        assert_eq!(hub::parked_count(), 0);
        // A fast call afterwards is unaffected.
        assert_eq!(
            hub::with_timeout(Duration::from_secs(20), || hub::spawn_blocking(|| 5)),
            Ok(5)
        );
    });
}

/// More calls than the pool has threads: the extra ones wait for a free
/// thread, and the callers' waits are not a deadlock.
#[test]
fn calls_beyond_the_pool_size_wait_for_a_free_thread() {
    on_own_thread(LIMIT, || {
        let (_, max) = hub::blocking_threads();
        let n = max * 2 + 3;
        let calls: Vec<_> = (0..n)
            .map(|i| {
                hub::spawn(move || {
                    hub::spawn_blocking(move || {
                        thread::sleep(ms(5));
                        i
                    })
                })
            })
            .collect();
        for (i, c) in calls.into_iter().enumerate() {
            assert_eq!(c.get().unwrap(), i);
        }
        let (running, max_after) = hub::blocking_threads();
        assert!(
            running <= max_after,
            "{running} threads for a bound of {max_after}"
        );
    });
}

/// At thread exit the hub's teardown kills a task whose destructor calls
/// `spawn_blocking`: no hub loop runs any more, so the call blocks the
/// thread until the worker is done, and returns its result.
#[test]
fn a_call_made_while_the_hub_shuts_down_blocks_the_thread_until_done() {
    struct CallOnDrop(Arc<AtomicUsize>);
    impl Drop for CallOnDrop {
        fn drop(&mut self) {
            let v = hub::spawn_blocking(|| {
                thread::sleep(ms(20));
                7
            });
            self.0.store(v, Ordering::SeqCst);
        }
    }
    let got = Arc::new(AtomicUsize::new(0));
    let inner = Arc::clone(&got);
    thread::spawn(move || {
        let _task = hub::spawn(move || {
            let _call = CallOnDrop(inner);
            hub::sleep(Duration::from_secs(3600));
        });
        hub::sleep(ms(1));
    })
    .join()
    .unwrap();
    assert_eq!(got.load(Ordering::SeqCst), 7);
}
