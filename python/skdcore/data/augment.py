"""Training-time augmentation of paired batches: a random rotation and scale about each clip's centre.

``random_rotate_scale(hq, lq, generator, rotate_deg, scale, num_coords)`` on (N, C, T, V, M) batches.
Per clip, drawn from ``generator`` (a CPU ``torch.Generator``) in this order: the angles of the whole
batch, ``(2 * rand(N, A) - 1) * radians(rotate_deg)`` (A = 3 angles x, y, z for 3-D data, 1 in-plane
angle for 2-D), then the scales ``1 + (2 * rand(N) - 1) * scale`` (float64 draws). 3-D: R = Rz @ Ry @ Rx;
2-D: the in-plane rotation [[cos, -sin], [sin, cos]].

Every present joint x of the first ``num_coords`` channels becomes ``s * R (x - c) + c``, c the mean of
the HQ clip's present joints over T, V, M. HQ and LQ of a clip get the same R, s and c, so a pair stays
aligned (what feature MSE and graph matching compare). Absent joints (all coordinates exactly 0, the
zero-fill convention of ``transforms.py``) stay exactly 0 in each tensor; further channels (a keypoint
score) are left as they are. The inputs are not modified.
"""
from __future__ import annotations

import math

import torch

COORDS = (2, 3)


def draw_rotate_scale(generator: torch.Generator, n: int, rotate_deg: float, scale: float,
                      num_coords: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(R (n, num_coords, num_coords), s (n,)), float64 on the CPU, drawn by the recipe above."""
    angles = (2 * torch.rand(n, 3 if num_coords == 3 else 1, generator=generator, dtype=torch.float64) - 1)
    angles = angles * math.radians(rotate_deg)
    scales = 1 + (2 * torch.rand(n, generator=generator, dtype=torch.float64) - 1) * scale
    cos, sin = angles.cos(), angles.sin()
    if num_coords == 2:
        c, s = cos[:, 0], sin[:, 0]
        return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2), scales
    one, zero = torch.ones(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
    (cx, cy, cz), (sx, sy, sz) = cos.unbind(1), sin.unbind(1)
    rx = torch.stack([torch.stack([one, zero, zero], -1), torch.stack([zero, cx, -sx], -1),
                      torch.stack([zero, sx, cx], -1)], -2)
    ry = torch.stack([torch.stack([cy, zero, sy], -1), torch.stack([zero, one, zero], -1),
                      torch.stack([-sy, zero, cy], -1)], -2)
    rz = torch.stack([torch.stack([cz, -sz, zero], -1), torch.stack([sz, cz, zero], -1),
                      torch.stack([zero, zero, one], -1)], -2)
    return rz @ ry @ rx, scales


def check_num_coords(num_coords: int, channels: int) -> None:
    """ValueError unless ``num_coords`` is 2 or 3 and the clips have that many channels."""
    if num_coords not in COORDS:
        raise ValueError(f"rotation/scale augmentation needs 2 or 3 coordinate channels, the data has "
                         f"num_coords={num_coords}")
    if channels < num_coords:
        raise ValueError(f"rotation/scale augmentation: num_coords={num_coords} but the clips have only "
                         f"{channels} channels")


def random_rotate_scale(hq: torch.Tensor, lq: torch.Tensor, generator: torch.Generator, rotate_deg: float,
                        scale: float, num_coords: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(hq, lq), both (N, C, T, V, M), rotated and scaled about each HQ clip's centre (module docstring)."""
    if hq.dim() != 5 or hq.shape != lq.shape:
        raise ValueError(f"hq and lq must both be (N, C, T, V, M) of one shape, got {tuple(hq.shape)} and "
                         f"{tuple(lq.shape)}")
    check_num_coords(num_coords, hq.shape[1])
    rotation, scales = draw_rotate_scale(generator, hq.shape[0], rotate_deg, scale, num_coords)
    matrix = (scales[:, None, None] * rotation).to(device=hq.device, dtype=hq.dtype)  # (N, k, k)
    coords = hq[:, :num_coords]
    present = (coords != 0).any(1, keepdim=True)  # (N, 1, T, V, M)
    count = present.sum((2, 3, 4)).clamp(min=1)  # (N, 1)
    centre = (coords * present).sum((2, 3, 4)) / count  # (N, k)
    centre = centre[:, :, None, None, None]

    def apply(x: torch.Tensor) -> torch.Tensor:
        xc = x[:, :num_coords]
        moved = torch.einsum("nij,njtvm->nitvm", matrix, xc - centre) + centre
        moved = torch.where((xc != 0).any(1, keepdim=True), moved, torch.zeros((), dtype=x.dtype,
                                                                                device=x.device))
        return torch.cat([moved, x[:, num_coords:]], 1)

    return apply(hq), apply(lq)
