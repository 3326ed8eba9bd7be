"""One full SKD training step, skdcore ops vs pure-PyTorch reference, same model, same run.

Step = teacher forward (HQ, no grad) + student forward (LQ) + CE, KL, feature MSE, graph matching
+ gradient-revised backward + SGD step. "skdcore" = ``ops: fused`` (compiled kernels,
fast multi-loss backward); "reference" = ``ops: reference`` (pure PyTorch, 4 backward passes).
Both variants share the same initial weights and inputs; timings are interleaved (A B A B ...)
so machine noise hits both alike, and medians are reported. Peak memory: on CUDA the allocator's
peak; on CPU the growth of the process's peak RSS during the steps, measured in a fresh subprocess
per variant (CPU tensors do not go through a tracing allocator).
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from typing import Dict

import torch

from .models import build_model
from .train.distiller import Distiller
from .train.ops_select import select_ops

QUICK_MODEL = {"channels": (16, 16, 32, 32), "strides": (1, 2, 1, 2)}


def make_step(ops: str, model_name: str = "shift_gcn", frames: int = 100, batch_size: int = 16,
              persons: int = 2, num_class: int = 60, model_args: dict | None = None, seed: int = 0,
              device: str = "cpu"):
    """A closure running one SKD training step with ``ops`` ('fused' or 'reference');
    returns (step, selection)."""
    selection = select_ops(ops, model_name, "fast")
    args = dict(num_class=num_class, num_person=persons, ops=ops, **(model_args or {}))
    torch.manual_seed(seed)
    teacher = build_model(model_name, **args).to(device).eval()
    student = build_model(model_name, adaption_channels=teacher.feature_channels, **args).to(device).train()
    generator = torch.Generator().manual_seed(seed)
    hq = torch.randn(batch_size, 3, frames, 25, persons, generator=generator).to(device)
    lq = (hq + 0.1 * torch.randn(hq.shape, generator=generator).to(device))
    labels = torch.randint(0, num_class, (batch_size,), generator=generator).to(device)
    optimizer = torch.optim.SGD(student.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)
    distiller = Distiller(teacher, student, ops=ops, revision_scheme=selection.revision)

    def step():
        optimizer.zero_grad(set_to_none=True)
        distiller.backward(distiller(hq, lq, labels))
        optimizer.step()
        if device != "cpu":
            torch.cuda.synchronize()

    return step, selection


def time_steps(steps: Dict[str, callable], repeats: int, warmup: int = 1) -> Dict[str, list]:
    for fn in steps.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in steps}
    for _ in range(repeats):
        for name, fn in steps.items():  # interleaved: A B A B
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def peak_memory_mb(ops: str, frames: int, batch_size: int, model_name: str, model_args: dict | None,
                   device: str) -> float:
    if device != "cpu":
        step, _ = make_step(ops, model_name, frames, batch_size, model_args=model_args, device=device)
        step()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    # NB: ru_maxrss / VmHWM are only updated lazily by the kernel (they read 0 growth here), so a
    # thread samples the resident set every 2 ms during the steps instead.
    code = (
        "import json, os, threading, time, torch, skdcore\n"
        f"torch.set_num_threads({torch.get_num_threads()})\n"
        "from skdcore.bench_step import make_step\n"
        f"step, _ = make_step({ops!r}, {model_name!r}, {frames}, {batch_size}, model_args={model_args!r})\n"
        "page = os.sysconf('SC_PAGE_SIZE')\n"
        "rss = lambda: int(open('/proc/self/statm').read().split()[1]) * page\n"
        "peak, done = [rss()], []\n"
        "def sample():\n"
        "    while not done:\n"
        "        peak[0] = max(peak[0], rss()); time.sleep(0.002)\n"
        "before = rss(); thread = threading.Thread(target=sample); thread.start()\n"
        "step(); step(); done.append(1); thread.join()\n"
        "print(json.dumps((peak[0] - before) / 2**20))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def bench_train_step(frames: int = 100, batch_size: int = 16, model_name: str = "shift_gcn", repeats: int = 5,
                     model_args: dict | None = None, device: str = "cpu", memory: bool = True) -> Dict:
    shape = dict(model_args=model_args, device=device)
    fused, selection = make_step("fused", model_name, frames, batch_size, **shape)
    reference, _ = make_step("reference", model_name, frames, batch_size, **shape)
    times = time_steps({"skdcore": fused, "reference": reference}, repeats)
    result = {
        "frames": frames, "batch_size": batch_size, "model": model_name, "repeats": repeats,
        "skdcore_s": statistics.median(times["skdcore"]),
        "reference_s": statistics.median(times["reference"]),
        "ops": selection.used,
    }
    result["speedup"] = result["reference_s"] / result["skdcore_s"]
    if memory:
        for name, ops in (("skdcore", "fused"), ("reference", "reference")):
            result[f"{name}_peak_mb"] = peak_memory_mb(ops, frames, batch_size, model_name, model_args,
                                                       device)
    return result


def format_result(r: Dict) -> str:
    line = (f"SKD train step {r['model']} B={r['batch_size']} T={r['frames']} V=25 M=2: "
            f"skdcore {r['skdcore_s'] * 1e3:.0f} ms, "
            f"reference {r['reference_s'] * 1e3:.0f} ms -> {r['speedup']:.2f}x (median of {r['repeats']})")
    if "skdcore_peak_mb" in r:
        line += (f"; peak memory skdcore {r['skdcore_peak_mb']:.0f} MB vs reference "
                 f"{r['reference_peak_mb']:.0f} MB")
    return line + "\n  ops: " + ", ".join(f"{k}={v}" for k, v in r["ops"].items())
