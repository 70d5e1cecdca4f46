/*
 * Python-style generators in plain C on top of greenlet.h: a generator body
 * runs on its own stack and calls generator_yield(g, v); the caller pulls
 * values with generator_next(g, &v).  Generators can consume generators:
 * evens() filters fib().
 *
 *   cc -std=c99 -I include examples/c/generator.c target/c/<triple>/libgreenlet.a
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "greenlet.h"

typedef struct generator generator;
typedef void (*generator_body)(generator *g, void *arg);

struct generator {
    greenlet_stack stack;
    void *ctx;    /* the body's context while suspended */
    void *caller; /* who resumed the body last, while it runs */
    generator_body body;
    void *arg;
    int finished;
};

static void generator_entry(void *from, uintptr_t data)
{
    generator *g = (generator *)data;
    g->caller = from;
    g->body(g, g->arg);
    g->finished = 1;
    greenlet_switch(g->caller, 0); /* never resumed again */
    abort();
}

static int generator_init(generator *g, generator_body body, void *arg)
{
    memset(g, 0, sizeof *g);
    g->body = body;
    g->arg = arg;
    if (greenlet_stack_create(&g->stack, 64 * 1024) != 0)
        return -1;
    g->ctx = greenlet_context_init(&g->stack, generator_entry);
    return g->ctx ? 0 : -1;
}

/* Run the body until it yields (return 1, *value set) or ends (return 0). */
static int generator_next(generator *g, uintptr_t *value)
{
    if (g->finished)
        return 0;
    greenlet_transfer t = greenlet_switch(g->ctx, (uintptr_t)g);
    g->ctx = t.sp;
    if (g->finished)
        return 0;
    *value = t.data;
    return 1;
}

/* Called by the body: hand `value` to the caller of generator_next. */
static void generator_yield(generator *g, uintptr_t value)
{
    greenlet_transfer t = greenlet_switch(g->caller, value);
    g->caller = t.sp;
}

/* A finished or abandoned generator holds nothing on its stack. */
static void generator_free(generator *g)
{
    greenlet_stack_free(&g->stack);
}

static void fib(generator *g, void *arg)
{
    uintptr_t limit = *(uintptr_t *)arg, a = 0, b = 1;
    while (a <= limit) {
        generator_yield(g, a);
        uintptr_t next = a + b;
        a = b;
        b = next;
    }
}

static void evens(generator *g, void *arg)
{
    generator *source = (generator *)arg;
    uintptr_t v;
    while (generator_next(source, &v))
        if (v % 2 == 0)
            generator_yield(g, v);
}

int main(void)
{
    uintptr_t limit = 100, v;
    generator f, e, inner;

    if (generator_init(&f, fib, &limit) != 0)
        return 1;
    printf("fib:");
    while (generator_next(&f, &v))
        printf(" %lu", (unsigned long)v);
    printf("\n");
    generator_free(&f);

    if (generator_init(&inner, fib, &limit) != 0 || generator_init(&e, evens, &inner) != 0)
        return 1;
    printf("even fib:");
    while (generator_next(&e, &v))
        printf(" %lu", (unsigned long)v);
    printf("\n");
    generator_free(&e);
    generator_free(&inner);
    return 0;
}
