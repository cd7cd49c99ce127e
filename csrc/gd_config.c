/* The public functions of a gd_config (gdfast.h). */
#include "gd_config.h"

int gd_n_state(int optimizer) { return n_state(optimizer); }
int gd_state_rows(const gd_config *cfg) { return state_rows(cfg); }

double gd_step_lr(const gd_config *cfg, double lr_epoch, int64_t t) {
    return step_lr(cfg, lr_epoch, t);
}

/* Each block's partial gradient (P entries and K of scratch) starts on its own cache line, and
 * the buffer is used from its first line boundary on (see gd_block_stride and work_lines). */
int64_t gd_work_size(const gd_config *cfg, int64_t d) {
    const int64_t K = cfg->n_outputs, P = K * (d + 1);
    return cfg->max_blocks * gd_block_stride(P, K) + (P + GD_CHUNK - 1) / GD_CHUNK +
           GD_LINE_ELEMS;
}
