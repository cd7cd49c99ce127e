/* The svmlight / libsvm text format, parsed into CSR on several threads (gd_svmlight.c).
 *
 * A line is `label [qid:N] index:value index:value ... [# comment]`; blank lines and lines
 * that hold only a comment are not rows.  The text is cut into chunks at line ends; a first
 * pass counts each chunk's rows, stored entries and lines, a second fills the caller's arrays at
 * the offsets those counts give, so the result does not depend on the thread count.
 *
 * buf must hold len bytes followed by a NUL byte (a Python bytes object does), so that number
 * parsing stops at the end of the text.  Pure C11: no Python.h. */
#ifndef GD_SVMLIGHT_H
#define GD_SVMLIGHT_H

#include <stdint.h>

/* Chunk k covers [bounds[k], bounds[k+1]); each bound but 0 and len is a line start. */
void gd_svmlight_bounds(const char *buf, int64_t len, int n_chunks, int64_t *bounds);

/* Per chunk: rows, stored entries and lines (rows plus blank and comment lines). */
int gd_svmlight_count(const char *buf, int n_chunks, const int64_t *bounds, int64_t *rows,
                      int64_t *entries, int64_t *lines, int n_threads);

/* Fill y[n_rows], indptr[n_rows + 1] (from 0), indices[nnz] and data[nnz] (as in the file:
 * index i is stored as i, the caller shifts one-based files), given per chunk the first row,
 * the first entry and the first line number (1-based) from gd_svmlight_count's prefix sums.
 * *min_index and *max_index: over every stored index (INT64_MAX / -1 when none).  Returns 0,
 * or -1 with *err_line the first malformed line's number and *err_what a short reason. */
int gd_svmlight_fill(const char *buf, int n_chunks, const int64_t *bounds,
                     const int64_t *row0, const int64_t *entry0, const int64_t *line0,
                     double *y, int64_t *indptr, int64_t *indices, double *data,
                     int64_t *min_index, int64_t *max_index, int64_t *err_line,
                     const char **err_what, int n_threads);

#endif
