/* Kernel template: included by gd_kernels.c once per floating type with
 *   GD_T (float or double), GD_SFX(name) (name_f32 / name_f64) and the math functions
 *   GD_EXP, GD_LOG, GD_SQRT, GD_FABS for that type.
 * Per-element arithmetic is done in GD_T (float32 stays float32), except the logistic loss,
 * evaluated per row in double (gd_logistic) and rounded; losses are summed in double. */

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

/* x . w over d entries: GD_LANES independent partial sums, then a fixed tree (lane l gathers
 * the entries j = l mod GD_LANES; the tree adds lane l + h into lane l for h = 16, 8, ..., 1). */
GD_INLINE GD_T GD_SFX(dot)(const GD_T *x, const GD_T *w, int64_t d) {
    GD_T acc[GD_LANES] = {0};
    int64_t j = 0;
    for (; j + GD_LANES <= d; j += GD_LANES) {
#pragma omp simd
        for (int l = 0; l < GD_LANES; l++) acc[l] += x[j + l] * w[j + l];
    }
    GD_T tail = 0;
    for (; j < d; j++) tail += x[j] * w[j];
    for (int h = GD_LANES / 2; h >= 1; h /= 2)
        for (int l = 0; l < h; l++) acc[l] += acc[l + h];
    return acc[0] + tail;
}

#if defined(__GNUC__) && GD_LANES == 32
/* dot with the 32 lanes as four vectors of eight (GCC's vector extension, lowered to whatever
 * width the target has): the same lanes, the same tree, the same bits.  They stay in registers
 * on the v3 and v4 clones, where GCC kept dot's array on the stack, with a load and a store
 * around each multiply-add and its tree summed through memory (perf annotate put a quarter of
 * block_grad's samples on that scalar tree).  Per-sample step, whose next row waits for this
 * value: 70 -> 53 ns a row in row order.  The four-row loop of block_grad_k1: a gradient over
 * 400 000 rows in order, one thread, 38.8-44.4 -> 34.1 ns a row (two alternating runs each).
 * dot stays for the multi-output rows and the decision values. */
typedef GD_T GD_SFX(v8) __attribute__((vector_size(8 * sizeof(GD_T))));
GD_INLINE GD_SFX(v8) GD_SFX(load8)(const GD_T *p) {
    GD_SFX(v8) v;
    memcpy(&v, p, sizeof v);
    return v;
}
GD_INLINE GD_T GD_SFX(dot_chain)(const GD_T *x, const GD_T *w, int64_t d) {
    GD_SFX(v8) a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    int64_t j = 0;
    for (; j + 32 <= d; j += 32) {
        a0 += GD_SFX(load8)(x + j) * GD_SFX(load8)(w + j);
        a1 += GD_SFX(load8)(x + j + 8) * GD_SFX(load8)(w + j + 8);
        a2 += GD_SFX(load8)(x + j + 16) * GD_SFX(load8)(w + j + 16);
        a3 += GD_SFX(load8)(x + j + 24) * GD_SFX(load8)(w + j + 24);
    }
    GD_T tail = 0;
    for (; j < d; j++) tail += x[j] * w[j];
    a0 += a2;                                     /* h = 16 */
    a1 += a3;
    a0 += a1;                                     /* h = 8 */
    const GD_T t0 = a0[0] + a0[4], t1 = a0[1] + a0[5], t2 = a0[2] + a0[6], t3 = a0[3] + a0[7];
    return ((t0 + t2) + (t1 + t3)) + tail;        /* h = 4, 2, 1 */
}
#else
GD_INLINE GD_T GD_SFX(dot_chain)(const GD_T *x, const GD_T *w, int64_t d) {
    return GD_SFX(dot)(x, w, d);
}
#endif

GD_INLINE void GD_SFX(prefetch_row)(const GD_T *row, int64_t d) {
    int64_t bytes = d * (int64_t)sizeof(GD_T);
    if (bytes > GD_PREFETCH_BYTES) bytes = GD_PREFETCH_BYTES;
    gd_prefetch_range(row, (const char *)row + bytes);
}

/* prefetch_row for row i, with its target and weight (random accesses too, along a shuffled
 * order). */
GD_INLINE void GD_SFX(prefetch_obs)(const GD_T *X, int64_t d, const GD_T *y, const GD_T *sw,
                                    int64_t i) {
    GD_SFX(prefetch_row)(X + i * d, d);
    GD_PREFETCH(y + i);
    if (sw) GD_PREFETCH(sw + i);
}

/* Prefetch the row at position q of the order (order NULL: rows in order) along the thread's
 * stream pf (gd_pf_pos), if any.  Rows in order are prefetched too: the hardware prefetcher
 * alone left a full-batch gradient over 400 000 rows of 128 float64 at 14.7 ms on two threads
 * and 25.7 on one, against 10.2 and 16.1 ms with these prefetches, and numpy's X @ w at 11.4
 * (11 interleaved rounds, medians). */
GD_INLINE void GD_SFX(prefetch_ahead)(const GD_T *X, int64_t d, const GD_T *y, const GD_T *sw,
                                      const int64_t *order, const gd_pf_span *pf, int64_t q) {
    const int64_t p = gd_pf_pos(pf, q);
    if (p >= 0) GD_SFX(prefetch_obs)(X, d, y, sw, order ? order[p] : p);
}

/* The K = 1 case of block_grad, four rows at a time: four dot products and loss derivatives,
 * then one pass g_j += a0 x0_j + a1 x1_j + a2 x2_j + a3 x3_j over the four rows, still in L1
 * (the gradient is loaded and stored once per four rows instead of once per row). */
GD_INLINE double GD_SFX(block_grad_k1)(const gd_config *cfg, const GD_T *X, int64_t d,
                                       const GD_T *y, const GD_T *sw, const int64_t *order,
                                       int64_t r0, int64_t r1, const gd_pf_span *pf,
                                       const GD_T *th, GD_T *g, int *stopped) {
    const GD_T eps = (GD_T)cfg->epsilon, b = th[d];
    double lsum = 0;
    int64_t r = r0;
    if (cfg->interruptible && gd_interrupt_pending()) {     /* every block, however short */
        *stopped = 1;
        return lsum;
    }
    for (; r + 4 <= r1; r += 4) {
        if (cfg->interruptible && r > r0 && ((r - r0) & 1023) == 0 && gd_interrupt_pending()) {
            *stopped = 1;
            return lsum;
        }
        const GD_T *x[4];
        GD_T a[4], zq[4], yq[4], wq[4], lq[4];
        if (pf->shuf && pf->shuf->next < pf->shuf_to) {
            const int64_t to = pf->shuf->next + pf->shuf_per;
            gd_shuffle_to(pf->shuf, pf->shuf_order, to < pf->shuf_to ? to : pf->shuf_to);
        }
        for (int q = 0; q < 4; q++) {
            const int64_t i = order ? order[r + q] : r + q;
            x[q] = X + i * d;
            GD_SFX(prefetch_ahead)(X, d, y, sw, order, pf, r + q + pf->ahead);
            zq[q] = GD_SFX(dot_chain)(x[q], th, d) + b;
            yq[q] = y[i];
            wq[q] = sw ? sw[i] : (GD_T)1;
        }
        GD_SFX(loss_dz4)(cfg->loss, zq, yq, eps, lq, a);
        for (int q = 0; q < 4; q++) {
            lsum += (double)(wq[q] * lq[q]);
            a[q] *= wq[q];
        }
        const GD_T *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
        const GD_T a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
#pragma omp simd
        for (int64_t j = 0; j < d; j++) g[j] += a0 * x0[j] + a1 * x1[j] + a2 * x2[j] + a3 * x3[j];
        g[d] += a0 + a1 + a2 + a3;
    }
    for (; r < r1; r++) {
        const int64_t i = order ? order[r] : r;
        const GD_T *x = X + i * d;
        const GD_T z = GD_SFX(dot)(x, th, d) + b;
        GD_T dz;
        const GD_T li = GD_SFX(loss_dz)(cfg->loss, z, y[i], eps, &dz);
        const GD_T wi = sw ? sw[i] : (GD_T)1;
        lsum += (double)(wi * li);
        const GD_T a0 = wi * dz;
#pragma omp simd
        for (int64_t j = 0; j < d; j++) g[j] += a0 * x[j];
        g[d] += a0;
    }
    return lsum;
}

/* Partial gradient of positions r0..r1 of the row order into g[P] (zeroed here), using
 * g[P..P+K) as scratch; returns sum_i sw_i * loss_i.  One pass over each row: the dot
 * products, the loss derivative and the gradient contribution while the row is in cache.
 * Along the order (shuffled or not), the rows pf->ahead positions ahead along pf are prefetched
 * (prefetch_ahead), and at every block's start every row up to there again: without that, Adam
 * 256 and SGD 32 epochs took about 2 ms more (31 interleaved rounds, 19.6 against 17.4 and
 * 21.1 against 18.8 ms), and with it only at a thread's first block of each batch, Adam 256
 * took 21.9 against 20.7 ms (25 rounds).  Prefetches already in flight or in cache cost little;
 * some issued earlier were evidently no longer either.
 * *stopped is set when an interrupt was pending (cfg->interruptible); the partial is then
 * incomplete and must be discarded. */
GD_HOT static double GD_SFX(block_grad)(const gd_config *cfg, const GD_T *X, int64_t d,
                                        const GD_T *y, const GD_T *sw, const int64_t *order,
                                        int64_t r0, int64_t r1, const gd_pf_span *pf,
                                        const GD_T *th, GD_T *g, int *stopped) {
    const int64_t K = cfg->n_outputs, n_coef = K * d, P = n_coef + K;
    const GD_T eps = (GD_T)cfg->epsilon;
    GD_T *z = g + P;
    double lsum = 0;
    for (int64_t j = 0; j < P; j++) g[j] = 0;
    for (int64_t q = r0; q < r0 + pf->ahead; q++)
        GD_SFX(prefetch_ahead)(X, d, y, sw, order, pf, q);
    *stopped = 0;
    if (K == 1) return GD_SFX(block_grad_k1)(cfg, X, d, y, sw, order, r0, r1, pf, th, g, stopped);
    for (int64_t r = r0; r < r1; r++) {
        /* a pending interrupt is seen at the first row of every block, then every 1024 rows */
        if (cfg->interruptible && (r == r0 || (r & 1023) == 0) && gd_interrupt_pending()) {
            *stopped = 1;
            break;
        }
        const int64_t i = order ? order[r] : r;
        const GD_T *x = X + i * d;
        GD_SFX(prefetch_ahead)(X, d, y, sw, order, pf, r + pf->ahead);
        for (int64_t k = 0; k < K; k++) z[k] = GD_SFX(dot)(x, th + k * d, d) + th[n_coef + k];
        const GD_T wi = sw ? sw[i] : (GD_T)1;
        const GD_T li = GD_SFX(row_loss_dz)(cfg, z, K, y[i], eps);
        lsum += (double)(wi * li);
        for (int64_t k = 0; k < K; k++) {
            const GD_T a = wi * z[k];
            if (a == 0) continue;
            GD_T *gk = g + k * d;
#pragma omp simd
            for (int64_t j = 0; j < d; j++) gk[j] += a * x[j];
            g[n_coef + k] += a;
        }
    }
    return lsum;
}

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

/* Constants of one optimizer step t with learning rate lr. */
typedef struct {
    GD_T flr, l2, l1thr, mu, damp, eps, rho, fb1, fb2, step_size, bc2_sqrt, decay;
    int first, nesterov, centered, use_mom, amsgrad;
} GD_SFX(step_consts);

GD_INLINE void GD_SFX(step_consts_init)(const gd_config *cfg, GD_SFX(step_consts) *sc,
                                         int64_t t, double lr) {
    const int opt = cfg->optimizer;
    sc->flr = (GD_T)lr;
    sc->l2 = opt != GD_OPT_ADAMW ? (GD_T)cfg->l2 : 0;
    sc->l1thr = (GD_T)lr * (GD_T)cfg->l1;
    sc->mu = (GD_T)cfg->momentum;
    sc->damp = 1 - (GD_T)cfg->dampening;
    sc->eps = (GD_T)cfg->eps;
    sc->rho = (GD_T)cfg->rho;
    sc->fb1 = (GD_T)cfg->beta1;
    sc->fb2 = (GD_T)cfg->beta2;
    sc->step_size = sc->bc2_sqrt = 1;
    if (opt == GD_OPT_ADAM || opt == GD_OPT_ADAMW) {
        sc->step_size = (GD_T)(lr / (1.0 - pow(cfg->beta1, (double)t)));
        sc->bc2_sqrt = (GD_T)sqrt(1.0 - pow(cfg->beta2, (double)t));
    }
    sc->decay = opt == GD_OPT_ADAMW ? 1 - (GD_T)lr * (GD_T)cfg->l2 : 1;
    sc->first = t == 1;
    sc->nesterov = opt == GD_OPT_NESTEROV;
    sc->centered = cfg->centered;
    sc->use_mom = cfg->momentum > 0;
    sc->amsgrad = cfg->amsgrad;
}

/* torch.optim's update rules on one coordinate, written once for the dense loop (update_loop)
 * and the sparse path (coord_update_p): w is its value, gj its gradient with the L2 term
 * already added (weight_decay; adamw: the decoupled decay factor instead), s0..s2 its state. */
GD_INLINE void GD_SFX(rule_sgd)(const GD_SFX(step_consts) *sc, GD_T *w, GD_T gj) {
    *w -= sc->flr * gj;
}

GD_INLINE void GD_SFX(rule_momentum)(const GD_SFX(step_consts) *sc, GD_T *w, GD_T gj,
                                     GD_T *s0) {
    const GD_T b = sc->first ? gj : sc->mu * *s0 + sc->damp * gj;
    *s0 = b;
    *w -= sc->flr * (sc->nesterov ? gj + sc->mu * b : b);
}

GD_INLINE void GD_SFX(rule_adagrad)(const GD_SFX(step_consts) *sc, GD_T *w, GD_T gj,
                                    GD_T *s0) {
    *s0 += gj * gj;
    *w -= sc->flr * gj / (GD_SQRT(*s0) + sc->eps);
}

GD_INLINE void GD_SFX(rule_rmsprop)(const GD_SFX(step_consts) *sc, GD_T *w, GD_T gj, GD_T *s0,
                                    GD_T *s1, GD_T *s2) {
    const GD_T rho = sc->rho;
    *s0 = rho * *s0 + (1 - rho) * gj * gj;
    GD_T var = *s0;
    if (sc->centered) {
        *s1 = rho * *s1 + (1 - rho) * gj;
        var = var - *s1 * *s1;
        var = var > 0 ? var : 0;   /* rounding can make it -0.0..01; torch would give NaN */
    }
    const GD_T avg = GD_SQRT(var) + sc->eps;
    if (sc->use_mom) {
        *s2 = sc->mu * *s2 + gj / avg;
        *w -= sc->flr * *s2;
    } else {
        *w -= sc->flr * gj / avg;
    }
}

GD_INLINE void GD_SFX(rule_adam)(const GD_SFX(step_consts) *sc, GD_T decay, GD_T *w, GD_T gj,
                                 GD_T *s0, GD_T *s1, GD_T *s2) {
    *w *= decay;
    *s0 = sc->fb1 * *s0 + (1 - sc->fb1) * gj;
    *s1 = sc->fb2 * *s1 + (1 - sc->fb2) * gj * gj;
    GD_T v = *s1;
    if (sc->amsgrad) {
        *s2 = *s2 > v ? *s2 : v;
        v = *s2;
    }
    *w -= sc->step_size * *s0 / (GD_SQRT(v) / sc->bc2_sqrt + sc->eps);
}

/* Whether the optimizer's rule uses its third state row s2 (rmsprop's momentum buffer,
 * adam's amsgrad maximum). */
GD_INLINE int GD_SFX(uses_s2)(const gd_config *cfg) {
    const int opt = cfg->optimizer;
    return (opt == GD_OPT_RMSPROP && cfg->momentum > 0) ||
           ((opt == GD_OPT_ADAM || opt == GD_OPT_ADAMW) && cfg->amsgrad);
}

/* The L1 proximal step: soft-threshold by thr. */
GD_INLINE void GD_SFX(rule_l1)(GD_T *w, GD_T thr) {
    const GD_T a = GD_FABS(*w) - thr;
    *w = a > 0 ? (*w > 0 ? a : -a) : 0;
}

/* One optimizer step on entries j0..j1, all penalized (pen = 1) or none (pen = 0).
 * The rules are torch.optim's, with weight_decay = l2 (adamw: decoupled decay); the switch on
 * the optimizer is outside the vectorized loops. */
GD_INLINE void GD_SFX(update_loop_sc)(const gd_config *cfg, const GD_SFX(step_consts) *scp,
                                       GD_T *th, const GD_T *g, GD_T *st, int64_t P, int64_t j0,
                                       int64_t j1, int pen) {
    const GD_SFX(step_consts) sc = *scp;
    const GD_T l2 = pen ? sc.l2 : 0, decay = pen ? sc.decay : 1;
    GD_T *s0 = st, *s1 = st + P, *s2 = st + 2 * P;
    switch (cfg->optimizer) {
    case GD_OPT_SGD:
#pragma omp simd
        for (int64_t j = j0; j < j1; j++) GD_SFX(rule_sgd)(&sc, th + j, g[j] + l2 * th[j]);
        break;
    case GD_OPT_MOMENTUM:
    case GD_OPT_NESTEROV:
#pragma omp simd
        for (int64_t j = j0; j < j1; j++)
            GD_SFX(rule_momentum)(&sc, th + j, g[j] + l2 * th[j], s0 + j);
        break;
    case GD_OPT_ADAGRAD:
#pragma omp simd
        for (int64_t j = j0; j < j1; j++)
            GD_SFX(rule_adagrad)(&sc, th + j, g[j] + l2 * th[j], s0 + j);
        break;
    case GD_OPT_RMSPROP:
#pragma omp simd
        for (int64_t j = j0; j < j1; j++)
            GD_SFX(rule_rmsprop)(&sc, th + j, g[j] + l2 * th[j], s0 + j, s1 + j, s2 + j);
        break;
    case GD_OPT_ADAM:
    case GD_OPT_ADAMW:
#pragma omp simd
        for (int64_t j = j0; j < j1; j++)
            GD_SFX(rule_adam)(&sc, decay, th + j, g[j] + l2 * th[j], s0 + j, s1 + j, s2 + j);
        break;
    }
    if (pen && sc.l1thr > 0) {
#pragma omp simd
        for (int64_t j = j0; j < j1; j++) GD_SFX(rule_l1)(th + j, sc.l1thr);
    }
}

/* update_loop_sc at step t with learning rate lr. */
GD_INLINE void GD_SFX(update_loop)(const gd_config *cfg, GD_T *th, const GD_T *g, GD_T *st,
                                int64_t P, int64_t j0, int64_t j1, int pen, int64_t t,
                                double lr) {
    if (j1 <= j0) return;
    GD_SFX(step_consts) sc;
    GD_SFX(step_consts_init)(cfg, &sc, t, lr);
    GD_SFX(update_loop_sc)(cfg, &sc, th, g, st, P, j0, j1, pen);
}

/* One optimizer step on entries j0..j1: the penalized coefficients, then the intercepts. */
GD_INLINE void GD_SFX(update_entries)(const gd_config *cfg, GD_T *th, const GD_T *g, GD_T *st,
                                      int64_t P, int64_t n_coef, int64_t j0, int64_t j1,
                                      int64_t t, double lr) {
    const int64_t jm = j1 < n_coef ? j1 : (j0 > n_coef ? j0 : n_coef);
    GD_SFX(update_loop)(cfg, th, g, st, P, j0, jm, 1, t, lr);
    GD_SFX(update_loop)(cfg, th, g, st, P, jm, j1, 0, t, lr);
}

GD_HOT static void GD_SFX(update_range)(const gd_config *cfg, GD_T *th, const GD_T *g,
                                        GD_T *st, int64_t P, int64_t n_coef, int64_t j0,
                                        int64_t j1, int64_t t, double lr) {
    GD_SFX(update_entries)(cfg, th, g, st, P, n_coef, j0, j1, t, lr);
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

#define GD_I int32_t
#define GD_ISFX(name) GD_SFX(name##_i32)
#include "gd_csr_block.h"
#undef GD_I
#undef GD_ISFX
#define GD_I int64_t
#define GD_ISFX(name) GD_SFX(name##_i64)
#include "gd_csr_block.h"
#undef GD_I
#undef GD_ISFX

/* Where the rows come from: a dense C-contiguous X, or CSR arrays (X == NULL). */
typedef struct {
    const GD_T *X;
    const GD_T *data;
    const void *ind, *ptr;
    int idx64;
} GD_SFX(rows_src);

GD_INLINE double GD_SFX(block_grad_src)(const gd_config *cfg, const GD_SFX(rows_src) *src,
                                        int64_t d, const GD_T *y, const GD_T *sw,
                                        const int64_t *order, int64_t r0, int64_t r1,
                                        const gd_pf_span *pf, const GD_T *th, GD_T *g,
                                        int *stopped) {
    if (src->X)
        return GD_SFX(block_grad)(cfg, src->X, d, y, sw, order, r0, r1, pf, th, g, stopped);
    if (src->idx64)
        return GD_SFX(block_grad_csr_i64)(cfg, src->data, (const int64_t *)src->ind,
                                          (const int64_t *)src->ptr, d, y, sw, order, r0, r1,
                                          th, g, stopped);
    return GD_SFX(block_grad_csr_i32)(cfg, src->data, (const int32_t *)src->ind,
                                      (const int32_t *)src->ptr, d, y, sw, order, r0, r1, th,
                                      g, stopped);
}

typedef struct {
    const gd_config *cfg;
    GD_SFX(rows_src) src;
    const GD_T *y, *sw;
    const int64_t *rows;
    int64_t d, n_rows;
    const GD_T *theta;
    GD_T *grad_out, *work;
    double block_loss[GD_MAX_BLOCKS];
    int block_stop[GD_MAX_BLOCKS];
} GD_SFX(grad_ctx);

static void GD_SFX(grad_worker)(GD_SFX(grad_ctx) *c, int tid, int nth) {
    const int64_t K = c->cfg->n_outputs, P = K * (c->d + 1), stride = gd_block_stride(P, K);
    const int64_t m = c->n_rows, nb = n_blocks(c->cfg, m);
    const int64_t nchunks = (P + GD_CHUNK - 1) / GD_CHUNK;
    const int64_t b_lo = (nb * tid) / nth, b_hi = (nb * (tid + 1)) / nth;
    const gd_pf_span pf = {.stop = (m * b_hi) / nb, .next = m, .end = m,
                           .ahead = gd_pf_ahead(c->d * (int64_t)sizeof(GD_T))};
    for (int64_t b = b_lo; b < b_hi; b++)
        c->block_loss[b] = GD_SFX(block_grad_src)(c->cfg, &c->src, c->d, c->y, c->sw, c->rows,
                                              (m * b) / nb, (m * (b + 1)) / nb, &pf, c->theta,
                                              c->work + b * stride, &c->block_stop[b]);
    if (nth > 1) { GD_BARRIER }
    for (int64_t ch = tid; ch < nchunks; ch += nth) {
        const int64_t j0 = ch * GD_CHUNK, j1 = j0 + GD_CHUNK < P ? j0 + GD_CHUNK : P;
        GD_SFX(reduce_chunk)(c->work, stride, nb, m, j0, j1);
        for (int64_t j = j0; j < j1; j++) c->grad_out[j] = c->work[j];
    }
}

/* The batch gradient of rows from src; row_work: the work of one row (K * d dense, about
 * K * nnz / n for CSR), to decide whether threads pay. */
static int GD_SFX(grad_run)(const gd_config *cfg, GD_SFX(rows_src) src, int64_t n, int64_t d,
                            const GD_T *y, const GD_T *sw, const int64_t *rows, int64_t n_rows,
                            const GD_T *theta, GD_T *grad_out, double *loss_out, GD_T *work,
                            int64_t row_work, int n_threads) {
    int status = check_config(cfg, d);
    if (status != GD_OK) return status;
    if (n < 1 || n_rows < 1 || n_threads < 1) return GD_ERR_ARGUMENT;
    GD_SFX(grad_ctx) c = {.cfg = cfg, .src = src, .y = y, .sw = sw, .rows = rows, .d = d,
                          .n_rows = n_rows, .theta = theta, .grad_out = grad_out,
                          .work = GD_SFX(work_lines)(work)};
    n_threads = cap_threads(n_threads, n_blocks(cfg, n_rows),
                            (cfg->n_outputs * (d + 1) + GD_CHUNK - 1) / GD_CHUNK);
    if (use_threads(n_threads, n_rows * row_work, cfg)) {
        gd_mark_parallel_used();
#pragma omp parallel num_threads(n_threads)
        GD_SFX(grad_worker)(&c, gd_thread_num(), gd_num_threads());
    } else {
        GD_SFX(grad_worker)(&c, 0, 1);
    }
    int stopped;
    *loss_out = GD_SFX(sum_blocks)(c.block_loss, c.block_stop, n_blocks(cfg, n_rows), &stopped);
    return stopped ? GD_INTERRUPTED : GD_OK;
}

int GD_SFX(gd_grad_dense)(const gd_config *cfg, const GD_T *X, int64_t n, int64_t d,
                          const GD_T *y, const GD_T *sw, const int64_t *rows, int64_t n_rows,
                          const GD_T *theta, GD_T *grad_out, double *loss_out, GD_T *work,
                          int n_threads) {
    GD_SFX(rows_src) src = {.X = X};
    return GD_SFX(grad_run)(cfg, src, n, d, y, sw, rows, n_rows, theta, grad_out, loss_out,
                            work, cfg->n_outputs * d, n_threads);
}

typedef struct {
    const gd_config *cfg;
    GD_T *theta, *state;
    const GD_T *grad;
    int64_t P, n_coef, t;
    double lr;
} GD_SFX(update_ctx);

static void GD_SFX(update_worker)(GD_SFX(update_ctx) *c, int tid, int nth) {
    const int64_t nchunks = (c->P + GD_CHUNK - 1) / GD_CHUNK;
    for (int64_t ch = tid; ch < nchunks; ch += nth) {
        const int64_t j0 = ch * GD_CHUNK, j1 = j0 + GD_CHUNK < c->P ? j0 + GD_CHUNK : c->P;
        GD_SFX(update_range)(c->cfg, c->theta, c->grad, c->state, c->P, c->n_coef, j0, j1,
                             c->t, c->lr);
    }
}

int GD_SFX(gd_update)(const gd_config *cfg, GD_T *theta, const GD_T *grad, GD_T *state,
                      int64_t P, int64_t n_coef, int64_t t, double lr, int n_threads) {
    if (gd_n_state(cfg->optimizer) < 0 || P < 1 || n_coef < 0 || n_coef > P || t < 1 ||
        n_threads < 1)
        return GD_ERR_ARGUMENT;
    GD_SFX(update_ctx) c = {.cfg = cfg, .theta = theta, .state = state, .grad = grad, .P = P,
                            .n_coef = n_coef, .t = t, .lr = lr};
    if (use_threads(n_threads, P, cfg)) {
        gd_mark_parallel_used();
#pragma omp parallel num_threads(n_threads)
        GD_SFX(update_worker)(&c, gd_thread_num(), gd_num_threads());
    } else {
        GD_SFX(update_worker)(&c, 0, 1);
    }
    return GD_OK;
}

/* 1 when the n entries of x are all finite.  x - x is +0 for a finite x and NaN for NaN or an
 * infinity, so the sum of those is 0 exactly when all are finite; unlike a sum of the values
 * it cannot overflow.  One sequential read: threads take contiguous ranges of fixed blocks. */
GD_HOT static int GD_SFX(finite_range)(const GD_T *x, int64_t n) {
    GD_T acc[GD_LANES] = {0};
    int64_t j = 0;
    for (; j + GD_LANES <= n; j += GD_LANES) {
#pragma omp simd
        for (int l = 0; l < GD_LANES; l++) acc[l] += x[j + l] - x[j + l];
    }
    GD_T s = 0;
    for (; j < n; j++) s += x[j] - x[j];
    for (int l = 0; l < GD_LANES; l++) s += acc[l];
    return s == 0;
}

int GD_SFX(gd_all_finite)(const GD_T *x, int64_t n, int n_threads) {
    if (n < 0 || (n > 0 && !x) || n_threads < 1) return GD_ERR_ARGUMENT;
    const int64_t nblk = (n + GD_FINITE_BLOCK - 1) / GD_FINITE_BLOCK;
    int bad = 0;
    if (nblk > 1 && threads_pay(n_threads, n, GD_AUX_MIN_WORK)) {
        gd_mark_parallel_used();
#pragma omp parallel for num_threads(n_threads) schedule(static) reduction(| : bad)
        for (int64_t b = 0; b < nblk; b++) {
            const int64_t j0 = b * GD_FINITE_BLOCK;
            const int64_t len = n - j0 < GD_FINITE_BLOCK ? n - j0 : GD_FINITE_BLOCK;
            bad |= !GD_SFX(finite_range)(x + j0, len);
        }
    } else {
        bad = n > 0 && !GD_SFX(finite_range)(x, n);
    }
    return bad ? 0 : 1;
}

/* Decision values z[i K + k] = x_i . w_k + b_k of rows r0..r1 (theta laid out as the kernels'
 * parameters: K rows of d coefficients, then the K intercepts). */
GD_HOT static void GD_SFX(decision_rows)(const GD_T *X, int64_t d, int64_t K, const GD_T *th,
                                         int64_t r0, int64_t r1, GD_T *z) {
    for (int64_t i = r0; i < r1; i++)
        for (int64_t k = 0; k < K; k++)
            z[i * K + k] = GD_SFX(dot)(X + i * d, th + k * d, d) + th[K * d + k];
}

int GD_SFX(gd_decision_dense)(const GD_T *X, int64_t n, int64_t d, int64_t K,
                              const GD_T *theta, GD_T *z, int n_threads) {
    if (n < 0 || d < 1 || K < 1 || n_threads < 1 || (n > 0 && (!X || !theta || !z)))
        return GD_ERR_ARGUMENT;
    const int64_t nblk = (n + GD_DECISION_ROWS - 1) / GD_DECISION_ROWS;
    if (nblk > 1 && threads_pay(n_threads, n * d * K, GD_AUX_MIN_WORK)) {
        gd_mark_parallel_used();
#pragma omp parallel for num_threads(n_threads) schedule(static)
        for (int64_t b = 0; b < nblk; b++) {
            const int64_t r0 = b * GD_DECISION_ROWS;
            const int64_t r1 = n - r0 < GD_DECISION_ROWS ? n : r0 + GD_DECISION_ROWS;
            GD_SFX(decision_rows)(X, d, K, theta, r0, r1, z);
        }
    } else {
        GD_SFX(decision_rows)(X, d, K, theta, 0, n, z);
    }
    return GD_OK;
}

/* Column sums of the rows at positions q0..q1 of order (NULL: rows in order; q0 a multiple of
 * GD_READ_ROWS) into the chunk partials part[(q / GD_READ_ROWS) * stride ..] (zeroed here),
 * prefetching pf_ahead positions ahead up to position q1, the end of the thread's range, as
 * block_grad's row stream does.  An index outside [0, n) is skipped and reported (returns 1). */
GD_HOT static int GD_SFX(read_range)(const GD_T *X, int64_t n, int64_t d, const int64_t *order,
                                     int64_t q0, int64_t q1, int64_t pf_ahead, int64_t stride,
                                     GD_T *part) {
    int bad = 0;
    for (int64_t q = q0; q < q0 + pf_ahead && q < q1; q++) {
        const int64_t i = order ? order[q] : q;
        if ((uint64_t)i < (uint64_t)n) GD_SFX(prefetch_row)(X + i * d, d);
    }
    for (int64_t c = q0 / GD_READ_ROWS; c * GD_READ_ROWS < q1; c++) {   /* q0: a chunk's start */
        const int64_t c0 = c * GD_READ_ROWS;
        const int64_t c1 = c0 + GD_READ_ROWS < q1 ? c0 + GD_READ_ROWS : q1;
        GD_T *acc = part + c * stride;
        for (int64_t j = 0; j < d; j++) acc[j] = 0;
        for (int64_t q = c0; q < c1; q++) {
            if (q + pf_ahead < q1) {
                const int64_t k = order ? order[q + pf_ahead] : q + pf_ahead;
                if ((uint64_t)k < (uint64_t)n) GD_SFX(prefetch_row)(X + k * d, d);
            }
            const int64_t i = order ? order[q] : q;
            if ((uint64_t)i >= (uint64_t)n) {
                bad = 1;
                continue;
            }
            const GD_T *x = X + i * d;
#pragma omp simd
            for (int64_t j = 0; j < d; j++) acc[j] += x[j];
        }
    }
    return bad;
}

int GD_SFX(gd_read_rows_dense)(const GD_T *X, int64_t n, int64_t d, const int64_t *order,
                               int64_t m, GD_T *sums, GD_T *work, int n_threads) {
    if (n < 0 || d < 1 || m < 0 || n_threads < 1 || (n > 0 && !X) || (m > 0 && !work) ||
        !sums || (!order && m > n))
        return GD_ERR_ARGUMENT;
    const int64_t nch = (m + GD_READ_ROWS - 1) / GD_READ_ROWS;
    const int64_t stride = gd_read_rows_stride(d);
    const int64_t pf_ahead = gd_pf_ahead(d * (int64_t)sizeof(GD_T));
    int bad = 0;
    if (nch > 1 && threads_pay(n_threads, m * d, GD_AUX_MIN_WORK)) {
        const int nt = n_threads < nch ? n_threads : (int)nch;
        gd_mark_parallel_used();
#pragma omp parallel num_threads(nt) reduction(| : bad)
        {
            /* contiguous ranges of whole chunks: one prefetch stream per thread */
            const int t = gd_thread_num(), T = gd_num_threads();
            const int64_t q0 = nch * t / T * GD_READ_ROWS;
            const int64_t q1 = nch * (t + 1) / T * GD_READ_ROWS < m
                                   ? nch * (t + 1) / T * GD_READ_ROWS : m;
            if (q0 < q1)
                bad |= GD_SFX(read_range)(X, n, d, order, q0, q1, pf_ahead, stride, work);
        }
    } else if (m > 0) {
        bad = GD_SFX(read_range)(X, n, d, order, 0, m, pf_ahead, stride, work);
    }
    for (int64_t j = 0; j < d; j++) sums[j] = 0;
    for (int64_t c = 0; c < nch; c++)                   /* the chunks in order */
        for (int64_t j = 0; j < d; j++) sums[j] += work[c * stride + j];
    return bad ? GD_ERR_ARGUMENT : GD_OK;
}

/* Per-sample plain SGD: one fused pass per row (gd_sgd_row_step), always serial: a single
 * row's update is too little work to share, and one code path keeps results independent of
 * n_threads. */
GD_INLINE int GD_SFX(is_fused_sgd)(const gd_config *cfg, int64_t batch_size) {
    return batch_size == 1 && cfg->n_outputs == 1 && !(cfg->clip_norm > 0) &&
           cfg->optimizer == GD_OPT_SGD;
}

typedef struct {
    const gd_config *cfg;
    GD_SFX(rows_src) src;
    const GD_T *y, *sw;
    const int64_t *order;
    int64_t *order_w;     /* order, writable, when the epoch draws it as it goes (shuf) */
    gd_shuffle *shuf;
    int64_t d, start, stop, batch_size, t0;
    double lr_epoch;
    GD_T *theta, *state, *work;
    double block_loss[GD_MAX_BLOCKS];
    int block_stop[GD_MAX_BLOCKS];
    gd_team_barrier bar;
    gd_team_flag flags[GD_FLAG_THREADS];     /* epoch_worker_rep's */
    /* written by thread 0 at the end */
    double total;
    int64_t batches_done;
    int status;
} GD_SFX(epoch_ctx);

/* With the shuffle drawn as the epoch goes: the positions fixed before any thread starts the
 * batch at position b0, those its rows and prefetches can reach (this batch, the next one, and
 * up to GD_PREFETCH_MAX_ROWS beyond). */
GD_INLINE int64_t GD_SFX(shuf_need)(const GD_SFX(epoch_ctx) *c, int64_t b0) {
    const int64_t need = b0 + 2 * c->batch_size + GD_PREFETCH_MAX_ROWS;   /* batch_size <= n */
    const int64_t lim = c->stop < c->shuf->n - 1 ? c->stop : c->shuf->n - 1;  /* all at n - 1 */
    return need < lim ? need : lim;
}

/* The rows of the batch at position b0 (0 at the epoch's end). */
GD_INLINE int64_t GD_SFX(batch_rows)(const GD_SFX(epoch_ctx) *c, int64_t b0) {
    return b0 >= c->stop ? 0 : (c->stop - b0 < c->batch_size ? c->stop - b0 : c->batch_size);
}

/* This thread's blocks b_lo..b_hi of the batch at positions b0..b0 + m (nb blocks), with
 * parameters th: block b's partial into parts + b * stride, its loss and stop flag into bl[b],
 * bs[b].  The prefetch stream runs from the end of this thread's share into its share of the
 * next batch, which starts next_off rows into that batch. */
GD_INLINE void GD_SFX(batch_blocks)(const GD_SFX(epoch_ctx) *c, int tid, int nth, int64_t b0,
                                    int64_t m, int64_t nb, int64_t b_lo, int64_t b_hi,
                                    int64_t next_off, const GD_T *th, GD_T *parts, double *bl,
                                    int *bs) {
    const gd_config *cfg = c->cfg;
    const int64_t K = cfg->n_outputs, stride = gd_block_stride(K * (c->d + 1), K);
    gd_pf_span pf = {.stop = b0 + (m * b_hi) / nb, .next = c->stop, .end = c->stop,
                     .ahead = gd_pf_ahead(c->d * (int64_t)sizeof(GD_T))};
    if (c->shuf && tid == 0) {   /* the next batch's positions, between this thread's rows */
        pf.shuf = c->shuf;
        pf.shuf_order = c->order_w;
        pf.shuf_to = GD_SFX(shuf_need)(c, b0 + c->batch_size);
        const int64_t rows0 = (m * b_hi) / nb;   /* thread 0's rows: b_lo = 0 */
        pf.shuf_per = 4 * ((c->batch_size + rows0 - 1) / (rows0 > 0 ? rows0 : 1)) + 2;
    }
    if (c->order && b0 + m < c->stop) pf.next = b0 + m + next_off;
    for (int64_t b = b_lo; b < b_hi; b++)
        bl[b] = GD_SFX(block_grad_src)(cfg, &c->src, c->d, c->y, c->sw, c->order,
                                       b0 + (m * b) / nb, b0 + (m * (b + 1)) / nb, &pf, th,
                                       parts + b * stride, &bs[b]);
}

/* The room epoch_worker_rep takes in the work buffer per thread: its summed gradient, its
 * parameters and its optimizer state, each from a line boundary. */
GD_INLINE int64_t GD_SFX(rep_area)(const gd_config *cfg, int64_t P, int64_t stride) {
    const int64_t st_len = gd_n_state(cfg->optimizer) * P;
    return 2 * stride + (st_len + GD_LINE_ELEMS - 1) / GD_LINE_ELEMS * GD_LINE_ELEMS;
}

/* One step of epoch_worker_rep on this thread's copy (th, st): the partials summed into g,
 * the clipping scale from g's sum of squares, then reduce_update on g as one summed block.
 * epoch_worker's functions in its order (one chunk), so the same bits. */
GD_HOT static void GD_SFX(rep_step)(const gd_config *cfg, const GD_T *parts, int64_t stride,
                                    int64_t nb, int64_t m, GD_T *g, GD_T *th, GD_T *st,
                                    int64_t P, int64_t n_coef, int64_t P_upd, int64_t step,
                                    double lr) {
    GD_SFX(reduce_blocks_to)(parts, stride, nb, m, 0, P_upd, g);
    const double scale =
        cfg->clip_norm > 0 ? gd_clip_scale(cfg, (double)GD_SFX(sumsq)(g, 0, P_upd)) : 1.0;
    GD_SFX(reduce_update)(cfg, g, stride, 1, 1, scale, th, st, P, n_coef, 0, P_upd, step, lr);
}

/* An epoch with the optimizer step replicated on every thread.  When the updated parameters
 * fit one chunk (P <= GD_CHUNK), epoch_worker has one thread take each step while the others
 * wait at a second barrier, after which they read the new parameters from that thread's cache.
 * Here every thread keeps its own copy of the parameters and optimizer state in the work
 * buffer, and after the batch's one meeting (gd_team_arrive_wait: every thread has published
 * batch k), each sums the same partials in the same order (reduce_blocks_to) and takes the
 * same step on its own copy: epoch_worker's operations in its order, so the same bits, with one
 * meeting per batch instead of two barriers (and one before the first batch when the epoch
 * draws its shuffle: thread 0 fixes the first batches' positions).  The partials and block
 * losses alternate between two sets by batch parity: a thread that runs ahead into batch
 * k + 1 writes the set of batch k - 1, which every thread finished reading (in its step of
 * batch k - 1) before it published batch k.  Thread 0's copy is written back at the end. */
static void GD_SFX(epoch_worker_rep)(GD_SFX(epoch_ctx) *c, int tid, int nth, int64_t nb_b,
                                     int64_t area) {
    const gd_config *cfg = c->cfg;
    const int64_t K = cfg->n_outputs, d = c->d, n_coef = K * d, P = n_coef + K;
    const int64_t stride = gd_block_stride(P, K), P_upd = cfg->fit_intercept ? P : n_coef;
    const int64_t n_batches = (c->stop - c->start + c->batch_size - 1) / c->batch_size;
    const int64_t st_len = gd_n_state(cfg->optimizer) * P;
    GD_T *g = c->work + 2 * nb_b * stride + tid * area, *th = g + stride, *st = g + 2 * stride;
    memcpy(th, c->theta, (size_t)P * sizeof(GD_T));
    if (st_len > 0) memcpy(st, c->state, (size_t)st_len * sizeof(GD_T));
    double total = 0;
    int64_t done = 0;
    int status = GD_OK;
    long long k0 = 0;                     /* meetings before the first batch's */
    if (c->shuf) {                        /* the first batches' positions, before any reads */
        if (tid == 0) gd_shuffle_to(c->shuf, c->order_w, GD_SFX(shuf_need)(c, c->start));
        gd_team_arrive_wait(c->flags, tid, nth, ++k0);
    }
    /* the same on every thread: bound, the blocks of batch ib; nbound, those of ib + 1, cut at
     * its start from nxt, the fractions of the rows before each thread's share of batch
     * ib + 1 (and after the meeting, of ib + 2).  Even until gd_share_learn has measured every
     * thread, and kept even where a batch has no more blocks than threads (nothing to move) */
    const int balance = nb_b > nth && cfg->share == GD_SHARE_MEASURED;
    double est[GD_FLAG_THREADS], busy[GD_FLAG_THREADS], nxt[GD_FLAG_THREADS + 1];
    int64_t bound[GD_FLAG_THREADS + 1], nbound[GD_FLAG_THREADS + 1], rows[GD_FLAG_THREADS];
    for (int t = 0; t <= nth; t++) {
        nxt[t] = (double)t / nth;
        if (t < nth) est[t] = 0;
    }
    gd_share_bounds(nxt, nth, n_blocks(cfg, GD_SFX(batch_rows)(c, c->start)), bound);
    double t_free = balance ? gd_ticks() : 0;   /* when this thread left the last meeting */
    for (int64_t ib = 0; ib < n_batches; ib++) {
        const int64_t b0 = c->start + ib * c->batch_size, m = GD_SFX(batch_rows)(c, b0);
        const int64_t nb = n_blocks(cfg, m), step = c->t0 + ib + 1, set = ib & 1;
        GD_T *parts = c->work + set * nb_b * stride;
        double *bl = c->block_loss + set * nb_b;
        int *bs = c->block_stop + set * nb_b;
        const int64_t m1 = GD_SFX(batch_rows)(c, b0 + m), nb1 = n_blocks(cfg, m1);
        if (m1 > 0) gd_share_bounds(nxt, nth, nb1, nbound);
        GD_SFX(batch_blocks)(c, tid, nth, b0, m, nb, bound[tid], bound[tid + 1],
                             m1 > 0 ? (m1 * nbound[tid]) / nb1 : 0, th, parts, bl, bs);
        if (c->shuf && tid == 0)          /* what the rows left undone */
            gd_shuffle_to(c->shuf, c->order_w, GD_SFX(shuf_need)(c, b0 + c->batch_size));
        const long long k = k0 + ib + 1;
        if (balance) c->flags[tid].busy[k & 1] = gd_ticks() - t_free;
        gd_team_arrive_wait(c->flags, tid, nth, k);
        if (balance) {
            t_free = gd_ticks();
            for (int t = 0; t < nth; t++) {
                rows[t] = (m * bound[t + 1]) / nb - (m * bound[t]) / nb;
                busy[t] = c->flags[t].busy[k & 1];
            }
            gd_share_learn(busy, rows, nth, est, nxt);
        } else if (cfg->share == GD_SHARE_SKEWED) {   /* batch ib + 2: one block to thread 0 or
                                                       * to the last thread (nth > 1 here) */
            for (int t = 0; t <= nth; t++)
                nxt[t] = (ib & 1) ? (t == 0 ? 0 : (double)(t - 1) / (nth - 1))
                                  : (t == nth ? 1 : (double)t / (nth - 1));
        }
        if (m1 > 0) memcpy(bound, nbound, (size_t)(nth + 1) * sizeof(int64_t));
        int stopped;
        const double s = GD_SFX(sum_blocks)(bl, bs, nb, &stopped);
        if (stopped) { status = GD_INTERRUPTED; break; }
        total += s;
        if (!isfinite(s)) { status = GD_ERR_NONFINITE; done = ib + 1; break; }
        GD_SFX(rep_step)(cfg, parts, stride, nb, m, g, th, st, P, n_coef, P_upd, step,
                         gd_step_lr(cfg, c->lr_epoch, step));
        done = ib + 1;
    }
    if (tid == 0) {
        if (n_batches > 0) {     /* every thread has passed a meeting, so has its copy */
            memcpy(c->theta, th, (size_t)P * sizeof(GD_T));
            if (st_len > 0) memcpy(c->state, st, (size_t)st_len * sizeof(GD_T));
        }
        c->total = total;
        c->batches_done = done;
        c->status = status;
    }
}

/* One thread's share of an epoch.  Every thread walks all batches; each takes a contiguous
 * range of blocks (one memory stream per thread) and parameter chunks round-robin; the block
 * partials are summed in block order, whichever thread computed them.  Every
 * decision (non-finite loss, interrupt, clipping scale) is computed by every thread from the
 * same shared values after a barrier, so all threads take the same branch. */
static void GD_SFX(epoch_worker)(GD_SFX(epoch_ctx) *c, int tid, int nth) {
    const gd_config *cfg = c->cfg;
    const int64_t K = cfg->n_outputs, d = c->d, n_coef = K * d, P = n_coef + K;
    const int64_t stride = gd_block_stride(P, K), P_upd = cfg->fit_intercept ? P : n_coef;
    const int64_t n_batches = (c->stop - c->start + c->batch_size - 1) / c->batch_size;
    const int64_t nchunks = (P_upd + GD_CHUNK - 1) / GD_CHUNK;
    const int clip = cfg->clip_norm > 0;
    GD_T *chunk_sq = c->work + cfg->max_blocks * stride;    /* nchunks sums of squares */
    double total = 0;
    int64_t done = 0;
    int status = GD_OK, sense = 0;
    if (nth > 1 && nth <= GD_FLAG_THREADS && nchunks == 1) {
        const int64_t nb_b = n_blocks(cfg, c->batch_size), area = GD_SFX(rep_area)(cfg, P, stride);
        if (2 * nb_b * stride + nth * area <= cfg->max_blocks * stride) {
            GD_SFX(epoch_worker_rep)(c, tid, nth, nb_b, area);
            return;
        }
    }
    if (c->shuf && nth > 1) {            /* shared steps: the whole order first */
        if (tid == 0) gd_shuffle_to(c->shuf, c->order_w, c->stop);
        gd_team_wait(&c->bar, nth, &sense);
    }
    /* per-sample plain SGD runs through the fused row step (never in a parallel region) */
    const int fused_sgd = c->src.X && GD_SFX(is_fused_sgd)(cfg, c->batch_size);
    const int64_t pf_ahead = gd_pf_ahead(d * (int64_t)sizeof(GD_T));
    for (int64_t ib = 0; ib < n_batches; ib++) {
        const int64_t b0 = c->start + ib * c->batch_size;
        const int64_t m = GD_SFX(batch_rows)(c, b0), nb = n_blocks(cfg, m), step = c->t0 + ib + 1;
        if (c->shuf && nth == 1) gd_shuffle_to(c->shuf, c->order_w, GD_SFX(shuf_need)(c, b0));
        if (fused_sgd) {
            if (cfg->interruptible && (ib & 1023) == 0 && gd_interrupt_pending()) {
                status = GD_INTERRUPTED;
                break;
            }
            int nonfinite = 0;
            total += GD_SFX(sgd_row_step)(cfg, c->src.X, d, c->y, c->sw, c->order, b0, c->stop,
                                          pf_ahead, c->theta,
                                          gd_step_lr(cfg, c->lr_epoch, step), &nonfinite);
            done = ib + 1;
            if (nonfinite) { status = GD_ERR_NONFINITE; break; }
            continue;
        }
        const int64_t m1 = GD_SFX(batch_rows)(c, b0 + m), nb1 = n_blocks(cfg, m1);
        GD_SFX(batch_blocks)(c, tid, nth, b0, m, nb, (nb * tid) / nth, (nb * (tid + 1)) / nth,
                             (m1 * ((nb1 * tid) / nth)) / nb1, c->theta, c->work, c->block_loss,
                             c->block_stop);
        if (nth > 1) gd_team_wait(&c->bar, nth, &sense);
        int stopped;
        const double s = GD_SFX(sum_blocks)(c->block_loss, c->block_stop, nb, &stopped);
        if (stopped) { status = GD_INTERRUPTED; break; }
        total += s;
        if (!isfinite(s)) { status = GD_ERR_NONFINITE; done = ib + 1; break; }
        const double lr = gd_step_lr(cfg, c->lr_epoch, step);
        double scale = 1.0;
        if (clip) {
            for (int64_t ch = tid; ch < nchunks; ch += nth) {
                const int64_t j0 = ch * GD_CHUNK;
                const int64_t j1 = j0 + GD_CHUNK < P_upd ? j0 + GD_CHUNK : P_upd;
                chunk_sq[ch] = GD_SFX(reduce_sumsq)(c->work, stride, nb, m, j0, j1);
            }
            if (nth > 1) gd_team_wait(&c->bar, nth, &sense);
            double sq = 0;
            for (int64_t ch = 0; ch < nchunks; ch++) sq += (double)chunk_sq[ch];
            scale = gd_clip_scale(cfg, sq);
        }
        for (int64_t ch = tid; ch < nchunks; ch += nth) {
            const int64_t j0 = ch * GD_CHUNK;
            const int64_t j1 = j0 + GD_CHUNK < P_upd ? j0 + GD_CHUNK : P_upd;
            GD_SFX(reduce_update)(cfg, c->work, stride, clip ? 1 : nb, clip ? 1 : m, scale,
                                  c->theta, c->state, P, n_coef, j0, j1, step, lr);
        }
        done = ib + 1;
        if (nth > 1) gd_team_wait(&c->bar, nth, &sense);
    }
    if (tid == 0) {
        c->total = total;
        c->batches_done = done;
        c->status = status;
    }
}

/* The block path of an epoch over rows from src (row_work as in grad_run). */
static int GD_SFX(epoch_run)(const gd_config *cfg, GD_SFX(rows_src) src, int64_t n, int64_t d,
                             const GD_T *y, const GD_T *sw, const int64_t *order,
                             int64_t start, int64_t stop, int64_t batch_size, double lr_epoch,
                             GD_T *theta, GD_T *state, int64_t *t, GD_T *work,
                             double *loss_out, int64_t row_work, int n_threads,
                             gd_shuffle *shuf) {
    int status = check_config(cfg, d);
    if (status != GD_OK) return status;
    if (n < 1 || start < 0 || stop > n || start > stop || batch_size < 1 || n_threads < 1)
        return GD_ERR_ARGUMENT;
    if (shuf && (!order || !gd_shuffle_valid(shuf, n) || batch_size > n))
        return GD_ERR_ARGUMENT;
    /* with shuf, order is the caller's writable buffer (gd_epoch_dense_shuffled's int64_t *) */
    GD_SFX(epoch_ctx) c = {.cfg = cfg, .src = src, .y = y, .sw = sw, .order = order,
                           .order_w = shuf ? (int64_t *)(uintptr_t)order : NULL, .shuf = shuf,
                           .d = d,
                           .start = start, .stop = stop, .batch_size = batch_size, .t0 = *t,
                           .lr_epoch = lr_epoch, .theta = theta, .state = state,
                           .work = GD_SFX(work_lines)(work)};
    gd_team_barrier_init(&c.bar);
    gd_team_flags_init(c.flags, GD_FLAG_THREADS);
    const int fused = src.X && GD_SFX(is_fused_sgd)(cfg, batch_size);
    const int64_t K = cfg->n_outputs, P_upd = cfg->fit_intercept ? K * (d + 1) : K * d;
    const int64_t nch = (P_upd + GD_CHUNK - 1) / GD_CHUNK;
    n_threads = cap_threads(n_threads, n_blocks(cfg, batch_size), nch);
    /* dense rows in order: each thread's share of a batch at least 2 min_parallel_work */
    if (!order && src.X && nch == 1 && cfg->min_parallel_work > 0) {
        const int64_t cap = batch_size * row_work / 2 / cfg->min_parallel_work;
        if (cap < n_threads) n_threads = cap > 1 ? (int)cap : 1;
    }
    if (!fused && use_threads(n_threads, batch_size * row_work, cfg)) {
        gd_mark_parallel_used();
#pragma omp parallel num_threads(n_threads)
        GD_SFX(epoch_worker)(&c, gd_thread_num(), gd_num_threads());
    } else {
        GD_SFX(epoch_worker)(&c, 0, 1);
    }
    *loss_out = c.total;
    *t = c.t0 + c.batches_done;
    return c.status;
}

int GD_SFX(gd_epoch_dense)(const gd_config *cfg, const GD_T *X, int64_t n, int64_t d,
                           const GD_T *y, const GD_T *sw, const int64_t *order,
                           int64_t start, int64_t stop, int64_t batch_size, double lr_epoch,
                           GD_T *theta, GD_T *state, int64_t *t, GD_T *work,
                           double *loss_out, int n_threads) {
    GD_SFX(rows_src) src = {.X = X};
    return GD_SFX(epoch_run)(cfg, src, n, d, y, sw, order, start, stop, batch_size, lr_epoch,
                             theta, state, t, work, loss_out, cfg->n_outputs * d, n_threads,
                             NULL);
}

int GD_SFX(gd_epoch_dense_shuffled)(const gd_config *cfg, const GD_T *X, int64_t n, int64_t d,
                                    const GD_T *y, const GD_T *sw, int64_t *order,
                                    gd_shuffle *shuf, int64_t start, int64_t stop,
                                    int64_t batch_size, double lr_epoch, GD_T *theta,
                                    GD_T *state, int64_t *t, GD_T *work, double *loss_out,
                                    int n_threads) {
    if (!order || !shuf) return GD_ERR_ARGUMENT;
    GD_SFX(rows_src) src = {.X = X};
    return GD_SFX(epoch_run)(cfg, src, n, d, y, sw, order, start, stop, batch_size, lr_epoch,
                             theta, state, t, work, loss_out, cfg->n_outputs * d, n_threads,
                             shuf);
}

/* ---- the sparse (O(nnz)) path of CSR epochs ------------------------------------------------ */

/* update_loop for one coordinate (pen: penalized or not), gradient value gv: its value *w and
 * its optimizer state *s0, *s1, *s2 (those the optimizer has). */
GD_INLINE void GD_SFX(coord_update_p)(const gd_config *cfg, const GD_SFX(step_consts) *sc,
                                      GD_T *w, GD_T gv, GD_T *s0, GD_T *s1, GD_T *s2,
                                      int pen) {
    const GD_T gj = gv + (pen ? sc->l2 : 0) * *w;
    switch (cfg->optimizer) {
    case GD_OPT_SGD: GD_SFX(rule_sgd)(sc, w, gj); break;
    case GD_OPT_MOMENTUM:
    case GD_OPT_NESTEROV: GD_SFX(rule_momentum)(sc, w, gj, s0); break;
    case GD_OPT_ADAGRAD: GD_SFX(rule_adagrad)(sc, w, gj, s0); break;
    case GD_OPT_RMSPROP: GD_SFX(rule_rmsprop)(sc, w, gj, s0, s1, s2); break;
    case GD_OPT_ADAM:
    case GD_OPT_ADAMW: GD_SFX(rule_adam)(sc, pen ? sc->decay : 1, w, gj, s0, s1, s2); break;
    }
    if (pen && sc->l1thr > 0) GD_SFX(rule_l1)(w, sc->l1thr);
}

/* coord_update_p on entry j of theta[P] and state[n_state * P] (state may be NULL). */
GD_INLINE void GD_SFX(coord_update)(const gd_config *cfg, const GD_SFX(step_consts) *sc,
                                    GD_T *th, GD_T gv, GD_T *st, int64_t P, int64_t j,
                                    int pen) {
    const int n_st = gd_n_state(cfg->optimizer);
    GD_SFX(coord_update_p)(cfg, sc, th + j, gv, n_st > 0 ? st + j : NULL,
                           n_st > 1 ? st + P + j : NULL, n_st > 2 ? st + 2 * P + j : NULL, pen);
}

#define GD_I int32_t
#define GD_ISFX(name) GD_SFX(name##_i32)
#define GD_PUB(name) GD_XCAT3(name, GD_TS, i32)
#include "gd_csr_sparse.h"
#undef GD_I
#undef GD_ISFX
#undef GD_PUB
#define GD_I int64_t
#define GD_ISFX(name) GD_SFX(name##_i64)
#define GD_PUB(name) GD_XCAT3(name, GD_TS, i64)
#include "gd_csr_sparse.h"
#undef GD_I
#undef GD_ISFX
#undef GD_PUB
