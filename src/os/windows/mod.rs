//! The Windows family (x86_64-pc-windows-gnu so far): `VirtualProtect`
//! guards, a vectored exception handler for the overflow report,
//! `SetThreadStackGuarantee`. See the [OS layer](super) for what each item
//! is for, and `faults.rs` for how an overflow of a greenlet's stack is
//! dispatched on Windows and under Wine.

mod faults;
mod limits;
mod memory;
pub(crate) mod net;
#[cfg(target_env = "gnu")]
mod tls;

pub(crate) use faults::{arm_fault_stack, install_fault_handler, write_stderr};
pub(crate) use limits::{STACK_CALLS, StackLimits};
#[cfg(test)]
pub(crate) use memory::dontneed_frees_pages;
pub(crate) use memory::{
    FORGET_MANY_MAX, Mapping, NO_MEMORY, forget_many, forget_pages, guard_size,
    install_kernel_guard, is_no_memory, kernel_guard_works, map_anonymous, page_size, protect_none,
};
#[cfg(target_env = "gnu")]
pub(crate) use tls::StateKey;
