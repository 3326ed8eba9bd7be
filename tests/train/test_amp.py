"""train.amp: the MixedPrecision object (autocast, fp16 loss scaling, skipped steps, its checkpointed
state), gradient revision on scaled gradients, and bf16 / fp16 trainer steps against float32.

The trainer tests run the models with ``ops: reference`` (pure PyTorch under autocast) and, once the
skdcore ops take CPU autocast inputs (their autocast rules, issue 22's op side), with ``ops: fused``
as well; until then the fused cases skip, saying so."""
import functools

import pytest
import torch
from tiny_setup import TINY_MODEL, tiny_config

from skdcore.distill.losses import LOSS_WEIGHTS, skd_losses
from skdcore.distill.revision import RevisedBackward, _per_loss_gradients
from skdcore.ops.gradient_revision import gradient_revision
from skdcore.train import CheckpointError, Trainer, config_from_dict, load_checkpoint
from skdcore.train.amp import MixedPrecision
from skdcore.train.config import ConfigError


def _linear_and_sgd(lr=0.5):
    torch.manual_seed(0)
    layer = torch.nn.Linear(4, 3)
    return layer, torch.optim.SGD(layer.parameters(), lr=lr)


def test_off_is_the_identity_and_steps():
    amp = MixedPrecision("off", "cpu")
    assert not amp.enabled and not amp.scaling and amp.state_dict() == {}
    loss = torch.tensor(2.0, requires_grad=True)
    assert amp.scale(loss) is loss
    with amp.autocast():
        assert not torch.is_autocast_enabled("cpu")
    layer, optimizer = _linear_and_sgd()
    before = layer.weight.detach().clone()
    layer(torch.ones(2, 4)).sum().backward()
    assert amp.step(optimizer)
    torch.testing.assert_close(layer.weight.detach(), before - 0.5 * layer.weight.grad)


@pytest.mark.parametrize("mode, dtype", [("bf16", torch.bfloat16), ("fp16", torch.float16)])
def test_autocast_runs_matmuls_in_the_mode_and_fp32_casts_back(mode, dtype):
    amp = MixedPrecision(mode, "cpu")
    layer, _ = _linear_and_sgd()
    with amp.autocast():
        out = layer(torch.ones(2, 4))
    assert out.dtype == dtype
    (back,) = amp.fp32(out)
    assert back.dtype == torch.float32


CHOICES = r"choose one of \['off', 'bf16', 'fp16'\]"


@functools.lru_cache(maxsize=None)
def fused_ops_take_cpu_autocast() -> bool:
    """Whether every op of the built-in models runs under CPU bf16 autocast (an autocast rule each)."""
    from skdcore.models import build_model

    x = torch.randn(2, 3, 8, 25, 2)
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            for name in ("shift_gcn", "st_gcn"):
                build_model(name, num_class=4, channels=(8,), strides=(1,), num_person=2)(x)
    except (TypeError, RuntimeError):
        return False
    return True


def _ops(ops: str):
    if ops == "fused" and not fused_ops_take_cpu_autocast():
        pytest.skip("the skdcore ops reject CPU bf16 autocast inputs (no autocast rule registered yet)")
    return ops


OPS = ["reference", "fused"]


def test_invalid_mode_names_the_choices():
    with pytest.raises(ValueError, match=rf"train.amp: 'fp8' is not valid; {CHOICES}"):
        MixedPrecision("fp8", "cpu")


def test_fp16_scales_unscales_and_skips_a_step_with_inf_gradients():
    amp = MixedPrecision("fp16", "cpu")
    assert amp.scaling and not MixedPrecision("bf16", "cpu").scaling
    scale = amp.scaler.get_scale()
    losses = amp.scale({"ce": torch.tensor(1.5), "kl": torch.tensor(0.25)})
    assert [float(v) for v in losses.values()] == [1.5 * scale, 0.25 * scale]

    layer, optimizer = _linear_and_sgd()
    before = layer.weight.detach().clone()
    amp.scale(layer(torch.ones(2, 4)).sum()).backward()
    scaled_grad = layer.weight.grad.clone()
    assert amp.step(optimizer)  # finite: unscaled, then stepped
    torch.testing.assert_close(layer.weight.detach(), before - 0.5 * scaled_grad / scale, rtol=0, atol=0)

    optimizer.zero_grad()
    amp.scale(layer(torch.ones(2, 4)).sum()).backward()
    layer.weight.grad[0, 0] = float("inf")
    stepped_weights = layer.weight.detach().clone()
    assert not amp.step(optimizer)  # skipped: weights unchanged, scale halved
    torch.testing.assert_close(layer.weight.detach(), stepped_weights, rtol=0, atol=0)
    assert amp.scaler.get_scale() == scale / 2


def test_scaler_state_round_trips():
    amp = MixedPrecision("fp16", "cpu")
    amp.scale(torch.tensor(1.0))  # the scaler's tensors exist from the first scale on
    amp.scaler.update(1024.0)
    state = amp.state_dict()
    assert state["scale"] == 1024.0
    fresh = MixedPrecision("fp16", "cpu")
    fresh.load_state_dict(state)
    assert fresh.scaler.get_scale() == 1024.0
    MixedPrecision("off", "cpu").load_state_dict(state)  # no scaler: nothing to restore


def _tiny_skd_pair(ops):
    from skdcore.models import build_model

    args = dict(num_class=4, channels=(8, 16), strides=(1, 2), num_person=2, ops=ops)
    torch.manual_seed(0)
    teacher = build_model("shift_gcn", **args).eval()
    student = build_model("shift_gcn", adaption_channels=teacher.feature_channels, **args).train()
    generator = torch.Generator().manual_seed(0)
    hq = torch.randn(4, 3, 16, 25, 2, generator=generator)
    lq = hq + 0.1 * torch.randn(hq.shape, generator=generator)
    labels = torch.tensor([0, 1, 2, 3])
    return teacher, student, hq, lq, labels


def _losses(amp, teacher, student, hq, lq, labels):
    from skdcore.ops.graph_matching import graph_matching_loss

    with amp.autocast():
        with torch.no_grad():
            t_logits, t_features = teacher(hq)
        s_logits, s_features = student(lq)
    outputs = amp.fp32(s_logits, s_features, t_logits, t_features)
    return skd_losses(*outputs, labels, dict(LOSS_WEIGHTS), graph_matching_loss)


@pytest.mark.parametrize("ops", OPS)
@pytest.mark.parametrize("mode", ["fp16", "bf16"])
def test_revision_of_scaled_gradients_is_exactly_the_revision_of_the_unscaled_ones(mode, ops):
    """Under amp the per-loss gradients are those of the (scaled) autocast losses; the revised gradient
    the trainer gets after unscaling equals gradient_revision of those same gradients unscaled, exactly."""
    teacher, student, hq, lq, labels = _tiny_skd_pair(_ops(ops))
    amp = MixedPrecision(mode, "cpu")
    amp.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**16)  # a scale in bf16 too: the test's point
    params = [p for p in student.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.1)
    scaled = amp.scaler.scale  # NB: bf16 has no scaler in the trainer; the invariance is the same
    losses = {name: scaled(loss) for name, loss in _losses(amp, teacher, student, hq, lq, labels).items()}
    order = ["ce", "kl", "mse", "graph_matching"]
    per_loss = _per_loss_gradients(params, [losses[name] for name in order])
    for p in params:
        p.grad = None
    scale = amp.scaler.get_scale()
    unscaled = [[g / scale if g is not None else None for g in grads] for grads in per_loss]
    expected = gradient_revision(unscaled[0], unscaled[1:]).grads

    losses = {name: scaled(loss) for name, loss in _losses(amp, teacher, student, hq, lq, labels).items()}
    RevisedBackward(params)(losses)
    amp.scaler.unscale_(optimizer)
    for p, want in zip(params, expected):
        torch.testing.assert_close(p.grad, want, rtol=0, atol=0)


def _batch(trainer, size=16):
    items = trainer.train_set.__getitems__(list(range(size)))
    return [torch.stack([item[k] for item in items]) for k in range(3)]


def _flat_grad(model):
    return torch.cat([p.grad.reshape(-1) for p in model.parameters() if p.grad is not None])


@pytest.mark.parametrize("ops", OPS)
@pytest.mark.parametrize("mode", ["distill", "teacher"])
def test_bf16_step_matches_fp32_within_tolerance(tiny_data, tiny_teacher, tmp_path, mode, ops):
    """Same weights and batch: bf16 autocast losses within 3% and the (revised) gradient within 10%
    (relative L2) of float32; bf16 runs the forward passes with ~3 significant digits."""
    runs = {}
    for amp in ("off", "bf16"):
        cfg = config_from_dict(tiny_config(tiny_data, tmp_path / amp, mode, ops=_ops(ops),
                                           teacher_checkpoint=str(tiny_teacher), train__amp=amp))
        trainer = Trainer(cfg)
        values = trainer.train_step(*_batch(trainer))
        runs[amp] = values, _flat_grad(trainer.model)
    (fp32, fp32_grad), (bf16, bf16_grad) = runs["off"], runs["bf16"]
    losses = [k for k in fp32 if k.startswith("loss")]
    assert len(losses) == (5 if mode == "distill" else 2)
    for key in losses:
        assert bf16[key] == pytest.approx(fp32[key], rel=3e-2, abs=1e-3), key
    assert not torch.equal(bf16_grad, fp32_grad)  # bf16 did run
    assert float((bf16_grad - fp32_grad).norm() / fp32_grad.norm()) < 0.1


# fp16 needs gradients that scale with the loss: Shift-GCN's exact shift gradient, not the reference's
FP16_MODEL = {**TINY_MODEL, "args": {**TINY_MODEL["args"], "shift_grad": "exact"}}


def test_fp16_refuses_a_gradient_that_ignores_the_loss_scale(tiny_data, tmp_path):
    cfg = config_from_dict(tiny_config(tiny_data, tmp_path, "teacher", train__amp="fp16"))
    expected = (r"train.amp: fp16 scales the losses, but l1.tcn1.shift_in .*"
                r"use train.amp: bf16 \(no scaling\), or model.args.shift_grad: exact")
    with pytest.raises(ValueError, match=expected):
        Trainer(cfg)
    Trainer(config_from_dict(tiny_config(tiny_data, tmp_path, "teacher", train__amp="bf16")))


def test_fp16_trainer_step_scales_logs_and_resumes_with_the_scaler(tiny_data, tiny_teacher, tmp_path):
    overrides = dict(teacher_checkpoint=str(tiny_teacher), ops="reference", max_steps=2, model=FP16_MODEL)
    cfg = config_from_dict(tiny_config(tiny_data, tmp_path, "distill", train__amp="fp16", **overrides))
    trainer = Trainer(cfg)
    fp32 = Trainer(config_from_dict(tiny_config(tiny_data, tmp_path / "fp32", "distill", **overrides)))
    batch = _batch(trainer)
    values = trainer.train_step(*batch)
    reference = fp32.train_step(*batch)
    assert values["amp_skipped_step"] == 0.0 and "amp_skipped_step" not in reference
    assert values["loss"] == pytest.approx(reference["loss"], rel=1e-2)
    # the stored gradient is unscaled (scaler.step unscaled it in place): close to float32's
    grad, fp32_grad = _flat_grad(trainer.model), _flat_grad(fp32.model)
    assert float((grad - fp32_grad).norm() / fp32_grad.norm()) < 0.1  # the bf16 test's tolerance
    for name, p in trainer.model.named_parameters():  # every one, the shift positions included
        want = dict(fp32.model.named_parameters())[name].grad
        if want.norm() > 1e-3:
            assert float((p.grad - want).norm() / want.norm()) < 0.1, name

    trainer.amp.scaler.update(512.0)  # a scale no fresh scaler starts with
    trainer._save("last.pt")
    trainer.close()  # the run directory stays locked while its Trainer is open
    assert load_checkpoint(tmp_path / "last.pt")["amp_scaler"]["scale"] == 512.0
    resumed = Trainer(cfg, resume=True)
    assert resumed.amp.scaler.get_scale() == 512.0


def test_damaged_scaler_state_is_a_clear_checkpoint_error(tiny_data, tiny_teacher, tmp_path):
    cfg = config_from_dict(tiny_config(tiny_data, tmp_path, "teacher", train__amp="fp16", model=FP16_MODEL))
    trainer = Trainer(cfg)
    trainer._save("last.pt")
    trainer.close()
    ckpt = load_checkpoint(tmp_path / "last.pt")
    ckpt["amp_scaler"]["scale"] = float("nan")
    torch.save(ckpt, tmp_path / "last.pt")
    with pytest.raises(CheckpointError, match=r"'amp_scaler' has scale=nan, expected a finite number > 0"):
        Trainer(cfg, resume=True)
    ckpt["amp_scaler"]["_growth_tracker"] = "x"
    torch.save(ckpt, tmp_path / "last.pt")
    with pytest.raises(CheckpointError, match=r"'amp_scaler' has _growth_tracker='x', expected an integer"):
        Trainer(cfg, resume=True)


def test_config_train_section():
    assert config_from_dict({}).train.amp == "off" and not config_from_dict({}).train.compile
    assert config_from_dict({"train": {"amp": False}}).train.amp == "off"  # YAML 1.1: `amp: off`
    assert config_from_dict({"train": {"amp": "bf16", "compile": True}}).train.compile
    with pytest.raises(ConfigError, match=rf"train.amp: 'fp32' is not valid; {CHOICES}"):
        config_from_dict({"train": {"amp": "fp32"}})
    with pytest.raises(ConfigError, match=r"train.amp: True \(bool\) is not a string"):
        config_from_dict({"train": {"amp": True}})


def test_demo_and_cli_pass_amp_to_every_run():
    from pathlib import Path

    from skdcore.cli import build_parser
    from skdcore.demo import demo_config

    assert build_parser().parse_args(["demo", "--amp", "bf16"]).amp == "bf16"
    assert build_parser().parse_args(["demo"]).amp == "off"
    for mode in ("teacher", "baseline", "distill"):
        assert config_from_dict(demo_config(mode, Path("runs/demo"), amp="bf16")).train.amp == "bf16"


@pytest.mark.parametrize("amp", ["fp16", "bf16"])
def test_benchmark_step_runs_the_trainers_amp(amp):
    """bench_train_step's skdcore variant steps like the trainer under amp (reference ops: they take
    CPU autocast inputs today); the reference variant stays float32 eager."""
    from skdcore.bench_step import QUICK_MODEL, bench_variants, make_step, variant_label

    assert bench_variants(amp)["reference"] == {"ops": "reference"}
    assert bench_variants(amp)["skdcore"] == {"ops": "fused", "amp": amp, "compile": False}
    assert "skdcore_fp32" in bench_variants(amp) and "skdcore_fp32" not in bench_variants()
    assert variant_label({"amp": amp, "compile": True}) == f"skdcore ({amp}, compiled)"
    torch.manual_seed(0)
    step, _ = make_step("reference", frames=8, batch_size=2, num_class=4, model_args=QUICK_MODEL, amp=amp)
    step()  # no dtype error: the losses see float32, the scaler (fp16) unscales before the SGD step
