//! AddressSanitizer's fiber-switch hooks (cargo feature `asan`).
//!
//! ASan keeps its own idea of where the running thread's stack is: it needs
//! it to report stack addresses, to unpoison a stack on `noreturn` calls and
//! unwinding, and to find the *fake stack* (where, with
//! `detect_stack_use_after_return`, instrumented frames keep their locals).
//! A switch between greenlets changes the stack behind its back, so every
//! switch is bracketed by the two calls that compiler-rt documents for
//! this in `sanitizer/common_interface_defs.h` ("Fiber annotation
//! interface"):
//!
//! * `__sanitizer_start_switch_fiber(&save, bottom, size)` right before the
//!   switch, with the bounds of the stack about to run. ASan stores the
//!   current fake stack in `save`; a context that is leaving for good
//!   passes a null `save` instead, and ASan destroys its fake stack.
//! * `__sanitizer_finish_switch_fiber(save, &old_bottom, &old_size)` first
//!   thing once control has arrived: on the return from a switch (with the
//!   `save` of that switch) and at the entry of a new greenlet (null). The
//!   out-parameters are the bounds of the stack we came from.
//!
//! A greenlet's bounds are its [`Stack`](crate::stack::Stack)'s usable
//! range. The main greenlet runs on the thread's own stack, whose bounds
//! ASan knows and we do not: they are recorded from the out-parameters of
//! the first `finish` call on the thread, which is always the first entry
//! of a greenlet started from main (before that, main is the only stack
//! that has run on the thread).
//!
//! Without the feature every function here is an empty `#[inline(always)]`
//! function and [`FakeStack`] is a zero-sized type, so the normal build's
//! switch is unchanged (`ci/callgrind.sh` counts the same instructions).
//! With it, the program must be built with `-Zsanitizer=address` (nightly),
//! which links the ASan runtime that defines these symbols; see
//! docs/sanitizers.md.

#[cfg(feature = "asan")]
mod imp {
    use std::cell::Cell;
    use std::ffi::c_void;
    use std::ptr;

    unsafe extern "C" {
        fn __sanitizer_start_switch_fiber(
            fake_stack_save: *mut *mut c_void,
            bottom: *const c_void,
            size: usize,
        );
        fn __sanitizer_finish_switch_fiber(
            fake_stack_save: *mut c_void,
            bottom_old: *mut *const c_void,
            size_old: *mut usize,
        );
        fn __asan_unpoison_memory_region(addr: *const c_void, size: usize);
    }

    thread_local! {
        /// Bounds (lowest address, size) of this thread's own stack, where
        /// its main greenlet runs; null until the first greenlet started.
        /// `const` and without a destructor, so that it stays usable while
        /// thread-locals are destroyed (dropping a greenlet handle then
        /// still switches).
        static MAIN_STACK: Cell<(*const c_void, usize)> =
            const { Cell::new((ptr::null(), 0)) };
    }

    /// ASan's fake stack of a suspended context, kept on its own stack
    /// across the switch.
    pub(crate) struct FakeStack(*mut c_void);

    impl FakeStack {
        #[inline(always)]
        pub(crate) fn new() -> FakeStack {
            FakeStack(ptr::null_mut())
        }
    }

    /// Tell ASan that the stack `target` (its `(bottom, size)`, or `None`
    /// for the thread's own stack) is about to run. `save` receives the
    /// running context's fake stack; `None` when the running context will
    /// never run again, so that ASan frees its fake stack.
    #[inline(always)]
    pub(crate) fn start_switch(
        save: Option<&mut FakeStack>,
        target: impl FnOnce() -> Option<(*const u8, usize)>,
    ) {
        let (bottom, size) = match target() {
            Some((bottom, size)) => (bottom.cast::<c_void>(), size),
            None => MAIN_STACK.with(Cell::get),
        };
        let save = save.map_or(ptr::null_mut(), |s| &raw mut s.0);
        // SAFETY: `save` is null or points to a live FakeStack; the bounds
        // are those of the stack the next switch runs on.
        unsafe { __sanitizer_start_switch_fiber(save, bottom, size) };
    }

    /// Tell ASan that the switch started by [`start_switch`] has arrived,
    /// with the fake stack this context saved when it left (a new one for
    /// a greenlet's first entry).
    #[inline(always)]
    pub(crate) fn finish_switch(save: FakeStack) {
        let mut bottom_old: *const c_void = ptr::null();
        let mut size_old = 0usize;
        // SAFETY: `save.0` is what start_switch stored for this context (or
        // null), and the out-pointers are our locals.
        unsafe { __sanitizer_finish_switch_fiber(save.0, &mut bottom_old, &mut size_old) };
        MAIN_STACK.with(|m| {
            if m.get().0.is_null() {
                m.set((bottom_old, size_old));
            }
        });
    }

    /// Keeps the locals of the calling function (and of everything inlined
    /// into it) on the real stack rather than on ASan's fake stack.
    ///
    /// A dying greenlet's last switch passes a null `save`, so ASan unmaps
    /// its fake stack *before* the switch; but the receiver then reads the
    /// packet and the payload slot that live in the dying greenlet's last
    /// frames (`entry`, `die`). Those frames must therefore be real: the
    /// real stack stays mapped until the receiver has released it. LLVM's
    /// ASan pass gives no fake frame to a function that contains inline
    /// assembly (`FunctionStackPoisoner`: "Don't do dynamic alloca or stack
    /// malloc if there is inline asm"), so an assembly comment is enough.
    /// Should that rule ever change, the ASan run of the test suite crashes
    /// on the first greenlet that finishes (the receiver's read faults).
    #[inline(always)]
    pub(crate) fn real_stack_frame() {
        // SAFETY: an assembly comment: no instruction, no effect.
        unsafe {
            std::arch::asm!(
                "/* greenlet: locals of this frame stay off the fake stack */",
                options(nomem, nostack, preserves_flags)
            )
        };
    }

    /// A stack is about to be used by a new greenlet: clear whatever
    /// poisoning the frames of its previous user left in the shadow memory
    /// (a finished greenlet's last frames never return).
    pub(crate) fn fresh_stack(bottom: *mut u8, size: usize) {
        // SAFETY: the range is a whole usable stack that nothing runs on.
        unsafe { __asan_unpoison_memory_region(bottom.cast(), size) };
    }
}

#[cfg(not(feature = "asan"))]
mod imp {
    /// Nothing to keep without ASan.
    pub(crate) struct FakeStack;

    impl FakeStack {
        #[inline(always)]
        pub(crate) fn new() -> FakeStack {
            FakeStack
        }
    }

    #[inline(always)]
    pub(crate) fn start_switch(
        _save: Option<&mut FakeStack>,
        _target: impl FnOnce() -> Option<(*const u8, usize)>,
    ) {
    }

    #[inline(always)]
    pub(crate) fn finish_switch(_save: FakeStack) {}

    #[inline(always)]
    pub(crate) fn real_stack_frame() {}

    #[inline(always)]
    pub(crate) fn fresh_stack(_bottom: *mut u8, _size: usize) {}
}

pub(crate) use imp::{FakeStack, finish_switch, fresh_stack, real_stack_frame, start_switch};
