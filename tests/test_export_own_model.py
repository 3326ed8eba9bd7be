"""skdcore.export.to_onnx: a user's own nn.Module that calls skdcore ops (skdcore.nn.GraphConv, the
temporal_shift op) -> ONNX with standard ops, checked in onnxruntime against the eager model."""
import onnx
import onnxruntime
import pytest
import torch
from torch import nn

from skdcore import export
from skdcore.nn import GraphConv
from skdcore.ops import temporal_shift


class OwnNet(nn.Module):
    """A user's model on a 10-joint skeleton: returns (logits, features), as the Distiller reads them."""

    def __init__(self, joints=10, classes=5):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        A = torch.rand(3, joints, joints, generator=g)
        self.gc1 = GraphConv(3, 8, A / A.sum(1, keepdim=True), learnable_edges=True)
        self.tconv = nn.Conv2d(8, 8, (3, 1), padding=(1, 0))
        self.shift = nn.Parameter(2 * torch.randn(8, generator=g))
        self.gc2 = GraphConv(8, 16, A / A.sum(1, keepdim=True))
        self.head = nn.Linear(16, classes)

    def forward(self, x):  # (N, 3, T, V)
        h = torch.relu(self.gc1(x))
        h = temporal_shift(self.tconv(h), self.shift)
        features = torch.relu(self.gc2(h))
        return self.head(features.mean((2, 3))), features


def test_own_model_to_onnx_matches_eager_in_onnxruntime(tmp_path):
    torch.manual_seed(0)
    model, x = OwnNet(), torch.randn(2, 3, 12, 10)
    ops = {str(n.target) for n in torch.export.export(model.eval(), (x,)).graph.nodes}
    assert {"skdcore.graph_conv.default", "skdcore.temporal_shift.default"} <= ops  # the fused ops ran
    batch = torch.export.Dim("batch", min=1, max=64)
    result = export.to_onnx(model, (x,), tmp_path / "own.onnx", dynamic_shapes={"x": {0: batch}},
                            input_names=["clips"], output_names=["logits", "features"])
    assert result.max_abs_error is not None and result.max_abs_error <= export.MAX_ERROR * result.scale
    graph = onnx.load(str(tmp_path / "own.onnx")).graph
    assert {node.domain for node in graph.node} <= {"", "ai.onnx"}  # standard ops only
    session = onnxruntime.InferenceSession(str(tmp_path / "own.onnx"), providers=["CPUExecutionProvider"])
    other = torch.randn(5, 3, 12, 10)  # another batch size than traced
    logits, features = session.run(None, {"clips": other.numpy()})
    with torch.no_grad():
        expected_logits, expected_features = model(other)
    torch.testing.assert_close(torch.from_numpy(logits), expected_logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(torch.from_numpy(features), expected_features, rtol=1e-4, atol=1e-5)
    assert [p.name for p in tmp_path.iterdir()] == ["own.onnx"]  # no temporary file left


def test_a_wrong_lowering_is_caught_and_nothing_is_written(tmp_path, monkeypatch):
    from skdcore.reference.graph_conv import graph_conv_reference

    wrong = {torch.ops.skdcore.graph_conv.default: lambda *a: 1.01 * graph_conv_reference(*a)}
    from skdcore import onnx_export

    real = onnx_export.reference_decompositions
    monkeypatch.setattr(onnx_export, "reference_decompositions", lambda: {**real(), **wrong})
    with pytest.raises(export.ExportError, match="onnxruntime's outputs differ from the eager model's"):
        export.to_onnx(OwnNet(), torch.randn(2, 3, 12, 10), tmp_path / "own.onnx")
    assert list(tmp_path.iterdir()) == []


def test_export_model_names_to_onnx_for_an_own_model(tmp_path):
    with pytest.raises(TypeError, match=r"OwnNet is not one \(it lacks in_channels.*to_onnx\(model"):
        export.export_model(OwnNet(), {}, "onnx", tmp_path / "x.onnx")


def test_to_onnx_input_errors(tmp_path):
    with pytest.raises(TypeError, match="example_inputs must be a tensor or a tuple"):
        export.to_onnx(OwnNet(), [[1, 2]], tmp_path / "x.onnx")
    with pytest.raises(ValueError, match="is a folder"):
        export.to_onnx(OwnNet(), torch.randn(1, 3, 4, 10), tmp_path)
