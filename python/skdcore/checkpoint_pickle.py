"""What a checkpoint's pickle may build, beyond what torch's ``weights_only`` loader allows.

torch's weights-only unpickler runs no code, but some of what it allows allocates memory the file does
not hold: ``builtins.bytearray(n)`` (a 53 KB file asking for gigabytes; ``bytes(n)`` likewise);
meta tensors hold no data, so a checkpoint made of them claims weights it does not have. skdcore's
checkpoints never contain these. :func:`check_checkpoint_pickle` reads the pickle's opcodes (without
running them) and refuses those globals before ``torch.load``; :func:`check_loaded_values` refuses meta
tensors and structures nested too deep (or referring to themselves) after it.
"""

from __future__ import annotations

import pickletools
import zipfile

import torch

# Allowed by torch's weights_only loader, never written by skdcore, and able to allocate or fake sizes.
FORBIDDEN_GLOBALS = {
    "builtins.bytearray": "a bytearray of a size the file declares",
    "builtins.bytes": "bytes of a size the file declares",
    "torch._utils._rebuild_meta_tensor_no_storage": "meta tensors (sizes without data)",
    "torch._utils._rebuild_device_tensor_from_numpy": "tensors from numpy objects",
}
MAX_DEPTH = 64  # nesting of dicts / lists in a loaded checkpoint (skdcore's own: under 10)
MAX_VALUES = 2_000_000  # values reached walking it; a pickle can share one list many times (a DAG bomb)


def check_checkpoint_pickle(archive: zipfile.ZipFile, where: str, error=ValueError) -> None:
    """Refuse a torch.save archive whose ``data.pkl`` names a forbidden global or uses STACK_GLOBAL
    (torch.save writes protocol 2, which names globals with GLOBAL only)."""
    for member in archive.infolist():
        if member.filename.rpartition("/")[2] != "data.pkl":
            continue
        try:
            for opcode, arg, _ in pickletools.genops(archive.read(member)):
                if opcode.name == "STACK_GLOBAL":
                    raise error(f"{where}: its pickle names objects with STACK_GLOBAL, which torch.save "
                                "never writes; the checkpoint is crafted, refused")
                if opcode.name in ("GLOBAL", "INST"):
                    name = str(arg).replace(" ", ".")
                    if name in FORBIDDEN_GLOBALS:
                        raise error(f"{where}: its pickle builds {FORBIDDEN_GLOBALS[name]} ({name}), which "
                                    "a skdcore checkpoint never holds (it could make loading allocate memory "
                                    "the file does not have); the checkpoint is crafted, refused")
        except (ValueError, EOFError, UnicodeDecodeError) as err:
            if isinstance(err, error):
                raise
            raise error(f"{where}: its pickle is damaged ({type(err).__name__}: {err})") from None


def check_loaded_values(value, where: str, error=ValueError) -> None:
    """No meta tensor anywhere, no nesting deeper than MAX_DEPTH, no container holding itself, at most
    MAX_VALUES values reached (shared containers count each time they are reached)."""
    stack = [(value, 0, "checkpoint")]
    open_containers: dict = {}
    reached = 0
    while stack:
        item, depth, path = stack.pop()
        reached += 1
        if reached > MAX_VALUES:
            raise error(f"{where}: more than {MAX_VALUES} values reached reading it (containers shared many "
                        "times over); the checkpoint is crafted, refused")
        if item is None and depth < 0:  # leaving a container
            open_containers.pop(path, None)
            continue
        if torch.is_tensor(item):
            if item.is_meta:
                raise error(f"{where}: {path} is a meta tensor (sizes without data), which a skdcore "
                            "checkpoint never holds; the checkpoint is crafted, refused")
            continue
        if not isinstance(item, (dict, list, tuple)):
            continue
        if depth > MAX_DEPTH:
            raise error(f"{where}: {path} is nested more than {MAX_DEPTH} levels deep; the checkpoint is "
                        "damaged or crafted, refused")
        if id(item) in open_containers:
            raise error(f"{where}: {path} contains itself; the checkpoint is damaged or crafted, refused")
        open_containers[id(item)] = True
        stack.append((None, -1, id(item)))  # popped after the children: the container is closed again
        children = item.items() if isinstance(item, dict) else enumerate(item)
        for key, child in children:
            stack.append((child, depth + 1, f"{path}[{str(key)[:40]!r}]"))
