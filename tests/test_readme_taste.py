"""README's "A taste": both Python blocks run as written, in one namespace, and give what they say."""
import re
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def taste_blocks() -> list:
    text = (ROOT / "README.md").read_text()
    section = re.search(r"^## A taste\n(.*?)(?=^## |\Z)", text, re.S | re.M).group(1)
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_taste_runs_as_written(one_torch_thread):
    blocks = taste_blocks()
    assert len(blocks) == 2
    namespace = {}
    torch.manual_seed(0)
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    x, weight, A, y = (namespace[name] for name in ("x", "weight", "A", "y"))
    assert A.shape == (3, 25, 25) and y.shape == (8, 128, 50, 25)
    # the op against its definition, y[n, o, t, w] = sum_k sum_c sum_v W[k, o, c] x[n, c, t, v] A[k, v, w]
    expected = torch.einsum("koc,nctv,kvw->notw", weight.detach(), x.detach(), A)
    torch.testing.assert_close(y.detach(), expected, rtol=1e-4, atol=1e-4)
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0

    exec(compile(blocks[1], "README.md", "exec"), namespace)
    out, student, teacher = namespace["out"], namespace["student"], namespace["teacher"]
    assert set(out.loss_values()) == {"ce", "kl", "mse", "graph_matching"}
    assert all(p.grad is not None for p in student.parameters() if p.requires_grad)
    assert all(p.grad is None for p in teacher.parameters())  # the teacher stays frozen
