"""docs/python-api.md's "SKD for your own model" loop, run as written, with a user's model defined here."""
import re
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "python-api.md"
HEADING = "## SKD for your own model, in your own training loop"


def readme_loop() -> str:
    text = PAGE.read_text()
    section = text[text.index(HEADING):]
    return re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)


class MyGCN(nn.Module):
    """A user's model: embeds each joint, mixes joints with a learnable graph, pools; logits only."""

    def __init__(self, width, joints=25, classes=4):
        super().__init__()
        self.embed = nn.Linear(3, width)
        self.graph = nn.Parameter(torch.eye(joints) + 0.05 * torch.randn(joints, joints))
        self.body = nn.ReLU()
        self.head = nn.Linear(width, classes)

    def forward(self, x):  # (N, 3, T, V, M)
        h = torch.einsum("ntvmc,vw->nctwm", self.embed(x.permute(0, 2, 3, 4, 1)), self.graph)
        return self.head(self.body(h).mean((2, 3, 4)))


def _clips(generator, n=16):
    labels = torch.randint(0, 4, (n,), generator=generator)
    hq = torch.randn(n, 3, 8, 25, 2, generator=generator) * 0.5
    hq[:, 0] += labels[:, None, None, None].float()  # the class shows in the x coordinate
    lq = hq * (torch.rand(hq.shape, generator=generator) > 0.3)  # occluded joints
    return hq, lq, labels


def test_readme_loop_distils_a_model_defined_here(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    teacher = MyGCN(64)
    optimizer = torch.optim.SGD(teacher.parameters(), lr=0.1)
    batches = [_clips(g) for _ in range(4)]
    for _ in range(20):  # a teacher that knows the classes on HQ
        for hq, _, labels in batches:
            optimizer.zero_grad()
            nn.functional.cross_entropy(teacher(hq), labels).backward()
            optimizer.step()
    torch.save(teacher.state_dict(), "teacher.pt")

    namespace = {"MyGCN": MyGCN, "loader": batches}
    exec(compile(readme_loop(), str(PAGE), "exec"), namespace)

    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 3
    ce = [float(re.search(r"'ce': ([-+0-9.e]+)", line).group(1)) for line in printed]
    assert ce[-1] < ce[0], printed
    assert "'cos_graph_matching'" in printed[-1] and "'graph_matching'" in printed[-1]
    student = MyGCN(32)
    student.load_state_dict(torch.load("student.pt", weights_only=True))
    for name, value in namespace["student"].state_dict().items():
        torch.testing.assert_close(student.state_dict()[name], value)
