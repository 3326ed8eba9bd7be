"""normalize_adjacency: skdcore vs eager reference vs torch.compile(reference), fwd and fwd+bwd.

A tiny op (3 x 25 x 25): what this measures is per-call overhead, which is what matters for it
(it runs once per forward when edge weights are learnable).
"""
import torch

import skdcore
from common import base_parser, fwd_bwd_header, fwd_bwd_row, machine_line, markdown_table, median_seconds
from skdcore.reference.normalize_adjacency import normalize_adjacency_reference


def main():
    args = base_parser(__doc__).parse_args()
    compiled = torch.compile(normalize_adjacency_reference)
    rows = []
    shapes = [(3, 25)] if args.quick else [(3, 25), (3, 18), (8, 100)]
    for K, V in shapes:
        for mode in ("in_degree", "symmetric"):
            A = (torch.rand(K, V, V, device=args.device) + 0.1).requires_grad_()
            g = torch.randn(K, V, V, device=args.device)
            impls = {"skdcore": skdcore.normalize_adjacency, "eager": normalize_adjacency_reference,
                     "compile": compiled}
            run_time = 0.2 if args.quick else 0.5
            fwd = {name: median_seconds(lambda f=f: f(A.detach(), mode), run_time)
                   for name, f in impls.items()}
            fwd_bwd = {
                name: median_seconds(lambda f=f: torch.autograd.grad(f(A, mode), A, g), run_time)
                for name, f in impls.items()
            }
            rows.append(fwd_bwd_row(f"K={K} V={V} {mode}", fwd, fwd_bwd, 1e6, 1))
    print(f"normalize_adjacency on {machine_line()}")
    print(markdown_table(fwd_bwd_header("shape/mode", "us"), rows))


if __name__ == "__main__":
    main()
