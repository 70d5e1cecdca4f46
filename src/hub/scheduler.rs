//! The hub itself: one per thread, a greenlet whose parent is the thread's
//! main greenlet, running a loop over ready greenlets (first in, first
//! out), timers ([`Timers`]) and IO readiness ([`Reactor`]).
//!
//! # Waiting: the park
//!
//! Every waiting call of the hub (sleep, join, IO, the `sync` types) waits
//! the same way, through one primitive, [`Park`]: a slot in a generational
//! slab holding the waiting greenlet. Whatever can end the wait (a timer,
//! an IO event, a finishing task, a `Queue::put`) holds the park's [`Key`],
//! never the greenlet; [`Hub::wake`] marks the park and queues its key, and
//! a stale key (the wait already ended) wakes nothing. [`Park::wait`]
//! switches to the hub, which later switches back with a [`Wake`] saying
//! why; a deadlock, an expired `with_timeout` and a `kill` of a task that
//! waits inside a generator's body unwind out of `wait` instead of
//! returning. Dropping the `Park` removes it (and its timer), so a wait
//! that ends by a panic, a `kill` or a timeout leaves nothing registered.
//!
//! # Whose wait it is
//!
//! A generator's body runs as part of the greenlet that resumed it
//! (API.md §3): a park records that greenlet, its *owner*, found up the
//! chain of resumers. `with_timeout` and `Task::kill` find a wait through
//! its owner, so they interrupt a wait made at any depth of generators.
//!
//! # Borrowing
//!
//! The hub's state lives in `RefCell`s that are borrowed only for the
//! duration of a bookkeeping step, never across a switch and never while a
//! greenlet handle is dropped (dropping the last handle of a suspended
//! greenlet kills it, running arbitrary destructors that may call back into
//! the hub).

use super::reactor::Reactor;
use super::remote::Remote;
use super::slab::{Key, Slab};
use super::timers::{TimerEntry, TimerTarget, Timers};
use crate::greenlet::{context_if_not, payload_text};
use crate::{Greenlet, GreenletExit};
use std::cell::{Cell, OnceCell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::rc::{Rc, Weak};
use std::sync::Arc;
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
    /// Whatever it waits for says it may go on (a joined task finished, a
    /// `sync` object handed it something or was set or closed).
    Signal,
    /// Nothing can ever wake anyone: the waiting call must panic.
    Deadlock,
    /// The `with_timeout` with this id expired while the greenlet waited.
    Timeout(u64),
    /// The task this wait belongs to is killed while the wait is in a
    /// generator's body: unwind with `GreenletExit` from here.
    Kill,
    /// The thread is exiting and the hub is being torn down.
    Shutdown,
}

/// The message of the panic raised by a waiting call that can never be
/// woken (followed by the name of the call).
pub(crate) const DEADLOCK: &str = "greenlet::hub: deadlock: every greenlet is waiting and \
    nothing can wake any of them (no ready greenlet, no timer, no IO wait)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ParkState {
    Waiting,
    Woken(Wake),
    /// The hub switched into it; its waiting call will remove the park.
    Resumed,
}

/// A park's record in the hub.
struct Slot {
    greenlet: Greenlet,
    /// The greenlet the wait belongs to, when it is not `greenlet` (a wait
    /// in a generator's body belongs to whoever resumed the generator).
    owner: Option<Greenlet>,
    state: ParkState,
    /// The sequence number of this park's own armed timer; 0: none
    /// (sequence numbers start at 1).
    timer: u64,
    /// A spawned task's start: no waiting call owns it, the hub removes it.
    hub_owned: bool,
}

impl Slot {
    fn owner(&self) -> &Greenlet {
        self.owner.as_ref().unwrap_or(&self.greenlet)
    }
}

/// One active `with_timeout`.
struct TimeoutRec {
    owner: Greenlet,
    /// Its timer has not fired (nor been cancelled).
    armed: bool,
}

/// Interruptions of a greenlet's waits that could not be delivered when
/// they came: a `with_timeout` that expired, or a kill, while the greenlet
/// was not waiting (it was ready, or running), or while a greenlet of the
/// thread was unwinding (see [`Park::wait`]). Delivered at its next wait.
#[derive(Default)]
struct Pending {
    timeouts: Vec<u64>,
    kill: bool,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.timeouts.is_empty() && !self.kill
    }
}

/// How long the hub watches its inbox before it sleeps in the poller while
/// a wake from another thread is due (see [`Hub::spin_for_remote_wake`]).
const REMOTE_SPIN: Duration = Duration::from_micros(50);

/// Whether the process may run on more than one CPU (asked once).
fn several_cpus() -> bool {
    static SEVERAL: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SEVERAL.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() > 1))
}

/// Resume at most this many greenlets between two looks at IO readiness
/// while greenlets are ready (when none is, the hub blocks in the poller).
const POLL_EVERY: u32 = 61;

pub(crate) struct Hub {
    greenlet: Greenlet,
    parks: RefCell<Slab<Slot>>,
    ready: RefCell<VecDeque<Key>>,
    timers: Timers,
    timeouts: RefCell<HashMap<u64, TimeoutRec>>,
    /// Interruptions waiting for their greenlet's next wait, by greenlet.
    pending: RefCell<HashMap<Greenlet, Pending>>,
    /// How many: timeouts, plus kills.
    pending_count: Cell<usize>,
    /// Parks woken for a reason that a kill replaced before they resumed,
    /// with that reason (to restore if the kill must be deferred).
    preempted: RefCell<Vec<(Key, Wake)>>,
    main_park: Cell<Option<Key>>,
    last_park: Cell<Option<Key>>,
    since_poll: Cell<u32>,
    shutting_down: Cell<bool>,
    pub(crate) io: Reactor,
    /// The inbox for wakes from other threads, made on first use.
    remote: OnceCell<Arc<Remote>>,
    /// Waits that another thread will end (a `spawn_blocking` call, a
    /// `Receiver` with live senders): not a deadlock while any is counted.
    remote_waiters: Cell<usize>,
    /// Those of them that are likely to end soon (`spawn_blocking` calls):
    /// worth watching the inbox for before sleeping.
    remote_soon: Cell<usize>,
    /// Where the keys taken from `remote` go (reused).
    remote_keys: RefCell<Vec<u64>>,
    /// Turns of the loop so far (for tests: an idle hub must not spin).
    turns: Cell<u64>,
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
        // The shutdown runs greenlets (their destructors) after Rust has
        // taken the thread's alternate signal stack away: arm one, so that
        // an overflow there is reported, not a bare SIGSEGV.
        crate::greenlet::arm_fault_reports();
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
    try_hub().unwrap_or_else(|e| panic!("{e}"))
}

/// [`hub`], returning the error if the hub cannot be created.
pub(crate) fn try_hub() -> io::Result<Rc<Hub>> {
    let p = HUB.with(Cell::get);
    if !p.is_null() {
        // SAFETY: HUB owns one count, released only by Teardown after it
        // sets HUB to null; this adds one for the caller.
        unsafe {
            Rc::increment_strong_count(p);
            return Ok(Rc::from_raw(p));
        }
    }
    create_hub()
}

#[cold]
fn create_hub() -> io::Result<Rc<Hub>> {
    if TEARDOWN.try_with(|_| ()).is_err() {
        return Err(io::Error::other(
            "greenlet::hub: the thread is exiting and its hub is gone",
        ));
    }
    let io = Reactor::new().map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("greenlet::hub: cannot create the hub's poller: {e}"),
        )
    })?;
    let creator = Greenlet::current();
    let mut error = None;
    let hub = Rc::new_cyclic(|weak: &Weak<Hub>| {
        let weak = weak.clone();
        let created = Greenlet::builder()
            .name("hub")
            .parent(&Greenlet::main())
            .try_create(move |(): ()| {
                // Started at creation, untraced: hand control straight
                // back. The hub's first turn begins when this switch
                // returns; a trace callback that panics there is reported,
                // and the hub goes on (it must never die: every task's
                // wait depends on it).
                let started = panic::catch_unwind(AssertUnwindSafe(|| {
                    creator.switch::<(), ()>(());
                }));
                drop(creator);
                if let Err(p) = started {
                    // Killed before its first turn (the thread exits with
                    // a hub that never ran): die. A kill aimed at it while
                    // the thread goes on cannot come here: every kill of
                    // the hub comes after its loop runs (its handle is
                    // reachable only through a task it started).
                    if p.is::<GreenletExit>() {
                        panic::resume_unwind(p);
                    }
                    report_panic_in_hub("its start", &*p);
                }
                let hub = weak.upgrade().expect("the hub outlives its greenlet");
                hub.run()
            });
        let greenlet = created.unwrap_or_else(|e| {
            error = Some(io::Error::new(
                e.kind(),
                format!("greenlet::hub: cannot create the hub's greenlet: {e}"),
            ));
            // A placeholder that never runs: the hub is dropped below.
            Greenlet::main()
        });
        Hub {
            greenlet,
            parks: RefCell::new(Slab::new()),
            ready: RefCell::new(VecDeque::new()),
            timers: Timers::new(),
            timeouts: RefCell::new(HashMap::new()),
            pending: RefCell::new(HashMap::new()),
            pending_count: Cell::new(0),
            preempted: RefCell::new(Vec::new()),
            main_park: Cell::new(None),
            last_park: Cell::new(None),
            since_poll: Cell::new(0),
            shutting_down: Cell::new(false),
            io,
            remote: OnceCell::new(),
            remote_waiters: Cell::new(0),
            remote_soon: Cell::new(0),
            remote_keys: RefCell::new(Vec::new()),
            turns: Cell::new(0),
        }
    });
    if let Some(e) = error {
        return Err(e);
    }
    // Start it now, with tracing off for the two switches, so that no
    // trace callback can kill it before its loop runs.
    let trace = crate::settrace(None);
    hub.greenlet.switch::<(), ()>(());
    crate::settrace(trace);
    HUB.with(|h| h.set(Rc::into_raw(Rc::clone(&hub))));
    Ok(hub)
}

/// The panic a greenlet that tries to kill the hub's greenlet gets.
const KILL_REFUSED: &str =
    "greenlet::hub: the hub's greenlet cannot be killed (kill the tasks instead)";

/// A greenlet waiting in the hub got something other than the hub's word
/// to go on.
#[cold]
#[inline(never)]
fn resumed_by_a_stranger() -> ! {
    panic!(
        "greenlet::hub: a greenlet waiting in the hub was resumed by a direct switch with a \
         value, not by the hub (greenlets of the hub must not switch to each other directly)"
    )
}

/// A panic that came back to the hub's greenlet (a trace callback that
/// panicked in it, or a bug): reported, and the hub goes on.
#[cold]
fn report_panic_in_hub(from: &str, payload: &(dyn std::any::Any + Send)) {
    eprintln!(
        "greenlet::hub: a panic reached the hub from {from}: {}",
        payload_text(payload)
    );
}

impl Hub {
    /// Parks registered now (waiting calls, unstarted tasks).
    pub(crate) fn parked_count(&self) -> usize {
        self.parks.borrow().len()
    }

    /// Turns of the hub's loop so far.
    pub(crate) fn turns(&self) -> u64 {
        self.turns.get()
    }

    /// The hub's own greenlet (the parent of every spawned task).
    pub(crate) fn greenlet(&self) -> &Greenlet {
        &self.greenlet
    }

    // -----------------------------------------------------------------------
    // Parks.

    /// A park for the current greenlet, waiting. Ended by
    /// [`remove_park`](Hub::remove_park) (the [`Park`] guard does it).
    fn new_park(&self, state: ParkState) -> Key {
        let me = Greenlet::current();
        if me == self.greenlet {
            panic!("greenlet::hub: a blocking call ran inside the hub itself");
        }
        let owner = context_if_not(&me);
        let owner_ref = owner.as_ref().unwrap_or(&me);
        let is_main = owner_ref.is_main();
        let word: *const Cell<u64> = owner_ref.wait_word();
        let key = self.parks.borrow_mut().insert(Slot {
            greenlet: me,
            owner,
            state,
            timer: 0,
            hub_owned: false,
        });
        if let ParkState::Woken(_) = state {
            self.ready.borrow_mut().push_back(key);
        }
        // Where the owner waits now: how a kill or a timeout finds it.
        // SAFETY: the word is in the owner's greenlet, which the slot just
        // inserted holds a count of, so it is alive.
        unsafe { (*word).set(key.to_word()) };
        if is_main {
            self.main_park.set(Some(key));
        }
        self.last_park.set(Some(key));
        key
    }

    /// Queue `greenlet` to be started with [`Wake::Start`], after
    /// everything already ready.
    pub(crate) fn schedule_start(&self, greenlet: Greenlet) -> Key {
        let key = self.parks.borrow_mut().insert(Slot {
            greenlet,
            owner: None,
            state: ParkState::Woken(Wake::Start),
            timer: 0,
            hub_owned: true,
        });
        self.ready.borrow_mut().push_back(key);
        key
    }

    /// Drop the start entry `key` of a task killed before it started (a
    /// stale key, of a task that started, is a no-op).
    pub(crate) fn cancel_start(&self, key: Key) {
        let hub_owned = self.parks.borrow().get(key).is_some_and(|p| p.hub_owned);
        if hub_owned {
            self.remove_park(key);
        }
    }

    /// End a park: cancel its timer; a stale key is a no-op.
    fn remove_park(&self, key: Key) {
        let removed = self.parks.borrow_mut().remove(key);
        if let Some(p) = removed {
            let word = p.owner().wait_word();
            if word.get() == key.to_word() {
                word.set(0);
            }
            if p.timer != 0 {
                self.timers.disarmed();
            }
            if !self.preempted.borrow().is_empty() {
                self.preempted.borrow_mut().retain(|&(k, _)| k != key);
            }
            if self.main_park.get() == Some(key) {
                self.main_park.set(None);
            }
            drop(p); // outside the borrow: it drops greenlet handles
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
            Some(p) if matches!(p.state, ParkState::Woken(Wake::Kill | Wake::Timeout(_))) => {
                // Interrupted, not resumed yet: if the interruption has to
                // be deferred, the wait goes on, and must then end by this
                // wake (its timer has fired, its IO interest or its place
                // in a wait list is gone).
                let mut pre = self.preempted.borrow_mut();
                if !pre.iter().any(|&(k, _)| k == key) {
                    pre.push((key, why));
                }
                false
            }
            _ => false,
        }
    }

    /// Interrupt the wait `owner` makes now (in its own body, or in the
    /// body of a generator it resumed) with `why` ([`Wake::Kill`] or
    /// [`Wake::Timeout`]). If it was woken and has not resumed yet, a kill
    /// takes the place of that wake (so that what was handed to the wait
    /// passes on), and a timeout waits for its next wait. False if `owner`
    /// does not wait in the hub (it is unstarted, running, or suspended
    /// elsewhere).
    pub(crate) fn interrupt(&self, owner: &Greenlet, why: Wake) -> bool {
        let Some(key) = Key::from_word(owner.wait_word().get()) else {
            return false;
        };
        let woken = {
            let mut parks = self.parks.borrow_mut();
            match parks.get_mut(key) {
                Some(p) if p.state == ParkState::Waiting => {
                    p.state = ParkState::Woken(why);
                    self.ready.borrow_mut().push_back(key);
                    return true;
                }
                Some(p) => match p.state {
                    ParkState::Woken(before) if why == Wake::Kill => {
                        if before != Wake::Kill {
                            p.state = ParkState::Woken(why);
                            self.preempted.borrow_mut().push((key, before));
                        }
                        return true;
                    }
                    ParkState::Woken(_) => true,
                    _ => false,
                },
                None => false,
            }
        };
        if woken {
            self.add_pending(owner, why);
        }
        woken
    }

    /// Deliver `why` at `owner`'s next wait.
    fn add_pending(&self, owner: &Greenlet, why: Wake) {
        let mut pending = self.pending.borrow_mut();
        let rec = pending.entry(owner.clone()).or_default();
        match why {
            Wake::Kill if !rec.kill => rec.kill = true,
            Wake::Timeout(id) => rec.timeouts.push(id),
            _ => return,
        }
        self.pending_count.set(self.pending_count.get() + 1);
    }

    /// The interruption to deliver to the wait `key` now, if any: a kill
    /// first, else the oldest (outermost) expired `with_timeout`.
    fn take_pending(&self, key: Key) -> Option<Wake> {
        let parks = self.parks.borrow();
        let owner = parks.get(key)?.owner();
        let mut pending = self.pending.borrow_mut();
        let rec = pending.get_mut(owner)?;
        let why = if rec.kill {
            rec.kill = false;
            Wake::Kill
        } else {
            let (i, &id) = rec.timeouts.iter().enumerate().min_by_key(|&(_, id)| *id)?;
            rec.timeouts.swap_remove(i);
            Wake::Timeout(id)
        };
        self.pending_count.set(self.pending_count.get() - 1);
        let gone = if rec.is_empty() {
            pending.remove_entry(owner)
        } else {
            None
        };
        drop(pending);
        drop(parks);
        drop(gone); // outside the borrows: a greenlet handle
        Some(why)
    }

    /// Forget whatever waits to be delivered to `owner` (it has finished).
    pub(crate) fn forget_pending(&self, owner: &Greenlet) {
        if self.pending_count.get() == 0 {
            return;
        }
        let gone = self.pending.borrow_mut().remove_entry(owner);
        if let Some((_, rec)) = &gone {
            let n = rec.timeouts.len() + usize::from(rec.kill);
            self.pending_count.set(self.pending_count.get() - n);
        }
        drop(gone);
    }

    /// The wait `key` was interrupted with `why` while the thread was
    /// unwinding: it goes on waiting, and `why` waits for the owner's next
    /// wait made while nothing unwinds.
    fn defer_interruption(&self, key: Key, why: Wake) {
        let before = {
            let mut pre = self.preempted.borrow_mut();
            pre.iter()
                .position(|&(k, _)| k == key)
                .map(|i| pre.swap_remove(i).1)
        };
        let owner = {
            let mut parks = self.parks.borrow_mut();
            let p = parks.get_mut(key).expect("the deferring wait's park");
            match before {
                // The wake the kill replaced: it resumes with that after all.
                Some(w) => {
                    p.state = ParkState::Woken(w);
                    self.ready.borrow_mut().push_back(key);
                }
                None => p.state = ParkState::Waiting,
            }
            p.owner().clone()
        };
        self.add_pending(&owner, why);
    }

    /// Switch to the hub until the park `key` (the current greenlet's) is
    /// woken, and say why. A `with_timeout` that expired while the greenlet
    /// was not waiting is delivered here at once.
    fn wait(&self, key: Key) -> Wake {
        if self.shutting_down.get() {
            return Wake::Shutdown;
        }
        if self.pending_count.get() > 0
            && !std::thread::panicking()
            && let Some(why) = self.take_pending(key)
        {
            return why;
        }
        debug_assert!(self.parks.borrow().get(key).is_some());
        // Every waiting greenlet is suspended here, so any of them can be
        // resumed with a `Wake`, by the hub or by the greenlet that waits
        // next (which may be this one, if it is the only one ready: then
        // the switch returns at once). The hub itself only ever receives
        // `()`: from a greenlet that goes to it to wait, or a task's end.
        let r = match self.direct_handoff() {
            Some((next, why)) => next.try_switch::<Wake, Wake>(why),
            None => self.greenlet.try_switch::<(), Wake>(()),
        };
        r.unwrap_or_else(|_| resumed_by_a_stranger())
    }

    // -----------------------------------------------------------------------
    // Timers.

    /// Wake the park `key` with [`Wake::Timer`] once `deadline` has passed.
    /// Cancelled by [`remove_park`](Hub::remove_park).
    fn arm_timer(&self, key: Key, deadline: Instant) {
        let seq = self.timers.next_seq();
        {
            let mut parks = self.parks.borrow_mut();
            let p = parks.get_mut(key).expect("arm_timer on a live park");
            assert!(p.timer == 0, "one timer per park");
            p.timer = seq;
        }
        self.push_timer(TimerEntry {
            deadline,
            seq,
            target: TimerTarget::Park(key),
        });
    }

    fn push_timer(&self, entry: TimerEntry) {
        let parks = self.parks.borrow();
        let timeouts = self.timeouts.borrow();
        self.timers
            .push(entry, |t| Self::is_live(&parks, &timeouts, t));
    }

    fn is_live(parks: &Slab<Slot>, timeouts: &HashMap<u64, TimeoutRec>, t: &TimerEntry) -> bool {
        match t.target {
            TimerTarget::Park(key) => parks.get(key).is_some_and(|p| p.timer == t.seq),
            TimerTarget::Timeout(id) => timeouts.get(&id).is_some_and(|r| id == t.seq && r.armed),
        }
    }

    /// Fire every timer whose deadline is at or before `now`, in deadline
    /// order.
    fn fire_due(&self, now: Instant) {
        while let Some(entry) = self.timers.pop_due(now) {
            match entry.target {
                TimerTarget::Park(key) => {
                    let fired = match self.parks.borrow_mut().get_mut(key) {
                        Some(p) if p.timer == entry.seq => {
                            p.timer = 0;
                            self.timers.disarmed();
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

    /// The earliest live deadline.
    fn next_deadline(&self) -> Option<Instant> {
        let parks = self.parks.borrow();
        let timeouts = self.timeouts.borrow();
        self.timers
            .next_deadline(|t| Self::is_live(&parks, &timeouts, t))
    }

    // -----------------------------------------------------------------------
    // with_timeout.

    /// Start a `with_timeout` for the running code's greenlet (a
    /// generator's body: the greenlet that resumed it); returns its id.
    pub(crate) fn start_timeout(&self, deadline: Instant) -> u64 {
        let id = self.timers.next_seq();
        let me = Greenlet::current();
        let owner = context_if_not(&me).unwrap_or(me);
        self.timeouts
            .borrow_mut()
            .insert(id, TimeoutRec { owner, armed: true });
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
        let Some(rec) = rec else { return };
        if rec.armed {
            self.timers.disarmed();
        }
        if self.pending_count.get() > 0 {
            let gone = {
                let mut pending = self.pending.borrow_mut();
                match pending.get_mut(&rec.owner) {
                    Some(p) => {
                        if let Some(i) = p.timeouts.iter().position(|&t| t == id) {
                            p.timeouts.swap_remove(i);
                            self.pending_count.set(self.pending_count.get() - 1);
                        }
                        if p.is_empty() {
                            pending.remove_entry(&rec.owner)
                        } else {
                            None
                        }
                    }
                    None => None,
                }
            };
            drop(gone); // outside the borrow: a greenlet handle
        }
        drop(rec);
    }

    fn fire_timeout(&self, id: u64, seq: u64) {
        let owner = {
            let mut timeouts = self.timeouts.borrow_mut();
            let Some(rec) = timeouts.get_mut(&id) else {
                return;
            };
            if !rec.armed || seq != id {
                return;
            }
            rec.armed = false;
            self.timers.disarmed();
            rec.owner.clone()
        };
        // Interrupt the greenlet's current wait, or deliver at its next.
        if !self.interrupt(&owner, Wake::Timeout(id)) {
            self.add_pending(&owner, Wake::Timeout(id));
        }
        drop(owner);
    }

    // -----------------------------------------------------------------------
    // Wakes from other threads.

    /// This hub's inbox for wakes from other threads (made on first use:
    /// its waker is a registration with the poller).
    pub(crate) fn remote(&self) -> io::Result<Arc<Remote>> {
        if let Some(r) = self.remote.get() {
            return Ok(Arc::clone(r));
        }
        let waker = self.io.waker().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("greenlet::hub: cannot make the hub's cross-thread waker: {e}"),
            )
        })?;
        let remote = Arc::new(Remote::new(waker));
        if self.shutting_down.get() {
            remote.close();
        }
        Ok(Arc::clone(self.remote.get_or_init(|| remote)))
    }

    /// Count a wait that another thread will end, for as long as the
    /// returned guard lives: the deadlock check does not fire meanwhile.
    /// `soon`: the wake is likely within microseconds (a worker's answer),
    /// so the hub watches for it before sleeping
    /// ([`spin_for_remote_wake`](Hub::spin_for_remote_wake)). Not for a
    /// channel's receiver: a hub that sleeps lets senders queue up many
    /// values for one wake, where watching would take them one by one.
    pub(crate) fn expect_remote_wake(&self, soon: bool) -> RemoteWait<'_> {
        self.remote_waiters.set(self.remote_waiters.get() + 1);
        if soon {
            self.remote_soon.set(self.remote_soon.get() + 1);
        }
        RemoteWait(self, soon)
    }

    /// Nothing to do but wait for another thread: watch the inbox for a
    /// short while before sleeping in the poller, and say whether a wake
    /// came. A worker that answers within [`REMOTE_SPIN`] (a short
    /// `spawn_blocking` call) is then taken without the hub sleeping and
    /// being woken, which costs more than the spin. Not on a machine with
    /// one CPU, where the worker cannot run while the hub spins, and not
    /// past the next timer's deadline.
    fn spin_for_remote_wake(&self, deadline: Option<Instant>) -> bool {
        let Some(remote) = self.remote.get() else {
            return false;
        };
        if !several_cpus() {
            return false;
        }
        let start = Instant::now();
        let until = deadline.map_or(start + REMOTE_SPIN, |d| d.min(start + REMOTE_SPIN));
        loop {
            for _ in 0..64 {
                if remote.has_wakes() {
                    return true;
                }
                std::hint::spin_loop();
            }
            if Instant::now() >= until {
                return remote.has_wakes();
            }
        }
    }

    fn take_remote_wakes(&self, remote: &Remote) {
        let mut keys = self.remote_keys.borrow_mut();
        remote.take(&mut keys);
        for &w in keys.iter() {
            if let Some(key) = Key::from_word(w) {
                self.wake(key, Wake::Signal);
            }
        }
    }

    // -----------------------------------------------------------------------
    // The loop.

    fn run(&self) -> ! {
        loop {
            self.turns.set(self.turns.get().wrapping_add(1));
            if let Some(remote) = self.remote.get()
                && remote.has_wakes()
            {
                self.take_remote_wakes(remote);
            }
            let mut now = None;
            if self.timers.live() > 0 {
                let t = Instant::now();
                self.fire_due(t);
                now = Some(t);
            }
            if self.ready.borrow().is_empty() {
                let deadline = if self.timers.live() > 0 {
                    self.next_deadline()
                } else {
                    None
                };
                if deadline.is_none() && self.io.waiters() == 0 && self.remote_waiters.get() == 0 {
                    self.deadlock();
                    continue;
                }
                if self.remote_soon.get() > 0 && self.spin_for_remote_wake(deadline) {
                    continue;
                }
                let timeout =
                    deadline.map(|d| d.saturating_duration_since(now.unwrap_or_else(Instant::now)));
                match self.remote.get() {
                    Some(remote) => {
                        if remote.sleep() {
                            self.poll(timeout);
                            remote.awake();
                        }
                    }
                    None => self.poll(timeout),
                }
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
        if let Err(e) = self.io.poll(timeout, |key| {
            self.wake(key, Wake::Io);
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
        let alone = self.timers.live() == 0
            && self.pending_count.get() == 0
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
        if self.timers.live() > 0 || self.since_poll.get() >= POLL_EVERY {
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
        let r = panic::catch_unwind(AssertUnwindSafe(|| greenlet.try_switch::<Wake, ()>(why)));
        match r {
            Ok(Ok(())) => {}
            Ok(Err(_)) => eprintln!(
                "greenlet::hub: {greenlet:?} (or whatever ran after it) switched to the hub \
                 with a value, or resumed it without going through a blocking call; ignored"
            ),
            Err(p) => self.caught(&format!("{greenlet:?}"), p),
        }
        drop(greenlet);
    }

    /// A panic came back to the hub's greenlet. During shutdown it goes on
    /// (the hub is being killed). A kill aimed at the hub is refused: the
    /// killer (the hub's parent while a kill lasts) gets a panic saying so,
    /// and the hub goes on. Anything else (a trace callback that panicked
    /// in the hub, a bug) is reported, and the hub goes on.
    fn caught(&self, from: &str, p: Box<dyn std::any::Any + Send>) {
        if self.shutting_down.get() {
            panic::resume_unwind(p);
        }
        if !p.is::<GreenletExit>() {
            report_panic_in_hub(from, &*p);
            return;
        }
        loop {
            // The killer is the hub's parent for as long as its kill lasts.
            let Some(killer) = self.greenlet.parent() else {
                return;
            };
            let r = panic::catch_unwind(AssertUnwindSafe(|| {
                // Control comes back here when a greenlet goes to the hub.
                killer.throw::<String, ()>(KILL_REFUSED.to_string());
            }));
            match r {
                Ok(()) => return,
                // Killed again (by whoever is the hub's parent now) while
                // the last killer had the refusal: refuse that one too.
                Err(p) if p.is::<GreenletExit>() && !self.shutting_down.get() => {}
                Err(p) => return self.caught("a greenlet that resumed it", p),
            }
        }
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
        let r = panic::catch_unwind(AssertUnwindSafe(|| {
            Greenlet::main().throw::<String, ()>(
                "greenlet::hub: the hub ran out of work and no greenlet waits on it".to_string(),
            );
        }));
        if let Err(p) = r {
            self.caught("main", p);
        }
    }

    /// Thread exit: kill every greenlet the hub holds (their destructors
    /// run; blocking calls made meanwhile return at once), then the hub.
    fn shutdown(&self) {
        self.shutting_down.set(true);
        if let Some(remote) = self.remote.get() {
            remote.close();
        }
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

/// See [`Hub::expect_remote_wake`].
pub(crate) struct RemoteWait<'h>(&'h Hub, bool);

impl Drop for RemoteWait<'_> {
    fn drop(&mut self) {
        self.0.remote_waiters.set(self.0.remote_waiters.get() - 1);
        if self.1 {
            self.0.remote_soon.set(self.0.remote_soon.get() - 1);
        }
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

/// The one waiting primitive of the hub: every waiting call (sleep, join,
/// IO, the `sync` types) makes a `Park`, hands its [`key`](Park::key) to
/// whatever can end the wait, and calls [`wait`](Park::wait). Dropping it
/// removes the park and its timer, however the wait ended.
pub(crate) struct Park<'h> {
    hub: &'h Hub,
    key: Key,
    /// The waiting call, for the deadlock message ("Queue::get").
    what: &'static str,
}

impl<'h> Park<'h> {
    /// A park of the current greenlet (owned by the greenlet the running
    /// code belongs to), waiting in the call `what`.
    ///
    /// # Panics
    /// If called in the hub's own greenlet.
    pub(crate) fn new(hub: &'h Hub, what: &'static str) -> Park<'h> {
        Park {
            hub,
            key: hub.new_park(ParkState::Waiting),
            what,
        }
    }

    /// A park that is ready at once: its [`wait`](Park::wait) returns
    /// [`Wake::Ready`] after every greenlet that was ready has run (a
    /// yield). The same as [`new`](Park::new) and then waking it, in one
    /// step.
    pub(crate) fn ready(hub: &'h Hub, what: &'static str) -> Park<'h> {
        Park {
            hub,
            key: hub.new_park(ParkState::Woken(Wake::Ready)),
            what,
        }
    }

    /// What wakes it: pass to [`Hub::wake`].
    #[inline]
    pub(crate) fn key(&self) -> Key {
        self.key
    }

    /// Also wake with [`Wake::Timer`] once `deadline` has passed.
    pub(crate) fn deadline(&self, deadline: Instant) {
        self.hub.arm_timer(self.key, deadline);
    }

    /// Switch to the hub until woken, and say why: [`Wake::Ready`],
    /// [`Wake::Timer`], [`Wake::Io`], [`Wake::Signal`], or
    /// [`Wake::Shutdown`] (at once, while the thread's hub shuts down).
    ///
    /// # Panics
    /// With [`DEADLOCK`]'s message naming the call, if nothing can ever
    /// wake it. An expired `with_timeout` unwinds to it, and a `Task::kill`
    /// of the task this wait belongs to unwinds with `GreenletExit`; but
    /// while any greenlet of the thread is unwinding, both are deferred to
    /// the next wait (see the loop).
    pub(crate) fn wait(&self) -> Wake {
        loop {
            match self.hub.wait(self.key) {
                Wake::Deadlock => panic!("{DEADLOCK}; this one waits in {}", self.what),
                why @ (Wake::Timeout(_) | Wake::Kill) if std::thread::panicking() => {
                    // A greenlet of this thread is unwinding: perhaps this
                    // one, in a destructor, where a second panic would abort
                    // the process (the panic state is per thread, so which
                    // one cannot be told). The wait goes on; the
                    // interruption comes at the next wait made while
                    // nothing unwinds.
                    self.hub.defer_interruption(self.key, why);
                }
                Wake::Timeout(id) => panic::resume_unwind(Box::new(TimeoutUnwind(id))),
                Wake::Kill => panic::resume_unwind(Box::new(GreenletExit)),
                why => return why,
            }
        }
    }
}

impl Drop for Park<'_> {
    fn drop(&mut self) {
        self.hub.remove_park(self.key);
    }
}

/// The panic payload that interrupts the wait of a greenlet whose
/// `with_timeout` expired; caught by that `with_timeout` (matched by id).
pub(crate) struct TimeoutUnwind(pub(crate) u64);
