"""A model cast to bfloat16 on the CPU (``model.bfloat16()``) runs: the skdcore layers compute in
float32 (the CPU kernels' dtypes) and round back, as torch.autocast("cpu") does for these ops."""
import pytest
import torch

from skdcore.models import build_model
from skdcore.nn import GraphConv
from skdcore.ops import graph_conv


def test_graph_conv_layer_in_bfloat16_is_the_float32_kernel_rounded():
    torch.manual_seed(0)
    layer = GraphConv(4, 6, torch.rand(3, 5, 5), learnable_edges=True).bfloat16()
    x = torch.randn(2, 4, 7, 5).bfloat16().requires_grad_()
    y = layer(x)
    assert y.dtype == torch.bfloat16
    expected = graph_conv(x.float(), layer.weight.float(), layer.A.float(), layer.bias.float(),
                          layer.edge_importance.float()).bfloat16()
    torch.testing.assert_close(y, expected, rtol=0, atol=0)
    y.float().square().sum().backward()
    assert x.grad.dtype == torch.bfloat16 and layer.weight.grad.dtype == torch.bfloat16
    assert torch.isfinite(layer.weight.grad.float()).all() and layer.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ["st_gcn", "shift_gcn", "ctr_gcn"])
def test_backbone_cast_to_bfloat16_on_the_cpu(name):
    torch.manual_seed(0)
    model = build_model(name, num_class=5, channels=[8, 16], strides=[1, 2]).eval()
    x = torch.randn(2, 3, 16, 25, 2)
    with torch.no_grad():
        expected = model(x)[0]
        logits = model.bfloat16()(x.bfloat16())[0]
    assert logits.dtype == torch.bfloat16
    scale = expected.abs().max()
    assert (logits.float() - expected).abs().max() <= 0.05 * max(1.0, float(scale))  # bf16: 8-bit mantissa


def test_the_raw_op_names_the_fix_for_16_bit_cpu_tensors():
    x = torch.randn(1, 2, 3, 4).bfloat16()
    with pytest.raises(TypeError, match=r"must be float32 or float64 .*convert it with \.float\(\)"):
        graph_conv(x, torch.randn(1, 2, 2).bfloat16(), torch.rand(1, 4, 4).bfloat16())
