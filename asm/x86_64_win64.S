/*
 * x86_64, Microsoft x64 calling convention (Windows, PE/COFF, GNU as in
 * COFF mode as mingw-w64's x86_64-w64-mingw32-gcc runs it): the context
 * switch of `greenlet`.
 *
 * Same symbols, C signatures and structure as the reference port,
 * asm/x86_64_sysv.S (read its header first).  What differs here, with the
 * rule and its source:
 *
 *   [CC]  Microsoft, "x64 calling convention"
 *         https://learn.microsoft.com/cpp/build/x64-calling-convention
 *   [SW]  Microsoft, "x64 software conventions" (register usage, MxCsr,
 *         FpCsr) https://learn.microsoft.com/cpp/build/x64-software-conventions
 *   [SU]  Microsoft, "x64 stack usage"
 *         https://learn.microsoft.com/cpp/build/stack-usage
 *   [EH]  Microsoft, "x64 exception handling" (unwind data)
 *         https://learn.microsoft.com/cpp/build/exception-handling-x64
 *   [TIB] the NT_TIB structure (mingw-w64's winnt.h: ExceptionList +0x00,
 *         StackBase +0x08, StackLimit +0x10 with 8-byte pointers) and, for
 *         the TEB field beyond it, Wikipedia's "Win32 Thread Information
 *         Block" (DeallocationStack at gs:0x1478 on 64-bit Windows; Wine's
 *         TEB has it at the same offset)
 *
 * - Arguments: the first four integer arguments in rcx, rdx, r8, r9 [CC],
 *   not rdi, rsi, ...
 * - Callee-saved ("nonvolatile"): rbx, rbp, rdi, rsi, rsp, r12-r15 and
 *   xmm6-xmm15, all 128 bits of each [SW, "Register usage"].  rdi and rsi
 *   are callee-saved here, unlike SysV; ten xmm registers are too.
 * - MXCSR bits 6-15 are nonvolatile, bits 0-5 (status) volatile [SW,
 *   "MxCsr"]; the x87 control word is nonvolatile [SW, "FpCsr"].  Same
 *   policy as the reference port: each context owns both, stored on every
 *   switch, reloaded only when they differ.
 * - Return values: a struct that is not 1, 2, 4 or 8 bytes long is returned
 *   through a pointer the caller passes as a hidden first argument (rcx),
 *   the real arguments move one register right, and the callee returns
 *   that pointer in rax [CC, "Return values"].  `struct transfer` is 16
 *   bytes, so (checked against rustc's output for x86_64-pc-windows-gnu and
 *   the `extern "C"` declarations of src/raw.rs):
 *       switch(ret = rcx, to = rdx, data = r8)
 *       switch_ontop(ret = rcx, to = rdx, data = r8, fn = r9)
 *       fn(ret = rcx, from = rdx, data = r8), returning ret in rax
 *   The result pointer belongs to the suspended caller, so it is part of
 *   the switch frame; whoever resumes a context writes the transfer through
 *   that context's pointer (the i386 / armv7 / s390x ports do the same).
 * - The caller of any function reserves 32 bytes of "home" (shadow) space
 *   just above the return address, which the callee owns [SU, "Stack
 *   allocation"; CC].  The trampoline reserves it before calling the
 *   entry; switch_ontop's fn gets the target's (a suspended context got one
 *   from whoever called its switch, a new one from the initial frame).
 * - Alignment: rsp is 16-aligned at a call, so rsp + 8 is a multiple of
 *   16 at a function's first instruction [SU, CC "Alignment"].  No red
 *   zone: nothing may be kept below rsp [SU].
 * - The Thread Information Block [TIB], reached through gs, describes the
 *   running stack: StackBase (gs:0x08), StackLimit (gs:0x10) and
 *   DeallocationStack (gs:0x1478).  Windows reads them: MSVC's __chkstk
 *   compares the new stack pointer with StackLimit and touches every page
 *   from there down to it (as SDL's reimplementation of it,
 *   src/stdlib/SDL_mslibc_x64.masm, shows), the kernel grows a thread's
 *   stack through guard pages within those bounds, and the exception
 *   dispatcher and RtlUnwindEx check that frames lie within [StackLimit,
 *   StackBase] (Wine's do: without this switch, a panic caught inside a
 *   context kills the process under Wine).  They travel with each
 *   context: the switch pushes the current ones with the registers and
 *   pops the target's.  ExceptionList (gs:0x00) is unused by x64 Windows
 *   (unwinding is table-based [EH]) but used by Wine (a fact noted in
 *   corosensei's src/arch/x86_64_windows.rs); it travels too, and a new
 *   context starts with the end-of-chain value, all ones.
 *   Not saved: FiberData (gs:0x20; the Windows fiber API keeps its own
 *   state, and mixing it with greenlets is not supported), and
 *   GuaranteedStackBytes (gs:0x1748, SetThreadStackGuarantee's per-thread
 *   setting: it stays the thread's).
 *
 * Symbols (C view; compare the reference port):
 *
 *   void *greenlet_stack_init(void *top = rcx, void (*entry)(void *, uintptr_t) = rdx);
 *   void *greenlet_stack_init_bounded(void *top = rcx, entry = rdx, void *bottom = r8);
 *   struct transfer greenlet_switch(void *to, uintptr_t data);
 *   struct transfer greenlet_switch_ontop(void *to, uintptr_t data, fn);
 *   const uintptr_t greenlet_frame_bytes, greenlet_init_bytes;
 *   uintptr_t greenlet_valgrind_request(uintptr_t default_value, const uintptr_t args[6]);
 *
 *   greenlet_stack_init_bounded is this port's addition (only this port
 *   defines it; raw::stack_init_bounded calls it on Windows): a new context
 *   needs the low end of its stack for StackLimit and DeallocationStack,
 *   and stack_init knows only `top`.
 *
 * The TIB decision for a new context:
 *   StackBase = top (aligned down), ExceptionList = all ones, and
 *   StackLimit = DeallocationStack = `bottom` for stack_init_bounded, or 0
 *   for plain stack_init.  0 is the conservative value: no check can
 *   reject a frame for lying below the limit (Wine's dispatcher and
 *   RtlUnwindEx accept every frame between 0 and top, and MSVC's __chkstk
 *   finds nothing to probe), while a limit that is too high would make
 *   them reject the context's own frames.  What 0 gives up is precision:
 *   a real overflow of such a stack is not recognised as one by those
 *   checks (it still faults on whatever lies below).  raw::StackRegion
 *   knows its bottom and always passes it.  Either way the memory must
 *   already be committed and writable (raw::stack_init's contract), so
 *   nothing relies on guard-page growth.
 *
 * ---------------------------------------------------------------------------
 * The switch frame.  The saved stack pointer is 16-byte aligned and points
 * at offset 0 (so movaps can be used for the xmm slots).
 *
 *   offset  contents             why it is saved
 *   ------  -------------------  ----------------------------------------------
 *     +0    xmm6   (16 bytes)    nonvolatile [SW]
 *    +16    xmm7 ... +144 xmm15  nonvolatile [SW]
 *   +160    MXCSR (4 bytes)      bits 6-15 nonvolatile [SW, MxCsr]
 *   +164    x87 control word     nonvolatile [SW, FpCsr]
 *   +166    (10 bytes, unused)   keeps the frame a multiple of 16
 *   +176    r15                  nonvolatile
 *   +184    r14                  nonvolatile
 *   +192    r13                  nonvolatile
 *   +200    r12                  nonvolatile
 *   +208    rsi                  nonvolatile (volatile in SysV)
 *   +216    rdi                  nonvolatile (volatile in SysV)
 *   +224    rbx                  nonvolatile
 *   +232    rbp                  nonvolatile (frame pointer)
 *   +240    result pointer       the caller's hidden transfer pointer (rcx)
 *   +248    TIB ExceptionList    gs:0x00 (for Wine, see above)
 *   +256    TIB DeallocationStack gs:0x1478
 *   +264    TIB StackLimit       gs:0x10
 *   +272    TIB StackBase        gs:0x08
 *   +280    return address       pushed by the `call` into the switch
 *   +288    (the suspended caller's 32-byte home space, then its frame)
 *
 *   Not saved, deliberately:
 *     rax rcx rdx r8-r11           volatile [SW]: the C signature clobbers them
 *     xmm0-xmm5, ymm/zmm upper     volatile [SW]; the upper halves of
 *       halves of every register   ymm6-ymm15 are volatile too
 *     x87 st0-st7, MXCSR status,   volatile [SW, CC]
 *     x87 status word
 *     rflags DF                    clear at every call and return [SW]
 *
 * The initial frame built by greenlet_stack_init (T = top aligned down to
 * 16, R = T - 64 = the trampoline's stack pointer):
 *
 *   T-8     0                 "return address" of the trampoline: ends
 *                             stack walks (see Unwind info below)
 *   T-16    0                 padding
 *   T-24    data  \           the transfer the first switch writes
 *   T-32    from  /           (the saved result pointer points at T-32)
 *   T-64 .. T-40  0           home space of whatever the trampoline runs:
 *                             switch_ontop's fn, then the entry
 *   R-8     .Ltrampoline      return address of the first switch
 *   R-16    StackBase = T     \
 *   R-24    StackLimit         | TIB values, see above
 *   R-32    DeallocationStack  |
 *   R-40    ExceptionList = -1/
 *   R-48    T-32              result pointer
 *   R-56    0                 rbp: a null frame pointer
 *   R-64    entry             rbx
 *   R-72 .. R-112  0          rdi rsi r12 r13 r14 r15
 *   R-128 .. R-120 0          FP control slot (filled below) and padding
 *   R-288   sp: xmm6..xmm15 = 0, MXCSR and x87 CW of the caller of stack_init
 *
 *   so the returned sp is T-352 (16-aligned).  The first switch "returns"
 *   into .Ltrampoline with rsp = R (16-aligned) and rax = T-32, where it
 *   wrote (from, data); the trampoline calls entry(from, data) with rsp = R
 *   at the call, so the entry sees rsp + 8 a multiple of 16 and its 32
 *   bytes of home space at R.
 *
 * Unwind info [EH]: every function that changes rsp has a .pdata/.xdata
 * entry (.seh_proc ... .seh_endproc); the leaves (stack_init,
 * valgrind_request) need none.  The switch's prologue is described exactly
 * (pushes, the allocation, the ten xmm saves), so a debugger or a stack walk
 * that stops inside the switch after its prologue finds the caller; after
 * the stack swap the same description fits the target's frame (both
 * frames have one layout), so it finds the target's caller.  During the
 * restoring pops it is not exact: the Windows unwinder only recognises
 * epilogues of the plain `add rsp; pop reg; ret` shape, and a walk that
 * stops on one of those instructions may report a wrong caller.  No
 * exception is ever raised inside the switch, so that affects debuggers
 * only.  The trampoline declares a 56-byte frame whose return address is
 * the 0 at T-8: a walk out of a context's entry (a backtrace, a panic's
 * search phase that found no handler) ends there instead of running into
 * whatever lies above the stack.  A Rust panic must not unwind across a
 * switch (raw.rs's contract); nothing here makes that work.
 *
 * Hardening: Windows has no indirect-branch landing pads (CET there means
 * shadow stacks only, which cannot follow a stack switch: binaries built
 * with /CETCOMPAT are not supported), so there is no endbr64.  Nor a
 * .note.GNU-stack (ELF only).
 *
 * Build knobs: GREENLET_PREFIX, GREENLET_MUTANT (1: forget r15, 2: never
 * reload the FP control state), GREENLET_HARNESS and
 * GREENLET_SHARED_FP_CONTROL, exactly as in the reference port.
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

        .intel_syntax noprefix
        .text

/* A COFF function symbol (storage class 2 = external, 3 = static; type
 * 0x20 = function), so that linkers and debuggers see a function. */
.macro FUNCTION name, class
        .def    \name
        .scl    \class
        .type   32
        .endef
.endm

/* Push the eight nonvolatile general registers, describing each push for
 * the unwinder. */
.macro PUSH_NONVOLATILE
        .irp    reg, rbp, rbx, rdi, rsi, r12, r13, r14, r15
        push    \reg
        .seh_pushreg \reg
        .endr
.endm

/* Pop what PUSH_NONVOLATILE pushed.  (GREENLET_MUTANT 1, the broken
 * switch of the register test, forgets r15.) */
.macro POP_NONVOLATILE
#if GREENLET_MUTANT == 1
        lea     rsp, [rsp + 8]          /* mutant: r15 keeps the sender's value */
#else
        pop     r15
#endif
        .irp    reg, r14, r13, r12, rsi, rdi, rbx, rbp
        pop     \reg
        .endr
.endm

/* Store xmm6-xmm15 at [rsp + at], 16-aligned, describing each store for
 * the unwinder. */
.macro SAVE_XMM at
        .irp    n, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
        movaps  [rsp + \at + (\n - 6) * 16], xmm\n
        .seh_savexmm xmm\n, \at + (\n - 6) * 16
        .endr
.endm

/* Load xmm6-xmm15 from [rsp + at]. */
.macro LOAD_XMM at
        .irp    n, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
        movaps  xmm\n, [rsp + \at + (\n - 6) * 16]
        .endr
.endm

#ifndef GREENLET_HARNESS

/* Offsets of the switch frame (see the table above). */
#define F_FPCTL   160
#define F_R15     176
#define F_RESULT  240
#define F_RET     280
#define FRAME     288   /* greenlet_frame_bytes */
#define INIT      352   /* greenlet_init_bytes */

/* Save the running context: on exit rsp is its 16-aligned saved stack
 * pointer.  rcx (the caller's result pointer) is stored; rdx, r8, r9 are
 * left alone.  The .seh_* lines describe each step for the unwinder. */
.macro SAVE_FRAME
        push    qword ptr gs:[0x08]     /* StackBase */
        .seh_stackalloc 8
        push    qword ptr gs:[0x10]     /* StackLimit */
        .seh_stackalloc 8
        push    qword ptr gs:[0x1478]   /* DeallocationStack */
        .seh_stackalloc 8
        push    qword ptr gs:[0x00]     /* ExceptionList */
        .seh_stackalloc 8
        push    rcx                     /* result pointer */
        .seh_stackalloc 8
        PUSH_NONVOLATILE
        sub     rsp, F_R15
        .seh_stackalloc F_R15
        SAVE_XMM 0
        .seh_endprologue
#ifndef GREENLET_SHARED_FP_CONTROL
        stmxcsr [rsp + F_FPCTL]
        fnstcw  [rsp + F_FPCTL + 4]
#endif
.endm

/* rax = saved sp of the running context; switch to rdx (the target) and
 * load its xmm registers; branch to reload_label when its FP control state
 * differs from ours.  Uses r10, r11. */
.macro SWAP_STACKS reload_label
        mov     rax, rsp
        mov     rsp, rdx
        LOAD_XMM 0
#if GREENLET_MUTANT != 2 && !defined(GREENLET_SHARED_FP_CONTROL)
        mov     r10d, [rax + F_FPCTL]
        xor     r10d, [rsp + F_FPCTL]
        movzx   r11d, word ptr [rax + F_FPCTL + 4]
        xor     r11w, [rsp + F_FPCTL + 4]
        and     r10d, 0xffc0
        or      r10d, r11d
        jnz     \reload_label
#endif
.endm

/* Pop the target's frame up to its result pointer, which ends in \res;
 * restore its TIB values.  On exit rsp points at its return address. */
.macro RESTORE_FRAME res
        add     rsp, F_R15
        POP_NONVOLATILE
        pop     \res
        pop     qword ptr gs:[0x00]
        pop     qword ptr gs:[0x1478]
        pop     qword ptr gs:[0x10]
        pop     qword ptr gs:[0x08]
.endm

/* ------------------------------------------------------------------------ */
/* struct transfer greenlet_switch(ret = rcx, void *to = rdx,
 *                                 uintptr_t data = r8)                     */

        .globl  SYM(switch)
        FUNCTION SYM(switch), 2
        .p2align 4
SYM(switch):
        .seh_proc SYM(switch)
        /* rcx = our result pointer, rdx = target sp, r8 = data */
        SAVE_FRAME
        /* rsp = our saved sp (offset 0 of the frame table) */
        SWAP_STACKS .Lswitch_reload
.Lswitch_restore:
        /* rsp = target's saved sp, its xmm and FP control state are live */
        RESTORE_FRAME r9
        /* rsp -> target's return address; r9 = its result pointer,
         * rax = our saved sp: hand it the transfer (rax, r8) */
        mov     [r9], rax
        mov     [r9 + 8], r8
        mov     rax, r9
        pop     rcx
        jmp     rcx
.Lswitch_reload:
        /* the target's FP control state differs from ours: load it */
        ldmxcsr [rsp + F_FPCTL]
        fldcw   [rsp + F_FPCTL + 4]
        jmp     .Lswitch_restore
        .seh_endproc

/* ------------------------------------------------------------------------ */
/* struct transfer greenlet_switch_ontop(ret = rcx, void *to = rdx,
 *                                       uintptr_t data = r8, fn = r9)     */

        .globl  SYM(switch_ontop)
        FUNCTION SYM(switch_ontop), 2
        .p2align 4
SYM(switch_ontop):
        .seh_proc SYM(switch_ontop)
        SAVE_FRAME
        SWAP_STACKS .Lontop_reload
.Lontop_restore:
        RESTORE_FRAME rcx
        /* rsp -> target's return address with its home space above, as at
         * a function's entry: tail-call fn(ret = the target's result
         * pointer (rcx), from = our saved sp, data = r8).  fn writes the
         * transfer there and returns the pointer in rax, which is what the
         * target's pending switch returns. */
        mov     rdx, rax
        jmp     r9
.Lontop_reload:
        ldmxcsr [rsp + F_FPCTL]
        fldcw   [rsp + F_FPCTL + 4]
        jmp     .Lontop_restore
        .seh_endproc

/* ------------------------------------------------------------------------ */
/* void *greenlet_stack_init(void *top = rcx, entry = rdx)
 * void *greenlet_stack_init_bounded(void *top = rcx, entry = rdx,
 *                                   void *bottom = r8)
 * Leaf functions: no unwind info needed [EH]. */

        .globl  SYM(stack_init)
        FUNCTION SYM(stack_init), 2
        .p2align 4
SYM(stack_init):
        xor     r8d, r8d                /* unknown bottom: limit 0 */
        /* falls through */
        .globl  SYM(stack_init_bounded)
        FUNCTION SYM(stack_init_bounded), 2
SYM(stack_init_bounded):
        and     rcx, -16                /* rcx = T */
        lea     rax, [rcx - INIT]       /* rax = the new saved sp */
        xor     r9d, r9d
        /* above R: home space, the transfer slot, padding, the null
         * return address that ends stack walks */
        .irp    n, 1, 2, 3, 4, 5, 6, 7, 8
        mov     [rcx - \n * 8], r9
        .endr
        /* the switch frame */
        lea     r10, [rip + .Ltrampoline]
        mov     [rax + F_RET], r10      /* return address */
        mov     [rax + F_RET - 8], rcx  /* StackBase = T */
        mov     [rax + F_RET - 16], r8  /* StackLimit */
        mov     [rax + F_RET - 24], r8  /* DeallocationStack */
        mov     qword ptr [rax + F_RET - 32], -1  /* ExceptionList: end */
        lea     r10, [rcx - 32]
        mov     [rax + F_RESULT], r10   /* result pointer -> T-32 */
        mov     [rax + F_RESULT - 8], r9   /* rbp = 0 */
        mov     [rax + F_RESULT - 16], rdx /* rbx = entry */
        mov     [rax + F_RESULT - 24], r9  /* rdi */
        mov     [rax + F_RESULT - 32], r9  /* rsi */
        mov     [rax + F_RESULT - 40], r9  /* r12 */
        mov     [rax + F_RESULT - 48], r9  /* r13 */
        mov     [rax + F_RESULT - 56], r9  /* r14 */
        mov     [rax + F_RESULT - 64], r9  /* r15 */
        mov     [rax + F_FPCTL], r9     /* FP control slot and padding */
        mov     [rax + F_FPCTL + 8], r9
        stmxcsr [rax + F_FPCTL]         /* inherited FP control state */
        fnstcw  [rax + F_FPCTL + 4]
        xorps   xmm0, xmm0              /* xmm6-xmm15 start as zero */
        .irp    n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9
        movaps  [rax + \n * 16], xmm0
        .endr
        ret

/* The first code a new context runs.  It is entered by the jump at the end
 * of a switch (or by the return of switch_ontop's fn), never called:
 * rsp = R = T-64 (16-aligned), rbx = entry, rax = the result pointer T-32,
 * holding (from, data).  Its unwind info declares a 56-byte frame, so a
 * walk out of the entry reads the 0 at T-8 as this frame's return address
 * and stops: this is the outermost frame of the context.  The leading nop
 * is the "instruction" that frame is allocated by, and keeps "return
 * address - 1" inside this function for walkers that look up the caller's
 * pc that way. */
        FUNCTION SYM(trampoline), 3
        .p2align 4
SYM(trampoline):
        .seh_proc SYM(trampoline)
        nop
        .seh_stackalloc 56
        .seh_endprologue
.Ltrampoline:
        mov     rcx, [rax]
        mov     rdx, [rax + 8]
        call    rbx
        ud2                             /* entry returned: forbidden */
        .seh_endproc

/* ------------------------------------------------------------------------ */
/* uintptr_t greenlet_valgrind_request(uintptr_t default_value = rcx,
 *                                     const uintptr_t args[6] = rdx)
 *
 * Valgrind has no Windows port, so no client request can be answered:
 * return the default. */

        .globl  SYM(valgrind_request)
        FUNCTION SYM(valgrind_request), 2
        .p2align 4
SYM(valgrind_request):
        mov     rax, rcx
        ret

        .section .rdata, "dr"
        .p2align 3
        .globl  SYM(frame_bytes)
SYM(frame_bytes):
        .quad   FRAME
        .globl  SYM(init_bytes)
SYM(init_bytes):
        .quad   INIT

#else /* GREENLET_HARNESS */

/* ---------------------------------------------------------------------------
 * Register-test harness (linked only into tests; symbols greenlet_harness_*).
 *
 * struct transfer greenlet_harness_probe(ret = rcx, void *to = rdx,
 *         uintptr_t data = r8, switch_fn = r9, uint64_t seed = [rsp+40],
 *         uint64_t *out = [rsp+48])
 *
 *   As in the reference port: loads a sentinel derived from `seed` into
 *   every nonvolatile register (rbx rbp rdi rsi r12-r15, all 128 bits of
 *   xmm6-xmm15) and the FP control state, records them in out[0..N], calls
 *   switch_fn(ret, to, data) (passing its own result pointer on), records
 *   the registers again in out[N..2N], restores the caller's, and returns
 *   what switch_fn returned.  Each xmm register takes two slots, its low
 *   and high 64 bits.
 *
 * void greenlet_harness_aligned_entry(void *from = rcx, uintptr_t cont = rdx)
 *
 *   An entry function: tail-calls cont(from, aligned (0/1), rsp at entry),
 *   where aligned says whether rsp + 8 was a multiple of 16.
 * ------------------------------------------------------------------------ */

#ifdef GREENLET_SHARED_FP_CONTROL
#define N_REGS 28
#else
#define N_REGS 30
#endif

/* The probe's frame, above the 32-byte home space of its calls:
 *   [rsp+32]  caller's MXCSR / x87 CW     [rsp+40]  out
 *   [rsp+48]  switch_fn                   [rsp+56]  scratch (16 bytes)
 *   [rsp+80]  xmm6..xmm15 of the caller (160 bytes), 8 bytes padding
 *   then the eight pushed registers, the return address, the home space,
 *   seed at +40 and out at +48 above the return address. */
#define P_FP      32
#define P_OUT     40
#define P_FN      48
#define P_TMP     56
#define P_XMM     80
#define P_ALLOC   248
#define P_ARGS    (P_ALLOC + 64 + 8)

/* Load xmm\n with the sentinel pattern ^ seed (low half) and its
 * complement (high half), through the scratch slot; seed in r10. */
.macro XMM_SENTINEL n, pattern
        movabs  rax, \pattern
        xor     rax, r10
        mov     [rsp + P_TMP], rax
        not     rax
        mov     [rsp + P_TMP + 8], rax
        movdqu  xmm\n, [rsp + P_TMP]
.endm

        .globl  greenlet_harness_probe
        FUNCTION greenlet_harness_probe, 2
        .p2align 4
greenlet_harness_probe:
        .seh_proc greenlet_harness_probe
        PUSH_NONVOLATILE
        sub     rsp, P_ALLOC
        .seh_stackalloc P_ALLOC
        SAVE_XMM P_XMM
        .seh_endprologue
        /* rsp is 16-aligned here: 8 (return address) + 64 + 248 = 320,
         * and rsp + 8 was a multiple of 16 at entry */
        stmxcsr [rsp + P_FP]
        fnstcw  [rsp + P_FP + 4]
        mov     r10, [rsp + P_ARGS + 32]        /* seed */
        mov     r11, [rsp + P_ARGS + 40]        /* out */
        mov     [rsp + P_OUT], r11
        mov     [rsp + P_FN], r9
        /* general sentinels: a distinct pattern per register, xor the seed */
        movabs  rbx, 0x1111111111111111
        xor     rbx, r10
        movabs  rbp, 0x2222222222222222
        xor     rbp, r10
        movabs  rdi, 0x7777777777777777
        xor     rdi, r10
        movabs  rsi, 0x8888888888888888
        xor     rsi, r10
        movabs  r12, 0x3333333333333333
        xor     r12, r10
        movabs  r13, 0x4444444444444444
        xor     r13, r10
        movabs  r14, 0x5555555555555555
        xor     r14, r10
        movabs  r15, 0x6666666666666666
        xor     r15, r10
        XMM_SENTINEL 6, 0x0606060606060606
        XMM_SENTINEL 7, 0x0707070707070707
        XMM_SENTINEL 8, 0x0808080808080808
        XMM_SENTINEL 9, 0x0909090909090909
        XMM_SENTINEL 10, 0x0a0a0a0a0a0a0a0a
        XMM_SENTINEL 11, 0x0b0b0b0b0b0b0b0b
        XMM_SENTINEL 12, 0x0c0c0c0c0c0c0c0c
        XMM_SENTINEL 13, 0x0d0d0d0d0d0d0d0d
        XMM_SENTINEL 14, 0x0e0e0e0e0e0e0e0e
        XMM_SENTINEL 15, 0x0f0f0f0f0f0f0f0f
#ifndef GREENLET_SHARED_FP_CONTROL
        /* FP control sentinels, as in the reference port: rounding mode
         * (seed & 3) in MXCSR bits 13-14 and x87 CW bits 10-11, every
         * exception masked; with seed & 4 also MXCSR flush-to-zero and x87
         * single precision */
        mov     eax, r10d
        and     eax, 3
        shl     eax, 13
        or      eax, 0x1f80
        test    r10d, 4
        jz      1f
        or      eax, 0x8000
1:      mov     [rsp + P_TMP], eax
        ldmxcsr [rsp + P_TMP]
        mov     eax, r10d
        and     eax, 3
        shl     eax, 10
        or      eax, 0x037f
        test    r10d, 4
        jz      2f
        and     eax, 0xfcff
2:      mov     [rsp + P_TMP], ax
        fldcw   [rsp + P_TMP]
#endif
        /* record what we loaded (rcx, rdx, r8 are still the arguments) */
        mov     rax, r11
        call    .Lharness_dump
        /* switch away: switch_fn(ret = rcx, to = rdx, data = r8) */
        call    [rsp + P_FN]
        /* back: record what we got, keep the result pointer in r9 */
        mov     r9, rax
        mov     rax, [rsp + P_OUT]
        add     rax, N_REGS * 8
        call    .Lharness_dump
        mov     rax, r9
        ldmxcsr [rsp + P_FP]
        fldcw   [rsp + P_FP + 4]
        LOAD_XMM P_XMM
        add     rsp, P_ALLOC
        POP_NONVOLATILE
        ret
        .seh_endproc

/* Store rbx rbp rdi rsi r12-r15, xmm6-xmm15 (low, high), the MXCSR control
 * bits and the x87 CW at rax[0..N].  A leaf: clobbers nothing but memory. */
.Lharness_dump:
        mov     [rax], rbx
        mov     [rax + 8], rbp
        mov     [rax + 16], rdi
        mov     [rax + 24], rsi
        mov     [rax + 32], r12
        mov     [rax + 40], r13
        mov     [rax + 48], r14
        mov     [rax + 56], r15
        .irp    n, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
        movdqu  [rax + 64 + (\n - 6) * 16], xmm\n
        .endr
#ifndef GREENLET_SHARED_FP_CONTROL
        mov     qword ptr [rax + 224], 0
        stmxcsr [rax + 224]
        and     dword ptr [rax + 224], 0xffc0
        mov     qword ptr [rax + 232], 0
        fnstcw  [rax + 232]
#endif
        ret

        .globl  greenlet_harness_aligned_entry
        FUNCTION greenlet_harness_aligned_entry, 2
        .p2align 4
greenlet_harness_aligned_entry:
        /* rcx = from, rdx = cont; a leaf that tail-calls cont(from,
         * aligned, rsp) on the same stack, home space included */
        mov     r9, rdx
        lea     rax, [rsp + 8]
        xor     edx, edx
        test    al, 15
        sete    dl
        mov     r8, rsp
        jmp     r9

        .section .rdata, "dr"
        .p2align 3
        .globl  greenlet_harness_count
greenlet_harness_count:
        .quad   N_REGS
        .globl  greenlet_harness_names
greenlet_harness_names:
        .ascii  "rbx rbp rdi rsi r12 r13 r14 r15 "
        .ascii  "xmm6.lo xmm6.hi xmm7.lo xmm7.hi xmm8.lo xmm8.hi "
        .ascii  "xmm9.lo xmm9.hi xmm10.lo xmm10.hi xmm11.lo xmm11.hi "
        .ascii  "xmm12.lo xmm12.hi xmm13.lo xmm13.hi xmm14.lo xmm14.hi "
#ifdef GREENLET_SHARED_FP_CONTROL
        .asciz  "xmm15.lo xmm15.hi"
#else
        .asciz  "xmm15.lo xmm15.hi mxcsr x87cw"
#endif

#endif /* GREENLET_HARNESS */
