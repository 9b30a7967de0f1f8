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
