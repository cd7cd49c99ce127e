/* Template over GD_T (gd_each_type.h): the batch gradient of rows from a dense X or CSR arrays
 * (gd_block_path.h), gd_grad_dense_*. */

GD_INLINE double GD_SFX(block_grad_src)(const gd_config *cfg, const GD_SFX(rows_src) *src,
                                        int64_t d, const GD_T *y, const GD_T *sw,
                                        const int64_t *order, int64_t r0, int64_t r1,
                                        const gd_pf_span *pf, const GD_T *th, int zero_w,
                                        GD_T *g, GD_T *a, int64_t arows, int *stopped) {
    if (src->X)
        return GD_SFX(block_grad)(cfg, src->X, d, y, sw, order, r0, r1, pf, th, g, stopped);
    if (src->idx64)
        return GD_SFX(block_grad_csr_i64)(cfg, src->data, (const int64_t *)src->ind,
                                          (const int64_t *)src->ptr, d, y, sw, order, r0, r1,
                                          th, zero_w, g, a, arows, stopped);
    return GD_SFX(block_grad_csr_i32)(cfg, src->data, (const int32_t *)src->ind,
                                      (const int32_t *)src->ptr, d, y, sw, order, r0, r1, th,
                                      zero_w, g, a, arows, stopped);
}

typedef struct {
    const gd_config *cfg;
    GD_SFX(rows_src) src;
    const GD_T *y, *sw;
    const int64_t *rows;
    int64_t d, n_rows;
    const GD_T *theta;
    GD_T *grad_out, *work;
    GD_T *rowbuf;                 /* arows rows' loss derivatives per thread (CSR), or NULL */
    int64_t arows;
    int zero_w;                   /* CSR rows and every coefficient zero (block_grad_csr) */
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
                                              c->zero_w, c->work + b * stride,
                                              c->rowbuf ? c->rowbuf + tid * c->arows * K : NULL,
                                              c->arows, &c->block_stop[b]);
    if (nth > 1) { GD_BARRIER }
    for (int64_t ch = tid; ch < nchunks; ch += nth) {
        const int64_t j0 = ch * GD_CHUNK, j1 = j0 + GD_CHUNK < P ? j0 + GD_CHUNK : P;
        GD_SFX(reduce_chunk)(c->work, stride, nb, m, j0, j1);
        for (int64_t j = j0; j < j1; j++) c->grad_out[j] = c->work[j];
    }
}

/* declared in gd_block_path.h */
int GD_SFX(gd_grad_run)(const gd_config *cfg, GD_SFX(rows_src) src, int64_t n, int64_t d,
                        const GD_T *y, const GD_T *sw, const int64_t *rows, int64_t n_rows,
                        const GD_T *theta, GD_T *grad_out, double *loss_out, GD_T *work,
                        GD_T *rowbuf, int64_t rowbuf_len, int64_t row_work, int n_threads) {
    int status = check_config(cfg, d);
    if (status != GD_OK) return status;
    if (n < 1 || n_rows < 1 || n_threads < 1 || rowbuf_len < 0) return GD_ERR_ARGUMENT;
    /* each of the n_threads threads asked for gets its share of rowbuf (fewer may run) */
    const int64_t arows = rowbuf ? rowbuf_len / ((int64_t)n_threads * cfg->n_outputs) : 0;
    GD_SFX(grad_ctx) c = {.cfg = cfg, .src = src, .y = y, .sw = sw, .rows = rows, .d = d,
                          .n_rows = n_rows, .theta = theta, .grad_out = grad_out,
                          .work = GD_SFX(work_lines)(work), .rowbuf = arows > 0 ? rowbuf : NULL,
                          .arows = arows};
    if (!src.X) {
        const int64_t n_coef = cfg->n_outputs * d;
        int64_t j = 0;
        while (j < n_coef && theta[j] == 0) j++;
        c.zero_w = j == n_coef;
    }
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
    return GD_SFX(gd_grad_run)(cfg, src, n, d, y, sw, rows, n_rows, theta, grad_out, loss_out,
                               work, NULL, 0, cfg->n_outputs * d, n_threads);
}
