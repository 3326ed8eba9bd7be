"""The `skd prepare --source keypoints` options: a folder of pose-estimator outputs + labels.csv
(docs/pose-estimators.md)."""

from __future__ import annotations

from ..data.lq import SKD_IMPUTATION_WINDOW
from ..data.readers.person_tracks import DEFAULT_SCORE_THRESHOLD
from .argument_types import positive_int


def add_keypoint_arguments(parser) -> None:
    parser.add_argument(
        "--max-persons",
        type=positive_int,
        default=None,
        help="keypoints: person slots per clip, tracked by track id or nearest centre (default 1)",
    )
    parser.add_argument(
        "--score-threshold",
        type=float,
        default=None,
        help=f"keypoints: a joint scored below this is missing (default {DEFAULT_SCORE_THRESHOLD})",
    )


def refuse_keypoint_options(args) -> None:
    """--max-persons / --score-threshold on another source: an error, never silently ignored."""
    given = [flag for flag, value in (("--max-persons", args.max_persons),
                                      ("--score-threshold", args.score_threshold)) if value is not None]
    if given:
        raise ValueError(f"{' and '.join(given)} apply to --source keypoints only (pose-estimator files), "
                         f"not --source {args.source}: leave them out")


def keypoint_source_options(args) -> dict:
    if args.num_coords:
        raise ValueError("--num-coords is for --source arrays; keypoint files say their coordinates")
    if not args.labels:
        raise ValueError(
            "--source keypoints needs --labels labels.csv (columns file,label[,split][,subject])"
        )
    if not args.layout:
        raise ValueError(
            "--source keypoints needs --layout: the estimator's joints (coco17, halpe26, "
            "mediapipe33, h36m17, openpose25, kinect20, ...) or a layout.yaml"
        )
    return {
        "root": args.input,
        "labels": args.labels,
        "layout": args.layout,
        "max_persons": args.max_persons or 1,
        "score_threshold": DEFAULT_SCORE_THRESHOLD if args.score_threshold is None else args.score_threshold,
        "imputation_window": SKD_IMPUTATION_WINDOW,
    }
