//! Greenlet-local storage: [`Local`], gevent's `local` and the per-greenlet
//! part of Python's contextvars.
//!
//! Each greenlet has a small map (allocated on its first `Local` access),
//! keyed by the address of the `Local` and its value type. Values are boxed,
//! so a reference handed to `with` stays valid while the map grows. The map
//! is dropped when its greenlet dies (main's: when the thread exits).

use super::inner::Inner;
use super::public_types::payload_text;
use super::thread;
use std::any::{Any, TypeId};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::rc::Rc;

/// A value per greenlet: each greenlet (main included) that calls
/// [`with`](Local::with) sees its own `T`, made by `init` on its first
/// access from that greenlet and dropped when that greenlet dies (main's
/// when its thread exits). A new greenlet, or a hub task, does not inherit
/// its creator's value.
///
/// # Examples
///
/// ```
/// use greenlet::{Greenlet, Local};
/// use std::cell::Cell;
///
/// static REQUEST_ID: Local<Cell<u32>> = Local::new(|| Cell::new(0));
///
/// REQUEST_ID.with(|id| id.set(7));
/// let g = Greenlet::new(|()| {
///     // A fresh value here: not main's 7.
///     REQUEST_ID.with(|id| {
///         assert_eq!(id.get(), 0);
///         id.set(42);
///     });
///     REQUEST_ID.with(|id| id.get())
/// });
/// assert_eq!(g.switch::<(), u32>(()), 42);
/// REQUEST_ID.with(|id| assert_eq!(id.get(), 7));
/// ```
///
/// Values are shared references: use a `Cell` or `RefCell` inside for
/// mutation. `with` panics with a clear message, rather than deadlock or
/// alias, when called from `init` of the same `Local`, or from the
/// destructor of a greenlet-local value while its greenlet's values are
/// being dropped.
pub struct Local<T: 'static> {
    init: fn() -> T,
}

impl<T: 'static> Local<T> {
    /// A greenlet-local value made by `init`; usable in a `static`.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::Local;
    /// use std::cell::RefCell;
    ///
    /// // `new` is a `const fn`: a `Local` lives in a `static`.
    /// static SEEN: Local<RefCell<Vec<&str>>> = Local::new(|| RefCell::new(Vec::new()));
    /// SEEN.with(|v| v.borrow_mut().push("main"));
    /// assert_eq!(SEEN.with(|v| v.borrow().clone()), ["main"]);
    /// ```
    pub const fn new(init: fn() -> T) -> Local<T> {
        Local { init }
    }

    /// Call `f` with the current greenlet's value, making it with `init`
    /// first if this greenlet has none yet.
    ///
    /// # Panics
    /// If called from this `Local`'s own `init`, or while the current
    /// greenlet's values are being dropped (from a destructor of one of them,
    /// as the greenlet dies or its thread exits). A panic of `init` leaves no
    /// value behind; the next `with` calls `init` again.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::{Greenlet, Local};
    /// use std::cell::Cell;
    ///
    /// thread_local!(static CLOSED: Cell<u32> = const { Cell::new(0) });
    /// struct Conn;
    /// impl Drop for Conn {
    ///     fn drop(&mut self) { CLOSED.with(|c| c.set(c.get() + 1)); }
    /// }
    /// static CONN: Local<Conn> = Local::new(|| Conn);
    /// let g = Greenlet::new(|()| CONN.with(|_conn| "used")); // made on first use
    /// assert_eq!(g.switch::<(), &str>(()), "used");
    /// assert_eq!(CLOSED.with(Cell::get), 1); // dropped when g died
    /// ```
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        let key = Key {
            addr: (self as *const Local<T>).cast(),
            type_id: TypeId::of::<T>(),
        };
        let value = value_of(key, &|| Rc::new((self.init)()));
        // SAFETY: the entry for this key holds a `T` (the key includes `T`'s
        // TypeId), and the count in `value` keeps it alive while `f` runs.
        f(unsafe { &*Rc::as_ptr(&value).cast::<T>() })
    }
}

impl<T: 'static> fmt::Debug for Local<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Local").finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Key {
    addr: *const (),
    type_id: TypeId,
}

struct Entry {
    key: Key,
    /// `None` while its `init` runs.
    value: Option<Rc<dyn Any>>,
}

/// One greenlet's values.
pub(crate) struct Locals {
    entries: RefCell<Vec<Entry>>,
    /// Set while the values are dropped (and for ever after on main, whose
    /// thread is exiting).
    dropping: Cell<bool>,
}

/// The value for `key` in the map of the current greenlet (or, in a
/// generator's body, of the greenlet it answers to), made by `init` if there
/// is none.
fn value_of(key: Key, init: &dyn Fn() -> Rc<dyn Any>) -> Rc<dyn Any> {
    // SAFETY: the running greenlet is live, and so is each resumer up the
    // chain: it waits in its resume.
    let inner = unsafe { &*thread::context() };
    let locals = locals_of(inner);
    if locals.dropping.get() {
        panic!(
            "greenlet::Local::with called while this greenlet's locals are being dropped \
             (from the destructor of a greenlet-local value)"
        );
    }
    {
        let mut entries = locals.entries.borrow_mut();
        match entries.iter().find(|e| e.key == key) {
            Some(Entry { value: Some(v), .. }) => return Rc::clone(v),
            Some(Entry { value: None, .. }) => {
                drop(entries);
                panic!("greenlet::Local::with called from its own init");
            }
            None => entries.push(Entry { key, value: None }),
        }
    }
    // Runs with no borrow held: it may use other `Local`s.
    struct Unreserve<'a>(&'a Locals, Key);
    impl Drop for Unreserve<'_> {
        fn drop(&mut self) {
            // `init` panicked: leave no reservation behind.
            self.0.entries.borrow_mut().retain(|e| e.key != self.1);
        }
    }
    let guard = Unreserve(locals, key);
    let value = init();
    std::mem::forget(guard);
    let mut entries = locals.entries.borrow_mut();
    if let Some(e) = entries.iter_mut().find(|e| e.key == key) {
        e.value = Some(Rc::clone(&value));
    }
    value
}

/// The current greenlet's map, made on first use.
fn locals_of(inner: &Inner) -> &Locals {
    let mut p = inner.locals.get().cast::<Locals>();
    if p.is_null() {
        p = Box::into_raw(Box::new(Locals {
            entries: RefCell::new(Vec::new()),
            dropping: Cell::new(false),
        }));
        inner.locals.set(p.cast());
        if inner.is_main {
            register_main_guard();
        }
    }
    // SAFETY: made here, freed only by `drop_locals` (never for main).
    unsafe { &*p }
}

/// Drop a greenlet's values (it is dying, or it is main and the thread
/// exits). Destructors run in the greenlet itself; one that panics is
/// reported on stderr and the others still run.
pub(crate) fn drop_locals(inner: &Inner) {
    let p = inner.locals.get().cast::<Locals>();
    if p.is_null() {
        return;
    }
    // SAFETY: see `locals_of`.
    let locals = unsafe { &*p };
    locals.dropping.set(true);
    loop {
        let entry = locals.entries.borrow_mut().pop();
        let Some(entry) = entry else { break };
        if let Err(e) = panic::catch_unwind(AssertUnwindSafe(|| drop(entry))) {
            eprintln!(
                "greenlet: a panic escaped the destructor of a greenlet-local value: {}",
                payload_text(&*e)
            );
        }
    }
    if !inner.is_main {
        inner.locals.set(ptr::null_mut());
        // SAFETY: made by `locals_of`; nothing refers to it any more (the
        // greenlet is dying and no `with` is running on it).
        drop(unsafe { Box::from_raw(p) });
    }
}

thread_local! {
    /// Drops main's values when the thread exits.
    static MAIN_GUARD: MainGuard = const { MainGuard };
}

struct MainGuard;

impl Drop for MainGuard {
    fn drop(&mut self) {
        // SAFETY: main lives as long as the thread.
        drop_locals(unsafe { &*thread::main() });
    }
}

fn register_main_guard() {
    // Touching it registers its destructor. During thread exit it may be
    // gone already: main's values are then leaked with main itself.
    let _ = MAIN_GUARD.try_with(|_| ());
}
