/* Kernel template: included by gd_kernels.c once per floating type with
 *   GD_T (float or double), GD_SFX(name) (name_f32 / name_f64) and the math functions
 *   GD_EXP, GD_LOG, GD_LOG1P, GD_SQRT, GD_FABS for that type.
 * Per-element arithmetic is done in GD_T (float32 stays float32); losses are summed in double. */

/* Loss of one row with a single output and its derivative with respect to p. */
static inline GD_T GD_SFX(loss_dz)(int loss, GD_T p, GD_T y, GD_T eps, GD_T *dz) {
    GD_T m, r, a, e;
    switch (loss) {
    case GD_LOSS_SQUARED:
        r = p - y;
        *dz = r;
        return (GD_T)0.5 * r * r;
    case GD_LOSS_LOGISTIC:
        m = y * p;
        e = GD_EXP(-GD_FABS(m));                          /* in (0, 1]: no overflow */
        *dz = -y * (m > 0 ? e / (1 + e) : 1 / (1 + e));   /* -y * sigmoid(-m) */
        return GD_LOG1P(e) + (m > 0 ? 0 : -m);            /* softplus(-m) */
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

/* Softmax cross-entropy of one row: z[K] holds the decision values on entry and
 * dloss/dz on exit; returns the loss. */
static inline GD_T GD_SFX(softmax_dz)(GD_T *z, int64_t K, int64_t label) {
    GD_T mx = z[0], s = 0, zy = z[label];
    for (int64_t k = 1; k < K; k++) mx = z[k] > mx ? z[k] : mx;
    for (int64_t k = 0; k < K; k++) { z[k] = GD_EXP(z[k] - mx); s += z[k]; }
    for (int64_t k = 0; k < K; k++) z[k] = z[k] / s - (k == label ? 1 : 0);
    return mx + GD_LOG(s) - zy;
}

/* Partial gradient of positions r0..r1 of the row order into g[P] (zeroed here), using
 * g[P..P+K) as scratch; returns sum_i sw_i * loss_i.  One pass over each row: the dot
 * products, the loss derivative and the gradient contribution while the row is in cache. */
static double GD_SFX(block_grad)(const gd_config *cfg, const GD_T *X, int64_t d, const GD_T *y,
                                 const GD_T *sw, const int64_t *order, int64_t r0, int64_t r1,
                                 const GD_T *th, GD_T *g) {
    const int64_t K = cfg->n_outputs, n_coef = K * d, P = n_coef + K;
    const GD_T eps = (GD_T)cfg->epsilon;
    GD_T *z = g + P;
    double lsum = 0;
    for (int64_t j = 0; j < P; j++) g[j] = 0;
    for (int64_t r = r0; r < r1; r++) {
        const int64_t i = order ? order[r] : r;
        const GD_T *x = X + i * d;
        for (int64_t k = 0; k < K; k++) {
            const GD_T *w = th + k * d;
            GD_T acc = 0;
#pragma omp simd reduction(+ : acc)
            for (int64_t j = 0; j < d; j++) acc += x[j] * w[j];
            z[k] = acc + th[n_coef + k];
        }
        const GD_T wi = sw ? sw[i] : (GD_T)1;
        GD_T li;
        if (K == 1) {
            GD_T dz;
            li = GD_SFX(loss_dz)(cfg->loss, z[0], y[i], eps, &dz);
            z[0] = dz;
        } else {
            li = GD_SFX(softmax_dz)(z, K, (int64_t)y[i]);
        }
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

/* g[j0..j1) = (sum over blocks of the partials) / m, summed in block order into block 0. */
static inline void GD_SFX(reduce_blocks)(GD_T *work, int64_t stride, int64_t nb, int64_t m,
                                         int64_t j0, int64_t j1) {
    const GD_T fm = (GD_T)m;
    for (int64_t b = 1; b < nb; b++) {
        const GD_T *src = work + b * stride;
#pragma omp simd
        for (int64_t j = j0; j < j1; j++) work[j] += src[j];
    }
#pragma omp simd
    for (int64_t j = j0; j < j1; j++) work[j] = work[j] / fm;
}

/* One optimizer step on entries j0..j1, all penalized (pen = 1) or none (pen = 0).
 * The rules are torch.optim's, with weight_decay = l2 (adamw: decoupled decay). */
static void GD_SFX(update_loop)(const gd_config *cfg, GD_T *th, const GD_T *g, GD_T *st,
                                int64_t P, int64_t j0, int64_t j1, int pen, int64_t t,
                                double lr) {
    if (j1 <= j0) return;
    const int opt = cfg->optimizer;
    const GD_T l2 = (pen && opt != GD_OPT_ADAMW) ? (GD_T)cfg->l2 : 0;
    const GD_T flr = (GD_T)lr;
    GD_T *s0 = st, *s1 = st + P, *s2 = st + 2 * P;
    switch (opt) {
    case GD_OPT_SGD:
#pragma omp simd
        for (int64_t j = j0; j < j1; j++) th[j] -= flr * (g[j] + l2 * th[j]);
        break;
    case GD_OPT_MOMENTUM:
    case GD_OPT_NESTEROV: {
        const GD_T mu = (GD_T)cfg->momentum, damp = 1 - (GD_T)cfg->dampening;
        const int nesterov = opt == GD_OPT_NESTEROV, first = t == 1;
#pragma omp simd
        for (int64_t j = j0; j < j1; j++) {
            const GD_T gj = g[j] + l2 * th[j];
            const GD_T b = first ? gj : mu * s0[j] + damp * gj;
            s0[j] = b;
            th[j] -= flr * (nesterov ? gj + mu * b : b);
        }
        break;
    }
    case GD_OPT_ADAGRAD: {
        const GD_T eps = (GD_T)cfg->eps;
#pragma omp simd
        for (int64_t j = j0; j < j1; j++) {
            const GD_T gj = g[j] + l2 * th[j];
            s0[j] += gj * gj;
            th[j] -= flr * gj / (GD_SQRT(s0[j]) + eps);
        }
        break;
    }
    case GD_OPT_RMSPROP: {
        const GD_T rho = (GD_T)cfg->rho, eps = (GD_T)cfg->eps, mu = (GD_T)cfg->momentum;
        const int centered = cfg->centered, use_mom = cfg->momentum > 0;
#pragma omp simd
        for (int64_t j = j0; j < j1; j++) {
            const GD_T gj = g[j] + l2 * th[j];
            s0[j] = rho * s0[j] + (1 - rho) * gj * gj;
            GD_T var = s0[j];
            if (centered) {
                s1[j] = rho * s1[j] + (1 - rho) * gj;
                var = var - s1[j] * s1[j];
                var = var > 0 ? var : 0;   /* rounding can make it -0.0..01; torch would give NaN */
            }
            const GD_T avg = GD_SQRT(var) + eps;
            if (use_mom) {
                s2[j] = mu * s2[j] + gj / avg;
                th[j] -= flr * s2[j];
            } else {
                th[j] -= flr * gj / avg;
            }
        }
        break;
    }
    case GD_OPT_ADAM:
    case GD_OPT_ADAMW: {
        const double b1 = cfg->beta1, b2 = cfg->beta2;
        const GD_T fb1 = (GD_T)b1, fb2 = (GD_T)b2, eps = (GD_T)cfg->eps;
        const GD_T step_size = (GD_T)(lr / (1.0 - pow(b1, (double)t)));
        const GD_T bc2_sqrt = (GD_T)sqrt(1.0 - pow(b2, (double)t));
        const GD_T decay = (pen && opt == GD_OPT_ADAMW) ? 1 - flr * (GD_T)cfg->l2 : 1;
        const int amsgrad = cfg->amsgrad;
#pragma omp simd
        for (int64_t j = j0; j < j1; j++) {
            const GD_T gj = g[j] + l2 * th[j];
            th[j] *= decay;
            s0[j] = fb1 * s0[j] + (1 - fb1) * gj;
            s1[j] = fb2 * s1[j] + (1 - fb2) * gj * gj;
            GD_T v = s1[j];
            if (amsgrad) {
                s2[j] = s2[j] > v ? s2[j] : v;
                v = s2[j];
            }
            th[j] -= step_size * s0[j] / (GD_SQRT(v) / bc2_sqrt + eps);
        }
        break;
    }
    }
    if (pen && cfg->l1 > 0) {
        const GD_T thr = flr * (GD_T)cfg->l1;
#pragma omp simd
        for (int64_t j = j0; j < j1; j++) {
            const GD_T a = GD_FABS(th[j]) - thr;
            th[j] = a > 0 ? (th[j] > 0 ? a : -a) : 0;
        }
    }
}

static inline void GD_SFX(update_range)(const gd_config *cfg, GD_T *th, const GD_T *g, GD_T *st,
                                        int64_t P, int64_t n_coef, int64_t j0, int64_t j1,
                                        int64_t t, double lr) {
    const int64_t jm = j1 < n_coef ? j1 : (j0 > n_coef ? j0 : n_coef);
    GD_SFX(update_loop)(cfg, th, g, st, P, j0, jm, 1, t, lr);
    GD_SFX(update_loop)(cfg, th, g, st, P, jm, j1, 0, t, lr);
}

int GD_SFX(gd_grad_dense)(const gd_config *cfg, const GD_T *X, int64_t n, int64_t d,
                          const GD_T *y, const GD_T *sw, const int64_t *rows, int64_t n_rows,
                          const GD_T *theta, GD_T *grad_out, double *loss_out, GD_T *work,
                          int n_threads) {
    int status = check_config(cfg, d);
    if (status != GD_OK) return status;
    if (n < 1 || n_rows < 1 || n_threads < 1) return GD_ERR_ARGUMENT;
    const int64_t K = cfg->n_outputs, P = K * (d + 1), stride = P + K;
    const int64_t nb = n_blocks(cfg, n_rows), nchunks = (P + GD_CHUNK - 1) / GD_CHUNK;
    double block_loss[GD_MAX_BLOCKS];
    const int par = n_threads > 1 && n_rows * K * d >= cfg->min_parallel_work;
    (void)par;
#pragma omp parallel num_threads(n_threads) if (par)
    {
        const int tid = gd_thread_num(), nth = gd_num_threads();
        for (int64_t b = tid; b < nb; b += nth)
            block_loss[b] = GD_SFX(block_grad)(cfg, X, d, y, sw, rows, (n_rows * b) / nb,
                                               (n_rows * (b + 1)) / nb, theta, work + b * stride);
        if (nth > 1) { GD_BARRIER }
        for (int64_t c = tid; c < nchunks; c += nth) {
            const int64_t j0 = c * GD_CHUNK, j1 = j0 + GD_CHUNK < P ? j0 + GD_CHUNK : P;
            GD_SFX(reduce_blocks)(work, stride, nb, n_rows, j0, j1);
            for (int64_t j = j0; j < j1; j++) grad_out[j] = work[j];
        }
    }
    double s = 0;
    for (int64_t b = 0; b < nb; b++) s += block_loss[b];
    *loss_out = s;
    return GD_OK;
}

int GD_SFX(gd_update)(const gd_config *cfg, GD_T *theta, const GD_T *grad, GD_T *state,
                      int64_t P, int64_t n_coef, int64_t t, double lr, int n_threads) {
    if (gd_n_state(cfg->optimizer) < 0 || P < 1 || n_coef < 0 || n_coef > P || t < 1 ||
        n_threads < 1)
        return GD_ERR_ARGUMENT;
    const int64_t nchunks = (P + GD_CHUNK - 1) / GD_CHUNK;
    const int par = n_threads > 1 && P >= cfg->min_parallel_work;
    (void)par;
#pragma omp parallel num_threads(n_threads) if (par)
    {
        const int tid = gd_thread_num(), nth = gd_num_threads();
        for (int64_t c = tid; c < nchunks; c += nth) {
            const int64_t j0 = c * GD_CHUNK, j1 = j0 + GD_CHUNK < P ? j0 + GD_CHUNK : P;
            GD_SFX(update_range)(cfg, theta, grad, state, P, n_coef, j0, j1, t, lr);
        }
    }
    return GD_OK;
}

int GD_SFX(gd_epoch_dense)(const gd_config *cfg, const GD_T *X, int64_t n, int64_t d,
                           const GD_T *y, const GD_T *sw, const int64_t *order,
                           int64_t start, int64_t stop, int64_t batch_size, double lr_epoch,
                           GD_T *theta, GD_T *state, int64_t *t, GD_T *work,
                           double *loss_out, int n_threads) {
    int status = check_config(cfg, d);
    if (status != GD_OK) return status;
    if (n < 1 || start < 0 || stop > n || start > stop || batch_size < 1 || n_threads < 1)
        return GD_ERR_ARGUMENT;
    const int64_t K = cfg->n_outputs, n_coef = K * d, P = n_coef + K, stride = P + K;
    const int64_t P_upd = cfg->fit_intercept ? P : n_coef;   /* entries that are trained */
    const int64_t n_batches = (stop - start + batch_size - 1) / batch_size;
    const int64_t nchunks = (P_upd + GD_CHUNK - 1) / GD_CHUNK, t0 = *t;
    double block_loss[GD_MAX_BLOCKS];
    double total = 0;
    int64_t t_end = t0 + n_batches;
    const int par = n_threads > 1 && batch_size * K * d >= cfg->min_parallel_work;
    (void)par;
#pragma omp parallel num_threads(n_threads) if (par)
    {
        /* Every thread walks all batches; blocks and chunks are dealt round-robin.  Each
         * thread sums the block losses itself, in block order, so all threads agree on the
         * running total and on when to stop, without another barrier. */
        const int tid = gd_thread_num(), nth = gd_num_threads();
        double my_total = 0;
        int64_t my_end = t0 + n_batches;
        for (int64_t ib = 0; ib < n_batches; ib++) {
            const int64_t b0 = start + ib * batch_size;
            const int64_t m = (b0 + batch_size < stop ? b0 + batch_size : stop) - b0;
            const int64_t nb = n_blocks(cfg, m), step = t0 + ib + 1;
            for (int64_t b = tid; b < nb; b += nth)
                block_loss[b] = GD_SFX(block_grad)(cfg, X, d, y, sw, order, b0 + (m * b) / nb,
                                                   b0 + (m * (b + 1)) / nb, theta,
                                                   work + b * stride);
            if (nth > 1) { GD_BARRIER }
            double s = 0;
            for (int64_t b = 0; b < nb; b++) s += block_loss[b];
            my_total += s;
            if (!isfinite(s)) { my_end = step; break; }
            const double lr = gd_step_lr(cfg, lr_epoch, step);
            for (int64_t c = tid; c < nchunks; c += nth) {
                const int64_t j0 = c * GD_CHUNK;
                const int64_t j1 = j0 + GD_CHUNK < P_upd ? j0 + GD_CHUNK : P_upd;
                GD_SFX(reduce_blocks)(work, stride, nb, m, j0, j1);
                GD_SFX(update_range)(cfg, theta, work, state, P, n_coef, j0, j1, step, lr);
            }
            if (nth > 1) { GD_BARRIER }
        }
        if (tid == 0) { total = my_total; t_end = my_end; }
    }
    *loss_out = total;
    if (t_end < t0 + n_batches || !isfinite(total)) {
        *t = t_end;
        return GD_ERR_NONFINITE;
    }
    *t = t_end;
    return GD_OK;
}
