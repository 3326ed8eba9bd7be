"""`make wheel`'s artefact installs into a fresh venv and runs an op from outside the source tree."""
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_installs_and_runs_in_fresh_venv(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-q", "-w", str(dist), str(REPO)],
        check=True, cwd=tmp_path,
    )
    (wheel,) = dist.glob("skdcore-*.whl")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # Reuse this interpreter's torch (and numpy) rather than installing a GB-sized wheel again:
    # a .pth file appends their site-packages *after* the venv's own, so skdcore must come from the wheel
    # (installed first, so pip does not see the host's skdcore as already satisfied).
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True)
    venv_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    torch_site = str(Path(torch.__file__).resolve().parents[1])
    Path(venv_site, "torch_from_host.pth").write_text(torch_site + "\n" + sysconfig.get_paths()["purelib"] + "\n")

    script = (
        "import skdcore, torch, sys\n"
        f"assert skdcore.__file__.startswith({str(venv)!r}), skdcore.__file__\n"
        "A = torch.rand(3, 25, 25)\n"
        "out = skdcore.normalize_adjacency(A)\n"
        "torch.testing.assert_close(out.sum(1), torch.ones(3, 25))\n"
        "print(skdcore.build_info()['version'])\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run([str(python), "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0.1.0"
