//! The hub itself: one per thread, a greenlet whose parent is the thread's
//! main greenlet, running a loop over ready greenlets (first in, first
//! out), timers (a binary heap) and IO readiness ([`Reactor`]).
//!
//! # Waiting
//!
//! A blocking call creates a *park*: a slot in a generational slab holding
//! the waiting greenlet. Whatever can end the wait (a timer, an IO event, a
//! finishing task) holds the park's [`Key`], never the greenlet; waking a
//! park marks it and queues its key, and a stale key (the wait already
//! ended) wakes nothing. The waiting call then switches to the hub, which
//! later switches back with a [`Wake`] saying why. The waiting call removes
//! its park (and its timer and IO interest) in a guard, so a wait that ends
//! by a panic, a `kill` or a timeout leaves nothing registered.
//!
//! # Borrowing
//!
//! The hub's state lives in `RefCell`s that are borrowed only for the
//! duration of a bookkeeping step, never across a switch and never while a
//! greenlet handle is dropped (dropping the last handle of a suspended
//! greenlet kills it, running arbitrary destructors that may call back into
//! the hub).

use super::io::Reactor;
use super::slab::{Key, Slab};
use crate::greenlet::payload_text;
use crate::{Greenlet, GreenletExit};
use std::cell::{Cell, RefCell};
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

/// Why the hub resumed a waiting greenlet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// A spawned task's first run.
    Start,
    /// `sleep(ZERO)`: queued behind everything that was ready.
    Ready,
    /// The wait's own timer expired.
    Timer,
    /// Its file descriptor became ready.
    Io,
    /// The task(s) it joins finished.
    Joined,
    /// Nothing can ever wake anyone: the waiting call must panic.
    Deadlock,
    /// The `with_timeout` with this id expired while the greenlet waited.
    Timeout(u64),
    /// The thread is exiting and the hub is being torn down.
    Shutdown,
}

/// The message of the panic raised by a waiting call that can never be
/// woken.
pub(crate) const DEADLOCK: &str = "greenlet::hub: deadlock: every greenlet is waiting and \
    nothing can wake any of them (no ready greenlet, no timer, no IO wait)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ParkState {
    Waiting,
    Woken(Wake),
    /// The hub switched into it; its waiting call will remove the park.
    Resumed,
}

struct Park {
    greenlet: Greenlet,
    state: ParkState,
    /// The sequence number of this park's own armed timer.
    timer: Option<u64>,
    /// A spawned task's start: no waiting call owns it, the hub removes it.
    hub_owned: bool,
}

#[derive(Debug, Clone, Copy)]
enum TimerTarget {
    Park(Key),
    Timeout(u64),
}

struct TimerEntry {
    deadline: Instant,
    seq: u64,
    target: TimerTarget,
}

// `BinaryHeap` is a max-heap: order by (deadline, seq) reversed, so the
// earliest deadline (and, among equal ones, the first armed) is on top.
impl Ord for TimerEntry {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.deadline, other.seq).cmp(&(self.deadline, self.seq))
    }
}
impl PartialOrd for TimerEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for TimerEntry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for TimerEntry {}

/// One active `with_timeout`.
struct TimeoutRec {
    greenlet: Greenlet,
    /// Its timer has not fired (nor been cancelled).
    armed: bool,
    /// It fired while the greenlet was not waiting: deliver at its next wait.
    pending: bool,
}

/// A greenlet with active `with_timeout`s: where it waits now, so that an
/// expiring timeout finds its wait without searching.
struct Timed {
    active: usize,
    park: Option<Key>,
}

/// Resume at most this many greenlets between two looks at IO readiness
/// while greenlets are ready (when none is, the hub blocks in the poller).
const POLL_EVERY: u32 = 61;

pub(crate) struct Hub {
    greenlet: Greenlet,
    parks: RefCell<Slab<Park>>,
    ready: RefCell<VecDeque<Key>>,
    timers: RefCell<BinaryHeap<TimerEntry>>,
    /// Armed timers (park timers and `with_timeout`s); the heap may also
    /// hold cancelled entries, skipped when they reach the top.
    live_timers: Cell<usize>,
    next_seq: Cell<u64>,
    timeouts: RefCell<HashMap<u64, TimeoutRec>>,
    pending_timeouts: Cell<usize>,
    timed: RefCell<HashMap<Greenlet, Timed>>,
    main_park: Cell<Option<Key>>,
    last_park: Cell<Option<Key>>,
    since_poll: Cell<u32>,
    shutting_down: Cell<bool>,
    pub(crate) io: Reactor,
}

// ---------------------------------------------------------------------------
// The per-thread hub.

thread_local! {
    /// This thread's hub (`Rc::into_raw`), or null. A `const` thread-local
    /// with no destructor, so it stays readable while [`TEARDOWN`] runs.
    static HUB: Cell<*const Hub> = const { Cell::new(ptr::null()) };
    /// Its destructor tears the hub down at thread exit.
    static TEARDOWN: Teardown = const { Teardown };
}

struct Teardown;

impl Drop for Teardown {
    fn drop(&mut self) {
        let p = HUB.with(Cell::get);
        if p.is_null() {
            return;
        }
        // SAFETY: HUB holds the count that `Rc::into_raw` gave up in
        // `hub()`; this takes a second count for the duration.
        let hub = unsafe {
            Rc::increment_strong_count(p);
            Rc::from_raw(p)
        };
        hub.shutdown();
        HUB.with(|h| h.set(ptr::null()));
        // SAFETY: the count given up in `hub()`, taken back exactly once
        // (HUB is null from here on).
        drop(unsafe { Rc::from_raw(p) });
    }
}

/// This thread's hub, created on first use.
///
/// # Panics
/// If the hub cannot be created (no poller, no stack), or the thread is
/// exiting and its hub is already gone.
pub(crate) fn hub() -> Rc<Hub> {
    let p = HUB.with(Cell::get);
    if !p.is_null() {
        // SAFETY: HUB owns one count, released only by Teardown after it
        // sets HUB to null; this adds one for the caller.
        unsafe {
            Rc::increment_strong_count(p);
            return Rc::from_raw(p);
        }
    }
    create_hub()
}

#[cold]
fn create_hub() -> Rc<Hub> {
    if TEARDOWN.try_with(|_| ()).is_err() {
        panic!("greenlet::hub: the thread is exiting and its hub is gone");
    }
    let io = Reactor::new()
        .unwrap_or_else(|e| panic!("greenlet::hub: cannot create the hub's poller: {e}"));
    let hub = Rc::new_cyclic(|weak: &Weak<Hub>| {
        let weak = weak.clone();
        let greenlet = Greenlet::builder()
            .name("hub")
            .parent(&Greenlet::main())
            .create(move |(): ()| {
                let hub = weak.upgrade().expect("the hub outlives its greenlet");
                hub.run()
            });
        Hub {
            greenlet,
            parks: RefCell::new(Slab::new()),
            ready: RefCell::new(VecDeque::new()),
            timers: RefCell::new(BinaryHeap::new()),
            live_timers: Cell::new(0),
            next_seq: Cell::new(1),
            timeouts: RefCell::new(HashMap::new()),
            pending_timeouts: Cell::new(0),
            timed: RefCell::new(HashMap::new()),
            main_park: Cell::new(None),
            last_park: Cell::new(None),
            since_poll: Cell::new(0),
            shutting_down: Cell::new(false),
            io,
        }
    });
    HUB.with(|h| h.set(Rc::into_raw(Rc::clone(&hub))));
    hub
}

impl Hub {
    /// Parks registered now (waiting calls, unstarted tasks).
    pub(crate) fn parked_count(&self) -> usize {
        self.parks.borrow().len()
    }

    /// The hub's own greenlet (the parent of every spawned task).
    pub(crate) fn greenlet(&self) -> &Greenlet {
        &self.greenlet
    }

    fn next_seq(&self) -> u64 {
        let s = self.next_seq.get();
        self.next_seq.set(s + 1);
        s
    }

    // -----------------------------------------------------------------------
    // Parks.

    /// A park for the current greenlet, waiting. The caller must end it with
    /// [`remove_park`](Hub::remove_park) (use a [`ParkGuard`]).
    pub(crate) fn new_park(&self) -> Key {
        let me = Greenlet::current();
        if me == self.greenlet {
            panic!("greenlet::hub: a blocking call ran inside the hub itself");
        }
        let is_main = me.is_main();
        // A greenlet with active `with_timeout`s records where it waits.
        let mut timed_map = self.timed.borrow_mut();
        let timed = if timed_map.is_empty() {
            None
        } else {
            timed_map.get_mut(&me)
        };
        let key = self.parks.borrow_mut().insert(Park {
            greenlet: me,
            state: ParkState::Waiting,
            timer: None,
            hub_owned: false,
        });
        if let Some(t) = timed {
            t.park = Some(key);
        }
        if is_main {
            self.main_park.set(Some(key));
        }
        self.last_park.set(Some(key));
        key
    }

    /// Queue `greenlet` to be started with [`Wake::Start`], after
    /// everything already ready.
    pub(crate) fn schedule_start(&self, greenlet: Greenlet) {
        let key = self.parks.borrow_mut().insert(Park {
            greenlet,
            state: ParkState::Woken(Wake::Start),
            timer: None,
            hub_owned: true,
        });
        self.ready.borrow_mut().push_back(key);
    }

    /// End a park: cancel its timer; a stale key is a no-op.
    pub(crate) fn remove_park(&self, key: Key) {
        let removed = self.parks.borrow_mut().remove(key);
        if let Some(p) = removed {
            if !self.timed.borrow().is_empty()
                && let Some(t) = self.timed.borrow_mut().get_mut(&p.greenlet)
                && t.park == Some(key)
            {
                t.park = None;
            }
            if p.timer.is_some() {
                self.live_timers.set(self.live_timers.get() - 1);
            }
            if self.main_park.get() == Some(key) {
                self.main_park.set(None);
            }
            drop(p); // outside the borrow: it drops a greenlet handle
        }
    }

    /// Wake `key` with `why` if it is still waiting; true if it was.
    pub(crate) fn wake(&self, key: Key, why: Wake) -> bool {
        let mut parks = self.parks.borrow_mut();
        match parks.get_mut(key) {
            Some(p) if p.state == ParkState::Waiting => {
                p.state = ParkState::Woken(why);
                self.ready.borrow_mut().push_back(key);
                true
            }
            _ => false,
        }
    }

    /// Switch to the hub until the park `key` (the current greenlet's) is
    /// woken, and say why. A `with_timeout` that expired while the greenlet
    /// was not waiting is delivered here at once.
    pub(crate) fn wait(&self, key: Key) -> Wake {
        if self.shutting_down.get() {
            return Wake::Shutdown;
        }
        if self.pending_timeouts.get() > 0
            && let Some(id) = self.take_pending_timeout()
        {
            return Wake::Timeout(id);
        }
        debug_assert!(self.parks.borrow().get(key).is_some());
        // Every waiting greenlet is suspended here, so any of them can be
        // resumed with a `Wake`, by the hub or by the greenlet that waits
        // next (which may be this one, if it is the only one ready: then
        // the switch returns at once). The hub itself only ever receives
        // `()`: from a greenlet that goes to it to wait, or a task's end.
        if let Some((next, why)) = self.direct_handoff() {
            return next.switch::<Wake, Wake>(why);
        }
        self.greenlet.switch::<(), Wake>(())
    }

    // -----------------------------------------------------------------------
    // Timers.

    /// Wake the park `key` with [`Wake::Timer`] once `deadline` has passed.
    /// Cancelled by [`remove_park`](Hub::remove_park).
    pub(crate) fn arm_timer(&self, key: Key, deadline: Instant) {
        let seq = self.next_seq();
        {
            let mut parks = self.parks.borrow_mut();
            let p = parks.get_mut(key).expect("arm_timer on a live park");
            assert!(p.timer.is_none(), "one timer per park");
            p.timer = Some(seq);
        }
        self.push_timer(TimerEntry {
            deadline,
            seq,
            target: TimerTarget::Park(key),
        });
    }

    fn push_timer(&self, entry: TimerEntry) {
        self.live_timers.set(self.live_timers.get() + 1);
        let mut heap = self.timers.borrow_mut();
        heap.push(entry);
        // Cancelled entries stay in the heap until they reach the top;
        // when they dominate it, drop them all at once.
        if heap.len() > 64 && heap.len() > 4 * self.live_timers.get() {
            let parks = self.parks.borrow();
            let timeouts = self.timeouts.borrow();
            heap.retain(|t| Self::is_live(&parks, &timeouts, t));
        }
    }

    fn is_live(parks: &Slab<Park>, timeouts: &HashMap<u64, TimeoutRec>, t: &TimerEntry) -> bool {
        match t.target {
            TimerTarget::Park(key) => parks.get(key).is_some_and(|p| p.timer == Some(t.seq)),
            TimerTarget::Timeout(id) => timeouts.get(&id).is_some_and(|r| id == t.seq && r.armed),
        }
    }

    /// Fire every timer whose deadline is at or before `now`, in deadline
    /// order.
    fn fire_due(&self, now: Instant) {
        loop {
            let entry = {
                let mut heap = self.timers.borrow_mut();
                match heap.peek() {
                    Some(t) if t.deadline <= now => heap.pop().expect("peeked"),
                    _ => return,
                }
            };
            match entry.target {
                TimerTarget::Park(key) => {
                    let fired = match self.parks.borrow_mut().get_mut(key) {
                        Some(p) if p.timer == Some(entry.seq) => {
                            p.timer = None;
                            self.live_timers.set(self.live_timers.get() - 1);
                            true
                        }
                        _ => false,
                    };
                    if fired {
                        self.wake(key, Wake::Timer);
                    }
                }
                TimerTarget::Timeout(id) => self.fire_timeout(id, entry.seq),
            }
        }
    }

    /// The earliest live deadline (dropping cancelled entries on top).
    fn next_deadline(&self) -> Option<Instant> {
        let parks = self.parks.borrow();
        let timeouts = self.timeouts.borrow();
        let mut heap = self.timers.borrow_mut();
        while let Some(t) = heap.peek() {
            if Self::is_live(&parks, &timeouts, t) {
                return Some(t.deadline);
            }
            heap.pop();
        }
        None
    }

    // -----------------------------------------------------------------------
    // with_timeout.

    /// Start a `with_timeout` for the current greenlet; returns its id.
    pub(crate) fn start_timeout(&self, deadline: Instant) -> u64 {
        let id = self.next_seq();
        let me = Greenlet::current();
        self.timed
            .borrow_mut()
            .entry(me.clone())
            .or_insert(Timed {
                active: 0,
                park: None,
            })
            .active += 1;
        self.timeouts.borrow_mut().insert(
            id,
            TimeoutRec {
                greenlet: me,
                armed: true,
                pending: false,
            },
        );
        self.push_timer(TimerEntry {
            deadline,
            seq: id,
            target: TimerTarget::Timeout(id),
        });
        id
    }

    /// End a `with_timeout`, fired or not.
    pub(crate) fn end_timeout(&self, id: u64) {
        let rec = self.timeouts.borrow_mut().remove(&id);
        if let Some(rec) = rec {
            if rec.armed {
                self.live_timers.set(self.live_timers.get() - 1);
            }
            if rec.pending {
                self.pending_timeouts.set(self.pending_timeouts.get() - 1);
            }
            let gone = {
                let mut timed = self.timed.borrow_mut();
                match timed.get_mut(&rec.greenlet) {
                    Some(t) if t.active > 1 => {
                        t.active -= 1;
                        None
                    }
                    Some(_) => timed.remove_entry(&rec.greenlet),
                    None => None,
                }
            };
            drop(gone); // outside the borrow: greenlet handles
            drop(rec);
        }
    }

    fn fire_timeout(&self, id: u64, seq: u64) {
        let target = {
            let mut timeouts = self.timeouts.borrow_mut();
            let Some(rec) = timeouts.get_mut(&id) else {
                return;
            };
            if !rec.armed || seq != id {
                return;
            }
            rec.armed = false;
            self.live_timers.set(self.live_timers.get() - 1);
            rec.greenlet.clone()
        };
        // Interrupt the greenlet's current wait, if it is waiting.
        let waiting = self.timed.borrow().get(&target).and_then(|t| t.park);
        let woke = waiting.is_some_and(|k| self.wake(k, Wake::Timeout(id)));
        if !woke && let Some(rec) = self.timeouts.borrow_mut().get_mut(&id) {
            rec.pending = true;
            self.pending_timeouts.set(self.pending_timeouts.get() + 1);
        }
        drop(target);
    }

    /// The oldest pending `with_timeout` of the current greenlet.
    fn take_pending_timeout(&self) -> Option<u64> {
        let me = Greenlet::current();
        let mut timeouts = self.timeouts.borrow_mut();
        let id = timeouts
            .iter()
            .filter(|(_, r)| r.pending && r.greenlet == me)
            .map(|(id, _)| *id)
            .min()?;
        timeouts.get_mut(&id).expect("found").pending = false;
        self.pending_timeouts.set(self.pending_timeouts.get() - 1);
        Some(id)
    }

    // -----------------------------------------------------------------------
    // The loop.

    fn run(&self) -> ! {
        loop {
            let mut now = None;
            if self.live_timers.get() > 0 {
                let t = Instant::now();
                self.fire_due(t);
                now = Some(t);
            }
            if self.ready.borrow().is_empty() {
                let deadline = if self.live_timers.get() > 0 {
                    self.next_deadline()
                } else {
                    None
                };
                if deadline.is_none() && self.io.waiters() == 0 {
                    self.deadlock();
                    continue;
                }
                let timeout =
                    deadline.map(|d| d.saturating_duration_since(now.unwrap_or_else(Instant::now)));
                self.poll(timeout);
                continue;
            }
            if self.since_poll.get() >= POLL_EVERY {
                if self.io.registrations() > 0 {
                    self.poll(Some(Duration::ZERO));
                } else {
                    self.since_poll.set(0); // nothing to poll
                }
            }
            // Only what is ready now: what this batch wakes runs next time.
            let n = self.ready.borrow().len();
            for _ in 0..n {
                self.resume_next();
            }
            self.since_poll
                .set(self.since_poll.get().saturating_add(n as u32));
        }
    }

    fn poll(&self, timeout: Option<Duration>) {
        self.since_poll.set(0);
        if let Err(e) = self.io.poll(timeout, |key, why| {
            self.wake(key, why);
        }) {
            // EINTR is retried by the loop; anything else means the poller
            // is broken and every IO wait would hang.
            if e.kind() != std::io::ErrorKind::Interrupted {
                panic!("greenlet::hub: polling for IO readiness failed: {e}");
            }
        }
    }

    /// Take the next ready greenlet off the queue (skipping stale keys and
    /// tasks killed before they started), with the reason to resume it.
    fn pop_ready(&self) -> Option<(Greenlet, Wake)> {
        loop {
            let key = self.ready.borrow_mut().pop_front()?;
            let (greenlet, why) = {
                let mut parks = self.parks.borrow_mut();
                let Some(p) = parks.get_mut(key) else {
                    continue;
                };
                let ParkState::Woken(why) = p.state else {
                    continue;
                };
                p.state = ParkState::Resumed;
                if p.hub_owned {
                    let p = parks.remove(key).expect("present");
                    (p.greenlet, why)
                } else {
                    (p.greenlet.clone(), why)
                }
            };
            if greenlet.is_dead() {
                // A task killed before it started.
                drop(greenlet);
                continue;
            }
            return Some((greenlet, why));
        }
    }

    /// `sleep(ZERO)` when nothing else could run first: no greenlet is
    /// ready, no timer is armed, no `with_timeout` waits to be delivered,
    /// and IO was polled within the last [`POLL_EVERY`] resumes. Then the
    /// yield returns at once (it counts toward the next poll, as a trip
    /// through the loop would), without a park or a switch: true. Whatever
    /// the loop would have done (start a task, fire a timer, poll IO) makes
    /// it false, and the caller yields the long way.
    pub(crate) fn yield_alone(&self) -> bool {
        let alone = self.live_timers.get() == 0
            && self.pending_timeouts.get() == 0
            && self.since_poll.get() < POLL_EVERY
            && !self.shutting_down.get()
            && self.ready.borrow().is_empty()
            && !ptr::eq(crate::greenlet::current_known(), self.greenlet.as_ptr());
        if alone {
            self.since_poll.set(self.since_poll.get() + 1);
        }
        alone
    }

    /// A waiting greenlet hands control straight to the next ready one,
    /// without a trip through the hub's loop, when that loop has nothing to
    /// do first: no timer is armed and IO was polled recently.
    fn direct_handoff(&self) -> Option<(Greenlet, Wake)> {
        if self.live_timers.get() > 0 || self.since_poll.get() >= POLL_EVERY {
            return None;
        }
        let next = self.pop_ready()?;
        self.since_poll.set(self.since_poll.get() + 1);
        Some(next)
    }

    fn resume_next(&self) {
        let Some((greenlet, why)) = self.pop_ready() else {
            return;
        };
        // Tasks catch their own panics; anything else that comes back here
        // (a bug, or a greenlet that misused the hub) is reported and the
        // hub goes on with the others.
        let r = panic::catch_unwind(AssertUnwindSafe(|| {
            greenlet.switch::<Wake, ()>(why);
        }));
        if let Err(p) = r {
            // GreenletExit (or anything during shutdown) was thrown at the
            // hub itself: it is being killed.
            if p.is::<GreenletExit>() || self.shutting_down.get() {
                panic::resume_unwind(p);
            }
            eprintln!(
                "greenlet::hub: a panic reached the hub from {:?}: {}",
                greenlet,
                payload_text(&*p)
            );
        }
        drop(greenlet);
    }

    /// Nothing is ready, no timer is armed and no greenlet waits for IO:
    /// wake one waiting greenlet with [`Wake::Deadlock`] so that its waiting
    /// call panics: main if it waits, else the one that waited last.
    #[cold]
    fn deadlock(&self) {
        let candidates = [self.main_park.get(), self.last_park.get()];
        for key in candidates.into_iter().flatten() {
            if self.wake(key, Wake::Deadlock) {
                return;
            }
        }
        let any = {
            let parks = self.parks.borrow();
            parks
                .iter()
                .find(|(_, p)| p.state == ParkState::Waiting)
                .map(|(k, _)| k)
        };
        if let Some(key) = any {
            self.wake(key, Wake::Deadlock);
            return;
        }
        // Nobody waits on the hub at all (whoever switched here last did
        // not park): raise it in main, the hub's parent.
        Greenlet::main().throw::<String, ()>(
            "greenlet::hub: the hub ran out of work and no greenlet waits on it".to_string(),
        );
    }

    /// Thread exit: kill every greenlet the hub holds (their destructors
    /// run; blocking calls made meanwhile return at once), then the hub.
    fn shutdown(&self) {
        self.shutting_down.set(true);
        loop {
            self.ready.borrow_mut().clear();
            let victims: Vec<(Key, Greenlet)> = {
                let parks = self.parks.borrow();
                parks.iter().map(|(k, p)| (k, p.greenlet.clone())).collect()
            };
            let any_alive = victims.iter().any(|(_, g)| !g.is_dead());
            for (_, g) in &victims {
                kill_quietly(g);
            }
            // Parks of the dead are gone by now (their guards ran); drop
            // the rest (unstarted tasks, greenlets that refused to die).
            for &(k, _) in &victims {
                self.remove_park(k);
            }
            drop(victims);
            if !any_alive || self.parks.borrow().len() == 0 {
                break;
            }
        }
        kill_quietly(&self.greenlet);
    }
}

fn kill_quietly(g: &Greenlet) {
    if g.is_dead() || g.is_main() {
        return;
    }
    if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| g.kill())) {
        eprintln!(
            "greenlet::hub: a panic escaped {g:?} while the thread's hub shut down: {}",
            payload_text(&*p)
        );
    }
}

/// Removes a park (and so its timer) when the waiting call ends, however
/// it ends.
pub(crate) struct ParkGuard<'a> {
    pub(crate) hub: &'a Hub,
    pub(crate) key: Key,
}

impl Drop for ParkGuard<'_> {
    fn drop(&mut self) {
        self.hub.remove_park(self.key);
    }
}

/// The panic payload that interrupts the wait of a greenlet whose
/// `with_timeout` expired; caught by that `with_timeout` (matched by id).
pub(crate) struct TimeoutUnwind(pub(crate) u64);

/// What a waiting call does with a wake it does not expect for itself:
/// a deadlock panics with [`DEADLOCK`], an expired `with_timeout` unwinds to
/// it.
pub(crate) fn unexpected(why: Wake) -> ! {
    match why {
        Wake::Deadlock => panic!("{DEADLOCK}"),
        Wake::Timeout(id) => panic::resume_unwind(Box::new(TimeoutUnwind(id))),
        other => unreachable!("greenlet::hub: a waiting greenlet was resumed with {other:?}"),
    }
}
