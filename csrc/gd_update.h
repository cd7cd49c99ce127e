/* Template over GD_T (gd_each_type.h): gd_update_*, one optimizer step given the gradient. */

GD_HOT static void GD_SFX(update_range)(const gd_config *cfg, GD_T *th, const GD_T *g,
                                        GD_T *st, int64_t P, int64_t n_coef, int64_t j0,
                                        int64_t j1, int64_t t, double lr) {
    GD_SFX(update_entries)(cfg, th, g, st, P, n_coef, j0, j1, t, lr);
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
    if (state_rows(cfg) < 0 || cfg->average_start < 0 || P < 1 || n_coef < 0 || n_coef > P ||
        t < 1 || n_threads < 1)
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
