//! Whether the tests run under an emulator that does not do what Linux
//! does, told from the evidence rather than from an environment variable
//! (so that a plain `cargo test --target …` with a qemu runner works).

use std::ptr;

/// `MAP_STACK`, which only Linux has (the tests using this module run on
/// Linux; elsewhere they only need to compile).
#[cfg(target_os = "linux")]
const MAP_STACK: libc::c_int = libc::MAP_STACK;
#[cfg(not(target_os = "linux"))]
const MAP_STACK: libc::c_int = 0;

/// Whether `madvise(MADV_DONTNEED)` really frees a private page (its next
/// read is zero), as Linux always does. qemu-user (7.2) ignores the advice:
/// false there.
pub fn dontneed_frees_pages() -> bool {
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).expect("page size");
    // SAFETY: a fresh anonymous mapping; nothing else refers to it.
    let m = unsafe {
        libc::mmap(
            ptr::null_mut(),
            page,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(m, libc::MAP_FAILED, "mmap of one page failed");
    let p = m.cast::<u8>();
    // SAFETY: `p` is the first byte of the writable page mapped above, which
    // stays mapped after MADV_DONTNEED (it reads as zero, or as before if
    // the advice is ignored); it is unmapped once, at the end.
    unsafe {
        ptr::write_volatile(p, 0x5A);
        libc::madvise(m, page, libc::MADV_DONTNEED);
        let freed = ptr::read_volatile(p) == 0;
        libc::munmap(m, page);
        freed
    }
}

/// Whether `/proc/self/maps` leaves out a `PROT_NONE` mapping, which Linux
/// always lists. qemu-user with a 32-bit guest (qemu-arm 7.2) does; its
/// munmap also keeps host mappings, so tests that exhaust the map count
/// must stay well below it there.
pub fn maps_hide_prot_none() -> bool {
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).expect("page size");
    // Two read/write pages, the first then made PROT_NONE: made as the
    // crate makes a guarded stack (qemu-arm lists a plain PROT_NONE
    // mapping, but not this).
    // SAFETY: a fresh anonymous mapping; nothing else refers to it.
    let m = unsafe {
        libc::mmap(
            ptr::null_mut(),
            2 * page,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | MAP_STACK,
            -1,
            0,
        )
    };
    assert_ne!(m, libc::MAP_FAILED, "mmap of two pages failed");
    // SAFETY: the first page of the mapping made above.
    assert_eq!(unsafe { libc::mprotect(m, page, libc::PROT_NONE) }, 0);
    let start = m as usize;
    let listed = std::fs::read_to_string("/proc/self/maps")
        .expect("read /proc/self/maps")
        .lines()
        .filter_map(|l| l.split(' ').next()?.split_once('-'))
        .filter_map(|(a, b)| {
            Some((
                usize::from_str_radix(a, 16).ok()?,
                usize::from_str_radix(b, 16).ok()?,
            ))
        })
        .any(|(a, b)| a <= start && start < b);
    // SAFETY: the mapping made above, unmapped once.
    unsafe { libc::munmap(m, 2 * page) };
    !listed
}
