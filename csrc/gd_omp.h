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

/* A sense-reversing barrier on two C11 atomics for the epoch loop, which meets once or twice
 * per mini-batch (12 500 times an epoch at batch 32 on 400 000 rows).  libgomp's barrier
 * took 250-370 ns per meeting of two threads on the 2-core CI machine, this one 67-76 ns
 * (a loop of 200 000 meetings).  Waiters spin with the CPU's pause hint, then yield the core
 * after GD_SPIN_LIMIT polls (sched_yield, on POSIX systems; elsewhere they keep spinning),
 * so an oversubscribed machine (more threads than free cores) still makes progress.  The
 * last thread to arrive resets the count, then publishes the new sense with release order;
 * every waiter reads it with acquire order, so whatever any thread wrote before the barrier
 * is visible to all after it. */
#include <stdatomic.h>
#if defined(__unix__) || defined(__APPLE__)
#include <sched.h>
#define GD_YIELD() sched_yield()
#else
#define GD_YIELD() ((void)0)
#endif
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define GD_PAUSE() __builtin_ia32_pause()
#elif defined(__GNUC__) && defined(__aarch64__)
#define GD_PAUSE() __asm__ __volatile__("yield")
#else
#define GD_PAUSE() ((void)0)
#endif
#ifndef GD_SPIN_LIMIT
#define GD_SPIN_LIMIT 20000
#endif

typedef struct {
    _Alignas(64) atomic_int count;   /* threads arrived in this round */
    _Alignas(64) atomic_int sense;   /* flips once per round */
} gd_team_barrier;

static inline void gd_team_barrier_init(gd_team_barrier *b) {
    atomic_init(&b->count, 0);
    atomic_init(&b->sense, 0);
}

/* Wait until all nth threads have arrived; *local_sense is the caller's own flag, 0 at the
 * start of the region. */
static inline void gd_team_wait(gd_team_barrier *b, int nth, int *local_sense) {
    const int s = !*local_sense;
    *local_sense = s;
    if (atomic_fetch_add_explicit(&b->count, 1, memory_order_acq_rel) == nth - 1) {
        atomic_store_explicit(&b->count, 0, memory_order_relaxed);
        atomic_store_explicit(&b->sense, s, memory_order_release);
        return;
    }
    unsigned spins = 0;
    while (atomic_load_explicit(&b->sense, memory_order_acquire) != s) {
        if (spins < GD_SPIN_LIMIT) {
            spins++;
            GD_PAUSE();
        } else {
            GD_YIELD();
        }
    }
}

/* Arrival flags for the replicated-step epoch, which needs only "every thread has finished
 * batch k" once per batch: each thread publishes k in its own cache line (release) and waits
 * until every other thread's line holds k or more (acquire).  No line is written by two
 * threads, so a meeting costs one line transfer each way where the counter barrier above
 * takes a read-modify-write of the shared count by every thread and then the sense flag:
 * two threads on the 2-core CI machine, 200 000 meetings, 281-300 against 372-533 ns, and
 * with a 136-double partial read from the other thread after each, 716-756 against
 * 821-1274 ns (while the host placed the two cores far apart; 63-75 ns for the counter
 * barrier otherwise).  Up to GD_FLAG_THREADS threads. */
#define GD_FLAG_THREADS 64
typedef struct {
    _Alignas(64) atomic_llong seq;
    double busy[2];      /* the thread's busy time of batch k in busy[k & 1] (gd_ticks units) */
} gd_team_flag;

static inline void gd_team_flags_init(gd_team_flag *f, int n) {
    for (int t = 0; t < n; t++) {
        atomic_init(&f[t].seq, 0);
        f[t].busy[0] = f[t].busy[1] = 0;
    }
}

/* A clock for comparing how long threads take, in units that only need to be the same on every
 * thread: the time-stamp counter on x86 (constant-rate and synchronized across cores on the
 * CPUs this runs on; a thread that moves to an unsynchronized core reads a busy time that is
 * off for one batch, and a negative one is ignored), else the OpenMP wall clock. */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
static inline double gd_ticks(void) { return (double)__builtin_ia32_rdtsc(); }
#elif defined(_OPENMP)
static inline double gd_ticks(void) { return omp_get_wtime(); }
#else
static inline double gd_ticks(void) { return 0; }
#endif

/* Publish k for thread tid, then wait until all nth threads have published k or more. */
static inline void gd_team_arrive_wait(gd_team_flag *f, int tid, int nth, long long k) {
    atomic_store_explicit(&f[tid].seq, k, memory_order_release);
    unsigned spins = 0;
    for (int t = 0; t < nth; t++) {
        if (t == tid) continue;
        while (atomic_load_explicit(&f[t].seq, memory_order_acquire) < k) {
            if (spins < GD_SPIN_LIMIT) {
                spins++;
                GD_PAUSE();
            } else {
                GD_YIELD();
            }
        }
    }
}
#endif
