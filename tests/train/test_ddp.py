"""torchrun with 2 CPU processes (gloo, localhost): ranks stay in sync, revision uses global dot products."""
import json
import os
import subprocess
import sys

import pytest
import torch

from tiny_setup import tiny_config


@pytest.mark.parametrize("mode", ["distill"])
def test_two_process_training_keeps_ranks_identical(tiny_data, tiny_teacher, tmp_path, mode):
    cfg = tiny_config(tiny_data, tmp_path / "run", mode, teacher_checkpoint=str(tiny_teacher), max_steps=3,
                      data__batch_size=4)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    worker = os.path.join(os.path.dirname(__file__), "ddp_worker.py")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           worker, json.dumps(cfg), str(tmp_path)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    assert r0["world_size"] == r1["world_size"] == 2 and r0["step"] == r1["step"] == 3
    for key in r0["weights"]:
        torch.testing.assert_close(r0["weights"][key], r1["weights"][key], rtol=0, atol=0, msg=key)
    assert (tmp_path / "run" / "last.pt").exists()
