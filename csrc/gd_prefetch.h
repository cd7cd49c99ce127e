/* Prefetching along a thread's stream of rows: how far ahead, and the stream itself. */
#ifndef GD_PREFETCH_H
#define GD_PREFETCH_H
#include <stdint.h>
#include "gdfast.h"
#include "gd_compiler.h"
#include "gd_layout.h"

/* Along a shuffled order, the bytes of each row prefetched (its first GD_PREFETCH_BYTES), and how
 * far ahead (gd_pf_ahead): GD_PREFETCH_AHEAD / row bytes rows, between GD_PREFETCH_MIN_ROWS and
 * GD_PREFETCH_MAX_ROWS, so 16 rows of 512 bytes or more, and 8 KiB of narrower ones.  Adam 256
 * epochs on two threads, 128 features, side by side (21 rounds, medians): float64 17.2 ms at
 * 16 rows, 18.5 at 8, 17.1 at 32; float32 11.1 ms at 16 rows, 11.7 at 32, 12.6 at 64 (and
 * 15.6 against 17.3 ms at 16 and 32 rows in a slower hour).  It was 4 rows for every width.
 * Narrow rows were not measured. */
#ifndef GD_PREFETCH_BYTES
#define GD_PREFETCH_BYTES 2048
#endif
#ifndef GD_PREFETCH_AHEAD
#define GD_PREFETCH_AHEAD 8192
#endif
#ifndef GD_PREFETCH_MIN_ROWS
#define GD_PREFETCH_MIN_ROWS 16
#endif
#ifndef GD_PREFETCH_MAX_ROWS
#define GD_PREFETCH_MAX_ROWS 64
#endif

/* CSR rows whose coefficients outgrow the cache (gd_csr_block.h): from this many bytes of one
 * output's coefficients (beyond L2), the fused loop prefetches the coefficients of the row
 * GD_CSR_GATHER_AHEAD rows ahead, and a full gradient (gd_grad_csr) with a row buffer reads
 * each block of at least GD_CSR_TWO_PASS_MIN_ROWS rows in two passes, over runs of up to
 * GD_CSR_TWO_PASS_BYTES of loss derivatives per thread (room for at least that many rows:
 * shorter runs would keep both vectors hot). */
#ifndef GD_CSR_GATHER_AHEAD
#define GD_CSR_GATHER_AHEAD 4
#endif
#ifndef GD_CSR_GATHER_MIN_BYTES
#define GD_CSR_GATHER_MIN_BYTES (1 << 18)
#endif
#ifndef GD_CSR_TWO_PASS_BYTES
#define GD_CSR_TWO_PASS_BYTES (4 << 20)
#endif
#ifndef GD_CSR_TWO_PASS_MIN_ROWS
#define GD_CSR_TWO_PASS_MIN_ROWS 1024
#endif

/* an epoch drawing its order reads at most GD_PREFETCH_MAX_ROWS positions past its rows */
_Static_assert(GD_PREFETCH_MIN_ROWS <= GD_PREFETCH_MAX_ROWS, "prefetch rows");

/* Where a thread's stream of row positions goes on (what block_grad prefetches ahead): through
 * position stop, then from position next on (the thread's share of the next batch), and never
 * to position end or beyond (the end of the epoch's order).  A batch's rows are shared by
 * threads, so the positions after a thread's share are another thread's; following its own
 * stream instead keeps a few rows in flight for each thread across the barrier.  ahead: how
 * many positions ahead to prefetch (gd_pf_ahead). */
typedef struct {
    int64_t stop, next, end, ahead;
    /* an epoch drawing its shuffle as it goes (gd_epoch_dense_shuffled_*): in thread 0's
     * stream only, block_grad_k1 fixes up to shuf_per more positions of shuf_order every four
     * rows, up to shuf_to, while the rows' loads are in flight; NULL elsewhere */
    gd_shuffle *shuf;
    int64_t *shuf_order;
    int64_t shuf_to, shuf_per;
} gd_pf_span;

/* How many rows of row_bytes bytes to prefetch ahead (see GD_PREFETCH_AHEAD). */
static inline int64_t gd_pf_ahead(int64_t row_bytes) {
    const int64_t b = row_bytes < GD_PREFETCH_BYTES ? row_bytes : GD_PREFETCH_BYTES;
    const int64_t r = b > 0 ? GD_PREFETCH_AHEAD / b : GD_PREFETCH_MAX_ROWS;
    return r < GD_PREFETCH_MIN_ROWS ? GD_PREFETCH_MIN_ROWS
                                    : (r > GD_PREFETCH_MAX_ROWS ? GD_PREFETCH_MAX_ROWS : r);
}

/* The position that prefetching q positions ahead of a thread's stream reaches, or -1. */
static inline int64_t gd_pf_pos(const gd_pf_span *s, int64_t q) {
    const int64_t p = q < s->stop ? q : q - s->stop + s->next;
    return p < s->end ? p : -1;
}

/* Prefetch every cache line holding a byte of [lo, hi).  The walk starts at lo's line, not at
 * lo: numpy's large arrays start 16 bytes into a page, so a 1 KiB row spans 17 lines, and
 * stepping 64 bytes from lo left the row's last line to a demand miss. */
GD_INLINE void gd_prefetch_range(const void *lo, const void *hi) {
    for (uintptr_t a = (uintptr_t)lo & ~(uintptr_t)(GD_LINE_BYTES - 1); a < (uintptr_t)hi;
         a += GD_LINE_BYTES)
        GD_PREFETCH((const void *)a);
}
#endif
