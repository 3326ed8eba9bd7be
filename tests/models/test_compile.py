"""Both model families trace as one graph under torch.compile, on both sides of the op switch."""
import pytest
import torch

from skdcore.models import build_model, compiled_op, fused_ops


@pytest.mark.slow  # dynamo's first trace costs ~10-20 s on the shared 2-core machine
@pytest.mark.parametrize("name,fused", [("shift_gcn", False), ("shift_gcn", True), ("st_gcn", False)])
def test_fullgraph_compile_matches_eager(name, fused):
    if fused and compiled_op("temporal_shift") is None:
        pytest.skip("skdcore was built without the temporal_shift op")
    torch._dynamo.reset()
    torch.manual_seed(0)
    joints = {"shift_gcn": {"num_joints": 5}, "st_gcn": {"layout": "penn13"}}[name]
    model = build_model(name, num_class=4, channels=(8, 16), strides=(1, 2), **joints).eval()
    V = 5 if name == "shift_gcn" else 13
    x = torch.randn(2, 3, 8, V, 2)
    with fused_ops(fused), torch.no_grad():
        eager = model(x)
        compiled = torch.compile(model, fullgraph=True, backend="aot_eager")(x)
    torch.testing.assert_close(compiled[0], eager[0])
    torch.testing.assert_close(compiled[1], eager[1])
