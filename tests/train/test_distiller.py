"""skdcore.distill.Distiller: the trainer's distill step, and SKD for users' own models.

The expected gradients come from the distill step as the trainer wrote it before the Distiller existed
(skd_losses + reference_multi_loss_backward, or a summed backward), written out here.
"""
import copy
import os
import socket
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F
from tiny_setup import tiny_config
from torch import nn

from skdcore.distill import Distiller, fold_persons
from skdcore.distill.losses import LOSS_NAMES, graph_matching_loss_for, skd_losses
from skdcore.reference.graph_matching import graph_matching_loss_reference
from skdcore.train import Trainer, config_from_dict, reference_multi_loss_backward


def _batch(trainer, n=8):
    items = trainer.train_set.__getitems__(list(range(n)))
    return tuple(torch.stack([i[k] for i in items]) for k in range(3))


def _original_distill_step(trainer, model, hq, lq, labels):
    """The trainer's distill step before the Distiller (commit f6cab12), on ``model``."""
    cfg = trainer.cfg
    model.train()
    with torch.no_grad():
        teacher_logits, teacher_features = trainer.teacher(hq)
    logits, features = model(lq)
    losses = skd_losses(logits, features, teacher_logits, teacher_features, labels,
                        {k: getattr(cfg.loss, k) for k in LOSS_NAMES}, graph_matching_loss_for(cfg.ops),
                        cfg.loss.temperature)
    if cfg.loss.gradient_revision:
        reference_multi_loss_backward(model.parameters(), losses["ce"],
                                      [v for k, v in losses.items() if k != "ce"])
    else:
        sum(losses.values()).backward()
    return {k: float(v.detach()) for k, v in losses.items()}


@pytest.mark.parametrize("revision", [True, False])
def test_trainer_step_gradients_equal_the_original_step(tiny_data, tiny_teacher, tmp_path, revision):
    cfg = config_from_dict(tiny_config(tiny_data, tmp_path, "distill", teacher_checkpoint=str(tiny_teacher),
                                       loss__gradient_revision=revision))
    trainer = Trainer(cfg)
    hq, lq, labels = _batch(trainer)
    model = copy.deepcopy(trainer.model)  # same weights and BatchNorm state
    expected_losses = _original_distill_step(trainer, model, hq, lq, labels)
    values = trainer.train_step(hq, lq, labels)
    for name, value in expected_losses.items():
        assert values[f"loss_{name}"] == pytest.approx(value, rel=1e-6)
    expected = dict(model.named_parameters())
    for name, p in trainer.model.named_parameters():
        torch.testing.assert_close(p.grad, expected[name].grad, rtol=1e-4, atol=1e-6, msg=name)
    assert any(k.startswith("cos_") for k in values) == revision


# --- a user's own model, defined here ---------------------------------------------------------------
class UserGCN(nn.Module):
    """Returns logits only; its "body" layer outputs a (N, C, T, V, M) map the distiller reads by hook."""

    def __init__(self, channels, classes=4, joints=5):
        super().__init__()
        self.embed = nn.Linear(3, channels)
        self.mix = nn.Parameter(torch.eye(joints) + 0.1 * torch.randn(joints, joints))
        self.body = nn.Tanh()
        self.head = nn.Linear(channels, classes)

    def forward(self, x):  # x (N, 3, T, V, M)
        h = self.embed(x.permute(0, 2, 3, 4, 1))  # (N, T, V, M, C)
        h = torch.einsum("ntvmc,vw->nctwm", h, self.mix)
        h = self.body(h)  # (N, C, T, V, M)
        return self.head(h.mean((2, 3, 4)))


def _user_models(dtype=torch.float64):
    torch.manual_seed(0)
    teacher, student = UserGCN(6).to(dtype), UserGCN(4).to(dtype)
    g = torch.Generator().manual_seed(1)
    hq = torch.randn(6, 3, 7, 5, 2, generator=g, dtype=dtype)
    lq = hq + 0.3 * torch.randn(hq.shape, generator=g, dtype=dtype)
    return teacher, student, hq, lq, torch.randint(0, 4, (6,), generator=g)


def _by_hand(teacher, student, adaption, hq, lq, labels):
    """SKD by hand: persons folded into the batch, the adaption conv, the four losses."""
    with torch.no_grad():
        t_logits = teacher(hq)
        t_features = teacher.body(torch.einsum("ntvmc,vw->nctwm", teacher.embed(hq.permute(0, 2, 3, 4, 1)),
                                               teacher.mix))
    logits = student(lq)
    features = student.body(torch.einsum("ntvmc,vw->nctwm", student.embed(lq.permute(0, 2, 3, 4, 1)),
                                         student.mix))
    fold = lambda f: f.permute(0, 4, 1, 2, 3).reshape(-1, *f.shape[1:4])  # noqa: E731
    s, t = adaption(fold(features)), fold(t_features)
    return [F.cross_entropy(logits, labels),
            F.kl_div(F.log_softmax(logits, 1), F.softmax(t_logits, 1), reduction="batchmean"),
            F.mse_loss(s, t), graph_matching_loss_reference(s, t)]


@pytest.mark.parametrize("revision, ops", [(True, "fused"), (True, "reference"), (False, "fused")])
def test_user_model_with_a_hooked_layer_matches_skd_by_hand(revision, ops):
    teacher, student, hq, lq, labels = _user_models()
    distiller = Distiller(teacher, student, adaption=(4, 6), teacher_layer="body", student_layer="body",
                          gradient_revision=revision, ops=ops).double()
    reference_student, reference_adaption = copy.deepcopy(student), copy.deepcopy(distiller.adaption)
    losses = _by_hand(teacher, reference_student, reference_adaption, hq, lq, labels)
    params = list(reference_student.parameters()) + list(reference_adaption.parameters())
    if revision:
        reference_multi_loss_backward(params, losses[0], losses[1:])
    else:
        sum(losses).backward()

    out = distiller(hq, lq, labels)
    assert list(out.losses) == ["ce", "kl", "mse", "graph_matching"]
    for got, expected in zip(out.losses.values(), losses):
        torch.testing.assert_close(got, expected.detach())
    info = distiller.backward(out)
    assert sorted(info) == (sorted(f"{kind}_{n}" for kind in ("cos", "projected")
                                   for n in ("kl", "mse", "graph_matching")) if revision else [])
    got = list(distiller.parameters())
    assert len(got) == len(params)
    for p, q in zip(got, params):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-9, atol=1e-12)
    assert not any(p.grad is not None for p in teacher.parameters())


def test_teacher_is_frozen_outside_the_parameters_and_moves_with_the_distiller():
    teacher, student, hq, lq, labels = _user_models(torch.float32)
    teacher.train()
    distiller = Distiller(teacher, student, adaption=(4, 6), teacher_layer="body", student_layer="body")
    assert {id(p) for p in distiller.parameters()} == {id(p) for p in student.parameters()} | {
        id(p) for p in distiller.adaption.parameters()}
    assert all(k.startswith(("student.", "adaption.")) for k in distiller.state_dict())
    distiller.double()
    assert teacher.head.weight.dtype == torch.float64
    distiller(hq.double(), lq.double(), labels)
    assert not teacher.training


def test_grad_scaler_scales_the_revised_gradient_and_the_step_is_unchanged():
    teacher, student, hq, lq, labels = _user_models(torch.float32)
    plain = Distiller(teacher, copy.deepcopy(student), adaption=(4, 6), teacher_layer="body",
                      student_layer="body")
    scaled = copy.deepcopy(plain)
    plain_info = plain.backward(plain(hq, lq, labels))
    scaler = torch.amp.GradScaler("cpu", init_scale=256.0)
    scaled_info = scaled.backward(scaled(hq, lq, labels), scaler)
    for p, q in zip(scaled.parameters(), plain.parameters()):
        torch.testing.assert_close(p.grad, 256.0 * q.grad, rtol=1e-5, atol=1e-7)
    assert scaled_info == pytest.approx(plain_info, rel=1e-5)
    for distiller, step in ((plain, lambda o: o.step()), (scaled, lambda o: scaler.step(o))):
        step(torch.optim.SGD(distiller.parameters(), lr=0.1))
    for p, q in zip(scaled.parameters(), plain.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-7)


def test_losses_are_float32_from_bfloat16_outputs_under_autocast():
    teacher, student, hq, lq, labels = _user_models(torch.float32)
    distiller = Distiller(teacher, student, adaption=(4, 6), teacher_layer="body", student_layer="body")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = distiller(hq, lq, labels)
    assert out.student.logits.dtype == torch.bfloat16
    assert all(loss.dtype == torch.float32 for loss in out.losses.values())
    expected = F.mse_loss(out.student.features.float(), out.teacher.features.float())
    torch.testing.assert_close(out.losses["mse"], expected)
    distiller.backward(out)
    assert all(p.grad.dtype == torch.float32 for p in distiller.parameters())


def test_fold_persons_is_sample_major():
    x = torch.arange(2 * 3 * 1 * 1 * 2.0).reshape(2, 3, 1, 1, 2)
    folded = fold_persons(x)
    assert folded.shape == (4, 3, 1, 1)
    torch.testing.assert_close(folded[1, :, 0, 0], x[0, :, 0, 0, 1])
    torch.testing.assert_close(folded[2, :, 0, 0], x[1, :, 0, 0, 0])


def test_errors_name_the_fix():
    teacher, student, hq, lq, labels = _user_models(torch.float32)
    with pytest.raises(ValueError, match="student has no layer 'bodyy'.*include"):
        Distiller(teacher, student, student_layer="bodyy")
    with pytest.raises(ValueError, match=r"teacher must return \(logits, features\).*teacher_layer"):
        Distiller(teacher, student, student_layer="body")(hq, lq, labels)
    with pytest.raises(ValueError, match=r"unknown loss weights \['kd'\]"):
        Distiller(teacher, student, weights={"kd": 1.0})
    with pytest.raises(ValueError, match=r"student's feature map must be \(N, C, T, V\).*student_layer"):
        Distiller(teacher, student, teacher_layer="body", student_layer="head")(hq, lq, labels)
    with pytest.raises(TypeError, match="adaption must be None"):
        Distiller(teacher, student, adaption=4)
    distiller = Distiller(teacher, student, teacher_layer="body", student_layer="body")
    with pytest.raises(ValueError, match=r"features \(12, 4, 7, 5\) and .* \(12, 6, 7, 5\) differ; pass "
                                         r"adaption=\(4, 6\) to Distiller"):
        distiller(hq, lq, labels)
    layers = dict(teacher_layer="body", student_layer="body")
    with pytest.raises(ValueError, match="after the adaption module; it must output the teacher's 6"):
        Distiller(teacher, student, adaption=(4, 5), **layers)(hq, lq, labels)
    out = Distiller(teacher, student, adaption=(4, 6), **layers)(hq, lq, labels)
    with pytest.raises(ValueError, match=r"unknown losses \['aux'\].*task_losses=.*distillation_losses="):
        distiller.backward({**out.losses, "aux": out.losses["ce"]})
    with pytest.raises(ValueError, match=r"the loss names \['kl'\] are given twice"):
        distiller.backward(out, distillation_losses={"kl": out.losses["kl"]})
    with pytest.raises(ValueError, match="micro_batches must be an int >= 1"):
        distiller.backward(out, micro_batches=0)


def test_first_forward_in_a_fresh_process_before_any_optimizer(tmp_path):
    """torch._functorch.config is not loaded by `import torch`: the distiller imports it itself."""
    script = tmp_path / "first_forward.py"
    script.write_text(textwrap.dedent("""
        import torch
        from torch import nn
        from skdcore.distill import Distiller

        class Net(nn.Module):
            def __init__(self, channels):
                super().__init__()
                self.embed, self.head = nn.Conv2d(3, channels, 1), nn.Linear(channels, 4)

            def forward(self, x):
                features = torch.tanh(self.embed(x))
                return self.head(features.mean((2, 3))), features

        distiller = Distiller(Net(6), Net(4), adaption=(4, 6))
        x = torch.randn(2, 3, 5, 7)
        with torch.no_grad():  # a validation pass first, as in a notebook
            out = distiller(x, x, torch.tensor([0, 1]))
        print(sorted(out.losses), float(out.loss) > 0)
    """))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("]")[1].strip() == "True"


def test_total_loss_is_the_sum_and_its_backward_is_the_plain_path():
    teacher, student, hq, lq, labels = _user_models()
    kwargs = dict(adaption=(4, 6), teacher_layer="body", student_layer="body", gradient_revision=False)
    plain = Distiller(teacher, student, **kwargs).double()
    by_loss = copy.deepcopy(plain)
    out = plain(hq, lq, labels)
    torch.testing.assert_close(out.loss, sum(out.losses.values()))
    assert out.loss.requires_grad
    out.loss.backward()
    by_loss.backward(by_loss(hq, lq, labels))
    for p, q in zip(plain.parameters(), by_loss.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-12, atol=1e-14)


def _grads(module):
    return [p.grad.clone() for p in module.parameters()]


@pytest.mark.parametrize("revision", [False, True])
def test_gradient_accumulation_over_micro_batches(revision):
    """A plain training loop with 3 micro-batches of 2 (Lightning's manual optimisation does the same calls).
    Without revision: the big batch's gradient. With revision: the sum of the micro-batches' revised
    gradients (each loss / 3), computed here by hand with the reference scheme."""
    teacher, student, hq, lq, labels = _user_models()
    kwargs = dict(adaption=(4, 6), teacher_layer="body", student_layer="body", gradient_revision=revision)
    distiller = Distiller(teacher, student, **kwargs).double()
    big = copy.deepcopy(distiller)
    by_hand = copy.deepcopy(distiller)
    optimizer = torch.optim.SGD(distiller.parameters(), lr=0.1)
    optimizer.zero_grad()
    micro = [slice(0, 2), slice(2, 4), slice(4, 6)]
    for part in micro:
        distiller.backward(distiller(hq[part], lq[part], labels[part]), micro_batches=3)
    accumulated = _grads(distiller)

    if not revision:
        big.backward(big(hq, lq, labels))
        expected = _grads(big)
    else:
        expected = [torch.zeros_like(p) for p in by_hand.parameters()]
        params = list(by_hand.parameters())
        for part in micro:
            losses = _by_hand(teacher, by_hand.student, by_hand.adaption, hq[part], lq[part], labels[part])
            reference_multi_loss_backward(params, losses[0] / 3, [loss / 3 for loss in losses[1:]])
            for total, p in zip(expected, params):
                total += p.grad
        # NB: revision is not linear: the accumulated gradient is NOT the big batch's revised gradient
        big.backward(big(hq, lq, labels))
        assert any(not torch.allclose(a, b, rtol=1e-6, atol=1e-9) for a, b in zip(accumulated, _grads(big)))
    for got, want in zip(accumulated, expected):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)
    before = [p.detach().clone() for p in distiller.parameters()]
    optimizer.step()
    for p, p0, g in zip(distiller.parameters(), before, expected):
        torch.testing.assert_close(p.detach(), p0 - 0.1 * g, rtol=1e-9, atol=1e-12)


def test_own_terms_by_role():
    """task_losses join the task loss the others are revised against; distillation_losses are revised."""
    teacher, student, hq, lq, labels = _user_models()
    distiller = Distiller(teacher, student, adaption=(4, 6), teacher_layer="body",
                          student_layer="body").double()
    reference = copy.deepcopy(distiller)
    params = list(reference.parameters())
    out = distiller(hq, lq, labels)
    aux = 0.1 * out.student.logits.pow(2).mean()
    attention = 0.5 * (out.student.features.pow(2).mean(1)
                       - out.teacher.features.pow(2).mean(1)).pow(2).mean()
    info = distiller.backward(out, task_losses={"aux": aux}, distillation_losses={"attention": attention})
    assert "cos_attention" in info and "cos_aux" not in info

    ce, kl, mse, gm = _by_hand(teacher, reference.student, reference.adaption, hq, lq, labels)
    ref_out = reference(hq, lq, labels)  # the same features, for the own terms
    ref_aux = 0.1 * ref_out.student.logits.pow(2).mean()
    ref_attention = 0.5 * (ref_out.student.features.pow(2).mean(1)
                           - ref_out.teacher.features.pow(2).mean(1)).pow(2).mean()
    reference_multi_loss_backward(params, ce + ref_aux, [kl, mse, gm, ref_attention])
    for p, q in zip(distiller.parameters(), params):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-9, atol=1e-12)


# --- under torch.distributed: 2 gloo processes, a DDP-wrapped student --------------------------------
def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank, world, port, revision, result_dir):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        torch.set_num_threads(1)
        teacher, student, hq, lq, labels = _user_models()
        distiller = Distiller(teacher, DistributedDataParallel(student), adaption=(4, 6),
                              teacher_layer="body", student_layer="body", gradient_revision=revision).double()
        shard = slice(rank * 3, (rank + 1) * 3)  # each rank sees half of the batch
        distiller.backward(distiller(hq[shard], lq[shard], labels[shard]))
        torch.save([p.grad for p in distiller.parameters()], os.path.join(result_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow  # ~10 s each: two processes import torch and set up gloo
@pytest.mark.parametrize("revision", [True, False])
def test_ddp_student_equals_one_process_on_the_concatenated_batch(tmp_path, revision):
    import torch.multiprocessing as mp

    mp.spawn(_ddp_worker, args=(2, _free_port(), revision, str(tmp_path)), nprocs=2, join=True)
    teacher, student, hq, lq, labels = _user_models()
    distiller = Distiller(teacher, student, adaption=(4, 6), teacher_layer="body", student_layer="body",
                          gradient_revision=revision).double()
    distiller.backward(distiller(hq, lq, labels))
    expected = [p.grad for p in distiller.parameters()]
    for rank in range(2):
        for got, want in zip(torch.load(tmp_path / f"rank{rank}.pt"), expected):
            torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)
