"""The `skd` command line: train | distill | sweep | eval | robustness | plot | export | bench | demo |
ablation | prepare | configs | models | info."""
from __future__ import annotations

import argparse
import sys
import zipfile

from .commands.interrupt import INTERRUPTED_EXIT, interrupted_message
from .commands.plugins import add_plugin_argument, import_plugins
from .commands.spellings import british_override
from .commands.threads import add_threads_argument, apply_threads
from .nn.ops_choice import OPS
from .train.amp import AMP_MODES


def _info(args) -> int:
    import skdcore

    for key, value in skdcore.build_info().items():
        print(f"{key:>14}: {value}")
    return 0


def _config(args, mode=None):
    from .train import load_config

    overrides = [british_override(text) for text in args.set or []]
    if mode is not None:
        overrides.append(f"mode={mode}")
    if getattr(args, "teacher", None):
        overrides.append(f"teacher_checkpoint={args.teacher}")
    if getattr(args, "output_dir", None) is not None:
        from .output_paths import check_not_empty

        check_not_empty(args.output_dir, "--output-dir")  # NB: "" would mean the current folder
        overrides.append(f"output_dir={args.output_dir}")
    if getattr(args, "layout", None):
        overrides.append(f"data.layout={args.layout}")
    return load_config(args.config, overrides)


def _train(args, mode=None) -> int:
    from .train import train

    cfg = _config(args, mode)
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


def _distill(args) -> int:
    return _train(args, mode="distill")


def _command(module_name: str):
    """The run() of skdcore.commands.<module_name>; user errors (ValueError, missing files) exit 2."""
    def run(args) -> int:
        import importlib

        module = importlib.import_module(f".commands.{module_name}", __package__)
        try:
            return module.run(args)
        except (ValueError, FileNotFoundError) as error:
            print(f"skd {args.command}: error: {error}", file=sys.stderr)
            return 2

    return run


def _add_command(commands, name: str, help: str, module_name: str = None) -> None:
    import importlib

    parser = commands.add_parser(name, help=help)
    importlib.import_module(f".commands.{module_name or name}", __package__).add_arguments(parser)
    parser.set_defaults(func=_command(module_name or name))


def _bench(args) -> int:
    from .commands import bench

    return bench.run(args)


def _demo(args) -> int:
    from .demo import run_demo
    from .output_paths import check_output_dir

    check_output_dir(args.out, "--out")
    return run_demo(args)


def _ablation(args) -> int:
    from .demo import run_ablation_cli
    from .output_paths import check_output_dir

    check_output_dir(args.out, "--out")
    return run_ablation_cli(args)


def _add_run_arguments(parser: argparse.ArgumentParser, teacher: bool = False) -> None:
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
    _add_trust_argument(parser)
    add_threads_argument(parser)
    add_plugin_argument(parser)



def _add_trust_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trust-checkpoint", action="store_true",
                        help="load checkpoints that hold pickled Python objects (weights_only=False): "
                             "this can run code from the file, so only for files from a source you trust")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skd", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="print how this skdcore was built").set_defaults(func=_info)

    train = commands.add_parser(
        "train", help="train a model (teacher on HQ or LQ baseline; mode from the config)")
    _add_run_arguments(train)
    train.set_defaults(func=_train)

    distill = commands.add_parser("distill", help="train an SKD student from a frozen teacher")
    _add_run_arguments(distill, teacher=True)
    distill.set_defaults(func=_distill)

    _add_command(commands, "eval", "evaluate checkpoints side by side: top-1/top-5, mean class and per-class "
                 "accuracy, confusion matrices (--out), robustness curves (--robustness)")
    _add_command(commands, "sweep", "teacher, LQ baseline and SKD student over several seeds: one table with "
                 "mean +- std and the paired SKD - baseline difference (CSV/JSON)")
    _add_command(commands, "configs", "the shipped experiment configs; `skd configs NAME` prints one")
    _add_command(commands, "models", "the model names a config takes, and each one's model.args")
    _add_command(commands, "robustness",
                 "accuracy of checkpoints under every LQ corruption over a severity grid")
    _add_command(commands, "plot", "training curves (and confusion matrices) of any run directories")
    _add_command(commands, "infer", "actions in pose-estimator keypoints (file or stdin), a line per window")

    bench = commands.add_parser(
        "bench", help="time one SKD training step: skdcore ops vs pure-PyTorch reference")
    from .commands.bench import add_arguments as add_bench_arguments

    add_bench_arguments(bench)
    bench.set_defaults(func=_bench)

    demo = commands.add_parser(
        "demo", help="teacher, LQ baseline and SKD student on the embedded synthetic data")
    demo.add_argument("--out", default="runs/demo", help="output folder (data, checkpoints, plots)")
    demo.add_argument("--quick", action="store_true", help="a much smaller run (smoke test, ~1 minute)")
    demo.add_argument("--ablation", action="store_true",
                      help="also run the CE / +KL / +MSE / +GM / +GR ablation")
    demo.add_argument("--ops", choices=OPS, default="fused")
    demo.add_argument("--amp", choices=AMP_MODES, default="off",
                      help="mixed precision of the three trainings (train.amp); off: float32")
    demo.set_defaults(func=_demo)

    ablation = commands.add_parser("ablation", help="paper-style ablation: CE, +KL, +MSE, +GM, +GR")
    ablation.add_argument("--out", default="runs/demo", help="demo folder (reuses its data and teacher)")
    ablation.add_argument("--quick", action="store_true")
    ablation.add_argument("--ops", choices=OPS, default="fused")
    ablation.set_defaults(func=_ablation)

    from .commands import export as export_command

    export = commands.add_parser("export", help="a trained model as a .pt2 (fused ops) or ONNX file")
    export_command.add_arguments(export)
    export.set_defaults(func=export_command.run)

    from .commands import prepare as prepare_command

    prepare = commands.add_parser("prepare", help="raw dataset or your own arrays -> HQ+LQ arrays + manifest",
                                  epilog=prepare_command.UNTRUSTED_FILES_HELP,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    prepare_command.add_arguments(prepare)
    prepare.set_defaults(func=prepare_command.run)
    return parser


def user_errors() -> tuple:
    """The exception types that mean a user mistake (a bad value, file or folder), each with a message
    naming it and the fix: printed as one error line, exit code 2. Anything else is a bug: a traceback.
    FloatingPointError: the trainer's "loss became nan at step N; lower optim.lr or check the data"."""
    from .commands.plugins import PluginError
    from .data.manifest import PreparedDataError
    from .devices import DeviceError
    from .models.registry import ModelArgumentError
    from .output_paths import OutputPathError
    from .safe_names import UnsafeNameError
    from .train import CheckpointError, ConfigError
    from .train.run_dir import RunExistsError, RunLockedError

    return (ConfigError, CheckpointError, RunExistsError, RunLockedError, DeviceError, ModelArgumentError,
            PreparedDataError, OutputPathError, FloatingPointError, UnsafeNameError, PluginError)


def main(argv: list[str] | None = None) -> int:
    import errno

    args = build_parser().parse_args(argv)
    apply_threads(args)
    try:
        import_plugins(args)
        return args.func(args)
    except user_errors() as error:
        print(f"skd {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\n{interrupted_message(args, argv)}", file=sys.stderr)
        return INTERRUPTED_EXIT
    except zipfile.BadZipFile as error:  # any zip reader (.pt2, .pt, .npz): name the files given
        from .zip_errors import damaged_archive_message

        print(f"skd {args.command}: error: {damaged_archive_message(error, args)}", file=sys.stderr)
        return 2
    except OSError as error:
        from .atomic_io import disk_full

        if error.errno == errno.ELOOP:  # an output path is a planted link (atomic_io.open_no_follow)
            print(f"skd {args.command}: error: {error.strerror}", file=sys.stderr)
            return 2
        full = disk_full(error, getattr(error, "filename", None) or "an output file")
        if full.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        print(f"skd {args.command}: error: {full.strerror}", file=sys.stderr)  # a full disk: no traceback
        return 1


if __name__ == "__main__":
    sys.exit(main())
