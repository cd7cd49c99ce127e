/* Sharing a batch's blocks between threads that run at different speeds.
 * With the replicated step (epoch_worker_rep), every thread waits at each batch's meeting for
 * the slowest.  Threads are not equally fast: thread 0 also draws the shuffle, and on a shared
 * host one core can be slower than the other for minutes.  So each thread publishes how long it
 * was busy on each batch, every thread keeps the same running estimate of each thread's time
 * per row (share_learn), and shares out the blocks of the batch after next in proportion to
 * speed (share_bounds).  Which thread computes a block does not change what it computes, so
 * the results stay the same bits; only the meetings get shorter.  At the balance where every
 * thread is busy equally long, the estimates ask for the split they were measured on.
 * (gd_testing.h exposes both functions to the tests.) */
#ifndef GD_SHARE_H
#define GD_SHARE_H
#include <stdint.h>

#define GD_SHARE_GAIN 0.125    /* weight of the newest batch in the running estimates */

/* The blocks of a batch of nb blocks that thread t takes: bound[t]..bound[t + 1].  cum[t] is
 * the fraction of the rows before thread t's share (cum[0] = 0, cum[nth] = 1).  Every thread
 * gets at least one block while nb >= nth (so every thread's speed stays measured); otherwise
 * the even split. */
static inline void share_bounds(const double *cum, int nth, int64_t nb, int64_t *bound) {
    bound[0] = 0;
    bound[nth] = nb;
    for (int t = 1; t < nth; t++) {
        int64_t b = (nb * t) / nth;
        if (nb >= nth) {
            const int64_t lo = bound[t - 1] + 1, hi = nb - (nth - t);
            const double x = cum[t] * (double)nb + 0.5;
            b = x < (double)lo ? lo : (x > (double)hi ? hi : (int64_t)x);
        }
        bound[t] = b;
    }
}

/* Fold one batch's busy times (busy[t] over rows[t] rows; a time <= 0 or a thread without rows
 * is skipped, and one over 4 times the estimate or under a quarter of it counts as that) into
 * the per-row estimates est[t] (0: none yet), then set cum from the speeds 1 / est: the even
 * split until every thread has an estimate.  Every thread calls this with the same values in
 * the same order, so all get the same cum. */
static inline void share_learn(const double *busy, const int64_t *rows, int nth, double *est,
                               double *cum) {
    int known = 1;
    for (int t = 0; t < nth; t++) {
        if (rows[t] > 0 && busy[t] > 0) {
            double per_row = busy[t] / (double)rows[t];
            if (est[t] > 0) {     /* one preempted batch moves the estimate by 3/8 at most */
                per_row = per_row > 4 * est[t] ? 4 * est[t]
                                               : (per_row < est[t] / 4 ? est[t] / 4 : per_row);
                est[t] += GD_SHARE_GAIN * (per_row - est[t]);
            } else {
                est[t] = per_row;
            }
        }
        known &= est[t] > 0;
    }
    double total = 0;
    for (int t = 0; t < nth; t++) total += known ? 1.0 / est[t] : 1.0;
    double acc = 0;
    for (int t = 0; t < nth; t++) {
        cum[t] = acc / total;
        acc += known ? 1.0 / est[t] : 1.0;
    }
    cum[nth] = 1.0;
}
#endif
