"""Evaluation metrics: top-1 / top-5, mean class accuracy, per-class accuracy and the confusion matrix."""
from __future__ import annotations

from typing import Dict

import numpy as np
import torch


def classification_metrics(logits: torch.Tensor, labels: torch.Tensor, num_classes: int) -> Dict:
    """logits (N, num_classes), labels (N,) -> top1, top5, mean_class_acc (fractions), per_class, confusion.

    per_class[c] = correct / count of class c (NaN where class c has no sample); mean_class_acc is
    their mean over the classes present; confusion[true, predicted] counts.
    """
    if logits.dim() != 2 or logits.shape[0] != labels.shape[0]:
        raise ValueError(f"logits must be (N, num_classes) and labels (N,), got {tuple(logits.shape)}, "
                         f"{tuple(labels.shape)}")
    labels = labels.long().cpu()
    logits = logits.float().cpu()
    n = labels.numel()
    k = min(5, logits.shape[1])
    topk = logits.topk(k, dim=1).indices
    predicted = topk[:, 0]
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    confusion.index_put_((labels, predicted), torch.ones(n, dtype=torch.int64), accumulate=True)
    counts = confusion.sum(1).double()
    per_class = torch.where(counts > 0, confusion.diagonal().double() / counts.clamp(min=1),
                            torch.full_like(counts, float("nan")))
    return {
        "top1": float((predicted == labels).double().mean()) if n else float("nan"),
        "top5": float((topk == labels[:, None]).any(1).double().mean()) if n else float("nan"),
        "mean_class_acc": float(np.nanmean(per_class.numpy())) if n else float("nan"),
        "per_class": per_class.numpy(),
        "confusion": confusion.numpy(),
        "num_samples": n,
    }


@torch.no_grad()
def predict(model: torch.nn.Module, batches, device: torch.device, use: str = "lq", progress=None):
    """Logits and labels of every batch ``(hq, lq, label)``; ``use`` picks the input ('hq' or 'lq')."""
    if use not in ("hq", "lq"):
        raise ValueError(f"use must be 'hq' or 'lq', got {use!r}")
    was_training = model.training
    model.eval()
    all_logits, all_labels = [], []
    for hq, lq, labels in batches:
        x = (hq if use == "hq" else lq).to(device, non_blocking=True)
        all_logits.append(model(x)[0].float().cpu())
        all_labels.append(labels)
        if progress is not None:
            progress.update(1)
    model.train(was_training)
    if not all_logits:
        return torch.zeros(0, 0), torch.zeros(0, dtype=torch.long)
    return torch.cat(all_logits), torch.cat(all_labels)


def evaluate(model, batches, device, num_classes: int, use: str = "lq") -> Dict:
    logits, labels = predict(model, batches, device, use)
    metrics = classification_metrics(logits, labels, num_classes)
    has_samples = labels.numel() > 0
    loss = torch.nn.functional.cross_entropy(logits, labels) if has_samples else float("nan")
    metrics["loss"] = float(loss)
    return metrics


def format_metrics(m: Dict) -> str:
    mean_class = f"  mean class {100 * m['mean_class_acc']:.2f}%" if "mean_class_acc" in m else ""
    return f"top1 {100 * m['top1']:.2f}%  top5 {100 * m['top5']:.2f}%{mean_class}  (n={m['num_samples']})"


def per_class_table(results: Dict[str, Dict], names=None) -> str:
    """Per-class accuracy of one or more evaluations side by side: {column title: metrics}."""
    if "per_class" in results:  # a single metrics dict
        results = {"accuracy": results}
    titles = list(results)
    num_classes = len(next(iter(results.values()))["per_class"])
    counts = next(iter(results.values()))["confusion"].sum(1)
    width = max([5] + [len(str(n)) for n in (names or [])])
    lines = [f"  {'class':>{width}}  {'n':>4}  " + "  ".join(f"{t:>{max(7, len(t))}}" for t in titles)]
    for c in range(num_classes):
        name = names[c] if names is not None and c < len(names) else str(c)
        cells = []
        for t in titles:
            acc = results[t]["per_class"][c]
            cells.append(f"{'n/a' if np.isnan(acc) else f'{100 * acc:.1f}%':>{max(7, len(t))}}")
        lines.append(f"  {name:>{width}}  {int(counts[c]):>4}  " + "  ".join(cells))
    return "\n".join(lines)
