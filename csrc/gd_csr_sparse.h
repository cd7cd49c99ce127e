/* The sparse (O(nnz) per step) path of CSR epochs, the parts outside its templates: the kinds of
 * step and the choice between them and the block path, each thread's report and work region,
 * and the interleaved records of the lazy kind.  Only gd_csr.c includes this. */
#ifndef GD_CSR_SPARSE_H
#define GD_CSR_SPARSE_H
#include <stdint.h>
#include "gdfast.h"
#include "gd_config.h"
#include "gd_csr_mpow.h"
#include "gd_layout.h"

/* The kinds of step (each in its own template; see gd_csr_batch.h for what they share):
 *   GD_SP_SGD   plain SGD (gd_csr_sgd.h).  The coefficients are stored as u with w = P u, where
 *               P is the product of the L2 factors (1 - lr_s l2) over the segment's steps, and
 *               the L1 soft-thresholds of the untouched steps are deferred: Q is the running sum
 *               of lr_s l1 / P_s, aux[j] the value of Q when feature j was last brought up to
 *               date, and soft-thresholding u_j by Q - aux[j] applies all of them at once (in
 *               u-space successive thresholds add up).  A step costs O(nnz); P is brought back
 *               to 1 (every coefficient materialized, O(d)) at the end of a segment, cut where P
 *               would fall below 1e-9, and at the end of the call.
 *   GD_SP_MOM   momentum / nesterov without L1 (gd_csr_momentum.h): aux[j] is the last step
 *               feature j is up to date with; when touched again after k skipped steps,
 *               (w, buf) <- M^k (w, buf) with the one-step map M of a zero data gradient
 *               (gd_csr_mpow.h).  At the end of the call every feature is caught up.
 *   GD_SP_LAZY  adagrad, rmsprop, adam, adamw with lazy semantics (gd_csr_lazy.h): only the
 *               touched features (and the intercepts) take the step. */
enum { GD_SP_SGD = 0, GD_SP_MOM = 1, GD_SP_LAZY = 2 };


/* What each thread of the sparse path reports, at the start of its work region. */
typedef struct {
    double loss;      /* sum of sw_i * loss_i over its rows */
    int64_t done;     /* batches completed (a non-finite one included) */
    int64_t tau;      /* the last step whose update it applied (its P, Q are at that step) */
    int status;
    double P, Q;      /* sgd: the running scale and L1 threshold */
    double mp_lr;     /* momentum: the learning rate of mp */
    gd_mpow mp;
} gd_sp_thread;

/* Per-thread work region: the report, the batch gradient of the touched features in touched
 * order then the intercepts' (P values), the batch's sw * dloss/dz (batch_size * K values), the
 * touched feature list (d int64) and each feature's slot in it (d int32).  Sized for 8-byte
 * values (float32 uses half of the first two). */
typedef struct { int64_t g, z, touched, mark, bpend, stride; } gd_sp_layout;

static gd_sp_layout sp_layout(int64_t K, int64_t d, int64_t batch_size) {
    gd_sp_layout L;
    int64_t o = gd_line_up((int64_t)sizeof(gd_sp_thread));
    L.g = o;
    o += gd_line_up(K * (d + 1) * 8);
    L.z = o;
    o += gd_line_up(batch_size * K * 8);
    L.touched = o;
    o += gd_line_up((d + 1) * 8);   /* (+1: the branch-free append writes one past the end) */
    L.mark = o;
    o += gd_line_up(d * 4);
    L.bpend = o;
    o += gd_line_up(K * 8);
    L.stride = o;
    return L;
}

static int sp_n_threads(const gd_config *cfg, int n_threads) {
    return (cfg->hogwild && n_threads > 1 && !gd_in_forked_child()) ? n_threads : 1;
}

/* The lazy adaptive path keeps each coefficient and its optimizer state interleaved during a
 * call, GD_ILV values per coefficient (a touched feature costs one cache line, not four). */
#define GD_ILV 4
static int sp_interleaves(const gd_config *cfg) {
    const int opt = cfg->optimizer;
    return (opt == GD_OPT_ADAGRAD || opt == GD_OPT_RMSPROP || opt == GD_OPT_ADAM ||
            opt == GD_OPT_ADAMW) && (cfg->sparse_updates == GD_SPARSE_LAZY || cfg->hogwild);
}

static int64_t sp_ilv_bytes(const gd_config *cfg, int64_t d) {
    return sp_interleaves(cfg) ? gd_line_up(cfg->n_outputs * d * GD_ILV * 8) : 0;
}

/* GD_SP_SGD with averaging keeps the sum S of the parameters over the averaged steps lazily
 * (Xu, 2011, as scikit-learn's sparse averaged SGD): the coefficients' as S = C u - D, with
 * C the sum of the scales P of those steps and D[K d] (double) what a change du of u at a
 * step adds, du times C before that step; the intercepts' (K, double) plainly.  A step then
 * costs O(nnz).  C u and D grow apart from S as P falls, so segments end where P would fall
 * below GD_AVG_MIN_SCALE at an averaged step, and there S is written back into D (C = 0): the
 * scales that C sums then differ by a factor of at most 32 (the step that crosses 1/16 may
 * halve P, as 1 - lr l2 >= 1/2 on this path), at the cost of an O(d) write-back each time P
 * falls by 16. */
#define GD_AVG_MIN_SCALE (1.0 / 16)
static int64_t sp_avg_bytes(const gd_config *cfg, int64_t d) {
    return cfg->average_start > 0 && cfg->optimizer == GD_OPT_SGD
               ? gd_line_up(cfg->n_outputs * (d + 1) * 8) : 0;
}

/* Which path an epoch takes: -1 for the block path, else a GD_SP_* kind (-2: none can give
 * the semantics asked for: lazy or hogwild with 2^31 - 1 features or more).  Depends on the
 * configuration, the learning rates, the batch size and the data, never on n_threads. */
static int csr_kind(const gd_config *cfg, int64_t n, int64_t d, int64_t nnz, int64_t batch_size,
                    double lr_epoch, int64_t t0, int64_t n_batches) {
    const int opt = cfg->optimizer;
    const int64_t K = cfg->n_outputs, P = K * (d + 1);
    const int64_t row_nnz = nnz / n > 1 ? nnz / n : 1;
    const int dense_batch = batch_size * row_nnz * K >= P;
    const int lazy_or_hog = cfg->sparse_updates == GD_SPARSE_LAZY || cfg->hogwild;
    const int adaptive = opt == GD_OPT_ADAGRAD || opt == GD_OPT_RMSPROP ||
                         opt == GD_OPT_ADAM || opt == GD_OPT_ADAMW;
    /* averaging: plain SGD without L1 keeps its mean lazily (sp_avg_*, gd_csr_sgd.h); the
     * others take every coordinate's step on the block path */
    if (cfg->average_start > 0 && (opt != GD_OPT_SGD || cfg->l1 > 0)) return -1;
    if (d >= INT32_MAX)      /* the sparse path's slots are int32: the block path, if exact */
        return (cfg->hogwild || (adaptive && lazy_or_hog)) ? -2 : -1;
    if (adaptive) return lazy_or_hog ? GD_SP_LAZY : -1;
    if (opt == GD_OPT_SGD) {
        /* a step that scales the weights by less than 1/2 (or flips or zeroes them) gains
         * nothing from the scale and could not be held by it: the block path, exact (also
         * under hogwild, which then runs deterministically) */
        const double lr_a = step_lr(cfg, lr_epoch, t0 + 1);
        const double lr_b = step_lr(cfg, lr_epoch, t0 + (n_batches > 0 ? n_batches : 1));
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
#endif
