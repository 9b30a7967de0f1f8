"""Column headers → the canonical fields they most likely name (``data/header_words.csv``).

This module owns the header normalization and the scoring of a header against the header words.
A header matches a word exactly (score 1), contains a Chinese word of two or more characters, or
holds an English word as whole tokens (a partial match scores by how much of the header it covers).
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import WorkbenchError

DATA_DIR = Path(__file__).parent / "data"
HEADER_WORDS = DATA_DIR / "header_words.csv"
ROLES = ("customers", "activity")

_REMARK_RE = re.compile(r"[(（\[【<《].*?[)）\]】>》]")
_SPLIT_RE = re.compile(r"[\W_]+")
_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_TOKEN_RE = re.compile(r"[a-z0-9]+|[^\W\da-z_]+")
_CJK_RE = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True)
class HeaderWord:
    """One row of the header words table."""

    word: str
    field: str
    kind: str
    role: str
    part_of: str
    key: str
    tokens: tuple[str, ...]
    weight: float = 1.0


@dataclass(frozen=True)
class HeaderMatch:
    """A field a header may name, with the score of the best word that says so."""

    field: str
    kind: str
    score: float
    word: str
    part_of: str = ""


def header_key(text: str) -> str:
    """A header as compared: NFKC, lower case, a bracketed remark dropped, no spaces or punctuation."""
    text = unicodedata.normalize("NFKC", str(text)).strip()
    without = _REMARK_RE.sub("", text).strip()
    text = without or text
    return _SPLIT_RE.sub("", text.lower())


def header_tokens(text: str) -> tuple[str, ...]:
    """The word tokens of a header (``CustomerID`` → ``customer``, ``id``; a Chinese run is one token)."""
    text = unicodedata.normalize("NFKC", str(text)).strip()
    without = _REMARK_RE.sub("", text).strip()
    text = _CAMEL_RE.sub(" ", without or text).lower()
    return tuple(_TOKEN_RE.findall(text))


class HeaderWords:
    """The header words table, ready to score headers."""

    def __init__(self, words: list[HeaderWord]) -> None:
        self.words = words
        self.by_key: dict[str, list[HeaderWord]] = {}
        for w in words:
            self.by_key.setdefault(w.key, []).append(w)

    @classmethod
    def load(cls, path: Path = HEADER_WORDS) -> HeaderWords:
        """Read a header words table (columns word, field, kind, role, part_of, weight).

        Raises:
            WorkbenchError: the file is missing or lacks a column.
        """
        try:
            with path.open(encoding="utf-8-sig", newline="") as fh:
                rows = list(csv.DictReader(fh))
        except OSError as exc:
            raise WorkbenchError(f"{path}: cannot read the header words ({exc})") from exc
        need = {"word", "field", "kind", "role"}
        if rows and not need <= set(rows[0]):
            raise WorkbenchError(f"{path}: the header words table needs the columns {sorted(need)}")
        words = [
            HeaderWord(
                r["word"].strip(),
                r["field"].strip(),
                r["kind"].strip(),
                (r.get("role") or "any").strip(),
                (r.get("part_of") or "").strip(),
                header_key(r["word"]),
                header_tokens(r["word"]),
                float(r.get("weight") or 1),
            )
            for r in rows
            if r["word"].strip()
        ]
        return cls(words)

    def matches(self, header: str, role: str | None = None) -> list[HeaderMatch]:
        """The fields `header` may name, best first (one entry per field).

        Args:
            header: the column header.
            role: ``customers`` or ``activity`` to use only the words of that role (and ``any``);
                ``None`` for every word.
        """
        key = header_key(header)
        if not key:
            return []
        tokens = header_tokens(header)
        best: dict[str, HeaderMatch] = {}
        for word in self._candidates(key):
            if role is not None and word.role not in ("any", role):
                continue
            score = _score(word, key, tokens) * word.weight
            if score <= 0:
                continue
            current = best.get(word.field)
            if current is None or score > current.score:
                best[word.field] = HeaderMatch(
                    word.field, word.kind, round(score, 3), word.word, word.part_of
                )
        return sorted(best.values(), key=lambda m: (-m.score, m.field))

    def score(self, header: str) -> float:
        """How much `header` looks like a column header at all (its best match, any role)."""
        found = self.matches(header)
        return found[0].score if found else 0.0

    def _candidates(self, key: str) -> list[HeaderWord]:
        exact = self.by_key.get(key, [])
        return exact + [w for w in self.words if w.key != key and w.key and w.key in key]


def _score(word: HeaderWord, key: str, tokens: tuple[str, ...]) -> float:
    """1 for an exact match, less for a word inside a longer header, 0 when it does not match."""
    if word.key == key:
        return 1.0
    if _CJK_RE.search(word.key):
        if len(word.key) < 2 or word.key not in key:
            return 0.0
        return 0.55 + 0.35 * len(word.key) / len(key)
    n = len(word.tokens)
    if not n or n > len(tokens):
        return 0.0
    if not any(tokens[i : i + n] == word.tokens for i in range(len(tokens) - n + 1)):
        return 0.0
    return 0.6 + 0.35 * n / len(tokens)


@functools.lru_cache(maxsize=1)
def shipped_header_words() -> HeaderWords:
    """The shipped header words table."""
    return HeaderWords.load()
