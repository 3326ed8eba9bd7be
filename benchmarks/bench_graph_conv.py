"""graph_conv: skdcore vs eager reference vs torch.compile(reference), fwd and fwd+bwd.

ST-GCN-like shapes (N=32, K=3, V=25 and 18). fwd+bwd computes the gradients of x, weight and
bias (A a fixed buffer, the common case); one row also learns edge_importance. Speeds are ratios
measured in the same run, the median over interleaved rounds (the machine is shared and noisy).
GFLOP/s use the fused op's FLOP count (channel GEMM + graph aggregation on the smaller channel
side; fwd+bwd counted as 3x fwd) and are compared with torch.mm of a square sgemm of the same FLOP
count in the same run: the practical ceiling of this machine. Memory (computed, not measured: CPU
torch has no allocator statistics): the (N, K, C_out, T, V) intermediate the eager form builds
vs the fused op's per-thread workspaces (K, min(C_in, C_out), T, V).

On CUDA the op's default path (SKDCORE_GRAPH_CONV_CUDA=gemm, cuBLAS products) is "skdcore"; the
fused path (the op's own intermediate-free kernels) is timed in the same run, fwd+bwd, in the last
columns.

--autocast runs everything under torch.autocast(device, bfloat16): skdcore's autocast rule
multiplies in bfloat16 with float32 sums, eager and compile follow autocast's own rules.
"""
import contextlib
import statistics

import torch

import skdcore.ops
from common import base_parser, machine_line, markdown_table, median_seconds, on_path
from skdcore.reference.graph_conv import graph_conv_reference

FULL_SHAPES = [  # (C_in, C_out, T, V, learn edge_importance)
    (64, 64, 100, 25, False),
    (64, 128, 50, 25, False),
    (128, 256, 25, 25, False),
    (128, 128, 50, 25, False),
    (256, 256, 25, 25, False),
    (64, 64, 100, 18, False),
    (64, 128, 50, 25, True),
]
QUICK_SHAPES = [(64, 64, 50, 25, False), (64, 128, 25, 18, True)]


def forward_flops(N, C_in, C_out, T, V, K):
    return 2 * N * T * V * K * (C_in * C_out + V * min(C_in, C_out))


def sgemm_gflops(flops, device, min_run_time):
    size = max(64, round((flops / 2) ** (1 / 3)))
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    return 2 * size**3 / median_seconds(lambda: torch.mm(a, b), min_run_time) / 1e9


def measure(N, C_in, C_out, T, V, learn_edges, device, impls, rounds, min_run_time, tolerance=1e-3):
    K = 3
    x = torch.randn(N, C_in, T, V, device=device)
    weight = torch.randn(K, C_out, C_in, device=device) / C_in**0.5
    A = torch.rand(K, V, V, device=device) / V
    bias = torch.randn(C_out, device=device)
    edges = torch.ones(K, V, V, device=device) if learn_edges else None
    trained = [x, weight, bias] + ([edges] if learn_edges else [])
    grad_y = torch.randn(N, C_out, T, V, device=device)

    def forward(f):
        with torch.no_grad():
            return f(x, weight, A, bias, edges)

    def forward_backward(f):
        inputs = [t.detach().requires_grad_() for t in trained]
        xs, ws, bs = inputs[:3]
        return torch.autograd.grad(f(xs, ws, A, bs, inputs[3] if learn_edges else None), inputs, grad_y)

    torch.testing.assert_close(forward(impls["skdcore"]).float(), forward(graph_conv_reference).float(),
                               rtol=tolerance, atol=tolerance)
    times = {(name, mode): [] for name in impls for mode in ("fwd", "fwd+bwd")}
    for _ in range(rounds):  # interleaved, so a burst of load hits every implementation
        for name, f in impls.items():
            times[(name, "fwd")].append(median_seconds(lambda f=f: forward(f), min_run_time))
            times[(name, "fwd+bwd")].append(median_seconds(lambda f=f: forward_backward(f), min_run_time))
    return {key: statistics.median(values) for key, values in times.items()}


def cuda_path(path):
    return on_path("graph_conv_cuda", path, skdcore.ops.graph_conv)


def main():
    parser = base_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3, quick 1)")
    parser.add_argument("--autocast", action="store_true", help="everything under torch.autocast(bfloat16)")
    args = parser.parse_args()
    precision = (torch.autocast(args.device, dtype=torch.bfloat16) if args.autocast
                 else contextlib.nullcontext())
    tolerance = 5e-2 if args.autocast else 1e-3  # bfloat16 keeps 8 significant bits
    N = 8 if args.quick else 32
    shapes = QUICK_SHAPES if args.quick else FULL_SHAPES
    rounds = args.rounds or (1 if args.quick else 3)
    min_run_time = 0.2 if args.quick else 0.5
    # One specialised graph per shape and grad mode: raise the recompile limit, or dynamo would
    # silently fall back to eager after 8 graphs.
    torch._dynamo.config.recompile_limit = 64
    compiled = torch.compile(graph_conv_reference, dynamic=False)
    impls = {"skdcore": skdcore.ops.graph_conv, "eager": graph_conv_reference, "compile": compiled}
    extra_paths = ["fused"] if args.device == "cuda" else []
    if extra_paths:
        impls = {"skdcore": cuda_path("gemm"), **{name: cuda_path(name) for name in extra_paths},
                 "eager": graph_conv_reference, "compile": compiled}
    rows = []
    for C_in, C_out, T, V, learn_edges in shapes:
        with precision:
            t = measure(N, C_in, C_out, T, V, learn_edges, args.device, impls, rounds, min_run_time,
                        tolerance)
        flops = forward_flops(N, C_in, C_out, T, V, 3)
        ceiling = sgemm_gflops(flops, args.device, min_run_time)
        ours_fwd, ours_bwd = t[("skdcore", "fwd")], t[("skdcore", "fwd+bwd")]
        rows.append([
            f"{C_in}->{C_out} T={T} V={V}" + (" +edges" if learn_edges else ""),
            f"{ours_fwd * 1e3:.1f}",
            f"{t[('eager', 'fwd')] / ours_fwd:.2f}x",
            f"{t[('compile', 'fwd')] / ours_fwd:.2f}x",
            f"{ours_bwd * 1e3:.1f}",
            f"{t[('eager', 'fwd+bwd')] / ours_bwd:.2f}x",
            f"{t[('compile', 'fwd+bwd')] / ours_bwd:.2f}x",
            f"{flops / ours_fwd / 1e9:.0f} / {3 * flops / ours_bwd / 1e9:.0f}",
            f"{ceiling:.0f}",
            f"{4 * N * 3 * C_out * T * V / 2**20:.0f} / "
            f"{4 * torch.get_num_threads() * 3 * min(C_in, C_out) * T * V / 2**20:.1f}",
        ] + [cell for name in extra_paths for cell in (
            f"{t[(name, 'fwd+bwd')] * 1e3:.1f}",
            f"{t[('eager', 'fwd+bwd')] / t[(name, 'fwd+bwd')]:.2f}x",
            f"{t[('compile', 'fwd+bwd')] / t[(name, 'fwd+bwd')]:.2f}x")])
        print(rows[-1], flush=True)
    print(f"\ngraph_conv N={N} K=3 on {machine_line()}, {rounds} interleaved rounds"
          + (", under autocast(bfloat16)" if args.autocast else ""))
    print(markdown_table(
        ["shape", "fwd ms", "fwd vs eager", "fwd vs compile", "fwd+bwd ms", "fwd+bwd vs eager",
         "fwd+bwd vs compile", "GFLOP/s fwd / fwd+bwd", "sgemm GFLOP/s",
         "MiB eager intermediate / fused workspace"]
        + [f"{name} {column}" for name in extra_paths for column in ("fwd+bwd ms", "vs eager", "vs compile")],
        rows,
    ))


if __name__ == "__main__":
    main()
