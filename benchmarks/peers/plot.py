"""The charts (PNG, matplotlib's Agg backend): seconds per epoch of the dense rows, seconds per
fit() call of the sparse rows."""
from . import optional


def plot(report, path):
    matplotlib = optional("matplotlib")
    if matplotlib is None:
        report.notes.append("matplotlib is not installed: no chart")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = [r for r in report.rows if r.seconds is not None]
    colors = {"gdfast": "tab:blue", "reference": "tab:gray", "scikit-learn": "tab:orange",
              "torch": "tab:red"}
    fig, ax = plt.subplots(figsize=(10, 0.35 * len(rows) + 1.5))
    labels = [f"{r.library}: {r.name}" + (" (estimated)" if r.estimated else "") for r in rows]
    bars = ax.barh(labels, [r.seconds for r in rows], color=[colors[r.library] for r in rows])
    for bar, r in zip(bars, rows, strict=True):
        if r.estimated:
            bar.set_hatch("//")
            bar.set_alpha(0.5)
    ax.axvline(report.meta["floor_s"], color="k", linestyle="--", label="floor: numpy X @ w")
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("seconds per epoch (log scale)")
    m = report.meta
    ax.set_title(f"logistic regression, n={m['n']}, d={m['d']}, float64, {m['threads']} threads")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"\nchart written to {path}")


def plot_sparse(report, path):
    matplotlib = optional("matplotlib")
    if matplotlib is None:
        report.notes.append("matplotlib is not installed: no chart")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = [r for r in report.rows if r.seconds is not None]
    colors = {"gdfast": "tab:blue", "scikit-learn": "tab:orange"}
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.5))
    labels = [f"{r.library}: {r.name} (acc {r.accuracy:.3f})" for r in rows]
    bars = ax.barh(labels, [r.call_seconds for r in rows],
                   color=[colors[r.library] for r in rows])
    sk = next((r for r in rows if r.library == "scikit-learn"), None)
    if sk is not None:
        ax.axvline(sk.call_seconds, color="k", linestyle="--")
        for bar, r in zip(bars, rows, strict=True):      # speed-up over scikit-learn
            ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2,
                    f" {sk.call_seconds / r.call_seconds:.2f}x", va="center")
    ax.set_xlim(0, 1.15 * max(r.call_seconds for r in rows))
    ax.invert_yaxis()
    ax.set_xlabel("seconds per one-epoch fit() call (dashed: scikit-learn; labels: speed-up "
                  "over it)")
    m = report.meta
    ax.set_title(f"sparse logistic, CSR n={m['n']}, d={m['d']}, {m['nnz']} nnz/row, float64",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"\nchart written to {path}")
