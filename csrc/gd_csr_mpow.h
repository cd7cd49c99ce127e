/* The closed form that catches a feature up on the momentum / nesterov steps it skipped in the
 * sparse path of CSR epochs (GD_SP_MOM, gd_csr_sparse.h): the 2x2 map of one step on a
 * coordinate whose data gradient is 0, and its powers. */
#ifndef GD_CSR_MPOW_H
#define GD_CSR_MPOW_H
#include <stdint.h>
#include "gdfast.h"

/* 2x2 matrices [[a, b], [c, e]] acting on a coordinate's (w, buf) under momentum/nesterov. */
typedef struct { double a, b, c, e; } gd_m2;

static inline gd_m2 m2_mul(gd_m2 x, gd_m2 y) {
    gd_m2 r = {x.a * y.a + x.b * y.c, x.a * y.b + x.b * y.e,
               x.c * y.a + x.e * y.c, x.c * y.b + x.e * y.e};
    return r;
}

/* The map of one momentum/nesterov step (t > 1) on a coordinate whose data gradient is 0:
 * g' = l2 w; buf' = mu buf + (1 - dampening) g'; w' = w - lr buf' (nesterov: w - lr (g' + mu buf')). */
static gd_m2 momentum_matrix(const gd_config *cfg, double lr) {
    const double mu = cfg->momentum, dl2 = (1.0 - cfg->dampening) * cfg->l2;
    gd_m2 M;
    if (cfg->optimizer == GD_OPT_NESTEROV) {
        M.a = 1.0 - lr * cfg->l2 - lr * mu * dl2;
        M.b = -lr * mu * mu;
    } else {
        M.a = 1.0 - lr * dl2;
        M.b = -lr * mu;
    }
    M.c = dl2;
    M.e = mu;
    return M;
}

/* M^k for any k >= 0: a table of M^0..M^255 and of M^(256 * 2^i), combined by the bits of k
 * (the factors are powers of one matrix, so they commute). */
#define GD_MP_SMALL 256
#define GD_MP_BIG 56
typedef struct {
    gd_m2 small[GD_MP_SMALL];
    gd_m2 big[GD_MP_BIG];
} gd_mpow;

static void mpow_init(gd_mpow *tb, gd_m2 M) {
    gd_m2 I = {1, 0, 0, 1};
    tb->small[0] = I;
    for (int k = 1; k < GD_MP_SMALL; k++) tb->small[k] = m2_mul(M, tb->small[k - 1]);
    tb->big[0] = m2_mul(M, tb->small[GD_MP_SMALL - 1]);
    for (int i = 1; i < GD_MP_BIG; i++) tb->big[i] = m2_mul(tb->big[i - 1], tb->big[i - 1]);
}

static inline gd_m2 mpow_get(const gd_mpow *tb, int64_t k) {
    gd_m2 r = tb->small[k & (GD_MP_SMALL - 1)];
    k >>= 8;
    for (int i = 0; k && i < GD_MP_BIG; i++, k >>= 1)
        if (k & 1) r = m2_mul(tb->big[i], r);
    return r;
}
#endif
