/* Template over GD_T (gd_each_type.h): bringing features up to date with the steps they
 * skipped in the sparse path of CSR epochs (gd_csr_sparse.h): one feature when a batch first
 * touches it, every feature at the end of a segment or call.  GD_SP_SGD applies its deferred
 * L1 thresholds (and at the end its scale P); GD_SP_MOM applies M^k (gd_csr_mpow.h). */

/* Soft-threshold feature j's K coefficients by thr. */
GD_INLINE void GD_SFX(sp_soft)(GD_T *th, int64_t K, int64_t d, int64_t j, GD_T thr) {
    for (int64_t k = 0; k < K; k++) {
        const GD_T v = th[k * d + j], a = GD_FABS(v) - thr;
        th[k * d + j] = a > 0 ? (v > 0 ? a : -a) : 0;
    }
}

/* GD_SP_SGD: the L1 thresholds feature j skipped, up to the running threshold Q. */
GD_INLINE void GD_SFX(sgd_catch_up)(GD_T *th, int64_t K, int64_t d, double *aux, int64_t j,
                                    double Q) {
    const double thr = Q - aux[j];
    if (thr > 0) {
        GD_SFX(sp_soft)(th, K, d, j, (GD_T)thr);
        aux[j] = Q;
    }
}

/* GD_SP_SGD: bring every coefficient up to date with the scale P and threshold Q. */
static void GD_SFX(sp_materialize_sgd)(const gd_config *cfg, GD_T *th, double *aux, int64_t d,
                                       double Pc, double Qc) {
    const int64_t K = cfg->n_outputs;
    const GD_T fP = (GD_T)Pc;
    for (int64_t j = 0; j < d; j++) {
        if (cfg->l1 > 0) {
            const double thr = Qc - aux[j];
            if (thr > 0) GD_SFX(sp_soft)(th, K, d, j, (GD_T)thr);
            aux[j] = 0;
        }
        if (Pc != 1.0)
            for (int64_t k = 0; k < K; k++) th[k * d + j] *= fP;
    }
}

/* GD_SP_MOM: feature j's coefficients and momentum buffers from the step aux[j] it is up to
 * date with to step t.  Nothing when it is there already, or further: under hogwild another
 * thread may have brought j further, and it is never moved back. */
GD_INLINE void GD_SFX(mom_catch_up)(GD_T *th, GD_T *st, double *aux, int64_t K, int64_t d,
                                    int64_t j, int64_t t, const gd_mpow *mp) {
    const int64_t kk = t - (int64_t)aux[j];
    if (kk > 0) {
        const gd_m2 A = mpow_get(mp, kk);
        for (int64_t k = 0; k < K; k++) {
            const double w = th[k * d + j], b = st[k * d + j];
            th[k * d + j] = (GD_T)(A.a * w + A.b * b);
            st[k * d + j] = (GD_T)(A.c * w + A.e * b);
        }
        aux[j] = (double)t;
    }
}

/* GD_SP_MOM: catch every feature up with step t_end. */
static void GD_SFX(sp_catch_up_mom)(const gd_config *cfg, GD_T *th, GD_T *st, double *aux,
                                    int64_t d, int64_t t_end, gd_mpow *mp) {
    const int64_t K = cfg->n_outputs;
    for (int64_t j = 0; j < d; j++) GD_SFX(mom_catch_up)(th, st, aux, K, d, j, t_end, mp);
}
