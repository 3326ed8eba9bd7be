"""``skd prepare``: a raw dataset or your own arrays -> memory-mapped HQ+LQ arrays + manifest.

Your own skeletons::

    skd prepare --source arrays --input data.npz --layout layout.yaml --out data/mine --val-fraction 0.1
    skd prepare --source arrays --input X.npy --labels y.npy --layout layout.yaml --out data/mine \\
        --test-fraction 0.2 --val-fraction 0.1
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from ..data.lq import SKD_IMPUTATION_WINDOW, SKD_OCCLUSION_P
from ..data.lq_checks import check_lq_config
from ..data.prepare import prepare_dataset
from ..data.synthetic import ACTION_NAMES

LQ_PRESETS = {
    "skd": None,
    "jitter": {"name": "gaussian_jitter", "sigma": 0.02},
    "frame_drop": {"name": "frame_drop", "p": 0.5},
    "quantise": {"name": "quantise", "step": 0.05},
    "none": {"name": "compose", "steps": []},
}
SOURCES = ["synthetic", "arrays", "ntu", "kinetics", "pyskl", "penn", "keypoints"]
UNTRUSTED_FILES_HELP = """\
Untrusted files: input files are read as untrusted. A malformed, truncated or crafted file is skipped
with a reason naming the file (listed under 'skipped' in manifest.json and printed at the end;
--strict stops at the first one instead); sizes a file declares are capped before anything is
allocated, scipy parses .mat files in a child process (a crash costs that file only), and no clip
with NaN/Inf is written. PYSKL pickles are loaded with a restricted unpickler that allows only
builtin containers and numpy arrays: a pickle asking for anything else (which could run code) is
refused; --trust-pickle loads it with plain pickle, only for files from a source you trust."""


HELP = "raw dataset or your own arrays -> HQ+LQ arrays + manifest"
PARSER_OPTIONS = {"epilog": UNTRUSTED_FILES_HELP, "formatter_class": argparse.RawDescriptionHelpFormatter}
# what the readers and prepare_dataset raise for a bad input file or option, with a message naming it
USER_ERRORS = (ValueError, TypeError, FileExistsError, FileNotFoundError)


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--source",
        default="synthetic",
        choices=SOURCES,
        help="where clips come from (default: the embedded synthetic generator)",
    )
    parser.add_argument(
        "--input",
        help="raw data: arrays .npz (or X .npy with --labels), NTU .skeleton folder, "
        "Kinetics JSON folder, PYSKL .pkl, Penn labels folder, keypoints: folder of estimator files",
    )
    parser.add_argument("--labels", help="arrays: labels .npy (N,) when --input is an X .npy; keypoints: "
                        "labels.csv (file,label[,split][,subject])")
    from .prepare_keypoints import add_keypoint_arguments

    add_keypoint_arguments(parser)
    parser.add_argument(
        "--num-coords",
        type=int,
        help="arrays: leading channels that are coordinates (default min(C, 3); 2 for (x, y, score) data)",
    )
    parser.add_argument(
        "--layout",
        help="skeleton layout: a built-in name (ntu25, openpose18, coco17, penn13, halpe26, mediapipe33, "
        "h36m17, openpose25, kinect20) or a layout.yaml / .json (joint_names, edges, center); arrays, "
        "pyskl and keypoints",
    )
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--benchmark", help="NTU: xsub / xview (NTU60) / xset (NTU120); PYSKL: split prefix")
    parser.add_argument("--label-file", help="Kinetics: label index JSON")
    parser.add_argument("--missing-list", help="NTU: text file of sample names to skip")
    parser.add_argument("--num-samples", type=int, default=1600, help="synthetic: number of clips")
    parser.add_argument("--clip-frames", type=int, default=64, help="synthetic: frames per clip")
    parser.add_argument(
        "--num-classes",
        type=int,
        default=len(ACTION_NAMES),
        help=f"synthetic: number of classes (<= {len(ACTION_NAMES)})",
    )
    parser.add_argument(
        "--num-frames",
        type=int,
        default=None,
        help="stored frames T: cut/pad every clip to T (reference: 100). Default: keep each clip's "
        "frames (pad to the longest) where lengths are known, else 100; 0 = the default",
    )
    parser.add_argument("--lq", default="skd", help=f"LQ preset {sorted(LQ_PRESETS)} or a JSON config")
    parser.add_argument("--p", type=float, default=SKD_OCCLUSION_P,
                        help="occlusion probability of the 'skd' preset")
    parser.add_argument("--seed", type=int, default=0)
    normalise = parser.add_mutually_exclusive_group()
    normalise.add_argument(
        "--normalise",
        "--normalize",
        dest="normalise",
        action="store_true",
        default=None,
        help="centre on the layout's centre joint + rotation alignment (default: on for dataset "
        "readers and synthetic data, off for arrays)",
    )
    normalise.add_argument(
        "--no-normalise", "--no-normalize", dest="normalise", action="store_false",
        help="store coordinates as given"
    )
    parser.add_argument(
        "--val-fraction",
        type=float,
        default=0.0,
        help="hold this fraction of the train split out as split 'val' for model selection "
        "(by subject when known, else stratified by class; seeded), e.g. 0.1",
    )
    parser.add_argument(
        "--test-fraction",
        type=float,
        default=0.0,
        help="hold out a 'test' split too (for data without split names)",
    )
    parser.add_argument(
        "--holdout-from", help="split the held-out samples come from (default train / *_train)"
    )
    parser.add_argument("--chunk-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="overwrite a different existing configuration")
    parser.add_argument("--strict", action="store_true",
                        help="stop at the first malformed input file (default: skip it, count it and list it "
                             "with its reason in manifest.json)")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="PYSKL: load the pickle with plain pickle, which can run code from the file; "
                             "by default only builtin containers and numpy arrays are allowed (README: "
                             "Untrusted files)")
    return parser


def lq_from_args(args):
    if args.lq == "skd":
        config = {"name": "skd_occlusion", "p": args.p, "window": SKD_IMPUTATION_WINDOW}
        check_lq_config(config, "--p (of --lq skd)")
        return config
    if args.lq in LQ_PRESETS:
        return LQ_PRESETS[args.lq]
    try:
        config = json.loads(args.lq)
    except json.JSONDecodeError:
        raise ValueError(
            f"--lq: {args.lq!r} is neither a preset {sorted(LQ_PRESETS)} nor valid JSON"
        ) from None
    check_lq_config(config, "--lq")
    return config


def source_options(args) -> dict:
    if args.source != "keypoints":
        from .prepare_keypoints import refuse_keypoint_options

        refuse_keypoint_options(args)
    if args.source == "synthetic":
        if args.layout:
            raise ValueError("--layout does not apply to --source synthetic (its clips are NTU-25)")
        return {
            "num_samples": args.num_samples,
            "clip_frames": args.clip_frames,
            "num_classes": args.num_classes,
            "seed": args.seed,
        }
    if not args.input:
        raise ValueError(f"--source {args.source} needs --input PATH")
    if args.source == "arrays":
        return {"x": args.input, "labels": args.labels, "layout": args.layout, "num_coords": args.num_coords}
    if args.source == "keypoints":
        from .prepare_keypoints import keypoint_source_options

        return keypoint_source_options(args)
    if args.labels or args.num_coords:
        raise ValueError("--labels and --num-coords are for --source arrays (an X .npy with its labels .npy)")
    opts = {"root": args.input}
    if args.source == "ntu":
        opts["benchmarks"] = [args.benchmark] if args.benchmark else None
        opts["missing_list"] = args.missing_list
    elif args.source == "kinetics":
        opts["label_file"] = args.label_file
    elif args.source == "pyskl":
        if args.benchmark:
            opts["split_prefix"] = args.benchmark
        if args.layout:
            opts["layout"] = args.layout
        if getattr(args, "trust_pickle", False):
            opts["trust_pickle"] = True
    if args.layout and args.source != "pyskl":
        raise ValueError(f"--layout does not apply to --source {args.source} (its layout is fixed)")
    return opts


def run_prepare(args) -> dict:
    manifest = prepare_dataset(
        args.out,
        args.source,
        source_options(args),
        lq=lq_from_args(args),
        seed=args.seed,
        num_frames=args.num_frames or None,
        normalise=args.normalise,
        val_fraction=args.val_fraction,
        test_fraction=args.test_fraction,
        holdout_from=args.holdout_from,
        chunk_size=args.chunk_size,
        workers=args.workers,
        force=args.force,
        strict=getattr(args, "strict", False),
    )
    counts = manifest["counts"]
    layout = manifest["layout"]
    layout_name = layout["name"] if isinstance(layout, dict) else layout
    print(
        f"prepared {args.out}: {counts['valid']} clips ({counts['skipped']} skipped), "
        f"splits {counts['splits']}, "
        f"array {manifest['shape']}, layout {layout_name!r}"
    )
    for key, title in (("frames", "frames"), ("normalisation", "normalisation")):
        if key in manifest:
            print(f"  {title}: {manifest[key]['description']}")
    for name, info in manifest.get("holdouts", {}).items():
        print(
            f"  held out {name!r}: {info['count']} clips from {info['from']!r} "
            f"(by {info['by']}, seed {info['seed']})"
        )
    print_skipped_summary(manifest)
    return manifest


def print_skipped_summary(manifest: dict, show: int = 10) -> None:
    """The skipped input files with their reasons (the first ``show``; all are in manifest.json)."""
    skipped = manifest.get("skipped") or []
    if not skipped:
        return
    print(f"skipped {len(skipped)} malformed input file(s) (all listed under 'skipped' in manifest.json):")
    for entry in skipped[:show]:
        print(f"  {entry['key']}: {entry['error']}")
    if len(skipped) > show:
        print(f"  ... and {len(skipped) - show} more")


def run(args) -> int:
    from ..layouts import get_layout
    from ..output_paths import check_output_dir
    from ..train.run_dir import RunLock
    from .created_dir import removed_on_failure

    lock = None
    try:
        with removed_on_failure(args.out):
            check_output_dir(args.out, "--out")
            # NB: train's lock: one writer per folder, whichever command
            lock = RunLock(Path(args.out)).acquire()
            if args.layout:
                get_layout(args.layout)  # NB: before any input file is read
            manifest = run_prepare(args)
    finally:
        if lock is not None:
            lock.release()
    if manifest["counts"]["valid"] == 0:
        print(f"skd prepare: error: every input file was skipped ({manifest['counts']['skipped']}, reasons "
              f"above and in {args.out}/manifest.json): no clip to train on; fix or replace the files "
              "(--strict stops at the first)", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from .errors import run_command

    parser = add_arguments(argparse.ArgumentParser(prog="skd prepare", description=__doc__.splitlines()[0],
                                                   **PARSER_OPTIONS))
    parser.set_defaults(command="prepare")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    return run_command(sys.modules[__name__], parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
