/* Template over GD_T (gd_each_type.h): per-sample plain SGD on dense rows, one fused pass per
 * row. */

/* Per-sample plain SGD: one fused pass per row (sgd_row_step), always serial: a single
 * row's update is too little work to share, and one code path keeps results independent of
 * n_threads. */
GD_INLINE int GD_SFX(is_fused_sgd)(const gd_config *cfg, int64_t batch_size) {
    return batch_size == 1 && cfg->n_outputs == 1 && !(cfg->clip_norm > 0) &&
           cfg->optimizer == GD_OPT_SGD && cfg->average_start == 0;
}

/* A single-row batch with plain SGD, fused: the row's loss derivative a, then
 * th_j -= lr (a x_j + l2 th_j) in one pass over the row (the general path's operations; the
 * compiler may contract a x_j + l2 th_j into one FMA here, a difference of at most an ulp
 * per step from the general path), then the L1 prox.  Returns the row loss. */
GD_HOT static double GD_SFX(sgd_row_step)(const gd_config *cfg, const GD_T *X, int64_t d,
                                          const GD_T *y, const GD_T *sw, const int64_t *order,
                                          int64_t r, int64_t r_end, int64_t ahead, GD_T *th,
                                          double lr, int *nonfinite) {
    const int64_t i = order ? order[r] : r;
    const GD_T *x = X + i * d;
    if (r + ahead < r_end)
        GD_SFX(prefetch_obs)(X, d, y, sw, order ? order[r + ahead] : r + ahead);
    const GD_T z = GD_SFX(dot_chain)(x, th, d) + th[d];
    GD_T dz;
    const GD_T li = GD_SFX(loss_dz)(cfg->loss, z, y[i], (GD_T)cfg->epsilon, &dz);
    const GD_T wi = sw ? sw[i] : (GD_T)1;
    const double loss = (double)(wi * li);
    if (!isfinite(loss)) {
        *nonfinite = 1;
        return loss;
    }
    const GD_T a = wi * dz, flr = (GD_T)lr, l2 = (GD_T)cfg->l2;
#pragma omp simd
    for (int64_t j = 0; j < d; j++) th[j] -= flr * (a * x[j] + l2 * th[j]);
    if (cfg->fit_intercept) th[d] -= flr * a;
    if (cfg->l1 > 0) {
        const GD_T thr = flr * (GD_T)cfg->l1;
#pragma omp simd
        for (int64_t j = 0; j < d; j++) {
            const GD_T v = GD_FABS(th[j]) - thr;
            th[j] = v > 0 ? (th[j] > 0 ? v : -v) : 0;
        }
    }
    return loss;
}
