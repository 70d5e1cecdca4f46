//! [`Task`]: a spawned greenlet's handle, and joining.

use super::scheduler::{Hub, Park, Wake, hub, try_hub};
use super::slab::Key;
use crate::{Builder, Greenlet, GreenletExit};
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::thread;
use std::time::{Duration, Instant};

/// One waiting call's interest in several tasks: woken when `remaining`
/// more of them have finished (all of them for a join, one for
/// [`wait_any`]).
struct JoinWait {
    park: Key,
    remaining: Cell<usize>,
}

struct TaskState<R> {
    greenlet: Greenlet,
    result: RefCell<Option<thread::Result<R>>>,
    finished: Cell<bool>,
    joiners: RefCell<Vec<Rc<JoinWait>>>,
    /// The hub's entry that starts it, until it has started (or been
    /// killed before it started).
    start: Cell<Option<Key>>,
}

impl<R> TaskState<R> {
    /// Record the outcome and wake whoever joins.
    fn finish(&self, hub: &Hub, result: thread::Result<R>) {
        if self.finished.replace(true) {
            return;
        }
        *self.result.borrow_mut() = Some(result);
        // A kill that came while it was unwinding (never delivered).
        hub.forget_pending(&self.greenlet);
        let joiners = std::mem::take(&mut *self.joiners.borrow_mut());
        for j in joiners {
            // A wait_any's count may already be 0 (another task finished
            // first and its waiter has not run yet).
            let left = j.remaining.get();
            j.remaining.set(left.saturating_sub(1));
            if left == 1 {
                hub.wake(j.park, Wake::Signal);
            }
        }
    }
}

/// See `try_spawn_with`: if dropped unused, the task never ran its body,
/// and ends as killed before it started.
struct FinishUnstarted<R>(std::rc::Weak<TaskState<R>>);

impl<R> FinishUnstarted<R> {
    /// The body starts: nothing to do on drop any more.
    fn take(self) -> std::rc::Weak<TaskState<R>> {
        let me = std::mem::ManuallyDrop::new(self);
        // SAFETY: `me` is never dropped nor used again: its one field is
        // moved out exactly once.
        unsafe { std::ptr::read(&me.0) }
    }
}

impl<R> Drop for FinishUnstarted<R> {
    fn drop(&mut self) {
        if let Some(state) = self.0.upgrade()
            && let Ok(hub) = try_hub()
        {
            if let Some(start) = state.start.take() {
                hub.cancel_start(start);
            }
            state.finish(&hub, Err(Box::new(GreenletExit) as Box<dyn Any + Send>));
        }
    }
}

/// A greenlet started by [`spawn`], and its result.
///
/// Dropping a `Task` detaches it: it keeps running; only
/// [`kill`](Task::kill) stops it. A `Task` belongs to its thread (`!Send`).
///
/// # Examples
///
/// ```
/// use greenlet::hub;
///
/// let task = hub::spawn(|| 6 * 7);
/// assert!(!task.is_ready()); // not started: main has not blocked yet
/// assert_eq!(task.get().unwrap(), 42); // main waits, the task runs
/// ```
pub struct Task<R> {
    state: Rc<TaskState<R>>,
}

/// Spawn `f` on this thread's hub. It starts (in spawn order, after every
/// greenlet already ready) the next time the current greenlet blocks: in a
/// [`sleep`](super::sleep), a join, an IO wait.
///
/// A panic in `f` ends the task, not the hub: [`Task::get`] returns it as
/// `Err`. The task gets a default-size stack (1 MiB of address space, a
/// page or two of memory) from the thread's pool; see [`spawn_with`] for
/// a name or another size.
///
/// # Panics
/// If no stack can be mapped for it (the message is the `io::Error`'s
/// text; [`try_spawn_with`] returns it instead).
///
/// # Examples
///
/// ```
/// use greenlet::hub;
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// let order = Rc::new(RefCell::new(Vec::new()));
/// let tasks: Vec<_> = (0..3)
///     .map(|i| {
///         let order = Rc::clone(&order);
///         hub::spawn(move || order.borrow_mut().push(i))
///     })
///     .collect();
/// order.borrow_mut().push(99); // the spawner goes on until it blocks
/// hub::join_all(&tasks, None);
/// assert_eq!(*order.borrow(), [99, 0, 1, 2]); // then they run in spawn order
/// ```
pub fn spawn<F, R>(f: F) -> Task<R>
where
    F: FnOnce() -> R + 'static,
    R: 'static,
{
    spawn_with(Greenlet::builder(), f)
}

/// [`spawn`] with the name and stack size of `builder` (its parent, if
/// set, is replaced: a task's parent is always the hub).
///
/// # Panics
/// As [`spawn`].
///
/// # Examples
///
/// ```
/// use greenlet::{Greenlet, hub};
///
/// let builder = Greenlet::builder().name("logger").stack_size(64 * 1024);
/// let t = hub::spawn_with(builder, || Greenlet::current().name().map(String::from));
/// assert_eq!(t.get().unwrap().as_deref(), Some("logger"));
/// ```
pub fn spawn_with<F, R>(builder: Builder, f: F) -> Task<R>
where
    F: FnOnce() -> R + 'static,
    R: 'static,
{
    try_spawn_with(builder, f).unwrap_or_else(|e| panic!("{e}"))
}

/// [`spawn_with`], returning the error if no stack can be mapped (nothing
/// is spawned then).
///
/// # Errors
/// The stack's `io::Error` (out of memory, `vm.max_map_count`, ...).
///
/// # Examples
///
/// ```
/// use greenlet::{Greenlet, hub};
///
/// let t = hub::try_spawn_with(Greenlet::builder(), || 1 + 1).expect("a stack");
/// assert_eq!(t.get().unwrap(), 2);
/// // A stack that cannot exist is an error, not a panic.
/// let e = hub::try_spawn_with(Greenlet::builder().stack_size(usize::MAX), || ()).unwrap_err();
/// assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
/// ```
pub fn try_spawn_with<F, R>(builder: Builder, f: F) -> io::Result<Task<R>>
where
    F: FnOnce() -> R + 'static,
    R: 'static,
{
    let hub = try_hub()?;
    let mut error = None;
    let state = Rc::new_cyclic(|weak: &std::rc::Weak<TaskState<R>>| {
        // Finishes the task if its body never runs: the greenlet is killed
        // before it starts, or dies at its start (a trace callback that
        // panics in it). Its closure, which holds this, is dropped then.
        let unstarted = FinishUnstarted(weak.clone());
        let created = builder.parent(hub.greenlet()).try_create(move |_: Wake| {
            let weak = unstarted.take();
            if let Some(state) = weak.upgrade() {
                state.start.set(None);
            }
            let result = panic::catch_unwind(AssertUnwindSafe(f));
            if let Some(state) = weak.upgrade() {
                state.finish(&super::scheduler::hub(), result);
            }
        });
        let greenlet = created.unwrap_or_else(|e| {
            error = Some(e);
            // A placeholder that never runs: the task is dropped below.
            Greenlet::main()
        });
        TaskState {
            greenlet,
            result: RefCell::new(None),
            finished: Cell::new(false),
            joiners: RefCell::new(Vec::new()),
            start: Cell::new(None),
        }
    });
    if let Some(e) = error {
        return Err(e);
    }
    state
        .start
        .set(Some(hub.schedule_start(state.greenlet.clone())));
    Ok(Task { state })
}

impl<R> Task<R> {
    /// A second handle to the same task (for the pool's list).
    pub(crate) fn clone_handle(&self) -> Task<R> {
        Task {
            state: Rc::clone(&self.state),
        }
    }

    /// Wait until the task has finished, or `timeout` has passed (`None`:
    /// no limit). True if it has finished.
    ///
    /// # Panics
    /// If called from the task itself, and (with a message that says
    /// "deadlock" and names the waiting call) if nothing can ever finish
    /// it.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub;
    /// use std::time::Duration;
    ///
    /// let slow = hub::spawn(|| hub::sleep(Duration::from_millis(100)));
    /// assert!(!slow.join(Some(Duration::from_millis(1)))); // timed out
    /// assert!(slow.join(None));
    /// assert!(slow.is_ready());
    /// ```
    pub fn join(&self, timeout: Option<Duration>) -> bool {
        join_states(&[&*self.state], timeout, Need::All, "Task::join") == 1
    }

    /// Wait for the task to finish and return what it returned, or `Err`
    /// with its panic payload ([`GreenletExit`] if it was killed).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub;
    ///
    /// let ok = hub::spawn(|| "fine");
    /// let bad = hub::spawn(|| -> u32 { panic!("boom") });
    /// assert_eq!(ok.get().unwrap(), "fine");
    /// let payload = bad.get().unwrap_err(); // the panic ended the task, not the hub
    /// assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    /// ```
    pub fn get(self) -> thread::Result<R> {
        self.join(None);
        self.state
            .result
            .borrow_mut()
            .take()
            .expect("a finished task has a result")
    }

    /// Whether the task has finished (returned, panicked, or been killed).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub;
    /// use std::time::Duration;
    ///
    /// let t = hub::spawn(|| ());
    /// assert!(!t.is_ready());
    /// hub::sleep(Duration::ZERO); // lets every ready greenlet run
    /// assert!(t.is_ready());
    /// ```
    pub fn is_ready(&self) -> bool {
        self.state.finished.get()
    }

    /// Raise [`GreenletExit`] in the task and return once it is dead: its
    /// destructors have run and whatever it waited for (a sleep, IO, a join)
    /// is no longer registered. An unstarted task never runs. Killing a
    /// finished task does nothing. [`get`](Task::get) then returns
    /// `Err(GreenletExit)`.
    ///
    /// A task waiting in the hub is interrupted where it waits, also inside
    /// the body of a generator it resumed (at any depth): `GreenletExit`
    /// unwinds that body and then the task, as a Python exception thrown
    /// into a greenlet unwinds the generator frames on its stack. `kill`
    /// waits (letting the others run) until the task has finished. A task
    /// that is ready but not resumed yet is interrupted at its next wait.
    ///
    /// A task that is already unwinding (a destructor of a panicking or
    /// dying task waits in the hub) is never thrown a second panic, which
    /// would abort the process: its wait goes on, `kill` waits until its
    /// unwinding has ended the task, and `get` returns the panic it was
    /// unwinding with. While any greenlet of the thread is unwinding, every
    /// interruption of a wait (a kill, an expired [`with_timeout`]) is
    /// deferred this way, as the panic state is one per thread (API.md
    /// §1): it takes effect at that greenlet's next wait.
    ///
    /// [`with_timeout`]: super::with_timeout
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::{GreenletExit, hub};
    /// use std::time::Duration;
    ///
    /// let t = hub::spawn(|| hub::sleep(Duration::from_secs(3600)));
    /// hub::sleep(Duration::ZERO); // it starts, and waits
    /// t.kill(); // returns once it is dead
    /// assert!(t.is_ready());
    /// assert!(t.get().unwrap_err().is::<GreenletExit>());
    /// ```
    pub fn kill(&self) {
        if self.begin_kill() {
            join_states(&[&*self.state], None, Need::All, "Task::kill");
        }
    }

    /// The first half of a kill, which never lets another greenlet run: a
    /// task waiting in the hub is interrupted there (true: it must be
    /// waited for); an unstarted one is killed at once, and never runs.
    pub(crate) fn begin_kill(&self) -> bool {
        if self.state.finished.get() {
            return false;
        }
        let hub = hub();
        if hub.interrupt(&self.state.greenlet, Wake::Kill) {
            return true;
        }
        // Not waiting in the hub: unstarted (or suspended elsewhere). An
        // unstarted one is finished, and its start entry removed, by its
        // dropped body (`FinishUnstarted`).
        self.state.greenlet.kill();
        if self.state.greenlet.is_dead() {
            // It died without finishing normally: record it.
            self.state
                .finish(&hub, Err(Box::new(GreenletExit) as Box<dyn Any + Send>));
        }
        false
    }
}

impl<R> fmt::Debug for Task<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("greenlet", &self.state.greenlet)
            .field("finished", &self.state.finished.get())
            .finish()
    }
}

/// Wait until every task has finished or `timeout` has passed; returns how
/// many have finished.
///
/// # Panics
/// As [`Task::join`].
///
/// # Examples
///
/// ```
/// use greenlet::hub;
/// use std::time::Duration;
///
/// let tasks: Vec<_> = [1, 5, 300]
///     .into_iter()
///     .map(|ms| hub::spawn(move || hub::sleep(Duration::from_millis(ms))))
///     .collect();
/// assert_eq!(hub::join_all(&tasks, Some(Duration::from_millis(100))), 2);
/// assert_eq!(hub::join_all(&tasks, None), 3);
/// ```
pub fn join_all<R>(tasks: &[Task<R>], timeout: Option<Duration>) -> usize {
    let states: Vec<&TaskState<R>> = tasks.iter().map(|t| &*t.state).collect();
    join_states(&states, timeout, Need::All, "hub::join_all")
}

/// Wait until one of `tasks` has finished (or `timeout` has passed), and
/// return the index of a finished one: the lowest, if several are. `None`
/// on timeout, and at once for an empty slice.
///
/// # Panics
/// As [`Task::join`].
///
/// # Examples
///
/// ```
/// use greenlet::hub;
/// use std::time::Duration;
///
/// let tasks = [
///     hub::spawn(|| hub::sleep(Duration::from_millis(300))),
///     hub::spawn(|| hub::sleep(Duration::from_millis(1))),
/// ];
/// assert_eq!(hub::wait_any(&tasks, None), Some(1));
/// assert_eq!(hub::wait_any(&tasks[..1], Some(Duration::from_millis(1))), None);
/// assert_eq!(hub::wait_any::<()>(&[], None), None); // at once
/// ```
pub fn wait_any<R>(tasks: &[Task<R>], timeout: Option<Duration>) -> Option<usize> {
    if tasks.is_empty() {
        return None;
    }
    let states: Vec<&TaskState<R>> = tasks.iter().map(|t| &*t.state).collect();
    join_states(&states, timeout, Need::One, "hub::wait_any");
    tasks.iter().position(Task::is_ready)
}

/// Kill each of `tasks` and return when all are dead (gevent's `killall`).
/// Every task is interrupted (or, unstarted, killed) before any of them
/// runs again, so that none of them gets to start or go on meanwhile; then
/// this waits for the ones that must unwind. As [`Task::kill`] for each.
///
/// # Examples
///
/// ```
/// use greenlet::hub;
/// use std::time::Duration;
///
/// let tasks: Vec<_> = (0..3)
///     .map(|_| hub::spawn(|| hub::sleep(Duration::from_secs(60))))
///     .collect();
/// hub::sleep(Duration::ZERO); // all three start and sleep
/// hub::kill_all(&tasks);
/// assert!(tasks.iter().all(|t| t.is_ready()));
/// ```
pub fn kill_all<R>(tasks: &[Task<R>]) {
    let interrupted: Vec<&TaskState<R>> = tasks
        .iter()
        .filter(|t| t.begin_kill())
        .map(|t| &*t.state)
        .collect();
    if !interrupted.is_empty() {
        join_states(&interrupted, None, Need::All, "hub::kill_all");
    }
}

/// Spawn `f` to start no earlier than `delay` from now (gevent's
/// `spawn_later`). Until then the task sleeps: it is spawned (and holds its
/// stack) at once, and a [`kill`](Task::kill) before `delay` means `f` never
/// runs.
///
/// # Panics
/// As [`spawn`].
///
/// # Examples
///
/// ```
/// use greenlet::hub;
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// let t = hub::spawn_later(Duration::from_millis(20), move || start.elapsed());
/// assert!(t.get().unwrap() >= Duration::from_millis(20));
/// ```
pub fn spawn_later<F, R>(delay: Duration, f: F) -> Task<R>
where
    F: FnOnce() -> R + 'static,
    R: 'static,
{
    let start = Instant::now() + delay;
    spawn(move || {
        super::time::sleep_until(start);
        f()
    })
}

/// How many of the tasks a join waits for.
#[derive(Clone, Copy)]
enum Need {
    All,
    One,
}

fn join_states<R>(
    tasks: &[&TaskState<R>],
    timeout: Option<Duration>,
    need: Need,
    what: &'static str,
) -> usize {
    let count = |tasks: &[&TaskState<R>]| tasks.iter().filter(|t| t.finished.get()).count();
    let done = count(tasks);
    let satisfied = match need {
        Need::All => done == tasks.len(),
        Need::One => done > 0,
    };
    if satisfied {
        return done;
    }
    let me = Greenlet::current();
    if tasks.iter().any(|t| !t.finished.get() && t.greenlet == me) {
        panic!("greenlet::hub: a task cannot join itself");
    }
    let deadline = timeout.map(|t| Instant::now() + t);
    let hub = hub();
    let park = Park::new(&hub, what);
    let wait = Rc::new(JoinWait {
        park: park.key(),
        remaining: Cell::new(match need {
            Need::All => tasks.len() - done,
            Need::One => 1,
        }),
    });
    // Leave no interest behind, however the wait ends.
    struct Unjoin<'a, R>(&'a [&'a TaskState<R>], &'a Rc<JoinWait>);
    impl<R> Drop for Unjoin<'_, R> {
        fn drop(&mut self) {
            for t in self.0 {
                if !t.finished.get() {
                    t.joiners.borrow_mut().retain(|j| !Rc::ptr_eq(j, self.1));
                }
            }
        }
    }
    for t in tasks.iter().filter(|t| !t.finished.get()) {
        t.joiners.borrow_mut().push(Rc::clone(&wait));
    }
    let _unjoin = Unjoin(tasks, &wait);
    if let Some(d) = deadline {
        park.deadline(d);
    }
    match park.wait() {
        Wake::Signal | Wake::Timer | Wake::Shutdown => {}
        other => unreachable!("greenlet::hub: a join was resumed with {other:?}"),
    }
    count(tasks)
}
