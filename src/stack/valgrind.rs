//! What Valgrind is told about stacks: each stack's usable range is
//! registered (`VALGRIND_STACK_REGISTER`) while it is handed out, so that
//! under Valgrind a switch is a change of stack. Natively every request is
//! a no-op.

use crate::raw;

/// Valgrind's client request codes for stacks (valgrind.h,
/// `VG_USERREQ__STACK_REGISTER` and `VG_USERREQ__STACK_DEREGISTER`).
const VG_STACK_REGISTER: usize = 0x1501;
const VG_STACK_DEREGISTER: usize = 0x1502;

/// Tells Valgrind (when the program runs under it) that the `usable` bytes
/// from `bottom` are a stack, and returns the id it gives it (0 natively).
///
/// Without this, Valgrind takes a switch between two stacks less than
/// `--max-stackframe` (2 MB) apart, such as neighbouring slots of an arena,
/// for a huge push or pop on one stack, and marks the memory in between as
/// undefined or inaccessible: false errors on the other greenlets' frames.
pub(super) fn valgrind_register(bottom: *mut u8, usable: usize) -> u32 {
    let start = bottom as usize;
    // valgrind.h: "start is the lowest addressable stack byte, end is the
    // highest addressable stack byte".
    let args = [VG_STACK_REGISTER, start, start + usable - 1, 0, 0, 0];
    // SAFETY: the range is usable stack memory that this crate owns for as
    // long as the registration lasts (until `valgrind_deregister`, or for
    // ever for arena slots, which are never unmapped). Natively a no-op.
    let id = unsafe { raw::valgrind_request(0, &args) };
    // valgrind.h declares the id `unsigned`.
    id as u32
}

/// Undoes [`valgrind_register`] before a stack's mapping goes away.
pub(super) fn valgrind_deregister(id: u32) {
    let args = [VG_STACK_DEREGISTER, id as usize, 0, 0, 0, 0];
    // SAFETY: forgets a registration made by `valgrind_register` for a
    // stack that is about to be unmapped. Natively a no-op.
    unsafe { raw::valgrind_request(0, &args) };
}
