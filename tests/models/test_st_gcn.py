"""ST-GCN and GraphConv: shapes for the real layouts, user layouts, edge importance, op switch."""
import pytest
import torch

import skdcore.nn.graph_conv as graph_conv_module
from skdcore.graph import partition_matrices
from skdcore.layouts import make_layout
from skdcore.models import STGCN, GraphConv, build_model, use_ops
from skdcore.reference.graph_conv import graph_conv_reference

LAYOUT_BY_JOINTS = {25: "ntu25", 18: "openpose18", 17: "coco17", 13: "penn13"}


def tiny(**kwargs):
    options = dict(num_class=5, channels=(8, 16, 16), strides=(1, 2, 1))
    options.update(kwargs)
    return STGCN(**options)


@pytest.mark.parametrize("M", [1, 2])
@pytest.mark.parametrize("V", [25, 18, 17, 13])
def test_forward_backward_shapes(V, M):
    torch.manual_seed(V + M)
    model = tiny(layout=LAYOUT_BY_JOINTS[V])
    x = torch.randn(2, 3, 10, V, M, requires_grad=True)
    logits, features = model(x)
    assert logits.shape == (2, 5) and features.shape == (2 * M, 16, 5, V)
    logits.sum().backward()
    assert x.grad.shape == x.shape and torch.isfinite(x.grad).all()


def test_default_is_ten_blocks_64_128_256():
    model = build_model("st_gcn", num_class=60)
    assert [b.gcn.out_channels for b in model.blocks] == [64] * 4 + [128] * 3 + [256] * 3
    assert [b.tcn[2].stride[0] for b in model.blocks] == [1, 1, 1, 1, 2, 1, 1, 2, 1, 1]
    assert model.blocks[0].residual is None and isinstance(model.blocks[4].residual, torch.nn.Sequential)
    logits, features = model(torch.randn(1, 3, 8, 25, 2))
    assert logits.shape == (1, 60) and features.shape == (2, 256, 2, 25)


def test_user_defined_layout():
    layout = make_layout("stick", ["a", "b", "c", "d", "e"], [(0, 1), (1, 2), (2, 3), (1, 4)], center="b")
    model = tiny(layout=layout, in_channels=2)
    logits, features = model(torch.randn(3, 2, 6, 5, 1))
    assert logits.shape == (3, 5) and features.shape == (3, 16, 3, 5)
    torch.testing.assert_close(model.blocks[0].gcn.A, torch.from_numpy(partition_matrices(layout)))


def test_gradient_reaches_edge_importance():
    torch.manual_seed(0)
    model = tiny(layout="penn13")
    logits, features = model(torch.randn(2, 3, 8, 13, 2))
    (logits.square().sum() + features.mean()).backward()
    importances = model.edge_importances()
    assert len(importances) == 3
    for importance in importances:
        assert importance.grad is not None and importance.grad.abs().sum() > 0
    assert tiny(learnable_edges=False).edge_importances() == []


def test_graph_conv_module_equals_reference():
    torch.manual_seed(0)
    A = torch.from_numpy(partition_matrices("coco17"))
    layer = GraphConv(4, 6, A, learnable_edges=True)
    with torch.no_grad():
        layer.edge_importance.uniform_(0.5, 1.5)
    x = torch.randn(2, 4, 3, 17)
    expected = graph_conv_reference(x, layer.weight, A, layer.bias, layer.edge_importance)
    torch.testing.assert_close(layer(x), expected)
    with pytest.raises(ValueError, match=r"x must be \(N, 4, T, 17\)"):
        layer(torch.randn(2, 4, 3, 18))


def test_fused_by_default_and_reference_on_request(monkeypatch):
    calls = []

    def spy(x, weight, A, bias=None, edge_importance=None):
        calls.append(x.shape)
        return graph_conv_reference(x, weight, A, bias, edge_importance)

    monkeypatch.setattr(graph_conv_module, "graph_conv", spy)  # the compiled op, as the layer calls it
    torch.manual_seed(0)
    model = tiny(layout="coco17").eval()
    assert model.ops == "fused" and STGCN.compiled_ops == ("graph_conv",)
    x = torch.randn(1, 3, 6, 17, 1)
    with torch.no_grad():
        fused = model(x)[0]
        assert len(calls) == 3  # every block's graph conv, with no extra call
        use_ops(model, "reference")
        reference = model(x)[0]
    assert len(calls) == 3 and all(block.gcn.ops == "reference" for block in model.blocks)
    torch.testing.assert_close(fused, reference)
    # A model built with ops="reference" never calls the compiled op.
    pinned = tiny(layout="coco17", ops="reference")
    with torch.no_grad():
        pinned(x)
    assert len(calls) == 3


def test_weights_load_strictly_between_fused_and_reference():
    torch.manual_seed(0)
    fused = tiny(layout="penn13").eval()
    reference = tiny(layout="penn13", ops="reference").eval()
    reference.load_state_dict(fused.state_dict(), strict=True)
    fused.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 8, 13, 2)
    with torch.no_grad():
        torch.testing.assert_close(fused(x)[0], reference(x)[0], rtol=1e-4, atol=1e-5)


def test_unknown_ops_says_what_is_valid():
    with pytest.raises(ValueError, match=r"STGCN: ops must be one of \['fused', 'reference'\], got 'fast'"):
        tiny(layout="penn13", ops="fast")
    with pytest.raises(ValueError, match="use_ops: ops must be one of"):
        use_ops(tiny(layout="penn13"), "compiled")


def test_arguments_from_data_shape_and_layout():
    args = STGCN.arguments_from_data((10, 3, 50, 17, 2), "coco17")
    assert args == {"in_channels": 3, "num_person": 2, "layout": "coco17"}
    assert STGCN.arguments_from_data((10, 2, 50, 25, 1), None)["layout"] == "ntu25"
    model = build_model("st_gcn", num_class=4, channels=(8,), strides=(1,), **args)
    assert model.num_joints == 17 and model.in_channels == 3
