/*
 * arm (armv7-a, 32-bit), AAPCS with the VFP hard-float variant (Linux
 * gnueabihf): the context switch of `greenlet`.
 *
 * Same symbols, signatures and structure as the reference port,
 * asm/x86_64_sysv.S (read its header first).  In short:
 *
 *   struct transfer { void *sp; uintptr_t data; };
 *   void *greenlet_stack_init(void *top, void (*entry)(void *from, uintptr_t data));
 *   struct transfer greenlet_switch(void *to, uintptr_t data);
 *   struct transfer greenlet_switch_ontop(void *to, uintptr_t data,
 *                   struct transfer (*fn)(void *from, uintptr_t data));
 *   const uintptr_t greenlet_frame_bytes, greenlet_init_bytes;  (.long)
 *   uintptr_t greenlet_valgrind_request(uintptr_t default_value,
 *                                       const uintptr_t args[6]);
 *
 * How the transfer comes back.  AAPCS "Result Return": "A Composite Type
 * larger than 4 bytes ... is stored in memory at an address passed as an
 * extra argument when the function was called".  So `struct transfer` is
 * returned through a hidden result pointer in r0 and every visible argument
 * moves up one register (checked with arm-linux-gnueabihf-gcc -O2 -S):
 *
 *   greenlet_switch        r0 = result, r1 = to, r2 = data
 *   greenlet_switch_ontop  r0 = result, r1 = to, r2 = data, r3 = fn
 *   fn                     r0 = result, r1 = from, r2 = data
 *   greenlet_stack_init    r0 = top, r1 = entry; returns the sp in r0
 *   entry                  r0 = from, r1 = data (ordinary word arguments)
 *
 * Hence the switch keeps its caller's result pointer in its frame (slot +72)
 * and, when it is resumed, writes the transfer through the pointer it finds
 * in the resumed frame; switch_ontop hands that same pointer to fn in r0, so
 * that fn's result lands where the target's pending switch expects it; and
 * stack_init points a new context's saved result pointer at a two-word slot
 * at the base of its stack, from which the trampoline loads (from, data)
 * into r0, r1 for entry.
 *
 * ---------------------------------------------------------------------------
 * The switch frame.  The saved sp is 8-byte aligned (AAPCS "SP mod 8 = 0" at
 * a public interface; the switch is entered at one and the frame is a
 * multiple of 16) and points at offset 0.
 *
 *   offset  contents           why it is saved (AAPCS, "Core registers" and
 *                              "VFP register usage conventions")
 *   ------  -----------------  ---------------------------------------------
 *     +0    FPSCR              policy, see below
 *     +4    (unused, padding)
 *     +8    d8-d15 (64 bytes)  "Registers s16-s31 (d8-d15, q4-q7) must be
 *                              preserved across subroutine calls"
 *    +72    result pointer     the suspended caller's hidden r0 (see above)
 *    +76    r4-r8              "A subroutine must preserve the contents of
 *    +96    r9                  the registers r4-r8, r10, r11 and SP (and r9
 *   +100    r10, r11            in PCS variants that designate r9 as v6)";
 *                              Linux designates r9 as v6, an ordinary
 *                              callee-saved register.  r11 is the ARM-state
 *                              frame pointer, r7 the Thumb-state one.
 *   +108    lr                 the address the suspended switch returns to
 *                              (bit 0 = Thumb, honoured by `bx lr`)
 *   +112    (the suspended caller's frame)
 *
 *   Not saved, deliberately:
 *     r0-r3, r12 (ip)     argument / scratch / intra-procedure-call
 *                         registers: caller-saved, the C signature clobbers
 *                         them (r0 is kept, but as the result pointer)
 *     d0-d7, d16-d31      "do not need to be preserved"
 *     FPSCR status bits   "The condition code bits (28-31), the cumulative
 *     0-4, 7, 27-31        saturation (QC) bit (27) and the cumulative
 *                          exception-status bits (0-4 and 7) are not
 *                          preserved across a public interface"
 *     CPSR NZCV, Q, GE    "undefined on entry to or return from a public
 *                          interface"
 *     TPIDRURO (TLS)      per thread, not per context
 *
 *   FP control policy: AAPCS calls FPSCR a global register whose control
 *   bits (exception enables 8-12 and 15, length 16-18, stride 20-21,
 *   rounding mode 22-23, flush-to-zero 24; also DN 25 and AHP 26) are only
 *   changed by "specific support functions".  greenlet gives every context
 *   its own FPSCR control bits, as on x86_64: the switch always stores FPSCR
 *   (vmrs is cheap) and, only when the resumed context's control bits differ
 *   from the suspended one's, writes FPSCR = the live status bits with the
 *   resumed context's control bits (vmsr serialises the FP pipeline).  The
 *   cumulative flags are status, not the switch's business: they stay as
 *   they are.  A new context starts with the FPSCR current when
 *   greenlet_stack_init ran.
 *
 * The initial frame built by greenlet_stack_init (top aligned down to 16):
 *
 *   top-8     0, 0             padding
 *   top-16    0, 0             the transfer slot {from, data} (filled by the
 *                              first switch into the context)
 *   top-20    .Ltrampoline     lr: "return address" of the first switch
 *   top-24    0                r11: a null frame pointer ends fp chains
 *   top-52..  0                r5-r10 (r7: the Thumb frame pointer, null)
 *   top-52    entry            r4
 *   top-56    top-16           the result pointer: the transfer slot
 *   top-120   0                d8-d15
 *   top-128   FPSCR            inherited from the caller of stack_init
 *
 *   so the returned sp is top-128 (16-aligned), and the first switch (or
 *   switch_ontop's fn) writes (from, data) into the slot at top-16 and
 *   "returns" into .Ltrampoline with sp = top-16, r4 = entry.  The
 *   trampoline loads the slot into r0, r1 and calls entry with `blx`, so
 *   entry starts with sp = top-16: 16-aligned, above the 8 AAPCS requires.
 *
 * Instruction set: ARM state (.arm), throughout.  Everything that can be
 * called from Rust or C is a %function symbol; callers in Thumb state reach
 * it through BLX / veneers, and every way out goes through a register
 * (`bx lr`, `bx r3`, `blx r4`), so returns into and calls of Thumb code
 * switch state correctly.
 *
 * Unwinding: 32-bit ARM Linux unwinds with the ARM EHABI tables
 * (.ARM.exidx), not with .eh_frame, so every function carries EHABI
 * directives (.fnstart / .save / .vsave / .pad / .fnend) besides its CFI;
 * the trampoline is .cantunwind, so an unwinder stops at the base of a
 * context.  The CFI goes to .debug_frame (as gcc does on this target), for
 * debuggers.
 *
 * Hardening: armv7-a has no branch-target or return-address-signing
 * features and no GNU property note for them; nothing to mark.
 *
 * Build knobs: as in the reference port (GREENLET_PREFIX, GREENLET_MUTANT
 * 1 = forget to restore r10, 2 = never reload FPSCR, GREENLET_HARNESS,
 * GREENLET_SHARED_FP_CONTROL = leave FPSCR alone: one per thread).
 */

#ifndef GREENLET_PREFIX
#define GREENLET_PREFIX greenlet_
#endif
#ifndef GREENLET_MUTANT
#define GREENLET_MUTANT 0
#endif
#define GL_CAT2(a, b) a##b
#define GL_CAT(a, b) GL_CAT2(a, b)
#define SYM(name) GL_CAT(GREENLET_PREFIX, name)

        .syntax unified
        .arch   armv7-a
        .fpu    vfpv3-d16
        .eabi_attribute 24, 1           /* Tag_ABI_align_needed: 8-byte */
        .eabi_attribute 25, 1           /* Tag_ABI_align_preserved: 8-byte */
        .eabi_attribute 28, 1           /* Tag_ABI_VFP_args: hard-float */
        .cfi_sections .debug_frame
        .arm
        .text

/* FPSCR bits that are status, not control (AAPCS: 0-4, 7, 27-31).  Two ARM
 * immediates, so the comparison needs no mask register. */
#define FPSCR_STATUS_LO 0x0000009f
#define FPSCR_STATUS_HI 0xf8000000

#ifndef GREENLET_HARNESS

/* Save the running context: on exit sp is its saved sp (frame offset 0),
 * r12 holds its FPSCR.  r0 (the result pointer) lands at +72; r1-r3 are
 * untouched. */
.macro SAVE_FRAME
        push    {r0, r4-r11, lr}
        .save   {r4-r11, lr}
        .pad    #4
        .cfi_adjust_cfa_offset 40
        .cfi_rel_offset r4, 4
        .cfi_rel_offset r5, 8
        .cfi_rel_offset r6, 12
        .cfi_rel_offset r7, 16
        .cfi_rel_offset r8, 20
        .cfi_rel_offset r9, 24
        .cfi_rel_offset r10, 28
        .cfi_rel_offset r11, 32
        .cfi_rel_offset lr, 36
        vpush   {d8-d15}
        .vsave  {d8-d15}
        .cfi_adjust_cfa_offset 64
        .cfi_rel_offset d8, 0
        .cfi_rel_offset d9, 8
        .cfi_rel_offset d10, 16
        .cfi_rel_offset d11, 24
        .cfi_rel_offset d12, 32
        .cfi_rel_offset d13, 40
        .cfi_rel_offset d14, 48
        .cfi_rel_offset d15, 56
#ifndef GREENLET_SHARED_FP_CONTROL
        vmrs    r12, fpscr
        str     r12, [sp, #-8]!
#else
        sub     sp, sp, #8
#endif
        .pad    #8
        .cfi_adjust_cfa_offset 8
.endm

/* \ours = our saved sp; switch to r1 (the target's saved sp), pop its FPSCR
 * slot and padding into \tmp and compare the control bits with ours (r12):
 * on exit \tmp = (ours ^ theirs) & control.  Both frames have the same
 * layout, so the CFI stays valid across the change of sp. */
.macro SWAP_STACKS ours, tmp, reload_label
        mov     \ours, sp
        mov     sp, r1
#if GREENLET_MUTANT != 2 && !defined(GREENLET_SHARED_FP_CONTROL)
        ldr     \tmp, [sp], #8
        .cfi_adjust_cfa_offset -8
        eor     \tmp, \tmp, r12
        bic     \tmp, \tmp, #FPSCR_STATUS_HI
        bics    \tmp, \tmp, #FPSCR_STATUS_LO
        bne     \reload_label
#else
        add     sp, sp, #8
        .cfi_adjust_cfa_offset -8
#endif
.endm

/* The reload path: FPSCR = live status bits, resumed context's control
 * bits; r12 is our FPSCR as stored (nothing ran since vmrs), \tmp the masked
 * difference. */
.macro RELOAD_FPSCR tmp
        eor     r12, r12, \tmp
        vmsr    fpscr, r12
.endm

/* Pop the rest of the resumed context's frame: on exit r0 is its result
 * pointer, lr its resume address. */
.macro RESTORE_FRAME
        vpop    {d8-d15}
        .cfi_adjust_cfa_offset -64
        .cfi_restore d8
        .cfi_restore d9
        .cfi_restore d10
        .cfi_restore d11
        .cfi_restore d12
        .cfi_restore d13
        .cfi_restore d14
        .cfi_restore d15
#if GREENLET_MUTANT == 1
        pop     {r0, r4-r9}
        add     sp, sp, #4              /* mutant: r10 keeps the sender's value */
        pop     {r11, lr}
#else
        pop     {r0, r4-r11, lr}
#endif
        .cfi_adjust_cfa_offset -40
        .cfi_restore r4
        .cfi_restore r5
        .cfi_restore r6
        .cfi_restore r7
        .cfi_restore r8
        .cfi_restore r9
        .cfi_restore r10
        .cfi_restore r11
        .cfi_restore lr
.endm

/* ------------------------------------------------------------------------ */
/* struct transfer greenlet_switch(void *to = r1, uintptr_t data = r2),
 *                                 result pointer = r0                      */

        .globl  SYM(switch)
        .type   SYM(switch), %function
        .p2align 4
SYM(switch):
        .fnstart
        .cfi_startproc
        /* r0 = our result pointer, r1 = target sp, r2 = data,
         * lr = our return address */
        SAVE_FRAME
        /* sp = our saved sp (offset 0 of the frame table), r12 = our FPSCR */
        SWAP_STACKS r3, r1, .Lswitch_reload
.Lswitch_restore:
        /* sp = target's saved sp + 8, its FPSCR control bits are live */
        .cfi_remember_state
        RESTORE_FRAME
        /* r0 = target's result pointer, lr = its resume address, r3 = our
         * saved sp: its pending switch returns (our sp, data) */
        str     r3, [r0]
        str     r2, [r0, #4]
        bx      lr
.Lswitch_reload:
        .cfi_restore_state
        RELOAD_FPSCR r1
        b       .Lswitch_restore
        .cfi_endproc
        .fnend
        .size   SYM(switch), . - SYM(switch)

/* ------------------------------------------------------------------------ */
/* struct transfer greenlet_switch_ontop(void *to = r1, uintptr_t data = r2,
 *                                       fn = r3), result pointer = r0      */

        .globl  SYM(switch_ontop)
        .type   SYM(switch_ontop), %function
        .p2align 4
SYM(switch_ontop):
        .fnstart
        .cfi_startproc
        SAVE_FRAME
        SWAP_STACKS r0, r1, .Lontop_reload
.Lontop_restore:
        .cfi_remember_state
        mov     r1, r0                  /* r1 = our saved sp (from) */
        RESTORE_FRAME
        /* as at a function entry, with lr = the target's resume address:
         * tail-call fn(result = the target's result pointer r0, from = r1,
         * data = r2); what fn stores there is what the target's pending
         * switch returns (or, for a new context, what its entry receives). */
        bx      r3
.Lontop_reload:
        .cfi_restore_state
        RELOAD_FPSCR r1
        b       .Lontop_restore
        .cfi_endproc
        .fnend
        .size   SYM(switch_ontop), . - SYM(switch_ontop)

/* ------------------------------------------------------------------------ */
/* void *greenlet_stack_init(void *top = r0, entry = r1)                    */

        .globl  SYM(stack_init)
        .type   SYM(stack_init), %function
        .p2align 4
SYM(stack_init):
        .fnstart
        .cfi_startproc
        bic     r0, r0, #15
        sub     r12, r0, #128           /* the new context's saved sp */
        mov     r2, #0
        mov     r3, #0
        strd    r2, r3, [r0, #-8]       /* padding */
        strd    r2, r3, [r0, #-16]      /* the transfer slot */
        sub     r0, r0, #16
        strd    r2, r3, [r12, #8]       /* d8 .. */
        strd    r2, r3, [r12, #16]
        strd    r2, r3, [r12, #24]
        strd    r2, r3, [r12, #32]
        strd    r2, r3, [r12, #40]
        strd    r2, r3, [r12, #48]
        strd    r2, r3, [r12, #56]
        strd    r2, r3, [r12, #64]      /* .. d15 */
        str     r0, [r12, #72]          /* result pointer = the slot */
        str     r1, [r12, #76]          /* r4 = entry */
        strd    r2, r3, [r12, #80]      /* r5, r6 */
        strd    r2, r3, [r12, #88]      /* r7, r8 */
        strd    r2, r3, [r12, #96]      /* r9, r10 */
        adr     r3, .Ltrampoline
        strd    r2, r3, [r12, #104]     /* r11 = 0, lr = .Ltrampoline */
        vmrs    r2, fpscr               /* inherited FP control state */
        mov     r3, #0
        strd    r2, r3, [r12, #0]       /* FPSCR, padding */
        mov     r0, r12
        bx      lr
        .cfi_endproc
        .fnend
        .size   SYM(stack_init), . - SYM(stack_init)

/* The first code a new context runs, entered by the `bx lr` of a switch (or
 * the return of switch_ontop's fn), never called: sp = top-16 (16-aligned)
 * and points at the transfer slot, r4 = entry.  The CFI marks the return
 * address undefined and the EHABI entry is .cantunwind, so unwinders and
 * debuggers stop here: this is the outermost frame of the context.  The
 * leading nop keeps "return address - 1" inside this function for
 * unwinders that look up the caller's pc that way. */
        .type   SYM(trampoline_fde), %function
        .p2align 4
SYM(trampoline_fde):
        .fnstart
        .cantunwind
        .cfi_startproc
        .cfi_undefined lr
        nop
.Ltrampoline:
        ldm     sp, {r0, r1}            /* entry(from, data) */
        blx     r4
        udf     #0                      /* entry returned: forbidden */
        .cfi_endproc
        .fnend
        .size   SYM(trampoline_fde), . - SYM(trampoline_fde)

/* ------------------------------------------------------------------------ */
/* uintptr_t greenlet_valgrind_request(uintptr_t default_value = r0,
 *                                     const uintptr_t args[6] = r1)
 *
 * A Valgrind client request, as in the reference port: args[0] is the
 * request code, args[1..5] its arguments; under Valgrind the request's
 * result comes back, natively `default_value`.  valgrind.h (3.19,
 * "arm-linux", ARM state) documents the sequence for this CPU: r3 = the
 * default, r4 = the argument block, the preamble of four rotates of r12
 * by 3, 13, 29 and 19 bits (64 in all: r12 ends unchanged), then
 * `orr r10, r10, r10`; the result is in r3.  r4 is callee-saved (AAPCS
 * 5.1.1), so it is saved around the request; r10 is not changed. */

        .globl  SYM(valgrind_request)
        .type   SYM(valgrind_request), %function
        .p2align 4
SYM(valgrind_request):
        .fnstart
        .cfi_startproc
        push    {r4, lr}
        .save   {r4, lr}
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r4, 0
        .cfi_rel_offset lr, 4
        mov     r3, r0
        mov     r4, r1
        mov     r12, r12, ror #3
        mov     r12, r12, ror #13
        mov     r12, r12, ror #29
        mov     r12, r12, ror #19
        orr     r10, r10, r10
        mov     r0, r3
        pop     {r4, pc}
        .cfi_endproc
        .fnend
        .size   SYM(valgrind_request), . - SYM(valgrind_request)

        .section .rodata
        .p2align 2
        .globl  SYM(frame_bytes)
        .type   SYM(frame_bytes), %object
SYM(frame_bytes):
        .long   112
        .size   SYM(frame_bytes), 4
        .globl  SYM(init_bytes)
        .type   SYM(init_bytes), %object
SYM(init_bytes):
        .long   128
        .size   SYM(init_bytes), 4

#else /* GREENLET_HARNESS */

/* ---------------------------------------------------------------------------
 * Register-test harness, as in the reference port:
 *
 * struct transfer greenlet_harness_probe(void *to = r1, uintptr_t data = r2,
 *         switch_fn = r3, uint64_t seed = [sp], uint64_t *out = [sp+8]),
 *         result pointer = r0
 *
 *   The result pointer is passed on to switch_fn unchanged, so the switch
 *   writes its transfer straight into the probe's caller's result.  Slots
 *   are u64: r4-r11 zero-extended, d8-d15 whole, FPSCR with only its control
 *   bits (the status bits are not preserved by design).
 *
 * void greenlet_harness_aligned_entry(void *from = r0, uintptr_t cont = r1)
 *     tail-calls cont(from, aligned (sp % 8 == 0), sp)
 * ------------------------------------------------------------------------ */

#ifdef GREENLET_SHARED_FP_CONTROL
#define N_REGS 16
#else
#define N_REGS 17
#endif

/* reg = 0x01010101 * k ^ seed word, with r12 = 0x01010101 */
.macro SENTINEL reg, k, seedw
        mov     lr, #\k
        mul     \reg, r12, lr
        eor     \reg, \reg, \seedw
.endm

/* Store r4-r11, d8-d15 and the FPSCR control bits at \base[0..N_REGS] (u64
 * slots).  Clobbers r0-r3. */
.macro DUMP base
        mov     r0, #0
        str     r4, [\base, #0]
        str     r0, [\base, #4]
        str     r5, [\base, #8]
        str     r0, [\base, #12]
        str     r6, [\base, #16]
        str     r0, [\base, #20]
        str     r7, [\base, #24]
        str     r0, [\base, #28]
        str     r8, [\base, #32]
        str     r0, [\base, #36]
        str     r9, [\base, #40]
        str     r0, [\base, #44]
        str     r10, [\base, #48]
        str     r0, [\base, #52]
        str     r11, [\base, #56]
        str     r0, [\base, #60]
        add     r1, \base, #64
        vstmia  r1, {d8-d15}
#ifndef GREENLET_SHARED_FP_CONTROL
        vmrs    r2, fpscr
        bic     r2, r2, #FPSCR_STATUS_HI
        bic     r2, r2, #FPSCR_STATUS_LO
        str     r2, [\base, #128]
        str     r0, [\base, #132]
#endif
.endm

        .globl  greenlet_harness_probe
        .type   greenlet_harness_probe, %function
        .p2align 4
greenlet_harness_probe:
        .fnstart
        .cfi_startproc
        push    {r4-r11, lr}
        .save   {r4-r11, lr}
        .cfi_adjust_cfa_offset 36
        .cfi_rel_offset r4, 0
        .cfi_rel_offset r5, 4
        .cfi_rel_offset r6, 8
        .cfi_rel_offset r7, 12
        .cfi_rel_offset r8, 16
        .cfi_rel_offset r9, 20
        .cfi_rel_offset r10, 24
        .cfi_rel_offset r11, 28
        .cfi_rel_offset lr, 32
        vpush   {d8-d15}
        .vsave  {d8-d15}
        .cfi_adjust_cfa_offset 64
        .cfi_rel_offset d8, 0
        .cfi_rel_offset d9, 8
        .cfi_rel_offset d10, 16
        .cfi_rel_offset d11, 24
        .cfi_rel_offset d12, 32
        .cfi_rel_offset d13, 40
        .cfi_rel_offset d14, 48
        .cfi_rel_offset d15, 56
        sub     sp, sp, #20
        .pad    #20
        .cfi_adjust_cfa_offset 20
        /* sp is 8-aligned: [sp] r0 (result), [sp+4] r1 (to), [sp+8] r2
         * (data), [sp+12] r3 (switch_fn), [sp+16] the caller's FPSCR;
         * incoming: [sp+120] seed low word, [sp+124] seed high word,
         * [sp+128] out */
        vmrs    r12, fpscr
        stm     sp, {r0-r3, r12}
        ldr     r0, [sp, #120]
        ldr     r1, [sp, #124]
        /* sentinels: a distinct pattern per register, xor the seed */
        movw    r12, #0x0101
        movt    r12, #0x0101
        eor     r2, r0, r1              /* both seed words, for 32-bit regs */
        SENTINEL r4, 0x11, r2
        SENTINEL r5, 0x12, r2
        SENTINEL r6, 0x13, r2
        SENTINEL r7, 0x14, r2
        SENTINEL r8, 0x15, r2
        SENTINEL r9, 0x16, r2
        SENTINEL r10, 0x17, r2
        SENTINEL r11, 0x18, r2
        /* d8-d15: low word ^ seed low, high word ^ seed high */
        SENTINEL r2, 0x21, r0
        SENTINEL r3, 0x21, r1
        vmov    d8, r2, r3
        SENTINEL r2, 0x22, r0
        SENTINEL r3, 0x22, r1
        vmov    d9, r2, r3
        SENTINEL r2, 0x23, r0
        SENTINEL r3, 0x23, r1
        vmov    d10, r2, r3
        SENTINEL r2, 0x24, r0
        SENTINEL r3, 0x24, r1
        vmov    d11, r2, r3
        SENTINEL r2, 0x25, r0
        SENTINEL r3, 0x25, r1
        vmov    d12, r2, r3
        SENTINEL r2, 0x26, r0
        SENTINEL r3, 0x26, r1
        vmov    d13, r2, r3
        SENTINEL r2, 0x27, r0
        SENTINEL r3, 0x27, r1
        vmov    d14, r2, r3
        SENTINEL r2, 0x28, r0
        SENTINEL r3, 0x28, r1
        vmov    d15, r2, r3
#ifndef GREENLET_SHARED_FP_CONTROL
        /* FPSCR: RMode (bits 22-23) = seed & 3, FZ (bit 24) = seed & 4;
         * exceptions stay untrapped, everything else 0 */
        and     r2, r0, #7
        lsl     r2, r2, #22
        vmsr    fpscr, r2
#endif
        ldr     r12, [sp, #128]
        DUMP    r12
        /* switch away with the arguments we came with */
        ldm     sp, {r0-r3}
        blx     r3
        /* back: the transfer is already in our caller's result; record */
        ldr     r12, [sp, #128]
        add     r12, r12, #(N_REGS * 8)
        DUMP    r12
        ldr     r12, [sp, #16]
        vmsr    fpscr, r12
        ldr     r0, [sp]                /* return the result pointer, as gcc does */
        add     sp, sp, #20
        .cfi_adjust_cfa_offset -20
        vpop    {d8-d15}
        .cfi_adjust_cfa_offset -64
        pop     {r4-r11, lr}
        .cfi_adjust_cfa_offset -36
        bx      lr
        .cfi_endproc
        .fnend
        .size   greenlet_harness_probe, . - greenlet_harness_probe

        .globl  greenlet_harness_aligned_entry
        .type   greenlet_harness_aligned_entry, %function
        .p2align 4
greenlet_harness_aligned_entry:
        .fnstart
        .cfi_startproc
        /* r0 = from, r1 = cont */
        mov     r12, r1
        mov     r2, sp
        tst     r2, #7
        moveq   r1, #1
        movne   r1, #0
        bx      r12
        .cfi_endproc
        .fnend
        .size   greenlet_harness_aligned_entry, . - greenlet_harness_aligned_entry

        .section .rodata
        .p2align 2
        .globl  greenlet_harness_count
greenlet_harness_count:
        .long   N_REGS
        .globl  greenlet_harness_names
greenlet_harness_names:
#ifdef GREENLET_SHARED_FP_CONTROL
        .asciz  "r4 r5 r6 r7 r8 r9 r10 r11 d8 d9 d10 d11 d12 d13 d14 d15"
#else
        .asciz  "r4 r5 r6 r7 r8 r9 r10 r11 d8 d9 d10 d11 d12 d13 d14 d15 fpscr"
#endif

#endif /* GREENLET_HARNESS */

        .section .note.GNU-stack, "", %progbits
