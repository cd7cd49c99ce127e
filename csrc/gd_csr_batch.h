/* Template over GD_T and GD_I (gd_each_index.h): what the kinds of step of the sparse path of
 * CSR epochs (gd_csr_sparse.h) share.  In every kind a step is: collect the batch's features
 * once each (catching them up, gd_csr_catch_up.h), the decision values, the gradient into
 * g[P] (zero outside the touched entries), the update of the touched entries and the
 * intercepts, then g and the flags are cleared over the same entries.  The first part, one pass
 * over the batch's rows, is sp_rows here; each kind's template (gd_csr_sgd.h,
 * gd_csr_momentum.h, gd_csr_lazy.h) takes its step from there.  (GD_SP_LAZY on one thread,
 * "gin": the features are collected in the gradient pass, by a mark in each coefficient's own
 * line, which the update writes back.) */

typedef struct {
    const gd_config *cfg;
    const GD_T *data;
    const GD_I *ind, *ptr;
    const GD_T *y, *sw;
    const int64_t *order;
    int64_t d, start, stop, batch_size;
    double lr_epoch;
    GD_T *theta, *state;
    double *aux;
    GD_T *ilv;                /* GD_SP_LAZY: [w, s0, s1, s2] per coefficient, or NULL */
    int gin;                  /* one thread, s2 unused, no clipping: s2's place sums the
                               * batch gradient, and holds the mark GD_SFX(lz_mark) between
                               * batches */
    double *avg;              /* GD_SP_SGD averaging: D[K d], then the intercepts' sums; or NULL */
    double avg_C;             /* the sum of the averaged steps' scales P in this segment */
    unsigned char *tbase;
    gd_sp_layout L;
    int kind;
    int64_t seg_b0, seg_b1, seg_t0;   /* the segment: batches seg_b0..seg_b1 after step seg_t0 */
    volatile int abort_flag;          /* a thread met a non-finite loss */
} GD_ISFX(sp_ctx);

/* One thread's part of a segment (gd_csr_epoch.h, sp_run): its region of the work buffer
 * (gd_sp_layout), and what it carries from one of its batches to the next. */
typedef struct {
    gd_sp_thread *ts;         /* its report */
    GD_T *gc, *gb;            /* the batch gradient: the touched features' (compact), the
                               * intercepts' */
    GD_T *zb;                 /* a row's decision values, then sw * dloss/dz */
    int64_t *touched;         /* the features the batch touched, in order */
    int32_t *slot;            /* 1 + position in touched, 0: absent */
    GD_T *bpend;              /* GD_SP_SGD under hogwild: intercept updates not yet added */
    int pend;                 /* bpend is in use */
    int64_t r_end;            /* the end of the segment's positions */
    int64_t tau_prev;         /* the last step it applied */
    double Pc, Qc;            /* GD_SP_SGD: the scale and L1 threshold at step tau_prev */
    GD_SFX(step_consts) sc;   /* the other kinds: the constants of the current step */
} GD_ISFX(sp_thr);

#ifndef GD_SP_PF_ROW
#define GD_SP_PF_ROW 8
#endif
#ifndef GD_SP_PF_W
#define GD_SP_PF_W 3
#endif

/* The first part of a step of kind (a constant) on the rows at positions b0..b1 (step tau): one
 * pass over the batch's rows, each row read twice while it is in L1: first its new features are
 * collected (touched, slot; brought up to date with step tau - 1 on first sight) and its
 * decision values computed, then sw_i * dloss/dz times the row is added to the gradient sums
 * (divided by m by the step, as the block path does), kept in touched order: gc[q * K + k] for
 * feature touched[q]; rows in order, as the block path sums them.  (gin: the features are
 * collected in the second read, by the mark, and the sums kept in ilv.)  Returns the sum of
 * sw_i * loss_i, and stops at the row that makes it non-finite; *nt_out: the features
 * collected. */
GD_INLINE double GD_ISFX(sp_rows)(const GD_ISFX(sp_ctx) *c, GD_ISFX(sp_thr) *w, int kind,
                                  int64_t b0, int64_t b1, int64_t tau, int64_t *nt_out) {
    const gd_config *cfg = c->cfg;
    const int64_t d = c->d, K = cfg->n_outputs, n_coef = K * d;
    GD_T *gc = w->gc, *gb = w->gb, *z = w->zb, *bpend = w->bpend;
    int64_t *touched = w->touched;
    int32_t *slot = w->slot;
    /* (the interleaved records are the lazy kind's, and gin a case of it) */
    GD_T *ilv = kind == GD_SP_LAZY ? c->ilv : NULL;
    const int gin = kind == GD_SP_LAZY && c->gin;
    GD_T *th = c->theta, *st = c->state;
    double *aux = c->aux;
    const GD_T *data = c->data, *y = c->y, *sw = c->sw;
    const GD_I *ind = c->ind, *ptr = c->ptr;
    const GD_T eps = (GD_T)cfg->epsilon;
    const double l1 = cfg->l1;
    const int64_t r_end = w->r_end;
    const int with_aux = kind == GD_SP_MOM || (kind == GD_SP_SGD && l1 > 0);
    int64_t nt = 0;
    double lsum = 0;
    for (int64_t r = b0; r < b1; r++) {
        const int64_t i = c->order ? c->order[r] : r;
        /* along the (shuffled) order, into the next batch: the CSR arrays of the row
         * GD_SP_PF_ROW ahead, the slots and parameters of the row GD_SP_PF_W ahead */
        if (c->order && r + 2 * GD_SP_PF_ROW < r_end) {
            const GD_I *pp = ptr + c->order[r + 2 * GD_SP_PF_ROW];
            gd_prefetch_range(pp, pp + 2);                 /* ptr[i] and ptr[i + 1] */
        }
        if (r + GD_SP_PF_ROW < r_end) {
            const int64_t ia = c->order ? c->order[r + GD_SP_PF_ROW] : r + GD_SP_PF_ROW;
            gd_prefetch_range(ind + ptr[ia], ind + ptr[ia + 1]);
            gd_prefetch_range(data + ptr[ia], data + ptr[ia + 1]);
            GD_PREFETCH(y + ia);
            if (sw) GD_PREFETCH(sw + ia);
        }
        /* the parameters' lines of the row GD_SP_PF_W ahead; with gin and K = 1 spread over
         * the row loop below, one line per entry (a burst of 40 prefetches at the start of a
         * row waited for free miss buffers: 7 % of a lazy Adam 256 epoch) */
        int64_t pw_lo = 0, pw_hi = 0;
        if (gin && K == 1) {
            if (r + GD_SP_PF_W < r_end) {
                const int64_t iw = c->order ? c->order[r + GD_SP_PF_W] : r + GD_SP_PF_W;
                pw_lo = (int64_t)ptr[iw];
                pw_hi = (int64_t)ptr[iw + 1];
            }
        } else if (r + GD_SP_PF_W < r_end) {
            const int64_t iw = c->order ? c->order[r + GD_SP_PF_W] : r + GD_SP_PF_W;
            for (int64_t e = (int64_t)ptr[iw]; e < (int64_t)ptr[iw + 1]; e++) {
                const int64_t j = (int64_t)ind[e];
                if (!gin) GD_PREFETCH(slot + j);
                for (int64_t k = 0; k < K; k++) {
                    if (ilv) {
                        GD_PREFETCH(ilv + (k * d + j) * GD_ILV);
                    } else {
                        GD_PREFETCH(th + k * d + j);
                        if (kind == GD_SP_MOM) GD_PREFETCH(st + k * d + j);
                    }
                }
                if (with_aux) GD_PREFETCH(aux + j);
            }
        }
        const int64_t lo = (int64_t)ptr[i], hi = (int64_t)ptr[i + 1];
        if (gin && K == 1) {
            /* the decision value (the features are collected with the gradient below) */
            GD_T acc = 0;
            for (int64_t e = lo; e < hi; e++, pw_lo++) {
                if (pw_lo < pw_hi) GD_PREFETCH(ilv + (int64_t)ind[pw_lo] * GD_ILV);
                acc += data[e] * ilv[(int64_t)ind[e] * GD_ILV];
            }
            for (; pw_lo < pw_hi; pw_lo++) GD_PREFETCH(ilv + (int64_t)ind[pw_lo] * GD_ILV);
            z[0] = acc + th[n_coef] + bpend[0];
        } else if (!gin) for (int64_t e = lo; e < hi; e++) {
            const int64_t j = (int64_t)ind[e];
            if (slot[j]) continue;
            for (int64_t k = 0; k < K; k++) gc[nt * K + k] = 0;
            touched[nt++] = j;
            slot[j] = (int32_t)nt;
            if (kind == GD_SP_SGD) {
                if (l1 > 0) GD_SFX(sgd_catch_up)(th, K, d, aux, j, w->Qc);
            } else if (kind == GD_SP_MOM) {
                GD_SFX(mom_catch_up)(th, st, aux, K, d, j, tau - 1, &w->ts->mp);
            }
        }
        for (int64_t k = 0; k < (gin && K == 1 ? 0 : K); k++) {   /* (K = 1 gin: above) */
            GD_T acc = 0;
            if (ilv) {
                const GD_T *wk = ilv + k * d * GD_ILV;
                for (int64_t e = lo; e < hi; e++)
                    acc += data[e] * wk[(int64_t)ind[e] * GD_ILV];
            } else {
                const GD_T *wk = th + k * d;
                for (int64_t e = lo; e < hi; e++) acc += data[e] * wk[ind[e]];
            }
            z[k] = (kind == GD_SP_SGD ? (GD_T)w->Pc * acc : acc) + th[n_coef + k] + bpend[k];
        }
        const GD_T wi = sw ? sw[i] : (GD_T)1;
        const GD_T li = GD_SFX(row_loss_dz)(cfg, z, K, y[i], eps);
        lsum += (double)(wi * li);
        if (!isfinite(lsum)) break;
        if (K == 1) {
            const GD_T a = wi * z[0];
            if (gin) {
                /* (a feature's first entry in the batch finds the mark: it is listed, and
                 * its sum starts from 0.  No branch on it: where features repeat within a
                 * batch one mispredicted, and lazy Adam 256 on d = 2^12 took 6.8 ns per
                 * non-zero with the branch against 4.2 without) */
                for (int64_t e = lo; e < hi; e++) {
                    const int64_t j = (int64_t)ind[e];
                    const GD_T gv = ilv[j * GD_ILV + 3];
                    const int fresh = GD_SFX(is_lz_mark)(gv);
                    touched[nt] = j;
                    nt += fresh;
                    ilv[j * GD_ILV + 3] = GD_SFX(zero_if)(gv, fresh) + a * data[e];
                }
            } else {
                for (int64_t e = lo; e < hi; e++) gc[slot[ind[e]] - 1] += a * data[e];
            }
            gb[0] += a;
            continue;
        }
        for (int64_t k = 0; k < K; k++) z[k] *= wi;
        if (gin) {
            for (int64_t e = lo; e < hi; e++) {
                const int64_t j = (int64_t)ind[e];
                if (GD_SFX(is_lz_mark)(ilv[j * GD_ILV + 3])) {
                    touched[nt++] = j;
                    for (int64_t k = 0; k < K; k++) ilv[(k * d + j) * GD_ILV + 3] = 0;
                }
                for (int64_t k = 0; k < K; k++)
                    ilv[(k * d + j) * GD_ILV + 3] += z[k] * data[e];
            }
        } else for (int64_t e = lo; e < hi; e++) {
            GD_T *gq = gc + (int64_t)(slot[ind[e]] - 1) * K;
            for (int64_t k = 0; k < K; k++) gq[k] += z[k] * data[e];
        }
        for (int64_t k = 0; k < K; k++) gb[k] += z[k];
    }
    *nt_out = nt;
    return lsum;
}

/* After sp_rows: add its loss sum lsum to the thread's; when it is not finite, clear the flags
 * and intercept sums of the nt features collected, report GD_ERR_NONFINITE and stop the other
 * threads (returns 1). */
GD_INLINE int GD_ISFX(sp_rows_done)(GD_ISFX(sp_ctx) *c, GD_ISFX(sp_thr) *w, int kind,
                                    double lsum, int64_t nt) {
    const int64_t d = c->d, K = c->cfg->n_outputs;
    GD_T *ilv = c->ilv;
    const int gin = kind == GD_SP_LAZY && c->gin;
    w->ts->loss += lsum;
    if (isfinite(lsum)) return 0;
    for (int64_t q = 0; q < nt; q++) {
        const int64_t j = w->touched[q];
        if (gin) {
            for (int64_t k = 0; k < K; k++) ilv[(k * d + j) * GD_ILV + 3] = GD_SFX(lz_mark)();
        } else {
            w->slot[j] = 0;
        }
    }
    for (int64_t k = 0; k < K; k++) w->gb[k] = 0;
    w->ts->status = GD_ERR_NONFINITE;
    c->abort_flag = 1;
    return 1;
}

/* The clipping factor of the batch gradient: the sums of nt touched features and the
 * intercepts, divided by the fm rows (1 without clipping). */
GD_INLINE GD_T GD_ISFX(sp_clip_scale)(const gd_config *cfg, const GD_ISFX(sp_thr) *w,
                                      int64_t nt, GD_T fm) {
    const int64_t K = cfg->n_outputs;
    GD_T gscale = 1;
    if (cfg->clip_norm > 0) {
        double sq = 0;
        for (int64_t q = 0; q < nt * K; q++) {
            const GD_T v = w->gc[q] / fm;
            sq += (double)(v * v);
        }
        for (int64_t k = 0; k < (cfg->fit_intercept ? K : 0); k++) {
            const GD_T v = w->gb[k] / fm;
            sq += (double)(v * v);
        }
        gscale = (GD_T)gd_clip_scale(cfg, sq);
    }
    return gscale;
}

/* The step of the intercepts (GD_SP_MOM, GD_SP_LAZY: the optimizer's rule, unpenalized), their
 * sums cleared behind. */
GD_INLINE void GD_ISFX(sp_step_intercepts)(const GD_ISFX(sp_ctx) *c, GD_ISFX(sp_thr) *w,
                                           GD_T fm, GD_T gscale) {
    const gd_config *cfg = c->cfg;
    const int64_t K = cfg->n_outputs, n_coef = K * c->d, P = n_coef + K;
    for (int64_t k = 0; k < K; k++) {
        GD_T gv = w->gb[k] / fm;
        if (gscale != 1) gv *= gscale;
        if (cfg->fit_intercept)
            GD_SFX(coord_update)(cfg, &w->sc, c->theta, gv, c->state, P, n_coef + k, 0);
        w->gb[k] = 0;
    }
}
