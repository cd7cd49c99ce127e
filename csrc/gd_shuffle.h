/* The shuffled row order (gd_permutation, gd_shuffle_* in gdfast.h): the random stream and the
 * shuffle's steps, inline here because an epoch drawing its order as it goes
 * (gd_epoch_dense_shuffled_*) takes the steps between its rows. */
#ifndef GD_SHUFFLE_H
#define GD_SHUFFLE_H
#include <stdint.h>
#include "gdfast.h"
#include "gd_compiler.h"

/* SplitMix64 (Steele, Lea and Flood 2014, with Vigna's constants): each output depends on the
 * state only through one addition, so consecutive draws do not wait on each other. */
static inline uint64_t gd_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* The high 64 bits of a * b, and the low ones in *lo, from 32-bit halves. */
static inline uint64_t gd_mul_hi_lo_portable(uint64_t a, uint64_t b, uint64_t *lo) {
    const uint64_t a0 = (uint32_t)a, a1 = a >> 32, b0 = (uint32_t)b, b1 = b >> 32;
    const uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    const uint64_t mid = (p00 >> 32) + (uint32_t)p01 + (uint32_t)p10;
    *lo = (mid << 32) | (uint32_t)p00;
    return p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

/* The same with the compiler's 128-bit product where it has one (twice as fast a shuffle). */
static inline uint64_t gd_mul_hi_lo(uint64_t a, uint64_t b, uint64_t *lo) {
#if defined(__SIZEOF_INT128__)
    const unsigned __int128 m = (unsigned __int128)a * b;
    *lo = (uint64_t)m;
    return (uint64_t)(m >> 64);
#else
    return gd_mul_hi_lo_portable(a, b, lo);
#endif
}

/* Uniform on [0, range) for range >= 1, unbiased: Lemire, "Fast random integer generation in
 * an interval" (2019).  The rejection happens with probability below range / 2^64. */
static inline uint64_t gd_bounded(uint64_t *state, uint64_t range) {
    uint64_t lo, hi = gd_mul_hi_lo(gd_splitmix64(state), range, &lo);
    if (lo < range) {
        const uint64_t threshold = (0 - range) % range;         /* 2^64 mod range */
        while (lo < threshold) hi = gd_mul_hi_lo(gd_splitmix64(state), range, &lo);
    }
    return hi;
}

/* The shuffle: a forward Fisher-Yates (Durstenfeld), which fixes position i at step i, so an
 * epoch can draw its order a batch ahead of the rows it reads (gd_epoch_dense_shuffled_*).
 * Step i swaps order[i] with order[j], j = i + gd_bounded(n - i); each j is drawn
 * GD_SHUFFLE_RING steps early, in the same order, and its line prefetched (the same draws, so
 * the same permutation, as drawing each at its step). */
#define GD_SHUFFLE_RING 16
_Static_assert(sizeof(gd_shuffle) == GD_SHUFFLE_WORDS * sizeof(int64_t), "gd_shuffle layout");
_Static_assert(sizeof(((gd_shuffle *)0)->ring) == GD_SHUFFLE_RING * sizeof(int64_t) &&
                   (GD_SHUFFLE_RING & (GD_SHUFFLE_RING - 1)) == 0,
               "gd_shuffle ring: GD_SHUFFLE_RING entries, a power of two");

static inline void gd_shuffle_step(gd_shuffle *g, int64_t *order) {
    const int64_t n = g->n, i = g->next, slot = i & (GD_SHUFFLE_RING - 1);
    const int64_t j = g->ring[slot], k = i + GD_SHUFFLE_RING;
    if (k < n - 1) {
        const int64_t jk = k + (int64_t)gd_bounded(&g->state, (uint64_t)(n - k));
        g->ring[slot] = jk;
        GD_PREFETCH_W(order + jk);
    }
    const int64_t t = order[i];
    order[i] = order[j];
    order[j] = t;
    g->next = i + 1;
}

/* Fix positions up to (not including) upto; all n once the last swap is done (step n - 2). */
static inline void gd_shuffle_to(gd_shuffle *g, int64_t *order, int64_t upto) {
    const int64_t lim = upto < g->n - 1 ? upto : g->n - 1;
    while (g->next < lim) gd_shuffle_step(g, order);
}
#endif
