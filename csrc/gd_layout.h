/* The fixed sizes the kernels' results depend on (never the thread count or the ISA): cache
 * lines of the work buffer, blocks per batch, parameter chunks, the lanes of a dot product. */
#ifndef GD_LAYOUT_H
#define GD_LAYOUT_H
#include <stdint.h>

/* The block partials are laid out on whole cache lines: the stride between two blocks is P + K
 * entries rounded up to GD_LINE_ELEMS (64 bytes of float, 128 of double), from a 64-byte
 * boundary of the work buffer.  Unpadded, block b's last line (its intercept entry, written
 * every four rows) could be block b + 1's first (its first coefficients), written by another
 * thread at the same time. */
#define GD_LINE_BYTES 64
#define GD_LINE_ELEMS 16
/* x rounded up to a whole number of cache lines (a byte count or an address). */
static inline int64_t gd_line_up(int64_t x) {
    return (x + GD_LINE_BYTES - 1) & ~(int64_t)(GD_LINE_BYTES - 1);
}
static inline int64_t gd_block_stride(int64_t P, int64_t K) {
    return (P + K + GD_LINE_ELEMS - 1) / GD_LINE_ELEMS * GD_LINE_ELEMS;
}

/* Blocks per batch are capped so that the block losses fit in a small array on the stack;
 * the per-block gradients live in the caller's work buffer. */
#define GD_MAX_BLOCKS 256
/* Parameters are reduced and updated in chunks of this many entries (one chunk per task). */
#define GD_CHUNK 4096
/* Independent partial sums of a dot product: enough to hide the FMA latency on AVX-512.
 * Fixed in the source, so the summation order does not depend on the ISA. */
#define GD_LANES 32
#endif
