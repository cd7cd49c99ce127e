/* Instantiates the template GD_ITEMPLATE once per index type of CSR arrays, int32_t then
 * int64_t, inside an instantiation for GD_T (gd_each_type.h), with
 *   GD_I (int32_t or int64_t), GD_ISFX(name) (name_i32_f64, ...: static functions) and
 *   GD_PUB(name) (name_f64_i32, ...: the public kernels' names).
 * (No include guard: every inclusion instantiates.) */
#define GD_I int32_t
#define GD_ISFX(name) GD_SFX(name##_i32)
#define GD_PUB(name) GD_XCAT3(name, GD_TS, i32)
#include GD_ITEMPLATE
#undef GD_I
#undef GD_ISFX
#undef GD_PUB

#define GD_I int64_t
#define GD_ISFX(name) GD_SFX(name##_i64)
#define GD_PUB(name) GD_XCAT3(name, GD_TS, i64)
#include GD_ITEMPLATE
#undef GD_I
#undef GD_ISFX
#undef GD_PUB
