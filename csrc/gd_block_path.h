/* Template over GD_T (gd_each_type.h): the block path's entry points for rows from either
 * source, defined in gd_grad.h and gd_epoch.h (gd_block.c), called by the CSR kernels too
 * (gd_csr.c). */

/* Where the rows come from: a dense C-contiguous X, or CSR arrays (X == NULL). */
typedef struct {
    const GD_T *X;
    const GD_T *data;
    const void *ind, *ptr;
    int idx64;
} GD_SFX(rows_src);

/* The batch gradient of rows from src (gd_grad_dense's contract); row_work: the work of one
 * row (K * d dense, about K * nnz / n for CSR), to decide whether threads pay; rowbuf: CSR
 * rows' loss derivatives (gd_grad_csr's), or NULL. */
int GD_SFX(gd_grad_run)(const gd_config *cfg, GD_SFX(rows_src) src, int64_t n, int64_t d,
                        const GD_T *y, const GD_T *sw, const int64_t *rows, int64_t n_rows,
                        const GD_T *theta, GD_T *grad_out, double *loss_out, GD_T *work,
                        GD_T *rowbuf, int64_t rowbuf_len, int64_t row_work, int n_threads);

/* The block path of an epoch over rows from src (gd_epoch_dense's contract; row_work as in
 * gd_grad_run); shuf: the shuffle the epoch draws as it goes (dense rows only), or NULL. */
int GD_SFX(gd_epoch_run)(const gd_config *cfg, GD_SFX(rows_src) src, int64_t n, int64_t d,
                         const GD_T *y, const GD_T *sw, const int64_t *order,
                         int64_t start, int64_t stop, int64_t batch_size, double lr_epoch,
                         GD_T *theta, GD_T *state, int64_t *t, GD_T *work,
                         double *loss_out, int64_t row_work, int n_threads,
                         gd_shuffle *shuf);
