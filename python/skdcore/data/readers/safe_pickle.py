"""Loading untrusted pickles (PYSKL annotation files) without running code from them.

A pickle names Python callables ("globals") that the loader calls; plain ``pickle.load`` calls any,
so a crafted file runs arbitrary code. :func:`load_pickle` allows only what annotation files hold:
builtin containers and scalars, numpy arrays, dtypes and scalars. numpy's reconstruction functions
are wrapped so they can only rebuild plain arrays (no subclass, no allocation from a declared shape).
Before unpickling, every length the opcodes declare is checked against the bytes actually present,
so a file declaring 10^12 bytes is refused before anything is allocated.
"""

from __future__ import annotations

import io
import pickle
import pickletools
from pathlib import Path

import numpy as np

from .base import LIMITS, ReaderError, read_capped_bytes

_numpy_core = getattr(np, "_core", None) or np.core  # numpy 2 moved numpy.core to numpy._core


class _NdarrayType:
    """Stands for numpy.ndarray inside a pickle: only _reconstruct may use it (calling ndarray(shape)
    directly would allocate whatever shape the file declares)."""


def _reconstruct(subtype, shape, dtype):
    if subtype is not _NdarrayType or tuple(shape) != (0,):
        raise pickle.UnpicklingError(
            "numpy _reconstruct is only allowed for an empty plain ndarray "
            f"(got {subtype!r}, shape {shape!r})"
        )
    return _numpy_core.multiarray._reconstruct(np.ndarray, (0,), dtype)


def _frombuffer(buffer, dtype, shape, order):
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise pickle.UnpicklingError(f"numpy _frombuffer with dtype {dtype!r} is not allowed")
    return np.frombuffer(buffer, dtype=dtype).reshape(shape, order=order)


def _encode(text, encoding="utf-8"):
    """_codecs.encode as protocol-2 pickles use it for bytes: (str, 'latin1') only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode is only allowed as encode(str, 'latin1')")
    return text.encode("latin1")


def _bytearray(source=b"", encoding=None):
    """bytearray from bytes or (str, encoding) only: bytearray(10**12) would allocate."""
    if isinstance(source, (bytes, bytearray)) and encoding is None:
        return bytearray(source)
    if isinstance(source, str) and encoding in ("latin1", "latin-1"):
        return bytearray(source, encoding)
    raise pickle.UnpicklingError("bytearray is only allowed from bytes or (str, 'latin-1')")


def _scalar(dtype, data=None):
    """numpy scalar from its raw bytes (exactly one item's worth), or an object-dtype item."""
    if not isinstance(dtype, np.dtype):
        raise pickle.UnpicklingError(f"numpy scalar with dtype {dtype!r} is not allowed")
    if not dtype.hasobject and (not isinstance(data, bytes) or len(data) != dtype.itemsize):
        raise pickle.UnpicklingError(f"numpy scalar of {dtype} needs {dtype.itemsize} bytes of data")
    return _numpy_core.multiarray.scalar(dtype, data)


def _set(items=()):
    return set(_plain_iterable(items))


def _frozenset(items=()):
    return frozenset(_plain_iterable(items))


def _plain_iterable(items):
    if not isinstance(items, (list, tuple, set, frozenset)):
        raise pickle.UnpicklingError(f"a set can only be built from a list, got {type(items).__name__}")
    return items


ALLOWED_GLOBALS = {
    ("builtins", "set"): _set,
    ("builtins", "frozenset"): _frozenset,
    ("builtins", "bytearray"): _bytearray,
    ("builtins", "complex"): complex,
    ("builtins", "slice"): slice,
    ("collections", "OrderedDict"): __import__("collections").OrderedDict,
    ("_codecs", "encode"): _encode,
    ("numpy", "ndarray"): _NdarrayType,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.multiarray", "scalar"): _scalar,
    ("numpy._core.multiarray", "scalar"): _scalar,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
}
_PYTHON2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


class RefusedGlobal(pickle.UnpicklingError):
    def __init__(self, module: str, name: str):
        super().__init__(f"{module}.{name}")
        self.global_name = f"{module}.{name}"


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler whose globals come from :data:`ALLOWED_GLOBALS` only."""

    def find_class(self, module, name):
        module = _PYTHON2_MODULES.get(module, module)
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise RefusedGlobal(module, name) from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent ids are not allowed")


def check_declared_sizes(payload: bytes, path: Path) -> None:
    """Walk the opcodes without building anything: a length beyond the end of the data, an unknown
    opcode or a truncation is a ReaderError (before the unpickler would allocate that length)."""
    try:
        for _ in pickletools.genops(io.BytesIO(payload)):
            pass
    except (ValueError, KeyError, EOFError, OverflowError, MemoryError) as err:
        raise ReaderError(
            f"{path}: not a readable pickle ({type(err).__name__}: {err}); truncated?"
        ) from None


def load_pickle(path: str | Path, trust: bool = False, max_bytes: int = LIMITS.pickle_file_bytes):
    """The object in an untrusted pickle file, built from allowed globals only.

    ``trust=True`` uses plain ``pickle.load`` (any global, which runs code from the file): only for
    files from a source you trust. Every failure is a ReaderError naming the file.
    """
    path = Path(path)
    payload = read_capped_bytes(path, max_bytes)
    check_declared_sizes(payload, path)
    unpickler = (pickle.Unpickler if trust else RestrictedUnpickler)(io.BytesIO(payload))
    try:
        return unpickler.load()
    except RefusedGlobal as err:
        raise ReaderError(
            f"{path}: the pickle asks for {err.global_name}, which a skeleton annotation file "
            "never needs; loading it could run code from the file, so it was refused. If you "
            "trust where the file comes from, pass --trust-pickle (Python: trust_pickle=True)"
        ) from None
    except (
        pickle.UnpicklingError,
        EOFError,
        AttributeError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        OverflowError,
        MemoryError,
        RecursionError,
        UnicodeDecodeError,
        ImportError,
    ) as err:
        raise ReaderError(
            f"{path}: not a readable pickle ({type(err).__name__}: {err}); truncated?"
        ) from None
