"""Robustness curves: accuracy of one or more models as skeleton quality drops, per kind of damage.

For every corruption of :mod:`.corruptions` and every severity of its grid, the HQ test clips are
corrupted in batches (seeded: the same corrupted clips for every model) and every model is
evaluated on them, in large batches under ``torch.inference_mode``. The clips are processed in
chunks of ``chunk_size`` so a large test set never sits in memory once per corruption.
``max_samples`` evaluates a seeded, class-stratified subset of a large split instead (the cost
is one forward per clip, model and condition).
"""
from __future__ import annotations

import time
from typing import Dict, Optional, Sequence

import numpy as np
import torch

from ..data.holdout import hold_out
from .corruptions import CORRUPTIONS, DEFAULT_GRID, SCORE_LAYOUTS, check_severities, corrupt
from .metrics import classification_metrics


def score_channel_of(dataset) -> Optional[int]:
    """Channel holding detector confidences (2D pose layouts), or None (3D skeletons)."""
    layout = (getattr(dataset, "manifest", None) or {}).get("layout")
    name = layout.get("name") if isinstance(layout, dict) else layout  # manifests store the full layout dict
    return 2 if name in SCORE_LAYOUTS and getattr(dataset, "num_channels", 0) == 3 else None


def hq_clips(dataset, rows: np.ndarray) -> np.ndarray:
    """(n, C, T, V, M) float32 HQ clips of the dataset's samples ``rows`` (positions in the split)."""
    C = dataset.num_channels
    indices = dataset.indices[rows]
    order = np.argsort(indices, kind="stable")
    block = np.empty((len(indices), C) + dataset.data.shape[2:], dtype=np.float32)
    block[order] = dataset.data[indices[order], C:]
    return block


@torch.inference_mode()
def _logits(model: torch.nn.Module, x: np.ndarray, device: torch.device, batch_size: int) -> torch.Tensor:
    out = []
    for start in range(0, len(x), batch_size):
        batch = torch.from_numpy(x[start:start + batch_size]).to(device, non_blocking=True)
        out.append(model(batch)[0].float().cpu())
    return torch.cat(out) if out else torch.zeros(0, 0)


def robustness_grid(models: Dict[str, torch.nn.Module], dataset, corruptions: Optional[Sequence[str]] = None,
                    grid: Optional[Dict[str, Sequence[float]]] = None, seed: int = 0, batch_size: int = 256,
                    chunk_size: int = 2048, device: Optional[torch.device] = None,
                    max_samples: Optional[int] = None) -> Dict:
    """Top-1 / top-5 / mean class accuracy of every model under every (corruption, severity).

    ``max_samples``: evaluate about this many clips of the split (every class keeps its share,
    chosen with ``seed``) when it has more; None: all of them.

    Returns {"rows": [{model, corruption, severity, top1, top5, mean_class_acc, num_samples}],
    "grid": {corruption: severities}, "seed", "num_samples", "split_samples", "score_channel",
    "seconds"}.
    """
    corruptions = list(corruptions or DEFAULT_GRID)
    unknown = [c for c in corruptions if c not in CORRUPTIONS]
    if unknown:
        raise ValueError(f"unknown corruption(s) {unknown}; choose from {sorted(CORRUPTIONS)}")
    grid = {c: tuple(float(s) for s in (grid or {}).get(c, DEFAULT_GRID[c])) for c in corruptions}
    for name, severities in grid.items():
        check_severities(name, severities)
    device = device or torch.device("cpu")
    for model in models.values():
        model.to(device).eval()
    score_channel = score_channel_of(dataset)
    split_labels = np.asarray(dataset.labels[dataset.indices], dtype=np.int64)
    positions = evaluated_positions(split_labels, max_samples, seed)
    labels = torch.from_numpy(split_labels[positions])
    n = len(labels)
    logits = {(m, c, k): [] for m in models for c in corruptions for k in range(len(grid[c]))}
    start, cpu_start = time.perf_counter(), time.process_time()
    corrupt_seconds = 0.0
    for chunk_start in range(0, n, chunk_size):
        clean = hq_clips(dataset, positions[chunk_start:chunk_start + chunk_size])
        clean_logits = {}  # severity 0 is the clean clips for every corruption: evaluated once
        for c_index, name in enumerate(corruptions):
            for k, severity in enumerate(grid[name]):
                if severity == 0:
                    for model_name, model in models.items():
                        if model_name not in clean_logits:
                            clean_logits[model_name] = _logits(model, clean, device, batch_size)
                        logits[(model_name, name, k)].append(clean_logits[model_name])
                    continue
                tick = time.perf_counter()
                # NB: one generator per (seed, corruption, severity, chunk): every model sees the same clips
                rng = np.random.default_rng([seed, c_index, k, chunk_start])
                x = corrupt(name, clean, severity, rng, score_channel)
                corrupt_seconds += time.perf_counter() - tick
                for model_name, model in models.items():
                    logits[(model_name, name, k)].append(_logits(model, x, device, batch_size))
    rows = []
    for name in corruptions:
        for k, severity in enumerate(grid[name]):
            for model_name in models:
                predicted = torch.cat(logits[(model_name, name, k)])
                m = classification_metrics(predicted, labels, dataset.num_classes)
                rows.append({"model": model_name, "corruption": name, "severity": severity, "top1": m["top1"],
                             "top5": m["top5"], "mean_class_acc": m["mean_class_acc"], "num_samples": n})
    seconds = time.perf_counter() - start
    return {"rows": rows, "grid": {c: list(v) for c, v in grid.items()}, "seed": seed, "num_samples": n,
            "split_samples": len(split_labels), "models": list(models), "score_channel": score_channel,
            "seconds": {"total": seconds, "corrupt": corrupt_seconds, "evaluate": seconds - corrupt_seconds,
                        "cpu": time.process_time() - cpu_start, "threads": torch.get_num_threads()}}


def evaluated_positions(labels: np.ndarray, max_samples: Optional[int], seed: int) -> np.ndarray:
    """Sorted positions in the split to evaluate: all, or a class-stratified ~``max_samples`` subset."""
    n = len(labels)
    if max_samples is not None and max_samples < 1:
        raise ValueError(f"max_samples must be >= 1 (or None for the whole split), got {max_samples}")
    if max_samples is None or max_samples >= n:
        return np.arange(n)
    _, subset, _ = hold_out(np.arange(n), labels, None, max_samples / n, seed=seed)
    return subset


def curves(result: Dict, metric: str = "top1") -> Dict[str, Dict[str, list]]:
    """{corruption: {model: [metric per severity]}} from :func:`robustness_grid`'s rows."""
    out: Dict[str, Dict[str, list]] = {}
    for row in result["rows"]:
        out.setdefault(row["corruption"], {}).setdefault(row["model"], []).append(row[metric])
    return out


def format_table(result: Dict, metric: str = "top1") -> str:
    """One block per corruption: severities as columns, a row per model, accuracies in %."""
    lines = []
    width = max(len(m) for m in result["models"])
    for name, by_model in curves(result, metric).items():
        severities = result["grid"][name]
        lines.append(f"{name} ({metric} %)".ljust(width + 2) + " ".join(f"{s:>6g}" for s in severities))
        for model, values in by_model.items():
            lines.append(f"  {model:<{width}}" + " ".join(f"{100 * v:6.1f}" for v in values))
    return "\n".join(lines)
