/* gdfast kernels: shared helpers, then the float and double instantiations of
 * gd_kernels_impl.h. */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#define GD_CAT3(a, b, c) a##_##b##_##c
#define GD_XCAT3(a, b, c) GD_CAT3(a, b, c)
#include "gdfast.h"
#include "gd_omp.h"
#include "gd_runtime.h"

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
/* Entries per block of the finite check (gd_all_finite), 512 KiB of doubles. */
#define GD_FINITE_BLOCK ((int64_t)1 << 16)
/* The least work (entries read, or multiply-adds) for which gd_all_finite and
 * gd_decision_dense open threads. */
#define GD_AUX_MIN_WORK ((int64_t)1 << 17)
/* Rows per block of gd_decision_dense (threads take contiguous ranges of blocks). */
#define GD_DECISION_ROWS 256
/* Positions per chunk of gd_read_rows_dense's partial sums (threads take contiguous ranges of
 * chunks, and the chunks are summed in order, so the sums do not depend on n_threads). */
#define GD_READ_ROWS 4096
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

/* Hot functions are compiled for x86-64 baseline, v3 (AVX2, FMA) and v4 (AVX-512) and chosen
 * at load time (GCC's target_clones, via ifunc), so a portable wheel uses the CPU it runs on.
 * Needs GCC >= 12 (the arch=x86-64-vN names) and glibc (ifunc; musl has none); elsewhere the
 * kernels are compiled once for the compiler's default target.  Off with -DGD_NO_CLONES (set
 * by GDFAST_NATIVE_ARCH=ON, which targets the build CPU). */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && defined(__x86_64__) && \
    defined(__linux__) && defined(__GLIBC__) && !defined(GD_NO_CLONES)
#define GD_HOT __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define GD_HOT
#endif
#if defined(__GNUC__)
#define GD_INLINE static inline __attribute__((always_inline))
#ifndef GD_PREFETCH_LOCALITY
#define GD_PREFETCH_LOCALITY 3
#endif
#define GD_PREFETCH(p) __builtin_prefetch((p), 0, GD_PREFETCH_LOCALITY)
#define GD_PREFETCH_W(p) __builtin_prefetch((p), 1, 3)
#else
#define GD_INLINE static inline
#define GD_PREFETCH(p) ((void)0)
#define GD_PREFETCH_W(p) ((void)0)
#endif

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

/* ---- the logistic loss's exp and log1p, without libm calls ----------------------------------
 * libm's log1p and exp were a third of a dense logistic epoch's time (perf: more than the
 * memory stalls of its row loop).  These two are branch-free, so a loop over a few rows'
 * values vectorizes, and agree with libm to about 2 ulp (tests/test_reference_oracles.py
 * checks them against math.exp and math.log1p).  Written for the logistic loss's arguments:
 * exp of x <= 0, log1p of e in [0, 1]; float32 kernels evaluate them in double. */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD > 0
#error "gd_exp_nonpos's rounding shifter needs double evaluated in double (x87: build with SSE2)"
#endif
#define GD_LN2_HI 0x1.62e42feep-1                /* fdlibm's split of ln 2: k * HI is exact */
#define GD_LN2_LO 0x1.a39ef35793c76p-33

/* exp(x) for x <= 0: x = k ln2 + r with |r| <= ln2 / 2 (k rounded through the 1.5 * 2^52
 * shifter, whose low bits then hold k), exp(r) by its Taylor polynomial of degree 13 (the
 * first term left out is below 1e-17 relative), times 2^k written into the exponent bits.
 * 0 below -708, where exp is subnormal (about 3e-308 or less); NaN stays NaN. */
GD_INLINE double gd_exp_nonpos(double x) {
    const double shifter = 0x1.8p52, xc = x < -708.0 ? -708.0 : x;
    double kd = xc * 0x1.71547652b82fep0 + shifter;         /* x log2(e), rounded */
    uint64_t kb;
    memcpy(&kb, &kd, sizeof kb);
    kd -= shifter;
    const double r = (xc - kd * GD_LN2_HI) - kd * GD_LN2_LO;
    /* Estrin's scheme: 4 multiply-adds deep instead of Horner's 13 (the per-sample step waits
     * for this value before its next row) */
    const double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    const double a0 = 1.0 + r, a1 = 1.0 / 2 + r * (1.0 / 6), a2 = 1.0 / 24 + r * (1.0 / 120);
    const double a3 = 1.0 / 720 + r * (1.0 / 5040), a4 = 1.0 / 40320 + r * (1.0 / 362880);
    const double a5 = 1.0 / 3628800 + r * (1.0 / 39916800);
    const double a6 = 1.0 / 479001600 + r * (1.0 / 6227020800.0);
    const double b0 = a0 + r2 * a1, b1 = a2 + r2 * a3, b2 = a4 + r2 * a5;
    const double p = (b0 + r4 * b1) + r8 * (b2 + r4 * a6);
    const uint64_t sb = (kb + 1023u) << 52;                 /* 2^k: (k + 1023) << 52 */
    double scale;
    memcpy(&scale, &sb, sizeof scale);
    return x < -708.0 ? 0.0 : p * scale;
}

/* log(1 + e) for 0 <= e <= 1: u = 1 + e rounded, plus the rounding error c = e - (u - 1)
 * (exact) to first order, c / u; log u = k ln2 + log m with m = u or u / 2 in
 * [sqrt(2)/2, sqrt(2)], log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172, by its series
 * up to s^23 (the first term left out is below 1e-18 relative). */
GD_INLINE double gd_log1p_unit(double e) {
    const double u = 1.0 + e;
    const double c = (e - (u - 1.0)) / u;
    const int big = u > 0x1.6a09e667f3bcdp0;                /* sqrt(2) */
    const double m = big ? 0.5 * u : u, f = m - 1.0;
    const double s = f / (2.0 + f), z = s * s;
    const double z2 = z * z, z4 = z2 * z2, z8 = z4 * z4;        /* Estrin, as above */
    const double a0 = 1.0 / 3 + z * (1.0 / 5), a1 = 1.0 / 7 + z * (1.0 / 9);
    const double a2 = 1.0 / 11 + z * (1.0 / 13), a3 = 1.0 / 15 + z * (1.0 / 17);
    const double a4 = 1.0 / 19 + z * (1.0 / 21), a5 = 1.0 / 23;
    const double p = (a0 + z2 * a1) + z4 * (a2 + z2 * a3) + z8 * (a4 + z2 * a5);
    const double logm = 2.0 * s + 2.0 * s * (z * p);
    return (big ? GD_LN2_HI : 0.0) + (((big ? GD_LN2_LO : 0.0) + c) + logm);
}

/* The logistic loss softplus(-m) and -sigmoid(-m) of the margin m = y p (y = +-1): both from
 * e = exp(-|m|) in (0, 1], which cannot overflow. */
GD_INLINE double gd_logistic(double m, double *neg_sigmoid) {
    const double e = gd_exp_nonpos(-fabs(m)), q = 1.0 / (1.0 + e);
    *neg_sigmoid = -(m > 0 ? e * q : q);
    return gd_log1p_unit(e) + (m > 0 ? 0.0 : -m);
}

/* For the tests: the helpers above on n values (cloned as the kernels are, so the tests check
 * the code this CPU runs). */
GD_HOT void gd_math_check(int which, const double *x, double *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        double ns;
        out[i] = which == 0 ? gd_exp_nonpos(x[i])
               : which == 1 ? gd_log1p_unit(x[i])
               : which == 2 ? gd_logistic(x[i], &ns)
               : which == 3 ? (gd_logistic(x[i], &ns), ns)
               : NAN;
    }
}

/* ---- the shuffled row order ------------------------------------------------------------- */

/* SplitMix64 (Steele, Lea and Flood 2014, with Vigna's constants): each output depends on the
 * state only through one addition, so consecutive draws do not wait on each other. */
static inline uint64_t gd_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* The high 64 bits of a * b, and the low ones in *lo, from 32-bit halves. */
static inline uint64_t gd_mul_hi_lo_portable(uint64_t a, uint64_t b, uint64_t *lo) {
    const uint64_t a0 = (uint32_t)a, a1 = a >> 32, b0 = (uint32_t)b, b1 = b >> 32;
    const uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    const uint64_t mid = (p00 >> 32) + (uint32_t)p01 + (uint32_t)p10;
    *lo = (mid << 32) | (uint32_t)p00;
    return p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

/* The same with the compiler's 128-bit product where it has one (twice as fast a shuffle). */
static inline uint64_t gd_mul_hi_lo(uint64_t a, uint64_t b, uint64_t *lo) {
#if defined(__SIZEOF_INT128__)
    const unsigned __int128 m = (unsigned __int128)a * b;
    *lo = (uint64_t)m;
    return (uint64_t)(m >> 64);
#else
    return gd_mul_hi_lo_portable(a, b, lo);
#endif
}

/* For the tests: both products of a[i] * b[i], hi[i] and lo[i]. */
void gd_mul_check(int portable, const uint64_t *a, const uint64_t *b, uint64_t *hi,
                  uint64_t *lo, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        hi[i] = portable ? gd_mul_hi_lo_portable(a[i], b[i], &lo[i])
                         : gd_mul_hi_lo(a[i], b[i], &lo[i]);
}

/* Uniform on [0, range) for range >= 1, unbiased: Lemire, "Fast random integer generation in
 * an interval" (2019).  The rejection happens with probability below range / 2^64. */
static inline uint64_t gd_bounded(uint64_t *state, uint64_t range) {
    uint64_t lo, hi = gd_mul_hi_lo(gd_splitmix64(state), range, &lo);
    if (lo < range) {
        const uint64_t threshold = (0 - range) % range;         /* 2^64 mod range */
        while (lo < threshold) hi = gd_mul_hi_lo(gd_splitmix64(state), range, &lo);
    }
    return hi;
}

/* The shuffle: a forward Fisher-Yates (Durstenfeld), which fixes position i at step i, so an
 * epoch can draw its order a batch ahead of the rows it reads (gd_epoch_dense_shuffled_*).
 * Step i swaps order[i] with order[j], j = i + gd_bounded(n - i); each j is drawn
 * GD_SHUFFLE_RING steps early, in the same order, and its line prefetched (the same draws, so
 * the same permutation, as drawing each at its step). */
#define GD_SHUFFLE_RING 16
_Static_assert(sizeof(gd_shuffle) == GD_SHUFFLE_WORDS * sizeof(int64_t), "gd_shuffle layout");
_Static_assert(sizeof(((gd_shuffle *)0)->ring) == GD_SHUFFLE_RING * sizeof(int64_t) &&
                   (GD_SHUFFLE_RING & (GD_SHUFFLE_RING - 1)) == 0,
               "gd_shuffle ring: GD_SHUFFLE_RING entries, a power of two");
/* an epoch drawing its order reads at most GD_PREFETCH_MAX_ROWS positions past its rows */
_Static_assert(GD_PREFETCH_MIN_ROWS <= GD_PREFETCH_MAX_ROWS, "prefetch rows");

/* 1 when g can be advanced over order[n]: its next position and pending swap partners in
 * range (a state from gd_shuffle_init, advanced only by gd_shuffle_advance, always is). */
int gd_shuffle_valid(const gd_shuffle *g, int64_t n) {
    if (g->n != n || g->next < 0 || (n > 0 && g->next > n - 1) || (n == 0 && g->next != 0))
        return 0;
    for (int64_t i = g->next; i < g->next + GD_SHUFFLE_RING && i < n - 1; i++) {
        const int64_t j = g->ring[i & (GD_SHUFFLE_RING - 1)];
        if (j < i || j >= n) return 0;
    }
    return 1;
}

void gd_shuffle_init(gd_shuffle *g, int64_t *order, int64_t n, uint64_t seed) {
    for (int64_t i = 0; i < n; i++) order[i] = i;
    g->n = n;
    g->next = 0;
    g->state = seed;
    g->unused = 0;
    for (int64_t i = 0; i < GD_SHUFFLE_RING && i < n - 1; i++)
        g->ring[i] = i + (int64_t)gd_bounded(&g->state, (uint64_t)(n - i));
}

static inline void gd_shuffle_step(gd_shuffle *g, int64_t *order) {
    const int64_t n = g->n, i = g->next, slot = i & (GD_SHUFFLE_RING - 1);
    const int64_t j = g->ring[slot], k = i + GD_SHUFFLE_RING;
    if (k < n - 1) {
        const int64_t jk = k + (int64_t)gd_bounded(&g->state, (uint64_t)(n - k));
        g->ring[slot] = jk;
        GD_PREFETCH_W(order + jk);
    }
    const int64_t t = order[i];
    order[i] = order[j];
    order[j] = t;
    g->next = i + 1;
}

/* Fix positions up to (not including) upto; all n once the last swap is done (step n - 2). */
static inline void gd_shuffle_to(gd_shuffle *g, int64_t *order, int64_t upto) {
    const int64_t lim = upto < g->n - 1 ? upto : g->n - 1;
    while (g->next < lim) gd_shuffle_step(g, order);
}

void gd_shuffle_advance(gd_shuffle *g, int64_t *order, int64_t upto) {
    gd_shuffle_to(g, order, upto);
}

int gd_permutation(int64_t *order, int64_t n, uint64_t seed) {
    if (n < 0 || (n > 0 && !order)) return GD_ERR_ARGUMENT;
    gd_shuffle g;
    gd_shuffle_init(&g, order, n, seed);
    gd_shuffle_to(&g, order, n);
    return GD_OK;
}

/* Values between two chunks' partials in gd_read_rows_dense's work: d rounded up to 16, whole
 * cache lines for either dtype, so threads summing neighbouring chunks do not share a line. */
static inline int64_t gd_read_rows_stride(int64_t d) { return (d + 15) / 16 * 16; }

int64_t gd_read_rows_work(int64_t m, int64_t d) {
    return m > 0 && d > 0 ? (m + GD_READ_ROWS - 1) / GD_READ_ROWS * gd_read_rows_stride(d) : 0;
}

int gd_openmp_enabled(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int gd_max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int gd_n_state(int optimizer) {
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

double gd_step_lr(const gd_config *cfg, double lr_epoch, int64_t t) {
    switch (cfg->schedule) {
    case GD_SCHED_INVSCALING: return lr_epoch / pow((double)t, cfg->power_t);
    case GD_SCHED_OPTIMAL: return 1.0 / (cfg->opt_alpha * (cfg->opt_t0 + (double)t - 1.0));
    default: return lr_epoch;
    }
}

/* Each block's partial gradient (P entries and K of scratch) starts on its own cache line, and
 * the buffer is used from its first line boundary on (see gd_block_stride and work_lines). */
int64_t gd_work_size(const gd_config *cfg, int64_t d) {
    const int64_t K = cfg->n_outputs, P = K * (d + 1);
    return cfg->max_blocks * gd_block_stride(P, K) + (P + GD_CHUNK - 1) / GD_CHUNK +
           GD_LINE_ELEMS;
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

static int check_config(const gd_config *cfg, int64_t d) {
    if (!(cfg->clip_norm >= 0)) return GD_ERR_ARGUMENT;
    if (cfg->n_outputs < 1 || d < 1) return GD_ERR_ARGUMENT;
    if (cfg->loss < GD_LOSS_SQUARED || cfg->loss > GD_LOSS_MULTINOMIAL) return GD_ERR_ARGUMENT;
    if ((cfg->loss == GD_LOSS_MULTINOMIAL) != (cfg->n_outputs > 1)) return GD_ERR_ARGUMENT;
    if (gd_n_state(cfg->optimizer) < 0) return GD_ERR_ARGUMENT;
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

/* ---- shared parts of the sparse (O(nnz)) path of CSR epochs -------------------------------- */

enum { GD_SP_SGD = 0, GD_SP_MOM = 1, GD_SP_LAZY = 2 };

/* 2x2 matrices [[a, b], [c, e]] acting on a coordinate's (w, buf) under momentum/nesterov. */
typedef struct { double a, b, c, e; } gd_m2;

static inline gd_m2 m2_mul(gd_m2 x, gd_m2 y) {
    gd_m2 r = {x.a * y.a + x.b * y.c, x.a * y.b + x.b * y.e,
               x.c * y.a + x.e * y.c, x.c * y.b + x.e * y.e};
    return r;
}

/* The map of one momentum/nesterov step (t > 1) on a coordinate whose data gradient is 0:
 * g' = l2 w; buf' = mu buf + (1 - dampening) g'; w' = w - lr buf' (nesterov: w - lr (g' + mu buf')). */
static gd_m2 momentum_matrix(const gd_config *cfg, double lr) {
    const double mu = cfg->momentum, dl2 = (1.0 - cfg->dampening) * cfg->l2;
    gd_m2 M;
    if (cfg->optimizer == GD_OPT_NESTEROV) {
        M.a = 1.0 - lr * cfg->l2 - lr * mu * dl2;
        M.b = -lr * mu * mu;
    } else {
        M.a = 1.0 - lr * dl2;
        M.b = -lr * mu;
    }
    M.c = dl2;
    M.e = mu;
    return M;
}

/* M^k for any k >= 0: a table of M^0..M^255 and of M^(256 * 2^i), combined by the bits of k
 * (the factors are powers of one matrix, so they commute). */
#define GD_MP_SMALL 256
#define GD_MP_BIG 56
typedef struct {
    gd_m2 small[GD_MP_SMALL];
    gd_m2 big[GD_MP_BIG];
} gd_mpow;

static void mpow_init(gd_mpow *tb, gd_m2 M) {
    gd_m2 I = {1, 0, 0, 1};
    tb->small[0] = I;
    for (int k = 1; k < GD_MP_SMALL; k++) tb->small[k] = m2_mul(M, tb->small[k - 1]);
    tb->big[0] = m2_mul(M, tb->small[GD_MP_SMALL - 1]);
    for (int i = 1; i < GD_MP_BIG; i++) tb->big[i] = m2_mul(tb->big[i - 1], tb->big[i - 1]);
}

static inline gd_m2 mpow_get(const gd_mpow *tb, int64_t k) {
    gd_m2 r = tb->small[k & (GD_MP_SMALL - 1)];
    k >>= 8;
    for (int i = 0; k && i < GD_MP_BIG; i++, k >>= 1)
        if (k & 1) r = m2_mul(tb->big[i], r);
    return r;
}

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

int64_t gd_csr_work_bytes(const gd_config *cfg, int64_t d, int64_t batch_size, int n_threads) {
    if (d < 1 || batch_size < 1 || cfg->n_outputs < 1) return 0;
    const gd_sp_layout L = sp_layout(cfg->n_outputs, d, batch_size);
    /* alignment slack, the shared per-feature array aux[d], the interleaved coefficients,
     * then the thread regions */
    return GD_LINE_BYTES + gd_line_up(d * 8) + sp_ilv_bytes(cfg, d) +
           sp_n_threads(cfg, n_threads) * L.stride;
}

/* ---- sharing a batch's blocks between threads that run at different speeds -----------------
 * With the replicated step (epoch_worker_rep), every thread waits at each batch's meeting for
 * the slowest.  Threads are not equally fast: thread 0 also draws the shuffle, and on a shared
 * host one core can be slower than the other for minutes.  So each thread publishes how long it
 * was busy on each batch, every thread keeps the same running estimate of each thread's time
 * per row (gd_share_learn), and shares out the blocks of the batch after next in proportion to
 * speed (gd_share_bounds).  Which thread computes a block does not change what it computes, so
 * the results stay the same bits; only the meetings get shorter.  At the balance where every
 * thread is busy equally long, the estimates ask for the split they were measured on. */
#define GD_SHARE_GAIN 0.125    /* weight of the newest batch in the running estimates */

/* The blocks of a batch of nb blocks that thread t takes: bound[t]..bound[t + 1].  cum[t] is
 * the fraction of the rows before thread t's share (cum[0] = 0, cum[nth] = 1).  Every thread
 * gets at least one block while nb >= nth (so every thread's speed stays measured); otherwise
 * the even split. */
void gd_share_bounds(const double *cum, int nth, int64_t nb, int64_t *bound) {
    bound[0] = 0;
    bound[nth] = nb;
    for (int t = 1; t < nth; t++) {
        int64_t b = (nb * t) / nth;
        if (nb >= nth) {
            const int64_t lo = bound[t - 1] + 1, hi = nb - (nth - t);
            const double x = cum[t] * (double)nb + 0.5;
            b = x < (double)lo ? lo : (x > (double)hi ? hi : (int64_t)x);
        }
        bound[t] = b;
    }
}

/* Fold one batch's busy times (busy[t] over rows[t] rows; a time <= 0 or a thread without rows
 * is skipped, and one over 4 times the estimate or under a quarter of it counts as that) into
 * the per-row estimates est[t] (0: none yet), then set cum from the speeds 1 / est: the even
 * split until every thread has an estimate.  Every thread calls this with the same values in
 * the same order, so all get the same cum. */
void gd_share_learn(const double *busy, const int64_t *rows, int nth, double *est, double *cum) {
    int known = 1;
    for (int t = 0; t < nth; t++) {
        if (rows[t] > 0 && busy[t] > 0) {
            double per_row = busy[t] / (double)rows[t];
            if (est[t] > 0) {     /* one preempted batch moves the estimate by 3/8 at most */
                per_row = per_row > 4 * est[t] ? 4 * est[t]
                                               : (per_row < est[t] / 4 ? est[t] / 4 : per_row);
                est[t] += GD_SHARE_GAIN * (per_row - est[t]);
            } else {
                est[t] = per_row;
            }
        }
        known &= est[t] > 0;
    }
    double total = 0;
    for (int t = 0; t < nth; t++) total += known ? 1.0 / est[t] : 1.0;
    double acc = 0;
    for (int t = 0; t < nth; t++) {
        cum[t] = acc / total;
        acc += known ? 1.0 / est[t] : 1.0;
    }
    cum[nth] = 1.0;
}

#define GD_T double
#define GD_TS f64
#define GD_SFX(name) name##_f64
#define GD_EXP exp
#define GD_LOG log
#define GD_SQRT sqrt
#define GD_FABS fabs
#include "gd_kernels_impl.h"
#undef GD_T
#undef GD_TS
#undef GD_SFX
#undef GD_EXP
#undef GD_LOG
#undef GD_SQRT
#undef GD_FABS

#define GD_T float
#define GD_TS f32
#define GD_SFX(name) name##_f32
#define GD_EXP expf
#define GD_LOG logf
#define GD_SQRT sqrtf
#define GD_FABS fabsf
#include "gd_kernels_impl.h"
