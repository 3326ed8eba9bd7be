"""The experiment configs shipped inside the package (``skdcore/configs/*.yaml``): listed by
``skd configs``, printed by ``skd configs NAME``, and taken by name wherever a config path is (``--config
own_skeletons``), so a wheel user has them without the source tree."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


def config_names() -> list[str]:
    """The shipped configs' names (file names without ``.yaml``), sorted."""
    return sorted(path.stem for path in CONFIG_DIR.glob("*.yaml"))


def shipped_config(name: str) -> Optional[Path]:
    """The shipped config called ``name`` (``own_skeletons`` or ``own_skeletons.yaml``), else None."""
    stem = name[: -len(".yaml")] if name.endswith(".yaml") else name
    if stem not in config_names():  # NB: never a path built from arbitrary text ("../x")
        return None
    return CONFIG_DIR / f"{stem}.yaml"


def config_description(path: Path, width: int = 100) -> str:
    """The first line of the config's leading comment: what the config is for."""
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            text = line.lstrip("#").strip()
            return text if len(text) <= width else text[: width - 3].rstrip() + "..."
        if line.strip():
            break
    return ""


def resolve_config(path) -> Path:
    """A config argument -> the file to read: an existing path as given, else a shipped config's name.
    Neither: ``FileNotFoundError`` naming the shipped configs."""
    given = Path(path)
    if given.exists():
        return given
    shipped = shipped_config(str(path))
    if shipped is not None:
        return shipped
    raise FileNotFoundError(f"config {str(path)!r} not found: neither a file nor a shipped config; the "
                            f"shipped configs are {', '.join(config_names())} (`skd configs` describes them, "
                            "`skd configs NAME > my.yaml` copies one to edit)")
