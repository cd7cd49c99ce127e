/* Template over GD_T and GD_I (gd_each_index.h): CSR epochs and gradients, gd_epoch_csr_* and
 * gd_grad_csr_* (see gdfast.h for the contract): the choice of path (csr_kind,
 * gd_csr_sparse.h), the block path (gd_block_path.h), and the sparse path's threads and
 * segments, each thread taking its batches' steps of one kind (gd_csr_sgd.h,
 * gd_csr_momentum.h, gd_csr_lazy.h).
 *
 * Hogwild: the batches are dealt round-robin (thread tid runs batches tid, tid + nth, ...,
 * disjoint shards of the order); batch ib is step seg_t0 + ib + 1, as it is serially, which
 * sets the learning rate, the bias corrections, and for GD_SP_SGD the thread's P and Q at that
 * step (it multiplies in the factors of the other threads' steps too).  Threads read and write
 * the shared parameters, moments and aux[] without locks: these races are the algorithm.  When
 * threads stop early (an interrupt), the longest complete prefix of batches is reported, so a
 * resumed epoch skips no row (it repeats the few batches beyond the prefix). */

/* One thread's batches of the segment, with kind's step (a constant). */
GD_INLINE void GD_ISFX(sp_run)(GD_ISFX(sp_ctx) *c, int tid, int nth, int kind) {
    const gd_config *cfg = c->cfg;
    const int64_t K = cfg->n_outputs, n_coef = K * c->d;
    unsigned char *base = c->tbase + (int64_t)tid * c->L.stride;
    GD_ISFX(sp_thr) w = {.ts = (gd_sp_thread *)base, .tau_prev = c->seg_t0, .Pc = 1.0, .Qc = 0.0};
    w.gc = (GD_T *)(base + c->L.g);
    w.gb = w.gc + n_coef;
    w.zb = (GD_T *)(base + c->L.z);
    w.touched = (int64_t *)(base + c->L.touched);
    w.slot = (int32_t *)(base + c->L.mark);
    w.bpend = (GD_T *)(base + c->L.bpend);
    w.pend = nth > 1 && kind == GD_SP_SGD && cfg->fit_intercept;
    for (int64_t k = 0; k < K; k++) w.bpend[k] = 0;
    w.r_end = c->start + c->seg_b1 * c->batch_size < c->stop
                  ? c->start + c->seg_b1 * c->batch_size : c->stop;
    gd_sp_thread *ts = w.ts;
    ts->status = GD_OK;
    ts->loss = 0;
    ts->done = 0;
    /* this thread's batches: seg_b0 + tid, + nth, + 2 nth, ... (round-robin) */
    for (int64_t s = 0, ib = c->seg_b0 + tid; ib < c->seg_b1; s++, ib += nth) {
        if (c->abort_flag) break;
        if (cfg->interruptible && (s & 63) == 0 && gd_interrupt_pending()) {
            ts->status = GD_INTERRUPTED;
            break;
        }
        const int64_t tau = c->seg_t0 + (ib - c->seg_b0) + 1;     /* the batch's serial step */
        const int64_t b0 = c->start + ib * c->batch_size;
        const int64_t b1 = b0 + c->batch_size < c->stop ? b0 + c->batch_size : c->stop;
        const double lr = step_lr(cfg, c->lr_epoch, tau);
        const int stop = kind == GD_SP_SGD ? GD_ISFX(sgd_step)(c, &w, nth, s, b0, b1, tau, lr)
                       : kind == GD_SP_MOM ? GD_ISFX(mom_step)(c, &w, nth, b0, b1, tau, lr)
                                           : GD_ISFX(lazy_step)(c, &w, b0, b1, tau, lr);
        ts->done = s + 1;
        if (stop) break;
        w.tau_prev = tau;
    }
    if (w.pend) GD_ISFX(sp_flush)(c->theta + n_coef, w.bpend, K);
    ts->tau = w.tau_prev;
    ts->P = w.Pc;
    ts->Q = w.Qc;
}

/* sp_run compiled once per kind, so that each has its own code. */
GD_HOT static void GD_ISFX(sp_run_sgd)(GD_ISFX(sp_ctx) *c, int tid, int nth) {
    GD_ISFX(sp_run)(c, tid, nth, GD_SP_SGD);
}
GD_HOT static void GD_ISFX(sp_run_mom)(GD_ISFX(sp_ctx) *c, int tid, int nth) {
    GD_ISFX(sp_run)(c, tid, nth, GD_SP_MOM);
}
GD_HOT static void GD_ISFX(sp_run_lazy)(GD_ISFX(sp_ctx) *c, int tid, int nth) {
    GD_ISFX(sp_run)(c, tid, nth, GD_SP_LAZY);
}
static void GD_ISFX(sp_worker)(GD_ISFX(sp_ctx) *c, int tid, int nth) {
    switch (c->kind) {
    case GD_SP_SGD: GD_ISFX(sp_run_sgd)(c, tid, nth); break;
    case GD_SP_MOM: GD_ISFX(sp_run_mom)(c, tid, nth); break;
    default: GD_ISFX(sp_run_lazy)(c, tid, nth); break;
    }
}

/* The sparse path of a CSR epoch, with steps of kind: its batches in segments (GD_SP_SGD: cut
 * where the scale P would fall below 1e-9, or below GD_AVG_MIN_SCALE at an averaged step,
 * where the lazy mean's sums are written back), each run on one thread, or on nth under
 * hogwild, then the features caught up (gd_csr_catch_up.h). */
static int GD_ISFX(sp_epoch)(const gd_config *cfg, int kind, const GD_T *data, const GD_I *ind,
                             const GD_I *ptr, int64_t d, const GD_T *y, const GD_T *sw,
                             const int64_t *order, int64_t start, int64_t stop,
                             int64_t batch_size, double lr_epoch, GD_T *theta, GD_T *state,
                             int64_t *t, void *sparse_work, int64_t sparse_work_bytes,
                             double *loss_out, int n_threads) {
    const int64_t K = cfg->n_outputs, P = K * (d + 1);
    const gd_sp_layout L = sp_layout(K, d, batch_size);
    unsigned char *wbase = (unsigned char *)gd_line_up((int64_t)(uintptr_t)sparse_work);
    const int64_t ilv_bytes = kind == GD_SP_LAZY ? sp_ilv_bytes(cfg, d) : 0;
    const int64_t avg_bytes = sp_avg_bytes(cfg, d);
    const int64_t head = (int64_t)(wbase - (unsigned char *)sparse_work) + gd_line_up(d * 8) +
                         sp_ilv_bytes(cfg, d) + avg_bytes;
    const int64_t fit = (sparse_work_bytes - head) / L.stride;
    int nth = sp_n_threads(cfg, n_threads);
    if (fit < 1) return GD_ERR_ARGUMENT;
    if (nth > fit) nth = (int)fit;
    GD_ISFX(sp_ctx) c = {.cfg = cfg, .data = data, .ind = ind, .ptr = ptr, .y = y, .sw = sw,
                         .order = order, .d = d, .start = start, .stop = stop,
                         .batch_size = batch_size, .lr_epoch = lr_epoch, .theta = theta,
                         .state = state, .aux = (double *)wbase,
                         .ilv = ilv_bytes ? (GD_T *)(wbase + gd_line_up(d * 8)) : NULL,
                         .avg = kind == GD_SP_SGD && avg_bytes
                                    ? (double *)(wbase + gd_line_up(d * 8) + sp_ilv_bytes(cfg, d))
                                    : NULL,
                         .avg_C = 0,
                         .tbase = wbase + gd_line_up(d * 8) + sp_ilv_bytes(cfg, d) + avg_bytes,
                         .L = L, .kind = kind, .abort_flag = 0};
    /* the lazy average's sums from the mean so far (and its compensation): S = k mean after
     * the k averaged steps before this call, held as D = -S with C = 0 */
    GD_T *avg_mean = state + (int64_t)n_state(cfg->optimizer) * P, *avg_comp = avg_mean + P;
    if (c.avg) {
        const int64_t k_prev = *t - cfg->average_start + 1;
        for (int64_t j = 0; j < P; j++) {
            const double S = k_prev > 0 ? (double)k_prev * ((double)avg_mean[j] -
                                                            (double)avg_comp[j]) : 0.0;
            c.avg[j] = j < K * d ? -S : S;
        }
    }
    /* (gradient clipping needs the compact sums) */
    c.gin = GD_LZ_MARK_OK && c.ilv && nth == 1 && !GD_SFX(uses_s2)(cfg) &&
            !(cfg->clip_norm > 0);
    /* per-sample plain SGD runs the fused row step only, which needs neither the slots nor
     * (without L1) aux: their pages are then never touched */
    const int fused_only = kind == GD_SP_SGD && batch_size == 1 && K == 1 &&
                           !(cfg->clip_norm > 0);
    for (int q = 0; q < nth; q++) {
        unsigned char *b = c.tbase + (int64_t)q * L.stride;
        gd_sp_thread *ts = (gd_sp_thread *)b;
        GD_T *g = (GD_T *)(b + L.g);
        for (int64_t j = K * d; j < P; j++) g[j] = 0;       /* the intercepts' gradient */
        if (!fused_only && !c.gin) memset(b + L.mark, 0, (size_t)d * sizeof(int32_t));
        ts->mp_lr = NAN;
    }
    const int n_st = n_state(cfg->optimizer);
    if (c.ilv) GD_SFX(ilv_in)(c.ilv, theta, state, P, K * d, n_st, c.gin);
    const double aux0 = kind == GD_SP_MOM ? (double)*t : 0.0;
    if (kind == GD_SP_MOM || cfg->l1 > 0)
        for (int64_t j = 0; j < d; j++) c.aux[j] = aux0;

    const int64_t n_batches = (stop - start + batch_size - 1) / batch_size;
    int64_t b = 0, t_cur = *t;
    double total = 0;
    int status = GD_OK;
    while (b < n_batches && status == GD_OK) {
        int64_t e = n_batches;
        if (kind == GD_SP_SGD && cfg->l2 > 0) {
            /* the segment ends where the scale would fall below 1e-9 (at an averaged step:
             * below GD_AVG_MIN_SCALE) */
            double Ps = 1.0;
            for (e = b; e < n_batches;) {
                const int64_t step = t_cur + (e - b) + 1;
                Ps *= 1.0 - step_lr(cfg, lr_epoch, step) * cfg->l2;
                e++;
                if (Ps < (c.avg && step >= cfg->average_start ? GD_AVG_MIN_SCALE : 1e-9)) break;
            }
        }
        c.seg_b0 = b;
        c.seg_b1 = e;
        c.seg_t0 = t_cur;
        for (int q = 0; q < nth; q++) {
            gd_sp_thread *ts = (gd_sp_thread *)(c.tbase + (int64_t)q * L.stride);
            ts->done = 0;
            ts->loss = 0;
            ts->status = GD_OK;
            ts->tau = t_cur;
            ts->P = 1.0;
            ts->Q = 0.0;
        }
        int team = 1;
        if (nth > 1) {
            gd_mark_parallel_used();
            /* the runtime may give fewer threads than asked: the deal and the reports below
             * use the team it gave */
#pragma omp parallel num_threads(nth)
            {
                const int size = gd_num_threads();
                if (gd_thread_num() == 0) team = size;
                GD_ISFX(sp_worker)(&c, gd_thread_num(), size);
            }
        } else {
            GD_ISFX(sp_worker)(&c, 0, 1);
        }
        /* the batches completed: all of them, or (a thread stopped early) the longest prefix
         * of the segment's batches that is complete: the round-robin deal makes it nth times
         * the fewest batches a thread completed, plus the leading threads that did one more */
        int64_t done = 0, min_done = INT64_MAX, tau_max = t_cur;
        double Pl = 1.0, Ql = 0.0;
        for (int q = 0; q < team; q++) {
            const gd_sp_thread *ts = (const gd_sp_thread *)(c.tbase + (int64_t)q * L.stride);
            done += ts->done;
            if (ts->done < min_done) min_done = ts->done;
            total += ts->loss;
            if (ts->status == GD_ERR_NONFINITE || (ts->status != GD_OK && status == GD_OK))
                status = ts->status;
            if (ts->tau > tau_max || q == 0) {
                tau_max = ts->tau;
                Pl = ts->P;
                Ql = ts->Q;
            }
        }
        if (status != GD_OK && team > 1) {
            int64_t prefix = team * min_done;
            for (int q = 0; q < team; q++) {
                const gd_sp_thread *ts = (const gd_sp_thread *)(c.tbase + (int64_t)q * L.stride);
                if (ts->done <= min_done) break;
                prefix++;
            }
            if (prefix > e - b) prefix = e - b;
            done = prefix;
            if (kind == GD_SP_SGD) {
                /* the scale and threshold at the step the epoch resumes from */
                Pl = 1.0;
                Ql = 0.0;
                for (int64_t u = t_cur + 1; u <= t_cur + done; u++) {
                    const double lu = step_lr(cfg, lr_epoch, u);
                    Pl *= 1.0 - lu * cfg->l2;
                    Ql += lu * cfg->l1 / Pl;
                }
            }
        }
        if (c.avg) {             /* S = C u - D into D, before u becomes P u */
            for (int64_t j = 0; j < K * d; j++) c.avg[j] -= c.avg_C * (double)theta[j];
            c.avg_C = 0;
        }
        if (kind == GD_SP_SGD) GD_SFX(sp_materialize_sgd)(cfg, theta, c.aux, d, Pl, Ql);
        t_cur += done;
        if (tau_max > t_cur) tau_max = t_cur;
        b += done;
        if (kind == GD_SP_MOM) {
            /* the parameters of the last step applied (on a non-finite loss: the ones it saw) */
            gd_sp_thread *t0s = (gd_sp_thread *)c.tbase;
            const int64_t t_end = team == 1 ? t0s->tau : tau_max;
            const double lr_end = step_lr(cfg, lr_epoch, t_end > 0 ? t_end : 1);
            if (t0s->mp_lr != lr_end) {
                mpow_init(&t0s->mp, momentum_matrix(cfg, lr_end));
                t0s->mp_lr = lr_end;
            }
            GD_SFX(sp_catch_up_mom)(cfg, theta, state, c.aux, d, t_end, &t0s->mp);
        }
    }
    if (c.ilv) GD_SFX(ilv_out)(c.ilv, theta, state, P, K * d, n_st, c.gin);
    /* a step whose loss was not finite is counted in t but applied nothing (nor to the sums) */
    const int64_t t_applied = status == GD_ERR_NONFINITE ? t_cur - 1 : t_cur;
    if (c.avg && t_applied - cfg->average_start + 1 > 0) {
        const double k_end = (double)(t_applied - cfg->average_start + 1);
        for (int64_t j = 0; j < P; j++) {
            avg_mean[j] = (GD_T)((j < K * d ? -c.avg[j] : c.avg[j]) / k_end);
            avg_comp[j] = 0;
        }
    }
    *t = t_cur;
    *loss_out = total;
    return status;
}

int GD_PUB(gd_grad_csr)(const gd_config *cfg, const GD_T *data, const GD_I *indices,
                         const GD_I *indptr, int64_t n, int64_t d, const GD_T *y,
                         const GD_T *sw, const int64_t *rows, int64_t n_rows,
                         const GD_T *theta, GD_T *grad_out, double *loss_out, GD_T *work,
                         GD_T *rowbuf, int64_t rowbuf_len, int n_threads) {
    GD_SFX(rows_src) src = {.data = data, .ind = indices, .ptr = indptr,
                            .idx64 = sizeof(GD_I) == 8};
    const int64_t nnz = n > 0 ? (int64_t)indptr[n] : 0;
    const int64_t row_work = cfg->n_outputs * (n > 0 && nnz / n > 1 ? nnz / n : 1);
    return GD_SFX(gd_grad_run)(cfg, src, n, d, y, sw, rows, n_rows, theta, grad_out, loss_out,
                               work, rowbuf, rowbuf_len, row_work, n_threads);
}

int GD_PUB(gd_epoch_csr)(const gd_config *cfg, const GD_T *data, const GD_I *indices,
                          const GD_I *indptr, int64_t n, int64_t d, const GD_T *y,
                          const GD_T *sw, const int64_t *order, int64_t start, int64_t stop,
                          int64_t batch_size, double lr_epoch, GD_T *theta, GD_T *state,
                          int64_t *t, GD_T *work, void *sparse_work,
                          int64_t sparse_work_bytes, double *loss_out, int n_threads) {
    int status = check_config(cfg, d);
    if (status != GD_OK) return status;
    if (n < 1 || start < 0 || stop > n || start > stop || batch_size < 1 || n_threads < 1)
        return GD_ERR_ARGUMENT;
    if (cfg->hogwild && cfg->l1 > 0 &&
        (cfg->optimizer == GD_OPT_MOMENTUM || cfg->optimizer == GD_OPT_NESTEROV))
        return GD_ERR_ARGUMENT;
    const int64_t nnz = (int64_t)indptr[n];
    const int64_t n_batches = (stop - start + batch_size - 1) / batch_size;
    const int kind = csr_kind(cfg, n, d, nnz, batch_size, lr_epoch, *t, n_batches);
    if (kind == -2) return GD_ERR_ARGUMENT;
    if (kind >= 0) {
        if (!sparse_work) return GD_ERR_ARGUMENT;
        return GD_ISFX(sp_epoch)(cfg, kind, data, indices, indptr, d, y, sw, order, start, stop,
                                 batch_size, lr_epoch, theta, state, t, sparse_work,
                                 sparse_work_bytes, loss_out, n_threads);
    }
    GD_SFX(rows_src) src = {.data = data, .ind = indices, .ptr = indptr,
                            .idx64 = sizeof(GD_I) == 8};
    const int64_t row_work = cfg->n_outputs * (nnz / n > 1 ? nnz / n : 1) + 1;
    return GD_SFX(gd_epoch_run)(cfg, src, n, d, y, sw, order, start, stop, batch_size,
                                lr_epoch, theta, state, t, work, loss_out, row_work, n_threads,
                                NULL);
}
