"""Why does a small ST-GCN teacher underfit small data, and which recipe fits it across seeds?

Trains teachers (HQ input, cross-entropy only) on small generated data sets (``motion_patterns.py``:
several layouts, sizes and class counts) with the own-data recipe's optimiser and schedule
(``skdcore.train.optim``: SGD Nesterov, warm-up, cosine), for several seeds, and reports per variant
the fit of the training split (eval mode: the share of training clips classified right, and the
train loss) and the test accuracy, mean +- std over seeds. Variants change one thing at a time:
skdcore's ST-GCN vs a plain-PyTorch ST-GCN of the same size (Yan et al.'s code, written here), the
graph normalisation, edge importance, the first block's residual, warm-up, the learning rate.
Variants named ``shift+...`` train the small Shift-GCN of ``own_skeletons_shiftgcn`` instead.

Resumable: every finished run appends one JSON line to ``<out>/runs.jsonl`` and is skipped next time.

Usage: OMP_NUM_THREADS=1 nice python benchmarks/small_data_study.py --variants skd plain --seeds 5
       python benchmarks/small_data_study.py --report   # the table from the runs so far
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from motion_patterns import UPPER8, motion_dataset
from skdcore.data.augment import random_rotate_scale
from skdcore.graph import partition_matrices, partitions
from skdcore.layouts import get_layout
from skdcore.models import build_model
from skdcore.train.config import OptimConfig
from skdcore.train.optim import build_optimizer, build_scheduler

# name: (layout, classes, clips per class, frames); train / test by clip (60% / 40%), seeded
DATASETS = {
    "upper8_c6_n180": (UPPER8, 6, 50, 51),
    "coco17_c10_n120": ("coco17", 10, 20, 40),
    "penn13_c8_n250": ("penn13", 8, 52, 32),
}
CHANNELS, STRIDES = (32, 32, 64, 64), (1, 1, 2, 1)  # the ST-GCN 32-32-64-64
SHIFT_CHANNELS, SHIFT_STRIDES = (32, 64, 128), (1, 2, 2)  # own_skeletons_shiftgcn's Shift-GCN
AUGMENT = {"rotate_deg": 17.0, "scale": 0.1}  # own_skeletons.yaml's data.augment
RECIPE = {"lr": 0.05, "epochs": 60, "schedule": "cosine", "warmup_epochs": 2, "weight_decay": 5e-4,
          "batch_size": 16}


# -- a plain-PyTorch ST-GCN (Yan et al. 2018, st-gcn/net/st_gcn.py), for comparison ----------------
def yan_spatial_graph(layout) -> np.ndarray:
    """ST-GCN's own spatial partition: the whole 1-hop adjacency (self included) normalised by column
    degree first, then split into root / closer / further by hop distance from the centre."""
    layout = get_layout(layout)
    V = layout.num_joints
    adjacency = np.eye(V)
    for a, b in layout.edges:
        adjacency[a, b] = adjacency[b, a] = 1.0
    normalised = adjacency / adjacency.sum(0, keepdims=True)
    hops = layout.hop_distance()
    A = np.zeros((3, V, V), dtype=np.float32)
    for v in range(V):
        for w in range(V):
            if adjacency[v, w]:
                k = 0 if hops[v] == hops[w] else (1 if hops[v] > hops[w] else 2)
                A[k, v, w] = normalised[v, w]  # NB: v -> w, as skdcore's convention
    return A


class PlainBlock(nn.Module):
    def __init__(self, cin, cout, A, stride, residual):
        super().__init__()
        self.K = A.shape[0]
        self.register_buffer("A", A)
        self.importance = nn.Parameter(torch.ones_like(A))
        self.conv = nn.Conv2d(cin, cout * self.K, 1)
        self.tcn = nn.Sequential(nn.BatchNorm2d(cout), nn.ReLU(),
                                 nn.Conv2d(cout, cout, (9, 1), (stride, 1), (4, 0)),
                                 nn.BatchNorm2d(cout))
        if not residual:
            self.residual = None
        elif cin == cout and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv2d(cin, cout, 1, (stride, 1)), nn.BatchNorm2d(cout))

    def forward(self, x):
        n, _, t, v = x.shape
        y = self.conv(x).view(n, self.K, -1, t, v)
        y = self.tcn(torch.einsum("nkctv,kvw->nctw", y, self.A * self.importance))
        return torch.relu(y if self.residual is None else y + self.residual(x))


class PlainSTGCN(nn.Module):
    def __init__(self, num_class, A, in_channels=3):
        super().__init__()
        A = torch.as_tensor(A, dtype=torch.float32)
        self.data_bn = nn.BatchNorm1d(in_channels * A.shape[-1])
        widths, blocks = (in_channels,) + CHANNELS, []
        for i, stride in enumerate(STRIDES):
            blocks.append(PlainBlock(widths[i], widths[i + 1], A, stride, residual=i > 0))
        self.blocks = nn.ModuleList(blocks)
        self.fc = nn.Linear(CHANNELS[-1], num_class)

    def forward(self, x):  # (N, C, T, V, 1)
        x = x[..., 0]
        n, c, t, v = x.shape
        x = self.data_bn(x.permute(0, 3, 1, 2).reshape(n, v * c, t)).view(n, v, c, t).permute(0, 2, 3, 1)
        for block in self.blocks:
            x = block(x)
        return self.fc(x.mean((2, 3))), x


# -- the variants: one change at a time ----------------------------------------------------------
def build_variant(name: str, layout, num_class: int):
    """(model, recipe overrides) of a variant name."""
    skd = dict(num_class=num_class, layout=layout, channels=CHANNELS, strides=STRIDES, num_person=1)
    if name == "plain":
        return PlainSTGCN(num_class, yan_spatial_graph(layout)), {}
    if name == "plain_skd_graph":
        return PlainSTGCN(num_class, partition_matrices(layout)), {}
    if name.startswith(("skd", "shift")):
        model, overrides = "st_gcn", {}
        if name.startswith("shift"):  # own_skeletons_shiftgcn: Shift-GCN 32-64-128, 40 epochs
            model, overrides = "shift_gcn", {"epochs": 40}
            skd.update(channels=SHIFT_CHANNELS, strides=SHIFT_STRIDES)
        for part in name.split("+")[1:]:
            key, _, value = part.partition("=")
            if key == "yan_graph":
                skd["A"] = torch.from_numpy(yan_spatial_graph(layout))
            elif key == "uniform":
                skd["A"] = torch.from_numpy(partition_matrices(layout, "uniform"))
            elif key == "no_edges":
                skd["learnable_edges"] = False
            elif key == "unnormalised":
                skd["A"] = torch.from_numpy(partitions(layout))
            elif key == "centre_input":  # the model centres each clip on its mean joint position
                skd["centre_input"] = True
            elif key == "dropout":  # ST-GCN's dropout after each block's temporal conv
                skd["dropout"] = float(value)
            elif key in ("channels", "strides"):  # e.g. channels=64-128-256
                skd[key] = tuple(int(width) for width in value.split("-"))
            elif key == "centred":  # data centred on the centre joint per frame (prepare --normalise)
                overrides["centred"] = True
            elif key == "augment":  # own_skeletons' data.augment: rotation up to +-17 degrees, scale +-0.1
                overrides["augment"] = AUGMENT
            else:
                overrides[key] = float(value)
        # NB: ST-GCN on the reference ops (as first measured); Shift-GCN on the fused ones, for speed
        return build_model(model, ops="reference" if model == "st_gcn" else "fused", **skd), overrides
    raise ValueError(f"unknown variant {name!r}")


def split(x, y, seed=0, train_fraction=0.6):
    order = np.random.default_rng(seed).permutation(len(y))
    cut = int(train_fraction * len(y))
    return (x[order[:cut]], y[order[:cut]]), (x[order[cut:]], y[order[cut:]])


@torch.no_grad()
def accuracy_and_loss(model, x, y):
    model.eval()
    logits = torch.cat([model(x[i:i + 256])[0] for i in range(0, len(x), 256)])
    return float((logits.argmax(1) == y).float().mean()), float(nn.functional.cross_entropy(logits, y))


def train_teacher(model, train, test, recipe: dict, seed: int) -> dict:
    torch.manual_seed(seed)
    (xtr, ytr), (xte, yte) = train, test
    optim = OptimConfig(name="sgd", lr=recipe["lr"], momentum=0.9, nesterov=True,
                        weight_decay=recipe["weight_decay"], epochs=int(recipe["epochs"]),
                        schedule="cosine", warmup_epochs=recipe["warmup_epochs"])
    batch = int(recipe["batch_size"])
    steps = math.ceil(len(ytr) / batch)
    optimizer = build_optimizer(model.parameters(), optim)
    scheduler = build_scheduler(optimizer, optim, steps)
    generator = torch.Generator().manual_seed(seed)
    augment, augment_generator = recipe.get("augment"), torch.Generator().manual_seed(1000 + seed)
    start = time.perf_counter()
    for _ in range(optim.epochs):
        model.train()
        order = torch.randperm(len(ytr), generator=generator)
        for i in range(0, len(ytr), batch):
            rows = order[i:i + batch]
            if len(rows) < 2:  # NB: BatchNorm needs two samples
                continue
            x = xtr[rows]
            if augment:  # the trainer's transform; HQ only here (a teacher)
                x, _ = random_rotate_scale(x, x, augment_generator, num_coords=3, **augment)
            loss = nn.functional.cross_entropy(model(x)[0], ytr[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
    train_acc, train_loss = accuracy_and_loss(model, xtr, ytr)
    test_acc, _ = accuracy_and_loss(model, xte, yte)
    return {"train_acc": train_acc, "train_loss": train_loss, "test_acc": test_acc,
            "seconds": time.perf_counter() - start}


def load_dataset(name: str):
    layout, classes, per_class, frames = DATASETS[name]
    x, y, _ = motion_dataset(layout, classes, per_class, frames, seed=sum(map(ord, name)))
    train, test = split(torch.from_numpy(x)[..., None], torch.from_numpy(y))
    return layout, classes, train, test


def centred(split_data, layout):
    x, y = split_data
    centre = get_layout(layout).center
    return x - x[:, :, :, centre:centre + 1], y


def report(paths) -> str:
    rows = [json.loads(line) for path in paths if path.exists() for line in path.read_text().splitlines()]
    # NB: one row per (data set, variant, seed): a seed reruns identically
    unique = {(row["dataset"], row["variant"], row["seed"]): row for row in rows}
    groups = {}
    for row in unique.values():
        groups.setdefault((row["dataset"], row["variant"]), []).append(row)
    lines = ["| data set | variant | seeds | train fit % (min) | train loss | test % mean +- std |",
             "|---|---|---|---|---|---|"]
    for (dataset, variant), runs in sorted(groups.items()):
        fit = [100 * r["train_acc"] for r in runs]
        test = np.array([100 * r["test_acc"] for r in runs])
        std = test.std(ddof=1) if len(test) > 1 else float("nan")
        lines.append(f"| {dataset} | {variant} | {len(runs)} | {np.mean(fit):.1f} ({min(fit):.1f}) | "
                     f"{np.mean([r['train_loss'] for r in runs]):.3f} | {test.mean():.1f} +- {std:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", nargs="+", default=["skd", "plain"],
                        help="skd, plain, plain_skd_graph, or skd+change+change (yan_graph, uniform, "
                             "no_edges, unnormalised, centred, centre_input, augment, dropout=0.5, lr=0.1, "
                             "warmup_epochs=0, epochs=80, weight_decay=0)")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--seeds", type=int, default=5, help="seeds first-seed .. first-seed + seeds - 1")
    parser.add_argument("--first-seed", type=int, default=0, help="run several seed ranges side by side")
    parser.add_argument("--out", type=Path, default=Path("/tmp/small_data_study"))
    parser.add_argument("--report", nargs="*", type=Path, metavar="RUNS_JSONL",
                        help="print the table of the runs so far (these runs.jsonl files; default: --out's)")
    args = parser.parse_args(argv)
    path = args.out / "runs.jsonl"
    if args.report is not None:
        print(report(args.report or [path]))
        return 0
    torch.set_num_threads(1)  # NB: tiny models on a shared machine
    args.out.mkdir(parents=True, exist_ok=True)
    done = {(r["dataset"], r["variant"], r["seed"]) for r in map(json.loads, path.read_text().splitlines())} \
        if path.exists() else set()
    for dataset in args.datasets:
        layout, classes, train, test = load_dataset(dataset)
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for variant in args.variants:
                if (dataset, variant, seed) in done:
                    continue
                torch.manual_seed(seed)
                model, overrides = build_variant(variant, layout, classes)
                data = (centred(train, layout), centred(test, layout)) if overrides.pop("centred", False) \
                    else (train, test)
                result = train_teacher(model, *data, {**RECIPE, **overrides}, seed)
                row = {"dataset": dataset, "variant": variant, "seed": seed, **result}
                print(json.dumps(row), flush=True)
                with open(path, "a") as f:
                    f.write(json.dumps(row) + "\n")
    print(report([path]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
