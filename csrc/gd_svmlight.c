/* The svmlight / libsvm text parser (gd_svmlight.h): chunks of lines on OpenMP threads. */
#include "gd_svmlight.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/* The end of the line that starts at p (the '\n', or stop). */
static const char *line_end(const char *p, const char *stop) {
    const char *e = memchr(p, '\n', (size_t)(stop - p));
    return e ? e : stop;
}

void gd_svmlight_bounds(const char *buf, int64_t len, int n_chunks, int64_t *bounds) {
    bounds[0] = 0;
    for (int k = 1; k < n_chunks; k++) {
        int64_t at = len * k / n_chunks;
        if (at < bounds[k - 1]) at = bounds[k - 1];
        /* the next line start at or after `at` (a position just after a '\n') */
        while (at < len && at > 0 && buf[at - 1] != '\n') at++;
        bounds[k] = at;
    }
    bounds[n_chunks] = len;
}

/* Whether the line [p, e) is a row (not blank, not only a comment); *q: its first non-space. */
static int is_row(const char *p, const char *e, const char **q) {
    while (p < e && is_space(*p)) p++;
    *q = p;
    return p < e && *p != '#';
}

/* One row's stored entries: its tokens after the label, up to a comment, but qid:N. */
static int64_t count_entries(const char *q, const char *e) {
    int64_t n = 0;
    while (q < e && !is_space(*q) && *q != '#') q++;            /* the label */
    for (;;) {
        while (q < e && is_space(*q)) q++;
        if (q >= e || *q == '#') return n;
        if (!(e - q > 4 && memcmp(q, "qid:", 4) == 0)) n++;
        while (q < e && !is_space(*q) && *q != '#') q++;
    }
}

static void count_chunk(const char *buf, int64_t b0, int64_t b1, int64_t *rows,
                        int64_t *entries, int64_t *lines) {
    const char *p = buf + b0, *stop = buf + b1;
    int64_t r = 0, n = 0, l = 0;
    while (p < stop) {
        const char *e = line_end(p, stop), *q;
        l++;
        if (is_row(p, e, &q)) {
            r++;
            n += count_entries(q, e);
        }
        p = e < stop ? e + 1 : stop;
    }
    *rows = r;
    *entries = n;
    *lines = l;
}

int gd_svmlight_count(const char *buf, int n_chunks, const int64_t *bounds, int64_t *rows,
                      int64_t *entries, int64_t *lines, int n_threads) {
    if (n_chunks < 1 || n_threads < 1) return -1;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads)
#endif
    for (int k = 0; k < n_chunks; k++)
        count_chunk(buf, bounds[k], bounds[k + 1], &rows[k], &entries[k], &lines[k]);
    (void)n_threads;
    return 0;
}

typedef struct {
    int64_t min_index, max_index, err_line;
    const char *err_what;
} chunk_out;

static void fill_chunk(const char *buf, int64_t b0, int64_t b1, int64_t row, int64_t k,
                       int64_t line, double *y, int64_t *indptr, int64_t *indices,
                       double *data, chunk_out *out) {
    const char *p = buf + b0, *stop = buf + b1;
    out->min_index = INT64_MAX;
    out->max_index = -1;
    out->err_line = 0;
    out->err_what = NULL;
    for (; p < stop; line++) {
        const char *e = line_end(p, stop), *q;
        if (!is_row(p, e, &q)) {
            p = e < stop ? e + 1 : stop;
            continue;
        }
        char *end;
        errno = 0;
        double label = strtod(q, &end);
        if (end == q || (end < e && !is_space(*end) && *end != '#')) {
            out->err_line = line;
            out->err_what = "expected a numeric label first";
            return;
        }
        y[row] = label;
        q = end;
        for (;;) {
            while (q < e && is_space(*q)) q++;
            if (q >= e || *q == '#') break;
            if (e - q > 4 && memcmp(q, "qid:", 4) == 0) {        /* ignored */
                q += 4;
                while (q < e && !is_space(*q)) q++;
                continue;
            }
            errno = 0;
            long long index = strtoll(q, &end, 10);
            if (end == q || end >= e || *end != ':' || index < 0 || errno == ERANGE) {
                out->err_line = line;
                out->err_what = "expected index:value with a non-negative integer index";
                return;
            }
            q = end + 1;
            double value = strtod(q, &end);
            if (end == q || (end < e && !is_space(*end) && *end != '#')) {
                out->err_line = line;
                out->err_what = "expected a number after index:";
                return;
            }
            q = end;
            indices[k] = (int64_t)index;
            data[k] = value;
            if (index < out->min_index) out->min_index = index;
            if (index > out->max_index) out->max_index = index;
            k++;
        }
        indptr[row + 1] = k;
        row++;
        p = e < stop ? e + 1 : stop;
    }
}

int gd_svmlight_fill(const char *buf, int n_chunks, const int64_t *bounds,
                     const int64_t *row0, const int64_t *entry0, const int64_t *line0,
                     double *y, int64_t *indptr, int64_t *indices, double *data,
                     int64_t *min_index, int64_t *max_index, int64_t *err_line,
                     const char **err_what, int n_threads) {
    if (n_chunks < 1 || n_threads < 1) return -1;
    chunk_out *outs = malloc(sizeof(chunk_out) * (size_t)n_chunks);
    if (!outs) return -2;
    indptr[0] = 0;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads)
#endif
    for (int k = 0; k < n_chunks; k++)
        fill_chunk(buf, bounds[k], bounds[k + 1], row0[k], entry0[k], line0[k], y, indptr,
                   indices, data, &outs[k]);
    (void)n_threads;
    *min_index = INT64_MAX;
    *max_index = -1;
    *err_line = 0;
    *err_what = NULL;
    for (int k = 0; k < n_chunks; k++) {
        if (outs[k].err_line) {                /* chunks are in line order: the first one */
            *err_line = outs[k].err_line;
            *err_what = outs[k].err_what;
            break;
        }
        if (outs[k].min_index < *min_index) *min_index = outs[k].min_index;
        if (outs[k].max_index > *max_index) *max_index = outs[k].max_index;
    }
    free(outs);
    return *err_line ? -1 : 0;
}
