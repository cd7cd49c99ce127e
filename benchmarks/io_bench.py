"""Reading files: gdfast.io against scikit-learn's and pyarrow's readers, side by side in one
run, and `gdfast train` against reading plus the Python fit.

    python benchmarks/io_bench.py                 # 1 000 000 rows (~3 minutes, ~1.5 GB of files)
    python benchmarks/io_bench.py --rows 100000   # smaller
    python benchmarks/io_bench.py --json /tmp/io.json

- svmlight: a 1 000 000-row file with 40 non-zeros a row over 2^20 features, written by
  ``sklearn.datasets.dump_svmlight_file``; ``gdfast.io.read_svmlight`` (n_threads threads)
  against ``sklearn.datasets.load_svmlight_file``, and the two matrices compared exactly.
- CSV: 1 000 000 x 50 floats; ``gdfast.io.read_table`` against ``pyarrow.csv.read_csv`` plus
  its conversion to one float64 array.
- ``gdfast train`` on the svmlight file, 5 epochs of sgd (the command's own function, in this
  process) against ``read_svmlight`` plus ``gdfast.fit`` with the same options.
- ``gdfast train --stream`` on the svmlight and the CSV file, 5 epochs of sgd, each in a child
  process under a memory limit of a quarter of the file's size (``--limit-share``), enforced
  by this process: it reads the child's resident memory every 10 ms and kills it past the
  limit.  Reported: the child's peak resident memory (VmHWM), that of the same command on a
  file of three rows (the start-up: imports, threads), the chunk's size in memory, and the
  time and peak of the same command in memory.
Each measure is the median of --repeats runs, the systems alternated.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def median_time(fn, repeats):
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return float(np.median(out)), out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n-threads", type=int, default=2)
    ap.add_argument("--dir", default=None, help="where to write the files (a temporary folder)")
    ap.add_argument("--json")
    ap.add_argument("--limit-share", type=float, default=0.25,
                    help="the streamed fit's memory limit, as a share of the file's size")
    ap.add_argument("--chunk-rows", default="8192,32768",
                    help="the streamed fit's chunk rows (comma-separated: one run each)")
    ap.add_argument("--skip", default="", help="comma-separated: svmlight,csv,train,stream")
    args = ap.parse_args(argv)
    skip = set(args.skip.split(","))
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import scipy.sparse as sp
    from sklearn.datasets import dump_svmlight_file

    import gdfast

    folder = args.dir or tempfile.mkdtemp(prefix="gdfast-io-")
    n, d = args.rows, 2 ** 20
    rng = np.random.default_rng(0)
    svm = os.path.join(folder, "data.svm")
    if not os.path.exists(svm):
        cols = np.sort(rng.integers(0, d, (n, 40)), axis=1)
        X = sp.csr_matrix((rng.standard_normal(40 * n), cols.ravel(),
                           np.arange(0, 40 * n + 1, 40)), shape=(n, d))
        X.sum_duplicates()
        y = (rng.random(n) > 0.5).astype(int)
        dump_svmlight_file(X, y, svm)
    csv = os.path.join(folder, "data.csv")
    if not os.path.exists(csv):
        table = pa.table({f"x{j}": rng.standard_normal(n) for j in range(50)})
        pcsv.write_csv(table, csv)
    results = {"rows": n, "n_threads": args.n_threads, "gdfast": gdfast.__version__}
    mb = {name: os.path.getsize(path) / 1e6 for name, path in (("svm", svm), ("csv", csv))}
    print(f"# io_bench: {n} rows, {args.n_threads} threads, files in {folder} "
          f"(svmlight {mb['svm']:.0f} MB, CSV {mb['csv']:.0f} MB)")

    if "svmlight" not in skip:
        svmlight_section(args, svm, results)
    if "csv" not in skip:
        csv_section(args, csv, results)
    if "train" not in skip:
        train_section(args, svm, results)
    if "stream" not in skip:
        stream_section(args, {"svm": svm, "csv": csv}, results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


def svmlight_section(args, svm, results):
    from sklearn.datasets import load_svmlight_file

    from gdfast.io import read_svmlight
    ref = load_svmlight_file(svm)
    got = read_svmlight(svm, n_threads=args.n_threads)
    same = ref[0].shape == got[0].shape and (ref[0] != got[0]).nnz == 0 and \
        np.array_equal(ref[1], got[1])
    del ref, got
    times = {"sklearn": [], "gdfast": []}
    for _ in range(args.repeats):           # alternated
        times["sklearn"].append(median_time(lambda: load_svmlight_file(svm), 1)[0])
        times["gdfast"].append(median_time(
            lambda: read_svmlight(svm, n_threads=args.n_threads), 1)[0])
    s, g = np.median(times["sklearn"]), np.median(times["gdfast"])
    results["svmlight"] = dict(sklearn=times["sklearn"], gdfast=times["gdfast"],
                               speedup=float(s / g), same_matrix=bool(same))
    print(f"svmlight: load_svmlight_file {s:.3f} s, read_svmlight {g:.3f} s: {s / g:.2f}x "
          f"(target >= 4), the same matrix: {same}")


def csv_section(args, csv, results):
    import pyarrow.csv as pcsv

    from gdfast.io import read_table

    def arrow_csv():
        t = pcsv.read_csv(csv)
        return np.column_stack([c.to_numpy().astype(np.float64) for c in t.columns])

    times = {"arrow": [], "gdfast": []}
    for _ in range(args.repeats):
        times["arrow"].append(median_time(arrow_csv, 1)[0])
        times["gdfast"].append(median_time(lambda: read_table(csv), 1)[0])
    a, g = np.median(times["arrow"]), np.median(times["gdfast"])
    results["csv"] = dict(arrow=times["arrow"], gdfast=times["gdfast"], ratio=float(g / a))
    print(f"CSV: pyarrow read_csv + float64 array {a:.3f} s, read_table {g:.3f} s: "
          f"{g / a:.2f}x (target <= 1.3)")


def train_section(args, svm, results):
    import gdfast
    from gdfast import cli
    from gdfast.io import read_svmlight
    opts = dict(loss="logistic", optimizer="sgd", learning_rate=0.1, batch_size=256,
                max_epochs=5, tol=None, random_state=0, n_threads=args.n_threads)

    def command():
        argv = ["train", svm, "--label", "0", "--quiet"]
        for k, v in opts.items():
            argv += [f"--{k.replace('_', '-')}", str(v)]
        assert cli.main(argv) == 0

    def python():
        X, y = read_svmlight(svm, n_threads=args.n_threads)
        gdfast.fit(X, y, **opts)

    times = {"command": [], "python": []}
    for _ in range(args.repeats):
        times["command"].append(median_time(command, 1)[0])
        times["python"].append(median_time(python, 1)[0])
    c, p = np.median(times["command"]), np.median(times["python"])
    results["train"] = dict(command=times["command"], python=times["python"],
                            ratio=float(c / p))
    print(f"gdfast train, 5 epochs: {c:.3f} s; read_svmlight + gdfast.fit {p:.3f} s: "
          f"{c / p:.2f}x (target <= 1.3)")


# the child reports its own peak: its VmHWM counts from its exec, where ru_maxrss also counts
# the pages it shared with this process between fork and exec
_CHILD = ("import sys\nfrom gdfast import cli\ntry:\n    rc = cli.main(sys.argv[1:])\n"
          "finally:\n    print([x for x in open('/proc/self/status') if x.startswith('VmHWM')][0],"
          " file=sys.stderr)\nsys.exit(rc)")


def _child(argv, limit=None):
    """(seconds, peak resident bytes, killed) of the gdfast command ARGV in a child process,
    killed when its resident memory passes limit bytes (read every 10 ms)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, *argv],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    killed = False
    while True:
        pid, status, _ = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if limit is not None:
            try:
                with open(f"/proc/{proc.pid}/status") as f:
                    rss = next(int(x.split()[1]) * 1024 for x in f if x.startswith("VmRSS"))
            except (OSError, StopIteration):
                rss = 0
            if rss > limit:
                proc.kill()
                killed = True
        time.sleep(0.01)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode()
    if proc.returncode not in (0, None) and not killed:
        raise RuntimeError(f"gdfast {' '.join(argv)} failed: {err}")
    peak = [int(x.split()[1]) * 1024 for x in err.splitlines() if x.startswith("VmHWM")]
    return seconds, (peak[0] if peak else limit), killed


def stream_section(args, files, results):
    """The streamed fit's peak memory under a limit of a quarter of each file."""
    from gdfast.io import open_stream
    mib = 2 ** 20
    results["stream"] = {}
    for name, path, label, loss in (("svmlight", files["svm"], None, "logistic"),
                                    ("csv", files["csv"], "x0", "squared")):
        size = os.path.getsize(path)
        limit = int(args.limit_share * size)
        opts = ["--loss", loss, "--optimizer", "sgd", "--learning-rate", "0.01",
                "--batch-size", "256", "--max-epochs", "5", "--tol", "none",
                "--random-state", "0", "--n-threads", str(args.n_threads), "--quiet",
                "--no-progress"] + ([] if label is None else ["--label", label])
        # the start-up alone: the same command on a file of three rows, the same format
        tiny = os.path.join(os.path.dirname(path), f"tiny.{name}")
        with open(tiny, "w") as f:
            f.write("1 1:0.5 3:1\n0 2:1\n1 1:1\n" if label is None else
                    "x0,x1\n1,2\n0,1\n1,0\n")
        base = _child(["train", tiny, *opts, "--format", name])[1]
        memory_t, memory_peak = [], 0
        for _ in range(args.repeats):
            t, peak, _ = _child(["train", path, *opts])
            memory_t.append(t)
            memory_peak = max(memory_peak, peak)
        mt = float(np.median(memory_t))
        out = results["stream"][name] = dict(
            file_bytes=size, limit_bytes=limit, startup_peak=base, memory_peak=memory_peak,
            memory_seconds=memory_t, chunks={})
        print(f"{name}: file {size / mib:.0f} MiB, limit {limit / mib:.0f} MiB; start-up alone "
              f"{base / mib:.0f} MiB; in memory 5 epochs {mt:.2f} s, peak "
              f"{memory_peak / mib:.0f} MiB")
        for rows in [int(r) for r in args.chunk_rows.split(",")]:
            stream_t, stream_peak, killed = [], 0, False
            for _ in range(args.repeats):
                t, peak, k = _child(["train", path, "--stream", "--chunk-rows", str(rows),
                                     *opts], limit)
                stream_t.append(t)
                stream_peak, killed = max(stream_peak, peak), killed or k
            with open_stream(path, label, chunk_rows=rows) as s:
                X, _ = s.read(0)
                chunk = (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes if s.sparse
                         else X.nbytes) + 8 * X.shape[0]
            st = float(np.median(stream_t))
            out["chunks"][rows] = dict(chunk_bytes=chunk, stream_peak=stream_peak,
                                       killed=killed, stream_seconds=stream_t, ratio=st / mt)
            print(f"  --stream --chunk-rows {rows} ({chunk / mib:.1f} MiB a chunk): peak "
                  f"{stream_peak / mib:.0f} MiB ({(stream_peak - base) / mib:.0f} above the "
                  f"start-up), killed: {killed}; 5 epochs {st:.2f} s, {st / mt:.2f}x in memory")


if __name__ == "__main__":
    sys.exit(main())
