/* What the kernels derive from a gd_config (gdfast.h): its check, the optimizer's state rows,
 * the per-step learning rate, the blocks of a batch, the clipping scale, and whether threads
 * pay.  Inline, because the kernels call them per batch or per coordinate; gd_config.c defines
 * the public gd_n_state, gd_step_lr and gd_work_size on them. */
#ifndef GD_CONFIG_H
#define GD_CONFIG_H
#include <math.h>
#include <stdint.h>
#include "gdfast.h"
#include "gd_layout.h"
#include "gd_runtime.h"

/* The number of optimizer state vectors (gd_n_state). */
static inline int n_state(int optimizer) {
    switch (optimizer) {
    case GD_OPT_SGD: return 0;
    case GD_OPT_MOMENTUM:
    case GD_OPT_NESTEROV:
    case GD_OPT_ADAGRAD: return 1;
    case GD_OPT_RMSPROP:   /* square_avg, grad_avg (centered), momentum buffer */
    case GD_OPT_ADAM:      /* exp_avg, exp_avg_sq, max_exp_avg_sq (amsgrad) */
    case GD_OPT_ADAMW: return 3;
    default: return -1;
    }
}

/* The state vectors of a configuration (gd_state_rows): the optimizer's, then with averaging
 * the averaged parameters and their running compensation (update_loop_sc). */
static inline int state_rows(const gd_config *cfg) {
    const int ns = n_state(cfg->optimizer);
    return ns < 0 ? ns : ns + 2 * (cfg->average_start > 0);
}

/* The learning rate of step t (gd_step_lr). */
static inline double step_lr(const gd_config *cfg, double lr_epoch, int64_t t) {
    switch (cfg->schedule) {
    case GD_SCHED_INVSCALING: return lr_epoch / pow((double)t, cfg->power_t);
    case GD_SCHED_OPTIMAL: return 1.0 / (cfg->opt_alpha * (cfg->opt_t0 + (double)t - 1.0));
    default: return lr_epoch;
    }
}

static inline int check_config(const gd_config *cfg, int64_t d) {
    if (!(cfg->clip_norm >= 0)) return GD_ERR_ARGUMENT;
    if (cfg->n_outputs < 1 || d < 1) return GD_ERR_ARGUMENT;
    if (cfg->loss < GD_LOSS_SQUARED || cfg->loss > GD_LOSS_MULTINOMIAL) return GD_ERR_ARGUMENT;
    if ((cfg->loss == GD_LOSS_MULTINOMIAL) != (cfg->n_outputs > 1)) return GD_ERR_ARGUMENT;
    if (n_state(cfg->optimizer) < 0) return GD_ERR_ARGUMENT;
    /* the sparse path's deferred steps and hogwild's unlocked ones are not averaged */
    if (cfg->average_start < 0 ||
        (cfg->average_start > 0 && (cfg->hogwild || cfg->sparse_updates == GD_SPARSE_LAZY)))
        return GD_ERR_ARGUMENT;
    if (cfg->block_rows < 1 || cfg->max_blocks < 1 || cfg->max_blocks > GD_MAX_BLOCKS)
        return GD_ERR_ARGUMENT;
    if (cfg->share < GD_SHARE_EVEN || cfg->share > GD_SHARE_SKEWED) return GD_ERR_ARGUMENT;
    return GD_OK;
}

/* Number of blocks a batch of m rows is cut into: depends on m and the config only. */
static inline int64_t n_blocks(const gd_config *cfg, int64_t m) {
    int64_t nb = (m + cfg->block_rows - 1) / cfg->block_rows;
    if (nb > cfg->max_blocks) nb = cfg->max_blocks;
    return nb < 1 ? 1 : nb;
}

/* The gradient clipping factor for a gradient of squared norm sq: torch.nn.utils.
 * clip_grad_norm_ scales by max_norm / (norm + 1e-6) when that is below 1. */
static inline double gd_clip_scale(const gd_config *cfg, double sq) {
    const double coef = cfg->clip_norm / (sqrt(sq) + 1e-6);
    return coef < 1.0 ? coef : 1.0;
}

/* Open a parallel region only when it pays, and never in a process forked after this one
 * used OpenMP threads (GNU libgomp's pool does not survive fork: the child would hang). */
static inline int threads_pay(int n_threads, int64_t work, int64_t min_work) {
    return n_threads > 1 && work >= min_work && !gd_in_forked_child();
}

static inline int use_threads(int n_threads, int64_t work, const gd_config *cfg) {
    return threads_pay(n_threads, work, cfg->min_parallel_work);
}

/* n_threads, at most max(tasks_a, tasks_b): a thread with no block and no parameter chunk
 * would only wait at every meeting. */
static inline int cap_threads(int n_threads, int64_t tasks_a, int64_t tasks_b) {
    const int64_t most = tasks_a > tasks_b ? tasks_a : tasks_b;
    return most < n_threads ? (int)most : n_threads;
}

/* The least work (entries read, or multiply-adds) for which gd_all_finite, gd_decision_dense
 * and gd_read_rows_dense open threads. */
#define GD_AUX_MIN_WORK ((int64_t)1 << 17)
#endif
