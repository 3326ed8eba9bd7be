"""PNG plots of runs and evaluations: training curves, accuracy vs LQ severity (robustness curves),
confusion matrices. Used by `skd plot`, `skd eval --out` and `skd demo`.

matplotlib is an optional dependency (``skdcore[plots]``); without it the plots are skipped with a
note, never an error.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        return plt
    except ImportError:
        return None


NO_PLOTS = "no PNGs: matplotlib is not installed (pip install 'skdcore[plots]')"


def plots_line(paths: Sequence[Optional[Path]]) -> str:
    """The "plots: ..." line of a command: the PNGs written, or why there are none."""
    written = [str(p) for p in paths if p is not None]
    return f"plots: {', '.join(written)}" if written else f"plots: {NO_PLOTS}"


def _save(fig, path: Path) -> Path:
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    os.replace(tmp, path)
    return path


def plot_training_curves(histories: Dict[str, List[dict]], path: Path) -> Optional[Path]:
    """histories: run name -> epoch rows (with train_loss, train_acc, val_top1)."""
    plt = _pyplot()
    if plt is None:
        return None
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for name, rows in histories.items():
        epochs = [r["epoch"] for r in rows]
        ax_loss.plot(epochs, [r.get("train_loss", np.nan) for r in rows], marker="o", label=name)
        # NB: a run that selects on the test split (data.select_on_test) logs test_top1 instead of val_top1
        selection = [r.get("val_top1", r.get("test_top1", np.nan)) for r in rows]
        ax_acc.plot(epochs, [100 * v for v in selection], marker="o", label=f"{name} (val)")
        ax_acc.plot(epochs, [100 * r.get("train_acc", np.nan) for r in rows], linestyle=":", alpha=0.6,
                    color=ax_acc.lines[-1].get_color())
    ax_loss.set(xlabel="epoch", ylabel="training loss (sum of the run's losses)", title="training loss")
    ax_acc.set(xlabel="epoch", ylabel="top-1 %", title="top-1 (solid: validation, dotted: training)")
    ax_loss.legend()
    ax_acc.legend(fontsize=8)
    fig.tight_layout()
    path = _save(fig, Path(path))
    plt.close(fig)
    return path


def plot_confusion(confusion: np.ndarray, names: Optional[Sequence[str]], path: Path,
                   title: str) -> Optional[Path]:
    plt = _pyplot()
    if plt is None:
        return None
    confusion = np.asarray(confusion, dtype=np.float64)
    normalised = confusion / np.maximum(confusion.sum(1, keepdims=True), 1)
    n = confusion.shape[0]
    fig, ax = plt.subplots(figsize=(0.45 * n + 3, 0.45 * n + 2.5))
    image = ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    labels = list(names) if names is not None else [str(i) for i in range(n)]
    ax.set_xticks(range(n), labels, rotation=70, ha="right", fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8)
    for i in range(n):
        for j in range(n):
            if confusion[i, j]:
                ax.text(j, i, int(confusion[i, j]), ha="center", va="center", fontsize=6,
                        color="white" if normalised[i, j] > 0.5 else "black")
    ax.set(xlabel="predicted", ylabel="true", title=title)
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    path = _save(fig, Path(path))
    plt.close(fig)
    return path


def plot_robustness(result: Dict, out_dir: Path, metric: str = "top1",
                    train_severity: Optional[Dict] = None) -> List[Path]:
    """One PNG per corruption (``robustness_<corruption>.png``, a curve per model) and an overview
    of all corruptions side by side (``robustness_all.png``); ``result`` from ``robustness_grid``."""
    plt = _pyplot()
    if plt is None:
        return []
    from ..evaluation.corruptions import SEVERITY_LABEL
    from ..evaluation.robustness import curves

    by_corruption = curves(result, metric)
    out_dir = Path(out_dir)
    paths = []

    def draw(ax, name):
        for model, values in by_corruption[name].items():
            ax.plot(result["grid"][name], [100 * v for v in values], marker="o", label=model)
        if train_severity and name in train_severity:
            ax.axvline(train_severity[name], color="grey", linestyle="--", linewidth=1,
                       label="training LQ level")
        ax.set(xlabel=SEVERITY_LABEL.get(name, "severity"), ylabel=f"{metric} %", title=name, ylim=(0, 101))
        ax.grid(alpha=0.3)

    for name in by_corruption:
        fig, ax = plt.subplots(figsize=(6, 4))
        draw(ax, name)
        ax.legend()
        fig.tight_layout()
        paths.append(_save(fig, out_dir / f"robustness_{name}.png"))
        plt.close(fig)
    names = list(by_corruption)
    cols = min(3, len(names))
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        draw(ax, name)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(f"{metric} under each LQ corruption ({result['num_samples']} clips, seed {result['seed']})")
    fig.tight_layout()
    paths.append(_save(fig, out_dir / "robustness_all.png"))
    plt.close(fig)
    return paths


def write_confusion_csv(confusion: np.ndarray, names: Optional[Sequence[str]], path: Path) -> Path:
    """Confusion counts as CSV: rows true class, columns predicted class, names in the header."""
    import csv
    import io

    from ..atomic_io import atomic_write_text

    n = len(confusion)
    labels = list(names) if names is not None else [str(i) for i in range(n)]
    path = Path(path)
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(["true/predicted"] + labels)
    for label, row in zip(labels, np.asarray(confusion)):
        writer.writerow([label] + [int(v) for v in row])
    atomic_write_text(path, text.getvalue())  # NB: atomic, never through a link at ``path``
    return path
