/* How the kernels' hot code is compiled: function multiversioning (GD_HOT), forced inlining
 * (GD_INLINE), prefetch hints, and token pasting for the templates' names. */
#ifndef GD_COMPILER_H
#define GD_COMPILER_H

/* Without OpenMP (a serial build) the kernels' omp pragmas are ignored on purpose; the build
 * then compiles with -fopenmp-simd where it can, which keeps the simd ones. */
#if !defined(_OPENMP) && defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunknown-pragmas"
#endif

#define GD_CAT3(a, b, c) a##_##b##_##c
#define GD_XCAT3(a, b, c) GD_CAT3(a, b, c)

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
#endif
