"""Loading untrusted pickles (PYSKL annotation files) without running code from them.

A pickle names Python callables ("globals") that the loader calls; plain ``pickle.load`` calls any,
so a crafted file runs arbitrary code. :func:`load_pickle` allows only what annotation files hold:
builtin containers and scalars, numpy arrays, dtypes and scalars.

numpy arrays and dtypes are never rebuilt by numpy's own ``__setstate__`` (pickle's BUILD opcode):
a crafted dtype state (a sub-array claiming more items than its bytes) makes numpy read or write
past its buffers. The unpickler here is pickle's pure-Python one with BUILD replaced: a dtype is
rebuilt from its type string and byte order only, an array from plain (shape, dtype, bytes) whose
sizes must agree, and BUILD on anything else is refused. Its memo is a dict (the C unpickler
allocates a table as long as the largest memo index a file names), and the bytes of all arrays
together may not exceed the file's size (one block of bytes shared by many arrays through the memo
would otherwise multiply a small file). Before unpickling, every length the opcodes declare is
checked against the bytes actually present, so a file declaring 10^12 bytes is refused before
anything is allocated.
"""

from __future__ import annotations

import io
import math
import pickle
import pickletools
import re
import struct
from pathlib import Path

import numpy as np

from .base import LIMITS, ReaderError, read_capped_bytes

_numpy_core = getattr(np, "_core", None) or np.core  # numpy 2 moved numpy.core to numpy._core
MAX_ARRAY_DIMS = 32  # numpy's own limit
MAX_STRING_ITEMSIZE = 1 << 20  # one element of a 'U' / 'S' array
_STRING_DTYPE = re.compile(r"[US][0-9]{0,7}")
_NUMERIC_DTYPES = {"b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "f16", "c8", "c16"}


class _NdarrayType:
    """Stands for numpy.ndarray inside a pickle: only _reconstruct may use it (calling ndarray(shape)
    directly would allocate whatever shape the file declares)."""


class _Pending:
    """What a numpy global returns until BUILD gives its state; BUILD replaces it (on the stack and in
    the memo) with the real object. One left unbuilt is just an opaque object readers refuse."""

    def __init__(self):
        self.memo_keys: list = []
        self.built = False


class _PendingArray(_Pending):
    pass


class _PendingDtype(_Pending):
    def __init__(self, spec: str):
        super().__init__()
        self.spec = spec


def _reconstruct(subtype, shape, dtype=b"b"):
    if subtype is not _NdarrayType or tuple(shape) != (0,):
        raise pickle.UnpicklingError(
            "numpy _reconstruct is only allowed for an empty plain ndarray "
            f"(got {subtype!r}, shape {shape!r})"
        )
    return _PendingArray()


def _dtype(spec, align=False, copy=True):
    """numpy.dtype(spec, ...) as pickles call it: a type string like 'f4', 'i8', 'U2', 'S3'; its byte
    order (and a string's item size) come with BUILD."""
    if not isinstance(spec, str) or not (spec in _NUMERIC_DTYPES or _STRING_DTYPE.fullmatch(spec)):
        raise pickle.UnpicklingError(
            f"numpy dtype {spec!r} is not allowed (only bool, integer, float, complex and string dtypes)"
        )
    return _PendingDtype(spec[0] if spec[0] in "US" else spec)


def _build_dtype(pending: _PendingDtype, state) -> np.dtype:
    """The dtype from (version, byte order, subarray, names, fields, elsize, alignment, flags[, metadata]):
    only the byte order and a string's item size are used; anything structured is refused."""
    if not (isinstance(state, tuple) and len(state) in (8, 9) and state[2:5] == (None, None, None)):
        raise pickle.UnpicklingError("numpy dtype state with sub-arrays or fields is not allowed")
    order, elsize = state[1], state[5]
    if order not in ("<", ">", "|", "=") or type(elsize) is not int:
        raise pickle.UnpicklingError(f"numpy dtype state has byte order {order!r}, item size {elsize!r}")
    if pending.spec in ("U", "S"):
        unit = 4 if pending.spec == "U" else 1
        if not 0 < elsize <= MAX_STRING_ITEMSIZE or elsize % unit:
            raise pickle.UnpicklingError(f"numpy string dtype with item size {elsize} is not allowed")
        dtype = np.dtype(f"{pending.spec}{elsize // unit}")
    else:
        dtype = np.dtype(pending.spec)
    return dtype.newbyteorder(order) if order in "<>" and dtype.itemsize > 1 else dtype


def _checked_shape(shape) -> tuple:
    if not (
        isinstance(shape, tuple)
        and len(shape) <= MAX_ARRAY_DIMS
        and all(type(n) is int and n >= 0 for n in shape)
    ):
        raise pickle.UnpicklingError(f"numpy array shape {shape!r} is not a tuple of sizes")
    return shape


def _array_from_bytes(raw, dtype, shape, order: str) -> np.ndarray:
    """An array over ``raw`` whose declared size must be exactly len(raw): never allocated from a shape."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise pickle.UnpicklingError(f"numpy array with dtype {dtype!r} is not allowed")
    if not isinstance(raw, (bytes, bytearray)):
        raise pickle.UnpicklingError(f"numpy array data is a {type(raw).__name__}, expected bytes")
    shape = _checked_shape(shape)
    declared = math.prod(shape) * dtype.itemsize
    if declared != len(raw):
        raise pickle.UnpicklingError(
            f"numpy array of shape {shape} {dtype} needs {declared} bytes, the file gives {len(raw)}"
        )
    return np.frombuffer(raw, dtype=dtype).reshape(shape, order=order)


def _build_array(state) -> np.ndarray:
    """ndarray.__setstate__'s (version, shape, dtype, is_fortran, bytes), checked and rebuilt."""
    if not (isinstance(state, tuple) and len(state) == 5 and state[0] == 1 and type(state[3]) is bool):
        raise pickle.UnpicklingError("numpy array state is not (1, shape, dtype, is_fortran, bytes)")
    _, shape, dtype, fortran, raw = state
    return _array_from_bytes(raw, dtype, shape, "F" if fortran else "C")


def _frombuffer(buffer, dtype, shape, order):
    if order not in ("C", "F", "A", "K"):
        raise pickle.UnpicklingError(f"numpy _frombuffer with order {order!r} is not allowed")
    return _array_from_bytes(buffer, dtype, shape, "F" if order == "F" else "C")


def _encode(text, encoding="utf-8"):
    """_codecs.encode as protocol-2 pickles use it for bytes: (str, 'latin1') only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode is only allowed as encode(str, 'latin1')")
    return text.encode("latin1")


def _bytes(*args):
    """bytes() as protocol-2 pickles write an empty bytes object (e.g. an empty array's data)."""
    if args:
        raise pickle.UnpicklingError("builtins.bytes is only allowed without arguments (b'')")
    return b""


def _bytearray(source=b"", encoding=None):
    """bytearray from bytes or (str, encoding) only: bytearray(10**12) would allocate."""
    if isinstance(source, (bytes, bytearray)) and encoding is None:
        return bytearray(source)
    if isinstance(source, str) and encoding in ("latin1", "latin-1"):
        return bytearray(source, encoding)
    raise pickle.UnpicklingError("bytearray is only allowed from bytes or (str, 'latin-1')")


def _scalar(dtype, data=None):
    """numpy scalar from its raw bytes (exactly one item's worth)."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise pickle.UnpicklingError(f"numpy scalar with dtype {dtype!r} is not allowed")
    if not isinstance(data, bytes) or len(data) != dtype.itemsize:
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
    ("builtins", "bytes"): _bytes,
    ("builtins", "bytearray"): _bytearray,
    ("builtins", "complex"): complex,
    ("builtins", "slice"): slice,
    ("collections", "OrderedDict"): __import__("collections").OrderedDict,
    ("_codecs", "encode"): _encode,
    ("numpy", "ndarray"): _NdarrayType,
    ("numpy", "dtype"): _dtype,
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


class RestrictedUnpickler(pickle._Unpickler):
    """pickle's pure-Python Unpickler with globals from :data:`ALLOWED_GLOBALS` only, BUILD only on
    numpy's pending arrays and dtypes, and the bytes of all arrays capped by ``max_array_bytes``."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, max_array_bytes: int):
        super().__init__(file)
        self.max_array_bytes = max_array_bytes
        self.array_bytes = 0

    def find_class(self, module, name):
        module = _PYTHON2_MODULES.get(module, module)
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise RefusedGlobal(module, name) from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent ids are not allowed")

    # -- the memo: remember where a pending object is stored, so BUILD can replace it there too
    def _memo_put(self, index: int) -> None:
        if index < 0:
            raise pickle.UnpicklingError("negative memo index")
        value = self.stack[-1]
        self.memo[index] = value
        if isinstance(value, _Pending):
            value.memo_keys.append(index)

    def load_put(self):
        self._memo_put(int(self.readline()[:-1]))

    def load_binput(self):
        self._memo_put(self.read(1)[0])

    def load_long_binput(self):
        self._memo_put(struct.unpack("<I", self.read(4))[0])

    def load_memoize(self):
        self._memo_put(len(self.memo))

    def load_build(self):
        state = self.stack.pop()
        pending = self.stack[-1]
        if not isinstance(pending, _Pending) or pending.built:
            raise pickle.UnpicklingError(
                f"BUILD (setting an object's state) on a {type(pending).__name__} is not allowed"
            )
        if isinstance(pending, _PendingDtype):
            value = _build_dtype(pending, state)
        else:
            value = _build_array(state)
        if isinstance(value, np.ndarray):
            self.count_array(value)
        pending.built = True
        self.stack[-1] = value
        for key in pending.memo_keys:
            self.memo[key] = value

    def load_reduce(self):
        super().load_reduce()
        if isinstance(self.stack[-1], np.ndarray):  # _frombuffer's array
            self.count_array(self.stack[-1])

    def count_array(self, array: np.ndarray) -> None:
        self.array_bytes += array.nbytes
        if self.array_bytes > self.max_array_bytes:
            raise pickle.UnpicklingError(
                f"its arrays hold more bytes ({self.array_bytes}+) than the file itself "
                f"({self.max_array_bytes}): arrays share their data through the pickle's memo"
            )

    for _opcode, _handler in (
        (pickle.PUT, load_put),
        (pickle.BINPUT, load_binput),
        (pickle.LONG_BINPUT, load_long_binput),
        (pickle.MEMOIZE, load_memoize),
        (pickle.BUILD, load_build),
        (pickle.REDUCE, load_reduce),
    ):
        dispatch[_opcode[0]] = _handler
    del _opcode, _handler


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
    stream = io.BytesIO(payload)
    unpickler = pickle.Unpickler(stream) if trust else RestrictedUnpickler(stream, len(payload))
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
