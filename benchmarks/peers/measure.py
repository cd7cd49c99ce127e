"""Timing: medians of repeated calls, side by side in rounds (measure_rounds), and the cores
other processes kept busy meanwhile (from /proc/stat), the sign that a timing is not to be
trusted on a shared machine."""
import os
import resource
import statistics
import time
from dataclasses import dataclass

RUN_BUDGET_S = 30.0          # stop repeating a row once its runs took this long
MIN_MEASURE_S = 0.2          # repeat a row beyond --repeats until its runs took this long
SETTLE_S = 0.2               # pause before each measurement: OpenBLAS's and OpenMP's idle
                             # threads spin for a while after a call and would steal a core


@dataclass
class Timing:
    seconds: float                   # median
    call_seconds: float | None       # median of the whole fit() call, where there is one
    runs: int
    others: float | None             # cores other processes used meanwhile (Linux only)


def cpu_counters():
    """(CPU seconds used by all processes, by this one, wall clock), None off Linux."""
    try:
        with open("/proc/stat") as f:
            user, nice, system, _idle, _iowait, irq, softirq = map(int, f.readline().split()[1:8])
    except (OSError, ValueError):
        return None
    own = resource.getrusage(resource.RUSAGE_SELF)
    return ((user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK"),
            own.ru_utime + own.ru_stime, time.perf_counter())


def others_cores(before, after):
    """Cores that other processes kept busy between two cpu_counters(): on a shared
    machine, the sign that a timing is not to be trusted.  /proc/stat counts in 10 ms
    ticks, so over a window of w seconds this is good to about 0.02 / w cores."""
    if before is None or after is None or after[2] - before[2] < 0.1:
        return None                  # a shorter window would read 0 or 1 core, nothing between
    (all0, own0, t0), (all1, own1, t1) = before, after
    return max(0.0, ((all1 - all0) - (own1 - own0)) / (t1 - t0))


def measure(run, repeats, warmup=True):
    """Medians over `repeats` calls of run(), which returns seconds or a pair (epoch seconds,
    call seconds): fewer once the calls took RUN_BUDGET_S, more while they took less than
    MIN_MEASURE_S (a few milliseconds are at the mercy of one thread wake-up): measure_rounds
    with one run."""
    return measure_rounds({"run": ("run", run)}, repeats, warmup)["run"]


def measure_rounds(runs, repeats, warmup=True):
    """Side by side: {name: Timing} for runs = {name: (kind, run)}, run() as for measure().
    Every round calls each run once, in turn (the order reversed every other round), so a host
    that changes speed while they are measured changes all of them alike, and their ratios are
    taken at the same moments.  Before a call whose kind (numpy, gdfast) differs from the last
    call's, a pause of SETTLE_S lets the other library's idle threads stop spinning.  Rounds go
    on to --repeats, and beyond while a run's calls took less than MIN_MEASURE_S in all, until
    the rounds took RUN_BUDGET_S per run."""
    names = list(runs)
    times = {name: [] for name in names}
    last = [None]

    def call(name):
        kind, run = runs[name]
        if kind != last[0]:
            time.sleep(SETTLE_S)
            last[0] = kind
        out = run()
        return out if isinstance(out, tuple) else (out, None)

    before = cpu_counters()          # the warm-up too: a longer window, a steadier reading
    if warmup:
        for name in names:
            call(name)
    start, rounds = time.perf_counter(), 0
    while not rounds or (time.perf_counter() - start < RUN_BUDGET_S * len(names)
                         and (rounds < repeats or min(sum(t for t, _ in v)
                                                      for v in times.values()) < MIN_MEASURE_S)):
        for name in (names if rounds % 2 == 0 else names[::-1]):
            times[name].append(call(name))
        rounds += 1
    others = others_cores(before, cpu_counters())
    out = {}
    for name, v in times.items():
        calls = [c for _, c in v if c is not None]
        out[name] = Timing(statistics.median(t for t, _ in v),
                           statistics.median(calls) if calls else None, len(v), others)
    return out


def wall(fn, *args, **kwargs):
    t0 = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - t0


def gdfast_epoch(fit, X, y, kwargs):
    """One epoch of fit (gdfast.fit or gdfast.reference.fit): (epoch seconds as the driver
    times it, i.e. without validation, shuffle included; the whole call's seconds)."""
    seen = {}
    t0 = time.perf_counter()
    fit(X, y, callback=lambda rec: seen.update(rec), **kwargs)
    return seen["time"], time.perf_counter() - t0


def time_epochs(fit, X, y, kwargs, repeats, warmup=True):
    return measure(lambda: gdfast_epoch(fit, X, y, kwargs), repeats, warmup)


def max_others(*timings):
    values = [t.others for t in timings if t.others is not None]
    return max(values) if values else None
