"""MATLAB ``.mat`` files parsed in a child process: scipy's ``loadmat`` can crash the interpreter
(a segfault) or swallow all memory on a damaged file, and that must cost one file, not the job.

:func:`load_mat` sends the path to a long-lived child (started on first use, one per process, with a
capped address space), which answers with the file's variables as plain numpy arrays in an ``.npz``
(read back with ``allow_pickle=False``). When the child dies or stalls, that file is a ReaderError and
the next call starts a fresh child.

This file is also the child's program: run as a script it imports only numpy and scipy.
"""

from __future__ import annotations

import atexit
import io
import json
import os
import select
import struct
import subprocess
import sys
from pathlib import Path

if __package__:  # imported as skdcore.data.readers.mat_worker (the parent side)
    from .base import LIMITS, ReaderError

CHILD_MEMORY_BYTES = 4 << 30  # address space of the child: a decompression bomb ends as MemoryError
MAX_VARIABLE_BYTES = 256 << 20  # one variable sent back (a Penn label file holds a few KiB)
MAX_INFLATED_BYTES = 256 << 20  # all compressed variables of one file, inflated
TIMEOUT_S = 60.0


class MatParser:
    """One child process parsing .mat files on request; restarted after a crash or a timeout."""

    def __init__(self, timeout_s: float = TIMEOUT_S):
        self.timeout_s = timeout_s
        self.child: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        return subprocess.Popen(
            [sys.executable, "-s", __file__, str(CHILD_MEMORY_BYTES)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )

    def close(self) -> None:
        if self.child is not None:
            self.child.kill()
            self.child.wait()
            self.child = None

    def load(self, path: Path, variable_names: list | None = None) -> tuple[dict, dict]:
        """({name: ndarray} of plain arrays, {name: kind} of every variable) of one .mat file."""
        if self.child is None or self.child.poll() is not None:
            self.child = self._start()
        request = json.dumps({"path": str(Path(path).resolve()), "names": variable_names}) + "\n"
        try:
            self.child.stdin.write(request.encode())
            self.child.stdin.flush()
            header = self._read(8)
            payload = self._read(struct.unpack("<Q", header)[0])
        except TimeoutError:
            self.close()
            raise ReaderError(
                f"{path}: not a readable .mat file (scipy took longer than {self.timeout_s:g} s); "
                "the file is damaged"
            ) from None
        except (BrokenPipeError, EOFError):
            try:
                code = self.child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
            self.close()
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
            raise ReaderError(
                f"{path}: not a readable .mat file (scipy crashed the parser: {how}); the file is damaged"
            ) from None
        import numpy as np

        with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
            meta = json.loads(bytes(npz["__meta__"]).decode())
            arrays = {k[2:]: npz[k] for k in npz.files if k.startswith("v_")}
        if meta.get("error"):
            raise ReaderError(f"{path}: not a readable .mat file ({meta['error']})")
        return arrays, meta["kinds"]

    def _read(self, size: int) -> bytes:
        out = bytearray()
        stream = self.child.stdout
        while len(out) < size:
            ready, _, _ = select.select([stream], [], [], self.timeout_s)
            if not ready:
                raise TimeoutError
            chunk = os.read(stream.fileno(), min(size - len(out), 1 << 20))
            if not chunk:
                raise EOFError
            out += chunk
        return bytes(out)


_PARSER: MatParser | None = None


def load_mat(path: str | Path, variable_names: list | None = None) -> tuple[dict, dict]:
    """({name: plain ndarray}, {name: kind}) of a .mat file, parsed in this process's child.

    Kinds: 'numeric', 'text', or what the variable is when it was not sent ('cell', 'struct',
    'sparse', 'object', ...). A file over the size cap, damaged, or crashing scipy is a ReaderError.
    """
    global _PARSER
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as err:
        raise ReaderError(f"{path}: cannot read it ({err.strerror or err})") from None
    if size > LIMITS.text_file_bytes:
        raise ReaderError(
            f"{path}: {size} bytes, more than the limit {LIMITS.text_file_bytes} for a .mat label file"
        )
    if _PARSER is None:
        _PARSER = MatParser()
        atexit.register(_PARSER.close)
    return _PARSER.load(path, variable_names)


# --------------------------------------------------------------------------- the child
def _kind(value) -> str:
    import numpy as np

    if not isinstance(value, np.ndarray):
        return "sparse" if hasattr(value, "tocoo") else type(value).__name__
    if value.dtype.names:
        return "struct"
    if value.dtype.kind in "biufc":
        return "numeric"
    if value.dtype.kind in "US":
        return "text"
    return "cell" if value.dtype.kind == "O" else f"dtype {value.dtype}"


MI_COMPRESSED = 15
_INFLATE_CHUNK = 1 << 20


def check_inflated_size(path: str, limit: int = MAX_INFLATED_BYTES) -> int:
    """Bytes the compressed variables of a MAT v5 file inflate to, counted while inflating chunk by chunk
    (never more than one chunk in memory); MemoryError once past ``limit``, before scipy inflates them
    in one piece. Other files (v4, v7.3/HDF5, not a .mat) are left to scipy: they hold no zlib data."""
    import zlib

    with open(path, "rb") as f:
        header = f.read(128)
        order = {b"\x00\x01IM": "<", b"\x01\x00MI": ">"}.get(header[124:128])
        if order is None:
            return 0
        total = 0
        while True:
            tag = f.read(8)
            if len(tag) < 8:
                return total
            mdtype, nbytes = struct.unpack(order + "II", tag)
            if mdtype >> 16:  # a small data element: 4 bytes of data inside the tag
                continue
            if mdtype != MI_COMPRESSED:
                f.seek(nbytes, 1)
                continue
            inflater, left = zlib.decompressobj(), nbytes
            while left > 0:
                data = f.read(min(left, _INFLATE_CHUNK))
                if not data:
                    break
                left -= len(data)
                while data:
                    total += len(inflater.decompress(data, _INFLATE_CHUNK))
                    if total > limit:
                        raise MemoryError(
                            f"its compressed variables inflate to more than {limit} bytes (a Penn label "
                            "file holds a few KiB); the file is crafted or damaged"
                        )
                    data = inflater.unconsumed_tail
                    if inflater.eof:
                        break
                if inflater.eof:
                    break
            f.seek(left, 1)


def _answer(path: str, names) -> bytes:
    import warnings

    import numpy as np
    import scipy.io

    arrays, meta = {}, {"kinds": {}}
    try:
        check_inflated_size(path)  # NB: before scipy, which inflates a variable in one piece
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mat = scipy.io.loadmat(path, variable_names=names)
        for key, value in mat.items():
            if key.startswith("__"):
                continue
            meta["kinds"][key] = kind = _kind(value)
            if kind in ("numeric", "text") and value.nbytes > MAX_VARIABLE_BYTES:
                raise MemoryError(
                    f"variable {key!r} holds {value.nbytes} bytes, more than {MAX_VARIABLE_BYTES}"
                )
            if kind in ("numeric", "text"):
                arrays[f"v_{key}"] = (
                    value  # NB: prefixed: a variable named 'file' must not meet savez's argument
                )
    except Exception as err:  # noqa: BLE001  (scipy raises many types for damaged files; all mean "damaged")
        meta = {"error": f"{type(err).__name__}: {str(err)[:300]}"}
        arrays = {}
    buffer = io.BytesIO()
    np.savez(buffer, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    return buffer.getvalue()


def _child_main(memory_bytes: int) -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    except (ImportError, ValueError, OSError):
        pass  # no address-space limit on this platform; the timeout still applies
    for line in sys.stdin:
        request = json.loads(line)
        try:
            payload = _answer(request["path"], request["names"])
        except MemoryError:
            import numpy as np

            buffer = io.BytesIO()
            meta = json.dumps(
                {"error": "MemoryError: the file declares more data than the parser may allocate"}
            )
            np.savez(buffer, __meta__=np.frombuffer(meta.encode(), dtype=np.uint8))
            payload = buffer.getvalue()
        sys.stdout.buffer.write(struct.pack("<Q", len(payload)) + payload)
        sys.stdout.buffer.flush()


if __name__ == "__main__":
    _child_main(int(sys.argv[1]))
