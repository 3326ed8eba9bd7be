"""Device names of configs and CLIs ("auto", "cpu", "cuda:1", ...) to torch devices; CPU threads."""
from __future__ import annotations

import os

import torch


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"``: CUDA when available, else the CPU; any other name as ``torch.device(name)``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def choose_threads() -> int:
    """Torch CPU threads for a CPU job (demo, robustness): 1 when the machine is already busy.

    NB: OpenMP threads spin-wait for each other; on an oversubscribed machine (load >= cores) two
    threads ran ~10x slower than one in our measurements, on an idle one they are ~1.6x faster.
    """
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0] >= cores
    except OSError:
        busy = False
    threads = 1 if busy else torch.get_num_threads()
    torch.set_num_threads(threads)
    return threads
