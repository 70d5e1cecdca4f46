//! Alignment: a context's entry function starts with the stack pointer
//! aligned as the ABI requires, whatever alignment `top` had. The check
//! itself is in the assembly harness (the rule is per CPU), which the
//! test-only crate `asm-harness/` builds: this file is not in the published
//! package (see Cargo.toml's `exclude`). Runs against the `no_std` build
//! too.

#[path = "common/valgrind_stack.rs"]
mod valgrind_stack;

use greenlet::raw::{self, MAX_FRAME_BYTES, STACK_ALIGN, StackPointer, StackRegion};
use valgrind_stack::ValgrindStack;

#[link(name = "greenlet_harness", kind = "static")]
unsafe extern "C" {
    fn greenlet_harness_aligned_entry(from: StackPointer, cont: usize) -> !;
}

use std::cell::Cell;

thread_local! {
    // Per thread: the two tests run on parallel threads, and a context
    // reports to the thread that started it.
    static ENTRY_SP: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

unsafe extern "C" fn after_aligned_entry(from: StackPointer, aligned: usize, sp: usize) -> ! {
    ENTRY_SP.set((aligned, sp));
    // SAFETY: `from` is the suspended context that started this one.
    unsafe { raw::switch(from, 0) };
    unreachable!("never resumed")
}

/// Start a context at `top` with the harness entry; return (aligned, sp at
/// entry). Safety: as for `raw::stack_init`; the context is abandoned.
unsafe fn entry_sp(top: *mut u8) -> (usize, usize) {
    let cont: unsafe extern "C" fn(StackPointer, usize, usize) -> ! = after_aligned_entry;
    ENTRY_SP.set((9, 0));
    // SAFETY: forwarded to the caller.
    unsafe {
        raw::switch(
            raw::stack_init(top, greenlet_harness_aligned_entry),
            cont as usize,
        );
    }
    ENTRY_SP.get()
}

#[test]
fn entry_sees_an_abi_aligned_stack_pointer() {
    let mut memory = vec![0u8; 256 * 1024];
    let _valgrind = ValgrindStack::register(&memory);
    let range = memory.as_ptr_range();
    for misalign in 0..32 {
        // stack_init aligns a misaligned `top` down itself.
        let top = memory.as_mut_ptr_range().end.wrapping_sub(misalign);
        // SAFETY: `top` is inside `memory`, which outlives the context.
        let (aligned, at) = unsafe { entry_sp(top) };
        assert_eq!(aligned, 1, "misaligned entry sp {at:#x} for top-{misalign}");
        assert!(range.contains(&(at as *const u8)));
        assert!(top as usize - at <= MAX_FRAME_BYTES);
    }
}

#[test]
fn regions_trimmed_from_any_buffer_give_an_aligned_entry() {
    let mut memory = vec![0u8; 16 * 1024 + 64];
    let _valgrind = ValgrindStack::register(&memory);
    for start in 0..32 {
        for end_cut in [0, 1, 9, 15] {
            let end = memory.len() - end_cut;
            let region = StackRegion::from_slice(&mut memory[start..end]).unwrap();
            assert_eq!(region.top() as usize % STACK_ALIGN, 0);
            assert_eq!(region.bottom() as usize % STACK_ALIGN, 0);
            // SAFETY: the region lies in `memory`, which outlives the context.
            let (aligned, at) = unsafe { entry_sp(region.top()) };
            assert_eq!(
                aligned, 1,
                "entry sp {at:#x} misaligned ({start}, {end_cut})"
            );
            assert!(region.contains(at));
            assert!(region.top() as usize - at <= MAX_FRAME_BYTES);
        }
    }
}
