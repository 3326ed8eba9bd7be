"""Run logs: one CSV row per epoch (always) and TensorBoard scalars when the package is installed."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Dict, Optional


class RunLogger:
    def __init__(self, out_dir: Path, tensorboard: str = "auto", enabled: bool = True):
        self.path = Path(out_dir) / "log.csv"
        self.enabled = enabled
        self.writer = None
        if enabled and tensorboard != "off":
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(Path(out_dir) / "tensorboard"))
            except ImportError:
                if tensorboard == "on":
                    raise RuntimeError("log.tensorboard: on, but the tensorboard package is not installed; "
                                       "pip install tensorboard or set log.tensorboard: auto") from None

    def log(self, row: Dict[str, float], step: Optional[int] = None) -> None:
        if not self.enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        existing = None
        if self.path.exists():
            with open(self.path) as f:
                existing = next(csv.reader(f), None)
        if existing is not None and existing != list(row):
            # A resumed run with other columns: keep one header per file by starting a new one aside.
            self.path = self.path.with_name(self.path.stem + "_1.csv")
            return self.log(row, step)
        with open(self.path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if existing is None:
                writer.writeheader()
            writer.writerow(row)
        if self.writer is not None:
            for key, value in row.items():
                if isinstance(value, (int, float)) and key not in ("epoch", "step"):
                    self.writer.add_scalar(key, value, step if step is not None else row.get("step", 0))
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def read_log(path) -> list:
    with open(path) as f:
        return [{k: _num(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _num(value: str):
    try:
        return float(value)
    except (TypeError, ValueError):
        return value
