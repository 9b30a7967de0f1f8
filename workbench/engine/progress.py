"""Progress inside long stages: a bar in the notebook, lines in ``workbench run``'s output.

Long steps wrap their loop in :func:`track` (or use :class:`Progress` directly)::

    for field in track(fields, "standardize", desc="fields"):
        ...

In a Jupyter kernel a ``tqdm`` bar is shown (``tqdm.auto``). When the runner executes a stage, it
sets ``WORKBENCH_PROGRESS_FILE``: every update is also appended to that file as one JSON line
(``{"stage", "desc", "done", "total", "note"}``), which the runner reads while the notebook runs
and prints as progress lines. Updates are throttled (at most one line per step of 5 % or per
second), so tracking costs nothing measurable in a hot loop.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

PROGRESS_FILE_ENV = "WORKBENCH_PROGRESS_FILE"
PROGRESS_BAR_ENV = "WORKBENCH_PROGRESS_BAR"  # "0" turns the notebook bar off
_MIN_SECONDS = 1.0
_MIN_SHARE = 0.05

T = TypeVar("T")


def _in_kernel() -> bool:
    return "ipykernel" in sys.modules


class Progress:
    """Progress of one step of a stage: ``advance()`` as work gets done, ``close()`` at the end."""

    def __init__(self, stage: str, desc: str, total: int | None = None, unit: str = "it") -> None:
        self.stage, self.desc, self.total, self.done = stage, desc, total, 0
        self._file = os.environ.get(PROGRESS_FILE_ENV) or None
        self._last_time = 0.0
        self._last_done = -1
        self._bar: Any = None
        if _in_kernel() and os.environ.get(PROGRESS_BAR_ENV, "1") != "0":
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=f"{stage}: {desc}", unit=unit, leave=True)
        self._emit("", force=True)

    def advance(self, n: int = 1, note: str = "") -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        self._emit(note)

    def close(self, note: str = "") -> None:
        if self._bar is not None:
            self._bar.close()
        self._emit(note or "done", force=True)

    def _emit(self, note: str, *, force: bool = False) -> None:
        if not self._file:
            return
        now = time.monotonic()
        step = max(1, int((self.total or 0) * _MIN_SHARE))
        if not force and now - self._last_time < _MIN_SECONDS and self.done - self._last_done < step:
            return
        self._last_time, self._last_done = now, self.done
        line = {"stage": self.stage, "desc": self.desc, "done": self.done, "total": self.total, "note": note}
        with Path(self._file).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def track(items: Iterable[T], stage: str, *, desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
    """Iterate over `items`, reporting progress (total: ``len(items)`` when it has one)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with Progress(stage, desc, total, unit) as bar:
        for item in items:
            yield item
            bar.advance()


def format_event(event: dict[str, Any]) -> str:
    """One progress line for the CLI: ``standardize · fields 3/12 (phones)``."""
    total = f"/{event['total']}" if event.get("total") else ""
    note = f" ({event['note']})" if event.get("note") else ""
    return f"    {event['stage']} · {event['desc']} {event['done']}{total}{note}"
