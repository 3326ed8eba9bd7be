"""CTR-GCN: one block against a pure-PyTorch re-implementation of the paper's block (the authors' code's
structure and index convention, written here), weights copied; the model on any layout, persons, frames."""
import pytest
import torch
from torch import nn

from skdcore.graph import partition_matrices
from skdcore.models import CTRGCN, CTRGCNBlock, build_model


# --- the paper's block, as the authors' code writes it: A[u, v] sends joint v to joint u ----------------
class PaperCTRGC(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        relation = 8 if in_channels in (3, 9) else in_channels // 8
        self.conv1 = nn.Conv2d(in_channels, relation, 1)
        self.conv2 = nn.Conv2d(in_channels, relation, 1)
        self.conv3 = nn.Conv2d(in_channels, out_channels, 1)
        self.conv4 = nn.Conv2d(relation, out_channels, 1)

    def forward(self, x, A, alpha):
        x1, x2, x3 = self.conv1(x).mean(-2), self.conv2(x).mean(-2), self.conv3(x)
        x1 = torch.tanh(x1.unsqueeze(-1) - x2.unsqueeze(-2))
        x1 = self.conv4(x1) * alpha + A[None, None]
        return torch.einsum("ncuv,nctv->nctu", x1, x3)


class PaperUnitGCN(nn.Module):
    def __init__(self, in_channels, out_channels, A):
        super().__init__()
        self.convs = nn.ModuleList(PaperCTRGC(in_channels, out_channels) for _ in range(A.shape[0]))
        self.PA = nn.Parameter(A.clone())
        self.alpha = nn.Parameter(torch.zeros(1))
        self.bn = nn.BatchNorm2d(out_channels)
        self.down = (nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels))
                     if in_channels != out_channels else None)

    def forward(self, x):
        y = sum(conv(x, self.PA[i], self.alpha) for i, conv in enumerate(self.convs))
        y = self.bn(y)
        y = y + (x if self.down is None else self.down(x))
        return torch.relu(y)


class PaperTemporalConv(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, dilation=1):
        super().__init__()
        pad = (kernel_size + (kernel_size - 1) * (dilation - 1) - 1) // 2
        self.conv = nn.Conv2d(in_channels, out_channels, (kernel_size, 1), (stride, 1), (pad, 0),
                              (dilation, 1))
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        return self.bn(self.conv(x))


class PaperMultiScaleTCN(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size=5, stride=1, dilations=(1, 2)):
        super().__init__()
        c = out_channels // (len(dilations) + 2)
        self.branches = nn.ModuleList(
            nn.Sequential(nn.Conv2d(in_channels, c, 1), nn.BatchNorm2d(c), nn.ReLU(),
                          PaperTemporalConv(c, c, kernel_size, stride, d)) for d in dilations)
        self.branches.append(nn.Sequential(nn.Conv2d(in_channels, c, 1), nn.BatchNorm2d(c), nn.ReLU(),
                                           nn.MaxPool2d((3, 1), (stride, 1), (1, 0)), nn.BatchNorm2d(c)))
        self.branches.append(nn.Sequential(nn.Conv2d(in_channels, c, 1, stride=(stride, 1)),
                                           nn.BatchNorm2d(c)))

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], 1)


class PaperBlock(nn.Module):
    def __init__(self, in_channels, out_channels, A, stride=1, residual=True):
        super().__init__()
        self.gcn1 = PaperUnitGCN(in_channels, out_channels, A)
        self.tcn1 = PaperMultiScaleTCN(out_channels, out_channels, stride=stride)
        if not residual:
            self.residual = lambda x: 0
        elif in_channels == out_channels and stride == 1:
            self.residual = lambda x: x
        else:
            self.residual = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=(stride, 1)),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x):
        return torch.relu(self.tcn1(self.gcn1(x)) + self.residual(x))


def _randomise(module, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in list(module.named_parameters()) + list(module.named_buffers()):
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var"):
                values = torch.rand(t.shape, generator=g, dtype=t.dtype) + 0.5
            else:
                values = torch.randn(t.shape, generator=g, dtype=t.dtype) * 0.5
            t.copy_(values)


def _copy_weights(ours, paper):
    """Same registration order; the topology is transposed (skdcore's A[v, w] is the paper's A[w, v])."""
    src, dst = ours.state_dict(), paper.state_dict()
    assert len(src) == len(dst)
    with torch.no_grad():
        for (name, value), (paper_name, target) in zip(src.items(), dst.items()):
            if name.endswith("gcn.A"):
                assert paper_name.endswith("PA")
                value = value.transpose(-1, -2)
            assert value.shape == target.shape, (name, paper_name)
            target.copy_(value)


@pytest.mark.parametrize("in_channels, out_channels, stride, residual",
                         [(3, 8, 1, False), (8, 8, 1, True), (8, 16, 2, True), (16, 16, 1, True)])
@pytest.mark.parametrize("training", [True, False])
def test_block_matches_the_papers_block(in_channels, out_channels, stride, residual, training):
    A = torch.from_numpy(partition_matrices("ntu25"))
    assert not torch.equal(A[1], A[1].T)  # inward edges: a transposition mistake would show
    torch.manual_seed(0)
    ours = CTRGCNBlock(in_channels, out_channels, A, stride, residual).double()
    paper = PaperBlock(in_channels, out_channels, A, stride, residual).double()
    _randomise(ours, 1)  # NB: alpha != 0 and the gcn's BatchNorm weight != 1e-6, so the refinement counts
    _copy_weights(ours, paper)
    ours.train(training)
    paper.train(training)
    x = torch.randn(3, in_channels, 11, 25, dtype=torch.float64, requires_grad=True)
    y, y_paper = ours(x), paper(x)
    assert y.shape == (3, out_channels, (11 - 1) // stride + 1, 25)
    torch.testing.assert_close(y, y_paper)
    grad, = torch.autograd.grad(y.square().sum(), x)
    grad_paper, = torch.autograd.grad(y_paper.square().sum(), x)
    torch.testing.assert_close(grad, grad_paper)


def test_relation_is_not_symmetric_in_the_joints():
    """Swapping the roles of the two embeddings changes the output (so the test above checks the order)."""
    A = torch.from_numpy(partition_matrices("ntu25"))
    torch.manual_seed(0)
    ours = CTRGCNBlock(8, 8, A).double()
    _randomise(ours, 1)
    x = torch.randn(2, 8, 6, 25, dtype=torch.float64)
    y = ours(x)
    with torch.no_grad():
        for refinement in ours.gcn.refinements:
            q, k = refinement.query.weight.clone(), refinement.key.weight.clone()
            refinement.query.weight.copy_(k)
            refinement.key.weight.copy_(q)
    assert not torch.allclose(ours(x), y)


def test_model_defaults_and_any_layout_persons_frames():
    model = build_model("ctr_gcn", num_class=7)
    assert isinstance(model, CTRGCN) and model.channels == (64, 64, 64, 64, 128, 128, 128, 256, 256, 256)
    assert model.blocks[0].residual is None and model.feature_channels == 256
    small = build_model("ctr_gcn", num_class=5, layout="coco17", channels=(8, 16), strides=(1, 2),
                        adaption_channels=12)
    for persons, frames in ((1, 9), (3, 16)):
        logits, features = small(torch.randn(2, 3, frames, 17, persons))
        assert logits.shape == (2, 5) and features.shape == (2 * persons, 12, (frames + 1) // 2, 17)


def test_errors():
    with pytest.raises(ValueError, match="multiple of the 4 branches"):
        build_model("ctr_gcn", channels=(10,), strides=(1,))
    with pytest.raises(ValueError, match="one entry per block"):
        build_model("ctr_gcn", channels=(8, 16), strides=(1,))
