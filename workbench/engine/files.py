"""Files that readers never see half-written.

Every file the workbench writes goes through here: a temporary file in the same folder is written,
flushed and renamed over the target, so an interrupted run leaves the old file or the new one,
never a mix.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any


def write_text_atomic(path: Path | str, text: str, encoding: str = "utf-8") -> None:
    """Write a text file so that readers never see it half-written."""
    write_bytes_atomic(path, text.encode(encoding))


def write_bytes_atomic(path: Path | str, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class atomic_path:
    """Context manager yielding a temporary path that replaces `path` only on success.

    For libraries that write a file themselves (Excel writers, ``COPY … TO``)::

        with atomic_path(out) as tmp:
            df.to_excel(tmp)
    """

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.stem}.part{self.path.suffix}")

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp.unlink(missing_ok=True)
        return self.tmp

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def read_data_file(path: Path | str, error: type[Exception], *, what: str, hint: str = "") -> Any:
    """Parse a UTF-8 YAML (``.yaml``/``.yml``) or JSON file that the workbench reads as data.

    Args:
        path: the file.
        error: the exception class to raise (the caller's domain error).
        what: what the file is, for messages ("target profile file", "suite file" …).
        hint: appended to the "not found" message (where the path comes from, what to check).

    Raises:
        error: the file is missing or is not readable UTF-8 YAML/JSON; the message names the file.
    """
    import json

    import yaml

    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: {what} not found" + (f"; {hint}" if hint else ""))
    is_json = path.suffix.lower() == ".json"
    try:
        text = path.read_text(encoding="utf-8-sig")
        return json.loads(text) if is_json else yaml.safe_load(text)
    except (UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        kind = "JSON" if is_json else "YAML"
        raise error(f"{path}: not a readable UTF-8 {kind} file: {exc}") from exc
