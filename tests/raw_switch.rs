//! The raw switch: values, order, "on top" calls, and stack alignment.
//!
//! These tests use plain heap buffers as stacks (memory the caller provides),
//! so they exercise the assembly alone, without `greenlet::stack`.

use greenlet::raw::{self, StackPointer, Transfer};

/// A heap buffer used as a stack (no guard page: these tests stay shallow),
/// registered with Valgrind as `greenlet::stack` does with its stacks, so
/// that under Valgrind a switch to it is a change of stack rather than a
/// huge push on the current one (valgrind.h, `VALGRIND_STACK_REGISTER`;
/// a no-op on a real CPU). The second field is Valgrind's id for it.
struct Buf(Vec<u8>, usize);

impl Buf {
    fn new() -> Buf {
        let v = vec![0; 256 * 1024];
        let r = v.as_ptr_range();
        let args = [0x1501, r.start as usize, r.end as usize - 1, 0, 0, 0];
        // SAFETY: STACK_REGISTER of memory that is used as a stack until
        // `drop` deregisters it.
        let id = unsafe { raw::valgrind_request(0, &args) };
        Buf(v, id)
    }
    fn top(&mut self) -> *mut u8 {
        self.0.as_mut_ptr_range().end
    }
    fn range(&self) -> std::ops::Range<usize> {
        let r = self.0.as_ptr_range();
        r.start as usize..r.end as usize
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        // SAFETY: STACK_DEREGISTER of the id `new` got; nothing runs on the
        // buffer any more.
        unsafe { raw::valgrind_request(0, &[0x1502, self.1, 0, 0, 0, 0]) };
    }
}

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
        let mut sp = raw::stack_init(stack.top(), echo_not);
        for i in 0..PINGS {
            let t = raw::switch(sp, i);
            assert_eq!(t.data, !i, "reply to {i}");
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
    let mut s1 = Buf::new();
    let mut s2 = Buf::new();
    // SAFETY: as above; RING is only used by this test's thread.
    unsafe {
        let t = raw::switch(raw::stack_init(s1.top(), ring_member), 1);
        RING[1] = t.sp;
        let t = raw::switch(raw::stack_init(s2.top(), ring_member), 2);
        RING[2] = t.sp;
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
        let sp = raw::stack_init(stack.top(), plus_one);
        let t = raw::switch(sp, 1);
        assert_eq!(t.data, 2);
        // Suspended in its loop: its switch returns (our sp, 5 * 10).
        let t = raw::switch_ontop(t.sp, 5, times_ten);
        assert_eq!(t.data, 51, "target received times_ten's result");
        assert!(
            stack.range().contains(&{ ONTOP_RAN_AT }),
            "ran on the target's stack"
        );
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
        let sp = raw::stack_init(stack.top(), plus_one);
        // The entry receives times_ten's transfer: data 30, so it replies 31.
        let t = raw::switch_ontop(sp, 3, times_ten);
        assert_eq!(t.data, 31);
        assert!(stack.range().contains(&{ ONTOP_RAN_AT }));
    }
}

// ---------------------------------------------------------------------------
// Alignment: the entry function starts with the stack pointer aligned as the
// ABI requires, whatever alignment `top` had. The check itself is in the
// assembly harness (the rule is per CPU).

#[link(name = "greenlet_harness", kind = "static")]
unsafe extern "C" {
    fn greenlet_harness_aligned_entry(from: StackPointer, cont: usize) -> !;
}

static mut ENTRY_SP: (usize, usize) = (0, 0);

unsafe extern "C" fn after_aligned_entry(from: StackPointer, aligned: usize, sp: usize) -> ! {
    // SAFETY: single-threaded test state; `from` is suspended.
    unsafe {
        ENTRY_SP = (aligned, sp);
        raw::switch(from, 0);
    }
    unreachable!("never resumed")
}

#[test]
fn entry_sees_an_abi_aligned_stack_pointer() {
    let cont: unsafe extern "C" fn(StackPointer, usize, usize) -> ! = after_aligned_entry;
    let entry: raw::EntryFn = greenlet_harness_aligned_entry;
    for misalign in 0..32 {
        let mut stack = Buf::new();
        let top = stack.top().wrapping_sub(misalign);
        // SAFETY: `top` is inside `stack`; single-threaded statics; the
        // context is abandoned after its one switch back.
        unsafe {
            ENTRY_SP = (9, 0);
            let sp = raw::stack_init(top, entry);
            raw::switch(sp, cont as usize);
            let (aligned, at) = ENTRY_SP;
            assert_eq!(aligned, 1, "misaligned entry sp {at:#x} for top-{misalign}");
            assert!(stack.range().contains(&at));
            assert!(top as usize - at <= raw::MAX_FRAME_BYTES);
        }
    }
}

// ---------------------------------------------------------------------------
// Independent contexts interleave without disturbing each other's locals.

unsafe extern "C" fn accumulate(mut from: StackPointer, mut data: usize) -> ! {
    let mut total = 0usize;
    let mut history = Vec::new();
    loop {
        total += data;
        history.push(data);
        assert_eq!(history.iter().sum::<usize>(), total);
        // SAFETY: `from` is suspended.
        let t = unsafe { raw::switch(from, total) };
        (from, data) = (t.sp, t.data);
    }
}

#[test]
fn many_contexts_keep_their_own_state() {
    let mut stacks: Vec<Buf> = (0..16).map(|_| Buf::new()).collect();
    let mut sps: Vec<StackPointer> = stacks
        .iter_mut()
        // SAFETY: each stack outlives its context; contexts are abandoned
        // (their Vec leaks, which is acceptable in a test).
        .map(|s| unsafe { raw::stack_init(s.top(), accumulate) })
        .collect();
    let mut expect = [0usize; 16];
    for round in 1..200usize {
        for (k, sp) in sps.iter_mut().enumerate() {
            let add = round * (k + 1);
            expect[k] += add;
            // SAFETY: *sp is that context's current saved pointer.
            let t = unsafe { raw::switch(*sp, add) };
            assert_eq!(t.data, expect[k]);
            *sp = t.sp;
        }
    }
}
