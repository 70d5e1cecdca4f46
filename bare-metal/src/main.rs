//! The `no_std` raw layer linked into a program that has no `std`, no
//! allocator and no libc: what a kernel or bootloader would link.
//!
//! Built for `x86_64-unknown-none` or `aarch64-unknown-none`, it is a
//! freestanding static ELF whose `_start` ping-pongs with a context on a
//! `static` buffer (checked by `raw::StackRegion`) and reports through the
//! two Linux system calls `write` and `exit`, so that `ci/test.sh` can run it
//! as a Linux process: natively on x86_64, under `qemu-aarch64` on aarch64.
//! It exits 0 only if every value came back as expected. (The system calls
//! are the only OS-specific part; on real bare metal they would be a UART
//! and a halt.)
//!
//! It only reads addresses relative to the program counter, so it needs no
//! relocation at load time even when linked as a static PIE.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod bare {
    use core::arch::{asm, naked_asm};
    use greenlet::raw::{self, StackPointer, StackRegion};

    const ROUND_TRIPS: usize = 100_000;

    #[repr(C, align(16))]
    struct Stack([u8; 64 * 1024]);
    static mut STACK: Stack = Stack([0; 64 * 1024]);

    /// Answers every word with its double plus one.
    unsafe extern "C" fn twice_plus_one(mut from: StackPointer, mut data: usize) -> ! {
        loop {
            // SAFETY: `from` switched to us and is suspended.
            let t = unsafe { raw::switch(from, data.wrapping_mul(2) + 1) };
            (from, data) = (t.sp, t.data);
        }
    }

    fn run() -> bool {
        let stack = &raw mut STACK;
        // SAFETY: the only reference ever made to STACK.
        let Ok(region) = StackRegion::from_slice(unsafe { &mut (*stack).0 }) else {
            return false;
        };
        // SAFETY: STACK is static and holds only this context, abandoned
        // suspended in its loop at exit.
        let mut sp = unsafe { region.init(twice_plus_one) };
        for i in 0..ROUND_TRIPS {
            // SAFETY: `sp` is the context's current stack pointer.
            let t = unsafe { raw::switch(sp, i) };
            if t.data != 2 * i + 1 || !region.contains(t.sp as usize) {
                return false;
            }
            sp = t.sp;
        }
        true
    }

    extern "C" fn main() -> ! {
        if run() {
            write(b"bare-metal greenlet: 100000 round trips ok\n");
            exit(0)
        }
        write(b"bare-metal greenlet: FAILED\n");
        exit(1)
    }

    #[cfg(target_arch = "x86_64")]
    fn write(msg: &[u8]) {
        // SAFETY: write(1, msg, len) reads only `msg`.
        unsafe {
            asm!("syscall", inlateout("rax") 1usize => _, in("rdi") 1usize,
                 in("rsi") msg.as_ptr(), in("rdx") msg.len(),
                 out("rcx") _, out("r11") _, options(nostack));
        }
    }

    #[cfg(target_arch = "x86_64")]
    fn exit(code: usize) -> ! {
        // SAFETY: exit_group ends the process.
        unsafe { asm!("syscall", in("rax") 231usize, in("rdi") code, options(noreturn)) }
    }

    /// The process entry: rsp is 16-byte aligned and holds argc; make it
    /// look like a call (rsp + 8 aligned at `main`'s entry).
    #[cfg(target_arch = "x86_64")]
    #[unsafe(naked)]
    #[unsafe(no_mangle)]
    extern "C" fn _start() -> ! {
        naked_asm!("xor ebp, ebp", "and rsp, -16", "call {main}", "ud2", main = sym main)
    }

    #[cfg(target_arch = "aarch64")]
    fn write(msg: &[u8]) {
        // SAFETY: write(1, msg, len) reads only `msg`.
        unsafe {
            asm!("svc #0", in("x8") 64usize, inlateout("x0") 1usize => _,
                 in("x1") msg.as_ptr(), in("x2") msg.len(), options(nostack));
        }
    }

    #[cfg(target_arch = "aarch64")]
    fn exit(code: usize) -> ! {
        // SAFETY: exit_group ends the process.
        unsafe { asm!("svc #0", in("x8") 94usize, in("x0") code, options(noreturn)) }
    }

    #[cfg(target_arch = "aarch64")]
    #[unsafe(naked)]
    #[unsafe(no_mangle)]
    extern "C" fn _start() -> ! {
        naked_asm!("mov x29, xzr", "mov x30, xzr", "bl {main}", "brk #1", main = sym main)
    }

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
        write(b"bare-metal greenlet: panic\n");
        exit(101)
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "bare_metal_switch is for x86_64-unknown-none and aarch64-unknown-none \
         (see ci/test.sh); nothing to do on this target"
    );
}
