//! Memory used as a stack, registered with Valgrind (shared by the raw
//! tests).

use greenlet::raw;

/// Memory used as a stack, registered with Valgrind as `greenlet::stack`
/// does with its stacks, so that under Valgrind a switch to it is a change
/// of stack rather than a huge push on the current one (valgrind.h,
/// `VALGRIND_STACK_REGISTER`; a no-op on a real CPU). Deregistered on drop.
pub struct ValgrindStack(usize);

impl ValgrindStack {
    pub fn register(memory: &[u8]) -> ValgrindStack {
        let r = memory.as_ptr_range();
        let args = [0x1501, r.start as usize, r.end as usize - 1, 0, 0, 0];
        // SAFETY: STACK_REGISTER of memory that is used as a stack until
        // `drop` deregisters it.
        ValgrindStack(unsafe { raw::valgrind_request(0, &args) })
    }
}

impl Drop for ValgrindStack {
    fn drop(&mut self) {
        // SAFETY: STACK_DEREGISTER of the id `register` got; nothing runs on
        // the memory any more.
        unsafe { raw::valgrind_request(0, &[0x1502, self.0, 0, 0, 0, 0]) };
    }
}
