/* Template over GD_T and GD_I (gd_each_index.h): the step of GD_SP_LAZY, adagrad, rmsprop, adam
 * and adamw in the sparse path of CSR epochs with lazy semantics: only the touched features
 * (and the intercepts) take the step, on the interleaved records of gd_csr_ilv.h. */

#ifndef GD_LZ_CH
#define GD_LZ_CH 64   /* lazy steps: touched entries per gathered chunk */
#endif

/* GD_SP_LAZY's step: the batch at positions b0..b1, step tau, learning rate lr.  The touched
 * entries (q, k) in touched order, GD_LZ_CH at a time, gathered from ilv into contiguous arrays,
 * stepped by the dense (vectorized) update loop and scattered back.  Returns 1 on a non-finite
 * loss. */
GD_INLINE int GD_ISFX(lazy_step)(GD_ISFX(sp_ctx) *c, GD_ISFX(sp_thr) *w, int64_t b0,
                                 int64_t b1, int64_t tau, double lr) {
    const gd_config *cfg = c->cfg;
    const int64_t d = c->d, K = cfg->n_outputs;
    GD_T *ilv = c->ilv, *gc = w->gc;
    const int64_t *touched = w->touched;
    const int gin = c->gin;
    GD_SFX(step_consts_init)(cfg, &w->sc, tau, lr);
    int64_t nt;
    const double lsum = GD_ISFX(sp_rows)(c, w, GD_SP_LAZY, b0, b1, tau, &nt);
    if (GD_ISFX(sp_rows_done)(c, w, GD_SP_LAZY, lsum, nt)) return 1;
    const GD_T fm = (GD_T)(b1 - b0);
    const GD_T gscale = GD_ISFX(sp_clip_scale)(cfg, w, nt, fm);
    const int64_t ne_all = nt * K;
    if (!gin) {
#pragma omp simd
        for (int64_t q = 0; q < ne_all; q++) gc[q] = gc[q] / fm;
        if (gscale != 1) {
#pragma omp simd
            for (int64_t q = 0; q < ne_all; q++) gc[q] *= gscale;
        }
    }
    _Alignas(64) GD_T cw[GD_LZ_CH], cs[3 * GD_LZ_CH], cg[GD_LZ_CH];
    GD_T *vp[GD_LZ_CH];
    /* chunks from the end: the lines the batch read last are the likeliest still in
     * cache (each entry's step is independent of the others', so any order gives the
     * same result) */
    for (int64_t e1 = ne_all; e1 > 0; e1 -= GD_LZ_CH) {
        const int64_t e0 = e1 > GD_LZ_CH ? e1 - GD_LZ_CH : 0, ne = e1 - e0;
        if (K == 1) {
            /* (no prefetch of the next chunk's lines: the out-of-order core
             * overlaps a chunk's loads by itself, and a prefetch loop cost more
             * than it saved: the step took 103 -> 97 ms of a lazy Adam 256 epoch
             * without it, rdtsc around the phases) */
            for (int64_t l = 0; l < ne; l++) vp[l] = ilv + touched[e0 + l] * GD_ILV;
        } else {
            /* the next chunk's lines, fetched while this one is stepped */
            const int64_t pf0 = e0 > GD_LZ_CH ? e0 - GD_LZ_CH : 0;
            for (int64_t l = pf0; l < e0; l++)
                GD_PREFETCH(ilv + ((l % K) * d + touched[l / K]) * GD_ILV);
            int64_t q = e0 / K, k = e0 % K;
            for (int64_t l = 0; l < ne; l++) {
                vp[l] = ilv + (k * d + touched[q]) * GD_ILV;
                if (++k == K) k = 0, q++;
            }
        }
        int64_t l0 = 0;
#ifdef GD_ILV_SHUFFLE
        for (; l0 + 4 <= ne; l0 += 4)
            GD_SFX(ilv_gather4)(vp + l0, cw + l0, cs + l0, GD_LZ_CH, 0);
#endif
        for (int64_t l = l0; l < ne; l++) {
            const GD_T *v = vp[l];
            cw[l] = v[0];
            cs[l] = v[1];
            cs[GD_LZ_CH + l] = v[2];
            cs[2 * GD_LZ_CH + l] = v[3];
        }
        const GD_T *gsrc = gc + e0;
        if (gin) {
            /* the gradient sums sat in s2's place */
#pragma omp simd
            for (int64_t l = 0; l < ne; l++) cg[l] = cs[2 * GD_LZ_CH + l] / fm;
            if (gscale != 1) {
#pragma omp simd
                for (int64_t l = 0; l < ne; l++) cg[l] *= gscale;
            }
            gsrc = cg;
        }
        GD_SFX(update_loop_sc)(cfg, &w->sc, cw, gsrc, cs, GD_LZ_CH, 0, ne, 1);
        l0 = 0;
#ifdef GD_ILV_SHUFFLE
        for (; l0 + 4 <= ne; l0 += 4)
            GD_SFX(ilv_scatter4)(vp + l0, cw + l0, cs + l0, GD_LZ_CH, gin);
#endif
        for (int64_t l = l0; l < ne; l++) {
            GD_T *v = vp[l];
            v[0] = cw[l];
            v[1] = cs[l];
            v[2] = cs[GD_LZ_CH + l];
            v[3] = gin ? GD_SFX(lz_mark)() : cs[2 * GD_LZ_CH + l];
        }
    }
    if (!gin)
        for (int64_t q = 0; q < nt; q++) w->slot[touched[q]] = 0;
    GD_ISFX(sp_step_intercepts)(c, w, fm, gscale);
    return 0;
}
