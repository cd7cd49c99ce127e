/* CSR epochs: the sparse (O(nnz) per step) path and the gd_*_csr entry points.  Included by
 * gd_kernels_impl.h once per index type with GD_I (int32_t or int64_t) and GD_ISFX(name), inside
 * the instantiation for GD_T.  See gdfast.h (gd_epoch_csr_*) for the contract.
 *
 * Kinds (gd_kernels.c):
 *   GD_SP_SGD   plain SGD.  The coefficients are stored as u with w = P u, where P is the
 *               product of the L2 factors (1 - lr_s l2) over the segment's steps, and the L1
 *               soft-thresholds of the untouched steps are deferred: Q is the running sum of
 *               lr_s l1 / P_s, aux[j] the value of Q when feature j was last brought up to date,
 *               and soft-thresholding u_j by Q - aux[j] applies all of them at once (in u-space
 *               successive thresholds add up).  A step costs O(nnz); P is brought back to 1
 *               (every coefficient materialized, O(d)) at the end of a segment, cut where P
 *               would fall below 1e-9, and at the end of the call.
 *   GD_SP_MOM   momentum / nesterov without L1: aux[j] is the last step feature j is up to
 *               date with; when touched again after k skipped steps, (w, buf) <- M^k (w, buf)
 *               with the one-step map M of a zero data gradient (gd_mpow).  At the end of the
 *               call every feature is caught up.
 *   GD_SP_LAZY  adagrad, rmsprop, adam, adamw with lazy semantics: only the touched features
 *               (and the intercepts) take the step.
 * In every kind a step is: collect the batch's features once each (catching them up), the
 * decision values, the gradient into g[P] (zero outside the touched entries), the update of the
 * touched entries and the intercepts, then g and the flags are cleared over the same entries.
 * (GD_SP_LAZY on one thread, "gin" in sp_worker: the features are collected in the gradient
 * pass, by a mark in each coefficient's own line, which the update writes back.)
 *
 * Hogwild: the batches are dealt round-robin (thread tid runs batches tid, tid + nth, ...,
 * disjoint shards of the order); batch ib is step seg_t0 + ib + 1, as it is serially, which
 * sets the learning rate, the bias corrections, and for GD_SP_SGD the thread's P and Q at that
 * step (it multiplies in the factors of the other threads' steps too).  Threads read and write
 * the shared parameters, moments and aux[] without locks: these races are the algorithm.  When
 * threads stop early (an interrupt), the longest complete prefix of batches is reported, so a
 * resumed epoch skips no row (it repeats the few batches beyond the prefix). */

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
                               * batch gradient, and holds the mark GD_ISFX(lz_mark) between
                               * batches */
    unsigned char *tbase;
    gd_sp_layout L;
    int kind;
    int64_t seg_b0, seg_b1, seg_t0;   /* the segment: batches seg_b0..seg_b1 after step seg_t0 */
    volatile int abort_flag;          /* a thread met a non-finite loss */
} GD_ISFX(sp_ctx);

GD_INLINE void GD_ISFX(sp_soft)(GD_T *th, int64_t K, int64_t d, int64_t j, GD_T thr) {
    for (int64_t k = 0; k < K; k++) {
        const GD_T v = th[k * d + j], a = GD_FABS(v) - thr;
        th[k * d + j] = a > 0 ? (v > 0 ? a : -a) : 0;
    }
}

/* Prefetch along a shuffled order: the CSR arrays, target and weight of the row GD_SP_PF_ROW
 * positions ahead,
 * and the weights (and aux[], for L1) of the row GD_SP_PF_W positions ahead, whose indices
 * were fetched earlier. */
#ifndef GD_SP_PF_ROW
#define GD_SP_PF_ROW 8
#endif
#ifndef GD_SP_PF_W
#define GD_SP_PF_W 3
#endif
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

#ifndef GD_LZ_CH
#define GD_LZ_CH 64   /* lazy steps: touched entries per gathered chunk */
#endif
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

/* The lazy step's mark (see sp_worker, gin): a signalling NaN, which arithmetic never
 * returns (a NaN result is quiet), compared by its bits.  Copies keep its bits where floating
 * point values move through SSE or AVX registers (x86-64) or FP registers (AArch64); 32-bit x87
 * loads would quiet it, so there (GD_LZ_MARK_OK 0) gin is off and the lazy step keeps its sums
 * in the compact array, found through the slots.  (The memcpy sizes are the smaller of the
 * two: each function has a branch per width, one of them dead.) */
#if defined(__i386__) && !defined(__SSE2_MATH__)
#define GD_LZ_MARK_OK 0
#else
#define GD_LZ_MARK_OK 1
#endif
#define GD_MIN_SIZE(a, b) (sizeof(a) < sizeof(b) ? sizeof(a) : sizeof(b))
GD_INLINE GD_T GD_ISFX(lz_mark)(void) {
    GD_T v = 0;
    if (sizeof(GD_T) == 8) {
        const uint64_t b = UINT64_C(0x7ff4000000000001);
        memcpy(&v, &b, GD_MIN_SIZE(v, b));
    } else {
        const uint32_t b = UINT32_C(0x7fa00001);
        memcpy(&v, &b, GD_MIN_SIZE(v, b));
    }
    return v;
}
GD_INLINE int GD_ISFX(is_lz_mark)(GD_T v) {
    if (sizeof(GD_T) == 8) {
        uint64_t b = 0;
        memcpy(&b, &v, GD_MIN_SIZE(v, b));
        return b == UINT64_C(0x7ff4000000000001);
    }
    uint32_t b = 0;
    memcpy(&b, &v, GD_MIN_SIZE(v, b));
    return b == UINT32_C(0x7fa00001);
}
/* v, or +0 where zero is 1, by masking v's bits rather than by a branch */
GD_INLINE GD_T GD_ISFX(zero_if)(GD_T v, int zero) {
    if (sizeof(GD_T) == 8) {
        uint64_t b = 0;
        memcpy(&b, &v, GD_MIN_SIZE(v, b));
        b &= (uint64_t)zero - 1;
        memcpy(&v, &b, GD_MIN_SIZE(v, b));
    } else {
        uint32_t b = 0;
        memcpy(&b, &v, GD_MIN_SIZE(v, b));
        b &= (uint32_t)zero - 1;
        memcpy(&v, &b, GD_MIN_SIZE(v, b));
    }
    return v;
}

/* Four coefficients' [w, s0, s1, s2] (GD_ILV values each in ilv) to and from the lazy step's
 * contiguous arrays w[], s[0..], s[ch..], s[2 ch..]: four vector loads, a 4 x 4 transpose in
 * registers and four vector stores, where the compiler has the shuffle builtin, instead of 16
 * scalar loads and 16 scalar stores (the step's copies were store-bound: lazy Adam 256 on the
 * issue's problem took 13 % less time with these).  The same values move, so the result is
 * the scalar copy's, bit for bit. */
#if defined(__has_builtin)
#if __has_builtin(__builtin_shufflevector)
#define GD_ILV_SHUFFLE 1
#endif
#endif
#ifdef GD_ILV_SHUFFLE
typedef GD_T GD_ISFX(v4) __attribute__((vector_size(4 * sizeof(GD_T))));
/* (skip_s2: s2 is not stored) */
GD_INLINE void GD_ISFX(ilv_gather4)(GD_T *const *vp, GD_T *w, GD_T *s, int64_t ch,
                                    int skip_s2) {
    GD_ISFX(v4) a, b, c, d;
    memcpy(&a, vp[0], sizeof a);
    memcpy(&b, vp[1], sizeof b);
    memcpy(&c, vp[2], sizeof c);
    memcpy(&d, vp[3], sizeof d);
    const GD_ISFX(v4) t0 = __builtin_shufflevector(a, b, 0, 4, 2, 6);   /* a0 b0 a2 b2 */
    const GD_ISFX(v4) t1 = __builtin_shufflevector(a, b, 1, 5, 3, 7);   /* a1 b1 a3 b3 */
    const GD_ISFX(v4) t2 = __builtin_shufflevector(c, d, 0, 4, 2, 6);
    const GD_ISFX(v4) t3 = __builtin_shufflevector(c, d, 1, 5, 3, 7);
    const GD_ISFX(v4) v0 = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);  /* a0 b0 c0 d0 */
    const GD_ISFX(v4) v1 = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);
    const GD_ISFX(v4) v2 = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
    const GD_ISFX(v4) v3 = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
    memcpy(w, &v0, sizeof v0);
    memcpy(s, &v1, sizeof v1);
    memcpy(s + ch, &v2, sizeof v2);
    if (!skip_s2) memcpy(s + 2 * ch, &v3, sizeof v3);
}
/* (mark_s2: s2's place is written as the mark GD_ISFX(lz_mark)) */
GD_INLINE void GD_ISFX(ilv_scatter4)(GD_T *const *vp, const GD_T *w, const GD_T *s, int64_t ch,
                                     int mark_s2) {
    const GD_T mk = GD_ISFX(lz_mark)();
    GD_ISFX(v4) v0, v1, v2, v3 = {mk, mk, mk, mk};
    memcpy(&v0, w, sizeof v0);
    memcpy(&v1, s, sizeof v1);
    memcpy(&v2, s + ch, sizeof v2);
    if (!mark_s2) memcpy(&v3, s + 2 * ch, sizeof v3);
    const GD_ISFX(v4) t0 = __builtin_shufflevector(v0, v2, 0, 1, 4, 5);  /* a0 b0 a2 b2 */
    const GD_ISFX(v4) t2 = __builtin_shufflevector(v0, v2, 2, 3, 6, 7);  /* c0 d0 c2 d2 */
    const GD_ISFX(v4) t1 = __builtin_shufflevector(v1, v3, 0, 1, 4, 5);  /* a1 b1 a3 b3 */
    const GD_ISFX(v4) t3 = __builtin_shufflevector(v1, v3, 2, 3, 6, 7);
    const GD_ISFX(v4) a = __builtin_shufflevector(t0, t1, 0, 4, 2, 6);
    const GD_ISFX(v4) b = __builtin_shufflevector(t0, t1, 1, 5, 3, 7);
    const GD_ISFX(v4) c = __builtin_shufflevector(t2, t3, 0, 4, 2, 6);
    const GD_ISFX(v4) d = __builtin_shufflevector(t2, t3, 1, 5, 3, 7);
    memcpy(vp[0], &a, sizeof a);
    memcpy(vp[1], &b, sizeof b);
    memcpy(vp[2], &c, sizeof c);
    memcpy(vp[3], &d, sizeof d);
}
#endif

/* A lazy call's copies of theta[q] and the state rows st[r P + q] (n_st of them) into the
 * interleaved records ilv[q GD_ILV ..] and back, for q < n; gin: s2's place holds the mark
 * (in) and is not copied back (out).  With three state rows, four records a step through
 * the transposes above (the scalar loops took half the time a lazy Adam call on d = 2^20
 * spent outside its batches). */
GD_HOT static void GD_ISFX(ilv_in)(GD_T *ilv, const GD_T *th, const GD_T *st, int64_t P,
                                   int64_t n, int n_st, int gin) {
    int64_t q = 0;
#ifdef GD_ILV_SHUFFLE
    if (n_st == 3)
        for (; q + 4 <= n; q += 4) {
            GD_T *const vp[4] = {ilv + q * GD_ILV, ilv + (q + 1) * GD_ILV,
                                 ilv + (q + 2) * GD_ILV, ilv + (q + 3) * GD_ILV};
            GD_ISFX(ilv_scatter4)(vp, th + q, st + q, P, gin);
        }
#endif
    for (; q < n; q++) {
        GD_T *v = ilv + q * GD_ILV;
        v[0] = th[q];
        for (int r = 0; r < GD_ILV - 1; r++)
            v[1 + r] = gin && r == 2 ? GD_ISFX(lz_mark)() : r < n_st ? st[r * P + q] : 0;
    }
}

GD_HOT static void GD_ISFX(ilv_out)(const GD_T *ilv, GD_T *th, GD_T *st, int64_t P,
                                    int64_t n, int n_st, int gin) {
    int64_t q = 0;
#ifdef GD_ILV_SHUFFLE
    if (n_st == 3)
        for (; q + 4 <= n; q += 4) {
            GD_T *const vp[4] = {(GD_T *)ilv + q * GD_ILV, (GD_T *)ilv + (q + 1) * GD_ILV,
                                 (GD_T *)ilv + (q + 2) * GD_ILV, (GD_T *)ilv + (q + 3) * GD_ILV};
            GD_ISFX(ilv_gather4)(vp, th + q, st + q, P, gin);
        }
#endif
    for (; q < n; q++) {
        const GD_T *v = ilv + q * GD_ILV;
        th[q] = v[0];
        for (int r = 0; r < n_st; r++)
            if (!(gin && r == 2)) st[r * P + q] = v[1 + r];
    }
}

GD_HOT static void GD_ISFX(sp_worker)(GD_ISFX(sp_ctx) *c, int tid, int nth) {
    const gd_config *cfg = c->cfg;
    const int64_t d = c->d, K = cfg->n_outputs, n_coef = K * d, P = n_coef + K;
    const int kind = c->kind;
    unsigned char *base = c->tbase + (int64_t)tid * c->L.stride;
    gd_sp_thread *ts = (gd_sp_thread *)base;
    GD_T *gc = (GD_T *)(base + c->L.g), *gb = gc + n_coef;   /* compact gradient, intercepts */
    GD_T *zb = (GD_T *)(base + c->L.z);
    int64_t *touched = (int64_t *)(base + c->L.touched);
    int32_t *slot = (int32_t *)(base + c->L.mark);   /* 1 + position in touched, 0: absent */
    /* gin: the gradient of feature j (output k) is summed in place in its line, at
     * ilv[(k d + j) GD_ILV + 3], which holds the mark GD_ISFX(lz_mark) outside a batch: the entry
     * that finds the mark (output 0's) lists j in touched and starts the sums from 0, and the
     * step writes the mark back.  No slot lookups, no bitmap: one line per touched feature. */
    const int gin = c->gin;
    GD_T *ilv = c->ilv;
    /* Hogwild and plain SGD: every step updates the intercepts, so racing read-modify-writes
     * would lose a large share of their updates (the others' lost updates are rare).  Each
     * thread keeps its intercept updates in bpend and adds them atomically every
     * GD_HOG_FLUSH steps; its decision values see the shared value plus its own pending. */
    GD_T *bpend = (GD_T *)(base + c->L.bpend);
    const int pend = nth > 1 && kind == GD_SP_SGD && cfg->fit_intercept;
    for (int64_t k = 0; k < K; k++) bpend[k] = 0;
    GD_T *th = c->theta, *st = c->state;
    double *aux = c->aux;
    const GD_T *data = c->data, *y = c->y, *sw = c->sw;
    const GD_I *ind = c->ind, *ptr = c->ptr;
    const GD_T eps = (GD_T)cfg->epsilon;
    const double l2 = cfg->l2, l1 = cfg->l1;
    const int64_t P_upd = cfg->fit_intercept ? P : n_coef;
    double Pc = 1.0, Qc = 0.0;
    int64_t tau_prev = c->seg_t0;
    GD_SFX(step_consts) sc = {0};
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
        const int64_t m = b1 - b0;
        const double lr = gd_step_lr(cfg, c->lr_epoch, tau);
        if (kind == GD_SP_SGD) {
            /* P and Q at step tau - 1 (the other threads' steps in between included) */
            for (int64_t u = tau_prev + 1; u < tau; u++) {
                const double lu = gd_step_lr(cfg, c->lr_epoch, u);
                Pc *= 1.0 - lu * l2;
                Qc += lu * l1 / Pc;
            }
        } else {
            GD_SFX(step_consts_init)(cfg, &sc, tau, lr);
            if (kind == GD_SP_MOM && ts->mp_lr != lr) {
                mpow_init(&ts->mp, momentum_matrix(cfg, lr));
                ts->mp_lr = lr;
            }
        }
        if (kind == GD_SP_SGD && m == 1 && K == 1 && !(cfg->clip_norm > 0)) {
            /* per-sample SGD fused: the dot product (catching L1 up), then the update, two
             * passes over the row (repeated indices add up in both) */
            const int64_t end = c->start + c->seg_b1 * c->batch_size < c->stop
                                    ? c->start + c->seg_b1 * c->batch_size : c->stop;
            GD_ISFX(sp_prefetch)(c, b0, end, nth, th, l1 > 0);
            const int64_t i = c->order ? c->order[b0] : b0;
            const int64_t lo = (int64_t)ptr[i], hi = (int64_t)ptr[i + 1];
            GD_T acc = 0;
            if (l1 > 0) {
                for (int64_t e = lo; e < hi; e++) {
                    const int64_t j = (int64_t)ind[e];
                    const double thr = Qc - aux[j];
                    if (thr > 0) {
                        GD_ISFX(sp_soft)(th, 1, d, j, (GD_T)thr);
                        aux[j] = Qc;
                    }
                    acc += data[e] * th[j];
                }
            } else {
                for (int64_t e = lo; e < hi; e++) acc += data[e] * th[ind[e]];
            }
            const GD_T z = (GD_T)Pc * acc + th[d] + bpend[0];
            GD_T dz;
            const GD_T li = GD_SFX(loss_dz)(cfg->loss, z, y[i], eps, &dz);
            const GD_T wi = sw ? sw[i] : (GD_T)1;
            const double lrow = (double)(wi * li);
            ts->loss += lrow;
            if (!isfinite(lrow)) {
                ts->status = GD_ERR_NONFINITE;
                ts->done = s + 1;
                c->abort_flag = 1;
                break;
            }
            const GD_T a = wi * dz;
            const double Pn = Pc * (1.0 - lr * l2);
            const GD_T f = (GD_T)(lr / Pn);
            if (a != 0)
                for (int64_t e = lo; e < hi; e++) th[ind[e]] -= f * (a * data[e]);
            if (pend) bpend[0] -= (GD_T)lr * a;
            else if (cfg->fit_intercept) th[d] -= (GD_T)lr * a;
            Pc = Pn;
            Qc += lr * l1 / Pn;
            ts->done = s + 1;
            tau_prev = tau;
            if (pend && (s & (GD_HOG_FLUSH - 1)) == GD_HOG_FLUSH - 1)
                GD_ISFX(sp_flush)(th + n_coef, bpend, K);
            continue;
        }
        /* 1. one pass over the batch's rows, each row read twice while it is in L1: first
         * its new features are collected (touched, slot; brought up to date with step tau - 1
         * on first sight) and its decision values computed, then sw_i * dloss/dz times the row
         * is added to the gradient sums (divided by m below, as the block path does), kept in
         * touched order: gc[q * K + k] for feature touched[q]; rows in order, as the block
         * path sums them.  (gin: the features are collected in the second read, by the mark,
         * and the sums kept in ilv.) */
        int64_t nt = 0;
        double lsum = 0;
        const int64_t r_end = c->start + c->seg_b1 * c->batch_size < c->stop
                                  ? c->start + c->seg_b1 * c->batch_size : c->stop;
        const int with_aux = kind == GD_SP_MOM || (kind == GD_SP_SGD && l1 > 0);
        GD_T *z = zb;
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
                    if (l1 > 0) {
                        const double thr = Qc - aux[j];
                        if (thr > 0) {
                            GD_ISFX(sp_soft)(th, K, d, j, (GD_T)thr);
                            aux[j] = Qc;
                        }
                    }
                } else if (kind == GD_SP_MOM) {
                    /* (under hogwild another thread may have brought j further already: then
                     * it is left as it is, never moved back) */
                    const int64_t kk = (tau - 1) - (int64_t)aux[j];
                    if (kk > 0) {
                        const gd_m2 A = mpow_get(&ts->mp, kk);
                        for (int64_t k = 0; k < K; k++) {
                            const double w = th[k * d + j], b = st[k * d + j];
                            th[k * d + j] = (GD_T)(A.a * w + A.b * b);
                            st[k * d + j] = (GD_T)(A.c * w + A.e * b);
                        }
                        aux[j] = (double)(tau - 1);
                    }
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
                z[k] = (kind == GD_SP_SGD ? (GD_T)Pc * acc : acc) + th[n_coef + k] + bpend[k];
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
                        const int fresh = GD_ISFX(is_lz_mark)(gv);
                        touched[nt] = j;
                        nt += fresh;
                        ilv[j * GD_ILV + 3] = GD_ISFX(zero_if)(gv, fresh) + a * data[e];
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
                    if (GD_ISFX(is_lz_mark)(ilv[j * GD_ILV + 3])) {
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
        ts->loss += lsum;
        if (!isfinite(lsum)) {
            for (int64_t q = 0; q < nt; q++) {
                const int64_t j = touched[q];
                if (gin) {
                    for (int64_t k = 0; k < K; k++)
                        ilv[(k * d + j) * GD_ILV + 3] = GD_ISFX(lz_mark)();
                } else {
                    slot[j] = 0;
                }
            }
            for (int64_t k = 0; k < K; k++) gb[k] = 0;
            ts->status = GD_ERR_NONFINITE;
            ts->done = s + 1;
            c->abort_flag = 1;
            break;
        }
        const GD_T fm = (GD_T)m;
        GD_T gscale = 1;
        if (cfg->clip_norm > 0) {
            double sq = 0;
            for (int64_t q = 0; q < nt * K; q++) {
                const GD_T v = gc[q] / fm;
                sq += (double)(v * v);
            }
            for (int64_t k = 0; k < P_upd - n_coef; k++) {
                const GD_T v = gb[k] / fm;
                sq += (double)(v * v);
            }
            gscale = (GD_T)gd_clip_scale(cfg, sq);
        }
        /* 4. the step on the touched coefficients and the intercepts; g cleared behind */
        if (kind == GD_SP_SGD) {
            const double Pn = Pc * (1.0 - lr * l2);
            const GD_T f = (GD_T)(lr / Pn);
            for (int64_t q = 0; q < nt; q++) {
                const int64_t j = touched[q];
                for (int64_t k = 0; k < K; k++) {
                    GD_T gv = gc[q * K + k] / fm;
                    if (gscale != 1) gv *= gscale;
                    th[k * d + j] -= f * gv;
                }
                slot[j] = 0;
            }
            for (int64_t k = 0; k < K; k++) {
                GD_T gv = gb[k] / fm;
                if (gscale != 1) gv *= gscale;
                if (pend) bpend[k] -= (GD_T)lr * gv;
                else if (cfg->fit_intercept) th[n_coef + k] -= (GD_T)lr * gv;
                gb[k] = 0;
            }
            Pc = Pn;
            Qc += lr * l1 / Pn;
            if (pend && (s & (GD_HOG_FLUSH - 1)) == GD_HOG_FLUSH - 1)
                GD_ISFX(sp_flush)(th + n_coef, bpend, K);
        } else {
            if (ilv) {
                /* lazy: the touched entries (q, k) in touched order, GD_LZ_CH at a time, gathered
                 * from ilv into contiguous arrays, stepped by the dense (vectorized) update loop
                 * and scattered back */
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
                        GD_ISFX(ilv_gather4)(vp + l0, cw + l0, cs + l0, GD_LZ_CH, 0);
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
                    GD_SFX(update_loop_sc)(cfg, &sc, cw, gsrc, cs, GD_LZ_CH, 0, ne, 1);
                    l0 = 0;
#ifdef GD_ILV_SHUFFLE
                    for (; l0 + 4 <= ne; l0 += 4)
                        GD_ISFX(ilv_scatter4)(vp + l0, cw + l0, cs + l0, GD_LZ_CH, gin);
#endif
                    for (int64_t l = l0; l < ne; l++) {
                        GD_T *v = vp[l];
                        v[0] = cw[l];
                        v[1] = cs[l];
                        v[2] = cs[GD_LZ_CH + l];
                        v[3] = gin ? GD_ISFX(lz_mark)() : cs[2 * GD_LZ_CH + l];
                    }
                }
                if (!gin)
                    for (int64_t q = 0; q < nt; q++) slot[touched[q]] = 0;
            } else {
                for (int64_t q = 0; q < nt; q++) {
                    const int64_t j = touched[q];
                    for (int64_t k = 0; k < K; k++) {
                        GD_T gv = gc[q * K + k] / fm;
                        if (gscale != 1) gv *= gscale;
                        GD_SFX(coord_update)(cfg, &sc, th, gv, st, P, k * d + j, 1);
                    }
                    if (kind == GD_SP_MOM && aux[j] < (double)tau) aux[j] = (double)tau;
                    slot[j] = 0;
                }
            }
            for (int64_t k = 0; k < K; k++) {
                GD_T gv = gb[k] / fm;
                if (gscale != 1) gv *= gscale;
                if (cfg->fit_intercept)
                    GD_SFX(coord_update)(cfg, &sc, th, gv, st, P, n_coef + k, 0);
                gb[k] = 0;
            }
            if (kind == GD_SP_MOM && tau == 1 && nth == 1 && l2 != 0) {
                /* torch's first step sets buf = g' (not (1 - dampening) g'): apply it to the
                 * features this batch did not touch too (once per fit, O(d)) */
                for (int64_t j = 0; j < d; j++) {
                    if (aux[j] >= 1) continue;
                    for (int64_t k = 0; k < K; k++)
                        GD_SFX(coord_update)(cfg, &sc, th, 0, st, P, k * d + j, 1);
                    aux[j] = 1;
                }
            }
        }
        ts->done = s + 1;
        tau_prev = tau;
    }
    if (pend) GD_ISFX(sp_flush)(th + n_coef, bpend, K);
    ts->tau = tau_prev;
    ts->P = Pc;
    ts->Q = Qc;
}

/* Bring every coefficient up to date with the scale P and threshold Q of GD_SP_SGD. */
static void GD_ISFX(sp_materialize_sgd)(const gd_config *cfg, GD_T *th, double *aux, int64_t d,
                                        double Pc, double Qc) {
    const int64_t K = cfg->n_outputs;
    const GD_T fP = (GD_T)Pc;
    for (int64_t j = 0; j < d; j++) {
        if (cfg->l1 > 0) {
            const double thr = Qc - aux[j];
            if (thr > 0) GD_ISFX(sp_soft)(th, K, d, j, (GD_T)thr);
            aux[j] = 0;
        }
        if (Pc != 1.0)
            for (int64_t k = 0; k < K; k++) th[k * d + j] *= fP;
    }
}

/* Catch every feature up with step t_end (GD_SP_MOM). */
static void GD_ISFX(sp_catch_up_mom)(const gd_config *cfg, GD_T *th, GD_T *st, double *aux,
                                     int64_t d, int64_t t_end, gd_mpow *mp) {
    const int64_t K = cfg->n_outputs;
    for (int64_t j = 0; j < d; j++) {
        const int64_t kk = t_end - (int64_t)aux[j];
        if (kk <= 0) continue;
        const gd_m2 A = mpow_get(mp, kk);
        for (int64_t k = 0; k < K; k++) {
            const double w = th[k * d + j], b = st[k * d + j];
            th[k * d + j] = (GD_T)(A.a * w + A.b * b);
            st[k * d + j] = (GD_T)(A.c * w + A.e * b);
        }
        aux[j] = (double)t_end;
    }
}

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
    const int64_t head = (int64_t)(wbase - (unsigned char *)sparse_work) + gd_line_up(d * 8) +
                         sp_ilv_bytes(cfg, d);
    const int64_t fit = (sparse_work_bytes - head) / L.stride;
    int nth = sp_n_threads(cfg, n_threads);
    if (fit < 1) return GD_ERR_ARGUMENT;
    if (nth > fit) nth = (int)fit;
    GD_ISFX(sp_ctx) c = {.cfg = cfg, .data = data, .ind = ind, .ptr = ptr, .y = y, .sw = sw,
                         .order = order, .d = d, .start = start, .stop = stop,
                         .batch_size = batch_size, .lr_epoch = lr_epoch, .theta = theta,
                         .state = state, .aux = (double *)wbase,
                         .ilv = ilv_bytes ? (GD_T *)(wbase + gd_line_up(d * 8)) : NULL,
                         .tbase = wbase + gd_line_up(d * 8) + sp_ilv_bytes(cfg, d),
                         .L = L, .kind = kind, .abort_flag = 0};
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
    const int n_st = gd_n_state(cfg->optimizer);
    if (c.ilv) GD_ISFX(ilv_in)(c.ilv, theta, state, P, K * d, n_st, c.gin);
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
            /* the segment ends where the scale would fall below 1e-9 */
            double Ps = 1.0;
            for (e = b; e < n_batches;) {
                Ps *= 1.0 - gd_step_lr(cfg, lr_epoch, t_cur + (e - b) + 1) * cfg->l2;
                e++;
                if (Ps < 1e-9) break;
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
                    const double lu = gd_step_lr(cfg, lr_epoch, u);
                    Pl *= 1.0 - lu * cfg->l2;
                    Ql += lu * cfg->l1 / Pl;
                }
            }
        }
        if (kind == GD_SP_SGD) GD_ISFX(sp_materialize_sgd)(cfg, theta, c.aux, d, Pl, Ql);
        t_cur += done;
        if (tau_max > t_cur) tau_max = t_cur;
        b += done;
        if (kind == GD_SP_MOM) {
            /* the parameters of the last step applied (on a non-finite loss: the ones it saw) */
            gd_sp_thread *t0s = (gd_sp_thread *)c.tbase;
            const int64_t t_end = team == 1 ? t0s->tau : tau_max;
            const double lr_end = gd_step_lr(cfg, lr_epoch, t_end > 0 ? t_end : 1);
            if (t0s->mp_lr != lr_end) {
                mpow_init(&t0s->mp, momentum_matrix(cfg, lr_end));
                t0s->mp_lr = lr_end;
            }
            GD_ISFX(sp_catch_up_mom)(cfg, theta, state, c.aux, d, t_end, &t0s->mp);
        }
    }
    if (c.ilv) GD_ISFX(ilv_out)(c.ilv, theta, state, P, K * d, n_st, c.gin);
    *t = t_cur;
    *loss_out = total;
    return status;
}

/* Which path an epoch takes: -1 for the block path, else a GD_SP_* kind (-2: none can give
 * the semantics asked for: lazy or hogwild with 2^31 - 1 features or more).  Depends on the
 * configuration, the learning rates, the batch size and the data, never on n_threads. */
static int GD_ISFX(csr_kind)(const gd_config *cfg, int64_t n, int64_t d, int64_t nnz,
                             int64_t batch_size, double lr_epoch, int64_t t0,
                             int64_t n_batches) {
    const int opt = cfg->optimizer;
    const int64_t K = cfg->n_outputs, P = K * (d + 1);
    const int64_t row_nnz = nnz / n > 1 ? nnz / n : 1;
    const int dense_batch = batch_size * row_nnz * K >= P;
    const int lazy_or_hog = cfg->sparse_updates == GD_SPARSE_LAZY || cfg->hogwild;
    const int adaptive = opt == GD_OPT_ADAGRAD || opt == GD_OPT_RMSPROP ||
                         opt == GD_OPT_ADAM || opt == GD_OPT_ADAMW;
    if (d >= INT32_MAX)      /* the sparse path's slots are int32: the block path, if exact */
        return (cfg->hogwild || (adaptive && lazy_or_hog)) ? -2 : -1;
    if (adaptive) return lazy_or_hog ? GD_SP_LAZY : -1;
    if (opt == GD_OPT_SGD) {
        /* a step that scales the weights by less than 1/2 (or flips or zeroes them) gains
         * nothing from the scale and could not be held by it: the block path, exact (also
         * under hogwild, which then runs deterministically) */
        const double lr_a = gd_step_lr(cfg, lr_epoch, t0 + 1);
        const double lr_b = gd_step_lr(cfg, lr_epoch, t0 + (n_batches > 0 ? n_batches : 1));
        const double lr_max = lr_a > lr_b ? lr_a : lr_b;
        if (1.0 - lr_max * cfg->l2 < 0.5) return -1;
        if (cfg->hogwild) return GD_SP_SGD;
        return dense_batch ? -1 : GD_SP_SGD;
    }
    /* momentum, nesterov: the closed form needs one learning rate for the whole call */
    if (cfg->hogwild) return GD_SP_MOM;
    if (dense_batch || cfg->l1 > 0 || cfg->schedule != GD_SCHED_CONSTANT) return -1;
    return GD_SP_MOM;
}

int GD_PUB(gd_grad_csr)(const gd_config *cfg, const GD_T *data, const GD_I *indices,
                         const GD_I *indptr, int64_t n, int64_t d, const GD_T *y,
                         const GD_T *sw, const int64_t *rows, int64_t n_rows,
                         const GD_T *theta, GD_T *grad_out, double *loss_out, GD_T *work,
                         int n_threads) {
    GD_SFX(rows_src) src = {.data = data, .ind = indices, .ptr = indptr,
                            .idx64 = sizeof(GD_I) == 8};
    const int64_t nnz = n > 0 ? (int64_t)indptr[n] : 0;
    const int64_t row_work = cfg->n_outputs * (n > 0 && nnz / n > 1 ? nnz / n : 1);
    return GD_SFX(grad_run)(cfg, src, n, d, y, sw, rows, n_rows, theta, grad_out, loss_out,
                            work, row_work, n_threads);
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
    const int kind = GD_ISFX(csr_kind)(cfg, n, d, nnz, batch_size, lr_epoch, *t, n_batches);
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
    return GD_SFX(epoch_run)(cfg, src, n, d, y, sw, order, start, stop, batch_size, lr_epoch,
                             theta, state, t, work, loss_out, row_work, n_threads, NULL);
}
