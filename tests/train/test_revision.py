"""RevisedBackward (fast / reference scheme) vs the 4-backward reference; DDP equivalence (gloo)."""
import os
import socket

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import skdcore  # noqa: F401
from skdcore.distill.revision import shard_owners
from skdcore.train import RevisedBackward, reference_multi_loss_backward


class TinyStudent(nn.Module):
    """Trunk (conv + BN + conv) -> features; heads: classifier (task, KL) and adaption (MSE, structure)."""

    def __init__(self, channels=6, classes=5, batch_norm=True):
        super().__init__()
        self.trunk = nn.Sequential(
            nn.Conv1d(3, channels, 3, padding=1), nn.BatchNorm1d(channels) if batch_norm else nn.Identity(),
            nn.ReLU(), nn.Conv1d(channels, channels, 3, padding=1), nn.Tanh())
        self.classifier = nn.Linear(channels, classes)
        self.adaption = nn.Conv1d(channels, channels, 1)
        self.unused = nn.Linear(2, 2)  # reached by no loss

    def forward(self, x):
        features = self.trunk(x)
        return self.classifier(features.mean(-1)), features


def skd_losses(model, x, labels, teacher_logits, teacher_features):
    logits, features = model(x)
    adapted = model.adaption(features)
    task = F.cross_entropy(logits, labels)
    kl = F.kl_div(F.log_softmax(logits, -1), F.softmax(teacher_logits, -1), reduction="batchmean")
    mse = F.mse_loss(adapted, teacher_features)
    # a small structural term: distances between time steps, as graph matching does between nodes
    structure = F.smooth_l1_loss(torch.cdist(adapted.transpose(1, 2), adapted.transpose(1, 2)),
                                 torch.cdist(teacher_features.transpose(1, 2),
                                             teacher_features.transpose(1, 2)))
    return task, [kl, mse, structure], features


def make_batch(n=8, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 10, generator=g, dtype=dtype)
    labels = torch.randint(0, 5, (n,), generator=g)
    teacher_logits = torch.randn(n, 5, generator=g, dtype=dtype)
    return x, labels, teacher_logits, torch.randn(n, 6, 10, generator=g, dtype=dtype)


def make_model(seed=0, batch_norm=True):
    torch.manual_seed(seed)
    return TinyStudent(batch_norm=batch_norm).double()


def grads_of(model):
    return {name: (p.grad.clone() if p.grad is not None else None) for name, p in model.named_parameters()}


def assert_same_grads(a, b, rtol=1e-9, atol=1e-11):
    for name in a:
        if a[name] is None or b[name] is None:
            for g in (a[name], b[name]):
                assert g is None or not g.any(), name
            continue
        torch.testing.assert_close(a[name], b[name], rtol=rtol, atol=atol, msg=name)


def reference_grads(batch, mode="skd", seed=0, batch_norm=True):
    model = make_model(batch_norm=batch_norm)
    task, distill, _ = skd_losses(model, *batch)
    stats = reference_multi_loss_backward(model.parameters(), task, distill, mode=mode, seed=seed)
    return grads_of(model), stats


@pytest.mark.parametrize("mode", ["skd", "pcgrad"])
@pytest.mark.parametrize("scheme", ["fast", "reference"])
def test_matches_reference(scheme, mode):
    batch = make_batch()
    expected, expected_stats = reference_grads(batch, mode)
    model = make_model()
    backward = RevisedBackward(model.parameters(), scheme=scheme, mode=mode)
    task, distill, features = skd_losses(model, *batch)
    result = backward.backward(task, distill)
    assert_same_grads(grads_of(model), expected)
    torch.testing.assert_close(result.stats, expected_stats)
    assert model.adaption.weight.grad is not None and model.adaption.weight.grad.any()  # no task grad, kept
    if scheme == "fast":
        assert model.unused.weight.grad is None
    else:  # the reference writes a zero gradient for every parameter, as the SKD code does
        assert not model.unused.weight.grad.any()


def test_replaces_stale_gradients_and_steps_the_seed():
    batch = make_batch()
    model = make_model()
    for p in model.parameters():
        p.grad = torch.full_like(p, 7.0)
    backward = RevisedBackward(model.parameters())
    task, distill, features = skd_losses(model, *batch)
    backward.backward(task, distill)
    expected, _ = reference_grads(batch)
    assert_same_grads(grads_of(model), expected)  # unused param: zeroed, not stale
    assert backward.step == 1


def test_trainer_form_reports_cosines_and_projections_by_name():
    batch = make_batch()
    _, expected_stats = reference_grads(batch)
    model = make_model()
    task, (kl, mse, structure), _ = skd_losses(model, *batch)
    losses = {"ce": task, "kl": kl, "mse": mse, "graph_matching": structure}
    info = RevisedBackward(model.parameters())(losses)
    assert sorted(info) == sorted(f"{kind}_{name}" for kind in ("cos", "projected")
                                  for name in ("kl", "mse", "graph_matching"))
    for k, name in enumerate(("kl", "mse", "graph_matching")):
        assert info[f"cos_{name}"] == pytest.approx(float(expected_stats[0, k]))
        assert info[f"projected_{name}"] == float(expected_stats[1, k] > 0)


def test_errors():
    model = make_model()
    with pytest.raises(ValueError, match="scheme must be one of"):
        RevisedBackward(model.parameters(), scheme="batched")
    backward = RevisedBackward(model.parameters())
    task, distill, _ = skd_losses(model, *make_batch())
    with pytest.raises(ValueError, match=r"distill_losses\[1\] must be a scalar tensor"):
        backward.backward(task, [distill[0], torch.ones(2, requires_grad=True)])
    with pytest.raises(ValueError, match="task_loss does not require grad"):
        backward.backward(task.detach(), distill)


def test_shard_owners_balance():
    owners = shard_owners([100, 10, 10, 90, 5, 0], 2)
    load = [sum(n for n, o in zip([100, 10, 10, 90, 5, 0], owners) if o == r) for r in range(2)]
    assert abs(load[0] - load[1]) <= 15
    assert shard_owners([3, 3], 1) == [0, 0]


# --- DDP equivalence: 2 gloo processes on localhost ---------------------------------------------
def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank, world, port, mode, result_dir):
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        torch.set_num_threads(1)
        x, labels, teacher_logits, teacher_features = make_batch()
        shard = slice(rank * 4, (rank + 1) * 4)  # each rank sees half of the batch
        model = make_model(batch_norm=False)
        backward = RevisedBackward(model.parameters(), mode=mode)
        task, distill, features = skd_losses(model, x[shard], labels[shard], teacher_logits[shard],
                                             teacher_features[shard])
        result = backward.backward(task, distill)
        torch.save({"grads": grads_of(model), "stats": result.stats},
                   os.path.join(result_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow  # ~10 s each: two processes import torch and set up gloo
@pytest.mark.parametrize("mode", ["skd", "pcgrad"])
def test_ddp_equals_single_process_on_concatenated_batch(tmp_path, mode):
    import torch.multiprocessing as mp

    mp.spawn(_ddp_worker, args=(2, _free_port(), mode, str(tmp_path)), nprocs=2, join=True)
    expected, expected_stats = reference_grads(make_batch(), mode, batch_norm=False)
    for rank in range(2):
        got = torch.load(tmp_path / f"rank{rank}.pt")
        assert_same_grads(got["grads"], expected)
        torch.testing.assert_close(got["stats"], expected_stats)
