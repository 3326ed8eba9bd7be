"""Inference latency of a deployed model: pure PyTorch, fused eager, torch.compile, .pt2, onnxruntime.

Per-clip latency (ms per clip) and throughput (clips/s) of the logits of both backbones at the
reference size (10 units, 64..256 channels, NTU 25 joints, 2 persons, T=100), batch 1 and 32, with
1 and 2 threads. The variants are timed round-robin (one call of each per round, medians over
rounds), so a busy moment of this shared machine hits all of them alike; ratios are to the pure
PyTorch reference of the same row.

    python benchmarks/bench_inference.py                 # the table for RESULTS.md
    python benchmarks/bench_inference.py --quick         # small model, short runs (smoke test)
"""

from __future__ import annotations

import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch

from common import base_parser, machine_line, markdown_table
from skdcore import export  # (imports skdcore: registers the ops)
from skdcore.models import build_model

MODELS = ("st_gcn", "shift_gcn")
VARIANTS = ("pure PyTorch", "fused eager", "torch.compile", "exported .pt2", "onnxruntime")


def build(name: str, fused: bool, quick: bool) -> torch.nn.Module:
    args = {"num_class": 60}
    if quick:
        args.update(channels=(16, 32), strides=(1, 2))
    return build_model(name, **args, ops="fused" if fused else "reference").eval()


def variants(name: str, quick: bool, frames: int, folder: Path) -> dict:
    """{variant: callable(clips) -> logits} of one model (same weights); onnxruntime as the file's path
    (its session is made per thread count)."""
    torch.manual_seed(0)
    reference = export.LogitsOnly(build(name, False, quick)).eval()
    fused_model = build(name, True, quick)
    fused_model.load_state_dict(reference.model.state_dict())
    fused = export.LogitsOnly(fused_model).eval()
    clips = export.example_clips(fused_model, frames=frames)
    program, _, _ = export.export_program(fused_model, clips)
    export.save_pt2(program, folder / f"{name}.pt2", {})
    loaded = export.load_program(folder / f"{name}.pt2", trust=True).module()
    onnx_path = folder / f"{name}.onnx"
    export.export_onnx(program, clips, onnx_path, export.DEFAULT_OPSET, {}, {})
    compiled = torch.compile(fused)
    return {
        "pure PyTorch": reference,
        "fused eager": fused,
        "torch.compile": compiled,
        "exported .pt2": loaded,
        "onnxruntime": onnx_path,
    }


def ort_session(path: Path, threads: int):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda clips: session.run(["logits"], {"clips": clips.numpy()})[0]


def time_round_robin(functions: dict, clips: torch.Tensor, rounds: int) -> dict:
    """Median seconds per call of each function, one call of each per round after two warm-up calls."""
    for fn in functions.values():
        for _ in range(2):
            fn(clips)
    times = {key: [] for key in functions}
    for _ in range(rounds):
        for key, fn in functions.items():
            start = time.perf_counter()
            fn(clips)
            times[key].append(time.perf_counter() - start)
    return {key: statistics.median(values) for key, values in times.items()}


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--rounds", type=int, default=15, help="timed rounds at batch 1 (fewer at larger batches)"
    )
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.batches = 3, [1, 4]
    warnings.filterwarnings("ignore")
    print(f"inference latency, {machine_line()}")
    print(f"clips (N, 3, T={args.frames}, V=25, M=2), logits only, eval mode, float32, CPU")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models:
            start = time.perf_counter()
            functions = variants(name, args.quick, args.frames, Path(folder))
            print(f"{name}: built, exported and compiled in {time.perf_counter() - start:.0f} s")
            for threads in args.threads:
                torch.set_num_threads(threads)
                timed = dict(functions)
                timed["onnxruntime"] = ort_session(functions["onnxruntime"], threads)
                for batch in args.batches:
                    clips = torch.randn(batch, 3, args.frames, 25, 2)
                    with torch.no_grad():
                        seconds = time_round_robin(timed, clips, max(3, args.rounds // max(1, batch // 4)))
                    base = seconds["pure PyTorch"]
                    for variant in VARIANTS:
                        s = seconds[variant]
                        rows.append(
                            [
                                name,
                                threads,
                                batch,
                                variant,
                                f"{1000 * s / batch:.1f}",
                                f"{batch / s:.1f}",
                                f"{s / base:.2f}x",
                            ]
                        )
                    print(
                        markdown_table(
                            [
                                "model",
                                "threads",
                                "batch",
                                "variant",
                                "ms / clip",
                                "clips / s",
                                "time vs pure PyTorch",
                            ],
                            rows[-len(VARIANTS) :],
                        )
                    )
    print()
    print(
        markdown_table(
            ["model", "threads", "batch", "variant", "ms / clip", "clips / s", "time vs pure PyTorch"], rows
        )
    )


if __name__ == "__main__":
    main()
