/*
 * x86_64, System V psABI: the context switch of `greenlet`.
 *
 * This is the reference port: every other asm/<arch>_<abi>.S defines the
 * same symbols with the same C signatures and follows the same structure,
 * and PORTING.md refers to this file.
 *
 * Symbols (C view; `void *sp` is the saved stack pointer of a suspended
 * context, `transfer` is returned in rax:rdx as a two-word struct):
 *
 *   struct transfer { void *sp; uintptr_t data; };
 *
 *   void *greenlet_stack_init(void *top, void (*entry)(void *from, uintptr_t data));
 *       Build the initial frame of a new context just below `top` and return
 *       its saved stack pointer.  The first switch to it calls
 *       entry(from, data), where `from` is the switcher's saved stack pointer.
 *       `entry` must never return (a return executes ud2).
 *
 *   struct transfer greenlet_switch(void *to, uintptr_t data);
 *       Save the running context on its own stack, resume `to`, and pass it
 *       `data`.  Returns when somebody switches back: `.sp` is the context
 *       that switched back (its saved stack pointer), `.data` its word.
 *
 *   struct transfer greenlet_switch_ontop(void *to, uintptr_t data,
 *                   struct transfer (*fn)(void *from, uintptr_t data));
 *       Like greenlet_switch, but `to` first runs fn(from, data) on its own
 *       stack, as if called from the point where it is suspended; what fn
 *       returns is what `to`'s pending switch returns (or, for a context
 *       that has not started yet, what its entry receives).
 *
 *   const uintptr_t greenlet_frame_bytes;  size of the switch frame below
 *   const uintptr_t greenlet_init_bytes;   bytes stack_init uses below top
 *
 *   uintptr_t greenlet_valgrind_request(uintptr_t default_value,
 *                                       const uintptr_t args[6]);
 *       A Valgrind client request (valgrind.h's VALGRIND_DO_CLIENT_REQUEST_EXPR):
 *       args[0] is the request code, args[1..5] its arguments.  Returns the
 *       request's result under Valgrind and `default_value` on a real CPU,
 *       where the magic sequence is a no-op.  The sequence is per CPU, which
 *       is why it lives here; a port for a CPU Valgrind does not support just
 *       returns `default_value`.  The crate uses it to register each stack
 *       (VALGRIND_STACK_REGISTER), so that Valgrind sees a switch as a change
 *       of stack rather than a huge push or pop on one stack.
 *
 * ---------------------------------------------------------------------------
 * The switch frame.  The saved stack pointer is 16-byte aligned and points
 * at offset 0.
 *
 *   offset  contents           why it is saved (psABI 3.2.1, Figure 3.4)
 *   ------  -----------------  ------------------------------------------------
 *     +0    MXCSR (4 bytes)    "The control bits of the MXCSR register are
 *                              callee-saved"; status bits ride along unused
 *     +4    x87 control word   "the x87 control word is callee-saved"
 *     +6    (2 bytes, unused)
 *     +8    r15                callee-saved
 *    +16    r14                callee-saved
 *    +24    r13                callee-saved
 *    +32    r12                callee-saved
 *    +40    rbx                callee-saved
 *    +48    rbp                callee-saved (frame pointer)
 *    +56    return address     pushed by the `call` into the switch
 *    +64    (the suspended caller's frame)
 *
 *   Not saved, deliberately:
 *     rax rcx rdx rsi rdi r8-r11   caller-saved: the C signature clobbers them
 *     xmm0-xmm15, x87 st0-st7      caller-saved in this ABI
 *     MXCSR status bits 0-5,       caller-saved ("status bits are
 *     x87 status word              caller-saved"): not the switch's business
 *     rflags DF                    clear at every call and return by the ABI
 *     fs / gs bases                per thread, not per context
 *
 *   FP control policy: every context owns its MXCSR control bits and x87
 *   control word.  The switch always stores both (cheap) but reloads them
 *   only when the resumed context's values differ from the suspended one's
 *   (ldmxcsr/fldcw are the expensive part).  A new context starts with the
 *   values current when greenlet_stack_init ran, the way a new POSIX thread
 *   inherits its creator's floating-point environment.
 *
 * The initial frame built by greenlet_stack_init (top aligned down to 16):
 *
 *   top-8    0                  end of the stack for frame-pointer walkers
 *   top-16   0                  padding
 *   top-24   trampoline         "return address" of the first switch
 *   top-32   0                  rbp: a null frame pointer ends fp chains
 *   top-40   entry              rbx: the entry function
 *   top-48   0                  r12
 *   ...      0                  r13 r14 r15
 *   top-80   MXCSR, x87 CW      inherited from the caller of stack_init
 *
 *   so the returned sp is top-80 (16-aligned), and the first switch "returns"
 *   into the trampoline with rsp = top-16 (16-aligned) and rax:rdx holding the
 *   transfer.  The trampoline calls entry(rax, rdx): the `call` leaves
 *   rsp+8 a multiple of 16 at entry's first instruction, as the ABI requires.
 *
 * Hardening: every symbol reachable by an indirect call or jump starts with
 * endbr64 (CET IBT).  CET shadow stacks are incompatible with any stack
 * switching that returns across stacks and are not supported.
 *
 * Operating systems: this port serves every x86_64 OS that uses the System
 * V psABI (Linux, the BSDs, bare metal: ELF objects) and macOS (Mach-O
 * objects), which uses the same ABI:
 *   [APPLE-X64]  Apple, "x86-64 Function Calling Conventions" (Mac OS X ABI
 *                Function Call Guide): "The OS X x86-64 function calling
 *                conventions are the same as the function calling
 *                conventions described in System V Application Binary
 *                Interface AMD64 Architecture Processor Supplement."
 *                https://developer.apple.com/library/archive/documentation/DeveloperTools/Conceptual/LowLevelABI/140-x86-64_Function_Calling_Conventions/x86_64.html
 *                and its successor, Apple, "Writing 64-bit Intel code for
 *                Apple Platforms" ("Apple platforms typically follow the
 *                data representation and procedure call rules in the
 *                standard System V psABI for AMD64"; its exceptions concern
 *                argument passing of some types, none of which the switch
 *                has) https://developer.apple.com/documentation/xcode/writing-64-bit-intel-code-for-apple-platforms
 *   What the switch relies on is therefore the same on macOS: the
 *   callee-saved set and the FP control words above, the 16-byte alignment
 *   at a call, two-register return of `struct transfer`, the 128-byte red
 *   zone (a switch is a call: the caller keeps nothing live below its rsp).
 *
 * Object formats (ELF, Mach-O): one file, and the macros after the knobs
 * below carry the differences (the porting story stays "one file per CPU
 * and ABI", and an instruction fixed once is fixed for both): Mach-O
 * spells every C symbol with a leading `_` (CSYM), its assembler-local
 * labels start with `L` (LOCAL), it has no .type/.size (FUNCTION, OBJECT,
 * SIZE), its read-only data is __TEXT,__const (RODATA), it has no
 * .note.GNU-stack or GNU property note, and it ends with
 * .subsections_via_symbols (see the end of the file).  The instructions are
 * the same in both formats, endbr64 and notrack included (hint encodings,
 * no-ops where CET is off, as on macOS), so the ELF objects are
 * byte-for-byte what they were before Mach-O support.  Mach-O is selected
 * by the compiler's own predefines (__APPLE__ and __MACH__): clang with
 * --target=x86_64-apple-macos*.  Global symbols use .globl (default
 * visibility, as on ELF), not .private_extern: the C library (ci/c-lib.sh)
 * and Rust both link them from a static archive.
 *
 * Build knobs (preprocessor), used only by build.rs for the test harness:
 *   GREENLET_PREFIX   symbol prefix, default greenlet_
 *   GREENLET_MUTANT   1: the switch forgets to restore r15
 *                     2: the switch never reloads the FP control state
 *                     (deliberately broken copies that the register test
 *                     must catch; never linked into the library)
 *   GREENLET_HARNESS  emit only the register-test harness (see the end)
 *
 * And one knob for users (cargo feature `shared-fp-control`):
 *   GREENLET_SHARED_FP_CONTROL  the switch neither saves nor restores the FP
 *                     control state: all contexts of a thread share one.
 *                     This breaks the psABI's callee-saved rule for MXCSR
 *                     and the x87 CW as soon as one context changes them,
 *                     and is only for programs that never do.  It saves two
 *                     `stmxcsr` per round trip, the most expensive
 *                     instruction of the switch on AMD Zen (about 4.4 ns
 *                     each, measured here).
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
#define FUNCTION(sym) .type sym, @function
#define OBJECT(sym) .type sym, @object
#define SIZE(sym) .size sym, . - sym
#define RODATA .section .rodata
#endif
#define SYM(name) CSYM(GL_CAT(GREENLET_PREFIX, name))

        .intel_syntax noprefix
        .text

#ifndef GREENLET_HARNESS

/* Mask of the bits compared when deciding whether to reload the FP control
 * state: MXCSR bits 6-15 (control) and all 16 bits of the x87 control word,
 * laid out as the 8-byte slot at +0 is. */
#define FPCTL_MASK 0x0000ffff0000ffc0

/* Save the callee-saved registers and FP control state of the running
 * context: on exit, rsp is the 16-aligned saved stack pointer. */
.macro SAVE_FRAME
        push    rbp
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset rbp, 0
        push    rbx
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset rbx, 0
        push    r12
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r12, 0
        push    r13
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r13, 0
        push    r14
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r14, 0
        push    r15
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r15, 0
        sub     rsp, 8
        .cfi_adjust_cfa_offset 8
#ifndef GREENLET_SHARED_FP_CONTROL
        stmxcsr [rsp]
        fnstcw  [rsp + 4]
#endif
.endm

/* rax = saved sp of the running context; switch to rdi and compare the FP
 * control state.  Both frames have the same layout, so the CFI stays valid
 * across the change of rsp: it now describes the resumed context's caller. */
.macro SWAP_STACKS reload_label
        mov     rax, rsp
        mov     rsp, rdi
#if GREENLET_MUTANT != 2 && !defined(GREENLET_SHARED_FP_CONTROL)
        mov     ecx, [rax]
        xor     ecx, [rsp]
        movzx   r8d, word ptr [rax + 4]
        xor     r8w, [rsp + 4]
        and     ecx, 0xffc0
        or      ecx, r8d
        jnz     \reload_label
#endif
.endm

/* Pop the resumed context's frame: on exit rsp points at its return
 * address. */
.macro RESTORE_FRAME
        add     rsp, 8
        .cfi_adjust_cfa_offset -8
#if GREENLET_MUTANT == 1
        lea     rsp, [rsp + 8]          /* mutant: r15 keeps the sender's value */
#else
        pop     r15
#endif
        .cfi_adjust_cfa_offset -8
        .cfi_restore r15
        pop     r14
        .cfi_adjust_cfa_offset -8
        .cfi_restore r14
        pop     r13
        .cfi_adjust_cfa_offset -8
        .cfi_restore r13
        pop     r12
        .cfi_adjust_cfa_offset -8
        .cfi_restore r12
        pop     rbx
        .cfi_adjust_cfa_offset -8
        .cfi_restore rbx
        pop     rbp
        .cfi_adjust_cfa_offset -8
        .cfi_restore rbp
.endm

/* ------------------------------------------------------------------------ */
/* struct transfer greenlet_switch(void *to = rdi, uintptr_t data = rsi)     */

        .globl  SYM(switch)
        FUNCTION(SYM(switch))
        .p2align 4
SYM(switch):
        .cfi_startproc
        endbr64
        /* rdi = target sp, rsi = data, [rsp] = our return address */
        SAVE_FRAME
        /* rsp = our saved sp (offset 0 of the frame table) */
        SWAP_STACKS LOCAL(switch_reload)
LOCAL(switch_restore):
        /* rsp = target's saved sp, its FP control state is live */
        .cfi_remember_state
        RESTORE_FRAME
        /* rsp -> target's return address; rax = our saved sp */
        mov     rdx, rsi
        pop     rcx
        notrack jmp rcx
LOCAL(switch_reload):
        .cfi_restore_state
        /* the target's FP control state differs from ours: load it */
        ldmxcsr [rsp]
        fldcw   [rsp + 4]
        jmp     LOCAL(switch_restore)
        .cfi_endproc
        SIZE(SYM(switch))

/* ------------------------------------------------------------------------ */
/* struct transfer greenlet_switch_ontop(void *to = rdi, uintptr_t data = rsi,
 *                                       fn = rdx)                          */

        .globl  SYM(switch_ontop)
        FUNCTION(SYM(switch_ontop))
        .p2align 4
SYM(switch_ontop):
        .cfi_startproc
        endbr64
        SAVE_FRAME
        SWAP_STACKS LOCAL(ontop_reload)
LOCAL(ontop_restore):
        .cfi_remember_state
        RESTORE_FRAME
        /* rsp -> target's return address, exactly as at a function entry:
         * tail-call fn(from = rax, data = rsi); its rax:rdx becomes the
         * return value of the target's pending switch. */
        mov     rdi, rax
        jmp     rdx
LOCAL(ontop_reload):
        .cfi_restore_state
        ldmxcsr [rsp]
        fldcw   [rsp + 4]
        jmp     LOCAL(ontop_restore)
        .cfi_endproc
        SIZE(SYM(switch_ontop))

/* ------------------------------------------------------------------------ */
/* void *greenlet_stack_init(void *top = rdi, entry = rsi)                  */

        .globl  SYM(stack_init)
        FUNCTION(SYM(stack_init))
        .p2align 4
SYM(stack_init):
        .cfi_startproc
        endbr64
        and     rdi, -16
        lea     rax, [rdi - 80]
        xor     ecx, ecx
        mov     [rdi - 8], rcx          /* end marker */
        mov     [rdi - 16], rcx         /* padding */
        lea     rdx, [rip + LOCAL(trampoline)]
        mov     [rax + 56], rdx         /* return address */
        mov     [rax + 48], rcx         /* rbp = 0 */
        mov     [rax + 40], rsi         /* rbx = entry */
        mov     [rax + 32], rcx         /* r12 */
        mov     [rax + 24], rcx         /* r13 */
        mov     [rax + 16], rcx         /* r14 */
        mov     [rax + 8], rcx          /* r15 */
        mov     [rax], rcx
        stmxcsr [rax]                   /* inherited FP control state */
        fnstcw  [rax + 4]
        ret
        .cfi_endproc
        SIZE(SYM(stack_init))

/* The first code a new context runs.  It is entered by the `ret` of a
 * switch, never called: rsp = top-16 (16-aligned), rbx = entry,
 * rax:rdx = the transfer (from, data).  The CFI marks the return address
 * undefined, so unwinders and debuggers stop here: this is the outermost
 * frame of the context.  The leading nop keeps "return address - 1" inside
 * this FDE for unwinders that look up the caller's pc that way. */
        FUNCTION(SYM(trampoline_fde))
        .p2align 4
SYM(trampoline_fde):
        .cfi_startproc
        .cfi_undefined rip
        nop
LOCAL(trampoline):
        mov     rdi, rax
        mov     rsi, rdx
        call    rbx
        ud2                             /* entry returned: forbidden */
        .cfi_endproc
        SIZE(SYM(trampoline_fde))

/* ------------------------------------------------------------------------ */
/* uintptr_t greenlet_valgrind_request(uintptr_t default_value = rdi,
 *                                     const uintptr_t args[6] = rsi)
 *
 * A Valgrind client request: args[0] is the request code, args[1..5] its
 * arguments.  Under Valgrind the result of the request comes back; run
 * natively, `default_value` does.  The sequence is the one valgrind.h
 * (3.19, "amd64-{linux,darwin,solaris,freebsd}", VALGRIND_DO_CLIENT_REQUEST_EXPR)
 * documents for this CPU: rax = the argument block, rdx = the default,
 * the "special instruction preamble" (four rotates of rdi by 3, 13, 61
 * and 51 bits: 128 in all, so rdi ends unchanged), then `xchg rbx, rbx`
 * (the client-request marker); Valgrind's JIT recognises the pair and
 * leaves the result in rdx.  On a real CPU every instruction of it is a
 * no-op apart from the flags. */

        .globl  SYM(valgrind_request)
        FUNCTION(SYM(valgrind_request))
        .p2align 4
SYM(valgrind_request):
        .cfi_startproc
        endbr64
        mov     rax, rsi
        mov     rdx, rdi
        rol     rdi, 3
        rol     rdi, 13
        rol     rdi, 61
        rol     rdi, 51
        xchg    rbx, rbx
        mov     rax, rdx
        ret
        .cfi_endproc
        SIZE(SYM(valgrind_request))

        RODATA
        .p2align 3
        .globl  SYM(frame_bytes)
        OBJECT(SYM(frame_bytes))
SYM(frame_bytes):
        .quad   64
        SIZE(SYM(frame_bytes))
        .globl  SYM(init_bytes)
        OBJECT(SYM(init_bytes))
SYM(init_bytes):
        .quad   80
        SIZE(SYM(init_bytes))

#else /* GREENLET_HARNESS */

/* ---------------------------------------------------------------------------
 * Register-test harness (linked only into tests; symbols greenlet_harness_*).
 *
 * struct transfer greenlet_harness_probe(void *to = rdi, uintptr_t data = rsi,
 *         switch_fn = rdx, uint64_t seed = rcx, uint64_t *out = r8)
 *
 *   Loads a distinct sentinel derived from `seed` into every callee-saved
 *   register and into the FP control state, records them in out[0..N],
 *   calls switch_fn(to, data), records what the registers hold when it
 *   returns in out[N..2N], restores the caller's registers and FP control
 *   state, and returns switch_fn's transfer.  N and the names of the slots
 *   are greenlet_harness_count and greenlet_harness_names.
 *
 * void greenlet_harness_aligned_entry(void *from = rdi, uintptr_t cont = rsi)
 *
 *   An entry function for greenlet_stack_init.  Reports whether rsp met the
 *   ABI's alignment at entry (rsp + 8 a multiple of 16) by tail-calling
 *   cont(from, aligned (0/1), rsp at entry).
 * ------------------------------------------------------------------------ */

#ifdef GREENLET_SHARED_FP_CONTROL
#define N_REGS 6
#else
#define N_REGS 8
#endif

        .globl  CSYM(greenlet_harness_probe)
        FUNCTION(CSYM(greenlet_harness_probe))
        .p2align 4
CSYM(greenlet_harness_probe):
        .cfi_startproc
        endbr64
        push    rbp
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset rbp, 0
        push    rbx
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset rbx, 0
        push    r12
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r12, 0
        push    r13
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r13, 0
        push    r14
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r14, 0
        push    r15
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r15, 0
        sub     rsp, 40
        .cfi_adjust_cfa_offset 40
        /* [rsp] caller's MXCSR/x87 CW, [rsp+8] out, [rsp+16] switch_fn,
         * [rsp+24] scratch; rsp is 16-aligned here */
        stmxcsr [rsp]
        fnstcw  [rsp + 4]
        mov     [rsp + 8], r8
        mov     [rsp + 16], rdx
        /* sentinels: a distinct pattern per register, xor the seed */
        movabs  rbx, 0x1111111111111111
        xor     rbx, rcx
        movabs  rbp, 0x2222222222222222
        xor     rbp, rcx
        movabs  r12, 0x3333333333333333
        xor     r12, rcx
        movabs  r13, 0x4444444444444444
        xor     r13, rcx
        movabs  r14, 0x5555555555555555
        xor     r14, rcx
        movabs  r15, 0x6666666666666666
        xor     r15, rcx
#ifndef GREENLET_SHARED_FP_CONTROL
        /* FP control sentinels: rounding mode (seed & 3) in MXCSR bits
         * 13-14 and in x87 CW bits 10-11, all exceptions masked; with
         * seed & 4, also MXCSR flush-to-zero (bit 15) and x87 single
         * precision (PC = 00) */
        mov     eax, ecx
        and     eax, 3
        shl     eax, 13
        or      eax, 0x1f80
        test    ecx, 4
        jz      1f
        or      eax, 0x8000
1:      mov     [rsp + 24], eax
        ldmxcsr [rsp + 24]
        mov     eax, ecx
        and     eax, 3
        shl     eax, 10
        or      eax, 0x037f
        test    ecx, 4
        jz      2f
        and     eax, 0xfcff
2:      mov     [rsp + 24], ax
        fldcw   [rsp + 24]
#endif
        /* record what we loaded */
        mov     rax, r8
        call    LOCAL(harness_dump)
        /* switch away; rdi/rsi are untouched since entry */
        call    [rsp + 16]
        /* back: record what we got, keep the transfer in rax:rdx */
        mov     r9, rax
        mov     rax, [rsp + 8]
        add     rax, N_REGS * 8
        call    LOCAL(harness_dump)
        mov     rax, r9
        ldmxcsr [rsp]
        fldcw   [rsp + 4]
        add     rsp, 40
        .cfi_adjust_cfa_offset -40
        pop     r15
        .cfi_adjust_cfa_offset -8
        .cfi_restore r15
        pop     r14
        .cfi_adjust_cfa_offset -8
        .cfi_restore r14
        pop     r13
        .cfi_adjust_cfa_offset -8
        .cfi_restore r13
        pop     r12
        .cfi_adjust_cfa_offset -8
        .cfi_restore r12
        pop     rbx
        .cfi_adjust_cfa_offset -8
        .cfi_restore rbx
        pop     rbp
        .cfi_adjust_cfa_offset -8
        .cfi_restore rbp
        ret
        .cfi_endproc
        SIZE(CSYM(greenlet_harness_probe))

/* Store rbx rbp r12-r15, MXCSR control bits, x87 CW at rax[0..8].  Clobbers
 * nothing but memory. */
        FUNCTION(LOCAL(harness_dump))
LOCAL(harness_dump):
        .cfi_startproc
        mov     [rax], rbx
        mov     [rax + 8], rbp
        mov     [rax + 16], r12
        mov     [rax + 24], r13
        mov     [rax + 32], r14
        mov     [rax + 40], r15
#ifndef GREENLET_SHARED_FP_CONTROL
        mov     qword ptr [rax + 48], 0
        stmxcsr [rax + 48]
        and     dword ptr [rax + 48], 0xffc0
        mov     qword ptr [rax + 56], 0
        fnstcw  [rax + 56]
#endif
        ret
        .cfi_endproc

        .globl  CSYM(greenlet_harness_aligned_entry)
        FUNCTION(CSYM(greenlet_harness_aligned_entry))
        .p2align 4
CSYM(greenlet_harness_aligned_entry):
        .cfi_startproc
        endbr64
        /* rdi = from, rsi = cont */
        mov     rcx, rsi
        lea     rax, [rsp + 8]
        xor     esi, esi
        test    al, 15
        sete    sil
        mov     rdx, rsp
        notrack jmp rcx
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
        .asciz  "rbx rbp r12 r13 r14 r15"
#else
        .asciz  "rbx rbp r12 r13 r14 r15 mxcsr x87cw"
#endif

#endif /* GREENLET_HARNESS */

#ifdef GL_MACHO

/* Every global or local symbol starts an atom that the linker may drop
 * when nothing refers to it (-dead_strip) or move; what the code relies
 * on within a function uses L labels, which start no atom.  Mach-O has no
 * GNU-stack note (stacks are not executable) and no property note (macOS
 * does not enable CET; endbr64 and notrack are hint encodings that every
 * x86_64 CPU executes as no-ops, so the instructions stay those of ELF). */
        .subsections_via_symbols

#else

        .section .note.GNU-stack, "", @progbits

/* The GNU property note telling the linker this object is IBT- and
 * SHSTK-clean would be emitted here; we mark IBT only (every indirect
 * target has endbr64).  Shadow stacks cannot follow a stack switch. */
        .section .note.gnu.property, "a"
        .p2align 3
        .long   4                       /* name size: "GNU\0" */
        .long   16                      /* descriptor size */
        .long   5                       /* NT_GNU_PROPERTY_TYPE_0 */
        .asciz  "GNU"
        .long   0xc0000002              /* GNU_PROPERTY_X86_FEATURE_1_AND */
        .long   4
        .long   1                       /* GNU_PROPERTY_X86_FEATURE_1_IBT */
        .p2align 3

#endif
