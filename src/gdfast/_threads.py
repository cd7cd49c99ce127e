"""How many threads a fit runs on: the n_threads rule, and whether OpenMP is there at all.

The kernels run on the thread count resolved here; results never depend on it (except with
parallel="hogwild"), only the time does.
"""
from __future__ import annotations

import contextlib
import os
import threading

from gdfast import _kernels
from gdfast._validation import check_int

MAX_THREADS_FACTOR = 4     # n_threads may oversubscribe the CPUs, up to this factor


def openmp_enabled() -> bool:
    """Whether the native kernels were built with OpenMP.

    Without OpenMP they run serially: every fit then uses one thread, whatever
    ``n_threads`` says.

    Returns
    -------
    bool
        True when the kernels were compiled with OpenMP.

    Examples
    --------
    >>> import gdfast
    >>> isinstance(gdfast.openmp_enabled(), bool)
    True
    """
    return _kernels.openmp_enabled()


def resolve_n_threads(n_threads, max_threads, openmp):
    """scikit-learn's rule: None -> omp_get_max_threads() (honours OMP_NUM_THREADS and
    threadpoolctl), negative -> counted from the end (-1 = all), 0 is an error; 1 without
    OpenMP.  More than 4x the CPUs is refused (OpenMP aborts the process when it cannot
    create its threads)."""
    if n_threads is None:
        n = max_threads
    else:
        n = check_int(n_threads, "n_threads")
        if n == 0:
            raise ValueError("n_threads=0 is not valid; use None (all threads), a positive "
                             "count, or a negative count (-1 = all threads)")
        limit = MAX_THREADS_FACTOR * max(max_threads, os.cpu_count() or 1)
        if n > limit:
            raise ValueError(f"n_threads={n} is more than {MAX_THREADS_FACTOR} times the "
                             f"{limit // MAX_THREADS_FACTOR} CPUs available; use at most "
                             f"{limit}, or None for all CPUs")
        if n < 0:
            n = max(1, max_threads + 1 + n)
    return max(1, n) if openmp else 1


def effective_n_threads(n_threads: int | None) -> int:
    """The number of threads a fit with this ``n_threads`` would run on.

    Parameters
    ----------
    n_threads : int or None
        As for :func:`gdfast.fit`: None for all the threads OpenMP would use (it honours
        ``OMP_NUM_THREADS`` and threadpoolctl), a positive count, or a negative count
        counted from the end (-1 = all).

    Returns
    -------
    int
        The thread count, at least 1: 1 without OpenMP, and 1 in a process forked after
        gdfast used OpenMP threads (GNU libgomp cannot start threads there).

    Raises
    ------
    TypeError
        If ``n_threads`` is not an integer or None.
    ValueError
        If ``n_threads`` is 0, or more than 4 times the CPUs available.

    Examples
    --------
    >>> import gdfast
    >>> gdfast.effective_n_threads(1)
    1
    """
    n = resolve_n_threads(n_threads, _kernels.max_threads(), _kernels.openmp_enabled())
    return 1 if _kernels.in_forked_child() else n


_BLAS_LOCK = threading.Lock()
_BLAS_CONTROLLER = []      # threadpoolctl's ThreadpoolController, made once


@contextlib.contextmanager
def one_blas_thread():
    """A context in which numpy's BLAS runs on one thread, where threadpoolctl is installed
    (else a context that does nothing).  For the small dense products between kernels (the
    L-BFGS preconditioner's sketch): OpenBLAS's threads, once woken, keep spinning for a
    while after a call, and on a machine with as many cores as kernel threads they take
    those cores from the next kernel's threads.  The limit is process-wide, so the contexts
    of fits in several Python threads (the estimators' one-vs-rest models) run one at a
    time under a lock: each restores what the one before it set, never a limit that
    another context set."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        yield
        return
    with _BLAS_LOCK:
        if not _BLAS_CONTROLLER:
            _BLAS_CONTROLLER.append(ThreadpoolController())
        with _BLAS_CONTROLLER[0].limit(limits=1, user_api="blas"):
            yield
