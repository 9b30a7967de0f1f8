"""Cell contents that the ingest and the later stages treat alike: control characters, total words.

This module owns the definition of a control character inside a value (C0 controls and DEL, except
tab, line feed and carriage return, which are legitimate inside a quoted multi-line cell) as a
Python and an RE2 (DuckDB) pattern, how an escaped display of such a value is written, and the
shipped table of words that mark a total row (``data/total_words.csv``) with the normalization both
sides of a comparison get.
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"

CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""A control character that has no business inside a cell value (NUL, BEL, ESC …)."""

CONTROL_CHARS_SQL = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]"
"""The same class as an RE2 pattern for DuckDB (written with escapes: no NUL in the SQL text)."""

TOTAL_NORMALIZE_SQL = r"[\s:：()（）\[\]【】.\-_]+"
"""Characters removed (with lower-casing) before a cell is compared with the total words, in SQL."""

_TOTAL_NORMALIZE_RE = re.compile(r"[\s:：()（）\[\]【】.\-_]+")


def show_control_chars(text: str) -> str:
    """`text` with every control character written as ``\\xNN`` (for messages and tables)."""
    return CONTROL_CHARS.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def normalize_total_word(text: str) -> str:
    """A cell or a total word as compared: NFKC, lower case, without spaces, colons and brackets."""
    return _TOTAL_NORMALIZE_RE.sub("", unicodedata.normalize("NFKC", text)).lower()


@functools.lru_cache(maxsize=1)
def shipped_total_words() -> tuple[str, ...]:
    """The words of ``data/total_words.csv`` (column ``word``), normalized."""
    with (DATA_DIR / "total_words.csv").open(encoding="utf-8-sig", newline="") as fh:
        return tuple(
            dict.fromkeys(normalize_total_word(r["word"]) for r in csv.DictReader(fh) if r["word"].strip())
        )


def total_words(extra: Iterable[str] = ()) -> list[str]:
    """The normalized total words: the project's `extra` words, then the shipped ones."""
    words = [normalize_total_word(w) for w in extra if w.strip()]
    return list(dict.fromkeys([*words, *shipped_total_words()]))
