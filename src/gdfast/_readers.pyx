# cython: language_level=3
"""The native file parsers (csrc/gd_svmlight.h), the GIL released around each pass."""
from libc.stdint cimport int64_t

import numpy as np


cdef extern from "gd_svmlight.h" nogil:
    void gd_svmlight_bounds(const char *buf, int64_t len, int n_chunks, int64_t *bounds)
    int gd_svmlight_count(const char *buf, int n_chunks, const int64_t *bounds, int64_t *rows,
                          int64_t *entries, int64_t *lines, int n_threads)
    int gd_svmlight_fill(const char *buf, int n_chunks, const int64_t *bounds,
                         const int64_t *row0, const int64_t *entry0, const int64_t *line0,
                         double *y, int64_t *indptr, int64_t *indices, double *data,
                         int64_t *min_index, int64_t *max_index, int64_t *err_line,
                         const char **err_what, int n_threads)


def parse_svmlight(text, int n_threads, int64_t length=-1):
    """(y, indptr, indices, data, min_index, max_index) of svmlight text, float64 and int64,
    the indices as written; raises ValueError("line N: ...") on a malformed line.

    text: a bytes object (which ends with a NUL byte), or with length, a buffer whose first
    length bytes are the text and whose next byte is NUL (a reused bytearray)."""
    cdef const unsigned char[::1] view
    cdef const char *buf
    if isinstance(text, bytes) and length < 0:
        buf = text
        length = len(text)
    else:
        view = text
        if not 0 <= length < view.shape[0] or view[length] != 0:
            raise ValueError("parse_svmlight: a NUL byte must follow the text's length bytes")
        buf = <const char *>&view[0]
    cdef int n_chunks = max(1, min(4 * n_threads, <int>(length // 65536) + 1))
    bounds = np.empty(n_chunks + 1, dtype=np.int64)
    rows = np.empty(n_chunks, dtype=np.int64)
    entries = np.empty(n_chunks, dtype=np.int64)
    lines = np.empty(n_chunks, dtype=np.int64)
    cdef int64_t[::1] b = bounds, r = rows, e = entries, l = lines
    cdef int status
    with nogil:
        gd_svmlight_bounds(buf, length, n_chunks, &b[0])
        status = gd_svmlight_count(buf, n_chunks, &b[0], &r[0], &e[0], &l[0], n_threads)
    if status != 0:
        raise RuntimeError("gd_svmlight_count rejected its arguments (a bug)")
    row0 = np.concatenate([[0], np.cumsum(rows)[:-1]]).astype(np.int64)
    entry0 = np.concatenate([[0], np.cumsum(entries)[:-1]]).astype(np.int64)
    line0 = (np.concatenate([[0], np.cumsum(lines)[:-1]]) + 1).astype(np.int64)
    n_rows, nnz = int(rows.sum()), int(entries.sum())
    y = np.empty(n_rows, dtype=np.float64)
    indptr = np.empty(n_rows + 1, dtype=np.int64)
    indices = np.empty(nnz, dtype=np.int64)
    data = np.empty(nnz, dtype=np.float64)
    cdef int64_t[::1] R0 = row0, E0 = entry0, L0 = line0, ip = indptr, ix = indices
    cdef double[::1] yv = y, dv = data
    cdef int64_t lo = 0, hi = 0, bad = 0
    cdef const char *what = NULL
    cdef double dummy = 0
    cdef int64_t idummy = 0
    with nogil:
        status = gd_svmlight_fill(buf, n_chunks, &b[0], &R0[0], &E0[0], &L0[0],
                                  &yv[0] if n_rows else &dummy, &ip[0],
                                  &ix[0] if nnz else &idummy, &dv[0] if nnz else &dummy,
                                  &lo, &hi, &bad, &what, n_threads)
    if status == -1 and bad:
        raise ValueError(f"line {bad}: {what.decode() if what != NULL else 'malformed'}")
    if status != 0:
        raise MemoryError("gd_svmlight_fill: out of memory")
    return y, indptr, indices, data, lo, hi
