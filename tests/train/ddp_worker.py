"""Run under torchrun by test_ddp.py: a few training steps, then each rank saves its weights."""
import sys

import torch

from skdcore.train import Trainer, config_from_dict

if __name__ == "__main__":
    import json

    cfg = config_from_dict(json.loads(sys.argv[1]))
    trainer = Trainer(cfg)
    result = trainer.fit()
    rank = trainer.dist.rank
    metrics = trainer.evaluate()  # sharded over the ranks, gathered
    torch.save({"weights": {k: v.clone() for k, v in trainer.model.state_dict().items()},
                "world_size": trainer.dist.world_size, "step": trainer.step, "history": result["history"],
                "eval": {k: metrics[k] for k in ("top1", "top5", "num_samples", "loss")},
                "confusion": torch.from_numpy(metrics["confusion"])},
               f"{sys.argv[2]}/rank{rank}.pt")
