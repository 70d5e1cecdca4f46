/*
 * Ping-pong between two contexts: main ("ping") sends 1..5 to a context
 * running pong(), which prints what it got and answers with twice the value.
 *
 *   cc -std=c99 -I include examples/c/ping_pong.c target/c/<triple>/libgreenlet.a
 */
#include <stdio.h>
#include <string.h>

#include "greenlet.h"

/* The entry function: runs on its own stack, never returns. */
static void pong(void *from, uintptr_t data)
{
    for (;;) {
        printf("pong: got %lu\n", (unsigned long)data);
        greenlet_transfer t = greenlet_switch(from, data * 2);
        from = t.sp; /* whoever resumed us next */
        data = t.data;
    }
}

int main(void)
{
    greenlet_stack stack;
    int err = greenlet_stack_create(&stack, 64 * 1024);
    if (err != 0) {
        fprintf(stderr, "greenlet_stack_create: %s\n", strerror(err));
        return 1;
    }
    void *ctx = greenlet_context_init(&stack, pong);
    if (ctx == NULL) {
        fprintf(stderr, "greenlet_context_init failed\n");
        return 1;
    }
    for (uintptr_t i = 1; i <= 5; i++) {
        printf("ping: send %lu\n", (unsigned long)i);
        greenlet_transfer t = greenlet_switch(ctx, i);
        ctx = t.sp; /* pong, suspended again */
        printf("ping: got %lu\n", (unsigned long)t.data);
    }
    /* pong stays suspended in its loop and holds nothing: free its stack. */
    greenlet_stack_free(&stack);
    printf("done\n");
    return 0;
}
