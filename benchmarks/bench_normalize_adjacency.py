"""normalize_adjacency: skdcore vs eager reference vs torch.compile(reference), fwd and fwd+bwd.

A tiny op (3 x 25 x 25): what this measures is per-call overhead, which is what matters for it
(it runs once per forward when edge weights are learnable).
"""
import torch

from common import base_parser, machine_line, markdown_table, median_seconds

import skdcore
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
            impls = {"skdcore": skdcore.normalize_adjacency, "eager": normalize_adjacency_reference, "compile": compiled}
            fwd = {name: median_seconds(lambda f=f: f(A.detach(), mode), 0.2 if args.quick else 0.5) for name, f in impls.items()}
            fwd_bwd = {
                name: median_seconds(lambda f=f: torch.autograd.grad(f(A, mode), A, g), 0.2 if args.quick else 0.5)
                for name, f in impls.items()
            }
            rows.append([
                f"K={K} V={V} {mode}",
                f"{fwd['skdcore'] * 1e6:.1f}", f"{fwd['eager'] / fwd['skdcore']:.2f}x", f"{fwd['compile'] / fwd['skdcore']:.2f}x",
                f"{fwd_bwd['skdcore'] * 1e6:.1f}", f"{fwd_bwd['eager'] / fwd_bwd['skdcore']:.2f}x",
                f"{fwd_bwd['compile'] / fwd_bwd['skdcore']:.2f}x",
            ])
    print(f"normalize_adjacency on {machine_line()}")
    print(markdown_table(
        ["shape/mode", "fwd us", "fwd vs eager", "fwd vs compile", "fwd+bwd us", "fwd+bwd vs eager", "fwd+bwd vs compile"],
        rows,
    ))


if __name__ == "__main__":
    main()
