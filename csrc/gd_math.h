/* The logistic loss's exp and log1p, without libm calls.
 * libm's log1p and exp were a third of a dense logistic epoch's time (perf: more than the
 * memory stalls of its row loop).  These two are branch-free, so a loop over a few rows'
 * values vectorizes, and agree with libm to about 2 ulp (tests/test_reference_oracles.py
 * checks them against math.exp and math.log1p, through gd_math_check of gd_testing.h).
 * Written for the logistic loss's arguments: exp of x <= 0, log1p of e in [0, 1]; float32
 * kernels evaluate them in double. */
#ifndef GD_MATH_H
#define GD_MATH_H
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "gd_compiler.h"

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
#endif
