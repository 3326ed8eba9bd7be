"""torchrun with 2 CPU processes (gloo, localhost): ranks stay in sync, revision uses global dot products."""
import json
import os
import subprocess
import sys

import pytest
import torch
from tiny_setup import tiny_config


def _torchrun_two_ranks(cfg: dict, tmp_path) -> None:
    """ddp_worker.py on 2 CPU processes (each rank writes rank<r>.pt into tmp_path)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    worker = os.path.join(os.path.dirname(__file__), "ddp_worker.py")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node=2", worker, json.dumps(cfg), str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.parametrize("mode", ["distill"])
def test_two_process_training_keeps_ranks_identical(tiny_data, tiny_teacher, tmp_path, mode):
    cfg = tiny_config(tiny_data, tmp_path / "run", mode, teacher_checkpoint=str(tiny_teacher), max_steps=3,
                      data__batch_size=4)
    _torchrun_two_ranks(cfg, tmp_path)
    r0, r1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    assert r0["world_size"] == r1["world_size"] == 2 and r0["step"] == r1["step"] == 3
    for key in r0["weights"]:
        torch.testing.assert_close(r0["weights"][key], r1["weights"][key], rtol=0, atol=0, msg=key)
    assert (tmp_path / "run" / "last.pt").exists()
    # evaluation (of the selection split) shared by the 2 ranks and gathered
    # == one process evaluating every clip
    from skdcore.train import Trainer, config_from_dict

    single = Trainer(config_from_dict({**cfg, "output_dir": str(tmp_path / "single")}))
    single.model.load_state_dict(r0["weights"])
    expected = single.evaluate()
    assert r0["eval"]["num_samples"] == r1["eval"]["num_samples"] == len(single.val_set)
    assert (r0["confusion"].numpy() == expected["confusion"]).all()
    assert r0["eval"]["loss"] == pytest.approx(expected["loss"], rel=1e-5)


@pytest.mark.slow
def test_sync_bn_two_processes_match_one_process_on_the_same_global_batch(tiny_data, tmp_path):
    """model.sync_bn: 2 ranks x 4 clips give the weights, BatchNorm statistics and logged train metrics
    (averaged over the ranks) of 1 process x 8 clips, over one whole epoch."""
    from skdcore.train import Trainer, config_from_dict
    # NB: ST-GCN, not Shift-GCN: Shift-GCN's learnable temporal shifts start at exactly 0, where the
    # interpolation's gradient jumps, so float round-off alone sends the two runs' shifts apart.
    model = {"name": "st_gcn", "args": {"channels": [8, 16], "strides": [1, 2]}}
    one_epoch = {"lr": 0.05, "epochs": 1, "milestones": [], "warmup_epochs": 0}
    two = tiny_config(tiny_data, tmp_path / "two", "teacher", optim=one_epoch, data__batch_size=4,
                      model={**model, "sync_bn": True}, log={"progress": False, "tensorboard": "off",
                                                           "every_steps": 0})
    _torchrun_two_ranks(two, tmp_path)
    ranks = torch.load(tmp_path / "rank0.pt")
    single = Trainer(config_from_dict(tiny_config(tiny_data, tmp_path / "one", "teacher", optim=one_epoch,
                                                  data__batch_size=8, model=model)))
    history = single.fit()["history"]
    assert ranks["world_size"] == 2 and ranks["step"] == single.step > 3
    reference = single.model.state_dict()
    fresh = Trainer(config_from_dict(tiny_config(tiny_data, tmp_path / "init", "teacher", model=model)))
    initial = fresh.model.state_dict()
    moved = 0
    for key, value in reference.items():
        torch.testing.assert_close(ranks["weights"][key], value, rtol=1e-4, atol=1e-5, msg=key)
        moved += int(value.is_floating_point() and not torch.equal(value, initial[key]))
    assert moved > 10  # the weights did change over the epoch: the comparison is not of initial values
    # rank 0 logs the mean over both ranks' batches: the single process's mean over the same clips
    logged, expected = ranks["history"][0], history[0]
    assert logged["train_acc"] == pytest.approx(expected["train_acc"], abs=1e-9)
    assert logged["train_loss"] == pytest.approx(expected["train_loss"], rel=1e-4)
