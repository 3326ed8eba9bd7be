"""Ctrl-C in `skd train`: one line with the command that resumes the run, no traceback, exit code 130
(that the resume is exact is tested in tests/train)."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import skdcore
from skdcore.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # a subprocess that imports torch and trains until interrupted (~10 s)
def test_ctrl_c_in_train_prints_the_resume_hint_without_a_traceback(tmp_path):
    data = tmp_path / "data"
    assert main(["prepare", "--out", str(data), "--num-samples", "48", "--clip-frames", "16",
                 "--num-classes", "3", "--num-frames", "0", "--val-fraction", "0.2"]) == 0
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({
        "name": "tiny", "mode": "teacher", "output_dir": str(tmp_path / "run"),
        "data": {"root": str(data), "batch_size": 4},
        "model": {"name": "shift_gcn", "args": {"channels": [8, 16], "strides": [1, 2]}},
        "optim": {"lr": 0.05, "epochs": 500, "milestones": []},
        "log": {"progress": False, "tensorboard": "off"}}))
    argv = ["train", "--config", str(config), "--threads", "1"]
    package_dir = str(Path(skdcore.__file__).resolve().parents[1])  # the skdcore this test imported
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([package_dir, *sys.path])}
    # NB: SIGINT back to its default in the child: a shell that started pytest in the background without
    # job control ignores SIGINT, the child inherits that, and Python then raises no KeyboardInterrupt
    process = subprocess.Popen([sys.executable, "-m", "skdcore.cli", *argv], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 240
        while not (tmp_path / "run" / "last.pt").exists():  # a few epochs done and checkpointed
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1] == ("skd train: interrupted; what was checkpointed is kept, continue exactly with: "
                         f"skd {' '.join(argv)} --resume")


def test_the_interrupted_line_of_each_kind_of_command():
    from skdcore.cli import build_parser
    from skdcore.commands.interrupt import interrupted_message

    def line(*argv):
        return interrupted_message(build_parser().parse_args(list(argv)), list(argv))

    assert line("distill", "--config", "own_skeletons", "--force", "--teacher", "t.pt").endswith(
        "continue exactly with: skd distill --config own_skeletons --teacher t.pt --resume")
    assert line("train", "--config", "my run.yaml", "--resume").endswith(
        "skd train --config 'my run.yaml' --resume")
    assert "run the same command again" in line("sweep", "--config", "own_skeletons")
    assert "resumes from the finished chunks" in line("prepare", "--out", "d")
    assert line("eval", "--checkpoint", "a.pt") == "skd eval: interrupted"
