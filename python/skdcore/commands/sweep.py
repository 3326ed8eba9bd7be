"""`skd sweep`: teacher, LQ baseline and SKD student for several seeds, then one paired table.

Each seed's runs go to ``<out>/{teacher,baseline,skd}_s<seed>`` (the student distils from the same seed's
teacher); the table gives every seed's test top-1, mean +- std, and SKD - baseline with its interval;
``<out>/sweep.csv`` and ``sweep.json`` hold the same. Finished runs are skipped when the command runs again.
"""
from __future__ import annotations

from pathlib import Path

from .plugins import add_plugin_argument
from .spellings import british_override
from .threads import add_threads_argument

HELP = ("teacher, LQ baseline and SKD student over several seeds: one table with mean +- std and the "
        "paired SKD - baseline difference (CSV/JSON)")
USER_ERRORS = (ValueError, FileNotFoundError)  # raised with a message naming the argument / file


def add_arguments(parser) -> None:
    parser.add_argument("--config", required=True, help="experiment YAML or a shipped config's name, e.g. "
                        "own_skeletons")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], metavar="SEED",
                        help="seeds to train each of teacher, baseline and SKD with (default: 0 1 2)")
    parser.add_argument("--out", default="runs/sweep",
                        help="folder of the runs and the table (default runs/sweep)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="override a config value for every run, e.g. --set optim.epochs=60")
    parser.add_argument("--layout", help="the data's skeleton layout (default: the one stored by prepare)")
    parser.add_argument("--trust-checkpoint", action="store_true",
                        help="load checkpoints that hold pickled Python objects (only from a source you "
                             "trust)")
    add_threads_argument(parser)
    add_plugin_argument(parser)


def run(args) -> int:
    from ..train.sweep import format_table, run_sweep

    overrides = [british_override(text) for text in args.set or []]
    if args.layout:
        overrides.append(f"data.layout={args.layout}")
    out = Path(args.out)
    summary = run_sweep(args.config, args.seeds, out, overrides, trust_checkpoint=args.trust_checkpoint)
    first = summary["runs"][next(iter(summary["runs"]))]
    print(f"\ntest top-1 (%) of {first['checkpoint']} per run; teacher on HQ, baseline and SKD on LQ")
    print(format_table(summary))
    print(f"written: {out / 'sweep.csv'}, {out / 'sweep.json'}")
    return 0
