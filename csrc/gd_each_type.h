/* Instantiates the template GD_TEMPLATE once per floating type, double then float, with
 *   GD_T (double or float), GD_TS (f64 or f32), GD_SFX(name) (name_f64 or name_f32) and the
 *   math functions GD_EXP, GD_LOG, GD_SQRT, GD_FABS for that type.
 * For a template over index types too, GD_TEMPLATE is "gd_each_index.h" and GD_ITEMPLATE the
 * template.  Both are undefined at the end, so a .c file instantiates a template with
 *   #define GD_TEMPLATE "gd_loss.h"
 *   #include "gd_each_type.h"
 * Per-element arithmetic is done in GD_T (float32 stays float32), except the logistic loss,
 * evaluated per row in double (gd_logistic) and rounded; losses are summed in double.
 * (No include guard: every inclusion instantiates.) */
#define GD_T double
#define GD_TS f64
#define GD_SFX(name) name##_f64
#define GD_EXP exp
#define GD_LOG log
#define GD_SQRT sqrt
#define GD_FABS fabs
#include GD_TEMPLATE
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
#include GD_TEMPLATE
#undef GD_T
#undef GD_TS
#undef GD_SFX
#undef GD_EXP
#undef GD_LOG
#undef GD_SQRT
#undef GD_FABS

#undef GD_TEMPLATE
#undef GD_ITEMPLATE
