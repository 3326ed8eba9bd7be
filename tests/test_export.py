"""`skd export` / skdcore.export: .pt2 with the fused ops, ONNX with standard ops checked in onnxruntime,
torch.jit.trace of both models in eval mode."""

import os
import subprocess
import sys
import warnings

import pytest
import torch

import skdcore  # noqa: F401  (registers the ops)
from skdcore import export
from skdcore.checkpoints.checkpoint import save_checkpoint
from skdcore.cli import main
from skdcore.models import build_model

# Small students (with the adaption conv) of both backbones; strides make Shift-GCN's frames a multiple of 2.
MODELS = {
    "st_gcn": {"num_class": 6, "channels": [8, 16], "strides": [1, 2], "adaption_channels": 16},
    "shift_gcn": {"num_class": 6, "channels": [8, 16], "strides": [1, 2], "adaption_channels": 16},
}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    paths = {}
    for name, args in MODELS.items():
        model = build_model(name, **args)
        # Non-trivial BatchNorm statistics, so eval mode differs from train mode in the exported graph.
        model.train()
        with torch.no_grad():
            model(torch.randn(4, 3, 16, 25, 2))
        paths[name] = folder / f"{name}.pt"
        save_checkpoint(paths[name], model=model, model_name=name, model_args=args)
    return paths


def logits_of(checkpoint, clips):
    model, _ = export.load_trained_model(checkpoint)
    with torch.no_grad():
        return model(clips)[0]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_pt2_has_fused_ops_dynamic_batch_and_frames(checkpoints, tmp_path, name):
    out = tmp_path / f"{name}.pt2"
    result = export.export_checkpoint(checkpoints[name], "pt2", out, frames=16)
    assert out.is_file() and result.format == "pt2"
    assert set(result.dynamic) == {"batch", "frames"}, result.describe()
    program = export.load_program(out, trust=True)  # we made it
    expected_op = "skdcore.graph_conv.default" if name == "st_gcn" else "skdcore.temporal_shift.default"
    assert expected_op in export._skdcore_ops(program)
    for shape in [(1, 3, 16, 25, 2), (3, 3, 24, 25, 2)]:
        clips = torch.randn(shape)
        torch.testing.assert_close(program.module()(clips), logits_of(checkpoints[name], clips))


@pytest.mark.slow
def test_pt2_without_skdcore_fails_naming_the_op(checkpoints, tmp_path):
    out = tmp_path / "student.pt2"
    export.export_checkpoint(checkpoints["st_gcn"], "pt2", out, frames=16, dynamic=False)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", f"import torch; torch.export.load({str(out)!r})"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert result.returncode != 0
    assert "torch.ops.skdcore.graph_conv" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_onnx_cli_exports_standard_ops_checked_in_onnxruntime(checkpoints, tmp_path, capsys, name):
    onnx = pytest.importorskip("onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    out = tmp_path / f"{name}.onnx"
    assert (
        main(["export", str(checkpoints[name]), "--format", "onnx", "--out", str(out), "--frames", "16"]) == 0
    )
    printed = capsys.readouterr().out
    assert "max abs error" in printed and f"ONNX opset {export.DEFAULT_OPSET}" in printed
    model = onnx.load(str(out))
    assert {node.domain for node in model.graph.node} <= {"", "ai.onnx"}  # standard ops only
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims[0] == "batch" and dims[2] == "frames" and dims[1:2] + dims[3:] == [3, 25, 2]
    assert {p.key: p.value for p in model.metadata_props}["opset"] == str(export.DEFAULT_OPSET)
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    clips = torch.randn(5, 3, 32, 25, 2)
    (logits,) = session.run(None, {"clips": clips.numpy()})
    torch.testing.assert_close(
        torch.from_numpy(logits), logits_of(checkpoints[name], clips), atol=1e-4, rtol=0
    )


def test_check_onnx_without_onnxruntime_warns_and_skips(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import raises ImportError
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert export.check_onnx(tmp_path / "x.onnx", torch.nn.Identity(), []) is None
    assert any("onnxruntime is not installed" in str(w.message) for w in caught)


def test_export_rejects_unknown_format(checkpoints, tmp_path):
    with pytest.raises(ValueError, match="format must be one of"):
        export.export_checkpoint(checkpoints["st_gcn"], "tflite", tmp_path / "x")


def test_load_program_missing_file_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="skd export"):
        export.load_program(tmp_path / "missing.pt2")


def test_shift_gcn_frames_must_be_a_multiple_of_its_temporal_stride():
    model = build_model("shift_gcn", num_class=3, channels=[8, 8, 8], strides=[1, 2, 2])
    assert export.frame_multiple(model) == 4
    assert export.example_clips(model, frames=30).shape == (2, 3, 28, 25, 2)
    assert export.frame_multiple(build_model("st_gcn", num_class=3, channels=[8], strides=[2])) == 1


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("grad", [True, False])
def test_jit_trace_in_eval_mode(name, grad):
    model = build_model(name, **MODELS[name], ops="fused").eval()
    clips = torch.randn(2, 3, 16, 25, 2)
    with torch.set_grad_enabled(grad), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(model, clips)
    with torch.no_grad():
        torch.testing.assert_close(traced(clips)[0], model(clips)[0])
    graph = str(traced.inlined_graph)
    assert "_ConstrainShiftGrad" not in graph and "PythonOp" not in graph
