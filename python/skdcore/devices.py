"""Device names of configs and CLIs ("auto", "cpu", "cuda:1", ...) to torch devices; CPU threads."""
from __future__ import annotations

import os

import torch


class DeviceError(ValueError):
    """A device that this machine does not have; the message names it and the fix."""


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"``: CUDA when available, else the CPU; any other name as ``torch.device(name)``, checked
    to exist here (DeviceError otherwise)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cpu":
        return device
    backend = {"cuda": torch.cuda, "xpu": getattr(torch, "xpu", None),
               "mps": getattr(torch.backends, "mps", None)}.get(device.type)
    available = backend is not None and backend.is_available()
    if not available:
        raise DeviceError(f"device: {name!r} but this machine has no {device.type.upper()} device torch can "
                          f"use (torch {torch.__version__}); set device: cpu, or device: auto (a GPU when "
                          "there is one)")
    count = backend.device_count() if hasattr(backend, "device_count") else 1
    if device.index is not None and device.index >= count:
        raise DeviceError(f"device: {name!r} but this machine has {count} {device.type.upper()} device(s) "
                          f"(indices 0..{count - 1}); pick one of them or set device: auto")
    return device


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
