"""Real recordings: skdcore's own-data CLI recipe against a plain PyTorch ST-GCN (the yardstick).

Data: UTD-MHAD skeletons (Kinect v1, 20 joints, 27 actions, 8 subjects), cross-subject (train subjects
1, 3, 5, 7; test 2, 4, 6, 8). The ``.mat`` folder is converted (``python -m
skdcore.data.converters.utd_mhad``) and prepared once per occlusion probability p with the CLI
(``skd prepare --source arrays ... --num-frames 32 --val-fraction V --p P``, V 0 by default); both sides
then read that same prepared folder (``data.npy``: LQ channels 0-2, HQ 3-5; ``split_*.npy``).

- The yardstick (issue 29), in plain PyTorch with no skdcore import: input BatchNorm1d over V*C; four
  blocks 3->32, 32->32, 32->64 (temporal stride 2), 64->64, each a 1x1 conv to 3*C_out summed over
  the spatial partitions (self, inward, outward; column-normalised), BN, ReLU, temporal conv 9, BN,
  dropout 0.2, residual, ReLU; mean over T and V, linear head. SGD (Nesterov, lr 0.05, wd 5e-4),
  cosine over 60 epochs, batch 16, every training clip (train + val), the last epoch evaluated.
  Student: the same net + a 1x1 adaption conv; CE + KL (T 4, x16) + feature MSE + graph matching,
  each distillation gradient projected off the CE gradient when they disagree.
- skdcore: ``skd sweep --config own_skeletons --seeds ...`` (``--set`` overrides pass on).

One table per p: teacher (HQ) / baseline (LQ) / SKD (LQ) top-1 mean +- std over seeds, SKD - baseline
with its 95% t interval (paired by seed), and the gap closed, (SKD - baseline) / (teacher - baseline).
Resumable: every yardstick run is one JSON file, every sweep run skdcore's own results.json.

Usage (1 thread per process; on a shared 2-core CPU a yardstick teacher took 2.5-17 min, its SKD 2-5x):
  python benchmarks/real_data.py --src UTD-MHAD/Skeleton --work /tmp/real_data --seeds 0 1 2 3 4 --p 0.8 0.6
  ... --only yardstick | --only skdcore [--label NAME --set data.batch_size=16 ...] | --only table
  ... --results benchmarks/RESULTS.md   # append the table's rows at the end of that file
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
EPOCHS, BATCH, LR, WEIGHT_DECAY = 60, 16, 0.05, 5e-4
KL_TEMPERATURE = 4.0
ROLES = ("teacher", "baseline", "skd")


# -- the yardstick: a plain PyTorch ST-GCN ------------------------------------------------------------
def spatial_partition(layout: dict) -> np.ndarray:
    """(3, V, V) self / inward / outward, the 1-hop adjacency normalised by column degree, then split."""
    V = len(layout["joint_names"])
    adjacency = np.eye(V)
    for a, b in layout["edges"]:
        adjacency[a, b] = adjacency[b, a] = 1.0
    hops = np.full(V, -1)
    hops[layout["center"]], frontier = 0, [layout["center"]]
    while frontier:
        nxt = [j for i in frontier for j in np.flatnonzero(adjacency[i]) if hops[j] < 0]
        for j in nxt:
            hops[j] = hops[[i for i in frontier if adjacency[i, j]][0]] + 1
        frontier = sorted(set(nxt))
    normalised = adjacency / adjacency.sum(0, keepdims=True)
    A = np.zeros((3, V, V), dtype=np.float32)
    for i in range(V):
        for j in range(V):
            if adjacency[i, j]:
                k = 0 if hops[j] == hops[i] else (1 if hops[j] > hops[i] else 2)
                A[k, j, i] = normalised[j, i]
    return A


class Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, A: torch.Tensor, stride: int = 1):
        super().__init__()
        self.register_buffer("A", A)
        self.gcn = nn.Conv2d(c_in, c_out * A.shape[0], 1)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, (9, 1), (stride, 1), (4, 0)),
            nn.BatchNorm2d(c_out),
            nn.Dropout(0.2),
        )
        same = c_in == c_out and stride == 1
        self.residual = (
            nn.Identity()
            if same
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1, (stride, 1)), nn.BatchNorm2d(c_out))
        )

    def forward(self, x):
        N, _, T, V = x.shape
        y = self.gcn(x).view(N, self.A.shape[0], -1, T, V)
        y = torch.einsum("nkctv,kvw->nctw", y, self.A)
        return F.relu(self.tcn(y) + self.residual(x))


class PlainSTGCN(nn.Module):
    """forward(x (N, C, T, V)) -> (logits, features (N, 64, T/2, V))."""

    def __init__(self, num_class: int, A: np.ndarray, channels: int = 3, adaption: bool = False):
        super().__init__()
        A = torch.tensor(A)
        V = A.shape[-1]
        self.data_bn = nn.BatchNorm1d(channels * V)
        widths, strides = (channels, 32, 32, 64, 64), (1, 1, 2, 1)
        self.blocks = nn.ModuleList(Block(widths[i], widths[i + 1], A, strides[i]) for i in range(4))
        self.head = nn.Linear(64, num_class)
        self.adaption = nn.Conv2d(64, 64, 1) if adaption else None

    def forward(self, x):
        N, C, T, V = x.shape
        x = self.data_bn(x.permute(0, 3, 1, 2).reshape(N, V * C, T))
        x = x.view(N, V, C, T).permute(0, 2, 3, 1)
        for block in self.blocks:
            x = block(x)
        logits = self.head(x.mean((2, 3)))
        return logits, (self.adaption(x) if self.adaption is not None else x)


def graph_matching(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Smooth L1 between the mean-normalised pairwise distance matrices of the T*V nodes of each clip."""

    def distances(f):
        nodes = f.flatten(2).transpose(1, 2)  # (N, T*V, C)
        d = torch.cdist(nodes, nodes)
        return d / d.mean((1, 2), keepdim=True).clamp_min(1e-8)

    return F.smooth_l1_loss(distances(student), distances(teacher.detach()))


def revised_backward(ce: torch.Tensor, extra: list, params: list) -> None:
    """Sets .grad to g_ce + sum of each distillation gradient, projected off g_ce when g . g_ce < 0."""

    def flat(grads):
        return torch.cat([(torch.zeros_like(p) if g is None else g).flatten() for g, p in zip(grads, params)])

    g_ce = flat(torch.autograd.grad(ce, params, retain_graph=True, allow_unused=True))
    total = g_ce.clone()
    for i, loss in enumerate(extra):
        g = flat(torch.autograd.grad(loss, params, retain_graph=i < len(extra) - 1, allow_unused=True))
        dot = torch.dot(g, g_ce)
        if dot < 0:
            g = g - dot / g_ce.pow(2).sum().clamp_min(1e-20) * g_ce
        total += g
    offset = 0
    for p in params:
        p.grad = total[offset : offset + p.numel()].view_as(p).clone()
        offset += p.numel()


def load_prepared(root: Path) -> dict:
    """The prepared folder's arrays (memory-mapped data; LQ channels first, HQ after) and splits."""
    manifest = json.loads((root / "manifest.json").read_text())
    data = np.load(root / "data.npy", mmap_mode="r")
    C = data.shape[1] // 2
    split = {
        s: np.load(root / f"split_{s}.npy")
        for s in ("train", "val", "test")
        if (root / f"split_{s}.npy").exists()
    }
    train = np.sort(np.concatenate([split["train"], split.get("val", np.zeros(0, np.int64))]))
    labels = np.load(root / "labels.npy")
    layout = manifest["layout"] if "layout" in manifest else manifest["parameters"]["layout"]
    return {
        "x": np.array(data[..., 0], dtype=np.float32),
        "C": C,
        "labels": labels,
        "train": train,
        "test": split["test"],
        "layout": layout,
    }


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        right = sum(
            int((model(x[i : i + 128])[0].argmax(1) == y[i : i + 128]).sum()) for i in range(0, len(y), 128)
        )
    return 100.0 * right / len(y)


def train_yardstick(data: dict, mode: str, seed: int, teacher: nn.Module | None = None, desc: str = ""):
    """(test top-1 %, model) of one run: mode teacher (HQ), baseline (LQ) or skd (LQ, from ``teacher``)."""
    from tqdm import tqdm

    torch.manual_seed(seed)
    np.random.seed(seed)
    C, labels = data["C"], torch.as_tensor(data["labels"])
    x = torch.as_tensor(data["x"])
    hq, lq = x[:, C:], x[:, :C]
    inputs = hq if mode == "teacher" else lq
    num_class = int(labels.max()) + 1
    A = spatial_partition(data["layout"])
    model = PlainSTGCN(num_class, A, C, adaption=mode == "skd")
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.SGD(params, lr=LR, momentum=0.9, nesterov=True, weight_decay=WEIGHT_DECAY)
    train_idx = torch.as_tensor(data["train"])
    steps = EPOCHS * math.ceil(len(train_idx) / BATCH)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optim, steps)
    generator = torch.Generator().manual_seed(seed)
    bar = tqdm(range(EPOCHS), desc=desc or f"yardstick {mode} s{seed}", leave=False, mininterval=10)
    for _ in bar:
        model.train()
        for batch in train_idx[torch.randperm(len(train_idx), generator=generator)].split(BATCH):
            logits, features = model(inputs[batch])
            ce = F.cross_entropy(logits, labels[batch])
            if mode != "skd":
                optim.zero_grad()
                ce.backward()
            else:
                with torch.no_grad():
                    t_logits, t_features = teacher(hq[batch])
                T = KL_TEMPERATURE
                kl = (
                    F.kl_div(F.log_softmax(logits / T, 1), F.softmax(t_logits / T, 1), reduction="batchmean")
                    * T
                    * T
                )
                extra = [kl, F.mse_loss(features, t_features), graph_matching(features, t_features)]
                revised_backward(ce, extra, params)
            optim.step()
            schedule.step()
        bar.set_postfix(loss=f"{ce.item():.3f}")
    test = torch.as_tensor(data["test"])
    return evaluate(model, inputs[test], labels[test]), model


def yardstick_seed(data: dict, seed: int, out: Path, roles=ROLES) -> dict:
    """{role: test top-1} of one seed's runs in ``roles``; each finished run is a JSON file in ``out`` (the
    teacher's weights too, for the student), read instead of trained again."""
    out.mkdir(parents=True, exist_ok=True)
    results, teacher_weights = {}, out / f"yardstick_s{seed}_teacher.pt"
    for role in roles:
        path = out / f"yardstick_s{seed}_{role}.json"
        if path.exists():
            results[role] = json.loads(path.read_text())["top1"]
            continue
        teacher = None
        if role == "skd":
            if not teacher_weights.exists():
                raise SystemExit(f"yardstick seed {seed}: train its teacher first (--roles teacher skd)")
            teacher = PlainSTGCN(int(data["labels"].max()) + 1, spatial_partition(data["layout"]), data["C"])
            teacher.load_state_dict(torch.load(teacher_weights, weights_only=True))
            teacher.eval()
        start = time.time()
        results[role], model = train_yardstick(data, role, seed, teacher)
        if role == "teacher":
            torch.save(model.state_dict(), teacher_weights)
        record = {"top1": results[role], "seconds": round(time.time() - start)}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, path)
        print(
            f"yardstick {role} seed {seed}: test top-1 {results[role]:.2f}% ({record['seconds']} s)",
            flush=True,
        )
    return results


def yardstick_values(out: Path, seeds) -> dict:
    """{role: [top-1 per seed]} of the roles finished for every seed in ``seeds``."""
    values = {}
    for role in ROLES:
        paths = [out / f"yardstick_s{seed}_{role}.json" for seed in seeds]
        if all(p.exists() for p in paths):
            values[role] = [json.loads(p.read_text())["top1"] for p in paths]
    return values


# -- the driver: convert, prepare, skdcore's sweep, the table ----------------------------------------
def run(command: list, log: Path | None = None) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "python") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with open(log, "a") if log else open(os.devnull, "w") as sink:
        done = subprocess.run(
            command, env=env, stdout=sink if log else None, stderr=subprocess.STDOUT if log else None
        )
    if done.returncode:
        raise SystemExit(
            f"failed ({done.returncode}): {' '.join(map(str, command))}" + (f"; see {log}" if log else "")
        )


def prepared(args, p: float) -> Path:
    """The prepared folder of occlusion probability ``p`` (converted and prepared on first use)."""
    converted = args.work / "utd"
    if not (converted / "utd_mhad.npz").exists():
        if args.src is None:
            raise SystemExit(f"--src: the UTD-MHAD Skeleton folder is needed to write {converted}")
        run([sys.executable, "-m", "skdcore.data.converters.utd_mhad", str(args.src), str(converted)])
    root = args.work / f"prep_p{p}_val{args.val_fraction}"
    if not (root / "manifest.json").exists():
        run(
            [
                sys.executable,
                "-m",
                "skdcore.cli",
                "prepare",
                "--source",
                "arrays",
                "--input",
                str(converted / "utd_mhad.npz"),
                "--layout",
                str(converted / "layout.yaml"),
                "--out",
                str(root),
                "--num-frames",
                str(args.num_frames),
                "--val-fraction",
                str(args.val_fraction),
                "--p",
                str(p),
            ]
        )
    return root


def skdcore_sweep(args, p: float, root: Path) -> Path:
    out = args.work / "runs" / f"{args.label}_p{p}"
    command = [
        sys.executable,
        "-m",
        "skdcore.cli",
        "sweep",
        "--config",
        str(args.config),
        "--seeds",
        *map(str, args.seeds),
        "--threads",
        str(args.threads),
        "--out",
        str(out),
        "--set",
        f"data.root={root}",
        "--set",
        "log.progress=false",
    ]
    for item in args.set:
        command += ["--set", item]
    print(f"skdcore {args.label} p={p}: {' '.join(command[2:])} (log {out}.log)", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    run(command, Path(f"{out}.log"))
    return out


def sweep_values(out: Path, seeds) -> dict:
    """{role: [top-1 % per seed]} of the roles whose sweep runs finished for every seed in ``seeds``."""
    values = {}
    for role in ROLES:
        paths = [out / f"{role}_s{seed}" / "results.json" for seed in seeds]
        tops = [json.loads(p.read_text()).get("test", {}).get("top1") if p.exists() else None for p in paths]
        if all(t is not None for t in tops):
            values[role] = [100.0 * t for t in tops]
    return values


def summary(values: dict) -> dict:
    """Mean +- std of each role; with baseline and SKD, the paired difference and its 95% t interval."""
    from scipy import stats

    out = {"n": len(next(iter(values.values())))}
    for role, v in values.items():
        v = np.array(v)
        out[role] = (v.mean(), v.std(ddof=1) if len(v) > 1 else math.nan)
    if "baseline" in values and "skd" in values:
        d = np.array(values["skd"]) - np.array(values["baseline"])
        n = len(d)
        half = stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / math.sqrt(n) if n > 1 else math.nan
        out["diff"] = (d.mean(), d.mean() - half, d.mean() + half)
        out["wins"] = int((d > 0).sum())
        if "teacher" in values:
            out["closed"] = 100 * d.mean() / (out["teacher"][0] - out["baseline"][0])
    return out


def table_rows(rows: list) -> list:
    """Markdown rows; a cell of a run not finished for every seed says so."""
    lines = [
        "| p | run | seeds | teacher (HQ) | baseline (LQ) | SKD (LQ) | SKD - baseline [95% CI] | wins "
        "| gap closed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p, name, st in rows:

        def pm(key):
            if key not in st:
                return "not run"
            mean, std = st[key]
            return f"{mean:.1f}" if std != std else f"{mean:.1f} +- {std:.1f}"

        diff = st.get("diff")
        diff_cell = (
            "-"
            if diff is None
            else f"{diff[0]:+.1f}" + ("" if diff[1] != diff[1] else f" [{diff[1]:+.1f}, {diff[2]:+.1f}]")
        )
        wins = f"{st['wins']}/{st['n']}" if "wins" in st else "-"
        closed = f"{st['closed']:.0f}%" if "closed" in st else "-"
        lines.append(
            f"| {p} | {name} | {st['n']} | {pm('teacher')} | {pm('baseline')} | {pm('skd')} | "
            f"{diff_cell} | {wins} | {closed} |"
        )
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, help="UTD-MHAD 'Skeleton' folder (a*_s*_t*_skeleton.mat)")
    parser.add_argument(
        "--work", type=Path, default=Path("/tmp/real_data"), help="converted/prepared data, runs"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--p", type=float, nargs="+", default=[0.8, 0.6], help="occlusion probabilities")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument(
        "--only", choices=("yardstick", "skdcore", "table"), help="one side (default both), or the table"
    )
    parser.add_argument("--config", default="own_skeletons", help="a shipped config name or a YAML path")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="skd sweep override")
    parser.add_argument(
        "--label", default="default", help="name of the skdcore runs (with --set: say what changed)"
    )
    parser.add_argument("--labels", nargs="+", help="table: the skdcore runs to show (default: --label)")
    parser.add_argument(
        "--val-fraction",
        type=float,
        default=0.0,
        help="skd prepare --val-fraction (default none: own_skeletons trains on every training clip)",
    )
    parser.add_argument("--num-frames", type=int, default=32, help="skd prepare --num-frames")
    parser.add_argument(
        "--roles",
        nargs="+",
        choices=ROLES,
        default=list(ROLES),
        help="yardstick: the runs of each seed (the student needs its seed's teacher)",
    )
    parser.add_argument("--results", type=Path, help="append the table's rows to this markdown file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    for p in args.p:
        root = prepared(args, p)
        ystick = args.work / "yardstick" / f"p{p}_frames{args.num_frames}"
        if args.only in (None, "yardstick"):
            data = load_prepared(root)
            for seed in args.seeds:
                yardstick_seed(data, seed, ystick, args.roles)
        if args.only in (None, "skdcore"):
            skdcore_sweep(args, p, root)
        values = yardstick_values(ystick, args.seeds)
        if values:
            rows.append((p, "plain PyTorch ST-GCN (yardstick)", summary(values)))
        for label in args.labels or [args.label]:
            values = sweep_values(args.work / "runs" / f"{label}_p{p}", args.seeds)
            if values:
                rows.append((p, f"skdcore `{label}`", summary(values)))
    if not rows:
        print("no finished runs for these seeds yet")
        return 1
    lines = table_rows(rows)
    print("\n".join(lines))
    if args.results:
        with open(args.results, "a") as handle:
            handle.write(
                "\n".join(lines[2:] if args.results.read_text().rstrip().endswith("|") else [""] + lines)
                + "\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
