/*
 * x86 (i386), System V psABI, Linux: the context switch of `greenlet`.
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
 * The calling convention, as i686-linux-gnu-gcc -O2 compiles
 * `struct transfer f(void *, uintptr_t)` (and as the i386 psABI, §2.2.3-4,
 * and rustc's extern "C" for i686-unknown-linux-gnu do it):
 *
 *   - every argument is on the stack: at a function's first instruction
 *     [esp] is the return address and [esp+4], [esp+8], ... the arguments;
 *   - a struct result (even 8 bytes) is returned in memory: the caller
 *     passes the address of the result as a hidden first argument at
 *     [esp+4] (the real arguments follow at [esp+8], ...), the callee
 *     stores the struct there, returns the address in eax and pops the
 *     hidden argument itself (`ret $4`); the caller pops the others;
 *   - the argument words belong to the callee, which may overwrite them.
 *
 * So a suspended switch's hidden result pointer needs no slot of its own:
 * it is the argument word just above the switch's return address, and the
 * resumer writes the transfer through it.  switch_ontop tail-calls fn with
 * that same word as fn's hidden argument, so what fn returns lands directly
 * in the target's result, and fn's `ret $4` is the target switch's return.
 *
 * ---------------------------------------------------------------------------
 * The switch frame.  The saved stack pointer is 16-byte aligned (the caller
 * called with esp 16-aligned, see below) and points at offset 0.
 *
 *   offset  contents           why it is saved (i386 psABI §2.2.1, Table
 *                              2.3 "Register Usage", and its text)
 *   ------  -----------------  ------------------------------------------------
 *     +0    MXCSR (4 bytes)    "The control bits of the MXCSR register are
 *                              callee-saved (preserved across calls), while
 *                              the status bits are caller-saved"
 *     +4    x87 control word   "the x87 control word is callee-saved"
 *     +6    (2 bytes, unused)
 *     +8    (4 bytes, unused)  keeps the frame a multiple of 16
 *    +12    edi                callee-saved
 *    +16    esi                callee-saved
 *    +20    ebx                callee-saved (also the GOT pointer at PLT
 *                              calls, which is the caller's business)
 *    +24    ebp                callee-saved (optional frame pointer)
 *    +28    return address     pushed by the `call` into the switch
 *    +32    hidden result ptr  the caller's: where the transfer goes
 *    +36    to                 } the switch's own arguments (+44: fn for
 *    +40    data               } switch_ontop)
 *
 *   Not saved, deliberately:
 *     eax ecx edx              caller-saved ("scratch"): the C signature
 *                              clobbers them
 *     xmm0-xmm7, x87 st0-st7,  caller-saved in this ABI (there is no
 *     mm0-mm7                  callee-saved FP or vector register on i386)
 *     MXCSR status bits 0-5,   caller-saved: not the switch's business
 *     x87 status word
 *     eflags (DF)              clear at every call and return by the ABI
 *     gs (TLS)                 per thread, not per context
 *
 *   FP control policy: every context owns its MXCSR control bits and x87
 *   control word, as on x86_64.  The switch always stores both (cheap) but
 *   reloads them only when the resumed context's values differ from the
 *   suspended one's (ldmxcsr/fldcw are the expensive part); the comparison
 *   loads exactly the sizes that were stored (4 and 2 bytes) so that both
 *   loads are store-forwarded.  stmxcsr/ldmxcsr need SSE: Rust's
 *   i686-unknown-linux-gnu target requires SSE2 (a pre-SSE i586 is not
 *   supported by this port).  A new context starts with the values current
 *   when greenlet_stack_init ran.
 *
 * The initial frame built by greenlet_stack_init (top aligned down to 16):
 *
 *   top-4    0                  end of the stack for frame-pointer walkers
 *   top-8    0                  padding
 *   top-12   data             } the first transfer, written by the first
 *   top-16   from             } switch through the result pointer below
 *   top-20   0                  padding
 *   top-24   0                  padding
 *   top-28   0                  padding
 *   top-32   top-16             "hidden result pointer" of the first switch
 *   top-36   .Ltrampoline       "return address" of the first switch
 *   top-40   0                  ebp: a null frame pointer ends fp chains
 *   top-44   entry              ebx: the entry function
 *   top-48   0                  esi
 *   top-52   0                  edi
 *   top-56   0                  (unused)
 *   top-64   MXCSR, x87 CW      inherited from the caller of stack_init
 *
 *   so the returned sp is top-64 (16-aligned).  The first switch writes
 *   (from, data) to top-16 and "returns" into .Ltrampoline popping the
 *   return address and the result pointer: esp = top-28.  (A switch_ontop
 *   instead tail-calls fn with top-16 as its result pointer and scribbles
 *   its own arguments over the padding at top-28 and top-24; fn's `ret $4`
 *   arrives at .Ltrampoline with the same esp.)  The trampoline adds 12,
 *   so esp = top-16 (16-aligned) holds entry's two arguments, and calls
 *   entry: at entry's first instruction esp+4 = top-16 is a multiple of 16,
 *   as the ABI requires ("the value (%esp + 4) is always a multiple of 16
 *   when control is transferred to the function entry point", §2.2.2).
 *
 * Hardening: every symbol reachable by an indirect call starts with
 * endbr32 (CET IBT); the jump to a resumed context's return address is
 * `notrack`.  CET shadow stacks are incompatible with stack switching that
 * returns across stacks and are not supported.  The GNU property note at
 * the end marks the object IBT-compatible.
 *
 * Build knobs: as in the reference port (GREENLET_PREFIX, GREENLET_MUTANT
 * 1 = forget to restore edi, 2 = never reload the FP control state,
 * GREENLET_HARNESS, GREENLET_SHARED_FP_CONTROL = leave MXCSR and the x87
 * CW alone: one per thread; the frame keeps its layout, its FP slots unused).
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

#ifndef GREENLET_HARNESS

/* Save the callee-saved registers and FP control state of the running
 * context: on exit, esp is the 16-aligned saved stack pointer. */
.macro SAVE_FRAME
        push    ebp
        .cfi_adjust_cfa_offset 4
        .cfi_rel_offset ebp, 0
        push    ebx
        .cfi_adjust_cfa_offset 4
        .cfi_rel_offset ebx, 0
        push    esi
        .cfi_adjust_cfa_offset 4
        .cfi_rel_offset esi, 0
        push    edi
        .cfi_adjust_cfa_offset 4
        .cfi_rel_offset edi, 0
        sub     esp, 12
        .cfi_adjust_cfa_offset 12
#ifndef GREENLET_SHARED_FP_CONTROL
        stmxcsr [esp]
        fnstcw  [esp + 4]
#endif
.endm

/* eax = saved sp of the running context, ecx = data; switch to `to` and
 * compare the FP control state (exact-size loads; ebx and edx are free:
 * ebx is saved and not yet restored).  Both frames have the same layout,
 * so the CFI stays valid across the change of esp: it now describes the
 * resumed context's caller. */
.macro SWAP_STACKS reload_label
        mov     eax, esp
        mov     ecx, [eax + 40]         /* data */
        mov     esp, [eax + 36]         /* to */
#if GREENLET_MUTANT != 2 && !defined(GREENLET_SHARED_FP_CONTROL)
        mov     edx, [eax]
        xor     edx, [esp]
        movzx   ebx, word ptr [eax + 4]
        xor     bx, [esp + 4]
        and     edx, 0xffc0
        or      edx, ebx
        jnz     \reload_label
#endif
.endm

/* Pop the resumed context's frame: on exit esp points at its return
 * address, and [esp+4] is its hidden result pointer. */
.macro RESTORE_FRAME
        add     esp, 12
        .cfi_adjust_cfa_offset -12
#if GREENLET_MUTANT == 1
        lea     esp, [esp + 4]          /* mutant: edi keeps the sender's value */
#else
        pop     edi
#endif
        .cfi_adjust_cfa_offset -4
        .cfi_restore edi
        pop     esi
        .cfi_adjust_cfa_offset -4
        .cfi_restore esi
        pop     ebx
        .cfi_adjust_cfa_offset -4
        .cfi_restore ebx
        pop     ebp
        .cfi_adjust_cfa_offset -4
        .cfi_restore ebp
.endm

/* ------------------------------------------------------------------------ */
/* struct transfer greenlet_switch(void *to, uintptr_t data)
 *   [esp] return address, [esp+4] result ptr, [esp+8] to, [esp+12] data  */

        .globl  SYM(switch)
        .type   SYM(switch), @function
        .p2align 4
SYM(switch):
        .cfi_startproc
        endbr32
        SAVE_FRAME
        /* esp = our saved sp (offset 0 of the frame table) */
        SWAP_STACKS .Lswitch_reload
.Lswitch_restore:
        /* esp = target's saved sp, its FP control state is live;
         * eax = our saved sp, ecx = data */
        .cfi_remember_state
        RESTORE_FRAME
        /* esp -> target's return address, [esp+4] its result pointer:
         * store the transfer there, return the pointer in eax, pop both
         * (the `ret $4` of the ABI, as pop + jmp) */
        mov     edx, [esp + 4]
        mov     [edx], eax
        mov     [edx + 4], ecx
        mov     eax, edx
        pop     ecx
        .cfi_adjust_cfa_offset -4
        .cfi_register eip, ecx
        add     esp, 4
        .cfi_adjust_cfa_offset -4
        notrack jmp ecx
.Lswitch_reload:
        .cfi_restore_state
        /* the target's FP control state differs from ours: load it */
        ldmxcsr [esp]
        fldcw   [esp + 4]
        jmp     .Lswitch_restore
        .cfi_endproc
        .size   SYM(switch), . - SYM(switch)

/* ------------------------------------------------------------------------ */
/* struct transfer greenlet_switch_ontop(void *to, uintptr_t data, fn)
 *   [esp] return address, [esp+4] result ptr, [esp+8] to, [esp+12] data,
 *   [esp+16] fn                                                            */

        .globl  SYM(switch_ontop)
        .type   SYM(switch_ontop), @function
        .p2align 4
SYM(switch_ontop):
        .cfi_startproc
        endbr32
        SAVE_FRAME
        SWAP_STACKS .Lontop_reload
.Lontop_restore:
        .cfi_remember_state
        mov     edx, [eax + 44]         /* fn, from our suspended frame */
        RESTORE_FRAME
        /* esp -> target's return address and [esp+4] its result pointer,
         * exactly as at the entry of a function returning a struct: put
         * fn's arguments (from = eax, data = ecx) in the two words above,
         * which are the target switch's own argument words (callee-owned,
         * or padding in a new context), and tail-call fn.  fn writes its
         * transfer through the target's result pointer and its `ret $4`
         * completes the target's pending switch. */
        mov     [esp + 8], eax
        mov     [esp + 12], ecx
        jmp     edx
.Lontop_reload:
        .cfi_restore_state
        ldmxcsr [esp]
        fldcw   [esp + 4]
        jmp     .Lontop_restore
        .cfi_endproc
        .size   SYM(switch_ontop), . - SYM(switch_ontop)

/* ------------------------------------------------------------------------ */
/* void *greenlet_stack_init(void *top, entry)
 *   [esp+4] top, [esp+8] entry                                             */

        .globl  SYM(stack_init)
        .type   SYM(stack_init), @function
        .p2align 4
SYM(stack_init):
        .cfi_startproc
        endbr32
        mov     edx, [esp + 4]
        and     edx, -16                /* edx = top */
        lea     eax, [edx - 64]         /* eax = the saved sp */
        /* position-independent address of the trampoline */
        call    1f
1:      .cfi_adjust_cfa_offset 4
        pop     ecx
        .cfi_adjust_cfa_offset -4
        add     ecx, offset .Ltrampoline - 1b
        mov     [eax + 28], ecx         /* return address */
        lea     ecx, [edx - 16]
        mov     [eax + 32], ecx         /* result pointer -> top-16 */
        mov     ecx, [esp + 8]
        mov     [eax + 20], ecx         /* ebx = entry */
        xor     ecx, ecx
        mov     [edx - 4], ecx          /* end marker */
        mov     [edx - 8], ecx          /* padding */
        mov     [edx - 12], ecx         /* data (until the first switch) */
        mov     [edx - 16], ecx         /* from (until the first switch) */
        mov     [edx - 20], ecx         /* padding */
        mov     [edx - 24], ecx
        mov     [edx - 28], ecx
        mov     [eax + 24], ecx         /* ebp = 0 */
        mov     [eax + 16], ecx         /* esi */
        mov     [eax + 12], ecx         /* edi */
        mov     [eax + 8], ecx          /* unused */
        mov     [eax], ecx
        mov     [eax + 4], ecx
        stmxcsr [eax]                   /* inherited FP control state */
        fnstcw  [eax + 4]
        ret
        .cfi_endproc
        .size   SYM(stack_init), . - SYM(stack_init)

/* The first code a new context runs.  It is entered by the `notrack jmp` of
 * a switch (or the `ret $4` of a switch_ontop's fn), never called:
 * esp = top-28, ebx = entry, and the transfer (from, data) at top-16.  The
 * CFI marks the return address undefined, so unwinders and debuggers stop
 * here: this is the outermost frame of the context.  The leading nop keeps
 * "return address - 1" inside this FDE. */
        .type   SYM(trampoline_fde), @function
        .p2align 4
SYM(trampoline_fde):
        .cfi_startproc
        .cfi_undefined eip
        nop
.Ltrampoline:
        add     esp, 12                 /* esp = top-16: entry(from, data) */
        call    ebx
        ud2                             /* entry returned: forbidden */
        .cfi_endproc
        .size   SYM(trampoline_fde), . - SYM(trampoline_fde)

/* ------------------------------------------------------------------------ */
/* uintptr_t greenlet_valgrind_request(uintptr_t default_value = [esp+4],
 *                                     const uintptr_t args[6] = [esp+8])
 *
 * A Valgrind client request, as in the reference port: args[0] is the
 * request code, args[1..5] its arguments; under Valgrind the request's
 * result comes back, natively `default_value`.  valgrind.h (3.19,
 * "x86-{linux,darwin,solaris}") documents the sequence for this CPU:
 * eax = the argument block, edx = the default, the preamble of four
 * rotates of edi by 3, 13, 29 and 19 bits (64 in all: edi, callee-saved,
 * ends unchanged), then `xchg ebx, ebx`; the result is in edx. */

        .globl  SYM(valgrind_request)
        .type   SYM(valgrind_request), @function
        .p2align 4
SYM(valgrind_request):
        .cfi_startproc
        endbr32
        mov     eax, [esp + 8]
        mov     edx, [esp + 4]
        rol     edi, 3
        rol     edi, 13
        rol     edi, 29
        rol     edi, 19
        xchg    ebx, ebx
        mov     eax, edx
        ret
        .cfi_endproc
        .size   SYM(valgrind_request), . - SYM(valgrind_request)

        .section .rodata
        .p2align 2
        .globl  SYM(frame_bytes)
        .type   SYM(frame_bytes), @object
SYM(frame_bytes):
        .long   32
        .size   SYM(frame_bytes), 4
        .globl  SYM(init_bytes)
        .type   SYM(init_bytes), @object
SYM(init_bytes):
        .long   64
        .size   SYM(init_bytes), 4

#else /* GREENLET_HARNESS */

/* ---------------------------------------------------------------------------
 * Register-test harness (linked only into tests; symbols greenlet_harness_*).
 *
 * struct transfer greenlet_harness_probe(void *to, uintptr_t data,
 *         switch_fn, uint64_t seed, uint64_t *out)
 *   [esp] return address, [esp+4] result ptr, [esp+8] to, [esp+12] data,
 *   [esp+16] switch_fn, [esp+20] seed (low word), [esp+24] seed (high),
 *   [esp+28] out
 *
 *   Loads a distinct sentinel derived from `seed` into every callee-saved
 *   register and into the FP control state, records them in out[0..N]
 *   (each 32-bit value zero-extended into its 64-bit slot), calls
 *   switch_fn(to, data) with our own result pointer (so its transfer is
 *   ours), records what the registers hold when it returns in out[N..2N],
 *   restores the caller's registers and FP control state, and returns.
 *
 * void greenlet_harness_aligned_entry(void *from, uintptr_t cont)
 *
 *   An entry function for greenlet_stack_init.  Reports whether esp met
 *   the ABI's alignment at entry (esp + 4 a multiple of 16) by calling
 *   cont(from, aligned (0/1), esp at entry).  Unlike the reference port it
 *   calls rather than tail-calls: cont takes three stack arguments, one
 *   more than this function received, and a tail call would have to write
 *   into its caller's frame.  cont never returns.
 * ------------------------------------------------------------------------ */

#ifdef GREENLET_SHARED_FP_CONTROL
#define N_REGS 4
#else
#define N_REGS 6
#endif

/* offsets of the probe's arguments once its frame is built (16 + 44) */
#define P_RES   64
#define P_TO    68
#define P_DATA  72
#define P_FN    76
#define P_SEEDL 80
#define P_SEEDH 84
#define P_OUT   88

        .globl  greenlet_harness_probe
        .type   greenlet_harness_probe, @function
        .p2align 4
greenlet_harness_probe:
        .cfi_startproc
        endbr32
        push    ebp
        .cfi_adjust_cfa_offset 4
        .cfi_rel_offset ebp, 0
        push    ebx
        .cfi_adjust_cfa_offset 4
        .cfi_rel_offset ebx, 0
        push    esi
        .cfi_adjust_cfa_offset 4
        .cfi_rel_offset esi, 0
        push    edi
        .cfi_adjust_cfa_offset 4
        .cfi_rel_offset edi, 0
        sub     esp, 44
        .cfi_adjust_cfa_offset 44
        /* [esp..esp+12) outgoing arguments of switch_fn, [esp+16] caller's
         * MXCSR, [esp+20] caller's x87 CW, [esp+24] scratch; esp is
         * 16-aligned here */
        stmxcsr [esp + 16]
        fnstcw  [esp + 20]
        /* sentinels: a distinct pattern per register, xor both seed words */
        mov     ecx, [esp + P_SEEDL]
        xor     ecx, [esp + P_SEEDH]
        mov     ebx, 0x11111111
        xor     ebx, ecx
        mov     ebp, 0x22222222
        xor     ebp, ecx
        mov     esi, 0x33333333
        xor     esi, ecx
        mov     edi, 0x44444444
        xor     edi, ecx
#ifndef GREENLET_SHARED_FP_CONTROL
        /* FP control sentinels from the low seed word: rounding mode
         * (seed & 3) in MXCSR bits 13-14 and in x87 CW bits 10-11, all
         * exceptions masked; with seed & 4, also MXCSR flush-to-zero
         * (bit 15) and x87 single precision (PC = 00) */
        mov     ecx, [esp + P_SEEDL]
        mov     eax, ecx
        and     eax, 3
        shl     eax, 13
        or      eax, 0x1f80
        test    ecx, 4
        jz      1f
        or      eax, 0x8000
1:      mov     [esp + 24], eax
        ldmxcsr [esp + 24]
        mov     eax, ecx
        and     eax, 3
        shl     eax, 10
        or      eax, 0x037f
        test    ecx, 4
        jz      2f
        and     eax, 0xfcff
2:      mov     [esp + 24], ax
        fldcw   [esp + 24]
#endif
        /* record what we loaded */
        mov     eax, [esp + P_OUT]
        call    .Lharness_dump
        /* switch away: switch_fn(our result pointer, to, data) */
        mov     eax, [esp + P_RES]
        mov     [esp], eax
        mov     eax, [esp + P_TO]
        mov     [esp + 4], eax
        mov     eax, [esp + P_DATA]
        mov     [esp + 8], eax
        call    [esp + P_FN]
        /* it popped the result pointer (ret $4) */
        sub     esp, 4
        /* back: record what we got */
        mov     eax, [esp + P_OUT]
        add     eax, N_REGS * 8
        call    .Lharness_dump
        ldmxcsr [esp + 16]
        fldcw   [esp + 20]
        mov     eax, [esp + P_RES]
        add     esp, 44
        .cfi_adjust_cfa_offset -44
        pop     edi
        .cfi_adjust_cfa_offset -4
        .cfi_restore edi
        pop     esi
        .cfi_adjust_cfa_offset -4
        .cfi_restore esi
        pop     ebx
        .cfi_adjust_cfa_offset -4
        .cfi_restore ebx
        pop     ebp
        .cfi_adjust_cfa_offset -4
        .cfi_restore ebp
        ret     4
        .cfi_endproc
        .size   greenlet_harness_probe, . - greenlet_harness_probe

/* Store ebx ebp esi edi, MXCSR control bits, x87 CW at eax[0..6], each
 * zero-extended to 64 bits.  Clobbers nothing but memory. */
        .type   .Lharness_dump, @function
.Lharness_dump:
        .cfi_startproc
        mov     [eax], ebx
        mov     dword ptr [eax + 4], 0
        mov     [eax + 8], ebp
        mov     dword ptr [eax + 12], 0
        mov     [eax + 16], esi
        mov     dword ptr [eax + 20], 0
        mov     [eax + 24], edi
        mov     dword ptr [eax + 28], 0
#ifndef GREENLET_SHARED_FP_CONTROL
        stmxcsr [eax + 32]
        and     dword ptr [eax + 32], 0xffc0
        mov     dword ptr [eax + 36], 0
        mov     dword ptr [eax + 40], 0
        fnstcw  [eax + 40]
        mov     dword ptr [eax + 44], 0
#endif
        ret
        .cfi_endproc

        .globl  greenlet_harness_aligned_entry
        .type   greenlet_harness_aligned_entry, @function
        .p2align 4
greenlet_harness_aligned_entry:
        .cfi_startproc
        endbr32
        /* [esp+4] = from, [esp+8] = cont */
        mov     ecx, esp                /* esp at entry */
        .cfi_def_cfa_register ecx       /* esp is realigned below */
        lea     eax, [esp + 4]
        xor     edx, edx
        test    al, 15
        sete    dl
        /* never returns: realign our own frame and call
         * cont(from, aligned, sp) with esp 16-aligned at the call */
        and     esp, -16
        sub     esp, 4
        push    ecx
        push    edx
        push    dword ptr [ecx + 4]
        mov     eax, [ecx + 8]
        notrack call eax
        ud2
        .cfi_endproc
        .size   greenlet_harness_aligned_entry, . - greenlet_harness_aligned_entry

        .section .rodata
        .p2align 2
        .globl  greenlet_harness_count
greenlet_harness_count:
        .long   N_REGS
        .globl  greenlet_harness_names
greenlet_harness_names:
#ifdef GREENLET_SHARED_FP_CONTROL
        .asciz  "ebx ebp esi edi"
#else
        .asciz  "ebx ebp esi edi mxcsr x87cw"
#endif

#endif /* GREENLET_HARNESS */

        .section .note.GNU-stack, "", @progbits

/* The GNU property note: IBT only (every indirect target has endbr32).
 * Shadow stacks cannot follow a stack switch.  On ELFCLASS32 properties
 * are 4-byte aligned, so the descriptor is 12 bytes. */
        .section .note.gnu.property, "a"
        .p2align 2
        .long   4                       /* name size: "GNU\0" */
        .long   12                      /* descriptor size */
        .long   5                       /* NT_GNU_PROPERTY_TYPE_0 */
        .asciz  "GNU"
        .long   0xc0000002              /* GNU_PROPERTY_X86_FEATURE_1_AND */
        .long   4
        .long   1                       /* GNU_PROPERTY_X86_FEATURE_1_IBT */
