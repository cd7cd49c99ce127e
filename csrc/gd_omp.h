/* Thread helpers that compile with and without OpenMP (after implicit's bpr.h). */
#ifndef GD_OMP_H
#define GD_OMP_H
#ifdef _OPENMP
#include <omp.h>
static inline int gd_thread_num(void) { return omp_get_thread_num(); }
static inline int gd_num_threads(void) { return omp_get_num_threads(); }
#define GD_BARRIER _Pragma("omp barrier")
#else
static inline int gd_thread_num(void) { return 0; }
static inline int gd_num_threads(void) { return 1; }
#define GD_BARRIER
#endif
#endif
