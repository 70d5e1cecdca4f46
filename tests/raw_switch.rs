//! The raw switch: values, order, "on top" calls, and stacks on memory the
//! caller provides. (The entry's stack alignment, checked by the assembly
//! harness, is in tests/entry_alignment.rs.)
//!
//! Every stack here is caller-provided memory described by
//! `raw::StackRegion` (`static` buffers, `Vec` memory, a caller-made guard);
//! nothing uses `greenlet::stack`. So this file also runs against the
//! `no_std` build of the library: `cargo test --no-default-features --test
//! raw_switch`.

use greenlet::raw::{
    self, MIN_REGION_BYTES, RegionError, STACK_ALIGN, StackPointer, StackRegion, Transfer,
};

#[path = "common/valgrind_stack.rs"]
mod valgrind_stack;
use valgrind_stack::ValgrindStack;

/// A heap buffer used as a stack (no guard page: these tests stay shallow),
/// registered with Valgrind.
struct Buf {
    memory: Vec<u8>,
    _valgrind: ValgrindStack,
}

impl Buf {
    fn new() -> Buf {
        let memory = vec![0; 256 * 1024];
        let _valgrind = ValgrindStack::register(&memory);
        Buf { memory, _valgrind }
    }
    fn region(&mut self) -> StackRegion<'_> {
        StackRegion::from_slice(&mut self.memory).unwrap()
    }
}

/// A 16-byte-aligned static buffer, as bare-metal code would declare one.
#[repr(C, align(16))]
struct StaticStack<const N: usize>([u8; N]);

static mut PING_STACK: StaticStack<{ 64 * 1024 }> = StaticStack([0; 64 * 1024]);
static mut RING_STACKS: [StaticStack<{ 32 * 1024 }>; 2] =
    [StaticStack([0; 32 * 1024]), StaticStack([0; 32 * 1024])];

// ---------------------------------------------------------------------------
// One million switches each way, every value checked in order.

const PINGS: usize = 1_000_000;

/// Expects 0, 1, 2, ... from the switcher; answers each `i` with `!i`; after
/// PINGS values it sends its own count of received values, forever.
unsafe extern "C" fn echo_not(mut from: StackPointer, mut data: usize) -> ! {
    let mut expected = 0usize;
    loop {
        let reply = if data == expected && expected < PINGS {
            expected += 1;
            !data
        } else {
            usize::MAX - 1 // out of order or too many: the main side fails
        };
        // SAFETY: `from` switched to us and is suspended.
        let t = unsafe { raw::switch(from, reply) };
        (from, data) = (t.sp, t.data);
    }
}

#[test]
fn a_million_values_arrive_in_order() {
    let mut stack = Buf::new();
    // SAFETY: the context lives on `stack`, which outlives it; it is
    // abandoned suspended in its loop, holding nothing that needs dropping.
    unsafe {
        let mut sp = stack.region().init(echo_not);
        for i in 0..PINGS {
            let t = raw::switch(sp, i);
            assert_eq!(t.data, !i, "reply to {i}");
            sp = t.sp;
        }
    }
}

#[test]
fn ping_pong_on_a_static_buffer() {
    let stack = &raw mut PING_STACK;
    // SAFETY: the only reference ever made to PING_STACK (this test runs
    // once per process).
    let buf: &'static mut [u8] = unsafe { &mut (*stack).0 };
    let _valgrind = ValgrindStack::register(buf);
    let (lo, hi) = (buf.as_ptr() as usize, buf.as_ptr() as usize + buf.len());
    let region = StackRegion::from_slice(buf).unwrap();
    assert_eq!((region.bottom() as usize, region.top() as usize), (lo, hi));
    assert_eq!(region.size(), 64 * 1024);
    // SAFETY: the static outlives the context, which is abandoned suspended
    // in its loop holding nothing that needs dropping.
    unsafe {
        let mut sp = region.init(echo_not);
        assert!(region.contains(sp as usize), "sp {sp:p} on the region");
        for i in 0..PINGS / 10 {
            let t = raw::switch(sp, i);
            assert_eq!(t.data, !i, "reply to {i}");
            assert!(region.contains(t.sp as usize));
            sp = t.sp;
        }
    }
}

// ---------------------------------------------------------------------------
// The `from` stack pointer: a context sees who switched to it, and three
// contexts can pass control around a ring.

static mut RING: [StackPointer; 3] = [std::ptr::null_mut(); 3];

/// Member `k` of a ring main -> 1 -> 2 -> main (k is its first word): it
/// bounces straight back once, then forever adds k to the word and passes it
/// on. Each member records the sp of whoever switched to it, its predecessor.
unsafe extern "C" fn ring_member(from: StackPointer, data: usize) -> ! {
    let k = data;
    // SAFETY: RING is only touched by the contexts of one test thread, one
    // at a time; each RING entry is the current sp of a suspended member.
    unsafe {
        let mut t = raw::switch(from, 0);
        loop {
            RING[(k + 2) % 3] = t.sp;
            t = raw::switch(RING[(k + 1) % 3], t.data + k);
        }
    }
}

#[test]
fn control_passes_around_a_ring_of_three() {
    // Two members on static buffers, as bare-metal code would have them.
    let stacks = &raw mut RING_STACKS;
    // SAFETY: the only reference made to RING_STACKS.
    let [a, b] = unsafe { &mut *stacks };
    let _valgrind = (ValgrindStack::register(&a.0), ValgrindStack::register(&b.0));
    let r1 = StackRegion::from_slice(&mut a.0).unwrap();
    let r2 = StackRegion::from_slice(&mut b.0).unwrap();
    // SAFETY: as above; RING is only used by this test's thread.
    unsafe {
        RING[1] = raw::switch(r1.init(ring_member), 1).sp;
        RING[2] = raw::switch(r2.init(ring_member), 2).sp;
        for w in 0..10_000usize {
            let t = raw::switch(RING[1], w);
            RING[2] = t.sp;
            assert_eq!(t.data, w + 3, "1 and 2 each added their k");
        }
    }
}

// ---------------------------------------------------------------------------
// switch_ontop: the function runs on the target's stack, and its result is
// what the target's pending switch returns.

static mut ONTOP_RAN_AT: usize = 0;

unsafe extern "C" fn times_ten(from: StackPointer, data: usize) -> Transfer {
    let local = 0u8;
    // SAFETY: single-threaded test state.
    unsafe { ONTOP_RAN_AT = &local as *const u8 as usize };
    Transfer {
        sp: from,
        data: data * 10,
    }
}

/// Reports every word it receives back, plus 1.
unsafe extern "C" fn plus_one(mut from: StackPointer, mut data: usize) -> ! {
    loop {
        // SAFETY: `from` is suspended.
        let t = unsafe { raw::switch(from, data + 1) };
        (from, data) = (t.sp, t.data);
    }
}

#[test]
fn ontop_runs_on_the_target_stack_and_replaces_its_result() {
    let mut stack = Buf::new();
    // SAFETY: as in the tests above; single-threaded statics.
    unsafe {
        let region = stack.region();
        let sp = region.init(plus_one);
        let t = raw::switch(sp, 1);
        assert_eq!(t.data, 2);
        // Suspended in its loop: its switch returns (our sp, 5 * 10).
        let t = raw::switch_ontop(t.sp, 5, times_ten);
        assert_eq!(t.data, 51, "target received times_ten's result");
        assert!(region.contains(ONTOP_RAN_AT), "ran on the target's stack");
        // And it carries on normally afterwards.
        let t = raw::switch(t.sp, 7);
        assert_eq!(t.data, 8);
    }
}

#[test]
fn ontop_into_a_new_context_feeds_its_entry() {
    let mut stack = Buf::new();
    // SAFETY: as above.
    unsafe {
        let region = stack.region();
        let sp = region.init(plus_one);
        // The entry receives times_ten's transfer: data 30, so it replies 31.
        let t = raw::switch_ontop(sp, 3, times_ten);
        assert_eq!(t.data, 31);
        assert!(region.contains(ONTOP_RAN_AT));
    }
}

// ---------------------------------------------------------------------------
// Many contexts on one Vec carved into regions keep their own state.

unsafe extern "C" fn accumulate(mut from: StackPointer, mut data: usize) -> ! {
    let mut total = 0usize;
    let mut history = [0usize; 64];
    let mut n = 0;
    loop {
        total += data;
        history[n % 64] = data;
        n += 1;
        // SAFETY: `from` is suspended.
        let t = unsafe { raw::switch(from, total ^ history[(n - 1) % 64]) };
        (from, data) = (t.sp, t.data);
    }
}

#[test]
fn many_contexts_on_one_carved_allocation() {
    const N: usize = 32;
    const EACH: usize = 16 * 1024;
    let mut memory = vec![0u8; N * EACH];
    let _valgrind: Vec<ValgrindStack> = memory.chunks(EACH).map(ValgrindStack::register).collect();
    let regions: Vec<StackRegion<'_>> = memory
        .chunks_mut(EACH)
        .map(|c| StackRegion::from_slice(c).unwrap())
        .collect();
    // SAFETY: each region holds one context; `memory` outlives them all
    // (they are abandoned suspended, holding nothing to drop).
    let mut sps: Vec<StackPointer> = regions
        .iter()
        .map(|r| unsafe { r.init(accumulate) })
        .collect();
    let mut totals = [0usize; N];
    for round in 1..300usize {
        for (k, sp) in sps.iter_mut().enumerate() {
            let add = round * (k + 1);
            totals[k] += add;
            // SAFETY: *sp is context k's current stack pointer.
            let t = unsafe { raw::switch(*sp, add) };
            assert_eq!(t.data, totals[k] ^ add, "context {k}, round {round}");
            assert!(
                regions[k].contains(t.sp as usize),
                "context {k} stays on its region"
            );
            *sp = t.sp;
        }
    }
}

// ---------------------------------------------------------------------------
// Bad descriptions are errors, and nothing is written for them.

#[test]
fn bad_regions_are_errors() {
    let mut memory = vec![0u8; 8 * 1024 + 64];
    let base = memory
        .as_mut_ptr()
        .wrapping_add(memory.as_ptr().align_offset(STACK_ALIGN));
    // SAFETY: (all `new` calls) `base..base + 8 KiB` lies within `memory`;
    // nothing is written on error, and the successful regions are unused.
    unsafe {
        assert_eq!(
            StackRegion::new(core::ptr::null_mut(), 4096).unwrap_err(),
            RegionError::Null
        );
        assert!(matches!(
            StackRegion::new(base.wrapping_add(1), 4096),
            Err(RegionError::Misaligned { .. })
        ));
        assert!(matches!(
            StackRegion::new(base, 4096 + 8),
            Err(RegionError::Misaligned { .. })
        ));
        let small = StackRegion::new(base, MIN_REGION_BYTES - STACK_ALIGN).unwrap_err();
        assert_eq!(
            small,
            RegionError::TooSmall {
                usable: MIN_REGION_BYTES - STACK_ALIGN,
                min: MIN_REGION_BYTES
            }
        );
        assert!(small.to_string().contains("fewer than"), "{small}");
        assert!(matches!(
            StackRegion::new((usize::MAX - 15) as *mut u8, 4096),
            Err(RegionError::Wraps { .. })
        ));
        assert!(StackRegion::new(base, MIN_REGION_BYTES).is_ok());

        // Guards: non-empty and ending exactly at the bottom.
        let at = base as usize + 4096;
        let r = || StackRegion::new(at as *mut u8, 4096).unwrap();
        let g = r().with_guard(base as usize..at).unwrap();
        assert_eq!(g.guard(), Some(base as usize..at));
        assert!(g.guard_contains(at - 1) && !g.guard_contains(at) && g.contains(at));
        assert!(!r().guard_contains(at - 1), "no guard declared");
        for bad in [
            at..at + 4096,
            base as usize..at - 16,
            at..at,
            at - 16..at + 16,
        ] {
            assert!(
                matches!(
                    r().with_guard(bad.clone()),
                    Err(RegionError::GuardNotBelow { .. })
                ),
                "{bad:x?}"
            );
        }
    }
    assert!(memory.iter().all(|&b| b == 0), "nothing was written");

    // MIN_REGION_BYTES bytes starting one past an aligned address: too
    // small once trimmed to alignment at both ends.
    let off = memory.as_ptr().align_offset(STACK_ALIGN) + 1;
    let e = StackRegion::from_slice(&mut memory[off..off + MIN_REGION_BYTES]).unwrap_err();
    assert_eq!(
        e,
        RegionError::TooSmall {
            usable: MIN_REGION_BYTES - STACK_ALIGN,
            min: MIN_REGION_BYTES
        }
    );
}

// ---------------------------------------------------------------------------
// A guard the caller made (here with mprotect or VirtualProtect, as a kernel
// would with its page tables) is recorded and stays below everything the
// context touches.

/// The page size, and a way to make one page inaccessible or read/write
/// again: mprotect on Unix, VirtualProtect on Windows.
#[cfg(unix)]
mod page {
    pub fn size() -> usize {
        // SAFETY: sysconf has no preconditions.
        unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
    }
    /// # Safety
    /// `page` is a whole page of memory the caller owns.
    pub unsafe fn protect(page: *mut u8, accessible: bool) -> bool {
        let prot = if accessible {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_NONE
        };
        // SAFETY: forwarded to the caller.
        unsafe { libc::mprotect(page.cast(), size(), prot) == 0 }
    }
}

#[cfg(windows)]
mod page {
    use std::ffi::c_void;
    // kernel32, declared here rather than through a bindings crate for
    // one test (Microsoft: "VirtualProtect function", memoryapi.h).
    #[link(name = "kernel32")]
    unsafe extern "system" {
        fn VirtualProtect(addr: *mut c_void, len: usize, prot: u32, old: *mut u32) -> i32;
    }
    const PAGE_NOACCESS: u32 = 0x01;
    const PAGE_READWRITE: u32 = 0x04;

    pub fn size() -> usize {
        4096 // every x86_64 Windows
    }
    /// # Safety
    /// `page` is a whole page of committed memory the caller owns.
    pub unsafe fn protect(page: *mut u8, accessible: bool) -> bool {
        let prot = if accessible {
            PAGE_READWRITE
        } else {
            PAGE_NOACCESS
        };
        let mut old = 0;
        // SAFETY: forwarded to the caller; `old` is a valid out pointer.
        unsafe { VirtualProtect(page.cast(), size(), prot, &mut old) != 0 }
    }
}

#[test]
fn a_caller_made_guard_is_below_all_use() {
    const PAGE_MAX: usize = 64 * 1024; // any page size up to 64 KiB
    let mut memory = vec![0u8; 4 * PAGE_MAX];
    let _valgrind = ValgrindStack::register(&memory);
    let page = page::size();
    assert!(page.is_power_of_two() && page <= PAGE_MAX);
    let start = memory.as_mut_ptr();
    let guard = start.wrapping_add(start.align_offset(page));
    let bottom = guard.wrapping_add(page);
    // SAFETY: one whole page inside `memory`, restored before it is freed.
    assert!(unsafe { page::protect(guard, false) });
    // SAFETY: [bottom, bottom + 2 pages) lies within `memory`, above the
    // guard, and is used by this one context only.
    let region = unsafe {
        StackRegion::new(bottom, 2 * page)
            .and_then(|r| r.with_guard(guard as usize..bottom as usize))
            .unwrap()
    };
    assert!(region.guard_contains(guard as usize));
    // SAFETY: as above; abandoned suspended in its loop.
    unsafe {
        let t = raw::switch(region.init(plus_one), 41);
        assert_eq!(t.data, 42);
        assert!(region.contains(t.sp as usize));
        // SAFETY: the same page as above, made accessible again.
        assert!(page::protect(guard, true));
    }
}

// ---------------------------------------------------------------------------
// A panic caught inside a context unwinds that context's frames only. On
// Windows the unwinder checks every frame against the stack bounds of the
// thread information block, so this also checks that the switch gives each
// context its own.

/// Catches a panic raised on its own stack, reports 1 if it was caught
/// there (0 otherwise), then keeps answering with the word plus one.
unsafe extern "C" fn catches_a_panic(mut from: StackPointer, mut data: usize) -> ! {
    let depth = data;
    let caught = std::panic::catch_unwind(|| recurse_then_panic(depth)).is_err();
    data = usize::from(caught);
    loop {
        // SAFETY: `from` is suspended.
        let t = unsafe { raw::switch(from, data) };
        (from, data) = (t.sp, t.data + 1);
    }
}

/// A few frames of depth, so the unwind crosses several of them.
#[inline(never)]
fn recurse_then_panic(depth: usize) -> usize {
    if depth == 0 {
        std::panic::panic_any("raised inside a context");
    }
    1 + recurse_then_panic(std::hint::black_box(depth - 1))
}

#[test]
fn a_panic_caught_inside_a_context_stays_there() {
    // (The panic's message goes to the test's captured output.)
    let mut stack = Buf::new();
    let mut raw_stack = Buf::new();
    // SAFETY: the contexts live on the two buffers, which outlive them;
    // they are abandoned suspended in their loops.
    unsafe {
        // A region (both bounds known) and a bare stack_init (top only).
        let by_region = stack.region().init(catches_a_panic);
        let top = raw_stack.memory.as_mut_ptr_range().end;
        let by_top = raw::stack_init(top, catches_a_panic);
        for sp in [by_region, by_top] {
            let t = raw::switch(sp, 5);
            assert_eq!(t.data, 1, "the panic was caught inside the context");
            assert_eq!(raw::switch(t.sp, 9).data, 10, "and it carries on");
        }
    }
}

// ---------------------------------------------------------------------------
// Windows: the thread information block describes the stack that runs.

#[cfg(all(windows, target_arch = "x86_64"))]
mod tib {
    use super::*;

    /// (StackBase, StackLimit, DeallocationStack) of the running context.
    fn bounds() -> [usize; 3] {
        let (base, limit, dealloc): (usize, usize, usize);
        // SAFETY: reads three fields of this thread's TEB (gs:0x08, gs:0x10,
        // gs:0x1478), which exists for every Windows thread.
        unsafe {
            core::arch::asm!(
                "mov {0}, qword ptr gs:[0x08]",
                "mov {1}, qword ptr gs:[0x10]",
                "mov {2}, qword ptr gs:[0x1478]",
                out(reg) base, out(reg) limit, out(reg) dealloc,
                options(nostack, readonly, preserves_flags),
            );
        }
        [base, limit, dealloc]
    }

    /// Sends its bounds back, one word at a time, forever.
    unsafe extern "C" fn report_bounds(mut from: StackPointer, _: usize) -> ! {
        loop {
            for word in bounds() {
                // SAFETY: `from` is suspended.
                from = unsafe { raw::switch(from, word) }.sp;
            }
        }
    }

    unsafe fn bounds_of(mut sp: StackPointer) -> [usize; 3] {
        let mut out = [0; 3];
        for word in &mut out {
            // SAFETY: forwarded to the caller: `sp` is a suspended
            // report_bounds context.
            let t = unsafe { raw::switch(sp, 0) };
            (*word, sp) = (t.data, t.sp);
        }
        out
    }

    #[test]
    fn each_context_sees_its_own_stack_bounds() {
        let ours = bounds();
        assert!(ours[1] < ours[0] && ours[2] <= ours[1], "thread {ours:x?}");
        let mut a = Buf::new();
        let mut b = Buf::new();
        // SAFETY: each context lives on its own buffer, which outlives it;
        // both are abandoned suspended in their loops.
        unsafe {
            let region = a.region();
            let (bottom, top) = (region.bottom() as usize, region.top() as usize);
            let got = bounds_of(region.init(report_bounds));
            assert_eq!(got, [top, bottom, bottom], "a region's bounds");
            assert_eq!(bounds(), ours, "ours are back after the switch");

            // stack_init knows only the top: the limit is 0 (see the port).
            let top = b.memory.as_mut_ptr_range().end;
            let got = bounds_of(raw::stack_init(top, report_bounds));
            assert_eq!(got, [top as usize & !15, 0, 0], "stack_init's bounds");
            assert_eq!(bounds(), ours);
        }
    }
}

// ---------------------------------------------------------------------------
// A backtrace taken inside a context walks that context's frames and stops
// at its base (the trampoline's unwind info ends the walk), instead of
// running into whatever lies above the stack or into the switcher's stack.

thread_local! {
    static BACKTRACE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

#[inline(never)]
fn capture_here(depth: u32) {
    if depth == 0 {
        let text = std::backtrace::Backtrace::force_capture().to_string();
        BACKTRACE.with_borrow_mut(|b| *b = text);
    } else {
        capture_here(std::hint::black_box(depth - 1));
    }
}

unsafe extern "C" fn backtrace_entry(from: StackPointer, _: usize) -> ! {
    capture_here(3);
    // SAFETY: `from` is suspended; we are never resumed.
    unsafe { raw::switch(from, 0) };
    unreachable!()
}

/// The function names of a rendered backtrace, innermost first.
fn frame_names(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let (num, name) = l.trim_start().split_once(": ")?;
            num.parse::<u32>().ok()?;
            Some(name.trim().to_owned())
        })
        .collect()
}

#[test]
fn a_backtrace_inside_a_context_stops_at_its_base() {
    let mut stack = Buf::new();
    // SAFETY: the context lives on `stack`, which outlives it, and is
    // abandoned suspended.
    unsafe { raw::switch(stack.region().init(backtrace_entry), 0) };
    let text = BACKTRACE.with_borrow(String::clone);
    let names = frame_names(&text);
    let entry = names
        .iter()
        .position(|n| n.ends_with("backtrace_entry"))
        .unwrap_or_else(|| panic!("the entry is listed:\n{text}"));
    assert!(
        names[..entry].iter().any(|n| n.ends_with("capture_here")),
        "the context's own frames are listed:\n{text}"
    );
    // After the entry at most its trampoline: nothing of this test's own
    // stack, no garbage.
    assert!(
        names.len() - entry <= 2,
        "frames after the entry: {:?}\n{text}",
        &names[entry + 1..]
    );
    assert!(
        !names.iter().any(|n| n.contains("stops_at_its_base")),
        "the walk crossed into the switcher's stack:\n{text}"
    );
}
