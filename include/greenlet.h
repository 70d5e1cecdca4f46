/*
 * greenlet.h: the C interface of the `greenlet` crate.
 *
 * Stackful contexts for C and C++: the assembly context switch of
 * asm/<arch>_<abi>.S, plus a small stack API.  Link with libgreenlet.a, which
 * `ci/c-lib.sh` builds (see docs/c-and-no_std.md).
 * The archive needs only libc; its only global symbols are the ones declared
 * here (include/greenlet.syms lists them).
 *
 * Vocabulary.  A *context* is a suspended stack, named by its saved stack
 * pointer (a `void *`).  A saved stack pointer is valid until that context
 * is resumed once; when it suspends again it gets a new one, which is handed
 * to whoever it switches to.  Nothing is allocated per context: it is only
 * memory on its stack.
 *
 * Threads.  A context may be resumed by any thread, but never by two at once,
 * and a context that has thread-local state on its stack is tied to its
 * thread.  Nothing here is synchronised.
 *
 * Undefined behaviour, in general: resuming a stale or never-valid stack
 * pointer, resuming a running context, freeing or reusing a stack whose
 * context may still run or be resumed, returning from an entry function,
 * letting a C++ exception (or longjmp) cross a switch, and overflowing a
 * stack that has no guard.
 */
#ifndef GREENLET_H
#define GREENLET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * The raw primitive (assembly; every supported CPU).
 */

/* What a switch returns: the context that switched to us (now suspended)
 * and the word it sent. */
typedef struct greenlet_transfer {
    void *sp;
    uintptr_t data;
} greenlet_transfer;

/* The entry function of a new context: entry(from, data), where `from` is the
 * context whose first switch started it and `data` its word.  It must never
 * return (there is nothing to return to: the assembly traps); it ends by
 * switching away for good. */
typedef void (*greenlet_entry_fn)(void *from, uintptr_t data);

/* A function that greenlet_switch_ontop runs on top of the target context. */
typedef greenlet_transfer (*greenlet_ontop_fn)(void *from, uintptr_t data);

/* Every switch preserves the registers the platform ABI calls callee-saved
 * and the floating-point control state (rounding mode, exception masks,
 * flush-to-zero): each context owns its own, and a new context inherits the
 * one current when greenlet_stack_init ran. */

/* Build a new context below `top` and return its saved stack pointer.  The
 * first switch to it calls entry(from, data) on that stack.
 *
 * `top` is the upper end (exclusive) of the stack; it is aligned down to 16
 * bytes here.  At most greenlet_init_bytes bytes below the aligned top are
 * written.  The caller owns the memory, which must be writable, large enough
 * for the initial frame plus everything `entry` uses, and stay valid and
 * unused by anything else while the context may run or be resumed.
 * greenlet_context_init is the checked way to call this. */
void *greenlet_stack_init(void *top, greenlet_entry_fn entry);

/* Suspend the running context (its stack pointer goes to the target as
 * `from`) and resume `to`, passing it `data`.  Returns when some context
 * switches back, with that context's saved stack pointer and word.
 *
 * `to` must be the current saved stack pointer of a suspended context (from
 * greenlet_stack_init or a greenlet_transfer) not resumed since.  The running
 * stack must stay valid while it is suspended. */
greenlet_transfer greenlet_switch(void *to, uintptr_t data);

/* Like greenlet_switch, but `to` first runs fn(from, data) on its own stack,
 * as if called where it is suspended; what fn returns is what `to`'s pending
 * greenlet_switch returns (or, if `to` has not started, what its entry
 * function receives).  fn must not switch and must not unwind. */
greenlet_transfer greenlet_switch_ontop(void *to, uintptr_t data, greenlet_ontop_fn fn);

/* The size of this CPU's switch frame, and the bytes greenlet_stack_init
 * writes below the aligned top (both multiples of 16, at most 1024). */
extern const uintptr_t greenlet_frame_bytes;
extern const uintptr_t greenlet_init_bytes;

/* ------------------------------------------------------------------------
 * Stacks.
 *
 * A greenlet_stack describes a stack: [bottom, top) is usable, and
 * [guard, bottom) is an optional guard that faults on access.  The caller
 * owns the struct (no allocation happens behind it).  It comes either from
 * greenlet_stack_create, or from the caller, who fills it in for memory of
 * their own (a static buffer, their allocator's memory) with guard = NULL,
 * or with the address of a guard they set up themselves.
 */
typedef struct greenlet_stack {
    void *guard;  /* lowest address of the guard, or NULL for none       */
    void *bottom; /* lowest usable address; the guard, if any, ends here */
    void *top;    /* one past the highest usable address                 */
} greenlet_stack;

/* Map a new stack of at least `size` usable bytes (rounded up to whole
 * pages) with one PROT_NONE guard page below it, and fill *stack.  Pages are
 * touched lazily (MAP_NORESERVE): an unused stack costs address space only.
 * top and bottom are page-aligned.
 *
 * Returns 0, or an errno value: EINVAL (stack is NULL, size is 0 or too
 * large), or mmap's or mprotect's error (ENOMEM: out of memory, address
 * space or mappings).  On error *stack is unchanged.  The caller owns the
 * stack until greenlet_stack_free. */
int greenlet_stack_create(greenlet_stack *stack, size_t size);

/* Unmap a stack made by greenlet_stack_create and set all three fields to
 * NULL.  NULL and an all-NULL struct (a freed one) are accepted and do
 * nothing.  Passing a struct filled in any other way is undefined, and so is
 * running or resuming a context of the stack afterwards. */
void greenlet_stack_free(greenlet_stack *stack);

/* Check *stack and build a new context at its top, as greenlet_stack_init
 * does; return its saved stack pointer, or NULL if `stack` or `entry` is
 * NULL or *stack is not a valid stack: top and bottom must be multiples of
 * 16, top - bottom at least 1024 bytes, and a guard (if not NULL) must lie
 * below bottom.  Nothing is written when NULL is returned.
 *
 * The stack holds one context at a time: build a new one only after the
 * previous one will never be resumed again.  What `entry` needs on top of
 * the initial frame is for the caller to provide. */
void *greenlet_context_init(const greenlet_stack *stack, greenlet_entry_fn entry);

#ifdef __cplusplus
}
#endif

#endif /* GREENLET_H */
