/* Template over GD_T and GD_I (gd_each_index.h): the step of GD_SP_SGD, plain SGD in the sparse
 * path of CSR epochs, on w = P u with deferred L1 thresholds (gd_csr_sparse.h). */

/* Hogwild and plain SGD: every step updates the intercepts, so racing read-modify-writes
 * would lose a large share of their updates (the others' lost updates are rare).  Each
 * thread keeps its intercept updates in bpend and adds them atomically every
 * GD_HOG_FLUSH steps; its decision values see the shared value plus its own pending. */
#ifndef GD_HOG_FLUSH
#define GD_HOG_FLUSH 32
#endif
/* b[k] += pending[k] atomically (Hogwild's shared intercepts); pending is cleared. */
GD_INLINE void GD_ISFX(sp_flush)(GD_T *b, GD_T *pending, int64_t K) {
    for (int64_t k = 0; k < K; k++) {
        const GD_T v = pending[k];
#pragma omp atomic
        b[k] += v;
        pending[k] = 0;
    }
}

/* Prefetch along a shuffled order: the CSR arrays, target and weight of the row GD_SP_PF_ROW
 * positions ahead, and the weights (and aux[], for L1) of the row GD_SP_PF_W positions ahead,
 * whose indices were fetched earlier. */
GD_INLINE void GD_ISFX(sp_prefetch)(const GD_ISFX(sp_ctx) *c, int64_t r, int64_t r_end,
                                    int64_t stride, const GD_T *th, int with_aux) {
    /* rows r + stride, r + 2 stride, ... are this thread's next per-sample batches */
    const int64_t ra = r + GD_SP_PF_ROW * stride, rw = r + GD_SP_PF_W * stride;
    if (c->order && r + 2 * GD_SP_PF_ROW * stride < r_end) {
        const GD_I *pp = c->ptr + c->order[r + 2 * GD_SP_PF_ROW * stride];
        gd_prefetch_range(pp, pp + 2);                         /* ptr[i] and ptr[i + 1] */
    }
    if (ra < r_end) {
        const int64_t i = c->order ? c->order[ra] : ra;
        const int64_t lo = (int64_t)c->ptr[i], hi = (int64_t)c->ptr[i + 1];
        gd_prefetch_range(c->ind + lo, c->ind + hi);
        gd_prefetch_range(c->data + lo, c->data + hi);
        GD_PREFETCH(c->y + i);
        if (c->sw) GD_PREFETCH(c->sw + i);
    }
    if (rw < r_end) {
        const int64_t i = c->order ? c->order[rw] : rw;
        for (int64_t e = (int64_t)c->ptr[i]; e < (int64_t)c->ptr[i + 1]; e++) {
            GD_PREFETCH(th + c->ind[e]);
            if (with_aux) GD_PREFETCH(c->aux + c->ind[e]);
        }
    }
}

/* The lazy average after an averaged step that scaled the coefficients to Pn (see
 * sp_avg_bytes): the step's scale into C, the intercepts into their sums. */
GD_INLINE void GD_ISFX(sp_avg_step)(GD_ISFX(sp_ctx) *c, double Pn) {
    const int64_t K = c->cfg->n_outputs, n_coef = K * c->d;
    c->avg_C += Pn;
    for (int64_t k = 0; k < K; k++) c->avg[n_coef + k] += (double)c->theta[n_coef + k];
}

/* Per-sample SGD (one row at position b0, one output, no clipping) fused: the dot product
 * (catching L1 up), then the update, two passes over the row (repeated indices add up in
 * both).  nth: the threads dealt batches round-robin; avg: an averaged step.  Returns 1 on a
 * non-finite loss. */
GD_INLINE int GD_ISFX(sgd_row)(GD_ISFX(sp_ctx) *c, GD_ISFX(sp_thr) *w, int nth, int64_t b0,
                               double lr, int avg) {
    const gd_config *cfg = c->cfg;
    const int64_t d = c->d;
    const double l2 = cfg->l2, l1 = cfg->l1;
    GD_T *th = c->theta;
    double *aux = c->aux;
    const GD_T *data = c->data;
    const GD_I *ind = c->ind, *ptr = c->ptr;
    GD_ISFX(sp_prefetch)(c, b0, w->r_end, nth, th, l1 > 0);
    const int64_t i = c->order ? c->order[b0] : b0;
    const int64_t lo = (int64_t)ptr[i], hi = (int64_t)ptr[i + 1];
    GD_T acc = 0;
    if (l1 > 0) {
        for (int64_t e = lo; e < hi; e++) {
            const int64_t j = (int64_t)ind[e];
            GD_SFX(sgd_catch_up)(th, 1, d, aux, j, w->Qc);
            acc += data[e] * th[j];
        }
    } else {
        for (int64_t e = lo; e < hi; e++) acc += data[e] * th[ind[e]];
    }
    const GD_T z = (GD_T)w->Pc * acc + th[d] + w->bpend[0];
    GD_T dz;
    const GD_T li = GD_SFX(loss_dz)(cfg->loss, z, c->y[i], (GD_T)cfg->epsilon, &dz);
    const GD_T wi = c->sw ? c->sw[i] : (GD_T)1;
    const double lrow = (double)(wi * li);
    w->ts->loss += lrow;
    if (!isfinite(lrow)) {
        w->ts->status = GD_ERR_NONFINITE;
        c->abort_flag = 1;
        return 1;
    }
    const GD_T a = wi * dz;
    const double Pn = w->Pc * (1.0 - lr * l2);
    const GD_T f = (GD_T)(lr / Pn);
    if (a != 0 && avg) {
        double *D = c->avg;
        const double C = c->avg_C;
        for (int64_t e = lo; e < hi; e++) {
            const int64_t j = (int64_t)ind[e];
            const GD_T old = th[j];
            th[j] = old - f * (a * data[e]);
            D[j] += ((double)th[j] - (double)old) * C;
        }
    } else if (a != 0) {
        for (int64_t e = lo; e < hi; e++) th[ind[e]] -= f * (a * data[e]);
    }
    if (w->pend) w->bpend[0] -= (GD_T)lr * a;
    else if (cfg->fit_intercept) th[d] -= (GD_T)lr * a;
    if (avg) GD_ISFX(sp_avg_step)(c, Pn);
    w->Pc = Pn;
    w->Qc += lr * l1 / Pn;
    return 0;
}

/* A batch of SGD at positions b0..b1 (step tau): sp_rows, then the step on the touched
 * coefficients and the intercepts, g cleared behind.  Returns 1 on a non-finite loss. */
GD_INLINE int GD_ISFX(sgd_batch)(GD_ISFX(sp_ctx) *c, GD_ISFX(sp_thr) *w, int64_t b0,
                                 int64_t b1, int64_t tau, double lr, int avg) {
    const gd_config *cfg = c->cfg;
    const int64_t d = c->d, K = cfg->n_outputs, n_coef = K * d;
    const double l2 = cfg->l2, l1 = cfg->l1;
    GD_T *th = c->theta, *gc = w->gc, *gb = w->gb;
    int64_t nt;
    const double lsum = GD_ISFX(sp_rows)(c, w, GD_SP_SGD, b0, b1, tau, &nt);
    if (GD_ISFX(sp_rows_done)(c, w, GD_SP_SGD, lsum, nt)) return 1;
    const GD_T fm = (GD_T)(b1 - b0);
    const GD_T gscale = GD_ISFX(sp_clip_scale)(cfg, w, nt, fm);
    const double Pn = w->Pc * (1.0 - lr * l2);
    const GD_T f = (GD_T)(lr / Pn);
    for (int64_t q = 0; q < nt; q++) {
        const int64_t j = w->touched[q];
        for (int64_t k = 0; k < K; k++) {
            GD_T gv = gc[q * K + k] / fm;
            if (gscale != 1) gv *= gscale;
            if (avg) {
                const GD_T old = th[k * d + j];
                th[k * d + j] = old - f * gv;
                c->avg[k * d + j] += ((double)th[k * d + j] - (double)old) * c->avg_C;
            } else {
                th[k * d + j] -= f * gv;
            }
        }
        w->slot[j] = 0;
    }
    for (int64_t k = 0; k < K; k++) {
        GD_T gv = gb[k] / fm;
        if (gscale != 1) gv *= gscale;
        if (w->pend) w->bpend[k] -= (GD_T)lr * gv;
        else if (cfg->fit_intercept) th[n_coef + k] -= (GD_T)lr * gv;
        gb[k] = 0;
    }
    if (avg) GD_ISFX(sp_avg_step)(c, Pn);
    w->Pc = Pn;
    w->Qc += lr * l1 / Pn;
    return 0;
}

/* GD_SP_SGD's step: the batch at positions b0..b1, step tau, learning rate lr, this thread's
 * batch number s (of batches dealt round-robin to nth threads).  Returns 1 on a non-finite
 * loss. */
GD_INLINE int GD_ISFX(sgd_step)(GD_ISFX(sp_ctx) *c, GD_ISFX(sp_thr) *w, int nth, int64_t s,
                                int64_t b0, int64_t b1, int64_t tau, double lr) {
    const gd_config *cfg = c->cfg;
    /* P and Q at step tau - 1 (the other threads' steps in between included) */
    for (int64_t u = w->tau_prev + 1; u < tau; u++) {
        const double lu = step_lr(cfg, c->lr_epoch, u);
        w->Pc *= 1.0 - lu * cfg->l2;
        w->Qc += lu * cfg->l1 / w->Pc;
    }
    const int avg = c->avg && tau >= cfg->average_start;
    const int stop = b1 - b0 == 1 && cfg->n_outputs == 1 && !(cfg->clip_norm > 0)
                         ? GD_ISFX(sgd_row)(c, w, nth, b0, lr, avg)
                         : GD_ISFX(sgd_batch)(c, w, b0, b1, tau, lr, avg);
    if (!stop && w->pend && (s & (GD_HOG_FLUSH - 1)) == GD_HOG_FLUSH - 1)
        GD_ISFX(sp_flush)(c->theta + cfg->n_outputs * c->d, w->bpend, cfg->n_outputs);
    return stop;
}
