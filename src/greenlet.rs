//! The safe [`Greenlet`]: symmetric switching with Python greenlet's
//! semantics, over the raw switch of [`crate::raw`] and the stacks of
//! [`crate::stack`].
//!
//! # How it works
//!
//! Every thread has a *main* greenlet (its own stack) and a *current* one.
//! A switch builds a [`Packet`] on the sender's stack — the sender's handle
//! and a pointer to the value, which stays in an `Option<T>` in the sender's
//! frame — and hands its address to the target as the raw switch's data
//! word. The receiver moves the value out before anything else can run on
//! the sender's stack, so passing a value never allocates.
//!
//! A panic never crosses the assembly: each greenlet's body runs inside
//! `catch_unwind` in [`entry`], and a panic that escapes it is carried to
//! the parent as a payload and resumed there with `resume_unwind`.
//!
//! Reference counts: `CURRENT` owns one strong count of the running
//! greenlet; a greenlet owns one of its parent. A switch moves the sender's
//! `CURRENT` count into the packet and the receiver drops it once it has
//! recorded the sender's stack pointer and taken the value. Dropping the last
//! handle of a suspended greenlet kills it ([`Drop for Greenlet`]).

use crate::raw::{self, StackPointer, Transfer};
use crate::sanitizer;
use crate::stack::{DEFAULT_STACK_SIZE, Stack};
use std::any::{Any, TypeId, type_name};
use std::cell::{Cell, RefCell, UnsafeCell};
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::rc::Rc;

/// The panic payload that [`Greenlet::kill`] and dropping a suspended
/// greenlet raise inside it. A greenlet that dies from it delivers it to its
/// parent as a *value*, not as a panic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct GreenletExit;

impl fmt::Display for GreenletExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GreenletExit")
    }
}

/// A value arrived whose type is not the one the receiver asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwitchError {
    /// `expected` is the receiver's type, `found` the sender's; both are
    /// `std::any::type_name`s.
    TypeMismatch {
        /// The type the receiving `switch` asked for.
        expected: &'static str,
        /// The type of the value that was sent.
        found: &'static str,
    },
}

impl fmt::Display for SwitchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SwitchError::TypeMismatch { expected, found } => write!(
                f,
                "greenlet: switch expected a value of type `{expected}` but was sent a `{found}` \
                 (the value was dropped)"
            ),
        }
    }
}

impl std::error::Error for SwitchError {}

/// Why [`Greenlet::set_parent`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParentError {
    /// The new parent is the greenlet itself or one of its descendants.
    Cycle,
    /// The main greenlet has no parent and cannot be given one.
    MainGreenlet,
}

impl fmt::Display for ParentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParentError::Cycle => "greenlet: set_parent would make a cycle of parents",
            ParentError::MainGreenlet => "greenlet: the main greenlet cannot have a parent",
        })
    }
}

impl std::error::Error for ParentError {}

/// What a trace callback is told about a switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// An ordinary switch (including a greenlet's death with a value).
    Switch,
    /// A switch that carries a panic: `throw`, `kill`, or death by a panic.
    Throw,
}

/// The per-thread trace callback: `(event, origin, target)`.
pub type TraceFn = Box<dyn FnMut(Event, &Greenlet, &Greenlet)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Unstarted,
    Suspended,
    Running,
    Dead,
}

/// The shared state behind every handle of one greenlet.
struct Inner {
    state: Cell<State>,
    is_main: bool,
    /// The saved stack pointer while suspended (or the initial frame while
    /// unstarted); stale otherwise.
    sp: Cell<StackPointer>,
    parent: RefCell<Option<Greenlet>>,
    name: Option<String>,
    /// `None` for main, and once the greenlet is dead.
    stack: Cell<Option<Stack>>,
    /// The body: `f` before it runs, then its result until delivered. Only
    /// touched by the greenlet itself while running and by whoever frees it,
    /// never while a reference into it is live elsewhere.
    body: UnsafeCell<Option<Box<dyn Body>>>,
}

impl Inner {
    /// Free what a dead (or never started) greenlet no longer needs.
    fn release(&self) {
        if let Some(stack) = self.stack.take() {
            stack.release();
        }
        // SAFETY: the greenlet is dead or unstarted, so nothing is running
        // `body` or holds a pointer into it (its result was already taken).
        let body = unsafe { (*self.body.get()).take() };
        drop(body);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Only reached for unstarted or dead greenlets (and main, never):
        // a suspended one is killed before its last handle goes away.
        self.release();
    }
}

/// A greenlet: a function running on its own stack that switches
/// explicitly. Handles are cheap to clone (reference counted) and compare
/// equal when they name the same greenlet. `!Send` and `!Sync`: a greenlet
/// belongs to the thread that created it.
pub struct Greenlet(Rc<Inner>);

/// Configures a new greenlet: `Greenlet::builder().name("x").stack_size(n)
/// .parent(&p).create(f)`.
#[must_use]
pub struct Builder {
    name: Option<String>,
    stack_size: usize,
    parent: Option<Greenlet>,
}

// ---------------------------------------------------------------------------
// Type-erased values and bodies.

/// How to handle an `Option<T>` without knowing `T`: the receiver checks
/// the type it expects, or names and drops the value.
struct SlotVTable {
    type_id: TypeId,
    type_name: fn() -> &'static str,
    /// Drops the value (if any) of the `Option<T>` at the pointer.
    discard: unsafe fn(*mut ()),
}

/// # Safety
/// `slot` must point to a live `Option<T>` that nothing else is using.
unsafe fn discard<T>(slot: *mut ()) {
    // SAFETY: by the caller's promise.
    drop(unsafe { (*slot.cast::<Option<T>>()).take() });
}

#[inline(always)]
fn vtable_of<T: 'static>() -> &'static SlotVTable {
    const {
        &SlotVTable {
            type_id: TypeId::of::<T>(),
            type_name: type_name::<T>,
            discard: discard::<T>,
        }
    }
}

/// A greenlet's function and, after it returns, its result.
trait Body {
    /// Receive the first value from `first` and run the function to its end.
    fn run(&mut self, first: Transfer);
    /// The result, as a payload pointing into the body (valid until the
    /// body is freed).
    fn result(&mut self) -> Payload;
}

struct BodyImpl<F, A, R> {
    f: Option<F>,
    result: Option<R>,
    _arg: PhantomData<fn(A)>,
}

impl<F, A, R> Body for BodyImpl<F, A, R>
where
    F: FnOnce(A) -> R + 'static,
    A: 'static,
    R: 'static,
{
    fn run(&mut self, first: Transfer) {
        let f = self.f.take().expect("greenlet body runs once");
        let arg = receive::<A>(first).unwrap_or_else(|e| panic!("{e}"));
        self.result = Some(f(arg));
    }
    fn result(&mut self) -> Payload {
        Payload::value(&mut self.result)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `slot` is an `Option<T>` holding the value, `T` as in the vtable.
    Value,
    /// `slot` is an `Option<Box<dyn Any + Send>>` holding a panic to resume
    /// in the receiver.
    Panic,
}

/// What travels with a switch: a pointer to an `Option` on the sender's
/// stack (or in a dead greenlet's body) that the receiver empties. Plain
/// words, so that building and reading it never needs wide memory moves.
#[derive(Clone, Copy)]
struct Payload {
    kind: Kind,
    slot: *mut (),
    vtable: &'static SlotVTable,
}

impl Payload {
    #[inline(always)]
    fn value<T: 'static>(slot: &mut Option<T>) -> Payload {
        Payload {
            kind: Kind::Value,
            slot: (slot as *mut Option<T>).cast(),
            vtable: vtable_of::<T>(),
        }
    }

    #[inline(always)]
    fn panic(slot: &mut Option<Box<dyn Any + Send>>) -> Payload {
        Payload {
            kind: Kind::Panic,
            slot: (slot as *mut Option<Box<dyn Any + Send>>).cast(),
            vtable: vtable_of::<Box<dyn Any + Send>>(),
        }
    }

    /// Drop whatever the slot holds.
    ///
    /// # Safety
    /// The slot must still be live and not in use elsewhere.
    unsafe fn discard(self) {
        // SAFETY: by the caller's promise; the vtable matches the slot.
        unsafe { (self.vtable.discard)(self.slot) }
    }

    /// Take the panic out of a `Kind::Panic` payload.
    ///
    /// # Safety
    /// As for `discard`, and `kind` must be `Panic`.
    unsafe fn take_panic(self) -> Box<dyn Any + Send> {
        // SAFETY: by the caller's promise.
        let slot = unsafe { &mut *self.slot.cast::<Option<Box<dyn Any + Send>>>() };
        slot.take().expect("a panic is received once")
    }
}

/// Built on the sender's stack; its address is the raw switch's data word.
struct Packet {
    /// The sender, carrying its `CURRENT` count; the receiver records the
    /// sender's stack pointer in it and then drops that count.
    origin: *const Inner,
    payload: Payload,
}

// ---------------------------------------------------------------------------
// Per-thread state. `const`-initialised cells without destructors, so they
// stay usable while other thread-locals are destroyed (a greenlet handle
// dropped then still kills its greenlet).

thread_local! {
    /// The running greenlet; owns one strong count. Null until first use.
    static CURRENT: Cell<*const Inner> = const { Cell::new(ptr::null()) };
    /// This thread's main greenlet; owns one strong count (kept for the
    /// life of the thread).
    static MAIN: Cell<*const Inner> = const { Cell::new(ptr::null()) };
    /// Whether a trace callback is installed (fast check on every switch).
    static TRACING: Cell<bool> = const { Cell::new(false) };
    static TRACE: RefCell<Option<TraceFn>> = const { RefCell::new(None) };
}

/// The running greenlet's `Inner`, creating this thread's main greenlet on
/// first use.
#[inline]
fn current_ptr() -> *const Inner {
    let p = CURRENT.with(Cell::get);
    if p.is_null() { init_main() } else { p }
}

#[cold]
fn init_main() -> *const Inner {
    let main = Rc::new(Inner {
        state: Cell::new(State::Running),
        is_main: true,
        sp: Cell::new(ptr::null_mut()),
        parent: RefCell::new(None),
        name: None,
        stack: Cell::new(None),
        body: UnsafeCell::new(None),
    });
    let p = Rc::into_raw(main);
    // SAFETY: `p` came from Rc::into_raw just above; the second count is
    // MAIN's, the first CURRENT's.
    unsafe { Rc::increment_strong_count(p) };
    MAIN.with(|m| m.set(p));
    CURRENT.with(|c| c.set(p));
    p
}

/// A new handle to the greenlet behind `p`.
///
/// # Safety
/// `p` must point to a live `Inner` of this thread (one with a strong count
/// held elsewhere for the duration of this call).
unsafe fn handle_from(p: *const Inner) -> Greenlet {
    // SAFETY: by the caller's promise the allocation is alive.
    unsafe {
        Rc::increment_strong_count(p);
        Greenlet(Rc::from_raw(p))
    }
}

#[inline]
fn set_current(g: Greenlet) {
    // CURRENT takes over the handle's count.
    let g = mem::ManuallyDrop::new(g);
    let p = Rc::as_ptr(&g.0);
    CURRENT.with(|c| c.set(p));
}

#[inline]
fn is_current(inner: &Inner) -> bool {
    ptr::eq(current_ptr(), inner)
}

#[inline]
fn fire_trace(event: Event, target: &Greenlet) {
    if TRACING.with(Cell::get) {
        call_trace(event, target);
    }
}

#[cold]
#[inline(never)]
fn call_trace(event: Event, target: &Greenlet) {
    let Some(f) = TRACE.try_with(|t| t.borrow_mut().take()).ok().flatten() else {
        return;
    };
    // Put the callback back even if it panics, unless it installed another.
    struct Restore(Option<TraceFn>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let f = self.0.take();
            let _ = TRACE.try_with(|t| {
                let mut t = t.borrow_mut();
                if t.is_none() && TRACING.with(Cell::get) {
                    *t = f;
                }
            });
        }
    }
    let origin = Greenlet::current();
    let mut restore = Restore(Some(f));
    if let Some(f) = restore.0.as_mut() {
        f(event, &origin, target);
    }
}

/// Install (or with `None` remove) this thread's trace callback, called on
/// every switch between two different greenlets as `(event, origin,
/// target)`. Returns the previous callback.
pub fn settrace(callback: Option<TraceFn>) -> Option<TraceFn> {
    TRACING.with(|t| t.set(callback.is_some()));
    TRACE.with(|t| mem::replace(&mut *t.borrow_mut(), callback))
}

/// For the stack-overflow handler ([`crate::overflow`]): if `addr` lies in
/// the guard page of the running greenlet's stack, call `f` with its name
/// and usable stack size.
///
/// Async-signal-safe: it reads `CURRENT` (a plain thread-local word) and the
/// greenlet's fields through raw pointers, without allocating, locking or
/// touching a `RefCell`'s borrow flag. A fault in a guard page happens in
/// user code running on that stack, never inside the switch's own updates
/// of these fields.
pub(crate) fn with_overflowed_greenlet(addr: usize, f: impl FnOnce(Option<&str>, usize)) -> bool {
    let p = CURRENT.with(Cell::get);
    if p.is_null() {
        return false;
    }
    // SAFETY: CURRENT holds a count of the running greenlet, so `p` is live;
    // the stack slot is only read (see above).
    let inner = unsafe { &*p };
    let Some(stack) = (unsafe { &*inner.stack.as_ptr() }) else {
        return false; // main: the thread's own stack
    };
    if !stack.guard().contains(&addr) {
        return false;
    }
    f(inner.name.as_deref(), stack.size());
    true
}

// ---------------------------------------------------------------------------
// The switch itself.

/// Suspend the current greenlet and resume `target` (live, not current),
/// carrying `payload`. Returns what resumed us, unprocessed. `for_good`:
/// the current greenlet is dead and this switch never returns.
#[inline(always)]
fn switch_to(target: Greenlet, payload: Payload, for_good: bool) -> Transfer {
    switch_from(current_ptr(), target, payload, for_good)
}

/// The usable stack of a greenlet, `(lowest address, size)`, for
/// AddressSanitizer; `None` for main, which runs on the thread's stack.
fn sanitizer_bounds(inner: *const Inner) -> Option<(*const u8, usize)> {
    // SAFETY: `inner` is the target of a switch, kept alive by CURRENT's
    // count; its stack is only read, and nothing else uses it meanwhile.
    let stack = unsafe { &*(*inner).stack.as_ptr() };
    stack.as_ref().map(|s| (s.bottom().cast_const(), s.size()))
}

/// [`switch_to`] when the caller has already read `CURRENT` (`me`).
#[inline(always)]
fn switch_from(me: *const Inner, target: Greenlet, payload: Payload, for_good: bool) -> Transfer {
    // SAFETY: `me` is the running greenlet; CURRENT's count keeps it alive,
    // and that count moves into the packet below.
    let me_ref = unsafe { &*me };
    if me_ref.state.get() == State::Running {
        me_ref.state.set(State::Suspended);
    }
    target.0.state.set(State::Running);
    let sp = target.0.sp.get();
    let target_inner = Rc::as_ptr(&target.0);
    // CURRENT takes over `target`'s count; `me`'s count goes to the packet.
    set_current(target);
    // Written one field at a time, as `unpack` reads it: copying `payload`
    // as a whole lets the compiler use a 16-byte load over the 8-byte stores
    // that built it, which cannot be store-forwarded and stalls.
    let mut packet = mem::MaybeUninit::<Packet>::uninit();
    let p = packet.as_mut_ptr();
    // SAFETY: `p` points to our own local; every field is written once.
    unsafe {
        ptr::write_volatile(&raw mut (*p).origin, me);
        ptr::write_volatile(&raw mut (*p).payload.kind, payload.kind);
        ptr::write_volatile(&raw mut (*p).payload.slot, payload.slot);
        ptr::write_volatile(&raw mut (*p).payload.vtable, payload.vtable);
    }
    // ASan (feature `asan`) is told about every change of stack; no-ops
    // otherwise.
    let mut fake = sanitizer::FakeStack::new();
    let save = if for_good { None } else { Some(&mut fake) };
    sanitizer::start_switch(save, || sanitizer_bounds(target_inner));
    // SAFETY: `sp` is the target's saved stack pointer: it is unstarted (the
    // frame from stack_init) or suspended in this function, and it lives on a
    // stack that its Inner keeps mapped (CURRENT now holds a count). Our own
    // stack stays valid while we are suspended: it is main's, or one whose
    // Inner is kept alive by the count in `packet.origin` until the receiver
    // has recorded our stack pointer.
    let t = unsafe { raw::switch(sp, p as usize) };
    sanitizer::finish_switch(fake);
    t
}

/// What a switch handed to us, after the bookkeeping.
enum Received<R> {
    Value(R),
    Mismatch(SwitchError),
    Panic(Box<dyn Any + Send>),
}

/// Record the sender's stack pointer and take the payload out of its packet.
/// The sender's handle is returned so that it is dropped only after the
/// value has been moved out of its stack.
#[inline]
fn unpack(t: Transfer) -> (Greenlet, Payload) {
    let packet = t.data as *const Packet;
    // SAFETY: every switch in this module passes the address of a Packet on
    // the sender's stack, which stays untouched until the sender resumes;
    // the sender cannot resume before we drop its handle below. The fields
    // are read one at a time (volatile keeps them from being merged into one
    // wide load): the sender has just written them word by word, and a load
    // that spans two stores cannot be forwarded from them, which stalls the
    // receiver for tens of cycles.
    let (origin, payload) = unsafe {
        (
            ptr::read_volatile(&raw const (*packet).origin),
            Payload {
                kind: ptr::read_volatile(&raw const (*packet).payload.kind),
                slot: ptr::read_volatile(&raw const (*packet).payload.slot),
                vtable: ptr::read_volatile(&raw const (*packet).payload.vtable),
            },
        )
    };
    // SAFETY: `origin` carries the sender's CURRENT count, handed to us.
    let origin = Greenlet(unsafe { Rc::from_raw(origin) });
    origin.0.sp.set(t.sp);
    (origin, payload)
}

#[inline]
fn take_typed<R: 'static>(payload: Payload) -> Received<R> {
    if payload.kind == Kind::Panic {
        // SAFETY: the slot lives on the sender's stack (or in a dead
        // greenlet's frame) and nothing else touches it until we are done.
        return Received::Panic(unsafe { payload.take_panic() });
    }
    let vt = payload.vtable;
    if vt.type_id == TypeId::of::<R>() {
        // SAFETY: the vtable says the slot is an `Option<R>`; see above.
        let slot = unsafe { &mut *payload.slot.cast::<Option<R>>() };
        Received::Value(slot.take().expect("a value is received once"))
    } else {
        let found = (vt.type_name)();
        // SAFETY: see above.
        unsafe { payload.discard() };
        Received::Mismatch(SwitchError::TypeMismatch {
            expected: type_name::<R>(),
            found,
        })
    }
}

/// The sender is done with: free a dead sender's stack, and drop our count
/// of it (which kills it if that was its last handle and it is suspended).
#[inline]
fn finish_origin(origin: Greenlet) {
    if origin.0.state.get() == State::Dead {
        origin.0.release();
    }
    drop(origin);
}

#[inline(always)]
fn receive<R: 'static>(t: Transfer) -> Result<R, SwitchError> {
    let (origin, payload) = unpack(t);
    let received = take_typed::<R>(payload);
    finish_origin(origin);
    deliver(received)
}

#[inline]
fn deliver<R>(received: Received<R>) -> Result<R, SwitchError> {
    match received {
        Received::Value(v) => Ok(v),
        Received::Mismatch(e) => Err(e),
        Received::Panic(p) => panic::resume_unwind(p),
    }
}

/// Receive and discard whatever comes back; a panic is returned, not raised.
fn receive_any(t: Transfer) -> Result<(), Box<dyn Any + Send>> {
    let (origin, payload) = unpack(t);
    // SAFETY: as in take_typed.
    let result = unsafe {
        match payload.kind {
            Kind::Value => {
                payload.discard();
                Ok(())
            }
            Kind::Panic => Err(payload.take_panic()),
        }
    };
    finish_origin(origin);
    result
}

/// Where every greenlet starts, on its own stack, entered by the first
/// switch into it.
unsafe extern "C" fn entry(from: StackPointer, data: usize) -> ! {
    sanitizer::finish_switch(sanitizer::FakeStack::new());
    // The payload slots below are read by the receiver of our last switch.
    sanitizer::real_stack_frame();
    let this = current_ptr();
    // SAFETY: we are the current greenlet (the switch that started us set
    // CURRENT, which keeps `this` alive while we run). `body` is only used
    // by us until we are dead; the pointer stays valid because the Box is
    // not freed before our death is processed by the receiver.
    let body: *mut dyn Body = unsafe {
        &mut **(*(*this).body.get())
            .as_mut()
            .expect("an unstarted greenlet has a body")
    };
    let first = Transfer { sp: from, data };
    // SAFETY: see above.
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| unsafe { (*body).run(first) }));
    // Where a death by GreenletExit or by a panic leaves its payload for the
    // parent to take (this frame is never unwound, and holds nothing once
    // the parent has taken it).
    let mut exit_slot = Some(GreenletExit);
    let mut panic_slot: Option<Box<dyn Any + Send>>;
    let (payload, event) = match outcome {
        // SAFETY: see above; the result stays in the body until delivered.
        Ok(()) => (unsafe { (*body).result() }, Event::Switch),
        Err(p) if p.is::<GreenletExit>() => (Payload::value(&mut exit_slot), Event::Switch),
        Err(p) => {
            panic_slot = Some(p);
            (Payload::panic(&mut panic_slot), Event::Throw)
        }
    };
    // SAFETY: `this` is the current greenlet, alive as above.
    unsafe { die(this, payload, event) }
}

/// Mark the current greenlet dead and hand its last payload to its nearest
/// live ancestor. Its stack is freed by the receiver.
///
/// # Safety
/// `this` must be the current greenlet.
unsafe fn die(this: *const Inner, mut payload: Payload, event: Event) -> ! {
    // `trace_panic` and the packet of the last switch are read by its
    // receiver.
    sanitizer::real_stack_frame();
    // SAFETY: `this` is current, so CURRENT keeps it alive.
    let me = unsafe { &*this };
    me.state.set(State::Dead);
    let target = me
        .parent
        .borrow()
        .as_ref()
        .expect("only main has no parent, and main never dies")
        .live_target();
    // A panicking trace callback must not unwind out of an extern "C"
    // function: it replaces the payload instead.
    let mut trace_panic: Option<Box<dyn Any + Send>>;
    if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| fire_trace(event, &target))) {
        // SAFETY: the slot is ours and not yet handed over.
        unsafe { payload.discard() };
        trace_panic = Some(p);
        payload = Payload::panic(&mut trace_panic);
    }
    switch_to(target, payload, true);
    // Nobody switches to a dead greenlet: switch() redirects to a live one.
    std::process::abort()
}

/// The text of a panic payload, for messages: a `panic!` message,
/// `GreenletExit`, or "a non-string payload".
pub(crate) fn payload_text(p: &(dyn Any + Send)) -> &str {
    if let Some(s) = p.downcast_ref::<&str>() {
        s
    } else if let Some(s) = p.downcast_ref::<String>() {
        s
    } else if p.is::<GreenletExit>() {
        "GreenletExit"
    } else {
        "a non-string payload"
    }
}

// ---------------------------------------------------------------------------
// The public API.

impl Greenlet {
    /// A new, unstarted greenlet whose parent is `Greenlet::current()`. The
    /// first value switched into it becomes `f`'s argument. It gets a stack
    /// of the default size (1 MiB) from this thread's pool.
    ///
    /// # Panics
    /// If no stack can be mapped; the message is the `io::Error`'s text
    /// (see [`Builder::try_create`] for the non-panicking form).
    pub fn new<F, A, R>(f: F) -> Greenlet
    where
        F: FnOnce(A) -> R + 'static,
        A: 'static,
        R: 'static,
    {
        Greenlet::builder().create(f)
    }

    /// A [`Builder`] for a greenlet with a name, stack size or parent.
    pub fn builder() -> Builder {
        Builder {
            name: None,
            stack_size: DEFAULT_STACK_SIZE,
            parent: None,
        }
    }

    /// The running greenlet (Python's `getcurrent()`).
    #[inline]
    pub fn current() -> Greenlet {
        // SAFETY: CURRENT holds a count of the running greenlet.
        unsafe { handle_from(current_ptr()) }
    }

    /// This thread's main greenlet.
    pub fn main() -> Greenlet {
        current_ptr();
        // SAFETY: MAIN holds a count for the life of the thread.
        unsafe { handle_from(MAIN.with(Cell::get)) }
    }

    /// Run `self` until someone switches back to the current greenlet, and
    /// return the value they sent.
    ///
    /// * Into an unstarted greenlet, `value` becomes its function's argument;
    ///   into a suspended one, its pending `switch` returns `value`.
    /// * Into a dead one, `value` goes to its nearest live ancestor; into the
    ///   current greenlet, it comes straight back.
    ///
    /// # Panics
    /// If the value that comes back is not an `R`, with a message naming
    /// both types (the value is dropped); and with the same payload when a
    /// panic comes back (a greenlet that died by a panic, or a `throw`).
    #[inline]
    pub fn switch<T: 'static, R: 'static>(&self, value: T) -> R {
        self.try_switch(value).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`switch`](Greenlet::switch), but a value of the wrong type is
    /// an `Err(SwitchError::TypeMismatch)` (the value is dropped). Panics
    /// that come back still continue here.
    #[inline]
    pub fn try_switch<T: 'static, R: 'static>(&self, value: T) -> Result<R, SwitchError> {
        let mut slot = Some(value);
        self.send::<R>(Payload::value(&mut slot), Event::Switch)
    }

    /// Deliver `payload` to `self` or, if it is dead, its nearest live
    /// ancestor, and receive the answer as an `R`.
    #[inline(always)]
    fn send<R: 'static>(&self, payload: Payload, event: Event) -> Result<R, SwitchError> {
        let target = self.live_target();
        let mut me = current_ptr();
        if TRACING.with(Cell::get) && !ptr::addr_eq(me, Rc::as_ptr(&target.0)) {
            call_trace(event, &target);
            me = current_ptr(); // in case the callback switched after all
        }
        if ptr::addr_eq(me, Rc::as_ptr(&target.0)) {
            drop(target);
            return deliver(take_typed::<R>(payload));
        }
        let t = switch_from(me, target, payload, false);
        receive::<R>(t)
    }

    /// `self` if alive, else its nearest live ancestor.
    #[inline]
    fn live_target(&self) -> Greenlet {
        if self.0.state.get() == State::Dead {
            self.nearest_live_ancestor()
        } else {
            self.clone()
        }
    }

    #[cold]
    fn nearest_live_ancestor(&self) -> Greenlet {
        let mut g = self.clone();
        while g.0.state.get() == State::Dead {
            let parent = g.0.parent.borrow().clone();
            g = parent.expect("every dead greenlet has a parent (main never dies)");
        }
        g
    }

    /// Raise `payload` as a panic at the point where `self` is suspended
    /// (with `resume_unwind`: no panic hook runs), then behave like
    /// [`switch`](Greenlet::switch).
    ///
    /// * Unstarted: its function never runs; it is dead, and the panic
    ///   continues in its parent.
    /// * Dead: the panic goes to its nearest live ancestor; from there (or if
    ///   that is the caller) it is raised. A [`GreenletExit`] thrown at a dead
    ///   or unstarted greenlet arrives as a *value* instead, as in Python.
    /// * The current greenlet: raised right here.
    pub fn throw<E: Any + Send + 'static, R: 'static>(&self, payload: E) -> R {
        match self.0.state.get() {
            State::Unstarted => {
                self.0.state.set(State::Dead);
                self.0.release();
                self.throw_dead(payload)
            }
            State::Dead => self.throw_dead(payload),
            _ if is_current(&self.0) => panic::resume_unwind(Box::new(payload)),
            _ => {
                let mut slot: Option<Box<dyn Any + Send>> = Some(Box::new(payload));
                self.send::<R>(Payload::panic(&mut slot), Event::Throw)
                    .unwrap_or_else(|e| panic!("{e}"))
            }
        }
    }

    fn throw_dead<E: Any + Send + 'static, R: 'static>(&self, payload: E) -> R {
        let boxed: Box<dyn Any + Send> = Box::new(payload);
        let result = if boxed.is::<GreenletExit>() {
            let mut slot = Some(GreenletExit);
            self.send::<R>(Payload::value(&mut slot), Event::Switch)
        } else {
            let mut slot = Some(boxed);
            self.send::<R>(Payload::panic(&mut slot), Event::Throw)
        };
        result.unwrap_or_else(|e| panic!("{e}"))
    }

    /// Throw [`GreenletExit`] into `self`, with the current greenlet as its
    /// parent for the duration (the old parent is restored afterwards), and
    /// return when control comes back: normally with `self` dead. Whatever
    /// value comes back is dropped; a panic other than `GreenletExit` (say,
    /// one raised while it unwinds) continues here.
    ///
    /// An unstarted greenlet never runs and is dead; a dead one is left
    /// alone; killing the current greenlet raises `GreenletExit` right here.
    pub fn kill(&self) {
        match self.0.state.get() {
            State::Dead => {}
            State::Unstarted => {
                self.0.state.set(State::Dead);
                self.0.release();
            }
            _ if is_current(&self.0) => panic::resume_unwind(Box::new(GreenletExit)),
            _ => {
                struct RestoreParent<'a>(&'a Greenlet, Option<Option<Greenlet>>);
                impl Drop for RestoreParent<'_> {
                    fn drop(&mut self) {
                        if let Some(old) = self.1.take() {
                            drop(self.0.0.parent.replace(old));
                        }
                    }
                }
                let _restore = if self.0.is_main {
                    RestoreParent(self, None)
                } else {
                    let old = self.0.parent.replace(Some(Greenlet::current()));
                    RestoreParent(self, Some(old))
                };
                fire_trace(Event::Throw, self);
                let mut slot: Option<Box<dyn Any + Send>> = Some(Box::new(GreenletExit));
                let t = switch_to(self.clone(), Payload::panic(&mut slot), false);
                if let Err(p) = receive_any(t) {
                    panic::resume_unwind(p);
                }
            }
        }
    }

    /// The parent: where this greenlet's result (or panic) goes when it
    /// ends. `None` only for main.
    pub fn parent(&self) -> Option<Greenlet> {
        self.0.parent.borrow().clone()
    }

    /// Change the parent.
    ///
    /// # Errors
    /// [`ParentError::MainGreenlet`] for main (checked first), and
    /// [`ParentError::Cycle`] if `parent` is `self` or a descendant of it.
    pub fn set_parent(&self, parent: &Greenlet) -> Result<(), ParentError> {
        if self.0.is_main {
            return Err(ParentError::MainGreenlet);
        }
        let mut p = Some(parent.clone());
        while let Some(g) = p {
            if g == *self {
                return Err(ParentError::Cycle);
            }
            p = g.parent();
        }
        drop(self.0.parent.replace(Some(parent.clone())));
        Ok(())
    }

    /// The name given by [`Builder::name`], if any.
    pub fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    /// Whether it has ever run (main always has).
    pub fn is_started(&self) -> bool {
        self.0.state.get() != State::Unstarted
    }

    /// Whether its function has ended (returned, or panicked), or it was
    /// killed or thrown into before it started.
    pub fn is_dead(&self) -> bool {
        self.0.state.get() == State::Dead
    }

    /// Started and not dead (Python's `bool(g)`).
    pub fn is_active(&self) -> bool {
        matches!(self.0.state.get(), State::Suspended | State::Running)
    }

    /// Whether this is its thread's main greenlet.
    pub fn is_main(&self) -> bool {
        self.0.is_main
    }

    fn state_name(&self) -> &'static str {
        if self.0.is_main {
            return "main";
        }
        match self.0.state.get() {
            State::Unstarted => "unstarted",
            State::Suspended => "suspended",
            State::Running => "running",
            State::Dead => "dead",
        }
    }

    /// [`kill`](Greenlet::kill) from a destructor: a panic that comes back
    /// (one other than `GreenletExit`, raised while the greenlet unwinds)
    /// is reported on stderr as escaping `what` instead of unwinding out of
    /// a `drop`, where a second panic would abort.
    pub(crate) fn kill_from_drop(&self, what: &str) {
        if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| self.kill())) {
            eprintln!("greenlet: a panic escaped {what}: {}", payload_text(&*p));
        }
    }

    #[cold]
    fn kill_dropped(&mut self) {
        let g = self.clone();
        g.kill_from_drop("a dropped greenlet while it was killed");
        if !g.is_dead() {
            eprintln!(
                "greenlet: dropped greenlet {:?} caught GreenletExit and did not die; \
                 its stack is leaked",
                g.name().unwrap_or("unnamed")
            );
            mem::forget(g);
        }
    }
}

impl Clone for Greenlet {
    fn clone(&self) -> Greenlet {
        Greenlet(Rc::clone(&self.0))
    }
}

impl Drop for Greenlet {
    /// Dropping the last handle of a started, suspended greenlet kills it
    /// from the dropping greenlet, so every destructor on its stack runs
    /// before `drop` returns. If it catches `GreenletExit` and switches away
    /// instead of dying, one line goes to stderr and its stack is leaked
    /// (a stack in use is never freed). An unstarted greenlet is just freed.
    #[inline]
    fn drop(&mut self) {
        if Rc::strong_count(&self.0) == 1
            && self.0.state.get() == State::Suspended
            && !self.0.is_main
        {
            self.kill_dropped();
        }
    }
}

impl PartialEq for Greenlet {
    fn eq(&self, other: &Greenlet) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Greenlet {}

impl std::hash::Hash for Greenlet {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        Rc::as_ptr(&self.0).hash(state);
    }
}

impl fmt::Debug for Greenlet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Greenlet");
        if let Some(name) = self.name() {
            d.field("name", &name);
        }
        d.field("state", &format_args!("{}", self.state_name()))
            .finish()
    }
}

impl Builder {
    /// A name, shown by `Debug` and in diagnostics.
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// The usable stack size in bytes, rounded up to whole pages (and to at
    /// least [`crate::stack::MIN_STACK_SIZE`]). Default: 1 MiB, taken from
    /// the per-thread pool; other sizes come from the stack layer directly
    /// (an arena slot, or a mapping of their own; see [`crate::stack`]).
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = bytes;
        self
    }

    /// The parent (default: the greenlet that creates it).
    pub fn parent(mut self, parent: &Greenlet) -> Builder {
        self.parent = Some(parent.clone());
        self
    }

    /// An unstarted greenlet, like [`Greenlet::new`]: it does not run until
    /// switched to.
    ///
    /// # Panics
    /// If no stack can be mapped, with the `io::Error`'s text.
    pub fn create<F, A, R>(self, f: F) -> Greenlet
    where
        F: FnOnce(A) -> R + 'static,
        A: 'static,
        R: 'static,
    {
        self.try_create(f).unwrap_or_else(|e| panic!("{e}"))
    }

    /// An unstarted greenlet, or the error that prevented mapping its stack
    /// (`vm.max_map_count`, memory, `RLIMIT_AS`); nothing is lost on error.
    pub fn try_create<F, A, R>(self, f: F) -> io::Result<Greenlet>
    where
        F: FnOnce(A) -> R + 'static,
        A: 'static,
        R: 'static,
    {
        crate::overflow::install();
        let stack = Stack::acquire(self.stack_size)?;
        sanitizer::fresh_stack(stack.bottom(), stack.size());
        // SAFETY: the stack is fresh (or back from the pool, unused), large
        // enough for the initial frame, and owned by the new Inner, which
        // keeps it mapped for as long as the greenlet can run. `entry`
        // never returns and catches every panic of the body.
        let sp = unsafe { raw::stack_init(stack.top(), entry) };
        let body: Box<dyn Body> = Box::new(BodyImpl {
            f: Some(f),
            result: None::<R>,
            _arg: PhantomData::<fn(A)>,
        });
        let parent = self.parent.unwrap_or_else(Greenlet::current);
        Ok(Greenlet(Rc::new(Inner {
            state: Cell::new(State::Unstarted),
            is_main: false,
            sp: Cell::new(sp),
            parent: RefCell::new(Some(parent)),
            name: self.name,
            stack: Cell::new(Some(stack)),
            body: UnsafeCell::new(Some(body)),
        })))
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("name", &self.name)
            .field("stack_size", &self.stack_size)
            .field("parent", &self.parent)
            .finish()
    }
}
