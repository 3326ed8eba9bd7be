"""Run directories under concurrent, interrupted and failed commands: a run in progress locks its directory,
a run stopped before its first checkpoint can be resumed (it starts fresh), and a `skd prepare` that
kept no clip fails."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from skdcore.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs") / "data"
    assert main(["prepare", "--out", str(root), "--num-samples", "40", "--clip-frames", "16",
                 "--num-classes", "4", "--val-fraction", "0.2"]) == 0
    return root


def _config(path, data, out, epochs=1) -> str:
    path.write_text(yaml.safe_dump({
        "name": "run", "mode": "teacher", "output_dir": str(out), "seed": 0,
        "data": {"root": str(data), "batch_size": 8},
        "model": {"name": "shift_gcn", "args": {"channels": [8, 16], "strides": [1, 2]}},
        "optim": {"lr": 0.05, "epochs": epochs, "milestones": []},
        "log": {"progress": False, "tensorboard": "off"}}))
    return str(path)


def _wait_for(path, process, seconds=300.0) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, f"the first run ended early: {process.communicate()}"
        assert time.monotonic() < deadline, f"{path} did not appear within {seconds} s"
        time.sleep(0.2)


@pytest.mark.slow
def test_a_running_train_locks_its_directory_until_it_dies(data, tmp_path, capsys):
    out = tmp_path / "run"
    config = _config(tmp_path / "long.yaml", data, out, epochs=100_000)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen([sys.executable, "-m", "skdcore.cli", "train", "--config", config],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        _wait_for(out / "train.log", first)
        for flags in ([], ["--force"], ["--resume"]):
            capsys.readouterr()
            assert main(["train", "--config", config, *flags]) == 2, flags
            err = capsys.readouterr().err
            assert f"pid {first.pid}" in err and str(out) in err and "in use" in err, err
            assert "Traceback" not in err
        assert first.poll() is None, "the second train disturbed the first"
        assert not list(tmp_path.glob("run.old-*")), "--force moved a running run aside"
    finally:
        first.send_signal(signal.SIGKILL)  # as a crash would: the lock must go with the process
        first.communicate()
    capsys.readouterr()
    # the killed run left no checkpoint yet (or one): --resume continues or restarts it, it is not locked
    # (the same config: --resume refuses an epoch past a shortened schedule; max_steps may change freely)
    assert main(["train", "--config", config, "--resume", "--set", "max_steps=1"]) == 0
    assert (out / "last.pt").exists()


def test_the_run_lock_refuses_a_second_holder_until_released(tmp_path):
    from skdcore.train.run_dir import RunLock, RunLockedError

    first = RunLock(tmp_path).acquire()
    with pytest.raises(RunLockedError, match=f"in use: pid {os.getpid()} on host .* is writing into it"):
        RunLock(tmp_path).acquire()  # NB: a second open file of one process conflicts like another process
    first.release()
    RunLock(tmp_path).acquire().release()


def test_a_train_that_failed_to_start_leaves_its_directory_unlocked(data, tmp_path):
    from skdcore.train import ConfigError, load_config, train

    config = _config(tmp_path / "c.yaml", data, tmp_path / "run")
    with pytest.raises(ConfigError, match="data.train_split") as failure:
        train(load_config(config, ["data.train_split=nope"]))
    assert failure.value.__traceback__ is not None  # NB: keeps the failed trainer alive, as a notebook would
    assert train(load_config(config))["best"]


def test_resume_of_a_run_stopped_before_its_first_checkpoint_starts_it_fresh(data, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    config = _config(tmp_path / "c.yaml", data, out)
    # what a Ctrl-C during the first epoch leaves: the config and the log, no checkpoint
    (out / "config.yaml").write_text((tmp_path / "c.yaml").read_text())
    (out / "train.log").write_text("[run] mode=teacher model=shift_gcn\n")
    assert main(["train", "--config", config]) == 2
    err = capsys.readouterr().err
    assert "no checkpoint yet" in err and "--resume" in err and "--force" in err, err
    assert main(["train", "--config", config, "--resume"]) == 0
    log = (out / "train.log").read_text()
    assert "--resume" in log and "no last.pt" in log and "starting from scratch" in log, log
    assert (out / "last.pt").exists() and (out / "best.pt").exists()


def test_resume_refuses_a_run_with_best_but_no_last_checkpoint(data, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "best.pt").write_bytes(b"a result that a fresh start would overwrite")
    assert main(["train", "--config", _config(tmp_path / "c.yaml", data, out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "last.pt" in err and "--force" in err and "Traceback" not in err, err


def test_prepare_that_kept_no_clip_fails_with_the_summary(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "torn.json").write_text('{"data": [{"frame_index": 1, "skel')
    (raw / "typed.json").write_text('{"data": [{"frame_index": "one"}], "label_index": 1}')
    code = main(["prepare", "--source", "kinetics", "--input", str(raw), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 1, captured
    assert "skipped 2 malformed input file(s)" in captured.out and "torn.json" in captured.out
    assert "every input file was skipped" in captured.err and "Traceback" not in captured.err
