"""Both model families trace as one graph under torch.compile, on both sides of the op switch."""
import pytest
import torch

from skdcore.models import build_model


@pytest.mark.slow  # dynamo's first trace costs ~10-20 s on the shared 2-core machine
@pytest.mark.parametrize("name,fused", [("shift_gcn", False), ("shift_gcn", True), ("st_gcn", False)])
def test_fullgraph_compile_matches_eager(name, fused):
    torch._dynamo.reset()
    torch.manual_seed(0)
    joints = {"shift_gcn": {"num_joints": 5}, "st_gcn": {"layout": "penn13"}}[name]
    ops = "fused" if fused else "reference"
    model = build_model(name, num_class=4, channels=(8, 16), strides=(1, 2), ops=ops, **joints).eval()
    V = 5 if name == "shift_gcn" else 13
    x = torch.randn(2, 3, 8, V, 2)
    with torch.no_grad():
        eager = model(x)
        compiled = torch.compile(model, fullgraph=True, backend="aot_eager")(x)
    torch.testing.assert_close(compiled[0], eager[0])
    torch.testing.assert_close(compiled[1], eager[1])
