"""Fuzzing the dataset readers: seeded mutations of small valid files, each read by a child process.

``run_fuzz(reader, count, seed)`` writes ``count`` mutated inputs for one reader (NTU ``.skeleton``,
Kinetics JSON, PYSKL pickle, Penn ``.mat``, an arrays ``.npz``), reads every one through its prepare
source (the constructor, ``load`` of every sample, ``splits``) in a child process, and returns a
Counter of outcomes:

- ``ok``: read cleanly, every clip finite;    ``reader_error``: refused with a ReaderError;
- ``nonfinite``: read, but a clip holds NaN/Inf;  ``error:<Type>``: any other exception;
- ``executed``: a malicious payload ran (it creates a marker file);
- ``unnamed``: refused with a ReaderError whose message does not name the file;
- ``crash``: the child died (a signal); ``hang``: a case took longer than ``case_timeout``.

A crash or hang restarts the child at the next case, so the counts cover every case. The child's
address space is capped (``CHILD_MEMORY_BYTES`` above what it has after start-up), so a memory bomb
ends as an outcome instead of exhausting the machine.
Mutations: truncation, byte flips / inserts / deletions, type-confused fields, huge declared
counts, deep nesting, (pickles) payloads that try to run code, hand-made pickles that attack the
unpickler itself (:func:`crafted_pickle`) and memo graph shapes (a list holding itself, shared lists),
(.npz) headers declaring huge arrays, (layout / config YAML, :mod:`fuzz_yaml`) alias bombs, aliases of
an enclosing node, deep nesting and thousands of joints.

    python tests/data/fuzz_readers.py [ntu kinetics pyskl penn arrays layout config] [--count 300] [--seed 0]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import random
import select
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data_formats import ntu_body, write_kinetics_json, write_ntu_skeleton, write_penn_mat  # noqa: E402
from fuzz_yaml import config_case, config_valid, layout_case, layout_valid  # noqa: E402

READERS = ("ntu", "kinetics", "pyskl", "penn", "arrays", "layout", "config")
MARKER = "EXECUTED"
FILE_NAMES = {
    "ntu": "S001C001P001R001A001.skeleton",
    "kinetics": "clip.json",
    "pyskl": "ann.pkl",
    "penn": "0001.mat",
    "arrays": "clips.npz",
    "layout": "layout.yaml",
    "config": "config.yaml",
}
CHILD_MEMORY_BYTES = 3 << 30


# --------------------------------------------------------------------------- byte-level mutations
def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    data = bytearray(data)
    kind = rng.choice(["truncate", "flip", "flip", "random_bytes", "insert", "delete", "duplicate", "fill"])
    n = len(data)
    if kind == "truncate":
        return bytes(data[: rng.randrange(n)])
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(n)] ^= 1 << rng.randrange(8)
    elif kind == "random_bytes":
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(n)] = rng.randrange(256)
    elif kind == "insert":
        pos = rng.randrange(n)
        data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    elif kind == "delete":
        pos = rng.randrange(n)
        del data[pos : pos + rng.randint(1, 64)]
    elif kind == "duplicate":
        pos = rng.randrange(n)
        data[pos:pos] = data[pos : pos + rng.randint(1, 256)]
    else:
        pos = rng.randrange(n)
        data[pos : pos + rng.randint(1, 32)] = bytes([rng.choice((0, 0xFF))]) * rng.randint(1, 32)
    return bytes(data)


# --------------------------------------------------------------------------- NTU .skeleton
def ntu_valid(tmp: Path) -> bytes:
    rng = np.random.default_rng(0)
    path = write_ntu_skeleton(
        tmp / FILE_NAMES["ntu"],
        {"7": (np.arange(6), ntu_body(rng, 6)), "8": (np.arange(2, 6), ntu_body(rng, 4, offset=(1, 0, 3)))},
        6,
    )
    return path.read_bytes()


NTU_TOKENS = [
    "1000000000000",
    "-1",
    "0",
    "nan",
    "inf",
    "-inf",
    "1e309",
    "abc",
    "",
    "2.5",
    "9" * 40,
    "0x10",
    "25 25",
]


def ntu_case(rng: random.Random, valid: bytes, marker: str) -> bytes:
    kind = rng.choice(["bytes", "bytes", "token", "token", "line", "count", "encoding", "long_line"])
    if kind == "bytes":
        return mutate_bytes(rng, valid)
    lines = valid.decode().splitlines()
    if kind == "token":
        i = rng.randrange(len(lines))
        parts = lines[i].split()
        parts[rng.randrange(len(parts))] = rng.choice(NTU_TOKENS)
        lines[i] = " ".join(parts)
    elif kind == "line":
        i = rng.randrange(len(lines))
        op = rng.choice(["delete", "duplicate", "blank", "swap"])
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "blank":
            lines.insert(i, " ")
        else:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
    elif kind == "count":  # a huge or odd declared count (frames, bodies, joints) on a count line
        counts = [i for i, line in enumerate(lines) if len(line.split()) == 1]
        lines[rng.choice(counts)] = rng.choice(["1000000000000", "100000000", "2147483648", "-5", "1000000"])
    elif kind == "encoding":
        return (
            valid[: rng.randrange(len(valid))]
            + bytes([0xFF, 0xFE, 0x80])
            + valid[rng.randrange(len(valid)) :]
        )
    else:
        return valid[:20] + b"1" * rng.choice([10_000, 1_000_000]) + valid[20:]
    return ("\n".join(lines) + "\n").encode()


# --------------------------------------------------------------------------- Kinetics JSON
def kinetics_valid(tmp: Path) -> bytes:
    rng = np.random.default_rng(1)
    poses, scores = rng.uniform(0.1, 0.9, (4, 2, 18, 2)), rng.uniform(0.1, 1, (4, 2, 18))
    return write_kinetics_json(tmp / FILE_NAMES["kinetics"], poses, scores, label_index=3).read_bytes()


JSON_CONFUSERS = [
    None,
    "x",
    1e308,
    -1,
    0,
    10**12,
    2**70,
    [],
    {},
    [[1]],
    True,
    1.5,
    float("nan"),
    float("inf"),
    [None] * 36,
    ["0.5"] * 36,
    [[0.5]] * 36,
    {"pose": 1},
]


def _paths(value, prefix=()):
    """Every (path, value) in a JSON-like tree; lists contribute at most 3 members."""
    yield prefix, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i in sorted({0, len(value) // 2, len(value) - 1}) if value else ():
            yield from _paths(value[i], prefix + (i,))


def _replace(tree, path, value):
    if not path:
        return value
    node = tree
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return tree


def _delete(tree, path):
    node = tree
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return tree


def kinetics_case(rng: random.Random, valid: bytes, marker: str) -> bytes:
    kind = rng.choice(["bytes", "bytes", "field", "field", "field", "delete", "deep", "huge"])
    if kind == "bytes":
        return mutate_bytes(rng, valid)
    tree = json.loads(valid)
    paths = [p for p, _ in _paths(tree)]
    if kind == "field":
        tree = _replace(tree, rng.choice(paths), rng.choice(JSON_CONFUSERS))
    elif kind == "delete":
        tree = _delete(tree, rng.choice([p for p in paths if p]))
    elif kind == "deep":
        depth = rng.choice([1000, 100_000])
        nested = (
            "[" * depth + "1" + "]" * depth if rng.random() < 0.5 else '{"a":' * depth + "1" + "}" * depth
        )
        text = json.dumps(_replace(tree, rng.choice(paths), "@@"))
        return text.replace('"@@"', nested).encode()
    else:  # huge frame index / many frames declared
        frame = rng.randrange(len(tree["data"]))
        tree["data"][frame]["frame_index"] = rng.choice([10**12, 2**63, 300, 301, -(10**12), 10**400])
    return json.dumps(tree).encode()


# --------------------------------------------------------------------------- PYSKL pickle
def pyskl_valid_object() -> dict:
    rng = np.random.default_rng(2)
    anns = [
        {
            "frame_dir": f"v{i}",
            "label": i,
            "total_frames": 6,
            "img_shape": (480, 640),
            "keypoint": rng.uniform(0, 100, (2, 6, 17, 2)).astype(np.float32),
            "keypoint_score": rng.uniform(0, 1, (2, 6, 17)).astype(np.float32),
        }
        for i in range(3)
    ]
    return {"split": {"xsub_train": ["v0", "v1"], "xsub_val": ["v2"]}, "annotations": anns}


def pyskl_valid(tmp: Path) -> bytes:
    return pickle.dumps(pyskl_valid_object(), protocol=4)


class _Reduce:
    """Pickles as ``func(*args)`` (``state``: then BUILD), whatever func is: a hand-made payload."""

    def __init__(self, func, args, state=None):
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        return (self.func, self.args) if self.state is None else (self.func, self.args, self.state)


def _malicious(rng: random.Random, marker: str) -> object:
    code = f"open({marker!r}, 'w').close()"
    return rng.choice(
        [
            _Reduce(open, (marker, "w")),
            _Reduce(eval, (code,)),
            _Reduce(exec, (code,)),
            _Reduce(os.system, (f"touch {marker}",)),
            _Reduce(getattr, (Path(marker), "touch")),
        ]
    )


def _huge_opcodes(rng: random.Random) -> bytes:
    """Raw pickles whose opcodes declare 10^12 bytes (or more) of data."""
    big = struct.pack("<Q", 10**12)
    return rng.choice(
        [
            b"\x80\x04\x8e" + big + b"abc.",  # BINBYTES8
            b"\x80\x04\x8d" + big + b"abc.",  # BINUNICODE8
            b"\x80\x04\x95" + big + b"}.",  # FRAME
            b"\x80\x02\x8b" + struct.pack("<i", 2**31 - 1) + b"\x01.",  # LONG4
            b"\x80\x04\x96" + big + b".",  # BYTEARRAY8
            b"\x80\x02T" + struct.pack("<i", 2**31 - 1) + b"x.",  # BINSTRING
        ]
    )


def _numpy_confusers(rng: random.Random):
    from numpy._core.multiarray import _reconstruct  # the global numpy's own pickles use

    return rng.choice(
        [
            np.zeros((2, 0, 17, 2), np.float32),
            np.zeros((1, 2, 17, 2), dtype=object),
            np.full((2, 6, 17, 2), np.nan),
            np.zeros((2, 6, 17, 2), np.complex64),
            np.ones(5, bool),
            np.array(["a", "b"]),
            np.zeros((2, 6, 17, 2), "M8[s]"),
            np.zeros((2, 6, 17, 7), np.float32),
            np.zeros((2, 6, 25, 3), np.float16),
            np.float64(np.inf),
            np.zeros((1,) * 32),
            np.zeros((2, 6, 17, 2), np.float32)[:, ::2],
            _Reduce(
                _reconstruct, (np.ndarray, (0,), b"b"), (1, (10**6, 10**6), np.dtype("float32"), False, b"")
            ),
            _Reduce(
                _reconstruct,
                (np.ndarray, (0,), b"b"),
                (1, (2, 6, 17, 2), np.dtype("float32"), False, b"\0" * 16),
            ),
            [[[[0.0, 0.0]] * 17] * 100_000] * 100_000,  # 3.4e11 numbers from ~1 MB: memo references
        ]
    )


def _annotation(name: str, keypoint) -> dict:
    return {"frame_dir": name, "label": 0, "total_frames": 6, "keypoint": keypoint}


def crafted_pickle(kind: str, count: int = 100_000) -> bytes:
    """Hand-made PYSKL pickles that attack the unpickler or multiply a small file through the memo:

    - ``dtype_subarray``: a keypoint array whose dtype state (BUILD) claims a sub-array of 10^6 float64
      over its 8 bytes: numpy's own __setstate__ then reads and writes past its buffer;
    - ``memo_index``: a 9-byte pickle storing None at memo index 2^28 (the C unpickler allocates a
      table of 2^28 slots);
    - ``shared_annotation``: one annotation dict listed ``count`` times;
    - ``shared_keypoint``: ``count`` // 100 distinct annotations sharing one (1, 300, 17, 2) keypoint list;
    - ``shared_bytes``: ``count`` // 10 distinct arrays built over one memoised block of bytes;
    - ``empty_array_p2``: a valid file, protocol 2, with an empty array (written with builtins.bytes).
    """
    from numpy._core.multiarray import _reconstruct

    valid = pyskl_valid_object()
    if kind == "dtype_subarray":
        dtype = _Reduce(
            np.dtype, ("f8", False, True), (3, "<", (np.dtype("f8"), (10**6,)), None, None, 8, 8, 0)
        )
        array = _Reduce(
            _reconstruct, (np.ndarray, (0,), b"b"), (1, (1, 1, 17, 2), dtype, False, b"\x01" * 272)
        )
        valid["annotations"][0]["keypoint"] = array
        del valid["annotations"][0]["keypoint_score"]  # scores then come from the keypoints: all read
        return pickle.dumps(valid, protocol=2)
    if kind == "memo_index":
        return b"\x80\x02N" + b"r" + struct.pack("<I", 2**28) + b"."
    if kind == "shared_annotation":
        return pickle.dumps({"split": {}, "annotations": [valid["annotations"][0]] * count}, protocol=4)
    if kind == "shared_keypoint":
        keypoint = [[[[0.5, 0.5]] * 17] * 300]
        anns = [_annotation(f"video_{i:040d}", keypoint) for i in range(count // 100)]
        return pickle.dumps({"split": {}, "annotations": anns}, protocol=4)
    if kind == "shared_bytes":
        raw = np.ones((1, 300, 17, 2), np.float32).tobytes()
        arrays = [
            _Reduce(_reconstruct, (np.ndarray, (0,), b"b"), (1, (1, 300, 17, 2), np.dtype("f4"), False, raw))
            for _ in range(count // 10)
        ]
        anns = [_annotation(f"v{i}", a) for i, a in enumerate(arrays)]
        return pickle.dumps({"split": {}, "annotations": anns}, protocol=4)
    if kind == "empty_array_p2":
        valid["annotations"][0]["empty"] = np.zeros((0,), np.float32)
        return pickle.dumps(valid, protocol=2)
    raise ValueError(f"unknown crafted pickle {kind!r}")


CRAFTED_PICKLES = (
    "dtype_subarray",
    "memo_index",
    "shared_annotation",
    "shared_keypoint",
    "shared_bytes",
    "empty_array_p2",
)


PICKLE_CONFUSERS = [
    None,
    "x",
    1e308,
    -1,
    10**12,
    2**100,
    [],
    {},
    [[1.0]],
    (1, 2),
    {"a"},
    b"bytes",
    1 + 2j,
    float("nan"),
    True,
    [None] * 3,
]


def pyskl_case(rng: random.Random, valid: bytes, marker: str) -> bytes:
    kind = rng.choice(
        [
            "bytes",
            "bytes",
            "field",
            "field",
            "numpy",
            "numpy",
            "delete",
            "malicious",
            "opcodes",
            "deep",
            "crafted",
            "memo_graph",
        ]
    )
    if kind == "bytes":
        return mutate_bytes(rng, valid)
    if kind == "opcodes":
        return _huge_opcodes(rng)
    if kind == "crafted":
        return crafted_pickle(rng.choice(CRAFTED_PICKLES), count=rng.choice([1000, 100_000]))
    tree = pyskl_valid_object()
    if kind == "memo_graph":
        return _memo_graph(rng, tree)
    paths = [p for p, _ in _paths(tree)]
    if kind == "field":
        tree = _replace(tree, rng.choice(paths), rng.choice(PICKLE_CONFUSERS))
    elif kind == "numpy":
        key = rng.choice(["keypoint", "keypoint_score", "label", "total_frames", "frame_dir"])
        tree["annotations"][rng.randrange(3)][key] = _numpy_confusers(rng)
    elif kind == "delete":
        tree = _delete(tree, rng.choice([p for p in paths if p]))
    elif kind == "malicious":
        where = rng.choice([(), ("annotations",), ("annotations", 0, "keypoint"), ("split",)])
        tree = _replace(tree, where, _malicious(rng, marker))
    else:  # deep nesting: a list inside a list ... 10^5 deep (pickle builds it without recursion)
        nested: list = [1.0]
        for _ in range(rng.choice([1000, 20_000])):
            nested = [nested]
        tree["annotations"][rng.randrange(3)][rng.choice(["keypoint", "label"])] = nested
    try:
        return pickle.dumps(tree, protocol=rng.choice([2, 4, 5]))
    except RecursionError:  # the pickler recurses: build the deep list (20,000 levels) by hand instead
        return b"\x80\x02" + b"]" * 20_000 + b"G?\xf0\x00\x00\x00\x00\x00\x00" + b"a" * 20_000 + b"."


def _memo_graph(rng: random.Random, tree: dict) -> bytes:
    """Pickle graph shapes a memo makes small: a list holding itself, a list shared 2^k times down a
    chain (a DAG of 2^k leaves in k levels), split lists shared by hundreds of split names."""
    shape = rng.choice(["self", "dag", "splits"])
    annotation = tree["annotations"][rng.randrange(len(tree["annotations"]))]
    if shape == "self":
        looped: list = []
        looped.append(looped if rng.random() < 0.5 else [looped])
        annotation[rng.choice(["keypoint", "keypoint_score"])] = looped
    elif shape == "dag":
        shared: list = [1.0]
        for _ in range(rng.choice([20, 40])):
            shared = [shared, shared]
        annotation[rng.choice(["keypoint", "keypoint_score"])] = shared
    else:
        members = [a["frame_dir"] for a in tree["annotations"]] * rng.choice([10, 1_000])
        tree["split"] = {f"s{i}": members for i in range(rng.choice([20, 300, 3_000]))}
    return pickle.dumps(tree, protocol=rng.choice([2, 4, 5]))


# --------------------------------------------------------------------------- Penn .mat
PENN_FIELD_CONFUSERS = {
    "action": [5, np.array(["squat", "x"], dtype=object), "", "squat\0", np.zeros((3, 3)), {"a": 1}],
    "x": [
        "text",
        np.zeros((5, 13, 2)),
        np.full((5, 13), np.nan),
        np.zeros((0, 13)),
        np.zeros((5, 12)),
        np.array([[1 + 2j] * 13] * 5),
        {"a": np.zeros(3)},
        np.zeros((5, 13), dtype=np.int8),
        np.array([], dtype=object),
    ],
    "visibility": [np.zeros((5, 13)), np.full((5, 13), np.inf), "yes", np.zeros((4, 13))],
    "train": ["yes", np.array([[1, 2]]), np.zeros((0,)), np.nan, 10**12, {"x": 1}],
    "dimensions": [
        np.array([0, 0, 5]),
        np.array([-1, 640, 5]),
        np.array([np.inf, 640, 5]),
        np.array([1e-300, 1e-300, 5]),
        np.array([480]),
        "480x640",
        np.array([np.nan, np.nan, 5]),
        np.array([480, 0, 5]),
    ],
}


def _penn_arrays():
    rng = np.random.default_rng(3)
    return {
        "action": "squat",
        "x": rng.uniform(0, 640, (5, 13)),
        "y": rng.uniform(0, 480, (5, 13)),
        "visibility": np.ones((5, 13)),
        "train": 1,
        "nframes": 5,
        "dimensions": np.array([480, 640, 5]),
    }


def _savemat(fields: dict, compress: bool = False) -> bytes:
    import scipy.io

    buffer = io.BytesIO()
    scipy.io.savemat(buffer, fields, do_compression=compress)
    return buffer.getvalue()


def penn_valid(tmp: Path) -> bytes:
    rng = np.random.default_rng(3)
    x, y = rng.uniform(0, 640, (5, 13)), rng.uniform(0, 480, (5, 13))
    return write_penn_mat(tmp / FILE_NAMES["penn"], x, y, np.ones((5, 13))).read_bytes()


def penn_case(rng: random.Random, valid: bytes, marker: str) -> bytes:
    kind = rng.choice(["bytes", "bytes", "bytes", "compressed", "field", "field", "delete", "huge"])
    if kind == "bytes":
        return mutate_bytes(rng, valid)
    fields = _penn_arrays()
    if kind == "compressed":
        return mutate_bytes(rng, _savemat(fields, compress=True))
    if kind == "field":
        name = rng.choice(sorted(PENN_FIELD_CONFUSERS))
        fields[name] = rng.choice(PENN_FIELD_CONFUSERS[name])
    elif kind == "delete":
        del fields[rng.choice(["action", "x", "y", "visibility", "train", "dimensions"])]
    else:  # the (5, 13) dimension words of the arrays declare 2^30 or 2^31-1 rows
        data = _savemat(fields)
        dims = struct.pack("<ii", 5, 13)
        huge = struct.pack("<ii", rng.choice([2**30, 2**31 - 1, 10**9]), 13)
        return data.replace(dims, huge, rng.choice([1, 2, 3]))
    try:
        return _savemat(fields)
    except Exception:  # noqa: BLE001  (scipy cannot write that confuser: keep the valid file, flipped)
        return mutate_bytes(rng, valid)


# --------------------------------------------------------------------------- arrays .npz
def _arrays_fields() -> dict:
    rng = np.random.default_rng(4)
    return {
        "x": rng.normal(size=(4, 3, 6, 25, 2)).astype(np.float32),
        "labels": np.arange(4) % 2,
        "split": np.array(["train", "train", "test", "test"]),
    }


def savez_bytes(fields: dict, compress: bool = False) -> bytes:
    buffer = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(buffer, **fields)
    return buffer.getvalue()


def npy_bytes(shape, descr: str = "<f4", data: bytes = b"") -> bytes:
    """A .npy whose header declares ``shape`` whatever ``data`` follows."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue() + data


def npz_of(members: dict, compress: bool = False) -> bytes:
    """A zip of raw members {name: bytes} (names as np.savez writes them: 'x.npy')."""
    import zipfile

    buffer = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


ARRAY_CONFUSERS = {
    "x": [
        np.full((4, 3, 6, 25, 2), np.nan, np.float32),
        np.zeros((4, 3, 6), np.float32),
        np.zeros((0, 3, 6, 25, 2), np.float32),
        np.zeros((4, 3, 6, 25, 2), np.complex64),
        np.array(["a", "b"]),
        np.zeros((4, 25, 6, 3), np.float32),
        np.zeros((4, 3, 6, 25, 2), "M8[s]"),
        np.ones((4, 3, 0, 25, 2), np.float32),
        np.float32(1.0),
    ],
    "labels": [
        np.array([-1, 0, 1, 0]),
        np.array([0.5, 1, 2, 3]),
        np.arange(3),
        np.array(["a", "b", "c", "d"]),
        np.zeros((4, 2), np.int64),
        np.array([np.nan] * 4),
        np.array([2**62] * 4),
    ],
    "split": [np.arange(4), np.array(["train"]), np.zeros((4, 2))],
    "lengths": [np.zeros(4, np.int64), np.full(4, 100), np.array([-1, 2, 3, 4]), np.ones(4, np.float32)],
    "subjects": [np.arange(3), np.zeros((4, 4))],
    "label_names": [np.array(["a"]), np.array([1, 2])],
}


def ragged_clips() -> np.ndarray:
    """Two clips of different lengths in an object array (np.save pickles it)."""
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = np.zeros((3, 6, 25, 2)), np.zeros((3, 4, 25, 2))
    return ragged


def arrays_valid(tmp: Path) -> bytes:
    return savez_bytes(_arrays_fields())


def arrays_case(rng: random.Random, valid: bytes, marker: str) -> bytes:
    kind = rng.choice(
        ["bytes", "bytes", "bytes", "compressed", "field", "field", "delete", "header", "objects", "benign"]
    )
    if kind == "bytes":
        return mutate_bytes(rng, valid)
    fields = _arrays_fields()
    if kind == "benign":  # still a valid input: other dtypes, optional fields, compression
        fields["x"] = fields["x"].astype(rng.choice([np.float64, np.float16, np.int16]))
        fields["labels"] = fields["labels"].astype(rng.choice([np.int32, np.uint8, np.float64]))
        fields.update(
            rng.choice([{}, {"subjects": np.array([1, 2, 1, 2])}, {"label_names": np.array(["a", "b"])}])
        )
        return savez_bytes(fields, compress=rng.random() < 0.5)
    if kind == "compressed":
        return mutate_bytes(rng, savez_bytes(fields, compress=True))
    if kind == "field":
        name = rng.choice(sorted(ARRAY_CONFUSERS))
        fields[name] = rng.choice(ARRAY_CONFUSERS[name])
    elif kind == "delete":
        del fields[rng.choice(["x", "labels"])]
    elif kind == "objects":  # an object array: np.load would unpickle it
        fields["x"] = ragged_clips()
    else:  # a header declaring a huge array over the few bytes that follow it
        shape = rng.choice([(10**6, 3, 300, 25, 2), (2**40,), (4, 3, 6, 25, 2 * 10**9), (2**62, 2)])
        members = {
            "x.npy": npy_bytes(shape, data=b"\0" * 64),
            "labels.npy": npy_bytes((4,), "<i8", b"\0" * 32),
        }
        return npz_of(members, compress=rng.random() < 0.5)
    return savez_bytes(fields, compress=rng.random() < 0.3)


MUTATORS = {
    "ntu": (ntu_valid, ntu_case),
    "kinetics": (kinetics_valid, kinetics_case),
    "pyskl": (pyskl_valid, pyskl_case),
    "penn": (penn_valid, penn_case),
    "arrays": (arrays_valid, arrays_case),
    "layout": (layout_valid, layout_case),
    "config": (config_valid, config_case),
}


def write_cases(reader: str, count: int, seed: int, root: Path) -> list[Path]:
    """``count`` case folders under ``root``, each holding one mutated file (the same for a seed)."""
    valid_fn, case_fn = MUTATORS[reader]
    scratch = root / "valid"
    scratch.mkdir(parents=True, exist_ok=True)
    valid = valid_fn(scratch)
    rng = random.Random(f"{reader}:{seed}")
    cases = []
    for i in range(count):
        folder = root / f"case_{i:04d}"
        folder.mkdir()
        (folder / FILE_NAMES[reader]).write_bytes(case_fn(rng, valid, str(folder / MARKER)))
        cases.append(folder)
    return cases


# --------------------------------------------------------------------------- the child: read and classify
def read_yaml_case(reader: str, path: Path) -> str:
    """A layout or config YAML: loaded, or refused with the error type its loader promises, naming it."""
    from skdcore.layouts import load_layout
    from skdcore.train import ConfigError, load_config

    load, refusal = (load_layout, ValueError) if reader == "layout" else (load_config, ConfigError)
    try:
        load(path)
    except refusal as err:
        return "reader_error" if path.name in str(err) else "unnamed"
    except BaseException as err:  # noqa: BLE001  (every other type is a finding)
        return f"error:{type(err).__name__}"
    return "ok"


def read_case(reader: str, folder: Path) -> str:
    from skdcore.data import ReaderError, make_source

    if reader in ("layout", "config"):
        return read_yaml_case(reader, folder / FILE_NAMES[reader])

    def attempt(fn):
        try:
            return fn(), None
        except ReaderError as err:
            return None, "reader_error" if FILE_NAMES[reader] in str(err) else "unnamed"
        except BaseException as err:  # noqa: BLE001  (every other type is a finding)
            return None, f"error:{type(err).__name__}"

    if reader == "arrays":
        source, problem = attempt(lambda: make_source(reader, x=str(folder / FILE_NAMES[reader])))
    else:
        root = folder / FILE_NAMES[reader] if reader == "pyskl" else folder
        source, problem = attempt(lambda: make_source(reader, root=str(root)))
    outcomes = [problem] if problem else []
    if source is not None:
        for i in range(len(source)):
            clip, problem = attempt(lambda i=i: source.load(i))
            if problem:
                outcomes.append(problem)
            elif not np.all(np.isfinite(np.asarray(clip[0], dtype=np.float64))):
                outcomes.append("nonfinite")
        outcomes.append(attempt(source.splits)[1])
    if (folder / MARKER).exists():
        return "executed"
    for worst in ("error:", "nonfinite", "unnamed", "reader_error"):
        found = [o for o in outcomes if o and o.startswith(worst)]
        if found:
            return found[0]
    return "ok"


def cap_address_space(extra_bytes: int) -> None:
    """Limit this process's address space to what it uses now plus ``extra_bytes`` (Linux)."""
    import resource

    try:
        with open("/proc/self/status") as status:
            used = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    except (OSError, StopIteration):
        return
    resource.setrlimit(resource.RLIMIT_AS, (used + extra_bytes, resource.getrlimit(resource.RLIMIT_AS)[1]))


def child_main(reader: str, folders: list[str]) -> None:
    import warnings

    import skdcore.data  # noqa: F401  (imported before the cap: torch maps large libraries)

    warnings.simplefilter("ignore")
    cap_address_space(CHILD_MEMORY_BYTES)
    for folder in folders:
        print(json.dumps({"case": folder, "outcome": read_case(reader, Path(folder))}), flush=True)


# ------------------------------------------------------------------------ the parent: restart on crash/hang
def classify_cases(reader: str, cases: list[Path], case_timeout: float = 60.0, env=None) -> dict:
    """{case folder: outcome}; a child that dies or stalls is recorded and restarted after that case."""
    results: dict = {}
    pending = [str(c) for c in cases]
    while pending:
        child = subprocess.Popen(
            [sys.executable, __file__, "--child", reader, *pending],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        buffer, deadline = b"", time.monotonic() + case_timeout + 30  # + interpreter start-up
        while True:
            ready, _, _ = select.select([child.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                child.kill()
                child.wait()
                results[pending.pop(0)] = "hang"
                break
            chunk = os.read(child.stdout.fileno(), 65536)
            if not chunk:
                code = child.wait()
                if pending:
                    results[pending.pop(0)] = "crash" if code < 0 else f"exit:{code}"
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                record = json.loads(line)
                results[record["case"]] = record["outcome"]
                pending.remove(record["case"])
                deadline = time.monotonic() + case_timeout
        child.stdout.close()
    return results


def run_fuzz(reader: str, count: int = 300, seed: int = 0, case_timeout: float = 60.0, env=None) -> Counter:
    with tempfile.TemporaryDirectory(prefix=f"fuzz_{reader}_") as tmp:
        cases = write_cases(reader, count, seed, Path(tmp))
        return Counter(classify_cases(reader, cases, case_timeout, env).values())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("readers", nargs="*", default=list(READERS))
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args(argv)
    if args.child:
        child_main(args.readers[0], args.readers[1:] + rest)
        return 0
    for reader in args.readers:
        start = time.perf_counter()
        counts = run_fuzz(reader, args.count, args.seed)
        print(
            f"{reader:>8}: {dict(sorted(counts.items()))}  ({time.perf_counter() - start:.1f} s)", flush=True
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
