/*
 * s390x (z/Architecture), ELF ABI s390x Supplement: the context switch of
 * `greenlet`.  Big-endian.
 *
 * Same symbols, signatures and structure as the reference port,
 * asm/x86_64_sysv.S (read its header first).  In short:
 *
 *   struct transfer { void *sp; uintptr_t data; };
 *   void *greenlet_stack_init(void *top, void (*entry)(void *from, uintptr_t data));
 *   struct transfer greenlet_switch(void *to, uintptr_t data);
 *   struct transfer greenlet_switch_ontop(void *to, uintptr_t data,
 *                   struct transfer (*fn)(void *from, uintptr_t data));
 *   const uintptr_t greenlet_frame_bytes, greenlet_init_bytes;
 *   uintptr_t greenlet_valgrind_request(uintptr_t default_value,
 *                                       const uintptr_t args[6]);
 *
 * How `transfer` travels.  It is a 16-byte struct, and the ABI returns
 * only structs of 1, 2, 4 or 8 bytes in r2: "If the called function's
 * return value is not passed in a register, then allocate a return value
 * buffer, store its address in r2, and set gr = 3" (s390x Supplement,
 * 1.2.3 Parameter Passing, step return_parameter).  So at the machine
 * level (checked with s390x-linux-gnu-gcc -O2 -S):
 *
 *   greenlet_switch:        r2 = &result, r3 = to, r4 = data
 *   greenlet_switch_ontop:  r2 = &result, r3 = to, r4 = data, r5 = fn
 *   fn:                     r2 = &result, r3 = from, r4 = data
 *   greenlet_stack_init:    r2 = top, r3 = entry; returns sp in r2
 *   entry:                  r2 = from, r3 = data (two plain words)
 *
 * The caller does not rely on r2 after the call (gcc reloads the buffer
 * address), but the switch leaves r2 = &result anyway, for free.
 *
 * A suspended context therefore keeps its result pointer in its switch
 * frame; whoever resumes it writes (its own saved sp, data) through that
 * pointer just before returning into it.  switch_ontop instead tail-calls
 * fn with r2 = the TARGET's saved result pointer, so what fn returns lands
 * exactly where the target's pending switch expects its result.
 *
 * ---------------------------------------------------------------------------
 * The ABI facts (s390x Supplement, 1.2.1 "Registers" and 1.2.2 "The Stack
 * Frame"):
 *
 *   - "Registers r6 through r13, r15, and f8 through f15 are nonvolatile."
 *     r14 (return address) is volatile, but it is the resume point and is
 *     carried through the switch like lr on aarch64.
 *   - "The left halves of vector registers v8 through v15 are nonvolatile,
 *     since they are aliased to f8 through f15.  The right halves are
 *     volatile."  v16-v31 are volatile.
 *   - "Access registers a0 and a1 are reserved" (they hold the thread
 *     pointer): never touched here.
 *   - r15 "shall maintain an 8-byte alignment"; "Each stack frame is aligned
 *     on an 8-byte boundary."
 *   - "The first 160 bytes of a calling function's stack frame, excluding
 *     the initial doubleword, are referred to as the register save area.
 *     This area must be allocated by the caller and may be used by the
 *     called function in any way."  The customary slots: r2-r6 at 16-55,
 *     r7-r15 at 56-127, f0/f2/f4/f6 at 128-159.  The doubleword at 0 is the
 *     (optional) back chain and "is preserved across function calls".
 *   - The FPC register: the Supplement does not classify it (its register
 *     table lists it, and the text carries a "FIXME: What about the FPC?").
 *     IBM's z/OS linkage convention does: "The FPC register is non-volatile
 *     across calls with the exception of two fields: the IEEE exception
 *     flags and the DXC, which are volatile."  greenlet follows that.
 *
 * The switch frame.  The saved sp is 8-byte aligned (16-byte for a new
 * context) and points at offset 0.  The switch stores r6-r14 in their
 * customary slots of the register save area its caller provided, and
 * allocates 80 bytes below it for the rest:
 *
 *   offset  contents        why it is saved
 *   ------  --------------  -----------------------------------------------
 *     +0    f8              "f8 through f15 are nonvolatile" (1.2.1); only
 *     +8    f9              the 64-bit FPRs, the left halves of v8-v15
 *    +16    f10
 *    +24    f11
 *    +32    f12
 *    +40    f13
 *    +48    f14
 *    +56    f15
 *    +64    FPC (4 bytes)   policy, see below
 *    +68    (4 bytes, unused)
 *    +72    result pointer  r2 at the call: where the transfer goes when this
 *                           context is resumed
 *    +80    (caller's back chain slot: never written)   <- caller's sp
 *    +88    (unused)
 *    +96    (r2-r5 slots: unused)
 *   +128    r6              nonvolatile, customary slot 48 of the save area
 *   +136    r7              nonvolatile
 *   +144    r8              nonvolatile
 *   +152    r9              nonvolatile
 *   +160    r10             nonvolatile
 *   +168    r11             nonvolatile (frame pointer, if one is kept)
 *   +176    r12             nonvolatile (GOT pointer, if one is used)
 *   +184    r13             nonvolatile (literal pool pointer, if used)
 *   +192    r14             the address the suspended switch returns to
 *   +200    (r15 and f0-f6 slots: unused)
 *   +240    (the suspended caller's own frame)
 *
 *   r15 itself is not stored: it is the saved sp + 80.  The frame is 80
 *   bytes, 240 with the caller's register save area it uses
 *   (greenlet_frame_bytes).
 *
 *   Not saved, deliberately:
 *     r0-r5              volatile; r2-r5 are the arguments
 *     f0-f7, v16-v31,    volatile
 *     right halves of v8-v15
 *     a0, a1             reserved (thread pointer): never touched
 *     a2-a15, cc         volatile
 *     program mask       zero at every call and return by the ABI
 *     FPC flags and DXC  status (bytes 1 and 2 of the FPC), volatile
 *
 *   FP control policy: every context owns its FPC control fields: the IEEE
 *   exception masks (byte 0), the DFP rounding mode (bits 25-27) and the
 *   BFP rounding mode (bits 29-31).  The switch always stores the whole FPC
 *   (efpc is cheap) and reloads the target's word (lfpc) only when the
 *   control fields differ: mask 0xff0000ff.  The flag and DXC bytes ride
 *   along unused.  A new context starts with the FPC current when
 *   greenlet_stack_init ran.
 *
 *   Back chain: the switch keeps none (maintaining one is optional,
 *   1.2.2.1).  It never writes its caller's back chain slot, so a chain the
 *   caller keeps stays intact; the switch frame itself is a leaf.  The
 *   initial frame ends the chain with a null back chain for its entry.
 *
 * The initial frame built by greenlet_stack_init (T = top aligned down to
 * 16, so that the returned sp and entry's r15 are 16-aligned, more than
 * the 8 the ABI asks):
 *
 *   T-16     transfer.sp     the result buffer of the first switch into
 *   T-8      transfer.data   the context (written by that switch)
 *   T-176    0               the trampoline's frame: back chain = NULL; its
 *                            160-byte register save area is entry's
 *   T-128    r6 = entry      (slot 48 of that save area)
 *   T-120..  r7-r13 = 0
 *   T-64     r14 = .Ltrampoline  "return address" of the first switch
 *   T-184    result pointer = T-16
 *   T-192    FPC             inherited from the caller of stack_init
 *   T-256    f8-f15 = 0
 *
 *   so the returned sp is T-256 (greenlet_init_bytes = 256), and the first
 *   switch "returns" into .Ltrampoline with r15 = T-176 and the transfer
 *   at T-16.  The buffer lies above the 160-byte area handed to entry (and
 *   to fn by a switch_ontop into a new context), which that callee may use
 *   in any way.  The trampoline loads (from, data) into r2, r3 and calls
 *   entry with r15 = T-176: 16-aligned, with a register save area and a
 *   null back chain below it, as the ABI asks at any call.
 *
 * CFI: the s390x CFA is the caller's sp + 160 (the CIE starts with
 * "def_cfa r15, 160").  The switch does not store r15, so its FDE says
 * where the caller's r15 is with a val_offset rule (CFA - 160); gdb
 * otherwise assumes r15 unchanged and loses the caller (checked with
 * gdb-multiarch stepping through the switch: every instruction gives the
 * right backtrace).  Between the stack swap and the return the FDE
 * describes the resumed context's caller.  gas maps "%fN" in .cfi_*
 * directives to DWARF 16 + N, but the s390x numbering interleaves the
 * FPRs: the DW_F* numbers below are spelled out.
 *
 * Hardening: z/Architecture has no landing pads for indirect branches nor
 * return-address signing, and the s390x Supplement defines no GNU property
 * note; only .note.GNU-stack is emitted.
 *
 * Build knobs: as in the reference port (GREENLET_PREFIX, GREENLET_MUTANT
 * 1 = forget to restore r13, 2 = never reload the FPC, GREENLET_HARNESS,
 * GREENLET_SHARED_FP_CONTROL = leave the FPC alone: one per thread).
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

/* DWARF numbers of f8-f15 for the CFI.  The s390x numbering interleaves
 * them (f8 24, f10 25, f12 26, f14 27, f9 28, f11 29, f13 30, f15 31), as
 * gcc's own .cfi_offset output shows; gas maps "%fN" in .cfi_* directives
 * to 16 + N, which is wrong for f9-f14: spell the numbers out. */
#define DW_F8 24
#define DW_F9 28
#define DW_F10 25
#define DW_F11 29
#define DW_F12 26
#define DW_F13 30
#define DW_F14 27
#define DW_F15 31

        .text

#ifndef GREENLET_HARNESS

/* The FPC control fields compared before a reload: IEEE masks (byte 0),
 * DFP and BFP rounding modes (byte 3).  Bytes 1-2 (flags, DXC) are status. */
#define FPC_CONTROL_MASK 0xff0000ff

/* Own frame below the caller's register save area (see the frame table). */
#define FRAME 80
#define F_FPC 64
#define F_RESULT 72
#define F_R6 (FRAME + 48)

/* Save the running context.  On entry r2 = &result, r15 = the caller's sp.
 * On exit r15 is the saved sp and r0 (low half) holds our FPC. */
.macro SAVE_FRAME
        stmg    %r6, %r14, 48(%r15)
        .cfi_offset %r6, -112
        .cfi_offset %r7, -104
        .cfi_offset %r8, -96
        .cfi_offset %r9, -88
        .cfi_offset %r10, -80
        .cfi_offset %r11, -72
        .cfi_offset %r12, -64
        .cfi_offset %r13, -56
        .cfi_offset %r14, -48
        aghi    %r15, -FRAME
        .cfi_adjust_cfa_offset FRAME
        /* r15 is not stored: the caller's value is CFA - 160 (the s390x
         * CFA is the caller's sp + 160).  Without this rule gdb takes r15
         * as unchanged and loses the caller's frame. */
        .cfi_val_offset %r15, -160
        std     %f8, 0(%r15)
        .cfi_offset DW_F8, -240
        std     %f9, 8(%r15)
        .cfi_offset DW_F9, -232
        std     %f10, 16(%r15)
        .cfi_offset DW_F10, -224
        std     %f11, 24(%r15)
        .cfi_offset DW_F11, -216
        std     %f12, 32(%r15)
        .cfi_offset DW_F12, -208
        std     %f13, 40(%r15)
        .cfi_offset DW_F13, -200
        std     %f14, 48(%r15)
        .cfi_offset DW_F14, -192
        std     %f15, 56(%r15)
        .cfi_offset DW_F15, -184
#ifndef GREENLET_SHARED_FP_CONTROL
        efpc    %r0
        st      %r0, F_FPC(%r15)
#endif
        stg     %r2, F_RESULT(%r15)
.endm

/* r1 = our saved sp; switch to r3 and compare the FPC control fields.
 * Both frames have the same layout, so the CFI (CFA = r15 + 240) stays
 * valid across the change of r15: it now describes the target's caller. */
.macro SWAP_STACKS reload_label
        lgr     %r1, %r15
        lgr     %r15, %r3
#if GREENLET_MUTANT != 2 && !defined(GREENLET_SHARED_FP_CONTROL)
        x       %r0, F_FPC(%r15)
        nilf    %r0, FPC_CONTROL_MASK
        jne     \reload_label
#endif
.endm

/* Pop the resumed context's frame.  On exit r15 is its caller's sp, r14 its
 * resume address and r2 its result pointer. */
.macro RESTORE_FRAME
        ld      %f8, 0(%r15)
        ld      %f9, 8(%r15)
        ld      %f10, 16(%r15)
        ld      %f11, 24(%r15)
        ld      %f12, 32(%r15)
        ld      %f13, 40(%r15)
        ld      %f14, 48(%r15)
        ld      %f15, 56(%r15)
        lg      %r2, F_RESULT(%r15)
#if GREENLET_MUTANT == 1
        lmg     %r6, %r12, F_R6(%r15)   /* mutant: r13 keeps the sender's value */
        lg      %r14, F_R6 + 64(%r15)
#else
        lmg     %r6, %r14, F_R6(%r15)
#endif
        la      %r15, FRAME(%r15)
        .cfi_adjust_cfa_offset -FRAME
        .cfi_restore %r15
        .cfi_restore %r6
        .cfi_restore %r7
        .cfi_restore %r8
        .cfi_restore %r9
        .cfi_restore %r10
        .cfi_restore %r11
        .cfi_restore %r12
        .cfi_restore %r13
        .cfi_restore %r14
        .cfi_restore DW_F8
        .cfi_restore DW_F9
        .cfi_restore DW_F10
        .cfi_restore DW_F11
        .cfi_restore DW_F12
        .cfi_restore DW_F13
        .cfi_restore DW_F14
        .cfi_restore DW_F15
.endm

/* ------------------------------------------------------------------------ */
/* struct transfer greenlet_switch(void *to = r3, uintptr_t data = r4),
 * result buffer r2                                                          */

        .globl  SYM(switch)
        .type   SYM(switch), @function
        .p2align 4
SYM(switch):
        .cfi_startproc
        /* r2 = &result, r3 = target sp, r4 = data, r14 = our return address */
        SAVE_FRAME
        /* r15 = our saved sp (offset 0 of the frame table), r0 = our FPC */
        SWAP_STACKS .Lswitch_reload
.Lswitch_restore:
        /* r15 = target's saved sp, its FPC control fields are live */
        .cfi_remember_state
        RESTORE_FRAME
        /* r2 = target's result buffer: it receives (our saved sp, data) */
        stg     %r1, 0(%r2)
        stg     %r4, 8(%r2)
        br      %r14
.Lswitch_reload:
        .cfi_restore_state
        /* the target's FPC control fields differ from ours: load its FPC */
        lfpc    F_FPC(%r15)
        j       .Lswitch_restore
        .cfi_endproc
        .size   SYM(switch), . - SYM(switch)

/* ------------------------------------------------------------------------ */
/* struct transfer greenlet_switch_ontop(void *to = r3, uintptr_t data = r4,
 *                                       fn = r5), result buffer r2         */

        .globl  SYM(switch_ontop)
        .type   SYM(switch_ontop), @function
        .p2align 4
SYM(switch_ontop):
        .cfi_startproc
        SAVE_FRAME
        SWAP_STACKS .Lontop_reload
.Lontop_restore:
        .cfi_remember_state
        RESTORE_FRAME
        /* as at a function entry of the target's pending call, with
         * r14 = its resume address and r15 = its caller's sp (register save
         * area included): tail-call fn(&result = r2, from = r1, data = r4),
         * so fn's transfer lands in the target's own result buffer. */
        lgr     %r3, %r1
        br      %r5
.Lontop_reload:
        .cfi_restore_state
        lfpc    F_FPC(%r15)
        j       .Lontop_restore
        .cfi_endproc
        .size   SYM(switch_ontop), . - SYM(switch_ontop)

/* ------------------------------------------------------------------------ */
/* void *greenlet_stack_init(void *top = r2, entry = r3)                    */

        .globl  SYM(stack_init)
        .type   SYM(stack_init), @function
        .p2align 4
SYM(stack_init):
        .cfi_startproc
        nill    %r2, 0xfff0             /* T = top & -16 */
        lay     %r1, -256(%r2)          /* the new context's saved sp */
        xc      0(200, %r1), 0(%r1)     /* f8-f15, FPC, back chain, r7-r13 = 0 */
        lay     %r0, -16(%r2)
        stg     %r0, F_RESULT(%r1)      /* result buffer at T-16 */
        stg     %r3, F_R6(%r1)          /* r6 = entry */
        larl    %r0, .Ltrampoline
        stg     %r0, F_R6 + 64(%r1)     /* r14 = .Ltrampoline */
        efpc    %r0                     /* inherited FP control state */
        st      %r0, F_FPC(%r1)
        lgr     %r2, %r1
        br      %r14
        .cfi_endproc
        .size   SYM(stack_init), . - SYM(stack_init)

/* The first code a new context runs.  It is entered by the `br %r14` of a
 * switch (or returned into by fn after a switch_ontop), never called:
 * r15 = T-176 (16-aligned, null back chain), r6 = entry, the transfer
 * (from, data) at T-16 = 160(%r15).  The CFI marks the return address
 * undefined, so unwinders and debuggers stop here: this is the outermost
 * frame of the context.  The leading nop keeps "return address - 1" inside
 * this FDE for unwinders that look up the caller's pc that way. */
        .type   SYM(trampoline_fde), @function
        .p2align 4
SYM(trampoline_fde):
        .cfi_startproc
        .cfi_undefined %r14
        nopr    %r7
.Ltrampoline:
        lmg     %r2, %r3, 160(%r15)     /* entry(from, data) */
        basr    %r14, %r6
        .word   0                       /* entry returned: illegal opcode */
        .cfi_endproc
        .size   SYM(trampoline_fde), . - SYM(trampoline_fde)

/* ------------------------------------------------------------------------ */
/* uintptr_t greenlet_valgrind_request(uintptr_t default_value = r2,
 *                                     const uintptr_t args[6] = r3)
 *
 * A Valgrind client request, as in the reference port: args[0] is the
 * request code, args[1..5] its arguments; under Valgrind the request's
 * result comes back, natively `default_value`.  valgrind.h (3.19,
 * "s390x-linux") documents the sequence for this CPU: r2 = the argument
 * block, r3 = the default (the other way round from our arguments), the
 * preamble `lr 15,15; lr 1,1; lr 2,2; lr 3,3` (loads of registers into
 * themselves), then the client-request marker `lr 2,2`; the result is in
 * r3.  r0-r3 are volatile (s390x ELF ABI, "Register usage"). */

        .globl  SYM(valgrind_request)
        .type   SYM(valgrind_request), @function
        .p2align 4
SYM(valgrind_request):
        .cfi_startproc
        lgr     %r0, %r2
        lgr     %r2, %r3
        lgr     %r3, %r0
        lr      %r15, %r15
        lr      %r1, %r1
        lr      %r2, %r2
        lr      %r3, %r3
        lr      %r2, %r2
        lgr     %r2, %r3
        br      %r14
        .cfi_endproc
        .size   SYM(valgrind_request), . - SYM(valgrind_request)

        .section .rodata
        .p2align 3
        .globl  SYM(frame_bytes)
        .type   SYM(frame_bytes), @object
SYM(frame_bytes):
        .quad   240
        .size   SYM(frame_bytes), 8
        .globl  SYM(init_bytes)
        .type   SYM(init_bytes), @object
SYM(init_bytes):
        .quad   256
        .size   SYM(init_bytes), 8

#else /* GREENLET_HARNESS */

/* ---------------------------------------------------------------------------
 * Register-test harness, as in the reference port:
 *
 * struct transfer greenlet_harness_probe(void *to = r3, uintptr_t data = r4,
 *         switch_fn = r5, uint64_t seed = r6, uint64_t *out = 160(%r15)),
 *         result buffer r2
 *   (the sixth word does not fit in r2-r6: it is in the caller's parameter
 *   area, just above the register save area).  switch_fn is called with the
 *   probe's own r2, r3, r4, so the transfer goes straight to our caller.
 *
 * void greenlet_harness_aligned_entry(void *from = r2, uintptr_t cont = r3)
 *     tail-calls cont(from, aligned (r15 % 8 == 0, the ABI's rule), r15)
 * ------------------------------------------------------------------------ */

#ifdef GREENLET_SHARED_FP_CONTROL
#define N_REGS 16
#else
#define N_REGS 17
#endif

/* Probe frame: 0-159 register save area for switch_fn, then: */
#define P_F8 160
#define P_FPC 224
#define P_OUT 232
#define P_FN 240
#define P_RESULT 248
#define P_FRAME 256

/* reg = 0x0101010101010101 * k ^ seed (seed in r5) */
.macro SENTINEL reg, k
        llihf   \reg, 0x01010101 * \k
        oilf    \reg, 0x01010101 * \k
        xgr     \reg, %r5
.endm

        .globl  greenlet_harness_probe
        .type   greenlet_harness_probe, @function
        .p2align 4
greenlet_harness_probe:
        .cfi_startproc
        stmg    %r6, %r15, 48(%r15)
        .cfi_offset %r6, -112
        .cfi_offset %r7, -104
        .cfi_offset %r8, -96
        .cfi_offset %r9, -88
        .cfi_offset %r10, -80
        .cfi_offset %r11, -72
        .cfi_offset %r12, -64
        .cfi_offset %r13, -56
        .cfi_offset %r14, -48
        .cfi_offset %r15, -40
        lg      %r1, 160(%r15)          /* out */
        aghi    %r15, -P_FRAME
        .cfi_adjust_cfa_offset P_FRAME
        std     %f8, P_F8(%r15)
        .cfi_offset DW_F8, -256
        std     %f9, P_F8 + 8(%r15)
        .cfi_offset DW_F9, -248
        std     %f10, P_F8 + 16(%r15)
        .cfi_offset DW_F10, -240
        std     %f11, P_F8 + 24(%r15)
        .cfi_offset DW_F11, -232
        std     %f12, P_F8 + 32(%r15)
        .cfi_offset DW_F12, -224
        std     %f13, P_F8 + 40(%r15)
        .cfi_offset DW_F13, -216
        std     %f14, P_F8 + 48(%r15)
        .cfi_offset DW_F14, -208
        std     %f15, P_F8 + 56(%r15)
        .cfi_offset DW_F15, -200
        efpc    %r0                     /* the caller's FPC */
        st      %r0, P_FPC(%r15)
        stg     %r1, P_OUT(%r15)
        stg     %r5, P_FN(%r15)
        stg     %r2, P_RESULT(%r15)
        /* sentinels: a distinct pattern per register, xor the seed */
        lgr     %r5, %r6
        SENTINEL %r6, 0x11
        SENTINEL %r7, 0x12
        SENTINEL %r8, 0x13
        SENTINEL %r9, 0x14
        SENTINEL %r10, 0x15
        SENTINEL %r11, 0x16
        SENTINEL %r12, 0x17
        SENTINEL %r13, 0x18
        SENTINEL %r0, 0x21
        ldgr    %f8, %r0
        SENTINEL %r0, 0x22
        ldgr    %f9, %r0
        SENTINEL %r0, 0x23
        ldgr    %f10, %r0
        SENTINEL %r0, 0x24
        ldgr    %f11, %r0
        SENTINEL %r0, 0x25
        ldgr    %f12, %r0
        SENTINEL %r0, 0x26
        ldgr    %f13, %r0
        SENTINEL %r0, 0x27
        ldgr    %f14, %r0
        SENTINEL %r0, 0x28
        ldgr    %f15, %r0
#ifndef GREENLET_SHARED_FP_CONTROL
        /* FPC sentinel: BFP rounding mode (bits 30-31) = seed & 3, DFP
         * rounding mode (bits 25-27) = seed & 7; exception masks stay 0
         * (nothing unmasked), flags and DXC 0. */
        lr      %r0, %r5
        nilf    %r0, 7
        sll     %r0, 4
        lr      %r1, %r5
        nilf    %r1, 3
        or      %r0, %r1
        sfpc    %r0
#endif
        /* record what we loaded */
        lg      %r1, P_OUT(%r15)
        bras    %r14, .Lharness_dump
        /* switch away: r2, r3, r4 untouched since entry */
        lg      %r1, P_FN(%r15)
        basr    %r14, %r1
        /* back: record what we got (the transfer is already in our
         * caller's buffer) */
        lg      %r1, P_OUT(%r15)
        aghi    %r1, N_REGS * 8
        bras    %r14, .Lharness_dump
        lfpc    P_FPC(%r15)
        ld      %f8, P_F8(%r15)
        ld      %f9, P_F8 + 8(%r15)
        ld      %f10, P_F8 + 16(%r15)
        ld      %f11, P_F8 + 24(%r15)
        ld      %f12, P_F8 + 32(%r15)
        ld      %f13, P_F8 + 40(%r15)
        ld      %f14, P_F8 + 48(%r15)
        ld      %f15, P_F8 + 56(%r15)
        lg      %r2, P_RESULT(%r15)
        lmg     %r6, %r15, P_FRAME + 48(%r15)
        .cfi_def_cfa_offset 160
        .cfi_restore %r15
        .cfi_restore %r6
        .cfi_restore %r7
        .cfi_restore %r8
        .cfi_restore %r9
        .cfi_restore %r10
        .cfi_restore %r11
        .cfi_restore %r12
        .cfi_restore %r13
        .cfi_restore %r14
        .cfi_restore DW_F8
        .cfi_restore DW_F9
        .cfi_restore DW_F10
        .cfi_restore DW_F11
        .cfi_restore DW_F12
        .cfi_restore DW_F13
        .cfi_restore DW_F14
        .cfi_restore DW_F15
        br      %r14
        .cfi_endproc
        .size   greenlet_harness_probe, . - greenlet_harness_probe

/* Store r6-r13, f8-f15 and the FPC control fields (zero-extended) at
 * r1[0..17].  Called with bras %r14; clobbers r0 only. */
        .type   .Lharness_dump, @function
.Lharness_dump:
        .cfi_startproc
        stmg    %r6, %r13, 0(%r1)
        std     %f8, 64(%r1)
        std     %f9, 72(%r1)
        std     %f10, 80(%r1)
        std     %f11, 88(%r1)
        std     %f12, 96(%r1)
        std     %f13, 104(%r1)
        std     %f14, 112(%r1)
        std     %f15, 120(%r1)
#ifndef GREENLET_SHARED_FP_CONTROL
        efpc    %r0
        llgfr   %r0, %r0
        nilf    %r0, 0xff0000ff         /* control fields only */
        stg     %r0, 128(%r1)
#endif
        br      %r14
        .cfi_endproc

        .globl  greenlet_harness_aligned_entry
        .type   greenlet_harness_aligned_entry, @function
        .p2align 4
greenlet_harness_aligned_entry:
        .cfi_startproc
        /* r2 = from, r3 = cont */
        lgr     %r1, %r3
        lgr     %r4, %r15
        lghi    %r3, 1
        tmll    %r15, 7
        jz      1f
        lghi    %r3, 0
1:      br      %r1
        .cfi_endproc
        .size   greenlet_harness_aligned_entry, . - greenlet_harness_aligned_entry

        .section .rodata
        .p2align 3
        .globl  greenlet_harness_count
greenlet_harness_count:
        .quad   N_REGS
        .globl  greenlet_harness_names
greenlet_harness_names:
#ifdef GREENLET_SHARED_FP_CONTROL
        .asciz  "r6 r7 r8 r9 r10 r11 r12 r13 f8 f9 f10 f11 f12 f13 f14 f15"
#else
        .asciz  "r6 r7 r8 r9 r10 r11 r12 r13 f8 f9 f10 f11 f12 f13 f14 f15 fpc"
#endif

#endif /* GREENLET_HARNESS */

        .section .note.GNU-stack, "", @progbits
