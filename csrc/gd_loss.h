/* Template over GD_T (gd_each_type.h): the losses of one row and their derivatives with respect
 * to the decision values. */

/* The logistic loss of decision value p for target y = +-1, and its derivative -y sigmoid(-y p):
 * evaluated in double (gd_logistic, branch-free) and rounded, in three steps that loss_dz4 also
 * takes four rows at a time.  The margin y p, in GD_T, then widened: */
GD_INLINE double GD_SFX(logistic_margin)(GD_T p, GD_T y) { return (double)(y * p); }

/* gd_logistic's loss li and -sigmoid neg_sig rounded to GD_T: the loss, and dz. */
GD_INLINE GD_T GD_SFX(logistic_round)(GD_T y, double li, double neg_sig, GD_T *dz) {
    *dz = y * (GD_T)neg_sig;
    return (GD_T)li;
}

GD_INLINE GD_T GD_SFX(logistic_dz)(GD_T p, GD_T y, GD_T *dz) {
    double neg_sig;
    const double li = gd_logistic(GD_SFX(logistic_margin)(p, y), &neg_sig);
    return GD_SFX(logistic_round)(y, li, neg_sig, dz);
}

/* Loss of one row with a single output and its derivative with respect to p. */
GD_INLINE GD_T GD_SFX(loss_dz)(int loss, GD_T p, GD_T y, GD_T eps, GD_T *dz) {
    GD_T m, r, a, e;
    switch (loss) {
    case GD_LOSS_SQUARED:
        r = p - y;
        *dz = r;
        return (GD_T)0.5 * r * r;
    case GD_LOSS_LOGISTIC:
        return GD_SFX(logistic_dz)(p, y, dz);
    case GD_LOSS_HINGE:
        m = y * p;
        if (m <= 1) { *dz = -y; return 1 - m; }
        *dz = 0;
        return 0;
    case GD_LOSS_SQUARED_HINGE:
        a = 1 - y * p;
        if (a > 0) { *dz = -2 * y * a; return a * a; }
        *dz = 0;
        return 0;
    case GD_LOSS_MODIFIED_HUBER:
        m = y * p;
        if (m >= 1) { *dz = 0; return 0; }
        if (m >= -1) { a = 1 - m; *dz = -2 * y * a; return a * a; }
        *dz = -4 * y;
        return -4 * m;
    case GD_LOSS_HUBER:
        r = p - y;
        a = GD_FABS(r);
        if (a <= eps) { *dz = r; return (GD_T)0.5 * r * r; }
        *dz = r > 0 ? eps : -eps;
        return eps * a - (GD_T)0.5 * eps * eps;
    case GD_LOSS_EPSILON_INSENSITIVE:
        r = p - y;
        a = GD_FABS(r) - eps;
        if (a > 0) { *dz = r > 0 ? 1 : -1; return a; }
        *dz = 0;
        return 0;
    case GD_LOSS_POISSON:
        e = GD_EXP(p);
        *dz = e - y;
        return e - y * p;
    default:
        *dz = 0;
        return 0;
    }
}

/* loss_dz of four rows: l[q] and dz[q] for decision values p[q], targets y[q].  The logistic
 * case is logistic_dz's three steps, with gd_logistic in one loop over four doubles that
 * vectorizes (it is branch-free): inside logistic_dz's loop, the float32 kernel's four lanes
 * were compiled as two 2-double halves. */
GD_INLINE void GD_SFX(loss_dz4)(int loss, const GD_T *p, const GD_T *y, GD_T eps, GD_T *l,
                                GD_T *dz) {
    if (loss == GD_LOSS_LOGISTIC) {
        double m[4], lo[4], ns[4];
        for (int q = 0; q < 4; q++) m[q] = GD_SFX(logistic_margin)(p[q], y[q]);
#pragma omp simd
        for (int q = 0; q < 4; q++) lo[q] = gd_logistic(m[q], &ns[q]);
        for (int q = 0; q < 4; q++) l[q] = GD_SFX(logistic_round)(y[q], lo[q], ns[q], &dz[q]);
    } else {
        for (int q = 0; q < 4; q++) l[q] = GD_SFX(loss_dz)(loss, p[q], y[q], eps, &dz[q]);
    }
}

/* Softmax cross-entropy of one row: z[K] holds the decision values on entry and
 * dloss/dz on exit; returns the loss. */
GD_INLINE GD_T GD_SFX(softmax_dz)(GD_T *z, int64_t K, int64_t label) {
    GD_T mx = z[0], s = 0, zy = z[label];
    for (int64_t k = 1; k < K; k++) mx = z[k] > mx ? z[k] : mx;
    for (int64_t k = 0; k < K; k++) { z[k] = GD_EXP(z[k] - mx); s += z[k]; }
    for (int64_t k = 0; k < K; k++) z[k] = z[k] / s - (k == label ? 1 : 0);
    return mx + GD_LOG(s) - zy;
}

/* The loss of a row with decision values z[K] (K = 1: a single-output loss with target yi;
 * K > 1: softmax with label yi); z holds dloss/dz on exit. */
GD_INLINE GD_T GD_SFX(row_loss_dz)(const gd_config *cfg, GD_T *z, int64_t K, GD_T yi, GD_T eps) {
    if (K > 1) return GD_SFX(softmax_dz)(z, K, (int64_t)yi);
    GD_T dz;
    const GD_T li = GD_SFX(loss_dz)(cfg->loss, z[0], yi, eps, &dz);
    z[0] = dz;
    return li;
}
