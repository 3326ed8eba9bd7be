"""Done-when of "from the wheel alone": the built wheel in a fresh venv, from an empty folder outside the
repository: `skd configs`, the README's own-data commands with `--config own_skeletons` (a shipped
config by name), an own model's Distiller loop with gradient accumulation, and its ONNX export.

The venv gets torch, numpy and onnxruntime from the environment running the tests (a .pth file, as
--system-site-packages would from a system Python): nothing is downloaded, never a CUDA torch. The wheel
is `make wheel`'s (tests/test_wheel.py) or, with SKDCORE_TEST_WHEEL=path, an already built one.
"""
import os
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from test_own_skeletons import LAYOUT_YAML, own_arrays, readme_own_data_commands, tiny_run

OWN_MODEL_LOOP = textwrap.dedent('''
    import torch
    from torch import nn
    import skdcore
    from skdcore.distill import Distiller
    from skdcore.export import to_onnx
    from skdcore.nn import GraphConv

    assert skdcore.__file__.startswith("{venv}"), skdcore.__file__  # the wheel's, not a source tree's


    class OwnNet(nn.Module):
        def __init__(self, width, classes=4, joints=10):
            super().__init__()
            ring = torch.roll(torch.eye(joints), 1, 0)  # joint v linked to v - 1 and v + 1
            A = torch.eye(joints) + ring + ring.T
            self.gc = GraphConv(3, width, (A / A.sum(0, keepdim=True))[None])
            self.head = nn.Linear(width, classes)

        def forward(self, x):  # (N, 3, T, V)
            features = torch.relu(self.gc(x))
            return self.head(features.mean((2, 3))), features


    torch.manual_seed(0)
    teacher, student = OwnNet(8).eval(), OwnNet(4)
    distiller = Distiller(teacher, student, adaption=(4, 8))
    optimizer = torch.optim.SGD(distiller.parameters(), lr=0.05)
    hq = torch.randn(8, 3, 12, 10)
    lq = hq + 0.3 * torch.randn_like(hq)
    labels = torch.arange(8) % 4
    totals = []
    for step in range(3):
        optimizer.zero_grad()
        for part in (slice(0, 4), slice(4, 8)):  # two micro-batches, one optimizer step
            out = distiller(hq[part], lq[part], labels[part])
            info = distiller.backward(out, micro_batches=2)
            totals.append(float(out.loss))
        optimizer.step()
    assert all(t == t for t in totals) and "cos_graph_matching" in info, (totals, info)
    result = to_onnx(student, (hq,), "own_student.onnx", input_names=["clips"],
                     output_names=["logits", "features"])
    assert result.max_abs_error is not None and result.max_abs_error < 1e-3, result.describe()
    print("own model ok", totals[0], totals[-1], result.max_abs_error)
''')


@pytest.fixture(scope="module")
def built_wheel(request):
    given = os.environ.get("SKDCORE_TEST_WHEEL")
    if given:
        return Path(given)
    return request.getfixturevalue("repaired_wheel")


@pytest.fixture(scope="module")
def wheel_venv(built_wheel, tmp_path_factory):
    venv = tmp_path_factory.mktemp("wheel_alone") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(built_wheel)],
                   check=True)
    # NB: after the venv's own site-packages, so the wheel's skdcore wins over any other copy
    Path(purelib, "parent_environment.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return venv


def _run(venv, folder, *argv, check=True):
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    argv = [str(venv / "bin" / argv[0]) if argv[0] == "skd" else argv[0], *argv[1:]]
    result = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, timeout=900)
    if check:
        assert result.returncode == 0, f"{argv}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.mark.slow  # builds the wheel (minutes) unless SKDCORE_TEST_WHEEL names one; then ~2 minutes
def test_the_wheel_alone_from_an_empty_folder(wheel_venv, tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    listed = _run(wheel_venv, folder, "skd", "configs").stdout
    assert "own_skeletons " in listed and "demo_teacher " in listed
    printed = _run(wheel_venv, folder, "skd", "configs", "own_skeletons").stdout
    assert "centre_input: true" in printed and printed.startswith("#")

    x, y = own_arrays()
    np.save(folder / "X.npy", x)
    np.save(folder / "y.npy", y)
    (folder / "layout.yaml").write_text(LAYOUT_YAML)
    commands = [tiny_run(argv) for argv in readme_own_data_commands() if argv[0] != "sweep"]
    assert ["--config", "own_skeletons"] == commands[1][1:3]  # a shipped config, by name
    for argv in commands:
        _run(wheel_venv, folder, "skd", *argv)
    assert (folder / "runs/own/skd/best.onnx").stat().st_size > 0

    (folder / "own_loop.py").write_text(OWN_MODEL_LOOP.replace("{venv}", str(wheel_venv)))
    out = _run(wheel_venv, folder, str(wheel_venv / "bin" / "python"), "own_loop.py").stdout
    assert "own model ok" in out
    assert (folder / "own_student.onnx").stat().st_size > 0
