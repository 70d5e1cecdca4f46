/*
 * powerpc64le, 64-bit ELF V2 ABI (OpenPOWER): the context switch of `greenlet`.
 *
 * Same symbols, signatures and structure as the reference port,
 * asm/x86_64_sysv.S (read its header first).  In short:
 *
 *   struct transfer { void *sp; uintptr_t data; };        returned in r3:r4
 *   void *greenlet_stack_init(void *top, void (*entry)(void *from, uintptr_t data));
 *   struct transfer greenlet_switch(void *to, uintptr_t data);
 *   struct transfer greenlet_switch_ontop(void *to, uintptr_t data,
 *                   struct transfer (*fn)(void *from, uintptr_t data));
 *   const uintptr_t greenlet_frame_bytes, greenlet_init_bytes;
 *   uintptr_t greenlet_valgrind_request(uintptr_t default_value,
 *                                       const uintptr_t args[6]);
 *
 * (`transfer` is returned in r3:r4: checked with powerpc64le-linux-gnu-gcc
 * -O2 -S on `struct transfer f(void *, uintptr_t)`, which returns with
 * `addi 4,4,1; blr`.)
 *
 * Register names are written %rN / %fN / %vN / %vsN: GNU as for ppc only
 * accepts bare names with -mregnames, which build.rs does not pass.
 *
 * ---------------------------------------------------------------------------
 * The switch frame.  ELFv2 2.2.3.1 ("Stack Frame Pointer"): "The stack
 * pointer always points to the lowest allocated valid stack frame.  It must
 * maintain quadword alignment", and every frame starts with the back chain
 * (0), the CR save word (8), the LR save doubleword (16) and the TOC save
 * doubleword (24).  The switch is an ordinary function: it stores LR and CR
 * in its CALLER's frame header (at FRAME+16 / FRAME+8) and allocates FRAME
 * bytes with stdu; the saved stack pointer is its own r1 (offset 0 below).
 * Quotes are from ELFv2 2.2.1 "Register Roles" tables.
 *
 *   offset  contents       why it is saved
 *   ------  -------------  -------------------------------------------------
 *     +0    back chain     -> the suspended caller's r1 (ABI frame header)
 *     +8    (3 dwords)     CR save / LR save / TOC save words of this frame's
 *                          own header: unused (the switch calls nobody)
 *    +32    FP control     FPSCR image with VSCR[NJ] folded into bit 8,
 *                          see the FP control policy below
 *    +40    r2             "r2 Nonvolatile ... TOC pointer": nonvolatile for
 *                          local callers; each context gets back its own
 *    +48    r14 ... r31    "r14 - r31 Nonvolatile  Local variables"
 *   +192    f14 ... f31    "f14 - f31 Nonvolatile"
 *   +336    v20 ... v31    "v20 - v31 Nonvolatile" (quadword-aligned)
 *   +528    (the suspended caller's frame; FRAME = 528)
 *   +536    CR (word)      "CR2 - CR4 Nonvolatile": the CR save word of the
 *                          caller's frame; fields 2-4 are restored (mtcrf 0x38)
 *   +544    LR             the resume address, in the LR save doubleword of
 *                          the caller's frame ("LR Volatile", but it is where
 *                          the suspended switch returns)
 *
 *   Not saved, deliberately:
 *     r0, r3-r12         volatile ("Parameter and return values", "Optional
 *                        use in function linkage"): clobbered by the call
 *     r13                "Reserved  Thread pointer": per thread, never touched
 *     f0-f13, v0-v19,    volatile; "the right half of VSX registers,
 *     vs0-vs31 low half  corresponding to the classic floating-point
 *                        registers ..., is volatile"
 *     CR0-1, CR5-7, XER, volatile
 *     CTR
 *     FPSCR status bits, sticky flags / results, not limited-access
 *     VSCR[SAT]
 *     FPSCR[DRN]         limited-access too, but it only steers decimal FP,
 *                        which this ABI implements in software by default;
 *                        left out of the policy (one mask, one mtfsf)
 *     VRSAVE, TAR, DSCR  reserved for the system / per thread
 *
 *   FP control policy: ELFv2 2.2.1.2 "Limited-Access Bits" makes FPSCR
 *   [VE] [OE] [UE] [ZE] [XE] [RN] and VSCR [NJ] "limited-access": "a caller
 *   can expect that these bits have been preserved across a function call".
 *   greenlet gives every context its own copy of the whole control byte of
 *   FPSCR (bits 56-63 in ISA numbering: VE OE UE ZE XE NI RN; NI, the
 *   non-IEEE mode, is control too) and of VSCR[NJ] (the vector non-Java /
 *   flush-to-zero mode, the Altivec twin of NI).  The switch always reads
 *   both (mffs, mfvscr) and stores the FPSCR image with NJ copied into bit 8
 *   (FPSCR[VXCVI], a status bit nobody reads back) at +32; it compares bits
 *   0-8 with the resumed context's word and reloads only when they differ
 *   (mtfsf 0x03 rewrites exactly FPSCR fields 6-7, i.e. the control byte and
 *   no status bit; mtvscr rewrites NJ and keeps the current SAT).  A new
 *   context starts with the state current when greenlet_stack_init ran.
 *
 * The initial frame built by greenlet_stack_init (T = top aligned down to 16):
 *
 *   T-32 .. T     the trampoline's frame header (32 bytes, the ELFv2 minimum
 *                 frame, so that entry finds a valid caller frame):
 *     T-32        back chain = 0     ends back-chain walks
 *     T-24        CR word = 0        (cr2-cr4 of the first switch)
 *     T-16        LR = .Ltrampoline  "return address" of the first switch
 *     T-8         TOC save = 0
 *   T-560 .. T-32 the switch frame above: back chain = T-32, FP control
 *                 inherited, r2 = the TOC of stack_init's module,
 *                 r14 = entry, everything else 0
 *
 *   so the returned sp is T-560 and the first switch "returns" into
 *   .Ltrampoline with r1 = T-32 (16-aligned, back chain 0, LR save area at
 *   16(r1) for entry's prologue), r14 = entry and r3:r4 the transfer.  The
 *   trampoline calls entry(r3, r4) the ELFv2 way for a pointer: r12 = CTR =
 *   entry, bctrl, so entry's global entry point computes its own r2 from r12.
 *   entry needs no parameter save area (two prototyped word arguments).
 *
 * Entry points and TOC: switch, switch_ontop and the harness never use the
 * TOC: they have a single entry point (no .localentry, st_other 0).  r2 is
 * preserved per context: it is saved in the frame and restored from the
 * resumed context's frame, so a caller that made a local call (no TOC restore after `bl`)
 * gets its own module's r2 back even if the other context came from
 * another module.  stack_init needs the TOC (to address .Ltrampoline), so it
 * has a global entry point computing r2 from r12 and a `.localentry`.
 * switch_ontop calls fn like a function pointer (r12 = CTR = fn, bctrl,
 * TOC saved at 24(r1) of a 32-byte frame and reloaded), on top of the
 * target's stack, then returns to the target's resume address with fn's
 * r3:r4; the target sees fn's transfer as its switch's result.
 *
 * Hardening: Power has no landing-pad instructions or return-address
 * signing in the Linux ELFv2 user ABI and no GNU property note is defined
 * for it; only .note.GNU-stack is emitted.
 *
 * Build knobs: as in the reference port (GREENLET_PREFIX, GREENLET_MUTANT
 * 1 = forget to restore r31, 2 = never reload FPSCR/VSCR, GREENLET_HARNESS,
 * GREENLET_SHARED_FP_CONTROL = leave FPSCR and VSCR alone: one per thread).
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

/* DWARF register numbers (ELFv2 "DWARF Register Mapping"). */
#define DW_LR   65
#define DW_CR2  70
#define DW_CR3  71
#define DW_CR4  72

        .abiversion 2
        .machine power8
        .text

#ifndef GREENLET_HARNESS

/* The frame table above, as constants. */
#define FRAME   528             /* bytes allocated by the switch's stdu */
#define O_FPC   32              /* FP control word */
#define O_TOC   40              /* r2 */
#define O_GPR   48              /* r14 at O_GPR, r31 at O_GPR + 136 */
#define O_FPR   192             /* f14 .. f31 */
#define O_VR    336             /* v20 .. v31, 16 bytes each */
#define CALLER  32              /* minimal frame under the initial frame */

/* Save the running context: on exit r1 is its saved sp and r9 holds its FP
 * control word (bits 0-7 FPSCR control, bit 8 VSCR[NJ]).  Clobbers r0, r9,
 * r10, r11, r12, f0, v0. */
.macro SAVE_FRAME
        mflr    %r0
        mfcr    %r12
        std     %r0, 16(%r1)
        stw     %r12, 8(%r1)
        .cfi_offset DW_LR, 16
        .cfi_offset DW_CR2, 8
        .cfi_offset DW_CR3, 8
        .cfi_offset DW_CR4, 8
        stdu    %r1, -FRAME(%r1)
        .cfi_def_cfa_offset FRAME
        std     %r2, O_TOC(%r1)
        .irp n, 14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        std     %r\n, O_GPR + 8 * (\n - 14)(%r1)
        .cfi_offset %r\n, O_GPR + 8 * (\n - 14) - FRAME
        .endr
        .irp n, 14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        stfd    %f\n, O_FPR + 8 * (\n - 14)(%r1)
        .cfi_offset %f\n, O_FPR + 8 * (\n - 14) - FRAME
        .endr
        .irp n, 20,22,24,26,28,30
        li      %r11, O_VR + 16 * (\n - 20)
        li      %r12, O_VR + 16 * (\n - 19)
        stvx    %v\n, %r1, %r11
        stvx    \n + 1, %r1, %r12
        .cfi_offset %v\n, O_VR + 16 * (\n - 20) - FRAME
        .cfi_offset 77 + \n + 1, O_VR + 16 * (\n - 19) - FRAME
        .endr
#ifndef GREENLET_SHARED_FP_CONTROL
        mffs    %f0
        mfvscr  %v0
        mfvsrd  %r9, %vs0                /* r9 = FPSCR */
        vspltw  %v0, %v0, 3             /* VSCR is word 3 (BE numbering) */
        mfvsrwz %r10, %vs32             /* r10 = VSCR */
        rlwimi  %r9, %r10, 24, 23, 23   /* bit 8 := VSCR[NJ] (bit 16) */
        std     %r9, O_FPC(%r1)
#endif
.endm

/* r6 = our saved sp; switch to r3 and compare the FP control words.  Both
 * frames have the same layout, so the CFI stays valid across the change of
 * r1: it now describes the resumed context's caller. */
.macro SWAP_STACKS reload_label
        mr      %r6, %r1
        mr      %r1, %r3
#if GREENLET_MUTANT != 2 && !defined(GREENLET_SHARED_FP_CONTROL)
        ld      %r10, O_FPC(%r1)
        xor     %r10, %r10, %r9
        andi.   %r10, %r10, 0x1ff
        bne-    \reload_label
#endif
.endm

/* The slow path: the resumed context's FP control word (at O_FPC(r1))
 * differs from ours.  Clobbers r9, r10, f0, v0. */
.macro RELOAD_FP_CONTROL
        lfd     %f0, O_FPC(%r1)
        ld      %r9, O_FPC(%r1)
        mtfsf   0x03, %f0               /* FPSCR fields 6-7: the control byte */
        mfvscr  %v0
        vspltw  %v0, %v0, 3
        mfvsrwz %r10, %vs32             /* current VSCR (keeps SAT) */
        rlwimi  %r10, %r9, 8, 15, 15    /* NJ (bit 16) := bit 8 */
        mtvsrwz %vs32, %r10
        vspltw  %v0, %v0, 1
        mtvscr  %v0
.endm

/* Pop the resumed context's frame; on exit LR is its resume address and r1
 * its caller's sp.  Clobbers r0, r11, r12. */
.macro RESTORE_FRAME
        .irp n, 20,22,24,26,28,30
        li      %r11, O_VR + 16 * (\n - 20)
        li      %r12, O_VR + 16 * (\n - 19)
        lvx     %v\n, %r1, %r11
        lvx     \n + 1, %r1, %r12
        .endr
        .irp n, 14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        lfd     %f\n, O_FPR + 8 * (\n - 14)(%r1)
        .endr
        .irp n, 14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30
        ld      %r\n, O_GPR + 8 * (\n - 14)(%r1)
        .endr
#if GREENLET_MUTANT != 1
        ld      %r31, O_GPR + 8 * 17(%r1)
#endif                                  /* mutant: r31 keeps the sender's value */
        ld      %r2, O_TOC(%r1)
        ld      %r0, FRAME + 16(%r1)
        lwz     %r12, FRAME + 8(%r1)
        addi    %r1, %r1, FRAME
        .cfi_def_cfa_offset 0
        mtlr    %r0
        mtcrf   0x38, %r12              /* cr2, cr3, cr4 */
        .cfi_restore DW_LR
        .cfi_restore DW_CR2
        .cfi_restore DW_CR3
        .cfi_restore DW_CR4
        .irp n, 14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        .cfi_restore %r\n
        .cfi_restore %f\n
        .endr
        .irp n, 20,21,22,23,24,25,26,27,28,29,30,31
        .cfi_restore %v\n
        .endr
.endm

/* ------------------------------------------------------------------------ */
/* struct transfer greenlet_switch(void *to = r3, uintptr_t data = r4)      */

        .globl  SYM(switch)
        .type   SYM(switch), @function
        .p2align 4
SYM(switch):
        .cfi_startproc
        /* r3 = target sp, r4 = data, LR = our return address */
        SAVE_FRAME
        /* r1 = our saved sp, r9 = our FP control word */
        SWAP_STACKS .Lswitch_reload
.Lswitch_restore:
        /* r1 = target's saved sp, its FP control state is live */
        .cfi_remember_state
        RESTORE_FRAME
        /* LR = target's resume address; return (our sp, data) */
        mr      %r3, %r6
        blr
.Lswitch_reload:
        .cfi_restore_state
        RELOAD_FP_CONTROL
        b       .Lswitch_restore
        .cfi_endproc
        .size   SYM(switch), . - SYM(switch)

/* ------------------------------------------------------------------------ */
/* struct transfer greenlet_switch_ontop(void *to = r3, uintptr_t data = r4,
 *                                       fn = r5)                          */

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
        /* As at the target's resume point, with LR = its resume address
         * (also still in the LR save doubleword at 16(r1)) and r2 = its TOC:
         * call fn(from = r6, data = r4) through a pointer, in a minimal
         * frame, and return fn's r3:r4 to the target. */
        stdu    %r1, -32(%r1)
        .cfi_def_cfa_offset 32
        .cfi_offset DW_LR, 16
        std     %r2, 24(%r1)
        mr      %r3, %r6
        mr      %r12, %r5
        mtctr   %r12
        bctrl
        ld      %r2, 24(%r1)
        ld      %r0, 48(%r1)
        addi    %r1, %r1, 32
        .cfi_def_cfa_offset 0
        mtlr    %r0
        .cfi_restore DW_LR
        blr
.Lontop_reload:
        .cfi_restore_state
        RELOAD_FP_CONTROL
        b       .Lontop_restore
        .cfi_endproc
        .size   SYM(switch_ontop), . - SYM(switch_ontop)

/* ------------------------------------------------------------------------ */
/* void *greenlet_stack_init(void *top = r3, entry = r4)                    */

        .globl  SYM(stack_init)
        .type   SYM(stack_init), @function
        .p2align 4
SYM(stack_init):
        .cfi_startproc
0:      addis   %r2, %r12, .TOC. - 0b@ha      /* global entry: r2 from r12 */
        addi    %r2, %r2, .TOC. - 0b@l
        .localentry SYM(stack_init), . - SYM(stack_init)
        clrrdi  %r3, %r3, 4                     /* T */
        addi    %r5, %r3, -CALLER               /* trampoline frame */
        addi    %r6, %r5, -FRAME                /* switch frame */
        li      %r0, 0
        addis   %r7, %r2, .Ltrampoline@toc@ha
        addi    %r7, %r7, .Ltrampoline@toc@l
        std     %r0, 0(%r5)                     /* back chain: end */
        std     %r0, 8(%r5)                     /* CR word (+ pad) */
        std     %r7, 16(%r5)                    /* LR = .Ltrampoline */
        std     %r0, 24(%r5)                    /* TOC save */
        std     %r5, 0(%r6)                     /* back chain */
        /* zero +8 .. +FRAME-8 of the switch frame, then fill in */
        li      %r8, (FRAME - 8) / 8
        mtctr   %r8
        mr      %r9, %r6
1:      stdu    %r0, 8(%r9)
        bdnz    1b
        std     %r2, O_TOC(%r6)                 /* r2 = this module's TOC */
        std     %r4, O_GPR(%r6)                 /* r14 = entry */
        mffs    %f0                             /* inherited FP control */
        mfvscr  %v0
        mfvsrd  %r9, %vs0
        vspltw  %v0, %v0, 3
        mfvsrwz %r10, %vs32
        rlwimi  %r9, %r10, 24, 23, 23
        std     %r9, O_FPC(%r6)
        mr      %r3, %r6
        blr
        .cfi_endproc
        .size   SYM(stack_init), . - SYM(stack_init)

/* The first code a new context runs, entered by the `blr` of a switch:
 * r1 = T-32 (16-aligned, back chain 0), r14 = entry, r2 = the TOC,
 * r3:r4 = the transfer (from, data).  The CFI marks the return address
 * undefined: unwinders stop here.  The leading nop keeps "return address
 * - 1" inside this FDE. */
        .type   SYM(trampoline_fde), @function
        .p2align 4
SYM(trampoline_fde):
        .cfi_startproc
        .cfi_undefined DW_LR
        nop
.Ltrampoline:
        mr      %r12, %r14                      /* global entry needs r12 */
        mtctr   %r12
        bctrl
        trap                                    /* entry returned: forbidden */
        .cfi_endproc
        .size   SYM(trampoline_fde), . - SYM(trampoline_fde)

/* ------------------------------------------------------------------------ */
/* uintptr_t greenlet_valgrind_request(uintptr_t default_value = r3,
 *                                     const uintptr_t args[6] = r4)
 *
 * A Valgrind client request, as in the reference port: args[0] is the
 * request code, args[1..5] its arguments; under Valgrind the request's
 * result comes back, natively `default_value`.  valgrind.h (3.19,
 * "ppc64le-linux") documents the sequence for this CPU: r3 = the
 * default, r4 = the argument block (where the ELFv2 ABI already put
 * them), the preamble of four rotates of r0 by 3, 13, 61 and 51 bits
 * (128 in all: r0 ends unchanged), then `or 1, 1, 1`; the result is in
 * r3.  No TOC use: a single entry point, like switch. */

        .globl  SYM(valgrind_request)
        .type   SYM(valgrind_request), @function
        .p2align 4
SYM(valgrind_request):
        .cfi_startproc
        rotldi  %r0, %r0, 3
        rotldi  %r0, %r0, 13
        rotldi  %r0, %r0, 61
        rotldi  %r0, %r0, 51
        or      %r1, %r1, %r1
        blr
        .cfi_endproc
        .size   SYM(valgrind_request), . - SYM(valgrind_request)

        .section .rodata
        .p2align 3
        .globl  SYM(frame_bytes)
        .type   SYM(frame_bytes), @object
SYM(frame_bytes):
        .quad   FRAME
        .size   SYM(frame_bytes), 8
        .globl  SYM(init_bytes)
        .type   SYM(init_bytes), @object
SYM(init_bytes):
        .quad   FRAME + CALLER
        .size   SYM(init_bytes), 8

#else /* GREENLET_HARNESS */

/* ---------------------------------------------------------------------------
 * Register-test harness, as in the reference port:
 *
 * struct transfer greenlet_harness_probe(void *to = r3, uintptr_t data = r4,
 *         switch_fn = r5, uint64_t seed = r6, uint64_t *out = r7)
 * void greenlet_harness_aligned_entry(void *from = r3, uintptr_t cont = r4)
 *     tail-calls cont(from, aligned (r1 % 16 == 0), r1)
 *
 * Slots: r2, r14-r31, cr (fields 2-4, mask 0x00fff000), f14-f31, v20-v31
 * (two slots each: doubleword 0 and 1), then FPSCR (control byte) and VSCR
 * (NJ) unless GREENLET_SHARED_FP_CONTROL.  r2 gets a sentinel too: nothing
 * between loading it and the switch, or between the switch and restoring
 * it, uses the TOC.
 * ------------------------------------------------------------------------ */

#ifdef GREENLET_SHARED_FP_CONTROL
#define N_REGS 62
#else
#define N_REGS 64
#endif

#define PFRAME  560
#define P_OUT   32
#define P_FN    40
#define P_FPSCR 48
#define P_TOC   56
#define P_VSCR  64              /* 16 bytes */
#define P_GPR   80              /* r14 .. r31 */
#define P_FPR   224             /* f14 .. f31 */
#define P_VR    368             /* v20 .. v31 */

/* dump slot offsets (bytes) */
#define D_R2    0
#define D_GPR   8               /* r14 .. r31 */
#define D_CR    152
#define D_FPR   160             /* f14 .. f31 */
#define D_VR    304             /* v20 .. v31, 16 bytes each */
#define D_FPSCR 496
#define D_VSCR  504

/* reg = 0x0101010101010101 * k ^ seed, with r9 = 0x0101010101010101 */
.macro SENTINEL reg, k
        li      %r10, \k
        mulld   \reg, %r9, %r10
        xor     \reg, \reg, %r6
.endm

        .globl  greenlet_harness_probe
        .type   greenlet_harness_probe, @function
        .p2align 4
greenlet_harness_probe:
        .cfi_startproc
        mflr    %r0
        mfcr    %r12
        std     %r0, 16(%r1)
        stw     %r12, 8(%r1)
        .cfi_offset DW_LR, 16
        .cfi_offset DW_CR2, 8
        .cfi_offset DW_CR3, 8
        .cfi_offset DW_CR4, 8
        stdu    %r1, -PFRAME(%r1)
        .cfi_def_cfa_offset PFRAME
        std     %r2, P_TOC(%r1)
        std     %r2, 24(%r1)
        .irp n, 14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        std     %r\n, P_GPR + 8 * (\n - 14)(%r1)
        .cfi_offset %r\n, P_GPR + 8 * (\n - 14) - PFRAME
        stfd    %f\n, P_FPR + 8 * (\n - 14)(%r1)
        .cfi_offset %f\n, P_FPR + 8 * (\n - 14) - PFRAME
        .endr
        .irp n, 20,21,22,23,24,25,26,27,28,29,30,31
        li      %r11, P_VR + 16 * (\n - 20)
        stvx    %v\n, %r1, %r11
        .cfi_offset %v\n, P_VR + 16 * (\n - 20) - PFRAME
        .endr
        mffs    %f0
        stfd    %f0, P_FPSCR(%r1)
        mfvscr  %v0
        li      %r11, P_VSCR
        stvx    %v0, %r1, %r11
        std     %r7, P_OUT(%r1)
        std     %r5, P_FN(%r1)
        /* sentinels */
        lis     %r9, 0x0101
        ori     %r9, %r9, 0x0101
        rldimi  %r9, %r9, 32, 0
        SENTINEL %r2, 0x10
        .irp n, 14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        SENTINEL %r\n, \n + 0x11 - 14
        .endr
        .irp n, 14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        SENTINEL %r8, \n + 0x31 - 14
        mtvsrd  %vs\n, %r8
        .endr
        .irp n, 20,21,22,23,24,25,26,27,28,29,30,31
        SENTINEL %r8, 2 * \n + 0x51 - 40
        SENTINEL %r11, 2 * \n + 0x52 - 40
        mtvsrd  32 + \n, %r8
        mtvsrd  %vs1, %r11
        xxpermdi 32 + \n, 32 + \n, %vs1, 0
        .endr
        /* cr2-cr4 = 0xabc ^ (seed & 0xfff) */
        xori    %r8, %r6, 0xabc
        rldic   %r8, %r8, 12, 40                /* bits 12-23 */
        mtcrf   0x38, %r8
#ifndef GREENLET_SHARED_FP_CONTROL
        /* FPSCR: RN = seed & 3, NI = seed & 4, no exception enabled;
         * VSCR: NJ = seed & 4 */
        andi.   %r8, %r6, 7
        mtvsrd  %vs0, %r8
        mtfsf   0x03, %f0
        rlwinm  %r8, %r6, 14, 15, 15
        mtvsrwz %vs32, %r8
        vspltw  %v0, %v0, 1
        mtvscr  %v0
#endif
        /* record what we loaded */
        mr      %r8, %r7
        bl      .Lharness_dump
        /* switch away: r3, r4 untouched since entry */
        ld      %r12, P_FN(%r1)
        mtctr   %r12
        bctrl
        /* back: record, keeping the transfer in r3:r4 */
        ld      %r8, P_OUT(%r1)
        addi    %r8, %r8, N_REGS * 8
        bl      .Lharness_dump
        lfd     %f0, P_FPSCR(%r1)
        mtfsf   0xff, %f0
        li      %r11, P_VSCR
        lvx     %v0, %r1, %r11
        mtvscr  %v0
        .irp n, 20,21,22,23,24,25,26,27,28,29,30,31
        li      %r11, P_VR + 16 * (\n - 20)
        lvx     %v\n, %r1, %r11
        .endr
        .irp n, 14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        ld      %r\n, P_GPR + 8 * (\n - 14)(%r1)
        lfd     %f\n, P_FPR + 8 * (\n - 14)(%r1)
        .endr
        ld      %r2, P_TOC(%r1)
        addi    %r1, %r1, PFRAME
        .cfi_def_cfa_offset 0
        ld      %r0, 16(%r1)
        lwz     %r12, 8(%r1)
        mtlr    %r0
        mtcrf   0x38, %r12
        blr
        .cfi_endproc
        .size   greenlet_harness_probe, . - greenlet_harness_probe

/* Store r2, r14-r31, cr2-4, f14-f31, v20-v31, FPSCR control byte and
 * VSCR[NJ] at r8[0..N_REGS]; clobbers r0, r10, f0, v0 only. */
        .type   .Lharness_dump, @function
.Lharness_dump:
        .cfi_startproc
        std     %r2, D_R2(%r8)
        .irp n, 14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        std     %r\n, D_GPR + 8 * (\n - 14)(%r8)
        stfd    %f\n, D_FPR + 8 * (\n - 14)(%r8)
        .endr
        mfcr    %r10
        rlwinm  %r10, %r10, 0, 8, 19    /* cr2-cr4: mask 0x00fff000 */
        std     %r10, D_CR(%r8)
        .irp n, 20,21,22,23,24,25,26,27,28,29,30,31
        li      %r10, D_VR + 16 * (\n - 20)
        stxvd2x 32 + \n, %r8, %r10
        .endr
#ifndef GREENLET_SHARED_FP_CONTROL
        mffs    %f0
        mfvsrd  %r10, %vs0
        andi.   %r10, %r10, 0xff
        std     %r10, D_FPSCR(%r8)
        mfvscr  %v0
        vspltw  %v0, %v0, 3
        mfvsrwz %r10, %vs32
        andis.  %r10, %r10, 0x0001
        std     %r10, D_VSCR(%r8)
#endif
        blr
        .cfi_endproc

        .globl  greenlet_harness_aligned_entry
        .type   greenlet_harness_aligned_entry, @function
        .p2align 4
greenlet_harness_aligned_entry:
        .cfi_startproc
        /* r3 = from, r4 = cont */
        mr      %r12, %r4
        mtctr   %r12
        clrldi  %r4, %r1, 60
        cntlzd  %r4, %r4
        srdi    %r4, %r4, 6             /* 1 iff r1 % 16 == 0 */
        mr      %r5, %r1
        bctr
        .cfi_endproc
        .size   greenlet_harness_aligned_entry, . - greenlet_harness_aligned_entry

        .section .rodata
        .p2align 3
        .globl  greenlet_harness_count
greenlet_harness_count:
        .quad   N_REGS
        .globl  greenlet_harness_names
greenlet_harness_names:
        .ascii  "r2 r14 r15 r16 r17 r18 r19 r20 r21 r22 r23 r24 r25 r26 r27 "
        .ascii  "r28 r29 r30 r31 cr "
        .ascii  "f14 f15 f16 f17 f18 f19 f20 f21 f22 f23 f24 f25 f26 f27 "
        .ascii  "f28 f29 f30 f31 "
        .ascii  "v20.0 v20.1 v21.0 v21.1 v22.0 v22.1 v23.0 v23.1 v24.0 v24.1 "
        .ascii  "v25.0 v25.1 v26.0 v26.1 v27.0 v27.1 v28.0 v28.1 v29.0 v29.1 "
#ifdef GREENLET_SHARED_FP_CONTROL
        .asciz  "v30.0 v30.1 v31.0 v31.1"
#else
        .asciz  "v30.0 v30.1 v31.0 v31.1 fpscr vscr"
#endif

#endif /* GREENLET_HARNESS */

        .section .note.GNU-stack, "", @progbits
