/* Template over GD_T (gd_each_type.h): the block partials of a batch summed in block order,
 * then scaled (gradient clipping) and stepped; the block losses summed the same way. */

/* The work buffer from its first 64-byte boundary (gd_work_size counts the room for it). */
GD_INLINE GD_T *GD_SFX(work_lines)(GD_T *work) {
    return (GD_T *)(uintptr_t)gd_line_up((int64_t)(uintptr_t)work);
}

/* g[j0..j1) = (sum over blocks of the nb partials at stride apart) / m, summed in block order.
 * g may be parts itself (the sum lands in block 0) or a separate vector: the same operations in
 * the same order, so the same bits. */
GD_INLINE void GD_SFX(reduce_blocks_to)(const GD_T *parts, int64_t stride, int64_t nb, int64_t m,
                                        int64_t j0, int64_t j1, GD_T *g) {
    const GD_T fm = (GD_T)m;
    if (g != parts) {
#pragma omp simd
        for (int64_t j = j0; j < j1; j++) g[j] = parts[j];
    }
    for (int64_t b = 1; b < nb; b++) {
        const GD_T *src = parts + b * stride;
#pragma omp simd
        for (int64_t j = j0; j < j1; j++) g[j] += src[j];
    }
#pragma omp simd
    for (int64_t j = j0; j < j1; j++) g[j] = g[j] / fm;
}

/* reduce_blocks_to into block 0. */
GD_INLINE void GD_SFX(reduce_blocks)(GD_T *work, int64_t stride, int64_t nb, int64_t m,
                                     int64_t j0, int64_t j1) {
    GD_SFX(reduce_blocks_to)(work, stride, nb, m, j0, j1, work);
}

GD_HOT static void GD_SFX(reduce_chunk)(GD_T *work, int64_t stride, int64_t nb, int64_t m,
                                         int64_t j0, int64_t j1) {
    GD_SFX(reduce_blocks)(work, stride, nb, m, j0, j1);
}

/* Entries j0..j1 of one batch: sum the block partials (nb = 1, m = 1: already summed),
 * scale them (gradient clipping), then the optimizer step. */
GD_HOT static void GD_SFX(reduce_update)(const gd_config *cfg, GD_T *work, int64_t stride,
                                         int64_t nb, int64_t m, double scale, GD_T *th,
                                         GD_T *st, int64_t P, int64_t n_coef, int64_t j0,
                                         int64_t j1, int64_t t, double lr) {
    if (nb > 1 || m > 1) GD_SFX(reduce_blocks)(work, stride, nb, m, j0, j1);
    if (scale != 1.0) {
        const GD_T f = (GD_T)scale;
#pragma omp simd
        for (int64_t j = j0; j < j1; j++) work[j] *= f;
    }
    GD_SFX(update_entries)(cfg, th, work, st, P, n_coef, j0, j1, t, lr);
}

/* The sum of squares of g[j0..j1), in index order (the clipping norm of one chunk). */
GD_INLINE GD_T GD_SFX(sumsq)(const GD_T *g, int64_t j0, int64_t j1) {
    GD_T sq = 0;
    for (int64_t j = j0; j < j1; j++) sq += g[j] * g[j];
    return sq;
}

/* Entries j0..j1: sum the block partials into block 0 and return their sum of squares. */
GD_HOT static GD_T GD_SFX(reduce_sumsq)(GD_T *work, int64_t stride, int64_t nb, int64_t m,
                                        int64_t j0, int64_t j1) {
    GD_SFX(reduce_blocks)(work, stride, nb, m, j0, j1);
    return GD_SFX(sumsq)(work, j0, j1);
}

/* Sum of the block losses in block order, and whether any block was interrupted: every
 * thread computes the same values, so all agree on what to do next without a barrier. */
GD_INLINE double GD_SFX(sum_blocks)(const double *block_loss, const int *block_stop, int64_t nb,
                                    int *stopped) {
    double s = 0;
    int any = 0;
    for (int64_t b = 0; b < nb; b++) {
        s += block_loss[b];
        any |= block_stop[b];
    }
    *stopped = any;
    return s;
}
