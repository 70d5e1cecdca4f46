//! The rest of the hub's toolkit (API.md §3b): `Pool`, `spawn_later`,
//! `wait_any`, `kill_all`; and §3's rule that a generator resumed by a task
//! runs as part of that task, so that `with_timeout` and `kill` interrupt a
//! blocking call inside its body, at any depth of generators.
//!
//! Each test runs on its own thread, so each has its own hub.

#[path = "common/counted.rs"]
mod counted;
#[path = "common/hub_deadlock.rs"]
mod hub_deadlock;
#[path = "common/panic_text.rs"]
mod panic_text;
#[path = "common/quiet.rs"]
mod quiet;

use counted::Counted;
use greenlet::hub::sync::Event;
use greenlet::hub::{self, Elapsed, Pool, Task};
use greenlet::{Generator, GreenletExit, Yielder};
use hub_deadlock::{assert_deadlock_in, on_own_thread};
use panic_text::panic_text;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

const ZERO: Duration = Duration::ZERO;
/// Long enough never to end during a test.
const HOUR: Duration = Duration::from_secs(3600);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Keep the expected panics (deadlocks, panics "on purpose") off stderr.
fn quiet() {
    quiet::quiet_panics(|p| {
        let t = panic_text(p);
        t.contains("deadlock") || t.contains("on purpose")
    });
}

/// A count of tasks running now, and the most seen at once.
#[derive(Clone, Default)]
struct Alive {
    now: Rc<Cell<usize>>,
    max: Rc<Cell<usize>>,
}

impl Alive {
    fn enter(&self) -> AliveGuard {
        self.now.set(self.now.get() + 1);
        self.max.set(self.max.get().max(self.now.get()));
        AliveGuard(self.now.clone())
    }
}

struct AliveGuard(Rc<Cell<usize>>);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

fn fail_on_purpose(what: &str) {
    panic!("{what} failing on purpose");
}

// ===========================================================================
// Pool.

#[test]
fn pool_of_size_zero_panics() {
    let r = panic::catch_unwind(|| Pool::new(0));
    assert!(r.is_err(), "Pool::new(0) must panic");
}

#[test]
fn pool_keeps_at_most_size_tasks_alive() {
    let pool = Pool::new(3);
    let alive = Alive::default();
    let mut tasks = Vec::new();
    for i in 0..10u64 {
        let a = alive.clone();
        tasks.push(pool.spawn(move || {
            let _g = a.enter();
            hub::sleep(ms(3 + i % 3));
            i
        }));
        assert!(pool.len() <= 3, "after spawn {i}: {} alive", pool.len());
    }
    assert!(pool.join(Some(Duration::from_secs(30))));
    assert_eq!(alive.max.get(), 3, "at most 3 at once, and it did fill up");
    let results: Vec<u64> = tasks.into_iter().map(|t| t.get().unwrap()).collect();
    assert_eq!(results, (0..10).collect::<Vec<_>>());
    assert_eq!(pool.len(), 0);
    assert!(pool.is_empty());
}

#[test]
fn pool_spawn_waits_while_full() {
    let pool = Pool::new(1);
    let e = Event::new();
    let e2 = e.clone();
    let first = pool.spawn(move || {
        e2.wait(None);
        "first"
    });
    let e3 = e.clone();
    let setter = hub::spawn(move || {
        hub::sleep(ms(20));
        e3.set();
    });
    let t0 = Instant::now();
    let second = pool.spawn(|| "second");
    assert!(
        t0.elapsed() >= ms(20),
        "spawn returned while the pool was full"
    );
    assert!(
        first.is_ready(),
        "spawn returns once the first task is dead"
    );
    assert!(pool.len() <= 1);
    assert_eq!(first.get().unwrap(), "first");
    assert_eq!(second.get().unwrap(), "second");
    setter.get().unwrap();
}

#[test]
fn pool_len_counts_tasks_from_spawn_until_death_started_or_not() {
    quiet();
    let pool = Pool::new(3);
    assert_eq!(pool.len(), 0);
    let a = pool.spawn(|| hub::sleep(ms(10)));
    assert_eq!(pool.len(), 1, "an unstarted task counts");
    let b = pool.spawn(|| hub::sleep(HOUR));
    let c = pool.spawn(|| {
        hub::sleep(ms(1));
        fail_on_purpose("pool task");
    });
    assert_eq!(pool.len(), 3);
    hub::sleep(ZERO);
    assert_eq!(pool.len(), 3, "started and waiting, still counted");
    assert!(a.join(None));
    assert!(c.join(None));
    assert_eq!(pool.len(), 1, "finished and panicked tasks no longer count");
    b.kill();
    assert_eq!(pool.len(), 0, "a killed task no longer counts");
    assert!(c.get().is_err());
    // Killed before it started.
    let d = pool.spawn(|| ());
    assert_eq!(pool.len(), 1);
    d.kill();
    assert_eq!(pool.len(), 0);
}

#[test]
fn pool_join_with_and_without_timeout() {
    let pool = Pool::new(4);
    assert!(pool.join(None), "an empty pool has nothing to wait for");
    assert!(pool.join(Some(ZERO)));
    let done = Rc::new(Cell::new(0));
    for d in [5, 10, 500] {
        let done = done.clone();
        drop(pool.spawn(move || {
            hub::sleep(ms(d));
            done.set(done.get() + 1);
        }));
    }
    let t0 = Instant::now();
    assert!(!pool.join(Some(ms(40))), "the 500 ms task is still running");
    assert!(t0.elapsed() >= ms(40), "join's timeout never ends early");
    assert_eq!(done.get(), 2);
    assert_eq!(pool.len(), 1);
    assert!(pool.join(None));
    assert_eq!(done.get(), 3, "join(None) returns once all have finished");
    assert_eq!(pool.len(), 0);
}

#[test]
fn pool_kill_kills_all_its_tasks_and_returns_when_they_are_dead() {
    let pool = Pool::new(5);
    let before = hub::parked_count();
    let drops = Rc::new(Cell::new(0));
    let e = Event::new();
    let mut tasks: Vec<Task<()>> = Vec::new();
    for i in 0..4u32 {
        let guard = Counted(drops.clone());
        let e = e.clone();
        tasks.push(pool.spawn(move || {
            let _g = guard;
            if i.is_multiple_of(2) {
                hub::sleep(HOUR);
            } else {
                e.wait(None);
            }
            panic!("task {i} survived the kill")
        }));
    }
    hub::sleep(ZERO); // all four start and wait
    let guard = Counted(drops.clone());
    tasks.push(pool.spawn(move || {
        let _g = guard; // never runs: killed before it starts
    }));
    let unrelated = hub::spawn(|| hub::sleep(ms(50)));
    pool.kill();
    assert!(
        tasks.iter().all(Task::is_ready),
        "all dead when kill returns"
    );
    assert_eq!(
        drops.get(),
        5,
        "every task's destructors ran (or its closure was dropped)"
    );
    assert_eq!(pool.len(), 0);
    for (i, t) in tasks.into_iter().enumerate() {
        let err = t.get().expect_err("killed");
        assert!(err.is::<GreenletExit>(), "task {i}: {}", panic_text(&*err));
    }
    assert!(
        !unrelated.is_ready(),
        "a task outside the pool is untouched"
    );
    // (A killed unstarted task's start may stay queued until the hub's
    // next turn: count after one.)
    hub::sleep(ZERO);
    assert_eq!(
        hub::parked_count(),
        before + 1,
        "only the unrelated task is parked"
    );
    unrelated.get().unwrap();
    assert_eq!(e.waiter_count(), 0);
    assert_eq!(hub::parked_count(), before);
    // The pool still works.
    assert_eq!(pool.spawn(|| 5).get().unwrap(), 5);
}

#[test]
fn pool_map_returns_results_in_input_order() {
    let pool = Pool::new(2);
    let alive = Alive::default();
    let order = Rc::new(RefCell::new(Vec::new()));
    let (a, o) = (alive.clone(), order.clone());
    let out = pool.map(vec![30u64, 5, 20, 1, 10], move |d| {
        let _g = a.enter();
        hub::sleep(ms(d));
        o.borrow_mut().push(d);
        d * 2
    });
    assert_eq!(out, [60, 10, 40, 2, 20], "results in input order");
    assert_ne!(
        *order.borrow(),
        [30, 5, 20, 1, 10],
        "they finished in another order (else this checks nothing)"
    );
    assert!(alive.max.get() <= 2, "map keeps to the pool's size");
    assert_eq!(pool.map(Vec::<u32>::new(), |x| x), Vec::<u32>::new());
    assert_eq!(pool.len(), 0);
}

#[test]
fn pool_map_panic_in_one_item_continues_in_the_caller() {
    quiet();
    let pool = Pool::new(3);
    let r = panic::catch_unwind(AssertUnwindSafe(|| {
        pool.map(0..6u32, |i| {
            hub::sleep(ms(u64::from(i)));
            if i == 3 {
                panic!("item 3 failed on purpose");
            }
            i
        })
    }));
    let err = r.expect_err("map must panic");
    assert_eq!(panic_text(&*err), "item 3 failed on purpose");
    // The pool is usable afterwards.
    assert!(pool.join(Some(Duration::from_secs(10))));
    assert_eq!(pool.map(0..3u32, |i| i + 1), [1, 2, 3]);
}

#[test]
fn pool_spawn_that_nothing_can_end_is_a_deadlock() {
    assert_deadlock_in("Pool::spawn", || {
        let pool = Pool::new(1);
        let _t = pool.spawn(|| {
            Event::new().wait(None);
        });
        let _ = pool.spawn(|| ());
    });
}

// ===========================================================================
// spawn_later.

#[test]
fn spawn_later_starts_no_earlier_than_its_delay() {
    let t0 = Instant::now();
    let t = hub::spawn_later(ms(30), move || t0.elapsed());
    assert!(!t.is_ready());
    let started = t.get().unwrap();
    assert!(started >= ms(30), "started after {started:?}");
    assert!(
        started < Duration::from_secs(5),
        "started after {started:?}"
    );
}

#[test]
fn spawn_later_tasks_start_in_deadline_order() {
    let order = Rc::new(RefCell::new(Vec::new()));
    // Gaps of 100 ms: far more than starting three tasks takes, even under
    // Valgrind (with 10 ms gaps a slow start reordered them there).
    let tasks: Vec<Task<()>> = [300u64, 100, 200]
        .into_iter()
        .map(|d| {
            let o = order.clone();
            hub::spawn_later(ms(d), move || o.borrow_mut().push(d))
        })
        .collect();
    assert_eq!(hub::join_all(&tasks, None), 3);
    assert_eq!(*order.borrow(), [100, 200, 300]);
}

#[test]
fn spawn_later_killed_before_it_starts_never_runs() {
    let before = hub::parked_count();
    let ran = Rc::new(Cell::new(false));
    let drops = Rc::new(Cell::new(0));
    let (r, guard) = (ran.clone(), Counted(drops.clone()));
    let t = hub::spawn_later(ms(20), move || {
        let _g = guard;
        r.set(true);
    });
    hub::sleep(ZERO);
    assert!(!t.is_ready());
    t.kill();
    assert!(t.is_ready());
    assert!(!ran.get(), "killed before it started");
    assert_eq!(drops.get(), 1, "its closure was dropped");
    hub::sleep(ms(40));
    assert!(!ran.get(), "a killed spawn_later never runs");
    assert!(t.get().expect_err("killed").is::<GreenletExit>());
    assert_eq!(hub::parked_count(), before, "nothing of it is left");
}

// ===========================================================================
// wait_any.

#[test]
fn wait_any_returns_the_first_to_finish() {
    // Gaps of 100 ms, as above.
    let tasks: Vec<Task<u64>> = [300u64, 100, 200]
        .into_iter()
        .map(|d| {
            hub::spawn(move || {
                hub::sleep(ms(d));
                d
            })
        })
        .collect();
    let t0 = Instant::now();
    assert_eq!(hub::wait_any(&tasks, None), Some(1));
    assert!(t0.elapsed() >= ms(100));
    assert!(tasks[1].is_ready());
    assert!(!tasks[0].is_ready());
    assert_eq!(hub::join_all(&tasks, None), 3);
}

#[test]
fn wait_any_returns_the_lowest_finished_index() {
    let tasks: Vec<Task<u32>> = vec![
        hub::spawn(|| {
            hub::sleep(HOUR);
            0
        }),
        hub::spawn(|| 1),
        hub::spawn(|| 2),
    ];
    hub::sleep(ZERO);
    assert!(tasks[1].is_ready() && tasks[2].is_ready());
    assert_eq!(hub::wait_any(&tasks, None), Some(1));
    assert_eq!(hub::wait_any(&tasks, Some(ZERO)), Some(1));
    assert_eq!(hub::wait_any(&tasks[2..], None), Some(0));
    tasks[0].kill();
    assert_eq!(hub::wait_any(&tasks, None), Some(0));
}

#[test]
fn wait_any_times_out_with_none_and_leaves_nothing_registered() {
    let tasks = vec![
        hub::spawn(|| hub::sleep(HOUR)),
        hub::spawn(|| hub::sleep(HOUR)),
    ];
    hub::sleep(ZERO);
    let before = hub::parked_count();
    let t0 = Instant::now();
    assert_eq!(hub::wait_any(&tasks, Some(ms(20))), None);
    assert!(t0.elapsed() >= ms(20), "never ends early");
    assert_eq!(hub::parked_count(), before);
    assert_eq!(
        hub::with_timeout(ms(20), || hub::wait_any(&tasks, None)),
        Err(Elapsed)
    );
    assert_eq!(hub::parked_count(), before);
    tasks[1].kill();
    assert_eq!(hub::wait_any(&tasks, Some(HOUR)), Some(1));
    tasks[0].kill();
}

#[test]
fn wait_any_of_no_tasks_is_none_at_once() {
    let t0 = Instant::now();
    assert_eq!(hub::wait_any::<()>(&[], None), None);
    assert_eq!(hub::wait_any::<()>(&[], Some(HOUR)), None);
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
}

#[test]
fn wait_any_that_nothing_can_end_is_a_deadlock() {
    assert_deadlock_in("hub::wait_any", || {
        let e = Event::new();
        let tasks: Vec<Task<bool>> = (0..2)
            .map(|_| {
                let e = e.clone();
                hub::spawn(move || e.wait(None))
            })
            .collect();
        drop(e);
        hub::wait_any(&tasks, None);
    });
}

#[test]
fn task_join_that_nothing_can_end_is_a_deadlock() {
    assert_deadlock_in("Task::join", || {
        let t = hub::spawn(|| Event::new().wait(None));
        t.join(None);
    });
}

// ===========================================================================
// kill_all.

#[test]
fn kill_all_returns_when_all_are_dead() {
    let before = hub::parked_count();
    let drops = Rc::new(Cell::new(0));
    let e = Event::new();
    let mk = |i: u32| {
        let guard = Counted(drops.clone());
        let e = e.clone();
        hub::spawn(move || -> u32 {
            let _g = guard;
            if i.is_multiple_of(2) {
                hub::sleep(HOUR);
            } else {
                e.wait(None);
            }
            i
        })
    };
    let mut tasks: Vec<Task<u32>> = (0..3).map(mk).collect();
    hub::sleep(ZERO);
    tasks.push(mk(3)); // unstarted
    hub::kill_all(&tasks);
    assert!(tasks.iter().all(Task::is_ready));
    assert_eq!(drops.get(), 4, "every task's destructors ran");
    for (i, t) in tasks.into_iter().enumerate() {
        let err = t.get().expect_err("killed");
        assert!(err.is::<GreenletExit>(), "task {i}: {}", panic_text(&*err));
    }
    assert_eq!(e.waiter_count(), 0);
    // (A killed unstarted task's start may stay queued until the hub's
    // next turn: count after one.)
    hub::sleep(ZERO);
    assert_eq!(hub::parked_count(), before);
    hub::kill_all::<()>(&[]);
}

// ===========================================================================
// Generators resumed by a task run as part of it (API.md §3).

/// Yields 0..5, sleeping 100 ms before each; counts its drops.
fn slow_generator(drops: Rc<Cell<u32>>) -> Generator<(), u32> {
    Generator::new(move |y: &Yielder<(), u32>, ()| {
        let _g = Counted(drops);
        for i in 0..5 {
            hub::sleep(ms(100));
            y.suspend(i);
        }
    })
}

/// A generator whose body drives a [`slow_generator`].
fn outer_generator(drops: Rc<Cell<u32>>) -> Generator<(), u32> {
    Generator::new(move |y: &Yielder<(), u32>, ()| {
        let _g = Counted(drops.clone());
        for v in slow_generator(drops) {
            y.suspend(v);
        }
    })
}

fn count_at_depth(depth: u32, drops: Rc<Cell<u32>>) -> usize {
    match depth {
        1 => slow_generator(drops).count(),
        _ => outer_generator(drops).count(),
    }
}

#[test]
fn with_timeout_interrupts_a_sleep_inside_a_generator() {
    for depth in [1, 2] {
        for in_task in [false, true] {
            let before = hub::parked_count();
            let drops = Rc::new(Cell::new(0));
            let d = drops.clone();
            let run = move || {
                let t0 = Instant::now();
                let r = hub::with_timeout(ms(120), || count_at_depth(depth, d));
                (r, t0.elapsed())
            };
            let (r, took) = if in_task {
                hub::spawn(run).get().expect("no panic")
            } else {
                run()
            };
            let what = format!("depth {depth}, in a task: {in_task}");
            assert_eq!(r, Err(Elapsed), "{what}: took {took:?}");
            assert!(took >= ms(120), "{what}: ended early: {took:?}");
            assert!(
                took < ms(400),
                "{what}: took {took:?}: the timeout did not interrupt the generator's sleep"
            );
            assert_eq!(
                drops.get(),
                depth,
                "{what}: every generator body was unwound"
            );
            assert_eq!(hub::parked_count(), before, "{what}: parks left behind");
        }
    }
}

#[test]
fn kill_interrupts_a_sleep_inside_a_generator() {
    for depth in [1u32, 2] {
        // On a thread of its own: a kill that cannot reach the generator's
        // sleep would hang.
        let (drops, took, exit, parked_before, parked_after) =
            on_own_thread(Duration::from_secs(20), move || {
                let before = hub::parked_count();
                let drops = Rc::new(Cell::new(0));
                let d = drops.clone();
                let t = hub::spawn(move || {
                    let _g = Counted(d.clone());
                    let g: Generator<(), u32> = if depth == 1 {
                        Generator::new(move |y: &Yielder<(), u32>, ()| {
                            let _g = Counted(d);
                            hub::sleep(HOUR);
                            y.suspend(1);
                        })
                    } else {
                        Generator::new(move |y: &Yielder<(), u32>, ()| {
                            let _g = Counted(d.clone());
                            let inner = Generator::new(move |y: &Yielder<(), u32>, ()| {
                                let _g = Counted(d);
                                hub::sleep(HOUR);
                                y.suspend(1);
                            });
                            for v in inner {
                                y.suspend(v);
                            }
                        })
                    };
                    g.count()
                });
                hub::sleep(ms(10));
                assert!(!t.is_ready());
                let t0 = Instant::now();
                t.kill();
                let took = t0.elapsed();
                let exit = t.get().err().is_some_and(|e| e.is::<GreenletExit>());
                (drops.get(), took, exit, before, hub::parked_count())
            });
        assert!(
            took < Duration::from_secs(2),
            "depth {depth}: kill took {took:?}"
        );
        assert_eq!(
            drops,
            depth + 1,
            "depth {depth}: the task's and every generator body's destructors ran"
        );
        assert!(exit, "depth {depth}: get() is Err(GreenletExit)");
        assert_eq!(
            parked_after, parked_before,
            "depth {depth}: parks left behind by the killed task"
        );
    }
}

#[test]
fn killing_a_task_before_it_starts_leaves_nothing_registered_at_once() {
    let before = hub::parked_count();
    let t = hub::spawn(|| 1);
    assert_eq!(hub::parked_count(), before + 1, "its start is registered");
    t.kill();
    assert_eq!(
        hub::parked_count(),
        before,
        "kill removed its start entry without waiting for the hub's next turn"
    );
    assert!(t.get().unwrap_err().is::<greenlet::GreenletExit>());
}
