/* Template over GD_T and GD_I (gd_each_index.h): the step of GD_SP_MOM, momentum and nesterov in
 * the sparse path of CSR epochs, each feature caught up with the closed form when a batch first
 * touches it (gd_csr_sparse.h). */

/* GD_SP_MOM's step: the batch at positions b0..b1, step tau, learning rate lr, on one of nth
 * threads.  Returns 1 on a non-finite loss. */
GD_INLINE int GD_ISFX(mom_step)(GD_ISFX(sp_ctx) *c, GD_ISFX(sp_thr) *w, int nth, int64_t b0,
                                int64_t b1, int64_t tau, double lr) {
    const gd_config *cfg = c->cfg;
    const int64_t d = c->d, K = cfg->n_outputs, P = K * (d + 1);
    GD_T *th = c->theta, *st = c->state;
    double *aux = c->aux;
    gd_sp_thread *ts = w->ts;
    GD_SFX(step_consts_init)(cfg, &w->sc, tau, lr);
    if (ts->mp_lr != lr) {
        mpow_init(&ts->mp, momentum_matrix(cfg, lr));
        ts->mp_lr = lr;
    }
    int64_t nt;
    const double lsum = GD_ISFX(sp_rows)(c, w, GD_SP_MOM, b0, b1, tau, &nt);
    if (GD_ISFX(sp_rows_done)(c, w, GD_SP_MOM, lsum, nt)) return 1;
    const GD_T fm = (GD_T)(b1 - b0);
    const GD_T gscale = GD_ISFX(sp_clip_scale)(cfg, w, nt, fm);
    for (int64_t q = 0; q < nt; q++) {
        const int64_t j = w->touched[q];
        for (int64_t k = 0; k < K; k++) {
            GD_T gv = w->gc[q * K + k] / fm;
            if (gscale != 1) gv *= gscale;
            GD_SFX(coord_update)(cfg, &w->sc, th, gv, st, P, k * d + j, 1);
        }
        if (aux[j] < (double)tau) aux[j] = (double)tau;
        w->slot[j] = 0;
    }
    GD_ISFX(sp_step_intercepts)(c, w, fm, gscale);
    if (tau == 1 && nth == 1 && cfg->l2 != 0) {
        /* torch's first step sets buf = g' (not (1 - dampening) g'): apply it to the
         * features this batch did not touch too (once per fit, O(d)) */
        for (int64_t j = 0; j < d; j++) {
            if (aux[j] >= 1) continue;
            for (int64_t k = 0; k < K; k++)
                GD_SFX(coord_update)(cfg, &w->sc, th, 0, st, P, k * d + j, 1);
            aux[j] = 1;
        }
    }
    return 0;
}
