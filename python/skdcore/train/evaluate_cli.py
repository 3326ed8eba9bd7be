"""`skd eval`: a checkpoint on a prepared split, LQ and/or HQ input, top-1/top-5 and per-class accuracy."""
from __future__ import annotations

from pathlib import Path

from ..devices import resolve_device
from ..layouts import layout_data
from .batches import epoch_batches, iterate
from .checkpoint import load_checkpoint, load_model_state, model_from_checkpoint
from .metrics import evaluate, format_metrics, per_class_table


def load_trained_model(path, ops: str = "fused", layout=None, trust: bool = False):
    """(model in eval mode, checkpoint dict) from a checkpoint; ``layout`` overrides the stored one;
    ``trust`` loads a checkpoint holding pickled objects (weights_only=False: only for trusted files)."""
    ckpt = load_checkpoint(path, trust=trust)
    overrides = {} if layout is None else {"layout": layout_data(layout)}
    model = model_from_checkpoint(ckpt, path, ops=ops, **overrides)
    load_model_state(model, ckpt, path)
    return model.eval(), ckpt


def evaluate_checkpoint(path, data_root=None, split=None, use="lq", ops="fused", batch_size=64, dataset=None,
                        layout=None, trust: bool = False):
    from ..data import PairedSkeletonDataset

    model, ckpt = load_trained_model(path, ops, layout, trust)
    run_cfg = ckpt.get("config") or {}
    if dataset is None:
        root = data_root or run_cfg.get("data", {}).get("root")
        if root is None:
            raise ValueError(f"{path} records no data root; pass --data DIR")
        if data_root is None and not (Path(root) / "manifest.json").exists():
            raise ValueError(f"{path} was trained on {root}, which holds no prepared dataset now (moved or "
                             "deleted?); pass --data DIR with the prepared data directory")
        split = split or run_cfg.get("data", {}).get("test_split", "test")
        dataset = PairedSkeletonDataset(root, split=split, lq="fixed")
    batches = epoch_batches(len(dataset), batch_size, 0, 0, shuffle=False, drop_last=False)
    device = resolve_device("auto")
    return evaluate(model.to(device), iterate(dataset, batches), device, dataset.num_classes, use), dataset


def run_eval(args) -> int:
    uses = ["lq", "hq"] if args.input == "both" else [args.input]
    for use in uses:
        metrics, dataset = evaluate_checkpoint(args.checkpoint, args.data, args.split, use, args.ops,
                                               layout=getattr(args, "layout", None),
                                               trust=getattr(args, "trust_checkpoint", False))
        print(f"{Path(args.checkpoint)} on {use.upper()} ({dataset.root}): {format_metrics(metrics)}")
        if args.per_class:
            print(per_class_table(metrics, dataset.label_names))
    return 0
