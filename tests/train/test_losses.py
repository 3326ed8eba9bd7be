import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from skdcore.distill import Distiller
from skdcore.distill.losses import (
    LOSS_NAMES,
    LOSS_WEIGHTS,
    feature_mse,
    graph_matching_loss_for,
    kl_distillation,
    skd_losses,
)
from skdcore.reference.graph_matching import graph_matching_loss_reference
from skdcore.train.ops_select import OpsSelection, select_ops


def _reference_graph_matching():
    return graph_matching_loss_for("reference")


def test_kl_is_the_reference_formula_and_hand_value():
    s = torch.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    t = torch.tensor([[0.5, 1.0, 2.0], [1.0, 1.0, 1.0]])
    expected = F.kl_div(F.log_softmax(s, 1), F.softmax(t, 1), reduction="batchmean")
    torch.testing.assert_close(kl_distillation(s, t), expected)
    # by hand: mean over the batch of sum_j p_t log(p_t / p_s)
    p_t, p_s = F.softmax(t, 1), F.softmax(s, 1)
    hand = sum(float((p_t[i] * (p_t[i] / p_s[i]).log()).sum()) for i in range(2)) / 2
    assert math.isclose(float(kl_distillation(s, t)), hand, rel_tol=1e-5)
    torch.testing.assert_close(kl_distillation(s, t, temperature=1.0), expected)
    t4 = kl_distillation(s, t, temperature=4.0)
    expected_t4 = 16 * F.kl_div(F.log_softmax(s / 4, 1), F.softmax(t / 4, 1), reduction="batchmean")
    torch.testing.assert_close(t4, expected_t4)


def test_kl_gives_no_teacher_gradient():
    s, t = torch.randn(4, 5, requires_grad=True), torch.randn(4, 5, requires_grad=True)
    kl_distillation(s, t).backward()
    assert t.grad is None and s.grad is not None


def test_feature_mse_and_shape_error():
    a, b = torch.randn(2, 4, 3, 5), torch.randn(2, 4, 3, 5)
    torch.testing.assert_close(feature_mse(a, b), ((a - b) ** 2).mean())
    with pytest.raises(ValueError, match="adaption_channels"):
        feature_mse(a, torch.randn(2, 8, 3, 5))


def test_skd_losses_weights_and_skipping():
    torch.manual_seed(0)
    s_logits, t_logits = torch.randn(4, 6), torch.randn(4, 6)
    s_feat, t_feat = torch.randn(8, 5, 3, 4), torch.randn(8, 5, 3, 4)
    labels = torch.tensor([0, 1, 2, 3])
    gm = _reference_graph_matching()
    weights = {"ce": 1, "kl": 2.0, "mse": 0, "graph_matching": 1}
    losses = skd_losses(s_logits, s_feat, t_logits, t_feat, labels, weights, gm)
    assert sorted(losses) == ["ce", "graph_matching", "kl"]
    torch.testing.assert_close(losses["kl"], 2 * kl_distillation(s_logits, t_logits))
    torch.testing.assert_close(losses["ce"], F.cross_entropy(s_logits, labels))
    torch.testing.assert_close(losses["graph_matching"], gm(s_feat, t_feat))


def test_graph_matching_reference_on_hand_case():
    # Two nodes per sample: both distance matrices are [[0, d], [d, 0]] -> normalised to
    # [[0, 1], [1, 0]]: loss 0.
    s = torch.tensor([[[[0.0, 3.0]]]])  # (N=1, C=1, T=1, V=2)
    t = torch.tensor([[[[1.0, 2.0]]]])
    assert float(_reference_graph_matching()(s, t)) == pytest.approx(0.0, abs=1e-6)
    # Three nodes on a line at 0, 1, 3 (student) vs 0, 1, 2 (teacher).
    s = torch.tensor([[[[0.0, 1.0, 3.0]]]])
    t = torch.tensor([[[[0.0, 1.0, 2.0]]]])
    ds = torch.tensor([[0, 1, 3], [1, 0, 2], [3, 2, 0.0]]) / 2.0  # mean of positives (1+3+2)/3 = 2
    dt = torch.tensor([[0, 1, 2], [1, 0, 1], [2, 1, 0.0]]) / (4 / 3)
    expected = F.smooth_l1_loss(ds, dt)
    torch.testing.assert_close(_reference_graph_matching()(s, t), expected, rtol=1e-4, atol=1e-5)


def test_select_ops_reference_uses_references():
    selection = select_ops("reference", "shift_gcn")
    assert selection.revision == "reference"
    assert all(v.startswith("reference") for v in selection.used.values())
    with pytest.raises(ValueError, match="fused' or 'reference"):
        select_ops("fast", "shift_gcn")
    fused = select_ops("fused", "st_gcn")
    assert set(fused.used) == {"graph_conv", "graph_matching_loss", "gradient_revision"}


def test_the_ops_selection_holds_only_what_a_run_reads():
    # the graph matching loss a run uses is the Distiller's (its ops=), not a copy in the selection
    assert [f.name for f in dataclasses.fields(OpsSelection)] == ["requested", "revision", "used"]
    teacher, student = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    assert Distiller(teacher, student, ops="reference").graph_matching is graph_matching_loss_reference


def test_one_table_of_losses_and_default_weights():
    from skdcore.train.config import LossConfig

    assert LOSS_NAMES == ("ce", "kl", "mse", "graph_matching") and set(LOSS_WEIGHTS.values()) == {1.0}
    assert {name: getattr(LossConfig(), name) for name in LOSS_NAMES} == LOSS_WEIGHTS
    torch.manual_seed(0)
    s_logits, t_logits, labels = torch.randn(4, 6), torch.randn(4, 6), torch.tensor([0, 1, 2, 3])
    s_feat, t_feat = torch.randn(8, 5, 3, 4), torch.randn(8, 5, 3, 4)
    default = skd_losses(s_logits, s_feat, t_logits, t_feat, labels, {}, _reference_graph_matching())
    assert list(default) == list(LOSS_NAMES)
    torch.testing.assert_close(default["mse"], feature_mse(s_feat, t_feat))
