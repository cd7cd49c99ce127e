/* The shuffled row order: gd_permutation and gd_shuffle_* (gdfast.h). */
#include "gd_shuffle.h"

/* 1 when g can be advanced over order[n]: its next position and pending swap partners in
 * range (a state from gd_shuffle_init, advanced only by gd_shuffle_advance, always is). */
int gd_shuffle_valid(const gd_shuffle *g, int64_t n) {
    if (g->n != n || g->next < 0 || (n > 0 && g->next > n - 1) || (n == 0 && g->next != 0))
        return 0;
    for (int64_t i = g->next; i < g->next + GD_SHUFFLE_RING && i < n - 1; i++) {
        const int64_t j = g->ring[i & (GD_SHUFFLE_RING - 1)];
        if (j < i || j >= n) return 0;
    }
    return 1;
}

void gd_shuffle_init(gd_shuffle *g, int64_t *order, int64_t n, uint64_t seed) {
    for (int64_t i = 0; i < n; i++) order[i] = i;
    g->n = n;
    g->next = 0;
    g->state = seed;
    g->unused = 0;
    for (int64_t i = 0; i < GD_SHUFFLE_RING && i < n - 1; i++)
        g->ring[i] = i + (int64_t)gd_bounded(&g->state, (uint64_t)(n - i));
}

void gd_shuffle_advance(gd_shuffle *g, int64_t *order, int64_t upto) {
    gd_shuffle_to(g, order, upto);
}

int gd_permutation(int64_t *order, int64_t n, uint64_t seed) {
    if (n < 0 || (n > 0 && !order)) return GD_ERR_ARGUMENT;
    gd_shuffle g;
    gd_shuffle_init(&g, order, n, seed);
    gd_shuffle_to(&g, order, n);
    return GD_OK;
}
