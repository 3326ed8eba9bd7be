"""temporal_shift: skdcore vs eager reference vs torch.compile(reference), fwd and fwd+bwd.

Shapes are those Shift-GCN feeds the op inside an SKD step: N*M = 32 series, V = 25 joints, C/T per
stage, stride 1 and 2 (units 5 and 8), plus V = 18. Memory-bound op (two reads and one write per
output element), so the interesting numbers are ms per call and the ratios of the same run.
"""
import torch

from common import base_parser, machine_line, markdown_table, median_seconds

from skdcore.ops import temporal_shift
from skdcore.reference.temporal_shift import temporal_shift_reference

SHAPES = [  # (N, C, T, V, stride)
    (32, 64, 100, 25, 1),
    (32, 128, 100, 25, 2),
    (32, 128, 50, 25, 1),
    (32, 256, 50, 25, 2),
    (32, 256, 25, 25, 1),
    (32, 64, 100, 18, 1),
]


def time_pair(impls, x, shift, stride, g, min_run_time):
    """Median seconds of fwd (no grad) and fwd+bwd (grads for x and shift) for each implementation."""
    with torch.no_grad():
        fwd = {name: median_seconds(lambda f=f: f(x, shift, stride), min_run_time)
               for name, f in impls.items()}
    fwd_bwd = {
        name: median_seconds(lambda f=f: torch.autograd.grad(f(x, shift, stride), (x, shift), g),
                             min_run_time)
        for name, f in impls.items()
    }
    return fwd, fwd_bwd


def main():
    args = base_parser(__doc__).parse_args()
    min_run_time = 0.2 if args.quick else 1.0
    rows = []
    for N, C, T, V, stride in SHAPES[:2] if args.quick else SHAPES:
        x = torch.randn(N, C, T, V, device=args.device, requires_grad=True)
        shift = ((torch.rand(C, device=args.device) - 0.5) * 6).requires_grad_()
        g = torch.randn(N, C, T // stride, V, device=args.device)
        expected = temporal_shift_reference(x, shift, stride)
        torch.testing.assert_close(temporal_shift(x, shift, stride), expected)
        # NB: a fresh compiled function per shape, so no run hits dynamo's recompile limit (-> eager).
        torch._dynamo.reset()
        impls = {"skdcore": temporal_shift, "eager": temporal_shift_reference,
                 "compile": torch.compile(temporal_shift_reference)}
        fwd, fwd_bwd = time_pair(impls, x, shift, stride, g, min_run_time)
        rows.append([
            f"N={N} C={C} T={T} V={V} s={stride}",
            f"{fwd['skdcore'] * 1e3:.2f}", f"{fwd['eager'] / fwd['skdcore']:.2f}x",
            f"{fwd['compile'] / fwd['skdcore']:.2f}x",
            f"{fwd_bwd['skdcore'] * 1e3:.2f}", f"{fwd_bwd['eager'] / fwd_bwd['skdcore']:.2f}x",
            f"{fwd_bwd['compile'] / fwd_bwd['skdcore']:.2f}x",
        ])
    print(f"temporal_shift on {machine_line()}")
    print(markdown_table(
        ["shape", "fwd ms", "fwd vs eager", "fwd vs compile", "fwd+bwd ms", "fwd+bwd vs eager",
         "fwd+bwd vs compile"],
        rows,
    ))


if __name__ == "__main__":
    main()
