//! `libgreenlet.a`: the C interface of `greenlet` (`include/greenlet.h`).
//!
//! The switch itself (`greenlet_stack_init`, `greenlet_switch`,
//! `greenlet_switch_ontop`, `greenlet_frame_bytes`, `greenlet_init_bytes`)
//! is the assembly, linked in through the `greenlet` crate. This file adds
//! the small stack API of the header: guarded stacks from `mmap`, and a
//! checked `greenlet_context_init` for any stack a `greenlet_stack`
//! describes.
//!
//! It is `no_std` and uses no allocator: the archive needs only libc
//! (`mmap`, `mprotect`, `munmap`, `sysconf`, `abort`, and the `mem*`
//! functions), never Rust's std, an unwinder or a thread runtime.
//! `ci/c-lib.sh` builds it with `-C panic=abort` and leaves only the
//! header's symbols global.

#![no_std]

use core::ffi::{c_int, c_void};
use core::ptr;

use greenlet::raw::{EntryFn, StackPointer, StackRegion};

/// `struct greenlet_stack` of the header: the caller owns the struct.
#[repr(C)]
pub struct GreenletStack {
    /// Lowest address of the guard, or null for none.
    pub guard: *mut c_void,
    /// Lowest usable address; the guard, if any, ends here.
    pub bottom: *mut c_void,
    /// One past the highest usable byte.
    pub top: *mut c_void,
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if page > 0 { page as usize } else { 4096 }
}

#[cfg(target_os = "linux")]
fn last_errno() -> c_int {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

#[cfg(not(target_os = "linux"))]
fn last_errno() -> c_int {
    libc::ENOMEM
}

/// `int greenlet_stack_create(greenlet_stack *stack, size_t size)`.
///
/// # Safety
///
/// `stack` is null or valid for writing one `GreenletStack`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn greenlet_stack_create(stack: *mut GreenletStack, size: usize) -> c_int {
    if stack.is_null() || size == 0 {
        return libc::EINVAL;
    }
    let page = page_size();
    let Some(usable) = size.checked_next_multiple_of(page) else {
        return libc::EINVAL;
    };
    let Some(total) = usable.checked_add(page) else {
        return libc::EINVAL;
    };
    // SAFETY: an anonymous private mapping chosen by the kernel touches no
    // existing memory.
    let map = unsafe {
        libc::mmap(
            ptr::null_mut(),
            total,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if map == libc::MAP_FAILED {
        return last_errno();
    }
    // SAFETY: the lowest page of the mapping just made; nothing uses it.
    if unsafe { libc::mprotect(map, page, libc::PROT_NONE) } != 0 {
        let err = last_errno();
        // SAFETY: the whole mapping made above, not handed out.
        unsafe { libc::munmap(map, total) };
        return err;
    }
    let bottom = map.cast::<u8>().wrapping_add(page);
    // SAFETY: `stack` is non-null and the caller vouches it is writable.
    unsafe {
        stack.write(GreenletStack {
            guard: map,
            bottom: bottom.cast(),
            top: bottom.wrapping_add(usable).cast(),
        });
    }
    0
}

/// `void greenlet_stack_free(greenlet_stack *stack)`.
///
/// # Safety
///
/// `stack` is null, or all-zero, or filled by `greenlet_stack_create` and
/// not freed since; no context on it may run or be resumed again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn greenlet_stack_free(stack: *mut GreenletStack) {
    if stack.is_null() {
        return;
    }
    // SAFETY: non-null, and the caller vouches it is a GreenletStack.
    let s = unsafe { &mut *stack };
    if !s.guard.is_null() {
        let len = s.top as usize - s.guard as usize;
        // SAFETY: [guard, top) is exactly the mapping greenlet_stack_create
        // made, and the caller gives it up.
        unsafe { libc::munmap(s.guard, len) };
    }
    *s = GreenletStack {
        guard: ptr::null_mut(),
        bottom: ptr::null_mut(),
        top: ptr::null_mut(),
    };
}

/// `void *greenlet_context_init(const greenlet_stack *stack,
/// greenlet_entry_fn entry)`: null when `stack` is null or describes no
/// valid stack (see `StackRegion::new` and `StackRegion::with_guard`).
///
/// # Safety
///
/// `stack` is null or points to a `GreenletStack` whose usable range is
/// writable memory reserved for this context; `entry` never returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn greenlet_context_init(
    stack: *const GreenletStack,
    entry: Option<EntryFn>,
) -> StackPointer {
    let (Some(entry), false) = (entry, stack.is_null()) else {
        return ptr::null_mut();
    };
    // SAFETY: non-null; the caller vouches it points to a GreenletStack.
    let s = unsafe { &*stack };
    let bottom = s.bottom as usize;
    let Some(len) = (s.top as usize).checked_sub(bottom) else {
        return ptr::null_mut();
    };
    // SAFETY: the caller vouches for the memory; new() checks the rest.
    let Ok(mut region) = (unsafe { StackRegion::new(s.bottom.cast(), len) }) else {
        return ptr::null_mut();
    };
    if !s.guard.is_null() {
        // SAFETY: the caller declared the guard; with_guard checks its place.
        match unsafe { region.with_guard(s.guard as usize..bottom) } {
            Ok(r) => region = r,
            Err(_) => return ptr::null_mut(),
        }
    }
    // SAFETY: a checked region the caller reserved for this context.
    unsafe { region.init(entry) }
}

/// A panic cannot unwind out of C: stop the process. Nothing in this
/// library panics on valid input; the handler exists because every
/// `no_std` staticlib needs one.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: abort has no preconditions.
    unsafe { libc::abort() }
}
