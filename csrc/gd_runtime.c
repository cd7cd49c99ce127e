/* Interrupts, fork safety and OpenMP availability for the kernels (POSIX; no Python.h).
 *
 * Interrupts.  A kernel runs without the GIL, so Python cannot run its SIGINT handler until the
 * kernel returns.  While an interruptible kernel runs, gd_interrupt_install() puts a SIGINT
 * handler in front of the current one: it records the request (polled by the kernels between
 * rows) and then calls the previous handler, so Python still learns of the signal and raises
 * KeyboardInterrupt once the kernel has returned.  Installs nest (a count); the caller
 * serializes install/restore (the Cython glue holds the GIL while calling them).
 *
 * Fork.  GNU libgomp's thread pool does not survive fork(): a child that opens a parallel
 * region after its parent used one hangs.  A pthread_atfork child handler records that the
 * parent had used threads; the kernels then run serially in that child. */
#define _POSIX_C_SOURCE 200809L   /* sigaction, with -std=c11 too */
#include "gd_runtime.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__unix__) || defined(__APPLE__)
#define GD_POSIX 1
#include <pthread.h>
#include <signal.h>
#include <string.h>
#endif

static volatile int gd_parallel_used = 0;
static volatile int gd_forked_child = 0;

#ifdef GD_POSIX
static volatile sig_atomic_t gd_stop = 0;
static struct sigaction gd_previous;
static int gd_installed = 0;

static void gd_on_sigint(int sig, siginfo_t *info, void *uctx) {
    gd_stop = 1;
    if (gd_previous.sa_flags & SA_SIGINFO) {
        if (gd_previous.sa_sigaction) gd_previous.sa_sigaction(sig, info, uctx);
    } else if (gd_previous.sa_handler != SIG_DFL && gd_previous.sa_handler != SIG_IGN &&
               gd_previous.sa_handler != NULL) {
        gd_previous.sa_handler(sig);
    }
}

int gd_interrupt_install(void) {
    if (gd_installed++ > 0) return GD_OK;
    gd_stop = 0;     /* a request that arrived after the previous kernel returned is stale */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = gd_on_sigint;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, &gd_previous) != 0) {
        gd_installed--;
        return GD_ERR_ARGUMENT;
    }
    if (!(gd_previous.sa_flags & SA_SIGINFO) &&
        (gd_previous.sa_handler == SIG_IGN || gd_previous.sa_handler == SIG_DFL)) {
        /* SIGINT was ignored, or left to terminate the process: keep it that way (the kernel
         * stays uninterruptible; with SIG_DFL, Ctrl-C ends the process as it would anyway) */
        sigaction(SIGINT, &gd_previous, NULL);
        gd_installed--;
    }
    return GD_OK;
}

void gd_interrupt_restore(void) {
    if (gd_installed == 0) return;
    if (--gd_installed == 0) sigaction(SIGINT, &gd_previous, NULL);
}

int gd_interrupt_pending(void) { return gd_stop != 0; }
void gd_interrupt_clear(void) { gd_stop = 0; }

static void gd_atfork_child(void) {
    if (gd_parallel_used) gd_forked_child = 1;
    gd_stop = 0;
}

__attribute__((constructor)) static void gd_register_atfork(void) {
    pthread_atfork(NULL, NULL, gd_atfork_child);
}
#else
int gd_interrupt_install(void) { return GD_OK; }
void gd_interrupt_restore(void) {}
int gd_interrupt_pending(void) { return 0; }
void gd_interrupt_clear(void) {}
#endif

void gd_mark_parallel_used(void) { gd_parallel_used = 1; }
int gd_in_forked_child(void) { return gd_forked_child; }

int gd_openmp_enabled(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int gd_max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}
