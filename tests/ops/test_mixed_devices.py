"""Calls that mix meta tensors with CPU tensors are refused with the device message, like graph_conv.

Meta outranks CPU in the dispatcher, so such a call reaches the op's fake kernel, which used to
return an uninitialised tensor on the CPU (issue #23 item 6).
"""
import pytest
import torch

import skdcore

OPS = ["temporal_shift", "_temporal_shift_backward", "graph_matching_loss", "_graph_matching_loss_backward",
       "gradient_revision", "gradient_revision_gram", "gradient_revision_apply", "gradient_revision_"]


def call(op, meta_argument):
    """Runs ``op`` on CPU inputs with the argument named ``meta_argument`` moved to the meta device."""
    def put(name, tensor):
        return tensor.to("meta") if name == meta_argument else tensor

    x = torch.randn(2, 4, 6, 3)
    if op == "temporal_shift":
        return torch.ops.skdcore.temporal_shift(put("x", x), put("shift", torch.zeros(4)), 1)
    if op == "_temporal_shift_backward":
        return torch.ops.skdcore._temporal_shift_backward(put("grad", torch.ones(2, 4, 6, 3)), x,
                                                          put("shift", torch.zeros(4)), 1)
    if op == "graph_matching_loss":
        return skdcore.graph_matching_loss(put("student", x), put("teacher", torch.randn(2, 4, 6, 3)))
    if op == "_graph_matching_loss_backward":
        _, stats = torch.ops.skdcore._graph_matching_loss_forward(x, x + 1, "euclidean", "smooth_l1", 1.0,
                                                                   "mean_positive", "mean")
        return torch.ops.skdcore._graph_matching_loss_backward(
            put("grad", torch.tensor(1.0)), x, x + 1, put("stats", stats), "euclidean", "smooth_l1", 1.0,
            "mean_positive", "mean")
    task = [torch.randn(5), torch.randn(2, 3)]
    distill = [put("distill", torch.randn(5)), torch.randn(2, 3)]
    if op == "gradient_revision":
        return torch.ops.skdcore.gradient_revision(task, distill, 1)
    if op == "gradient_revision_gram":
        return torch.ops.skdcore.gradient_revision_gram(task, distill, 1)
    gram = put("gram", torch.eye(2, dtype=torch.float64))
    if op == "gradient_revision_apply":
        return torch.ops.skdcore.gradient_revision_apply(task, distill, gram)
    out = [put("out", torch.empty(5)), torch.empty(2, 3)]
    return torch.ops.skdcore.gradient_revision_(out, task, distill, 1)


META_ARGUMENTS = {
    "temporal_shift": ["shift", "x"], "_temporal_shift_backward": ["grad", "shift"],
    "graph_matching_loss": ["teacher", "student"], "_graph_matching_loss_backward": ["grad", "stats"],
    "gradient_revision": ["distill"], "gradient_revision_gram": ["distill"],
    "gradient_revision_apply": ["distill", "gram"], "gradient_revision_": ["out", "distill"],
}


@pytest.mark.parametrize("op,meta_argument", [(op, arg) for op in OPS for arg in META_ARGUMENTS[op]])
def test_meta_mixed_with_cpu_is_refused(op, meta_argument):
    message = r"is on (meta|cpu) but .* is on (cpu|meta); move them to the same device"
    with pytest.raises(ValueError, match=message):
        call(op, meta_argument)


def test_all_meta_still_gives_shapes():
    # The fake kernels still serve calls whose tensors are all meta (torch.compile, shape inference).
    x = torch.randn(2, 4, 6, 3, device="meta")
    assert torch.ops.skdcore.temporal_shift(x, torch.zeros(4, device="meta"), 2).shape == (2, 4, 3, 3)
    assert skdcore.graph_matching_loss(x, x, reduction="none").shape == (2,)
    outputs, stats = torch.ops.skdcore.gradient_revision([torch.randn(5, device="meta")],
                                                         [torch.randn(5, device="meta")], 1)
    assert outputs[0].device.type == "meta" and stats.shape == (2, 1)
