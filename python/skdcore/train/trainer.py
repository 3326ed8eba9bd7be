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
"""
from __future__ import annotations

import math
import os
import random
import time
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch

from ..atomic_io import atomic_write_json, remove_stale_temp_files
from ..devices import resolve_device
from ..evaluation.metrics import classification_metrics, evaluate, format_metrics, predict
from ..layouts import get_layout
from ..models import build_model, model_class
from .amp import MixedPrecision
from .batches import epoch_batches, iterate
from .checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_model_state,
    model_from_checkpoint,
    resume_state,
    save_checkpoint,
    set_rng_state,
    unwrap,
)
from .compile import compile_model
from .config import SELECT_ON_TEST_LABEL, ConfigError, ExperimentConfig, save_config
from .distiller import Distiller
from .distributed import (
    DistInfo,
    average_gradients,
    average_over_ranks,
    barrier,
    broadcast_buffers,
    gather_predictions,
    init_from_env,
    rank_device,
)
from .losses import LOSS_NAMES, cross_entropy
from .ops_select import select_ops
from .optim import build_optimizer, build_scheduler
from .run_dir import claim_run_dir
from .run_log import RunLogger
from .selection import no_validation, selection_lines
from .sync_batchnorm import convert_sync_batchnorm
from .teacher_check import check_teacher
from .teacher_check import describe as describe_teacher


def seed_everything(seed: int, deterministic: bool = False) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def open_datasets(cfg: ExperimentConfig):
    """(train, selection) PairedSkeletonDatasets; runs ``data.prepare`` first when the root is not prepared.

    The selection split is ``data.val_split``, or ``data.test_split`` under ``data.select_on_test``
    (the reference's behaviour). The test split is opened only at the end (:func:`open_test_set`).
    """
    from ..data import PairedSkeletonDataset, prepare_dataset

    root = Path(cfg.data.root)
    if not (root / "manifest.json").exists():
        if cfg.data.prepare is None:
            raise ConfigError(f"data.root {root} holds no prepared dataset; run `skd prepare --out {root}`, "
                              "point data.root at a prepared folder, or add a data.prepare section")
        try:
            prepare_dataset(root, **cfg.data.prepare)
        except (ValueError, TypeError) as error:
            raise ConfigError(f"data.prepare: {error}") from None
    check_splits(cfg, root)
    train = PairedSkeletonDataset(root, split=cfg.data.train_split, lq=cfg.data.lq, seed=cfg.seed,
                                  lq_config=cfg.data.lq_corruption)
    selection = selection_split(cfg)
    try:
        select = PairedSkeletonDataset(root, split=selection, lq="fixed")
    except ValueError as error:
        raise ConfigError(f"{error}. data.val_split={selection!r} selects best.pt: prepare a validation "
                          "split (skd prepare ... --val-fraction 0.1), set data.val_split to an existing "
                          "split or to null (no validation: every training clip trains, best.pt is the last "
                          f"epoch), or set data.select_on_test: true ({SELECT_ON_TEST_LABEL})") from None
    return train, select


def selection_split(cfg: ExperimentConfig) -> str:
    """The split best.pt is chosen on; with no validation split (``data.val_split: null``) the training
    split, whose fit is logged while best.pt follows the last epoch (:mod:`.selection`)."""
    if cfg.data.select_on_test or cfg.data.val_split is None:
        if no_validation(cfg):
            return cfg.data.train_split
        return cfg.data.test_split
    return cfg.data.val_split


def unused_val_clips(cfg: ExperimentConfig) -> int:
    """Clips of the prepared 'val' split, which a run without a validation split does not train on."""
    path = Path(cfg.data.root) / "split_val.npy"
    if cfg.data.train_split == "val" or not path.exists():
        return 0
    return int(np.load(path, mmap_mode="r").shape[0])


def check_splits(cfg: ExperimentConfig, root: Path) -> None:
    """The train and test splits exist (the test split is read only after training: a typo there would
    otherwise cost the whole run)."""
    known = sorted(p.stem[len("split_"):] for p in root.glob("split_*.npy"))
    for key in ("train_split", "test_split"):
        split = getattr(cfg.data, key)
        if split not in known:
            raise ConfigError(f"data.{key}: split {split!r} not in {root}; available splits: {known}")


def open_test_set(cfg: ExperimentConfig):
    from ..data import PairedSkeletonDataset

    return PairedSkeletonDataset(cfg.data.root, split=cfg.data.test_split, lq="fixed")


def data_layout(cfg: ExperimentConfig, dataset, layout=None, key: str = "data.layout (--layout)") -> dict:
    """The layout the model is built for, as plain data: ``layout`` (model.args.layout), ``data.layout``
    (an override) or the manifest's; an override must have the data's joints."""
    joints = dataset.data.shape[3]
    if layout is None and cfg.data.layout is None:
        return dataset.layout.to_dict()
    try:
        layout = get_layout(cfg.data.layout if layout is None else layout)
    except ValueError as error:
        raise ConfigError(f"{key}: {error}") from None
    if layout.num_joints != joints:
        raise ConfigError(f"{key}: layout {layout.name!r} has {layout.num_joints} joints but "
                          f"{cfg.data.root} holds V={joints}; give the layout the data was prepared with")
    return layout.to_dict()


def model_arguments(cfg: ExperimentConfig, dataset) -> dict:
    """cfg.model.args completed with what the data says: the classes, and what the model class reads
    from the clip shape and the layout (channels, persons, joints, graph).

    The layout is stored as a plain dict, so checkpoints and configs rebuild the same graph."""
    args = dict(cfg.model.args)
    N, channels, T, V, M = (len(dataset.data),) + tuple(dataset.data.shape[1:])
    clip_shape = (N, channels // 2, T, V, M)  # NB: the dataset stores LQ and HQ stacked on C
    layout = (data_layout(cfg, dataset, args.pop("layout"), "model.args.layout") if "layout" in args
              else data_layout(cfg, dataset))
    from_data = model_class(cfg.model.name).arguments_from_data(clip_shape, layout)
    return {"num_class": dataset.num_classes, **from_data, **args}


class Trainer:
    def __init__(self, cfg: ExperimentConfig, resume: bool = False, datasets=None,
                 trust_checkpoint: bool = False, force: bool = False):
        self.cfg = cfg
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

        self.teacher, self.teacher_check = None, None
        self.model_args = model_arguments(cfg, self.train_set)
        if cfg.mode == "distill":
            self.teacher = self._load_teacher()
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

    # -- set-up --------------------------------------------------------------------------------
    def _load_teacher(self):
        path = self.cfg.teacher_checkpoint
        if not path:
            raise ConfigError("mode: distill needs teacher_checkpoint: pass --teacher PATH or set "
                              "teacher_checkpoint (train one with `skd train` on a mode: teacher config)")
        ckpt = load_checkpoint(path, trust=self.trust_checkpoint)
        teacher = model_from_checkpoint(ckpt, path, ops=self.cfg.ops)
        load_model_state(teacher, ckpt, path)
        for p in teacher.parameters():
            p.requires_grad_(False)
        if teacher.num_class != self.num_classes:
            raise CheckpointError(f"teacher {path} predicts {teacher.num_class} classes "
                                  f"but the data has {self.num_classes}")
        return teacher.to(self.device).eval()

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
        load_model_state(self.model, ckpt, path, model_name=self.cfg.model.name)
        state = resume_state(ckpt, path)
        if state["mode"] not in (None, self.cfg.mode):
            raise CheckpointError(f"{path} comes from a mode={state['mode']!r} run, "
                                  f"this run is mode={self.cfg.mode!r}")
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.epoch, self.step, self.step_in_epoch = state["epoch"], state["step"], state["step_in_epoch"]
        self.best, self.history, self.epoch_sums = state["best"], state["history"], state["epoch_sums"]
        self.amp.load_state_dict(state["amp_scaler"])
        set_rng_state(state["rng"])

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
        logger.message(f"[{cfg.name}] mode={cfg.mode} model={cfg.model.name} params="
                       f"{sum(p.numel() for p in self.model.parameters()):,} ops: {self.ops.describe()}; "
                       f"{self.dist.world_size} process(es), global batch "
                       f"{cfg.data.batch_size * self.dist.world_size}" + (", resumed" if self.step else "")
                       + self._distill_description())
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


def train(cfg: ExperimentConfig, resume: bool = False, datasets=None, trust_checkpoint: bool = False,
          force: bool = False) -> Dict:
    """Run ``cfg`` to the end (or ``max_steps``); returns {'best' (on the selection split), 'test' (best.pt on
    the test split, after training), 'selection', 'history', 'stopped', 'output_dir'}.

    ``trust_checkpoint``: load the teacher / resume checkpoint even if it holds pickled objects. An
    ``output_dir`` that already holds a run raises RunExistsError unless ``resume`` (continue it) or
    ``force`` (move it aside to ``<dir>.old-<time>`` first).
    """
    trainer = Trainer(cfg, resume=resume, datasets=datasets, trust_checkpoint=trust_checkpoint, force=force)
    return trainer.fit()
