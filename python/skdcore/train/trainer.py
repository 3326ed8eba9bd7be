"""Training loops: teacher on HQ, LQ-only baseline, and the SKD student (``cfg.mode``).

One ``Trainer`` runs all three; they differ only in which input the model sees and which losses
the step takes:

- teacher:  CE(model(HQ))
- baseline: CE(model(LQ))
- distill:  student(LQ) vs frozen teacher(HQ): CE + KL + feature MSE + graph matching, combined by
            plain summation or by gradient revision (``loss.gradient_revision``).

Checkpoints (``<output_dir>/last.pt``, ``best.pt``) hold everything needed for an exact resume:
model, optimizer, scheduler, RNG state and the position inside the epoch. The run directory also
keeps ``config.yaml``, ``train.log``, ``log.csv`` and ``results.json``; an existing run is never
overwritten (``run_dir.py``: ``--resume`` or ``--force``).
What a run is built from (datasets, model arguments, the teacher) is set up in ``setup.py``.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Dict, Optional

import torch

from ..atomic_io import atomic_write_json, remove_stale_temp_files
from ..checkpoints import (
    CheckpointError,
    load_checkpoint,
    load_model_state,
    resume_state,
    save_checkpoint,
    set_rng_state,
    unwrap,
)
from ..data.augment import random_rotate_scale
from ..data.batches import epoch_batches, iterate
from ..devices import resolve_device
from ..distill import Distiller
from ..distill.distributed import DistInfo, average_gradients, broadcast_buffers
from ..distill.losses import LOSS_NAMES, cross_entropy
from ..evaluation.metrics import classification_metrics, evaluate, format_metrics, predict
from ..models import build_model
from .amp import MixedPrecision
from .compile import compile_model
from .config import SELECT_ON_TEST_LABEL, ExperimentConfig, save_config
from .distributed import average_over_ranks, barrier, gather_predictions, init_from_env, rank_device
from .ops_select import select_ops
from .optim import build_optimizer, build_scheduler
from .resume_checks import (
    check_optimizer_state,
    check_progress,
    check_resume_config,
    check_scheduler_state,
    restore,
)
from .run_dir import claim_run_dir
from .run_log import RunLogger
from .selection import no_validation, selection_lines
from .setup import (
    augment_num_coords,
    load_teacher,
    model_arguments,
    open_datasets,
    open_test_set,
    seed_everything,
    unused_val_clips,
)
from .sync_batchnorm import convert_sync_batchnorm
from .teacher_check import check_teacher
from .teacher_check import describe as describe_teacher


class Trainer:
    def __init__(self, cfg: ExperimentConfig, resume: bool = False, datasets=None,
                 trust_checkpoint: bool = False, force: bool = False, allow_config_change: bool = False):
        self.cfg = cfg
        self.allow_config_change, self.config_changes = allow_config_change, []  # --resume checks
        self.trust_checkpoint = trust_checkpoint  # load teacher / resume checkpoints with weights_only=False
        self.device = resolve_device(cfg.device)
        self.dist: DistInfo = init_from_env(self.device)
        self.device = rank_device(self.device, self.dist)
        seed_everything(cfg.seed, cfg.deterministic)
        self.out = Path(cfg.output_dir)
        self.claim = claim_run_dir(self.out, resume, force, self.dist)  # locks out against a second run
        self.moved_aside = self.claim.moved_aside
        try:
            self._set_up(datasets, self.claim.resume)
        except BaseException:
            self.claim.release()
            raise

    def _set_up(self, datasets, resume: bool) -> None:
        cfg = self.cfg
        self.ops = select_ops(cfg.ops, cfg.model.name, cfg.loss.revision_scheme)
        # NB: the test split is not opened here; it is read once, after training (evaluate_test)
        self.train_set, self.val_set = datasets if datasets is not None else open_datasets(cfg)
        self.selection = "test" if cfg.data.select_on_test else "fit" if no_validation(cfg) else "val"
        self.num_classes = self.train_set.num_classes
        self.augment_coords, self.augment_note = 0, ""  # data.augment's coordinate channels
        if cfg.data.augment.enabled:
            self.augment_coords, self.augment_note = augment_num_coords(self.train_set)

        self.teacher, self.teacher_check = None, None
        self.model_args = model_arguments(cfg, self.train_set)
        if cfg.mode == "distill":
            self.teacher = load_teacher(cfg, self.num_classes, self.device, self.trust_checkpoint)
            if cfg.model.adaption:
                self.model_args["adaption_channels"] = self.teacher.feature_channels
        self.model = build_model(cfg.model.name, ops=cfg.ops, **self.model_args).to(self.device)
        if cfg.model.sync_bn and self.dist.enabled:
            self.model = convert_sync_batchnorm(self.model)

        self.input_name = "hq" if cfg.mode == "teacher" else "lq"
        self.steps_per_epoch = len(self._batches(0))
        if self.steps_per_epoch == 0:
            raise ValueError(f"the train split {cfg.data.train_split!r} is empty")
        self.optimizer = build_optimizer(self.model.parameters(), cfg.optim)
        self.scheduler = build_scheduler(self.optimizer, cfg.optim, self.steps_per_epoch)
        self.amp = MixedPrecision(cfg.train.amp, self.device)
        self.amp.check_model(self.model)
        if cfg.train.compile:
            self.model, self.teacher = compile_model(self.model), compile_model(self.teacher)
        self.distiller = None
        if cfg.mode == "distill":  # NB: buffers are broadcast by train_step for every mode
            self.distiller = Distiller(self.teacher, self.model, ops=cfg.ops,
                                       revision_scheme=self.ops.revision,
                                       weights={k: getattr(cfg.loss, k) for k in LOSS_NAMES},
                                       temperature=cfg.loss.temperature,
                                       gradient_revision=cfg.loss.gradient_revision, broadcast_buffers=False)

        self.epoch, self.step, self.step_in_epoch = 0, 0, 0
        self.best: Dict = {}
        self.history: list = []
        self.epoch_sums: Dict = {}  # the running sums of the epoch in progress (checkpointed mid-epoch)
        if resume:
            self._resume(self.out / "last.pt")

    def close(self) -> None:
        """Release the run directory's lock (``fit`` does at its end); for a Trainer used step by step."""
        self.claim.release()

    def _batches(self, epoch: int):
        return epoch_batches(len(self.train_set), self.cfg.data.batch_size, self.cfg.seed, epoch,
                             rank=self.dist.rank, world_size=self.dist.world_size,
                             drop_last=self.cfg.data.drop_last)

    def _eval_batches(self, dataset, shard: bool = False):
        """Evaluation batches in order; ``shard``: this rank's share under torchrun."""
        size = self.cfg.data.eval_batch_size
        if not shard:
            return epoch_batches(len(dataset), size, 0, 0, shuffle=False, drop_last=False)
        return epoch_batches(len(dataset), size, 0, 0, shuffle=False, drop_last=False, rank=self.dist.rank,
                             world_size=self.dist.world_size)

    def _resume(self, path: Path) -> None:
        if not path.exists():
            raise CheckpointError(f"--resume: {path} not found; "
                                  "start without --resume or point output_dir at the run")
        ckpt = load_checkpoint(path, trust=self.trust_checkpoint)
        self.config_changes = check_resume_config(ckpt, path, self.cfg.to_dict(), self.allow_config_change,
                                                  defaults=ExperimentConfig().to_dict())
        load_model_state(self.model, ckpt, path, model_name=self.cfg.model.name)
        state = resume_state(ckpt, path)
        if state["mode"] not in (None, self.cfg.mode):
            raise CheckpointError(f"{path} comes from a mode={state['mode']!r} run, "
                                  f"this run is mode={self.cfg.mode!r}")
        check_progress(state, path, self.cfg.optim.epochs, self.steps_per_epoch)
        check_optimizer_state(state["optimizer"], self.optimizer, path)
        check_scheduler_state(state["scheduler"], self.scheduler, path)
        restore("optimizer state", path, lambda: self.optimizer.load_state_dict(state["optimizer"]))
        restore("lr schedule", path, lambda: self.scheduler.load_state_dict(state["scheduler"]))
        self.epoch, self.step, self.step_in_epoch = state["epoch"], state["step"], state["step_in_epoch"]
        self.best, self.history, self.epoch_sums = state["best"], state["history"], state["epoch_sums"]
        restore("fp16 loss scaler", path, lambda: self.amp.load_state_dict(state["amp_scaler"]))
        restore("random generators", path, lambda: set_rng_state(state["rng"]))

    def _save(self, name: str) -> None:
        if not self.dist.is_main:
            return
        save_checkpoint(self.out / name, model=self.model, model_name=self.cfg.model.name,
                        model_args=self.model_args, optimizer=self.optimizer, scheduler=self.scheduler,
                        epoch=self.epoch, step=self.step,
                        step_in_epoch=self.step_in_epoch, best=self.best, config=self.cfg.to_dict(),
                        extra={"mode": self.cfg.mode, "history": self.history, "ops": self.ops.used},
                        epoch_sums=self.epoch_sums, amp_scaler=self.amp.state_dict())

    # -- one step ------------------------------------------------------------------------------
    def train_step(self, hq: torch.Tensor, lq: torch.Tensor, labels: torch.Tensor) -> Dict[str, float]:
        self.model.train()
        broadcast_buffers(self.model, self.dist)
        hq, lq, labels = hq.to(self.device), lq.to(self.device), labels.to(self.device)
        if self.cfg.data.augment.enabled:
            hq, lq = self._augment(hq, lq)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer.zero_grad(set_to_none=True)
        info: Dict[str, float] = {}
        amp = self.amp  # NB: forward passes under autocast, losses in float32, fp16 losses scaled
        if self.distiller is not None:
            with amp.autocast():
                teacher = self.distiller.teacher_forward(hq)
                student = self.distiller.student_forward(lq)
            losses = self.distiller.losses(student, teacher, labels)  # float32 whatever autocast gave
            info = self.distiller.backward(losses, amp.scaler)  # a disabled scaler leaves them as they are
            logits = student.logits
            loss_values = {f"loss_{k}": float(v.detach()) for k, v in losses.items()}
            total = sum(loss_values.values())
        else:
            with amp.autocast():
                logits, _ = self.model(hq if self.cfg.mode == "teacher" else lq)
            (logits,) = amp.fp32(logits)
            loss = cross_entropy(logits, labels)
            amp.scale(loss).backward()
            average_gradients(params, self.dist)
            loss_values, total = {"loss_ce": float(loss.detach())}, float(loss.detach())
        stepped = amp.step(self.optimizer)
        if amp.scaling:
            info["amp_skipped_step"] = float(not stepped)  # epoch mean: the fraction of skipped steps
        self.scheduler.step()
        correct = float((logits.argmax(1) == labels).float().mean())
        return {"loss": total, "acc": correct, **loss_values, **info}

    def _augment(self, hq: torch.Tensor, lq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``data.augment`` on a training batch, drawn from (seed, global step, rank) alone, so that a
        resumed run draws what an uninterrupted one would have."""
        generator = torch.Generator().manual_seed(augment_seed(self.cfg.seed, self.step, self.dist.rank))
        augment = self.cfg.data.augment
        return random_rotate_scale(hq, lq, generator, augment.rotate_deg, augment.scale, self.augment_coords)

    def _augment_lines(self) -> list:
        augment = self.cfg.data.augment
        if not augment.enabled:
            return []
        dims = "about each of the 3 axes" if self.augment_coords == 3 else "in-plane (2-D data)"
        line = (f"augmentation (data.augment, training batches only): rotation by up to "
                f"+-{augment.rotate_deg:g} degrees {dims}, scale in [{1 - augment.scale:g}, "
                f"{1 + augment.scale:g}], about each clip's centre; HQ and LQ of a pair get the same "
                "transform")
        return [line] + ([f"data.augment: {self.augment_note}"] if self.augment_note else [])

    # -- the run -------------------------------------------------------------------------------
    def evaluate(self, use: Optional[str] = None, dataset=None) -> Dict:
        """Metrics of the current model on ``dataset`` (default: the selection split); under torchrun every
        rank predicts its shard and every rank gets the gathered metrics (call it on all ranks)."""
        dataset = self.val_set if dataset is None else dataset
        batches = iterate(dataset, self._eval_batches(dataset, shard=True))
        logits, labels = predict(unwrap(self.model), batches, self.device, use or self.input_name)
        logits, labels = gather_predictions(logits, labels, self.dist)
        metrics = classification_metrics(logits, labels, self.num_classes)
        metrics["loss"] = (float(torch.nn.functional.cross_entropy(logits, labels)) if labels.numel()
                           else float("nan"))
        return metrics

    def evaluate_test(self) -> Dict:
        """The ``data.select`` checkpoint (best.pt or last.pt) on the test split, once, after training;
        written to ``test_metrics.json``."""
        name = f"{self.cfg.data.select}.pt"
        path = self.out / name
        if not path.exists():
            return {}
        model = build_model(self.cfg.model.name, ops=self.cfg.ops, **self.model_args)
        load_model_state(model, load_checkpoint(path, trust=self.trust_checkpoint), path)
        test_set = open_test_set(self.cfg)
        batches = iterate(test_set, self._eval_batches(test_set))
        metrics = evaluate(model.to(self.device), batches, self.device, self.num_classes, self.input_name)
        epoch = self.best.get("epoch") if name == "best.pt" else self.epoch
        result = {"split": self.cfg.data.test_split, "input": self.input_name, "checkpoint": name,
                  "best_epoch": epoch,
                  "selected_on": (self.selection_label() if name == "best.pt"
                                  else "last epoch (data.select: last)"),
                  **{k: metrics[k] for k in ("top1", "top5", "loss") if k in metrics}}
        atomic_write_json(self.out / "test_metrics.json", result)
        return result

    def selection_label(self) -> str:
        if self.cfg.data.select_on_test:
            return f"test split {self.cfg.data.test_split!r} ({SELECT_ON_TEST_LABEL})"
        if no_validation(self.cfg):
            return f"training split {self.cfg.data.train_split!r} (no validation split)"
        return f"validation split {self.cfg.data.val_split!r}"

    def fit(self) -> Dict:
        cfg = self.cfg
        if self.dist.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            remove_stale_temp_files(self.out)  # of checkpoints interrupted mid-write
            save_config(cfg, self.out / "config.yaml")
        logger = RunLogger(self.out, cfg.log.tensorboard, enabled=self.dist.is_main,
                           every_steps=cfg.log.every_steps, progress=cfg.log.progress)
        if self.moved_aside is not None:
            logger.message(f"[{cfg.name}] --force: the earlier run in {self.out} "
                           f"was moved to {self.moved_aside}")
        if self.claim.note:
            logger.message(f"[{cfg.name}] {self.claim.note}")
        for change in self.config_changes:
            logger.message(f"[{cfg.name}] --resume --allow-config-change: {change}")
        logger.message(f"[{cfg.name}] mode={cfg.mode} model={cfg.model.name} params="
                       f"{sum(p.numel() for p in self.model.parameters()):,} ops: {self.ops.describe()}; "
                       f"{self.dist.world_size} process(es), global batch "
                       f"{cfg.data.batch_size * self.dist.world_size}" + (", resumed" if self.step else "")
                       + self._distill_description())
        for line in self._augment_lines():
            logger.message(f"[{cfg.name}] {line}")
        unused = unused_val_clips(cfg) if no_validation(cfg) else 0
        for line in selection_lines(cfg, self.selection_label(), len(self.val_set), unused):
            logger.message(f"[{cfg.name}] {line}")
        if self.teacher is not None and not self.step:
            self.teacher_check = check_teacher(self.teacher, self.train_set, self.val_set,
                                               cfg.data.eval_batch_size, self.device)
            for line in describe_teacher(self.teacher_check, cfg.teacher_checkpoint, self.selection_label()):
                logger.message(f"[{cfg.name}] {line}")
        stopped, test = False, {}
        try:
            while self.epoch < cfg.optim.epochs and not stopped:
                stopped = self._run_epoch(logger)
            if self.dist.is_main:
                test = self.evaluate_test() if not stopped else {}
                if test:
                    logger.message(f"[{cfg.name}] test top1 {100 * test['top1']:.2f}% "
                                   f"({test['split']}, {test['input'].upper()} input, "
                                   f"{test['checkpoint']} of epoch {test['best_epoch']}, "
                                   f"selected on the {test['selected_on']})")
                self._write_results(stopped, test)
        finally:
            logger.close()
            self.close()
        broadcast_buffers(self.model, self.dist)  # NB: every rank ends with rank 0's BatchNorm statistics
        barrier(self.dist)
        return {"best": self.best, "test": test, "selection": self.selection_label(), "history": self.history,
                "stopped": stopped, "output_dir": str(self.out)}

    def _distill_description(self) -> str:
        if self.cfg.mode != "distill":
            return ""
        revision = "on" if self.cfg.loss.gradient_revision else "off (losses summed)"
        return f"; teacher {self.cfg.teacher_checkpoint}, gradient revision {revision}"

    def _write_results(self, stopped: bool, test: Dict) -> None:
        """results.json: what the run reached (selection split, test split once), readable without torch."""
        prefix = f"{self.selection}_"
        last = next((row for row in reversed(self.history) if f"{prefix}top1" in row), {})
        results = {"name": self.cfg.name, "mode": self.cfg.mode, "model": self.cfg.model.name,
                   "epochs_done": self.epoch, "steps": self.step, "stopped_early": stopped,
                   "selection": self.selection_label(), "best": self.best, "test": test,
                   "last_eval": {k: v for k, v in last.items() if k.startswith(prefix) or k == "epoch"},
                   "world_size": self.dist.world_size, "checkpoints": {"best": "best.pt", "last": "last.pt"}}
        if self.teacher_check is not None:
            results["teacher_check"] = self.teacher_check
        atomic_write_json(self.out / "results.json", results)

    def _run_epoch(self, logger: RunLogger) -> bool:
        cfg = self.cfg
        if hasattr(self.train_set, "set_epoch"):
            self.train_set.set_epoch(self.epoch)
        batches = self._batches(self.epoch)
        carried = self.epoch_sums if self.step_in_epoch else {}  # a resume mid-epoch continues its sums
        sums: Dict[str, float] = dict(carried.get("sums", {}))
        start_time = time.perf_counter() - float(carried.get("time_s", 0.0))
        description = f"{cfg.name} epoch {self.epoch + 1}/{cfg.optim.epochs}"
        logger.begin_epoch(len(batches), self.step_in_epoch, description)
        done = int(carried.get("steps", 0))
        for hq, lq, labels in iterate(self.train_set, batches, self.step_in_epoch):
            values = self.train_step(hq, lq, labels)
            if not math.isfinite(values["loss"]):
                raise FloatingPointError(f"{cfg.name}: loss became {values['loss']} at step {self.step}; "
                                         "lower optim.lr or check the data")
            for k, v in values.items():
                sums[k] = sums.get(k, 0.0) + v
            done += 1
            self.step += 1
            self.step_in_epoch += 1
            logger.log_step(self.step, self.step_in_epoch, len(batches), values,
                            self.optimizer.param_groups[0]["lr"])
            self.epoch_sums = {"sums": dict(sums), "steps": done, "time_s": time.perf_counter() - start_time}
            if cfg.max_steps and self.step >= cfg.max_steps:
                self._save("last.pt")
                logger.end_epoch()
                return True
            if cfg.log.checkpoint_every_steps and self.step % cfg.log.checkpoint_every_steps == 0:
                self._save("last.pt")
        logger.end_epoch()
        row = {"epoch": self.epoch + 1, "step": self.step, "lr": self.optimizer.param_groups[0]["lr"],
               "time_s": round(time.perf_counter() - start_time, 2)}
        # NB: averaged over every rank's batches, not rank 0's only
        means = average_over_ranks({k: v / max(done, 1) for k, v in sums.items()}, self.dist)
        row.update({f"train_{k}": v for k, v in means.items()})
        self.epoch += 1
        self.step_in_epoch = 0
        self.epoch_sums = {}
        is_eval_epoch = self.epoch % cfg.log.eval_every == 0 or self.epoch == cfg.optim.epochs
        summary = (f"[{cfg.name}] epoch {self.epoch}/{cfg.optim.epochs}: "
                   f"train loss {row.get('train_loss', float('nan')):.3f} "
                   f"acc {100 * row.get('train_acc', 0):.1f}% ({row['time_s']:.0f} s)")
        if is_eval_epoch:
            metrics = self.evaluate()  # every rank: sharded, gathered
            prefix = self.selection  # NB: 'test_' columns only under data.select_on_test (reference)
            row.update({f"{prefix}_top1": metrics["top1"], f"{prefix}_top5": metrics["top5"],
                        f"{prefix}_loss": metrics["loss"]})
            summary += f" | {self.selection} ({self.input_name}) {format_metrics(metrics)}"
            if metrics["top1"] >= self.best.get("top1", -1.0) or no_validation(cfg):  # NB: no selection
                self.best = {"top1": metrics["top1"], "top5": metrics["top5"], "epoch": self.epoch,
                             "split": self.selection}
                summary += " best"
                self.history.append(row)
                self._save("best.pt")
            else:
                self.history.append(row)
        else:
            self.history.append(row)
        logger.message(summary)
        logger.log(row, self.step)
        self._save("last.pt")
        return False


def augment_seed(seed: int, step: int, rank: int) -> int:
    """The seed of step ``step``'s augmentation on ``rank`` (kept below 2**63)."""
    return (seed * 1_000_003 + step * 101 + rank) % 2**63


def train(cfg: ExperimentConfig, resume: bool = False, datasets=None, trust_checkpoint: bool = False,
          force: bool = False, allow_config_change: bool = False) -> Dict:
    """Run ``cfg`` to the end (or ``max_steps``); returns {'best' (on the selection split), 'test' (best.pt on
    the test split, after training), 'selection', 'history', 'stopped', 'output_dir'}.

    ``trust_checkpoint``: load the teacher / resume checkpoint even if it holds pickled objects. An
    ``output_dir`` that already holds a run raises RunExistsError unless ``resume`` (continue it) or
    ``force`` (move it aside to ``<dir>.old-<time>`` first). ``allow_config_change``: resume although the
    config differs from the checkpoint's (the changes are logged; refused otherwise).
    """
    trainer = Trainer(cfg, resume=resume, datasets=datasets, trust_checkpoint=trust_checkpoint, force=force,
                      allow_config_change=allow_config_change)
    return trainer.fit()
