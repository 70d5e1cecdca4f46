/*
 * aarch64, AAPCS64: the context switch of `greenlet`.
 *
 * Same symbols, signatures and structure as the reference port,
 * asm/x86_64_sysv.S (read its header first).  In short:
 *
 *   struct transfer { void *sp; uintptr_t data; };        returned in x0:x1
 *   void *greenlet_stack_init(void *top, void (*entry)(void *from, uintptr_t data));
 *   struct transfer greenlet_switch(void *to, uintptr_t data);
 *   struct transfer greenlet_switch_ontop(void *to, uintptr_t data,
 *                   struct transfer (*fn)(void *from, uintptr_t data));
 *   const uintptr_t greenlet_frame_bytes, greenlet_init_bytes;
 *   uintptr_t greenlet_valgrind_request(uintptr_t default_value,
 *                                       const uintptr_t args[6]);
 *
 * ---------------------------------------------------------------------------
 * The switch frame.  The saved sp is 16-byte aligned (AAPCS64 6.4.5.1: "SP
 * mod 16 = 0" whenever sp is used to access memory) and points at offset 0.
 *
 *   offset  contents     why it is saved (AAPCS64 6.1.1, 6.1.2)
 *   ------  -----------  ------------------------------------------------------
 *     +0    x29 (fp)     "r19-r29 and SP are callee-saved"
 *     +8    x30 (lr)     the address the suspended switch returns to; not
 *                        callee-saved itself, but it is the resume point
 *    +16    x19, x20     callee-saved
 *    +32    x21, x22     callee-saved
 *    +48    x23, x24     callee-saved
 *    +64    x25, x26     callee-saved
 *    +80    x27, x28     callee-saved
 *    +96    d8, d9       "Only the bottom 64 bits of each value stored in
 *   +112    d10, d11      v8-v15 need to be preserved"
 *   +128    d12, d13
 *   +144    d14, d15
 *   +160    FPCR         policy, see below
 *   +168    (unused, keeps the frame a multiple of 16)
 *   +176    (the suspended caller's frame)
 *
 *   Not saved, deliberately:
 *     x0-x17              argument / temporary / intra-procedure-call
 *                         registers: caller-saved, the C signature clobbers them
 *     x18                 the platform register: never touched
 *     v0-v7, v16-v31,     caller-saved
 *     upper halves of v8-v15
 *     FPSR (status)       cumulative flags, not callee-saved
 *     NZCV                flags, caller-saved
 *     TPIDR_EL0           per thread, not per context
 *
 *   FP control policy: AAPCS64 calls FPCR "global" and leaves it to the
 *   platform.  greenlet gives every context its own FPCR, as on x86_64: the
 *   switch stores it (mrs is cheap) and writes it back only when the resumed
 *   context's value differs (msr fpcr can be slow).  A new context starts with
 *   the FPCR current when greenlet_stack_init ran.
 *
 * The initial frame built by greenlet_stack_init (top aligned down to 16):
 *
 *   top-16   {0, 0}              a null frame record: fp walkers stop here
 *   top-32.. FPCR                inherited
 *   ...      d8-d15, x20-x28 = 0
 *   top-176  x19 = entry
 *   top-184  x30 = trampoline    "return address" of the first switch
 *   top-192  x29 = top-16        points at the null frame record
 *
 *   so the returned sp is top-192, and the first switch "returns" into
 *   the trampoline with sp = top-16 (16-aligned) and x0:x1 holding the
 *   transfer; the trampoline calls entry(x0, x1) with blr.
 *
 * Hardening: every symbol reachable by an indirect call starts with `bti c`;
 * the tail call in switch_ontop branches through x16 so that `bti c`
 * landing pads accept it.  Return addresses are never signed or
 * authenticated here, which is compatible with pac-ret callers (each signs
 * and checks its own).  The GNU property note at the end says so.
 *
 * Apple platforms (macOS on Apple silicon, aarch64-apple-darwin) use
 * AAPCS64 with a few documented divergences:
 *   [APPLE-A64]  Apple, "Writing ARM64 code for Apple platforms"
 *                https://developer.apple.com/documentation/xcode/writing-arm64-code-for-apple-platforms
 *   checked one by one against what this file does:
 *   - "The platforms reserve register x18.  Don't use this register."
 *     Neither the switch, stack_init, the trampoline nor the register
 *     harness reads or writes x18 (it is not in the frame, and the
 *     harness loads no sentinel into it); this is also AAPCS64's advice
 *     for the platform register, so nothing differs.
 *   - The frame pointer x29 must always address a valid frame record.  The
 *     switch keeps the caller's x29 until it loads the target's (each a
 *     record on its own, live stack), and a new context starts with x29
 *     at a null record {0, 0} at its top, which ends every walk.  The
 *     register harness, which elsewhere loads an arbitrary sentinel into
 *     x29, points it at its own frame record on Apple (see the probe).
 *   - A 128-byte red zone below sp that leaf functions may use: it belongs
 *     to the running function only, and a switch is a call, so the caller
 *     keeps nothing there across it; stack_init writes only below the
 *     `top` it is given, on a stack nobody runs on yet.
 *   - Callee-saved registers are AAPCS64's: x19-x28, x29, sp and the low 64
 *     bits of v8-v15 (Apple lists no exception), so the frame is the same.
 *   - The remaining differences are about argument passing (stack slots
 *     packed to their natural alignment, char/short extended by the
 *     caller, variadic arguments always on the stack), which the switch's
 *     all-pointer-sized register arguments never meet; FPCR is not
 *     mentioned, so the per-context FPCR policy above stays.
 *   - Pointer authentication is for arm64e only; aarch64-apple-darwin is
 *     plain arm64, whose return addresses are not signed.  `bti c` is a
 *     hint (executes as a no-op where BTI is not enabled): it is kept so
 *     that both object formats hold the same instructions.
 *
 * Object formats (ELF, Mach-O): one file, as in the reference port (see
 * its header): CSYM, LOCAL, FUNCTION/OBJECT/SIZE and RODATA below carry
 * the directive differences, the ELF notes are ELF-only, and Mach-O ends
 * with .subsections_via_symbols.  Two instruction-level differences:
 * stack_init takes the trampoline's address with adrp + add
 * (@PAGE/@PAGEOFF, since Mach-O has no relocation for adr and the
 * trampoline is another atom), and the register harness's x29 (above).
 * The ELF objects are byte-for-byte what they were before Mach-O support.
 *
 * Build knobs: as in the reference port (GREENLET_PREFIX, GREENLET_MUTANT
 * 1 = forget to restore x28, 2 = never reload FPCR, GREENLET_HARNESS,
 * GREENLET_SHARED_FP_CONTROL = leave FPCR alone: one per thread).
 */

#ifndef GREENLET_PREFIX
#define GREENLET_PREFIX greenlet_
#endif
#ifndef GREENLET_MUTANT
#define GREENLET_MUTANT 0
#endif
#define GL_CAT2(a, b) a##b
#define GL_CAT(a, b) GL_CAT2(a, b)

/* Object format: ELF everywhere but Apple's platforms, which use Mach-O
 * (see "Object formats" in the header).  Only directives and symbol
 * spelling differ; these macros carry the difference, so that every
 * instruction is written once:
 *   CSYM(name)     a C-level name as the object file spells it (Mach-O
 *                  prefixes `_` to every C symbol, ELF nothing)
 *   LOCAL(name)    an assembler-local label, kept out of the symbol table
 *                  (`.L` on ELF, `L` on Mach-O)
 *   FUNCTION(sym), OBJECT(sym), SIZE(sym)
 *                  ELF's .type and .size (emitted right after the symbol's
 *                  last byte); Mach-O symbols have neither
 *   RODATA         read-only data: ELF .rodata, Mach-O __TEXT,__const */
#if defined(__APPLE__) && defined(__MACH__)
#define GL_MACHO 1
#define CSYM(name) GL_CAT(_, name)
#define LOCAL(name) GL_CAT(L, name)
#define FUNCTION(sym)
#define OBJECT(sym)
#define SIZE(sym)
#define RODATA .section __TEXT,__const
#else
#define CSYM(name) name
#define LOCAL(name) .L##name
#define FUNCTION(sym) .type sym, %function
#define OBJECT(sym) .type sym, %object
#define SIZE(sym) .size sym, . - sym
#define RODATA .section .rodata
#endif
#define SYM(name) CSYM(GL_CAT(GREENLET_PREFIX, name))

        .text

#ifndef GREENLET_HARNESS

/* Save the running context: on exit sp is its 16-aligned saved sp and
 * x9 holds its FPCR. */
.macro SAVE_FRAME
        sub     sp, sp, #176
        .cfi_def_cfa_offset 176
        stp     x29, x30, [sp, #0]
        .cfi_offset x29, -176
        .cfi_offset x30, -168
        stp     x19, x20, [sp, #16]
        .cfi_offset x19, -160
        .cfi_offset x20, -152
        stp     x21, x22, [sp, #32]
        .cfi_offset x21, -144
        .cfi_offset x22, -136
        stp     x23, x24, [sp, #48]
        .cfi_offset x23, -128
        .cfi_offset x24, -120
        stp     x25, x26, [sp, #64]
        .cfi_offset x25, -112
        .cfi_offset x26, -104
        stp     x27, x28, [sp, #80]
        .cfi_offset x27, -96
        .cfi_offset x28, -88
        stp     d8, d9, [sp, #96]
        .cfi_offset d8, -80
        .cfi_offset d9, -72
        stp     d10, d11, [sp, #112]
        .cfi_offset d10, -64
        .cfi_offset d11, -56
        stp     d12, d13, [sp, #128]
        .cfi_offset d12, -48
        .cfi_offset d13, -40
        stp     d14, d15, [sp, #144]
        .cfi_offset d14, -32
        .cfi_offset d15, -24
#ifndef GREENLET_SHARED_FP_CONTROL
        mrs     x9, fpcr
        str     x9, [sp, #160]
#endif
.endm

/* x11 = our saved sp; switch to x0 and compare FPCRs.  Both frames have the
 * same layout, so the CFI stays valid across the change of sp. */
.macro SWAP_STACKS reload_label
        mov     x11, sp
        mov     sp, x0
#if GREENLET_MUTANT != 2 && !defined(GREENLET_SHARED_FP_CONTROL)
        ldr     x10, [sp, #160]
        cmp     x9, x10
        b.ne    \reload_label
#endif
.endm

/* Pop the resumed context's frame; on exit x30 is its resume address. */
.macro RESTORE_FRAME
        ldp     x19, x20, [sp, #16]
        ldp     x21, x22, [sp, #32]
        ldp     x23, x24, [sp, #48]
        ldp     x25, x26, [sp, #64]
#if GREENLET_MUTANT == 1
        ldr     x27, [sp, #80]          /* mutant: x28 keeps the sender's value */
#else
        ldp     x27, x28, [sp, #80]
#endif
        ldp     d8, d9, [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        ldp     x29, x30, [sp, #0]
        add     sp, sp, #176
        .cfi_def_cfa_offset 0
        .cfi_restore x29
        .cfi_restore x30
        .cfi_restore x19
        .cfi_restore x20
        .cfi_restore x21
        .cfi_restore x22
        .cfi_restore x23
        .cfi_restore x24
        .cfi_restore x25
        .cfi_restore x26
        .cfi_restore x27
        .cfi_restore x28
        .cfi_restore d8
        .cfi_restore d9
        .cfi_restore d10
        .cfi_restore d11
        .cfi_restore d12
        .cfi_restore d13
        .cfi_restore d14
        .cfi_restore d15
.endm

/* ------------------------------------------------------------------------ */
/* struct transfer greenlet_switch(void *to = x0, uintptr_t data = x1)      */

        .globl  SYM(switch)
        FUNCTION(SYM(switch))
        .p2align 4
SYM(switch):
        .cfi_startproc
        bti     c
        /* x0 = target sp, x1 = data, x30 = our return address */
        SAVE_FRAME
        /* sp = our saved sp, x9 = our FPCR */
        SWAP_STACKS LOCAL(switch_reload)
LOCAL(switch_restore):
        /* sp = target's saved sp, its FPCR is live */
        .cfi_remember_state
        RESTORE_FRAME
        /* x30 = target's resume address; return (our sp, data) */
        mov     x0, x11
        ret
LOCAL(switch_reload):
        .cfi_restore_state
        msr     fpcr, x10
        b       LOCAL(switch_restore)
        .cfi_endproc
        SIZE(SYM(switch))

/* ------------------------------------------------------------------------ */
/* struct transfer greenlet_switch_ontop(void *to = x0, uintptr_t data = x1,
 *                                       fn = x2)                          */

        .globl  SYM(switch_ontop)
        FUNCTION(SYM(switch_ontop))
        .p2align 4
SYM(switch_ontop):
        .cfi_startproc
        bti     c
        SAVE_FRAME
        SWAP_STACKS LOCAL(ontop_reload)
LOCAL(ontop_restore):
        .cfi_remember_state
        RESTORE_FRAME
        /* as at a function entry, with x30 = the target's resume address:
         * tail-call fn(from = x11, data = x1); its x0:x1 becomes the return
         * value of the target's pending switch. */
        mov     x0, x11
        mov     x16, x2
        br      x16
LOCAL(ontop_reload):
        .cfi_restore_state
        msr     fpcr, x10
        b       LOCAL(ontop_restore)
        .cfi_endproc
        SIZE(SYM(switch_ontop))

/* ------------------------------------------------------------------------ */
/* void *greenlet_stack_init(void *top = x0, entry = x1)                    */

        .globl  SYM(stack_init)
        FUNCTION(SYM(stack_init))
        .p2align 4
SYM(stack_init):
        .cfi_startproc
        bti     c
        and     x0, x0, #~15
        sub     x2, x0, #192
        stp     xzr, xzr, [x0, #-16]    /* null frame record */
        sub     x3, x0, #16
#ifdef GL_MACHO
        /* The trampoline starts another atom of the section (see the
         * .subsections_via_symbols at the end), which the linker may move:
         * Mach-O has no relocation for adr, so take its page and offset
         * (ARM64_RELOC_PAGE21 / PAGEOFF12). */
        adrp    x4, LOCAL(trampoline)@PAGE
        add     x4, x4, LOCAL(trampoline)@PAGEOFF
#else
        adr     x4, LOCAL(trampoline)   /* same section and object: fixed */
#endif
        stp     x3, x4, [x2, #0]        /* x29 -> null record, x30 */
        stp     x1, xzr, [x2, #16]      /* x19 = entry, x20 */
        stp     xzr, xzr, [x2, #32]
        stp     xzr, xzr, [x2, #48]
        stp     xzr, xzr, [x2, #64]
        stp     xzr, xzr, [x2, #80]
        stp     xzr, xzr, [x2, #96]
        stp     xzr, xzr, [x2, #112]
        stp     xzr, xzr, [x2, #128]
        stp     xzr, xzr, [x2, #144]
        mrs     x3, fpcr                /* inherited FP control state */
        stp     x3, xzr, [x2, #160]
        mov     x0, x2
        ret
        .cfi_endproc
        SIZE(SYM(stack_init))

/* The first code a new context runs, entered by the `ret` of a switch:
 * sp = top-16, x19 = entry, x0:x1 = the transfer (from, data).  The CFI
 * marks the return address undefined: unwinders stop here.  The leading
 * nop keeps "return address - 1" inside this FDE. */
        FUNCTION(SYM(trampoline_fde))
        .p2align 4
SYM(trampoline_fde):
        .cfi_startproc
        .cfi_undefined x30
        nop
LOCAL(trampoline):
        blr     x19
        brk     #1                      /* entry returned: forbidden */
        .cfi_endproc
        SIZE(SYM(trampoline_fde))

/* ------------------------------------------------------------------------ */
/* uintptr_t greenlet_valgrind_request(uintptr_t default_value = x0,
 *                                     const uintptr_t args[6] = x1)
 *
 * A Valgrind client request, as in the reference port: args[0] is the
 * request code, args[1..5] its arguments; under Valgrind the request's
 * result comes back, natively `default_value`.  valgrind.h (3.19,
 * "arm64-linux") documents the sequence for this CPU: x3 = the default,
 * x4 = the argument block, the preamble of four rotates of x12 by 3, 13,
 * 51 and 61 bits (128 in all: x12 ends unchanged), then
 * `orr x10, x10, x10`; the result is in x3.  x3, x4 and x12 are
 * caller-saved (AAPCS64 6.1.1), and x10 is not changed.  Valgrind has
 * no arm64 macOS port; there the sequence only ever returns the default. */

        .globl  SYM(valgrind_request)
        FUNCTION(SYM(valgrind_request))
        .p2align 4
SYM(valgrind_request):
        .cfi_startproc
        bti     c
        mov     x3, x0
        mov     x4, x1
        ror     x12, x12, #3
        ror     x12, x12, #13
        ror     x12, x12, #51
        ror     x12, x12, #61
        orr     x10, x10, x10
        mov     x0, x3
        ret
        .cfi_endproc
        SIZE(SYM(valgrind_request))

        RODATA
        .p2align 3
        .globl  SYM(frame_bytes)
        OBJECT(SYM(frame_bytes))
SYM(frame_bytes):
        .quad   176
        SIZE(SYM(frame_bytes))
        .globl  SYM(init_bytes)
        OBJECT(SYM(init_bytes))
SYM(init_bytes):
        .quad   192
        SIZE(SYM(init_bytes))

#else /* GREENLET_HARNESS */

/* ---------------------------------------------------------------------------
 * Register-test harness, as in the reference port:
 *
 * struct transfer greenlet_harness_probe(void *to = x0, uintptr_t data = x1,
 *         switch_fn = x2, uint64_t seed = x3, uint64_t *out = x4)
 * void greenlet_harness_aligned_entry(void *from = x0, uintptr_t cont = x1)
 *     tail-calls cont(from, aligned (sp % 16 == 0), sp)
 * ------------------------------------------------------------------------ */

#ifdef GREENLET_SHARED_FP_CONTROL
#define N_REGS 19
#else
#define N_REGS 20
#endif

/* x = 0x0101010101010101 * k ^ seed, with x9 = 0x0101010101010101 */
.macro SENTINEL reg, k
        mov     x10, #\k
        mul     \reg, x9, x10
        eor     \reg, \reg, x3
.endm

        .globl  CSYM(greenlet_harness_probe)
        FUNCTION(CSYM(greenlet_harness_probe))
        .p2align 4
CSYM(greenlet_harness_probe):
        .cfi_startproc
        bti     c
        sub     sp, sp, #192
        .cfi_def_cfa_offset 192
        stp     x29, x30, [sp, #0]
        .cfi_offset x29, -192
        .cfi_offset x30, -184
        stp     x19, x20, [sp, #16]
        .cfi_offset x19, -176
        .cfi_offset x20, -168
        stp     x21, x22, [sp, #32]
        .cfi_offset x21, -160
        .cfi_offset x22, -152
        stp     x23, x24, [sp, #48]
        .cfi_offset x23, -144
        .cfi_offset x24, -136
        stp     x25, x26, [sp, #64]
        .cfi_offset x25, -128
        .cfi_offset x26, -120
        stp     x27, x28, [sp, #80]
        .cfi_offset x27, -112
        .cfi_offset x28, -104
        stp     d8, d9, [sp, #96]
        .cfi_offset d8, -96
        .cfi_offset d9, -88
        stp     d10, d11, [sp, #112]
        .cfi_offset d10, -80
        .cfi_offset d11, -72
        stp     d12, d13, [sp, #128]
        .cfi_offset d12, -64
        .cfi_offset d13, -56
        stp     d14, d15, [sp, #144]
        .cfi_offset d14, -48
        .cfi_offset d15, -40
        mrs     x9, fpcr
        stp     x9, x4, [sp, #160]      /* caller's FPCR, out */
        str     x2, [sp, #176]          /* switch_fn */
        /* sentinels */
        mov     x9, #0x0101
        orr     x9, x9, x9, lsl #16
        orr     x9, x9, x9, lsl #32
        SENTINEL x19, 0x11
        SENTINEL x20, 0x12
        SENTINEL x21, 0x13
        SENTINEL x22, 0x14
        SENTINEL x23, 0x15
        SENTINEL x24, 0x16
        SENTINEL x25, 0x17
        SENTINEL x26, 0x18
        SENTINEL x27, 0x19
        SENTINEL x28, 0x1a
#ifdef GL_MACHO
        /* Apple: "The frame pointer register (x29) must always address a
         * valid frame record" (see the header), so no arbitrary sentinel
         * here: x29 points at this probe's own record {caller's x29, x30}
         * at [sp].  It still differs between the two sides of the switch
         * (they run on different stacks), which is all the test needs. */
        mov     x29, sp
#else
        SENTINEL x29, 0x1b
#endif
        SENTINEL x12, 0x21
        fmov    d8, x12
        SENTINEL x12, 0x22
        fmov    d9, x12
        SENTINEL x12, 0x23
        fmov    d10, x12
        SENTINEL x12, 0x24
        fmov    d11, x12
        SENTINEL x12, 0x25
        fmov    d12, x12
        SENTINEL x12, 0x26
        fmov    d13, x12
        SENTINEL x12, 0x27
        fmov    d14, x12
        SENTINEL x12, 0x28
        fmov    d15, x12
#ifndef GREENLET_SHARED_FP_CONTROL
        /* FPCR: RMode (bits 22-23) = seed & 3, FZ (bit 24) = seed & 4 */
        and     x10, x3, #3
        and     x12, x3, #4
        orr     x10, x10, x12
        lsl     x10, x10, #22
        msr     fpcr, x10
#endif
        mov     x9, x4
        bl      LOCAL(harness_dump)
        /* switch away: x0, x1 untouched since entry */
        ldr     x16, [sp, #176]
        blr     x16
        /* back: record, keeping the transfer in x0:x1 */
        ldr     x9, [sp, #168]
        add     x9, x9, #(N_REGS * 8)
        bl      LOCAL(harness_dump)
        ldr     x9, [sp, #160]
        msr     fpcr, x9
        ldp     x19, x20, [sp, #16]
        ldp     x21, x22, [sp, #32]
        ldp     x23, x24, [sp, #48]
        ldp     x25, x26, [sp, #64]
        ldp     x27, x28, [sp, #80]
        ldp     d8, d9, [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        ldp     x29, x30, [sp, #0]
        add     sp, sp, #192
        .cfi_def_cfa_offset 0
        ret
        .cfi_endproc
        SIZE(CSYM(greenlet_harness_probe))

/* Store x19-x29, d8-d15, FPCR at x9[0..20]; clobbers x10 only. */
        FUNCTION(LOCAL(harness_dump))
LOCAL(harness_dump):
        .cfi_startproc
        stp     x19, x20, [x9, #0]
        stp     x21, x22, [x9, #16]
        stp     x23, x24, [x9, #32]
        stp     x25, x26, [x9, #48]
        stp     x27, x28, [x9, #64]
        str     x29, [x9, #80]
        stp     d8, d9, [x9, #88]
        stp     d10, d11, [x9, #104]
        stp     d12, d13, [x9, #120]
        stp     d14, d15, [x9, #136]
#ifndef GREENLET_SHARED_FP_CONTROL
        mrs     x10, fpcr
        str     x10, [x9, #152]
#endif
        ret
        .cfi_endproc

        .globl  CSYM(greenlet_harness_aligned_entry)
        FUNCTION(CSYM(greenlet_harness_aligned_entry))
        .p2align 4
CSYM(greenlet_harness_aligned_entry):
        .cfi_startproc
        bti     c
        /* x0 = from, x1 = cont */
        mov     x16, x1
        mov     x2, sp
        tst     x2, #15
        cset    x1, eq
        br      x16
        .cfi_endproc
        SIZE(CSYM(greenlet_harness_aligned_entry))

        RODATA
        .p2align 3
        .globl  CSYM(greenlet_harness_count)
CSYM(greenlet_harness_count):
        .quad   N_REGS
        .globl  CSYM(greenlet_harness_names)
CSYM(greenlet_harness_names):
#ifdef GREENLET_SHARED_FP_CONTROL
        .asciz  "x19 x20 x21 x22 x23 x24 x25 x26 x27 x28 x29 d8 d9 d10 d11 d12 d13 d14 d15"
#else
        .asciz  "x19 x20 x21 x22 x23 x24 x25 x26 x27 x28 x29 d8 d9 d10 d11 d12 d13 d14 d15 fpcr"
#endif

#endif /* GREENLET_HARNESS */

#ifdef GL_MACHO

/* Every global or local symbol starts an atom that the linker may drop
 * when nothing refers to it (-dead_strip) or move; what the code relies
 * on within a function uses L labels, which start no atom. */
        .subsections_via_symbols

#else

        .section .note.GNU-stack, "", %progbits

/* GNU property note: this object is BTI- and PAC-compatible. */
        .section .note.gnu.property, "a"
        .p2align 3
        .long   4                       /* name size: "GNU\0" */
        .long   16                      /* descriptor size */
        .long   5                       /* NT_GNU_PROPERTY_TYPE_0 */
        .asciz  "GNU"
        .long   0xc0000000              /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
        .long   4
        .long   3                       /* BTI | PAC */
        .p2align 3

#endif
