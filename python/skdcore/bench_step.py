"""One full SKD training step, skdcore ops vs pure-PyTorch reference, same model, same run.

Step = teacher forward (HQ, no grad) + student forward (LQ) + CE, KL, feature MSE, graph matching
+ gradient-revised backward + SGD step. "skdcore" = ``ops: fused`` (compiled kernels,
fast multi-loss backward), with ``amp`` (mixed precision of the forward passes, train/amp.py) and
``compile`` (torch.compile of student and teacher) as the trainer's ``train.amp`` / ``train.compile``;
"reference" = ``ops: reference`` (pure PyTorch, 4 backward passes), always float32 and eager: the
baseline every speed-up is measured against. With amp or compile on, "skdcore_fp32" (the fused step,
float32, eager) runs too, so both ratios come from one run.
Variants share the same initial weights and inputs; timings are interleaved (A B A B ...)
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

from .distill import Distiller
from .models import build_model
from .train.amp import MixedPrecision
from .train.compile import compile_model
from .train.ops_select import select_ops

QUICK_MODEL = {"channels": (16, 16, 32, 32), "strides": (1, 2, 1, 2)}


def make_step(ops: str, model_name: str = "shift_gcn", frames: int = 100, batch_size: int = 16,
              persons: int = 2, num_class: int = 60, model_args: dict | None = None, seed: int = 0,
              device: str = "cpu", amp: str = "off", compile: bool = False):
    """A closure running one SKD training step with ``ops`` ('fused' or 'reference'), mixed precision
    ``amp`` ('off', 'bf16', 'fp16') and ``compile``d models, as the trainer runs it;
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
    precision = MixedPrecision(amp, device)
    if compile:
        compile_model(teacher), compile_model(student)
    distiller = Distiller(teacher, student, ops=ops, revision_scheme=selection.revision)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with precision.autocast():
            teacher_out = distiller.teacher_forward(hq)
            student_out = distiller.student_forward(lq)
        distiller.backward(distiller.losses(student_out, teacher_out, labels), precision.scaler)
        precision.step(optimizer)
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
                   device: str, amp: str = "off", compile: bool = False) -> float:
    variant = dict(model_args=model_args, device=device, amp=amp, compile=compile)
    if device != "cpu":
        step, _ = make_step(ops, model_name, frames, batch_size, **variant)
        step()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    # NB: ru_maxrss / VmHWM are only updated lazily by the kernel (they read 0 growth here), so a
    # thread samples the resident set every 2 ms during the steps instead. A compiled step is run once
    # before (compilation's own memory is not the step's).
    code = (
        "import json, os, threading, time, torch, skdcore\n"
        f"torch.set_num_threads({torch.get_num_threads()})\n"
        "from skdcore.bench_step import make_step\n"
        f"step, _ = make_step({ops!r}, {model_name!r}, {frames}, {batch_size}, **{variant!r})\n"
        + ("step()\n" if compile else "") +
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


def bench_variants(amp: str = "off", compile: bool = False) -> Dict[str, dict]:
    """{name: make_step keywords} of one run: skdcore (with amp / compile), the float32 eager reference,
    and the float32 eager skdcore step when amp or compile is on."""
    variants = {"skdcore": dict(ops="fused", amp=amp, compile=compile), "reference": dict(ops="reference")}
    if amp != "off" or compile:
        variants["skdcore_fp32"] = dict(ops="fused")
    return variants


def bench_train_step(frames: int = 100, batch_size: int = 16, model_name: str = "shift_gcn", repeats: int = 5,
                     model_args: dict | None = None, device: str = "cpu", memory: bool = True,
                     amp: str = "off", compile: bool = False) -> Dict:
    shape = dict(model_args=model_args, device=device)
    variants = bench_variants(amp, compile)
    steps, selection = {}, None
    for name, variant in variants.items():
        steps[name], used = make_step(model_name=model_name, frames=frames, batch_size=batch_size, **shape,
                                      **variant)
        selection = selection or used
    # NB: a compiled step compiles on its first call: two warm-up steps (forward + backward graphs)
    times = time_steps(steps, repeats, warmup=2 if compile else 1)
    result = {"frames": frames, "batch_size": batch_size, "model": model_name, "repeats": repeats,
              "amp": amp, "compile": compile, "ops": selection.used}
    for name in variants:
        result[f"{name}_s"] = statistics.median(times[name])
    result["speedup"] = result["reference_s"] / result["skdcore_s"]
    if "skdcore_fp32" in variants:
        result["fp32_speedup"] = result["reference_s"] / result["skdcore_fp32_s"]
    if memory:
        for name, variant in variants.items():
            result[f"{name}_peak_mb"] = peak_memory_mb(model_name=model_name, frames=frames,
                                                       batch_size=batch_size, **shape, **variant)
    return result


def variant_label(r: Dict) -> str:
    """'skdcore' plus what the skdcore variant runs with: 'skdcore (bf16, compiled)'."""
    extras = ([r["amp"]] if r.get("amp", "off") != "off" else []) + (["compiled"] if r.get("compile") else [])
    return "skdcore" + (f" ({', '.join(extras)})" if extras else "")


def format_result(r: Dict) -> str:
    line = (f"SKD train step {r['model']} B={r['batch_size']} T={r['frames']} V=25 M=2: "
            f"{variant_label(r)} {r['skdcore_s'] * 1e3:.0f} ms, "
            f"reference {r['reference_s'] * 1e3:.0f} ms -> {r['speedup']:.2f}x (median of {r['repeats']})")
    if "skdcore_fp32_s" in r:
        line += f"; skdcore fp32 eager {r['skdcore_fp32_s'] * 1e3:.0f} ms -> {r['fp32_speedup']:.2f}x"
    if "skdcore_peak_mb" in r:
        line += (f"; peak memory {variant_label(r)} {r['skdcore_peak_mb']:.0f} MB vs reference "
                 f"{r['reference_peak_mb']:.0f} MB")
    return line + "\n  ops: " + ", ".join(f"{k}={v}" for k, v in r["ops"].items())
