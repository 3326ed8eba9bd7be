"""Run logs for humans and for machines.

- ``train.log``: plain text, one line every ``log.every_steps`` steps and one per epoch (always);
- stdout: a tqdm bar per epoch on a terminal, otherwise the same plain lines as train.log (no
  carriage returns in redirected output);
- ``log.csv``: one row per epoch, ONE file per run whatever columns later rows add (the header is
  widened and the file rewritten atomically when an eval epoch brings val_* columns);
- TensorBoard (``pip install 'skdcore[tb]'``): per-step ``train/*`` (loss terms, lr) and
  ``revision/*`` (cosines, projected fractions), per-epoch ``epoch/*`` (train averages) and ``val/*``
  (``test/*`` when the run selects on the test split).
"""
from __future__ import annotations

import csv
import io
import sys
import time
import warnings
from pathlib import Path
from typing import Dict, Optional

from ..atomic_io import atomic_write_text, open_no_follow

REVISION_PREFIXES = ("cos_", "projected_")


def open_tensorboard(out_dir: Path, tensorboard: str):
    """A SummaryWriter, or None; 'on' without the package warns (training goes on without it)."""
    if tensorboard == "off":
        return None, None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        note = ("log.tensorboard: on, but the tensorboard package is not installed; training continues "
                "without TensorBoard; pip install 'skdcore[tb]' (or set log.tensorboard: off)")
        if tensorboard == "on":
            warnings.warn(note, RuntimeWarning, stacklevel=3)
            return None, "warning: " + note
        return None, "note: TensorBoard off (package not installed; pip install 'skdcore[tb]')"
    return SummaryWriter(str(Path(out_dir) / "tensorboard")), None


class RunLogger:
    """All the logging of one run (only rank 0's logger writes; the others are silent)."""

    def __init__(self, out_dir: Path, tensorboard: str = "auto", enabled: bool = True, every_steps: int = 50,
                 progress: bool = True, stream=None):
        self.out = Path(out_dir)
        self.path = self.out / "log.csv"
        self.enabled = enabled
        self.every_steps = int(every_steps)
        self.stream = stream if stream is not None else sys.stdout
        self.use_bar = bool(progress) and enabled and _is_tty(self.stream)
        self.writer, self._text, self._bar = None, None, None
        if not enabled:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        self._text = open_no_follow(self.out / "train.log", "a", encoding="utf-8")  # NB: never via a link
        self.writer, note = open_tensorboard(self.out, tensorboard)
        if note:
            self.message(note)

    # -- plain text ---------------------------------------------------------------------------
    def message(self, text: str, console: bool = True) -> None:
        """One line to train.log (with a UTC time stamp) and, unless ``console`` is False, to stdout."""
        if not self.enabled:
            return
        self._text.write(f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} {text}\n")
        self._text.flush()
        if console:
            if self._bar is not None:
                self._bar.write(text)
            else:
                print(text, file=self.stream, flush=True)

    # -- per step -----------------------------------------------------------------------------
    def begin_epoch(self, total: int, initial: int, description: str) -> None:
        self._epoch_description = description
        if self.use_bar:
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=initial, desc=description, leave=False, dynamic_ncols=True,
                             file=self.stream)

    def log_step(self, step: int, step_in_epoch: int, total: int, values: Dict[str, float],
                 lr: float) -> None:
        """``values``: this step's losses, accuracy and revision statistics (rank 0's batch)."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix(loss=f"{values['loss']:.3f}")
        if self.every_steps and step % self.every_steps == 0:
            line = (f"{self._epoch_description} step {step_in_epoch}/{total} (global {step}): "
                    f"loss {values['loss']:.4f} acc {100 * values.get('acc', 0.0):.1f}% lr {lr:.4g}")
            self.message(line, console=self._bar is None)
        if self.writer is not None:
            self.writer.add_scalar("train/lr", lr, step)
            for key, value in values.items():
                group = "revision" if key.startswith(REVISION_PREFIXES) else "train"
                self.writer.add_scalar(f"{group}/{key}", value, step)

    def end_epoch(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    # -- per epoch ----------------------------------------------------------------------------
    def log(self, row: Dict[str, float], step: Optional[int] = None) -> None:
        """One epoch row into log.csv (and TensorBoard ``epoch/*`` / ``val/*``)."""
        if not self.enabled:
            return
        append_csv_row(self.path, row)
        if self.writer is not None:
            at = step if step is not None else int(row.get("step", 0))
            for key, value in row.items():
                if not isinstance(value, (int, float)) or key in ("epoch", "step"):
                    continue
                if key.startswith(("val_", "test_")):  # test_ only under data.select_on_test
                    split, _, name = key.partition("_")
                    self.writer.add_scalar(f"{split}/{name}", value, at)
                else:
                    name = key[6:] if key.startswith("train_") else key
                    group = "revision" if name.startswith(REVISION_PREFIXES) else "epoch"
                    self.writer.add_scalar(f"{group}/{name}", value, at)
            self.writer.flush()

    def close(self) -> None:
        self.end_epoch()
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if self._text is not None:
            self._text.close()
            self._text = None


def _is_tty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def append_csv_row(path: Path, row: Dict) -> None:
    """Append ``row`` to the CSV at ``path``, keeping ONE file and ONE header.

    A row with columns the header lacks widens the header (earlier rows get empty cells); a row
    whose epoch is already in the file (a run resumed after a crash between the log and the
    checkpoint) replaces the rows from that epoch on.
    """
    path = Path(path)
    rows = read_log(path, raw=True) if path.exists() else []
    header = list(rows[0].keys()) if rows else []
    epoch = row.get("epoch")
    stale = epoch is not None and any(_num(r.get("epoch")) >= epoch for r in rows)
    new_columns = [k for k in row if k not in header]
    if rows and not new_columns and not stale:
        with open_no_follow(path, "a") as f:
            csv.DictWriter(f, fieldnames=header, restval="").writerow(row)
        return
    if stale:
        rows = [r for r in rows if _num(r.get("epoch")) < epoch]
    fieldnames = header + new_columns
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fieldnames, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    writer.writerow(row)
    atomic_write_text(path, buffer.getvalue())


def read_log(path, raw: bool = False) -> list:
    """Rows of a log.csv as dicts (numbers as float unless ``raw``; empty cells dropped)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if raw:
        return rows
    return [{k: _num(v) for k, v in row.items() if v not in ("", None)} for row in rows]


def _num(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return value
