"""File readers for real skeleton datasets; importing registers them as prepare sources."""
from .arrays import ArraySource, read_array_files
from .kinetics import KineticsSource, read_kinetics_json
from .ntu import NTUSource, is_training, parse_ntu_name, read_ntu_skeleton, read_skeleton_bodies
from .penn import PennActionSource, read_penn_mat
from .pyskl import PysklSource, annotation_to_clip, load_pyskl_annotations

__all__ = [
    "ArraySource",
    "KineticsSource", "NTUSource", "PennActionSource", "PysklSource", "annotation_to_clip", "is_training",
    "load_pyskl_annotations", "parse_ntu_name", "read_kinetics_json", "read_ntu_skeleton", "read_penn_mat",
    "read_array_files", "read_skeleton_bodies",
]
