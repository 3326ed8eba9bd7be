"""How hard is the embedded synthetic data? A small ST-GCN-like net trained on HQ and on LQ.

Prints top-1 of: teacher (trained on HQ) on HQ and on LQ test clips, and an LQ-only baseline on
LQ test clips, cross-subject split.  The data should leave a gap between HQ and LQ (so that
distillation has something to recover) without being unlearnable in a few CPU minutes.

Usage: python benchmarks/synthetic_difficulty.py [--samples 1020] [--frames 32] [--epochs 8] [--classes 17]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

from skdcore.data import SKDOcclusion, make_synthetic_dataset, pre_normalise, sample_rng, subject_split
from skdcore.graph import partitions
from skdcore.layouts import NTU25


class Block(nn.Module):
    """Spatial graph conv (K=3 partitions, one einsum) + temporal conv."""

    def __init__(self, A: torch.Tensor, cin: int, cout: int, stride: int):
        super().__init__()
        self.register_buffer("A", A)
        self.spatial = nn.Conv2d(cin, cout * A.shape[0], 1)
        self.temporal = nn.Sequential(nn.BatchNorm2d(cout), nn.ReLU(),
                                      nn.Conv2d(cout, cout, (9, 1), (stride, 1), (4, 0)),
                                      nn.BatchNorm2d(cout), nn.ReLU())

    def forward(self, x):
        n, _, t, v = x.shape
        y = self.spatial(x).view(n, self.A.shape[0], -1, t, v)
        return self.temporal(torch.einsum("nkctv,kvw->nctw", y, self.A))


class SmallGCN(nn.Module):
    def __init__(self, num_classes: int):
        super().__init__()
        A = partitions(NTU25, "spatial")
        A = torch.tensor(A / np.maximum(A.sum(1, keepdims=True), 1), dtype=torch.float32)
        self.data_bn = nn.BatchNorm1d(3 * NTU25.num_joints)
        self.blocks = nn.Sequential(Block(A, 3, 16, 1), Block(A, 16, 32, 2), Block(A, 32, 48, 2))
        self.fc = nn.Linear(48, num_classes)

    def forward(self, x):  # (N, C, T, V, M)
        n, c, t, v, m = x.shape
        x = self.data_bn(x.permute(0, 4, 3, 1, 2).reshape(n * m, v * c, t))
        x = x.view(n * m, v, c, t).permute(0, 2, 3, 1)
        return self.fc(self.blocks(x).mean((2, 3)).view(n, m, -1).mean(1))


def train_and_test(train_x, train_y, tests, num_classes, epochs, name):
    torch.manual_seed(0)
    net = SmallGCN(num_classes)
    opt = torch.optim.Adam(net.parameters(), 5e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    X, Y = torch.tensor(train_x), torch.tensor(train_y)
    start = time.time()
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(len(X))
        for i in range(0, len(X), 32):
            idx = perm[i:i + 32]
            loss = nn.functional.cross_entropy(net(X[idx]), Y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    net.eval()
    with torch.no_grad():
        accs = {k: float((net(torch.tensor(x)).argmax(1).numpy() == y).mean()) for k, (x, y) in tests.items()}
    scores = ", ".join(f"top-1 on {k} {v:.3f}" for k, v in accs.items())
    print(f"{name}: trained {time.time() - start:.0f} s; {scores}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1020)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--classes", type=int, default=17)
    args = parser.parse_args()
    torch.set_num_threads(2)
    clips = make_synthetic_dataset(args.samples, num_frames=args.frames, num_classes=args.classes, seed=0)
    hq = np.stack([pre_normalise(x, NTU25) for x in clips.data])
    lq = np.stack([SKDOcclusion()(x, sample_rng(0, i)) for i, x in enumerate(hq)])
    train = subject_split(clips.subjects)
    y = clips.labels
    print(f"{args.samples} clips, {args.classes} classes, T={args.frames}, {train.sum()} train / "
          f"{(~train).sum()} test, {args.epochs} epochs")
    train_and_test(hq[train], y[train], {"HQ": (hq[~train], y[~train]), "LQ": (lq[~train], y[~train])},
                   args.classes, args.epochs, "teacher (HQ)")
    train_and_test(lq[train], y[train], {"LQ": (lq[~train], y[~train])}, args.classes, args.epochs,
                   "baseline (LQ)")


if __name__ == "__main__":
    main()
