/* Process-level runtime state of the kernels: interrupt requests and fork detection.
 * Internal to csrc/ (the public declarations are in gdfast.h). */
#ifndef GD_RUNTIME_H
#define GD_RUNTIME_H
int gd_interrupt_pending(void);
int gd_in_forked_child(void);
void gd_mark_parallel_used(void);
#endif
