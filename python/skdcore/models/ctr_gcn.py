"""CTR-GCN (Chen et al., ICCV 2021): channel-wise topology refinement graph convolution.

Reads top to bottom like the paper:

1. :class:`ChannelTopologyRefinement` (the paper's CTR-GC): from features pooled over time, two 1x1
   convs give per-joint embeddings; tanh of their pairwise differences, expanded to the output
   channels, is a per-sample, per-channel (V, V) refinement added to the shared topology A.
2. :class:`ChannelwiseGraphConv` (``unit_gcn``): one CTR-GC per graph partition; each channel of a 1x1
   conv's output is aggregated over the joints with its own refined topology (the channel-wise
   aggregation ``'nctv,ncvw->nctw'``), summed over partitions, BatchNorm, residual, ReLU.
3. :class:`MultiScaleTemporalConv`: branches 1x1 -> 5x1 conv with dilation 1 and 2, 1x1 -> 3x1 max
   pool, and a strided 1x1, concatenated.
4. :class:`CTRGCNBlock` (``TCN_GCN_unit``): the two, with a residual; :class:`CTRGCN`: 10 blocks
   64x4, 128x3, 256x3 (temporal stride 2 at blocks 5 and 8) by default.

Differences from the authors' code, on purpose: the graph is skdcore's partition of any layout (built-in
or the user's; A[k, v, w] sends joint v to joint w, see :mod:`skdcore.graph`), so the einsum reads
``'nctv,ncvw->nctw'`` where theirs reads ``'ncuv,nctv->nctu'`` on the transposed A; data_bn is shared
by the persons (as in ST-GCN), so one model takes any number of persons M and frames T.

No skdcore graph op fits the per-sample topology (``graph_conv`` shares one A over the batch), so the
channel-wise aggregation is an einsum (a batched (T, V) x (V, V) matmul); training with CTR-GCN still
uses skdcore's fused graph matching loss and gradient revision (benchmarks/bench_train_step.py
--model ctr_gcn measures the step).
"""
from __future__ import annotations

import math
from typing import Any, Dict, Optional, Sequence, Union

import torch
from torch import nn

from ..layouts import Layout
from .shift_gcn import bn_init, conv_init
from .skeleton_model import SkeletonModel, stacked_blocks
from .st_gcn import REFERENCE_CHANNELS, REFERENCE_STRIDES, STGCN


def relation_channels(in_channels: int) -> int:
    """Width of CTR-GC's joint embeddings: C_in / 8, as the authors; 8 on raw input (their 3 or 9 channels,
    and here any input narrower than 8, e.g. 2D coordinates)."""
    return 8 if in_channels < 8 or in_channels == 9 else in_channels // 8


def channelwise_aggregation(x: torch.Tensor, topology: torch.Tensor) -> torch.Tensor:
    """y[n, c, t, w] = sum_v x[n, c, t, v] * topology[n, c, v, w]: x (N, C, T, V), topology (N, C, V, V)."""
    return torch.einsum("nctv,ncvw->nctw", x, topology)


class ChannelTopologyRefinement(nn.Module):
    """CTR-GC for one partition: ``forward(x, A, alpha) -> (values, topology)``, values (N, C_out, T, V),
    topology (N, C_out, V, V).

    topology[n, c, v, w] = alpha * expand(tanh(query(x)[w] - key(x)[v]))[c] + A[v, w], where ``query``
    and ``key`` are 1x1 convs to ``relation_channels`` averaged over time and ``expand`` a 1x1 conv to
    C_out; values = ``value(x)``, a 1x1 conv to C_out.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        relation = relation_channels(in_channels)
        self.query = nn.Conv2d(in_channels, relation, 1)
        self.key = nn.Conv2d(in_channels, relation, 1)
        self.value = nn.Conv2d(in_channels, out_channels, 1)
        self.expand = nn.Conv2d(relation, out_channels, 1)
        for conv in (self.query, self.key, self.value, self.expand):
            conv_init(conv)

    def forward(self, x: torch.Tensor, A: torch.Tensor, alpha: torch.Tensor):
        query, key = self.query(x).mean(2), self.key(x).mean(2)  # (N, R, V)
        # (N, R, V, V): [v, w] = query of the receiving joint w - key of the sending joint v
        relation = torch.tanh(query.unsqueeze(-2) - key.unsqueeze(-1))
        return self.value(x), self.expand(relation) * alpha + A


class ChannelwiseGraphConv(nn.Module):
    """relu(bn(sum_k aggregate(CTR-GC_k(x, A_k))) + down(x)) on x (N, C_in, T, V) -> (N, C_out, T, V).

    ``A`` (K, V, V): the partitions, learnable (``learnable_topology``, the authors' ``PA``) or fixed;
    ``alpha``: the refinement's scale, a learnable scalar starting at 0 (so training starts from A).
    """

    def __init__(self, in_channels: int, out_channels: int, A: torch.Tensor, learnable_topology: bool = True):
        super().__init__()
        A = torch.as_tensor(A, dtype=torch.float32).clone()
        if A.dim() != 3 or A.shape[1] != A.shape[2]:
            raise ValueError(f"ChannelwiseGraphConv: A must be (K, V, V), got {tuple(A.shape)}")
        self.refinements = nn.ModuleList(ChannelTopologyRefinement(in_channels, out_channels)
                                         for _ in range(A.shape[0]))
        if learnable_topology:
            self.A = nn.Parameter(A)
        else:
            self.register_buffer("A", A)
        self.alpha = nn.Parameter(torch.zeros(1))
        self.bn = nn.BatchNorm2d(out_channels)
        bn_init(self.bn, 1e-6)  # NB: as the authors: each block starts close to its residual path
        self.down = None
        if in_channels != out_channels:
            self.down = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels))
            conv_init(self.down[0])
            bn_init(self.down[1], 1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = None
        for k, refinement in enumerate(self.refinements):
            values, topology = refinement(x, self.A[k], self.alpha)
            z = channelwise_aggregation(values, topology)
            y = z if y is None else y + z
        return self.relu(self.bn(y) + (x if self.down is None else self.down(x)))


class MultiScaleTemporalConv(nn.Module):
    """Concatenated branches on x (N, C_in, T, V) -> (N, C_out, T / stride, V), C_out / branches each:
    per dilation d: 1x1 conv, BN, ReLU, (kernel x 1) conv with dilation d and stride, BN; then 1x1 conv, BN,
    ReLU, 3x1 max pool with stride, BN; then a strided 1x1 conv, BN."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 5, stride: int = 1,
                 dilations: Sequence[int] = (1, 2)):
        super().__init__()
        branches = len(dilations) + 2
        if out_channels % branches:
            raise ValueError(f"MultiScaleTemporalConv: out_channels {out_channels} must be a multiple of the "
                             f"{branches} branches (len(dilations) + 2)")
        if kernel_size % 2 != 1:
            raise ValueError(f"MultiScaleTemporalConv: kernel_size must be odd, got {kernel_size}")
        width = out_channels // branches

        def entry() -> list:
            return [nn.Conv2d(in_channels, width, 1), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]

        self.branches = nn.ModuleList(
            nn.Sequential(*entry(), nn.Conv2d(width, width, (kernel_size, 1), (stride, 1),
                                              ((kernel_size - 1) * d // 2, 0), (d, 1)), nn.BatchNorm2d(width))
            for d in dilations)
        self.branches.append(nn.Sequential(*entry(), nn.MaxPool2d((3, 1), (stride, 1), (1, 0)),
                                           nn.BatchNorm2d(width)))
        self.branches.append(nn.Sequential(nn.Conv2d(in_channels, width, 1, (stride, 1)),
                                           nn.BatchNorm2d(width)))
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                conv_init(module)
            elif isinstance(module, nn.BatchNorm2d):
                bn_init(module, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class CTRGCNBlock(nn.Module):
    """relu(tcn(gcn(x)) + residual(x)) on x (N, C_in, T, V)."""

    def __init__(self, in_channels: int, out_channels: int, A: torch.Tensor, stride: int = 1,
                 residual: bool = True, learnable_topology: bool = True, temporal_kernel: int = 5,
                 dilations: Sequence[int] = (1, 2)):
        super().__init__()
        self.gcn = ChannelwiseGraphConv(in_channels, out_channels, A, learnable_topology)
        self.tcn = MultiScaleTemporalConv(out_channels, out_channels, temporal_kernel, stride, dilations)
        if not residual:
            self.residual = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, (stride, 1)),
                                          nn.BatchNorm2d(out_channels))
            conv_init(self.residual[0])
            bn_init(self.residual[1], 1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.tcn(self.gcn(x))
        return self.relu(y if self.residual is None else y + self.residual(x))


class CTRGCN(SkeletonModel):
    """CTR-GCN backbone + classifier; ``forward(x (N, C, T, V, M)) -> (logits, features)``.

    ``layout``: a built-in name or a :class:`skdcore.layouts.Layout` (its spatial partition, K=3);
    ``A`` (K, V, V) overrides it. ``channels`` / ``strides``: one entry per block (each width a
    multiple of ``len(dilations) + 2``); the first block has no residual, as the authors'.
    ``centre_input``: subtract each clip's mean joint position first (raw, uncentred recordings;
    :func:`skdcore.models.skeleton_model.centre_on_clip_mean`).
    """

    persons_fixed = False
    compiled_ops = ()  # NB: the per-sample topology fits no skdcore graph op (module docstring)

    def __init__(
        self,
        num_class: int = 60,
        layout: Union[str, Layout] = "ntu25",
        in_channels: int = 3,
        channels: Sequence[int] = REFERENCE_CHANNELS,
        strides: Sequence[int] = REFERENCE_STRIDES,
        temporal_kernel: int = 5,
        dilations: Sequence[int] = (1, 2),
        learnable_topology: bool = True,
        num_person: int = 2,
        A: Optional[torch.Tensor] = None,
        adaption_channels: Optional[int] = None,
        ops: str = "fused",
        centre_input: bool = False,
    ):
        channels, strides, A = stacked_blocks("CTRGCN", channels, strides, layout, A)
        super().__init__(num_class, A.shape[-1], num_person, in_channels, channels[-1], adaption_channels,
                         ops, centre_input)
        self.channels, self.strides = channels, strides
        self.data_bn = nn.BatchNorm1d(in_channels * A.shape[-1])
        bn_init(self.data_bn, 1)
        blocks, previous = [], in_channels
        for index, (width, stride) in enumerate(zip(channels, strides, strict=True)):
            blocks.append(CTRGCNBlock(previous, width, A, stride, residual=index > 0,
                                      learnable_topology=learnable_topology, temporal_kernel=temporal_kernel,
                                      dilations=dilations))
            previous = width
        self.blocks = nn.ModuleList(blocks)
        nn.init.normal_(self.fc.weight, 0, math.sqrt(2.0 / num_class))

    @classmethod
    def arguments_from_data(cls, shape: Sequence[int], layout: Any = None) -> Dict[str, Any]:
        """As ST-GCN: the graph comes from the data's layout (default 'ntu25')."""
        return STGCN.arguments_from_data(shape, layout)

    def backbone(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x
