//! The raw context switch: the assembly of `asm/<arch>_<abi>.S`, unsafe.
//!
//! This layer is for low-level systems code and for micro-benchmarks. It
//! knows nothing about greenlets, values or panics: a *context* is a
//! suspended stack, named by its saved stack pointer ([`StackPointer`]), and
//! a switch hands one machine word to the context it resumes.
//!
//! ```
//! use greenlet::raw::{self, StackPointer, StackRegion, Transfer};
//!
//! // Each switch into the context adds one to the word and switches back.
//! unsafe extern "C" fn add_one(mut from: StackPointer, mut data: usize) -> ! {
//!     loop {
//!         // SAFETY: `from` is the context that switched to us; it is
//!         // suspended, and every switch back to it is answered.
//!         let t = unsafe { raw::switch(from, data + 1) };
//!         (from, data) = (t.sp, t.data);
//!     }
//! }
//!
//! // Any memory will do: here a buffer on the caller's stack.
//! let mut memory = [0u8; 16 * 1024];
//! let region = StackRegion::from_slice(&mut memory).unwrap();
//! // SAFETY: `memory` outlives the context, and the context is abandoned
//! // while suspended in its loop (nothing on it needs dropping).
//! unsafe {
//!     let mut sp = region.init(add_one);
//!     for i in 0..10 {
//!         let Transfer { sp: next, data } = raw::switch(sp, i);
//!         assert_eq!(data, i + 1);
//!         sp = next;
//!     }
//! }
//! ```
//!
//! # Stacks
//!
//! A context runs on any writable memory. [`StackRegion`] checks a
//! caller-provided region (a `static` buffer, memory from the caller's own
//! allocator, a range with a guard the caller set up) and gives the aligned
//! top; this needs no `std` and no allocator. With the `std` feature,
//! `greenlet::stack::Stack` maps guarded, pooled stacks instead.
//!
//! # The contract
//!
//! * A switch saves, on the running stack, every register the platform ABI
//!   calls callee-saved, plus the floating-point control state (rounding
//!   mode, exception masks, flush-to-zero, ...). Each context owns its FP
//!   control state; a new one inherits what was current at [`stack_init`].
//! * The saved stack pointer is the whole of a suspended context. Resuming
//!   it consumes it: after a context is resumed its old `StackPointer` is
//!   stale, and the next time it suspends it gets a new one (returned to
//!   whoever it switches to).
//! * Panics must never unwind through a switch: every entry function is
//!   `extern "C"` (a panic escaping it aborts the process) and should catch
//!   panics and hand them on as data.
//!
//! The per-CPU details (frame layout, what is saved and why) are documented
//! at the top of each assembly file, and PORTING.md describes a port.

use core::ffi::c_void;

pub use crate::region::{MIN_REGION_BYTES, RegionError, StackRegion};

/// The saved stack pointer of a suspended context.
///
/// It is only meaningful until the context is resumed once.
///
/// # Examples
///
/// ```
/// use greenlet::raw::{self, StackPointer, StackRegion};
///
/// unsafe extern "C" fn bounce(mut from: StackPointer, _: usize) -> ! {
///     loop {
///         // SAFETY: `from` is suspended in its switch to us.
///         from = unsafe { raw::switch(from, 0) }.sp;
///     }
/// }
/// let mut memory = [0u8; 16 * 1024];
/// let region = StackRegion::from_slice(&mut memory).unwrap();
/// // SAFETY: `memory` outlives the context, which is abandoned suspended.
/// let mut sp: StackPointer = unsafe { region.init(bounce) };
/// for _ in 0..3 {
///     // SAFETY: `sp` is the context's latest stack pointer; resuming it
///     // makes it stale, and the switch back hands over the new one.
///     sp = unsafe { raw::switch(sp, 0) }.sp;
///     assert!(region.contains(sp as usize)); // it points into its stack
/// }
/// ```
pub type StackPointer = *mut c_void;

/// What a switch returns: who switched back to us, and the word they sent.
///
/// # Examples
///
/// ```
/// use greenlet::raw::{self, StackPointer, StackRegion, Transfer};
///
/// unsafe extern "C" fn twice(from: StackPointer, data: usize) -> ! {
///     // SAFETY: `from` waits in its switch to us, both times.
///     let Transfer { sp, data } = unsafe { raw::switch(from, data + 1) };
///     // SAFETY: as above; nothing resumes this context afterwards.
///     unsafe { raw::switch(sp, data * 2) };
///     unreachable!()
/// }
/// let mut memory = [0u8; 16 * 1024];
/// let region = StackRegion::from_slice(&mut memory).unwrap();
/// // SAFETY: `memory` outlives the context, abandoned suspended.
/// let t = unsafe { raw::switch(region.init(twice), 1) };
/// assert_eq!(t.data, 2);
/// // SAFETY: `t.sp` is the suspended context's stack pointer.
/// assert_eq!(unsafe { raw::switch(t.sp, 5) }.data, 10);
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    /// The context that switched to us, now suspended.
    pub sp: StackPointer,
    /// The word it passed.
    pub data: usize,
}

/// The entry function of a new context: `entry(from, data)`, where `from`
/// is the context whose first switch started it and `data` its word.
///
/// It must never return: there is nothing to return to (the assembly traps
/// if it does). It ends by switching away for good.
///
/// # Examples
///
/// ```
/// use greenlet::raw::{self, EntryFn, StackPointer, StackRegion};
///
/// unsafe extern "C" fn triple(from: StackPointer, data: usize) -> ! {
///     // SAFETY: `from` started us and waits in its switch.
///     unsafe { raw::switch(from, data * 3) };
///     unreachable!("nothing resumes this context again")
/// }
/// let entry: EntryFn = triple;
/// let mut memory = [0u8; 16 * 1024];
/// let region = StackRegion::from_slice(&mut memory).unwrap();
/// // SAFETY: `memory` outlives the context, abandoned suspended.
/// let sp = unsafe { region.init(entry) };
/// // SAFETY: `sp` is the new context's stack pointer.
/// assert_eq!(unsafe { raw::switch(sp, 5) }.data, 15);
/// ```
pub type EntryFn = unsafe extern "C" fn(from: StackPointer, data: usize) -> !;

/// A function run on top of a target context by [`switch_ontop`]:
/// `f(from, data)`, whose result becomes the target's switch result.
///
/// # Examples
///
/// ```
/// use greenlet::raw::{self, OnTopFn, StackPointer, StackRegion, Transfer};
///
/// unsafe extern "C" fn entry(from: StackPointer, data: usize) -> ! {
///     // SAFETY: `from` waits in its switch to us.
///     unsafe { raw::switch(from, data) };
///     unreachable!()
/// }
/// // Run on top of a context that has not started: its result is what the
/// // entry function receives.
/// unsafe extern "C" fn times_ten(from: StackPointer, data: usize) -> Transfer {
///     Transfer { sp: from, data: data * 10 }
/// }
/// let f: OnTopFn = times_ten;
/// let mut memory = [0u8; 16 * 1024];
/// let region = StackRegion::from_slice(&mut memory).unwrap();
/// // SAFETY: `memory` outlives the context, abandoned suspended; `f` does
/// // not unwind or switch, and returns what `entry` expects.
/// assert_eq!(unsafe { raw::switch_ontop(region.init(entry), 4, f) }.data, 40);
/// ```
pub type OnTopFn = unsafe extern "C" fn(from: StackPointer, data: usize) -> Transfer;

/// Alignment of the stack top that [`stack_init`] wants. It aligns a
/// misaligned `top` down itself; this is the largest alignment any port
/// needs (16 bytes on x86_64 and aarch64).
///
/// # Examples
///
/// ```
/// use greenlet::raw::{STACK_ALIGN, StackRegion};
///
/// assert!(STACK_ALIGN.is_power_of_two());
/// let mut memory = [0u8; 4096];
/// let region = StackRegion::from_slice(&mut memory[1..]).unwrap(); // any start
/// assert_eq!(region.bottom() as usize % STACK_ALIGN, 0);
/// assert_eq!(region.top() as usize % STACK_ALIGN, 0);
/// ```
pub const STACK_ALIGN: usize = 16;

/// An upper bound, for every port, of the bytes a suspended context's switch
/// frame occupies, and of what [`stack_init`] writes below `top`. A stack
/// must have room for this plus whatever the entry function uses.
///
/// The exact numbers live in the assembly (`greenlet_frame_bytes`,
/// `greenlet_init_bytes`); a unit test checks this bound against them.
///
/// # Examples
///
/// ```
/// use greenlet::raw::{self, MAX_FRAME_BYTES};
///
/// assert!(raw::frame_bytes() <= MAX_FRAME_BYTES);
/// assert!(raw::init_bytes() <= MAX_FRAME_BYTES);
/// ```
pub const MAX_FRAME_BYTES: usize = 1024;

unsafe extern "C" {
    #[link_name = "greenlet_stack_init"]
    fn asm_stack_init(top: *mut c_void, entry: EntryFn) -> StackPointer;
    // Only the Windows port has it: there a context's stack bounds live in
    // the thread information block.
    #[cfg(windows)]
    #[link_name = "greenlet_stack_init_bounded"]
    fn asm_stack_init_bounded(
        top: *mut c_void,
        entry: EntryFn,
        bottom: *mut c_void,
    ) -> StackPointer;
    #[link_name = "greenlet_switch"]
    fn asm_switch(to: StackPointer, data: usize) -> Transfer;
    #[link_name = "greenlet_switch_ontop"]
    fn asm_switch_ontop(to: StackPointer, data: usize, f: OnTopFn) -> Transfer;
    #[link_name = "greenlet_frame_bytes"]
    static FRAME_BYTES: usize;
    #[link_name = "greenlet_init_bytes"]
    static INIT_BYTES: usize;
    #[link_name = "greenlet_valgrind_request"]
    fn asm_valgrind_request(default: usize, args: *const [usize; 6]) -> usize;
}

/// Prepare a new context on the stack whose highest address (exclusive) is
/// `top`, and return its saved stack pointer. The first switch to it calls
/// `entry(from, data)` on that stack.
///
/// Nothing is allocated; the context is only memory on the stack. The new
/// context's FP control state is the caller's at this moment.
///
/// # Safety
///
/// * `top` must be the upper end of a writable memory region that is large
///   enough for the initial frame ([`MAX_FRAME_BYTES`]) and for everything
///   `entry` will use, and that stays valid and otherwise unused for as long
///   as the context may run or be resumed.
/// * `entry` must never return (see [`EntryFn`]) and must not let a panic
///   escape.
///
/// # Examples
///
/// ```
/// use greenlet::raw::{self, StackPointer};
///
/// unsafe extern "C" fn plus_one(from: StackPointer, data: usize) -> ! {
///     // SAFETY: `from` started us and waits in its switch.
///     unsafe { raw::switch(from, data + 1) };
///     unreachable!()
/// }
/// #[repr(align(16))]
/// struct Memory([u8; 16 * 1024]);
/// let mut memory = Memory([0; 16 * 1024]);
/// let top = memory.0.as_mut_ptr_range().end;
/// // SAFETY: 16 KiB, writable, used for nothing else, and outliving the
/// // context (abandoned suspended); `plus_one` never returns or unwinds.
/// let sp = unsafe { raw::stack_init(top, plus_one) };
/// assert!(top as usize - sp as usize <= raw::init_bytes()); // just a frame
/// // SAFETY: `sp` is the new context's stack pointer.
/// assert_eq!(unsafe { raw::switch(sp, 1) }.data, 2);
/// ```
#[inline]
pub unsafe fn stack_init(top: *mut u8, entry: EntryFn) -> StackPointer {
    // SAFETY: the caller guarantees the memory below `top`; stack_init only
    // writes the initial frame there (at most MAX_FRAME_BYTES bytes).
    unsafe { asm_stack_init(top.cast(), entry) }
}

/// Like [`stack_init`], and also tells the platform where the stack ends:
/// `bottom` is the lowest address the context may use.
///
/// On Windows a context carries its stack bounds in the thread information
/// block (`StackBase`, `StackLimit`, `DeallocationStack`), which stack
/// probes, exception dispatch and unwinding check every frame against;
/// [`stack_init`] does not know the bottom and records 0 there, which no
/// check rejects but which makes an overflow of the stack unrecognisable to
/// them. Elsewhere `bottom` is not used and this is [`stack_init`].
/// [`StackRegion::init`] calls this.
///
/// # Safety
///
/// As for [`stack_init`], and `bottom..top` must be that memory region
/// (`bottom` below `top`, the whole range committed, and writable except
/// for guard pages at its bottom, which only an overflow touches: a
/// thread's own stack on Windows has its guard pages within its bounds
/// too).
///
/// # Examples
///
/// ```
/// use greenlet::raw::{self, StackPointer};
///
/// unsafe extern "C" fn double(from: StackPointer, data: usize) -> ! {
///     // SAFETY: `from` started us and waits in its switch.
///     unsafe { raw::switch(from, data * 2) };
///     unreachable!()
/// }
/// #[repr(align(16))]
/// struct Memory([u8; 16 * 1024]);
/// let mut memory = Memory([0; 16 * 1024]);
/// let range = memory.0.as_mut_ptr_range();
/// // SAFETY: all 16 KiB are writable, used for nothing else, and outlive
/// // the context (abandoned suspended); `double` never returns or unwinds.
/// let sp = unsafe { raw::stack_init_bounded(range.start, range.end, double) };
/// // SAFETY: `sp` is the new context's stack pointer.
/// assert_eq!(unsafe { raw::switch(sp, 21) }.data, 42);
/// ```
#[inline]
pub unsafe fn stack_init_bounded(bottom: *mut u8, top: *mut u8, entry: EntryFn) -> StackPointer {
    #[cfg(windows)]
    // SAFETY: as for stack_init; the assembly records `bottom` and writes
    // only the initial frame below `top`.
    unsafe {
        asm_stack_init_bounded(top.cast(), entry, bottom.cast())
    }
    #[cfg(not(windows))]
    {
        let _ = bottom;
        // SAFETY: forwarded to the caller, see above.
        unsafe { stack_init(top, entry) }
    }
}

/// Suspend the running context and resume `to`, handing it `data`.
///
/// Returns when another context switches back to this one, with that
/// context's stack pointer and word.
///
/// # Safety
///
/// * `to` must be the current stack pointer of a suspended context (from
///   [`stack_init`] or from a [`Transfer`]) that has not been resumed since,
///   on memory that is still valid, and that belongs to this thread's
///   current set of contexts (a context may move between threads only if
///   everything live on its stack allows it).
/// * Whatever is on the running stack must stay valid while it is
///   suspended: do not free this stack until it has finished.
/// * Nothing prevents switching into a context that another thread is
///   running; doing so is undefined behaviour.
///
/// # Examples
///
/// ```
/// use greenlet::raw::{self, StackPointer, StackRegion};
///
/// // Fibonacci numbers from a context of their own.
/// unsafe extern "C" fn fib(mut from: StackPointer, _: usize) -> ! {
///     let (mut a, mut b) = (0, 1);
///     loop {
///         // SAFETY: `from` waits in its switch to us.
///         from = unsafe { raw::switch(from, a) }.sp;
///         (a, b) = (b, a + b);
///     }
/// }
/// let mut memory = [0u8; 16 * 1024];
/// let region = StackRegion::from_slice(&mut memory).unwrap();
/// // SAFETY: `memory` outlives the context, abandoned suspended.
/// let mut sp = unsafe { region.init(fib) };
/// let mut seen = [0; 8];
/// for x in &mut seen {
///     // SAFETY: `sp` is the context's latest stack pointer.
///     let t = unsafe { raw::switch(sp, 0) };
///     (sp, *x) = (t.sp, t.data);
/// }
/// assert_eq!(seen, [0, 1, 1, 2, 3, 5, 8, 13]);
/// ```
#[inline]
pub unsafe fn switch(to: StackPointer, data: usize) -> Transfer {
    // SAFETY: forwarded to the caller, see above.
    unsafe { asm_switch(to, data) }
}

/// Like [`switch`], but `to` first runs `f(from, data)` on its own stack, as
/// if `f` were called at the point where `to` is suspended. The [`Transfer`]
/// that `f` returns is what `to`'s pending switch returns (or, if `to` has
/// not started yet, the arguments its entry function receives).
///
/// This is how an exception is raised inside a suspended context: `f` can
/// record a pending panic that the target raises when its switch returns.
///
/// # Safety
///
/// As for [`switch`], and `f` must not unwind, must not switch away itself
/// (it runs between the two halves of a switch), and must return a
/// `Transfer` that the target context expects.
///
/// # Examples
///
/// ```
/// use greenlet::raw::{self, StackPointer, StackRegion, Transfer};
///
/// unsafe extern "C" fn echo(mut from: StackPointer, mut data: usize) -> ! {
///     loop {
///         // SAFETY: `from` waits in its switch to us.
///         let t = unsafe { raw::switch(from, data) };
///         (from, data) = (t.sp, t.data);
///     }
/// }
/// // Runs on the echo context before its pending switch returns.
/// unsafe extern "C" fn add_100(from: StackPointer, data: usize) -> Transfer {
///     Transfer { sp: from, data: data + 100 }
/// }
/// let mut memory = [0u8; 16 * 1024];
/// let region = StackRegion::from_slice(&mut memory).unwrap();
/// // SAFETY: `memory` outlives the context, abandoned suspended.
/// let t = unsafe { raw::switch(region.init(echo), 1) };
/// assert_eq!(t.data, 1);
/// // SAFETY: `t.sp` is suspended in its switch; `add_100` does not unwind
/// // or switch, and hands back the sender as `echo` expects.
/// assert_eq!(unsafe { raw::switch_ontop(t.sp, 2, add_100) }.data, 102);
/// ```
#[inline]
pub unsafe fn switch_ontop(to: StackPointer, data: usize, f: OnTopFn) -> Transfer {
    // SAFETY: forwarded to the caller, see above.
    unsafe { asm_switch_ontop(to, data, f) }
}

/// Make a Valgrind client request (valgrind.h's
/// `VALGRIND_DO_CLIENT_REQUEST_EXPR`): `args[0]` is the request code,
/// `args[1..6]` its arguments. Returns the request's result when the program
/// runs under Valgrind, and `default` when it runs on a real CPU (or under
/// an emulator such as qemu-user), where the magic instruction sequence
/// does nothing.
///
/// The sequence differs per CPU, so it lives in the assembly
/// (`greenlet_valgrind_request`); on a CPU that the Valgrind this was
/// written for (3.19) does not support (riscv64), it always returns
/// `default`. The crate uses it to register its stacks
/// (`VALGRIND_STACK_REGISTER`); the request codes are in valgrind.h.
///
/// # Safety
///
/// Under Valgrind a request can do anything its code means (mark memory
/// undefined or inaccessible, discard translations, ...): the caller must
/// make only requests whose effect is sound for the program, with
/// arguments that request expects (for example the bounds of memory that
/// really is a stack).
///
/// # Examples
///
/// ```
/// use greenlet::raw;
///
/// // RUNNING_ON_VALGRIND (0x1001): a request that only reports.
/// // SAFETY: it changes nothing, under Valgrind or not.
/// let r = unsafe { raw::valgrind_request(7, &[0x1001, 0, 0, 0, 0, 0]) };
/// if raw::running_on_valgrind() == 0 {
///     assert_eq!(r, 7); // a real CPU: the default comes back
/// }
/// ```
#[inline]
pub unsafe fn valgrind_request(default: usize, args: &[usize; 6]) -> usize {
    // SAFETY: the assembly only reads the six words of `args`; what the
    // request does under Valgrind is the caller's responsibility.
    unsafe { asm_valgrind_request(default, args) }
}

/// How many Valgrinds this program runs under: 0 on a real CPU (and on a
/// CPU without a Valgrind port), 1 under Valgrind (valgrind.h's
/// `RUNNING_ON_VALGRIND`).
///
/// # Examples
///
/// ```
/// use greenlet::raw;
///
/// // SAFETY: RUNNING_ON_VALGRIND (0x1001) only reports.
/// let direct = unsafe { raw::valgrind_request(0, &[0x1001, 0, 0, 0, 0, 0]) };
/// assert_eq!(raw::running_on_valgrind(), direct);
/// ```
pub fn running_on_valgrind() -> usize {
    // SAFETY: RUNNING_ON_VALGRIND (0x1001) only reports; it changes nothing.
    unsafe { valgrind_request(0, &[0x1001, 0, 0, 0, 0, 0]) }
}

/// The exact size in bytes of this CPU's switch frame, from the assembly.
///
/// # Examples
///
/// ```
/// use greenlet::raw::{self, MAX_FRAME_BYTES, STACK_ALIGN};
///
/// let f = raw::frame_bytes();
/// assert!(f > 0 && f <= MAX_FRAME_BYTES);
/// assert_eq!(f % STACK_ALIGN, 0); // a suspended context's stack stays aligned
/// ```
pub fn frame_bytes() -> usize {
    // SAFETY: an immutable constant defined in the assembly's .rodata.
    unsafe { FRAME_BYTES }
}

/// The bytes [`stack_init`] writes below `top` on this CPU, from the
/// assembly.
///
/// # Examples
///
/// ```
/// use greenlet::raw;
///
/// // The first frame holds a switch frame and the entry trampoline's words.
/// assert!(raw::init_bytes() >= raw::frame_bytes());
/// ```
pub fn init_bytes() -> usize {
    // SAFETY: an immutable constant defined in the assembly's .rodata.
    unsafe { INIT_BYTES }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_bounds_agree_with_the_assembly() {
        let (frame, init) = (frame_bytes(), init_bytes());
        assert!(frame > 0 && frame <= MAX_FRAME_BYTES, "frame {frame}");
        assert!(init >= frame && init <= MAX_FRAME_BYTES, "init {init}");
        assert_eq!(frame % STACK_ALIGN, 0, "frame keeps sp aligned");
        assert_eq!(init % STACK_ALIGN, 0, "init keeps sp aligned");
    }

    #[test]
    fn stack_init_stays_within_init_bytes() {
        // Fill a buffer with a pattern, build a context at its top, and check
        // that nothing below `top - init_bytes()` was written and the
        // returned sp lies within the written range, aligned.
        let mut buf = [0xA5u8; 4096];
        let top = buf.as_mut_ptr_range().end;
        // SAFETY: `buf` is writable memory; the context is never resumed.
        let sp = unsafe { stack_init(top, dummy_entry) } as usize;
        let top_a = top as usize & !(STACK_ALIGN - 1);
        assert_eq!(sp % STACK_ALIGN, 0);
        assert!(sp < top_a && top_a - sp <= init_bytes(), "sp {sp:#x}");
        let lowest_written = buf.iter().position(|&b| b != 0xA5).unwrap();
        let base = buf.as_ptr() as usize;
        assert!(base + lowest_written >= top_a - init_bytes());
    }

    #[test]
    fn valgrind_request_returns_the_default_on_a_real_cpu() {
        // Run natively (or under qemu-user) the magic sequence is a no-op
        // and the default comes back, whatever it is; under Valgrind (the
        // valgrind step of ci/test.sh sets GREENLET_UNDER_VALGRIND) the
        // request is answered instead.
        let under = std::env::var_os("GREENLET_UNDER_VALGRIND").is_some();
        for default in [0, 1, 0x5a5a_a5a5, usize::MAX, usize::MAX / 3] {
            // SAFETY: RUNNING_ON_VALGRIND only reports.
            let r = unsafe { valgrind_request(default, &[0x1001, 0, 0, 0, 0, 0]) };
            if under {
                assert_eq!(r, 1, "RUNNING_ON_VALGRIND under Valgrind");
            } else {
                assert_eq!(r, default, "the default comes back on a real CPU");
            }
        }
        assert_eq!(running_on_valgrind(), usize::from(under));
    }

    unsafe extern "C" fn dummy_entry(_: StackPointer, _: usize) -> ! {
        unreachable!()
    }
}
