//! A seeded random model test of the hub's toolkit (API.md §3b): up to 50
//! tasks run random scripts of operations on three queues (unbounded,
//! bounded(2), rendezvous), an Event, a Semaphore and a Mutex, blocking
//! plainly, with `*_timeout` calls or inside `hub::with_timeout`; the driver
//! (main) spawns them, kills them at random, does non-blocking operations
//! of its own, and after every step yields and checks the invariants:
//!
//! * every value (a unique id) is got at most once, only if it was put, and
//!   never if its put gave it back (`Err(v)`); a rendezvous put returns only
//!   once a getter has taken the value;
//! * permits are conserved: `available()` plus the permits held by live
//!   tasks plus those forgotten is the initial count plus those added,
//!   except for permits in transit to a waiter that has not resumed (at most
//!   one per greenlet inside an acquire);
//! * the Mutex is held by at most one greenlet;
//! * queue lengths stay within their bounds; once closed, nobody waits on a
//!   queue.
//!
//! At the end it closes the queues, kills every task, and checks that no
//! waiter is registered anywhere, `hub::parked_count()` is 0, every permit
//! is back, the Mutex is free, and every value put successfully was got
//! exactly once or is still queued.
//!
//! Seeds: `GREENLET_MODEL_SEEDS` (comma-separated seeds or ranges `a..b`),
//! default `1..21`. Each seed runs on a thread of its own (its own hub).
//! The scripts follow from the seed; the interleaving also depends on
//! timers, so a rerun of a failing seed may not fail the same way.

#[path = "common/panic_text.rs"]
mod panic_text;

use greenlet::GreenletExit;
use greenlet::hub::sync::{Event, Mutex, MutexGuard, Permit, Queue, Semaphore};
use greenlet::hub::{self, Task};
use panic_text::panic_text;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const MAX_TASKS: usize = 50;
const STEPS: usize = 1500;
const INITIAL_PERMITS: usize = 3;
const UNBOUNDED: usize = 0;
const BOUNDED: usize = 1;
const BOUND: usize = 2;
const RENDEZVOUS: usize = 2;
/// The driver's number in the Mutex.
const MAIN: usize = usize::MAX;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---------------------------------------------------------------------------
// The PRNG (xorshift64*).

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // Spread small seeds; never zero.
        let mut r = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x2545_f491_4f6c_dd1d);
        if r.0 == 0 {
            r.0 = 1;
        }
        for _ in 0..4 {
            r.next();
        }
        r
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// In `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        (self.next() >> 11) % n
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, weighted: &[(u64, T)]) -> T {
        let total: u64 = weighted.iter().map(|w| w.0).sum();
        let mut x = self.below(total);
        for &(w, v) in weighted {
            if x < w {
                return v;
            }
            x -= w;
        }
        unreachable!()
    }
}

// ---------------------------------------------------------------------------
// Operations.

/// How a waiting operation is bounded.
#[derive(Clone, Copy, Debug)]
enum Wrap {
    /// The plain waiting call.
    Plain,
    /// The `*_timeout` variant (`wait(Some(d))`, `acquire_timeout`, ...).
    Timed(u64),
    /// The plain call inside `hub::with_timeout`.
    WithTimeout(u64),
    /// The `try_*` variant.
    Try,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Put(usize, Wrap),
    Get(usize, Wrap),
    Wait(Wrap),
    Set,
    Clear,
    /// Acquire, hold for `hold` ms (0: a yield), then drop or forget.
    Acquire(Wrap, u64, bool),
    /// Lock, hold for `hold` ms (0: a yield), unlock.
    Lock(Wrap, u64),
    AddPermit,
    Sleep(u64),
}

fn random_wrap(rng: &mut Rng, plain_ok: bool) -> Wrap {
    let d = 1 + rng.below(5);
    let plain = if plain_ok { 35 } else { 0 };
    rng.pick(&[
        (plain, Wrap::Plain),
        (25, Wrap::Timed(d)),
        (25, Wrap::WithTimeout(d)),
        (15, Wrap::Try),
    ])
}

fn random_queue(rng: &mut Rng) -> usize {
    rng.pick(&[(40, UNBOUNDED), (35, BOUNDED), (25, RENDEZVOUS)])
}

#[derive(Clone, Copy)]
enum Kind {
    Put,
    Get,
    Wait,
    Set,
    Clear,
    Acquire,
    Lock,
    AddPermit,
    Sleep,
}

fn random_op(rng: &mut Rng, plain_ok: bool) -> Op {
    let kind = rng.pick(&[
        (22, Kind::Put),
        (22, Kind::Get),
        (8, Kind::Wait),
        (5, Kind::Set),
        (3, Kind::Clear),
        (14, Kind::Acquire),
        (12, Kind::Lock),
        (2, Kind::AddPermit),
        (12, Kind::Sleep),
    ]);
    match kind {
        Kind::Put => Op::Put(random_queue(rng), random_wrap(rng, plain_ok)),
        Kind::Get => Op::Get(random_queue(rng), random_wrap(rng, plain_ok)),
        Kind::Wait => Op::Wait(random_wrap(rng, plain_ok)),
        Kind::Set => Op::Set,
        Kind::Clear => Op::Clear,
        Kind::Acquire => {
            let hold = if plain_ok { rng.below(4) } else { 0 };
            Op::Acquire(random_wrap(rng, plain_ok), hold, rng.chance(10))
        }
        Kind::Lock => {
            let hold = if plain_ok { rng.below(4) } else { 0 };
            Op::Lock(random_wrap(rng, plain_ok), hold)
        }
        Kind::AddPermit => Op::AddPermit,
        Kind::Sleep => Op::Sleep(rng.below(3)),
    }
}

// ---------------------------------------------------------------------------
// The world and its bookkeeping.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum PutStatus {
    /// `put` called, not returned (its task may have been killed in it).
    InFlight,
    Ok,
    /// The put gave the value back (`Err(v)`).
    Refused,
    /// `with_timeout` ended the put.
    Interrupted,
}

struct World {
    queues: [Queue<u64>; 3],
    event: Event,
    sem: Semaphore,
    mutex: Mutex<Option<usize>>,
    next_id: Cell<u64>,
    status: RefCell<HashMap<u64, PutStatus>>,
    queue_of: RefCell<HashMap<u64, usize>>,
    got: RefCell<HashMap<u64, u32>>,
    held_permits: Cell<usize>,
    forgotten: Cell<usize>,
    added: Cell<usize>,
    in_acquire: Cell<usize>,
    mutex_holders: Cell<usize>,
    event_sets: Cell<u64>,
    closed: Cell<bool>,
    violations: RefCell<Vec<String>>,
    /// Breaches of the rendezvous rules (a put that returned Ok before a
    /// getter took the value; a rendezvous queue with len() > 0): reported
    /// at the end of the run, so that the other invariants are still
    /// checked meanwhile.
    rendezvous_breaches: RefCell<Vec<String>>,
    /// Values a `try_put` handed to a waiting getter of the rendezvous
    /// queue. If that getter is killed or timed out before it takes one,
    /// the value goes back into the channel (the documented exception to
    /// "a rendezvous stores nothing": `try_put` cannot take it back, and
    /// nothing may be lost), so only these may make its len() non-zero.
    rendezvous_try_puts: RefCell<Vec<u64>>,
}

impl World {
    fn new() -> World {
        World {
            queues: [Queue::new(), Queue::bounded(BOUND), Queue::bounded(0)],
            event: Event::new(),
            sem: Semaphore::new(INITIAL_PERMITS),
            mutex: Mutex::new(None),
            next_id: Cell::new(1),
            status: RefCell::new(HashMap::new()),
            queue_of: RefCell::new(HashMap::new()),
            got: RefCell::new(HashMap::new()),
            held_permits: Cell::new(0),
            forgotten: Cell::new(0),
            added: Cell::new(0),
            in_acquire: Cell::new(0),
            mutex_holders: Cell::new(0),
            event_sets: Cell::new(0),
            closed: Cell::new(false),
            violations: RefCell::new(Vec::new()),
            rendezvous_breaches: RefCell::new(Vec::new()),
            rendezvous_try_puts: RefCell::new(Vec::new()),
        }
    }

    fn violation(&self, s: String) {
        self.violations.borrow_mut().push(s);
    }

    fn start_put(&self, k: usize) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        self.status.borrow_mut().insert(id, PutStatus::InFlight);
        self.queue_of.borrow_mut().insert(id, k);
        id
    }

    fn got_count(&self, id: u64) -> u32 {
        self.got.borrow().get(&id).copied().unwrap_or(0)
    }

    fn record_get(&self, who: &str, k: usize, v: u64) {
        let n = {
            let mut got = self.got.borrow_mut();
            let n = got.entry(v).or_insert(0);
            *n += 1;
            *n
        };
        if n > 1 {
            self.violation(format!("{who}: value {v} got {n} times (from queue {k})"));
        }
        match self.status.borrow().get(&v) {
            None => self.violation(format!("{who}: got {v} from queue {k}, never put")),
            Some(PutStatus::Refused) => self.violation(format!(
                "{who}: got {v} from queue {k}, whose put gave it back"
            )),
            Some(_) => {}
        }
        let from = self.queue_of.borrow().get(&v).copied();
        if from.is_some_and(|q| q != k) {
            self.violation(format!("{who}: got {v} from queue {k}, put to {from:?}"));
        }
    }
}

/// Counts itself in a counter while alive.
struct Inside<'a>(&'a Cell<usize>);

impl<'a> Inside<'a> {
    fn enter(c: &'a Cell<usize>) -> Inside<'a> {
        c.set(c.get() + 1);
        Inside(c)
    }
}

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

/// A permit, counted in `held_permits` while held.
struct Held<'a> {
    w: &'a World,
    permit: Option<Permit>,
}

impl<'a> Held<'a> {
    fn new(w: &'a World, p: Permit) -> Held<'a> {
        w.held_permits.set(w.held_permits.get() + 1);
        Held { w, permit: Some(p) }
    }

    fn forget(mut self) {
        let p = self.permit.take().expect("held");
        self.w.forgotten.set(self.w.forgotten.get() + 1);
        p.forget();
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        // Uncounted before the permit (a field) is returned.
        self.w.held_permits.set(self.w.held_permits.get() - 1);
    }
}

/// The Mutex, held by `me`: checked to be the only holder.
struct Holding<'a> {
    w: &'a World,
    guard: MutexGuard<'a, Option<usize>>,
}

impl<'a> Holding<'a> {
    fn new(w: &'a World, me: usize, mut guard: MutexGuard<'a, Option<usize>>) -> Holding<'a> {
        if let Some(other) = *guard {
            w.violation(format!(
                "{me} locked the Mutex still marked held by {other}"
            ));
        }
        if w.mutex_holders.get() != 0 {
            w.violation(format!(
                "{me} locked the Mutex while {} other holder(s) counted",
                w.mutex_holders.get()
            ));
        }
        *guard = Some(me);
        w.mutex_holders.set(w.mutex_holders.get() + 1);
        Holding { w, guard }
    }
}

impl Drop for Holding<'_> {
    fn drop(&mut self) {
        *self.guard = None;
        self.w.mutex_holders.set(self.w.mutex_holders.get() - 1);
    }
}

fn hold(d: u64) {
    hub::sleep(ms(d));
}

/// Run one operation as `who` (`me` is its number for the Mutex).
fn run_op(w: &World, me: usize, who: &str, op: Op) {
    match op {
        Op::Put(k, wrap) => {
            let q = &w.queues[k];
            let id = w.start_put(k);
            let outcome = match wrap {
                Wrap::Plain => Some(q.put(id)),
                Wrap::Timed(d) => Some(q.put_timeout(id, ms(d))),
                Wrap::WithTimeout(d) => hub::with_timeout(ms(d), || q.put(id)).ok(),
                Wrap::Try => Some(q.try_put(id)),
            };
            let status = match outcome {
                None => PutStatus::Interrupted,
                Some(Ok(())) => PutStatus::Ok,
                Some(Err(v)) => {
                    if v != id {
                        w.violation(format!("{who}: put of {id} gave back {v}"));
                    }
                    // Only a full (or rendezvous) queue makes a try_put or
                    // a put_timeout fail while open.
                    let may_refuse = match wrap {
                        Wrap::Plain | Wrap::WithTimeout(_) => false,
                        Wrap::Try | Wrap::Timed(_) => k != UNBOUNDED,
                    };
                    if !may_refuse && !w.closed.get() {
                        w.violation(format!(
                            "{who}: {wrap:?} put to open queue {k} gave {id} back"
                        ));
                    }
                    PutStatus::Refused
                }
            };
            w.status.borrow_mut().insert(id, status);
            if status == PutStatus::Ok && k == RENDEZVOUS && matches!(wrap, Wrap::Try) {
                w.rendezvous_try_puts.borrow_mut().push(id);
            }
            // A rendezvous put that waited returns once a getter has taken
            // the value (it yields to that getter first); a try_put only
            // hands it to a waiting getter.
            let waited = !matches!(wrap, Wrap::Try);
            if status == PutStatus::Ok && k == RENDEZVOUS && waited && w.got_count(id) != 1 {
                w.rendezvous_breaches.borrow_mut().push(format!(
                    "{who}: rendezvous put of {id} returned Ok before a getter took it \
                     (got {} times then)",
                    w.got_count(id)
                ));
            }
        }
        Op::Get(k, wrap) => {
            let q = &w.queues[k];
            let (got, none_means_closed) = match wrap {
                Wrap::Plain => (q.get(), true),
                Wrap::Timed(d) => match q.get_timeout(ms(d)) {
                    Ok(v) => (v, true),
                    Err(_) => (None, false),
                },
                Wrap::WithTimeout(d) => match hub::with_timeout(ms(d), || q.get()) {
                    Ok(v) => (v, true),
                    Err(_) => (None, false),
                },
                Wrap::Try => (q.try_get(), false),
            };
            match got {
                Some(v) => w.record_get(who, k, v),
                None if none_means_closed && !w.closed.get() => w.violation(format!(
                    "{who}: {wrap:?} get of open queue {k} returned None"
                )),
                None => {}
            }
        }
        Op::Wait(wrap) => {
            let e = &w.event;
            let sets = w.event_sets.get();
            let was_set = e.is_set();
            let t0 = Instant::now();
            let r = match wrap {
                Wrap::Plain => Some(e.wait(None)),
                Wrap::Timed(d) => Some(e.wait(Some(ms(d)))),
                Wrap::WithTimeout(d) => hub::with_timeout(ms(d), || e.wait(None)).ok(),
                Wrap::Try => None,
            };
            match r {
                Some(true) if !e.is_set() && w.event_sets.get() == sets => w.violation(format!(
                    "{who}: {wrap:?} wait returned true, but the event is clear and was not set"
                )),
                Some(false) => {
                    if was_set {
                        w.violation(format!("{who}: {wrap:?} wait of a set event: false"));
                    }
                    match wrap {
                        Wrap::Timed(d) if t0.elapsed() < ms(d) => w.violation(format!(
                            "{who}: wait(Some({d} ms)) returned false after {:?}",
                            t0.elapsed()
                        )),
                        Wrap::Timed(_) => {}
                        _ => w.violation(format!("{who}: {wrap:?} wait returned false")),
                    }
                }
                _ => {}
            }
        }
        Op::Set => {
            w.event_sets.set(w.event_sets.get() + 1);
            w.event.set();
        }
        Op::Clear => w.event.clear(),
        Op::Acquire(wrap, d, forget) => {
            let s = &w.sem;
            let inside = Inside::enter(&w.in_acquire);
            let p = match wrap {
                Wrap::Plain => Some(s.acquire()),
                Wrap::Timed(d) => s.acquire_timeout(ms(d)),
                Wrap::WithTimeout(d) => hub::with_timeout(ms(d), || s.acquire()).ok(),
                Wrap::Try => s.try_acquire(),
            };
            drop(inside);
            if let Some(p) = p {
                let held = Held::new(w, p);
                hold(d);
                if forget {
                    held.forget();
                }
            }
        }
        Op::Lock(wrap, d) => {
            let m = &w.mutex;
            let g = match wrap {
                Wrap::Plain => Some(m.lock()),
                Wrap::WithTimeout(d) | Wrap::Timed(d) => hub::with_timeout(ms(d), || m.lock()).ok(),
                Wrap::Try => m.try_lock(),
            };
            if let Some(g) = g {
                let h = Holding::new(w, me, g);
                hold(d);
                drop(h);
            }
        }
        Op::AddPermit => {
            w.added.set(w.added.get() + 1);
            w.sem.add_permits(1);
        }
        Op::Sleep(d) => hub::sleep(ms(d)),
    }
}

// ---------------------------------------------------------------------------
// The driver.

struct Run {
    seed: u64,
    rng: Rng,
    w: Rc<World>,
    tasks: Vec<Task<()>>,
    scripts: Vec<Vec<Op>>,
    closed_at: Option<usize>,
}

impl Run {
    fn fail(&self, step: &str, what: String) -> ! {
        panic!("seed {}: {step}: {what}", self.seed);
    }

    fn spawn_task(&mut self) {
        let n = 1 + self.rng.below(6) as usize;
        let script: Vec<Op> = (0..n).map(|_| random_op(&mut self.rng, true)).collect();
        let me = self.tasks.len();
        let w = self.w.clone();
        let ops = script.clone();
        self.tasks.push(hub::spawn(move || {
            let who = format!("task {me}");
            for op in ops {
                run_op(&w, me, &who, op);
            }
        }));
        self.scripts.push(script);
    }

    fn live(&self) -> usize {
        self.tasks.iter().filter(|t| !t.is_ready()).count()
    }

    fn step(&mut self, i: usize) {
        let r = self.rng.below(100);
        if r < 35 {
            if self.live() < MAX_TASKS {
                self.spawn_task();
            }
        } else if r < 50 {
            if !self.tasks.is_empty() {
                let k = self.rng.below(self.tasks.len() as u64) as usize;
                self.tasks[k].kill();
                if !self.tasks[k].is_ready() {
                    self.fail(&format!("step {i}"), format!("task {k} alive after kill"));
                }
            }
        } else if r < 70 {
            // Main's own operation: never a plain (unbounded) wait.
            let op = random_op(&mut self.rng, false);
            run_op(&self.w, MAIN, "main", op);
        } else if r < 78 {
            hub::sleep(ms(1 + self.rng.below(2)));
        }
        if self.closed_at.is_none() && i > STEPS * 3 / 4 && self.rng.chance(3) {
            self.close(i);
        }
        hub::sleep(Duration::ZERO);
        self.check(&format!("after step {i}"), i);
    }

    fn close(&mut self, i: usize) {
        self.w.closed.set(true);
        for q in &self.w.queues {
            q.close();
        }
        self.closed_at = Some(i);
    }

    // len() itself is under test: compared with 0 on purpose.
    #[allow(clippy::len_zero)]
    fn check(&self, step: &str, i: usize) {
        let w = &self.w;
        let v = w.violations.borrow();
        if !v.is_empty() {
            self.fail(step, format!("violations: {v:#?}"));
        }
        drop(v);
        if w.mutex_holders.get() > 1 {
            self.fail(step, format!("{} Mutex holders", w.mutex_holders.get()));
        }
        let expected = (INITIAL_PERMITS + w.added.get()) as i64 - w.forgotten.get() as i64;
        let (held, avail) = (w.held_permits.get() as i64, w.sem.available() as i64);
        if held + avail > expected {
            self.fail(
                step,
                format!(
                    "permits duplicated: {held} held + {avail} available > {expected} \
                     ({INITIAL_PERMITS} initial + {} added - {} forgotten)",
                    w.added.get(),
                    w.forgotten.get()
                ),
            );
        }
        let transit = expected - held - avail;
        if transit > w.in_acquire.get() as i64 {
            self.fail(
                step,
                format!(
                    "permits lost: {expected} expected, {held} held, {avail} available, \
                     {transit} unaccounted but only {} greenlets inside an acquire",
                    w.in_acquire.get()
                ),
            );
        }
        if w.queues[BOUNDED].len() > BOUND {
            self.fail(
                step,
                format!("bounded({BOUND}) queue holds {}", w.queues[BOUNDED].len()),
            );
        }
        let stranded_try_puts = w
            .rendezvous_try_puts
            .borrow()
            .iter()
            .filter(|&&id| w.got_count(id) == 0)
            .count();
        if w.queues[RENDEZVOUS].len() > stranded_try_puts {
            let mut b = w.rendezvous_breaches.borrow_mut();
            if !b.iter().any(|m| m.contains("len()")) {
                b.push(format!(
                    "{step}: the rendezvous queue's len() is {} (the first time)",
                    w.queues[RENDEZVOUS].len()
                ));
            }
        }
        for (k, q) in w.queues.iter().enumerate() {
            if q.is_empty() != (q.len() == 0) {
                self.fail(step, format!("queue {k}: is_empty disagrees with len"));
            }
            if self.closed_at.is_some_and(|c| i > c) && q.waiter_count() != 0 {
                self.fail(
                    step,
                    format!(
                        "queue {k} closed at step {:?}, still {} waiter(s)",
                        self.closed_at,
                        q.waiter_count()
                    ),
                );
            }
        }
        if self.live() > MAX_TASKS {
            self.fail(step, format!("{} live tasks", self.live()));
        }
    }

    fn finish(mut self) -> String {
        if self.closed_at.is_none() {
            self.close(STEPS);
        }
        // Let everything woken by the close, or handed something, resume.
        for i in 0..5 {
            hub::sleep(Duration::ZERO);
            self.check(&format!("settling {i}"), STEPS + 1);
        }
        for (k, t) in self.tasks.iter().enumerate() {
            t.kill();
            if !t.is_ready() {
                self.fail("final kill", format!("task {k} alive after kill"));
            }
        }
        hub::sleep(Duration::ZERO);
        self.check("after killing every task", STEPS + 1);
        let w = self.w.clone();
        let waiters = [
            ("queue 0", w.queues[0].waiter_count()),
            ("queue 1", w.queues[1].waiter_count()),
            ("queue 2", w.queues[2].waiter_count()),
            ("event", w.event.waiter_count()),
            ("semaphore", w.sem.waiter_count()),
            ("mutex", w.mutex.waiter_count()),
        ];
        for (name, n) in waiters {
            if n != 0 {
                self.fail("the end", format!("{name}: {n} waiter(s) left registered"));
            }
        }
        if hub::parked_count() != 0 {
            self.fail(
                "the end",
                format!("hub::parked_count() is {}", hub::parked_count()),
            );
        }
        if w.held_permits.get() != 0 || w.in_acquire.get() != 0 || w.mutex_holders.get() != 0 {
            self.fail(
                "the end",
                format!(
                    "dead tasks still count: {} permits held, {} in acquire, {} Mutex holders",
                    w.held_permits.get(),
                    w.in_acquire.get(),
                    w.mutex_holders.get()
                ),
            );
        }
        let expected = (INITIAL_PERMITS + w.added.get()) as i64 - w.forgotten.get() as i64;
        if w.sem.available() as i64 != expected {
            self.fail(
                "the end",
                format!(
                    "{} permits available, expected {expected} ({INITIAL_PERMITS} + {} added - {} forgotten)",
                    w.sem.available(),
                    w.added.get(),
                    w.forgotten.get()
                ),
            );
        }
        match w.mutex.try_lock() {
            Some(g) if g.is_none() => {}
            Some(g) => self.fail("the end", format!("Mutex marked held by {:?}", *g)),
            None => self.fail("the end", "the Mutex is still locked".to_string()),
        }
        // What is left in the (closed) queues.
        let mut left: HashMap<u64, usize> = HashMap::new();
        for (k, q) in w.queues.iter().enumerate() {
            while let Some(v) = q.try_get() {
                *left.entry(v).or_insert(0) += 1;
                if w.queue_of.borrow().get(&v) != Some(&k) {
                    self.fail("the end", format!("{v} left in queue {k}, not put there"));
                }
            }
            if q.get().is_some() {
                self.fail(
                    "the end",
                    format!("queue {k}: get after draining a closed queue"),
                );
            }
        }
        let status = w.status.borrow();
        let mut puts_ok = 0;
        for (&id, &st) in status.iter() {
            let n = w.got_count(id) as usize + left.get(&id).copied().unwrap_or(0);
            let ok = match st {
                PutStatus::Ok => n == 1,
                PutStatus::Refused => n == 0,
                PutStatus::InFlight | PutStatus::Interrupted => n <= 1,
            };
            if st == PutStatus::Ok {
                puts_ok += 1;
            }
            if !ok {
                self.fail(
                    "the end",
                    format!(
                        "value {id} (queue {:?}, put {st:?}) got {} times, {} left queued",
                        w.queue_of.borrow().get(&id),
                        w.got_count(id),
                        left.get(&id).copied().unwrap_or(0)
                    ),
                );
            }
        }
        for &id in left.keys() {
            if !status.contains_key(&id) {
                self.fail("the end", format!("{id} left queued, never put"));
            }
        }
        drop(status);
        let mut other = Vec::new();
        for (k, t) in self.tasks.drain(..).enumerate() {
            if let Err(p) = t.get()
                && !p.is::<GreenletExit>()
            {
                other.push(format!("task {k}: {}", panic_text(&*p)));
            }
        }
        if !other.is_empty() {
            panic!("seed {}: tasks panicked: {other:#?}", self.seed);
        }
        let early = w.rendezvous_breaches.borrow();
        if !early.is_empty() {
            self.fail(
                "the end (all else held)",
                format!("rendezvous rules broken: {early:#?}"),
            );
        }
        drop(early);
        format!(
            "{} tasks, {} values put ({} Ok), {} permits added, {} forgotten",
            self.scripts.len(),
            w.status.borrow().len(),
            puts_ok,
            w.added.get(),
            w.forgotten.get()
        )
    }
}

fn run_seed(seed: u64) -> String {
    let mut run = Run {
        seed,
        rng: Rng::new(seed),
        w: Rc::new(World::new()),
        tasks: Vec::new(),
        scripts: Vec::new(),
        closed_at: None,
    };
    for i in 0..STEPS {
        run.step(i);
    }
    run.finish()
}

fn seeds() -> Vec<u64> {
    let Ok(spec) = std::env::var("GREENLET_MODEL_SEEDS") else {
        return (1..21).collect();
    };
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some((a, b)) = part.split_once("..") {
            let a: u64 = a.parse().expect("GREENLET_MODEL_SEEDS: a range a..b");
            let b: u64 = b.parse().expect("GREENLET_MODEL_SEEDS: a range a..b");
            out.extend(a..b);
        } else {
            out.push(
                part.parse()
                    .expect("GREENLET_MODEL_SEEDS: comma-separated seeds"),
            );
        }
    }
    out
}

#[test]
fn random_operations_keep_the_invariants() {
    let seeds = seeds();
    assert!(!seeds.is_empty(), "no seeds");
    let mut failed = Vec::new();
    for &seed in &seeds {
        let (tx, rx) = mpsc::channel();
        let t0 = Instant::now();
        thread::spawn(move || {
            let r = panic::catch_unwind(AssertUnwindSafe(|| run_seed(seed)));
            let _ = tx.send(r.map_err(|p| panic_text(&*p)));
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(summary)) => {
                eprintln!("seed {seed}: ok in {:?}: {summary}", t0.elapsed());
            }
            Ok(Err(msg)) => {
                eprintln!("seed {seed}: FAILED: {msg}");
                failed.push((seed, msg));
            }
            Err(_) => {
                eprintln!("seed {seed}: FAILED: hangs (over 60 s)");
                failed.push((seed, "hangs (over 60 s)".to_string()));
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} seeds failed (rerun one with GREENLET_MODEL_SEEDS=<seed>):\n{}",
        failed.len(),
        seeds.len(),
        failed
            .iter()
            .map(|(s, m)| format!("seed {s}: {m}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
