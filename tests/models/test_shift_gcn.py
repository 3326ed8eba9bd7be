"""Shift-GCN: reference checkpoint, spatial/temporal shift semantics, generalised sizes."""
from pathlib import Path

import pytest
import torch

from skdcore.models import (
    ShiftGCN,
    ShiftGraphConv,
    TemporalShift,
    build_model,
    make_student,
    spatial_shift_indices,
)

CHECKPOINT = Path("/work/shared/data/skd_reference/shift_gcn_teacher_ntu60.pt")
needs_checkpoint = pytest.mark.skipif(
    not CHECKPOINT.is_file(),
    reason=f"SKD reference teacher checkpoint not found at {CHECKPOINT} (only on the project's dev machines)",
)


def tiny(**kwargs):
    options = dict(num_class=7, channels=(8, 16, 16), strides=(1, 2, 1))
    options.update(kwargs)
    return ShiftGCN(**options)


@pytest.fixture(scope="module")
def teacher():
    model = build_model("shift_gcn")
    model.load_state_dict(torch.load(CHECKPOINT, map_location="cpu", weights_only=True), strict=True)
    return model.eval()


@needs_checkpoint
def test_reference_checkpoint_loads_strictly_and_runs(teacher):
    state = torch.load(CHECKPOINT, map_location="cpu", weights_only=True)
    assert len(state) == 302 == len(teacher.state_dict())
    # Our own index construction reproduces the stored shift permutations.
    fresh = ShiftGCN().state_dict()
    for key in state:
        if key.endswith(("gcn1.shift_in", "gcn1.shift_out")):
            torch.testing.assert_close(fresh[key], state[key], rtol=0, atol=0)
    torch.manual_seed(0)
    with torch.no_grad():
        logits, features = teacher(torch.randn(2, 3, 64, 25, 2))
    assert logits.shape == (2, 60) and torch.isfinite(logits).all()
    assert features.shape == (4, 256, 16, 25) and torch.isfinite(features).all()
    # Logits are the fc of the person- and node-averaged features.
    pooled = features.view(2, 2, 256, -1).mean(3).mean(1)
    torch.testing.assert_close(logits, teacher.fc(pooled))


@needs_checkpoint
def test_eval_mode_is_deterministic(teacher):
    x = torch.randn(2, 3, 32, 25, 2)
    with torch.no_grad():
        first, second = teacher(x), teacher(x.clone())
    torch.testing.assert_close(first[0], second[0], rtol=0, atol=0)
    torch.testing.assert_close(first[1], second[1], rtol=0, atol=0)


def test_spatial_shift_indices_follow_reference_formula():
    V, C = 25, 6
    shift_in, shift_out = spatial_shift_indices(V, C, +1), spatial_shift_indices(V, C, -1)
    for i in range(V):
        for j in range(C):
            assert shift_in[i * C + j] == (i * C + j + j * C) % (C * V)
            assert shift_out[i * C + j] == (i * C + j - j * C) % (C * V)


def test_spatial_shift_moves_channel_c_by_c_joints_and_back():
    torch.manual_seed(0)
    V, C = 7, 4
    gcn = ShiftGraphConv(C, C, num_joints=V).eval()
    with torch.no_grad():
        gcn.Linear_weight.copy_(torch.eye(C))
    x = torch.randn(2, C, 3, V)
    # shift in then identity linear then shift out is the identity; BN (fresh stats) scales by 1/sqrt(1+eps).
    expected = torch.relu(x / (1 + gcn.bn.eps) ** 0.5 + x)
    torch.testing.assert_close(gcn(x), expected)
    shifted = x.permute(0, 2, 3, 1).reshape(6, V * C)[:, gcn.shift_in].view(2, 3, V, C)
    for c in range(C):
        torch.testing.assert_close(shifted[..., c], torch.roll(x[:, c], shifts=-c, dims=-1))


@pytest.mark.parametrize("V,M", [(25, 2), (18, 1), (13, 2)])
def test_small_model_forward_backward_any_layout(V, M):
    torch.manual_seed(V)
    model = tiny(num_joints=V, num_person=M)
    x = torch.randn(3, 3, 12, V, M)
    logits, features = model(x)
    assert logits.shape == (3, 7) and features.shape == (3 * M, 16, 6, V)
    (logits.sum() + features.mean()).backward()
    ypos = model.l1.tcn1.shift_in.ypos.grad
    assert torch.all((ypos.abs() == 0.01) | (ypos == 1e-4))  # reference rule by default
    assert model.l1.gcn1.Feature_Mask.grad.abs().sum() > 0


def test_exact_shift_grad_mode_and_reference_rule_agree_in_sign():
    torch.manual_seed(3)
    x = torch.randn(2, 4, 9, 3)
    grads = {}
    for mode in ("exact", "reference"):
        torch.manual_seed(5)
        shift = TemporalShift(4, stride=2, shift_grad=mode)
        (shift(x) * torch.linspace(-1, 1, 4 * 3).view(1, 4, 1, 3)).sum().backward()
        grads[mode] = shift.ypos.grad
    assert grads["exact"].abs().max() > 0.01  # a real gradient, not the rescaled one
    torch.testing.assert_close(grads["reference"], torch.sign(grads["exact"]) * 0.01)


def test_layout_sets_joint_count():
    model = build_model("shift_gcn", layout="coco17", num_class=3, channels=(8,), strides=(1,))
    assert model.num_joints == 17 and model.l1.gcn1.Feature_Mask.shape == (1, 17, 3)


def test_odd_frame_count_with_stride_two():
    logits, features = tiny(num_joints=5, num_person=1)(torch.randn(2, 3, 11, 5, 1))
    assert features.shape == (2, 16, 5, 5)


def test_student_adaption_changes_features_not_logits():
    torch.manual_seed(0)
    teacher_like = tiny(num_joints=5).eval()
    student = make_student(tiny(num_joints=5), adaption_channels=32).eval()
    student.load_state_dict(teacher_like.state_dict(), strict=False)
    x = torch.randn(2, 3, 8, 5, 2)
    with torch.no_grad():
        (logits_t, features_t), (logits_s, features_s) = teacher_like(x), student(x)
    torch.testing.assert_close(logits_s, logits_t)
    assert features_s.shape == (4, 32, 4, 5)
    torch.testing.assert_close(features_s, student.adaption(features_t))
    assert "adaption.weight" in ShiftGCN(num_joints=5, adaption_channels=256).state_dict()


def test_bad_input_errors():
    model = tiny(num_joints=5, num_person=2)
    with pytest.raises(ValueError, match="M=1 persons .* num_person=2"):
        model(torch.randn(1, 3, 8, 5, 1))
    with pytest.raises(ValueError, match="V=6 joints"):
        model(torch.randn(1, 3, 8, 6, 2))
    with pytest.raises(ValueError, match=r"\(N, C, T, V, M\)"):
        model(torch.randn(1, 3, 8, 5))
    with pytest.raises(ValueError, match="one entry per unit"):
        ShiftGCN(channels=(8, 16), strides=(1,))
    with pytest.raises(ValueError, match="unknown model 'gcn'"):
        build_model("gcn")
    with pytest.raises(ValueError, match="accepted arguments"):
        build_model("shift_gcn", layers=3)


def test_every_temporal_shift_runs_the_fused_op_by_default(monkeypatch):
    import skdcore.models.shift_gcn as shift_gcn_module
    from skdcore.models import use_ops
    from skdcore.reference.temporal_shift import temporal_shift_reference

    calls = []

    def spy(x, shift, stride=1):
        calls.append(stride)
        return temporal_shift_reference(x, shift, stride)

    monkeypatch.setattr(shift_gcn_module, "temporal_shift", spy)  # the compiled op, as the layer calls it
    model = tiny(num_joints=5).eval()
    assert ShiftGCN.compiled_ops == ("temporal_shift",)
    x = torch.randn(1, 3, 8, 5, 2)
    with torch.no_grad():
        fused = model(x)[0]
        assert calls == [1, 1, 1, 2, 1, 1]  # shift_in and shift_out of the three units
        reference = use_ops(model, "reference")(x)[0]
    assert calls == [1, 1, 1, 2, 1, 1]  # the reference path calls no compiled op
    torch.testing.assert_close(fused, reference)


def test_compiled_temporal_shift_gives_the_same_model():
    torch.manual_seed(0)
    model = tiny(num_joints=6, shift_grad="exact")
    x = torch.randn(2, 3, 10, 6, 2)
    results = {}
    for fused in (False, True):
        model.zero_grad()
        for module in model.modules():
            if isinstance(module, TemporalShift):
                module.ops = "fused" if fused else "reference"
        logits, features = model(x)
        (logits.square().sum() + features.mean()).backward()
        results[fused] = (logits.detach(), model.l2.tcn1.shift_out.ypos.grad.clone(),
                          model.l1.gcn1.Linear_weight.grad.clone())
    for reference, fused in zip(results[False], results[True], strict=True):
        torch.testing.assert_close(fused, reference, rtol=1e-4, atol=1e-5)
