/*
 * The contracts of greenlet.h's stack API, checked from C (run by
 * tests/c_examples.rs): what greenlet_stack_create makes, what
 * greenlet_context_init refuses, caller-filled stacks, and free.
 * Prints "ok <n> checks" or the first failed check, and exits non-zero.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "greenlet.h"

static int checks;

#define CHECK(cond)                                                              \
    do {                                                                         \
        checks++;                                                                \
        if (!(cond)) {                                                           \
            printf("FAILED line %d: %s\n", __LINE__, #cond);                     \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

static void add_one(void *from, uintptr_t data)
{
    for (;;) {
        greenlet_transfer t = greenlet_switch(from, data + 1);
        from = t.sp;
        data = t.data;
    }
}

static greenlet_transfer times_ten(void *from, uintptr_t data)
{
    greenlet_transfer t;
    t.sp = from;
    t.data = data * 10;
    return t;
}

/* A caller-provided stack: a static buffer aligned by a union. */
static union {
    unsigned char bytes[32 * 1024];
    long double align;
} buffer;

int main(void)
{
    greenlet_stack s;
    memset(&s, 0x5a, sizeof s);

    /* create: argument errors leave *stack alone. */
    CHECK(greenlet_stack_create(NULL, 4096) == EINVAL);
    CHECK(greenlet_stack_create(&s, 0) == EINVAL);
    CHECK(greenlet_stack_create(&s, (size_t)-1) == EINVAL);
    CHECK(s.top == s.bottom); /* still the 0x5a pattern */

    /* create: page-rounded, guard directly below, aligned. */
    CHECK(greenlet_stack_create(&s, 10000) == 0);
    uintptr_t guard = (uintptr_t)s.guard, bottom = (uintptr_t)s.bottom;
    uintptr_t top = (uintptr_t)s.top;
    CHECK(guard != 0 && guard < bottom && bottom < top);
    CHECK(top - bottom >= 10000 && (top - bottom) % (bottom - guard) == 0);
    CHECK(top % 16 == 0 && bottom % 16 == 0);

    /* A context on it: values and switch_ontop. */
    void *ctx = greenlet_context_init(&s, add_one);
    CHECK(ctx != NULL && (uintptr_t)ctx < top && (uintptr_t)ctx >= bottom);
    CHECK(top - (uintptr_t)ctx <= greenlet_init_bytes);
    greenlet_transfer t = greenlet_switch(ctx, 41);
    CHECK(t.data == 42);
    t = greenlet_switch_ontop(t.sp, 5, times_ten);
    CHECK(t.data == 51);
    CHECK(greenlet_frame_bytes > 0 && greenlet_frame_bytes <= greenlet_init_bytes);
    CHECK(greenlet_init_bytes <= 1024 && greenlet_init_bytes % 16 == 0);

    /* free: clears, and is harmless on NULL and on a freed struct. */
    greenlet_stack_free(&s);
    CHECK(s.guard == NULL && s.bottom == NULL && s.top == NULL);
    greenlet_stack_free(&s);
    greenlet_stack_free(NULL);

    /* context_init refuses what is not a valid stack. */
    greenlet_stack c;
    uintptr_t lo = ((uintptr_t)buffer.bytes + 15) & ~(uintptr_t)15;
    uintptr_t hi = ((uintptr_t)buffer.bytes + sizeof buffer.bytes) & ~(uintptr_t)15;
    c.guard = NULL;
    c.bottom = (void *)lo;
    c.top = (void *)hi;
    CHECK(greenlet_context_init(NULL, add_one) == NULL);
    CHECK(greenlet_context_init(&c, NULL) == NULL);
    c.top = (void *)(hi - 1); /* misaligned */
    CHECK(greenlet_context_init(&c, add_one) == NULL);
    c.top = (void *)(lo + 1008); /* too small */
    CHECK(greenlet_context_init(&c, add_one) == NULL);
    c.top = (void *)(lo - 16); /* top below bottom */
    CHECK(greenlet_context_init(&c, add_one) == NULL);
    c.top = (void *)hi;
    c.guard = (void *)hi; /* a guard must lie below bottom */
    CHECK(greenlet_context_init(&c, add_one) == NULL);
    c.guard = (void *)lo;
    CHECK(greenlet_context_init(&c, add_one) == NULL);
    for (size_t i = 0; i < sizeof buffer.bytes; i++)
        CHECK(buffer.bytes[i] == 0); /* nothing written when refused */

    /* A caller-filled stack on the static buffer works. */
    c.guard = NULL;
    ctx = greenlet_context_init(&c, add_one);
    CHECK(ctx != NULL && (uintptr_t)ctx >= lo && (uintptr_t)ctx < hi);
    for (uintptr_t i = 0; i < 1000; i++) {
        t = greenlet_switch(ctx, i);
        CHECK(t.data == i + 1);
        ctx = t.sp;
    }
    printf("ok %d checks\n", checks);
    return 0;
}
