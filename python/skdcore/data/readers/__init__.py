"""File readers for real skeleton datasets, your own arrays and the synthetic generator; importing
registers them as prepare sources. Shared pieces (ReaderError, SkeletonSource, size caps, safe
loaders): ``base``."""

from .arrays import ArraySource, read_array_files
from .base import LIMITS, ReaderError, ReadLimits, SkeletonSource, register_source
from .keypoint_files import read_keypoint_file
from .keypoints import KeypointSource
from .kinetics import KineticsSource, read_kinetics_json
from .ntu import NTUSource, is_training, parse_ntu_name, read_ntu_skeleton, read_skeleton_bodies
from .penn import PennActionSource, read_penn_mat
from .pyskl import PysklSource, annotation_to_clip, load_pyskl_annotations
from .safe_pickle import load_pickle
from .synthetic_source import SyntheticSource

__all__ = [
    "LIMITS",
    "ArraySource",
    "KeypointSource",
    "KineticsSource",
    "NTUSource",
    "PennActionSource",
    "PysklSource",
    "ReadLimits",
    "ReaderError",
    "SkeletonSource",
    "SyntheticSource",
    "annotation_to_clip",
    "is_training",
    "load_pickle",
    "load_pyskl_annotations",
    "parse_ntu_name",
    "read_array_files",
    "read_keypoint_file",
    "read_kinetics_json",
    "read_ntu_skeleton",
    "read_penn_mat",
    "read_skeleton_bodies",
    "register_source",
]
