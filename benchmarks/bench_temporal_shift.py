"""temporal_shift: skdcore vs eager reference vs torch.compile(reference), fwd and fwd+bwd.

Shapes are those Shift-GCN feeds the op inside an SKD step: N*M = 32 series, V = 25 joints, C/T per
stage, stride 1 and 2 (units 5 and 8), plus V = 18. Memory-bound op (two reads and one write per
output element), so the interesting numbers are ms per call and the ratios of the same run.
"""
import statistics

import torch

from common import base_parser, fwd_bwd_header, fwd_bwd_row, machine_line, markdown_table, median_seconds
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


ROUNDS = 5


def interleaved_medians(calls, min_run_time):
    """Median over ROUNDS of each call's median time, the calls taking turns within every round.

    NB: the machine is shared; taking turns spreads load bursts over all implementations
    instead of penalising whichever one happened to run during a burst.
    """
    times = {name: [] for name in calls}
    for _ in range(ROUNDS):
        for name, call in calls.items():
            times[name].append(median_seconds(call, min_run_time / ROUNDS))
    return {name: statistics.median(values) for name, values in times.items()}


def time_pair(impls, x, shift, stride, g, min_run_time):
    """Median seconds of fwd (no grad) and fwd+bwd (grads for x and shift) for each implementation."""
    def forward(f):
        def call():
            with torch.no_grad():
                f(x, shift, stride)
        return call

    def forward_backward(f):
        return lambda: torch.autograd.grad(f(x, shift, stride), (x, shift), g)

    fwd = interleaved_medians({name: forward(f) for name, f in impls.items()}, min_run_time)
    fwd_bwd = interleaved_medians({name: forward_backward(f) for name, f in impls.items()}, min_run_time)
    return fwd, fwd_bwd


def main():
    parser = base_parser(__doc__)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch/OpenMP threads (1 gives steadier numbers on a loaded machine)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    # GPU timings are steady: half a second per measurement is plenty there
    min_run_time = 0.5 if args.quick or args.device == "cuda" else 2.5
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
        rows.append(fwd_bwd_row(f"N={N} C={C} T={T} V={V} s={stride}", fwd, fwd_bwd, 1e3, 2))
    print(f"temporal_shift on {machine_line()}")
    print(markdown_table(fwd_bwd_header("shape", "ms"), rows))


if __name__ == "__main__":
    main()
