/* Template over GD_T (gd_each_type.h): the block path of an epoch over rows from a dense X or
 * CSR arrays (gd_block_path.h), and gd_epoch_dense_*, gd_epoch_dense_shuffled_*. */

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
GD_INLINE void GD_SFX(batch_blocks)(const GD_SFX(epoch_ctx) *c, int tid, int64_t b0, int64_t m,
                                    int64_t nb, int64_t b_lo, int64_t b_hi, int64_t next_off,
                                    const GD_T *th, GD_T *parts, double *bl, int *bs) {
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
                                       b0 + (m * b) / nb, b0 + (m * (b + 1)) / nb, &pf, th, 0,
                                       parts + b * stride, NULL, 0, &bs[b]);
}

/* The room epoch_worker_rep takes in the work buffer per thread: its summed gradient, its
 * parameters and its optimizer state, each from a line boundary. */
GD_INLINE int64_t GD_SFX(rep_area)(const gd_config *cfg, int64_t P, int64_t stride) {
    const int64_t st_len = state_rows(cfg) * P;
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
    const int64_t st_len = state_rows(cfg) * P;
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
     * ib + 1 (and after the meeting, of ib + 2).  Even until share_learn has measured every
     * thread, and kept even where a batch has no more blocks than threads (nothing to move) */
    const int balance = nb_b > nth && cfg->share == GD_SHARE_MEASURED;
    double est[GD_FLAG_THREADS], busy[GD_FLAG_THREADS], nxt[GD_FLAG_THREADS + 1];
    int64_t bound[GD_FLAG_THREADS + 1], nbound[GD_FLAG_THREADS + 1], rows[GD_FLAG_THREADS];
    for (int t = 0; t <= nth; t++) {
        nxt[t] = (double)t / nth;
        if (t < nth) est[t] = 0;
    }
    share_bounds(nxt, nth, n_blocks(cfg, GD_SFX(batch_rows)(c, c->start)), bound);
    double t_free = balance ? gd_ticks() : 0;   /* when this thread left the last meeting */
    for (int64_t ib = 0; ib < n_batches; ib++) {
        const int64_t b0 = c->start + ib * c->batch_size, m = GD_SFX(batch_rows)(c, b0);
        const int64_t nb = n_blocks(cfg, m), step = c->t0 + ib + 1, set = ib & 1;
        GD_T *parts = c->work + set * nb_b * stride;
        double *bl = c->block_loss + set * nb_b;
        int *bs = c->block_stop + set * nb_b;
        const int64_t m1 = GD_SFX(batch_rows)(c, b0 + m), nb1 = n_blocks(cfg, m1);
        if (m1 > 0) share_bounds(nxt, nth, nb1, nbound);
        GD_SFX(batch_blocks)(c, tid, b0, m, nb, bound[tid], bound[tid + 1],
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
            share_learn(busy, rows, nth, est, nxt);
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
                         step_lr(cfg, c->lr_epoch, step));
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
                                          step_lr(cfg, c->lr_epoch, step), &nonfinite);
            done = ib + 1;
            if (nonfinite) { status = GD_ERR_NONFINITE; break; }
            continue;
        }
        const int64_t m1 = GD_SFX(batch_rows)(c, b0 + m), nb1 = n_blocks(cfg, m1);
        GD_SFX(batch_blocks)(c, tid, b0, m, nb, (nb * tid) / nth, (nb * (tid + 1)) / nth,
                             (m1 * ((nb1 * tid) / nth)) / nb1, c->theta, c->work, c->block_loss,
                             c->block_stop);
        if (nth > 1) gd_team_wait(&c->bar, nth, &sense);
        int stopped;
        const double s = GD_SFX(sum_blocks)(c->block_loss, c->block_stop, nb, &stopped);
        if (stopped) { status = GD_INTERRUPTED; break; }
        total += s;
        if (!isfinite(s)) { status = GD_ERR_NONFINITE; done = ib + 1; break; }
        const double lr = step_lr(cfg, c->lr_epoch, step);
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

/* declared in gd_block_path.h */
int GD_SFX(gd_epoch_run)(const gd_config *cfg, GD_SFX(rows_src) src, int64_t n, int64_t d,
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
    return GD_SFX(gd_epoch_run)(cfg, src, n, d, y, sw, order, start, stop, batch_size,
                                lr_epoch, theta, state, t, work, loss_out, cfg->n_outputs * d,
                                n_threads, NULL);
}

int GD_SFX(gd_epoch_dense_shuffled)(const gd_config *cfg, const GD_T *X, int64_t n, int64_t d,
                                    const GD_T *y, const GD_T *sw, int64_t *order,
                                    gd_shuffle *shuf, int64_t start, int64_t stop,
                                    int64_t batch_size, double lr_epoch, GD_T *theta,
                                    GD_T *state, int64_t *t, GD_T *work, double *loss_out,
                                    int n_threads) {
    if (!order || !shuf) return GD_ERR_ARGUMENT;
    GD_SFX(rows_src) src = {.X = X};
    return GD_SFX(gd_epoch_run)(cfg, src, n, d, y, sw, order, start, stop, batch_size,
                                lr_epoch, theta, state, t, work, loss_out, cfg->n_outputs * d,
                                n_threads, shuf);
}
