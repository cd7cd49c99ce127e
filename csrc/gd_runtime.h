/* Process-level runtime state of the kernels, internal to csrc/ (gd_runtime.c; the public
 * declarations, gd_interrupt_pending and gd_in_forked_child among them, are in gdfast.h). */
#ifndef GD_RUNTIME_H
#define GD_RUNTIME_H
#include "gdfast.h"
/* Record that this process opened an OpenMP parallel region (see gd_in_forked_child). */
void gd_mark_parallel_used(void);
#endif
