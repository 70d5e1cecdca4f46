//! The Unix family (Linux, macOS): `mmap`, `mprotect`, `madvise`, signals.
//! See the [OS layer](super) for what each item is for.

mod faults;
mod limits;
mod memory;
pub(crate) mod net;

pub(crate) use faults::{arm_fault_stack, install_fault_handler, write_stderr};
pub(crate) use limits::{STACK_CALLS, StackLimits};
pub(crate) use memmap2::MmapMut as Mapping;
#[cfg(test)]
pub(crate) use memory::dontneed_frees_pages;
pub(crate) use memory::{
    FORGET_MANY_MAX, NO_MEMORY, forget_many, forget_pages, guard_size, install_kernel_guard,
    is_no_memory, kernel_guard_works, map_anonymous, page_size, protect_none,
};
