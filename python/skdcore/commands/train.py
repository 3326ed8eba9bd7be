"""`skd train`: train a model from an experiment config (mode from the config: teacher, baseline, distill)."""
from __future__ import annotations

import argparse

from .plugins import add_plugin_argument
from .spellings import british_override
from .threads import add_threads_argument

HELP = "train a model (teacher on HQ or LQ baseline; mode from the config)"


def add_arguments(parser: argparse.ArgumentParser, teacher: bool = False) -> None:
    parser.add_argument("--config", required=True, help="experiment YAML file, or a shipped config's name "
                        "(`skd configs` lists them), e.g. own_skeletons")
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--resume", action="store_true",
                          help="continue exactly from <output_dir>/last.pt (a run stopped before its first "
                               "checkpoint starts again from scratch)")
    existing.add_argument("--force", action="store_true",
                          help="output_dir holds a run: move it aside to <dir>.old-<time> (never deleted) "
                               "and start again")
    parser.add_argument("--allow-config-change", action="store_true",
                        help="with --resume: continue although the config differs from the checkpoint's "
                             "(the changes are logged); refused otherwise")
    parser.add_argument("--output-dir", help="override output_dir")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="override a config value, e.g. --set optim.lr=0.05 --set data.batch_size=16")
    parser.add_argument("--layout", help="the data's skeleton layout (built-in name or layout.yaml); "
                                         "default: the one stored by prepare (overrides data.layout)")
    if teacher:
        parser.add_argument("--teacher", help="teacher checkpoint (overrides teacher_checkpoint)")
    add_trust_argument(parser)
    add_threads_argument(parser)
    add_plugin_argument(parser)


def add_trust_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trust-checkpoint", action="store_true",
                        help="load checkpoints that hold pickled Python objects (weights_only=False): "
                             "this can run code from the file, so only for files from a source you trust")


def config_from_args(args, mode=None):
    """The experiment config of --config with --set, --teacher, --output-dir, --layout (and ``mode``)."""
    from ..train import load_config

    overrides = [british_override(text) for text in args.set or []]
    if mode is not None:
        overrides.append(f"mode={mode}")
    if getattr(args, "teacher", None):
        overrides.append(f"teacher_checkpoint={args.teacher}")
    if getattr(args, "output_dir", None) is not None:
        from ..output_paths import check_not_empty

        check_not_empty(args.output_dir, "--output-dir")  # NB: "" would mean the current folder
        overrides.append(f"output_dir={args.output_dir}")
    if getattr(args, "layout", None):
        overrides.append(f"data.layout={args.layout}")
    return load_config(args.config, overrides)


def run(args, mode=None) -> int:
    from ..train import train

    cfg = config_from_args(args, mode)
    if args.command == "train" and cfg.mode == "distill" and mode is None:
        print("note: this config has mode: distill; `skd distill` is the same command")
    result = train(cfg, resume=args.resume, trust_checkpoint=args.trust_checkpoint, force=args.force,
                   allow_config_change=args.allow_config_change)
    best = result["best"]  # NB: the trainer itself has printed (and logged) the test split's result
    if best:
        print(f"[{cfg.name}] best.pt: epoch {best['epoch']}, top1 {100 * best['top1']:.2f}% on the "
              f"{result['selection']}; checkpoints in {cfg.output_dir}")
    if result["stopped"]:
        print(f"[{cfg.name}] stopped after max_steps={cfg.max_steps}; continue with --resume")
    return 0
