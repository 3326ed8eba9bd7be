"""Skeleton data: embedded synthetic actions, dataset readers, LQ generation, prepared
HQ+LQ datasets and their torch Dataset.

Typical use::

    from skdcore.data import prepare_dataset, PairedSkeletonDataset, make_loader
    prepare_dataset("runs/data/synthetic", "synthetic", {"num_samples": 1600, "clip_frames": 48},
                    num_frames=None)
    train = PairedSkeletonDataset("runs/data/synthetic", split="train")
    for hq, lq, label in make_loader(train, batch_size=16): ...

Your own skeletons: ``prepare_dataset(out, ArraySource(X, y, layout="layout.yaml"), val_fraction=0.1)``
(docs/own-data.md).
"""
from .dataset import PairedSkeletonDataset, make_loader
from .holdout import hold_out
from .lq import (
    Compose,
    ConfidenceNoise,
    FrameDrop,
    GaussianJitter,
    JointSubset,
    Quantise,
    SKDOcclusion,
    build_lq,
    cut_or_pad,
    impute_clip,
    impute_window_mean,
    impute_window_mean_reference,
    sample_rng,
)
from .manifest import load_manifest, manifest_layout, verify_checksums
from .prepare import prepare_dataset
from .readers.arrays import ArraySource
from .sources import ReaderError, SkeletonSource, SyntheticSource, make_source
from .synthetic import ACTION_NAMES, SyntheticClips, make_synthetic_dataset, subject_split, synthesize_clip
from .transforms import (
    align_rotation,
    bones,
    center_on_joint,
    motion,
    pad_or_loop,
    pre_normalise,
    resample_uniform,
)

__all__ = [
    "ACTION_NAMES", "ArraySource", "hold_out", "manifest_layout",
    "Compose", "ConfidenceNoise", "FrameDrop", "GaussianJitter", "JointSubset",
    "PairedSkeletonDataset", "Quantise", "ReaderError", "SKDOcclusion", "SkeletonSource", "SyntheticClips",
    "SyntheticSource", "align_rotation", "bones", "build_lq", "center_on_joint",
    "cut_or_pad", "impute_clip", "impute_window_mean", "impute_window_mean_reference", "load_manifest",
    "make_loader", "make_source", "make_synthetic_dataset", "motion", "pad_or_loop", "pre_normalise",
    "prepare_dataset", "resample_uniform", "sample_rng", "subject_split", "synthesize_clip",
    "verify_checksums",
]
