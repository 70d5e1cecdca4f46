/*
 * The C side of the round-trip measurement: N round trips (switch into a
 * context that adds one, and back) through libgreenlet.a, timed with
 * clock_gettime, best of RUNS runs (as examples/switch_cost.rs does for the
 * Rust raw switch).  ci/c-bench.sh runs it beside the Rust raw round trip,
 * and under callgrind for instructions per round trip.
 *
 *   round_trip [N [RUNS]]   default 10000000 5; prints
 *                           "c round trip: <ns> ns (N round trips)"
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "greenlet.h"

static void add_one(void *from, uintptr_t data)
{
    for (;;) {
        greenlet_transfer t = greenlet_switch(from, data + 1);
        from = t.sp;
        data = t.data;
    }
}

int main(int argc, char **argv)
{
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000000UL;
    unsigned long runs = argc > 2 ? strtoul(argv[2], NULL, 10) : 5;
    greenlet_stack stack;
    double best = -1;
    if (greenlet_stack_create(&stack, 64 * 1024) != 0)
        return 1;
    void *ctx = greenlet_context_init(&stack, add_one);
    for (unsigned long run = 0; run < runs; run++) {
        struct timespec t0, t1;
        uintptr_t x = 0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (unsigned long i = 0; i < n; i++) {
            greenlet_transfer t = greenlet_switch(ctx, x);
            ctx = t.sp;
            x = t.data;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (x != n) {
            fprintf(stderr, "round_trip: %lu round trips gave %lu\n", n, (unsigned long)x);
            return 1;
        }
        double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
        if (best < 0 || ns < best)
            best = ns;
    }
    printf("c round trip: %.2f ns (%lu round trips)\n", n ? best / (double)n : 0.0, n);
    greenlet_stack_free(&stack);
    return 0;
}
