/* Template over GD_T (gd_each_type.h): the optimizers' update rules, on a range of entries
 * (the dense step) or on one coordinate (the sparse path of CSR epochs). */

/* Constants of one optimizer step t with learning rate lr. */
typedef struct {
    GD_T flr, l2, l1thr, mu, damp, eps, rho, fb1, fb2, step_size, bc2_sqrt, decay;
    GD_T avg_w;           /* averaging: the new parameters' weight in the mean, 1 / (steps) */
    int first, nesterov, centered, use_mom, amsgrad, avg;
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
    /* the mean of the parameters after steps average_start..t, updated incrementally as
     * torch's ASGD and scikit-learn's average do; the first averaged step copies them */
    sc->avg = cfg->average_start > 0 && t >= cfg->average_start;
    sc->avg_w = sc->avg ? (GD_T)(1.0 / (double)(t - cfg->average_start + 1)) : 0;
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
    if (sc.avg) {
        /* compensated (Kahan) addition of the increment: after 1e5 steps or so an increment
         * (theta - mean) / k falls below half an ulp of the mean in float32, and a plain sum
         * would stop moving; sk holds what the last addition lost */
        GD_T *sa = st + n_state(cfg->optimizer) * P, *sk = sa + P;
        const GD_T w = sc.avg_w;
#pragma omp simd
        for (int64_t j = j0; j < j1; j++) {
            const GD_T inc = (th[j] - sa[j]) * w - sk[j], next = sa[j] + inc;
            sk[j] = (next - sa[j]) - inc;
            sa[j] = next;
        }
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
    const int n_st = n_state(cfg->optimizer);
    GD_SFX(coord_update_p)(cfg, sc, th + j, gv, n_st > 0 ? st + j : NULL,
                           n_st > 1 ? st + P + j : NULL, n_st > 2 ? st + 2 * P + j : NULL, pen);
}
