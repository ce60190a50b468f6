"""A PNG comparing strategies: makespan against the lower bound, latencies, loads.

matplotlib is the optional `bench` extra; `available()` says whether it is installed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

INSTALL = "pip install 'botcluster[bench]'  (or: pip install matplotlib)"


def available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def plot(data: dict[str, Any], out: Path, title: str = "") -> None:
    """Write the comparison of `data` (a results.report dict) to `out`."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    ran = {k: v for k, v in data["strategies"].items() if "skipped" not in v}
    names = list(ran)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    colors = ["#2a7ab0" if n == "botcluster" else "#9a9a9a" for n in names]
    ax = axes[0]
    ax.bar(names, [ran[n]["makespan_s"] or 0 for n in names], color=colors)
    ax.axhline(data["lower_bound_s"], color="#c0392b", linestyle="--", label="lower bound")
    ax.set_title("makespan (simulated s)")
    ax.legend()
    ax = axes[1]
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], [ran[n]["p50_latency_s"] or 0 for n in names], 0.4,
           label="p50", color="#6baed6")
    ax.bar([x + 0.2 for x in xs], [ran[n]["p95_latency_s"] or 0 for n in names], 0.4,
           label="p95", color="#08519c")
    ax.set_xticks(list(xs), names)
    ax.set_title("reply latency (simulated s)")
    ax.legend()
    ax = axes[2]
    ax.bar(names, [ran[n]["loads"] for n in names], color=colors)
    ax.set_title("model loads")
    for a in axes:
        a.tick_params(axis="x", labelrotation=20)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def plot_matrix(reports: dict[str, dict[str, Any]], out: Path) -> None:
    """One PNG for the whole matrix: makespan over the bound and p95 latency (log scale), per
    regime (groups) and strategy (bars)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    regimes = list(reports)
    names = list(dict.fromkeys(n for d in reports.values() for n, r in d["strategies"].items()
                               if "skipped" not in r))
    fig, axes = plt.subplots(2, 1, figsize=(max(8.0, 1.6 * len(regimes)), 7.5))
    width = 0.8 / max(1, len(names))
    for k, (key, title) in enumerate((("ratio_to_bound", "makespan / lower bound"),
                                      ("p95_latency_s", "p95 latency (simulated s, log)"))):
        ax = axes[k]
        for j, name in enumerate(names):
            values = [(reports[g]["strategies"].get(name) or {}).get(key) or 0 for g in regimes]
            ax.bar([i + (j - (len(names) - 1) / 2) * width for i in range(len(regimes))],
                   values, width, label=name)
        ax.set_xticks(list(range(len(regimes))), regimes)
        ax.set_title(title)
        if key == "p95_latency_s":
            ax.set_yscale("log")
        else:
            ax.axhline(1.0, color="#c0392b", linestyle="--", linewidth=1)
    axes[0].legend(ncol=min(4, len(names)), fontsize="small")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
