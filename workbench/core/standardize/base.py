"""Shared pieces of the standardizers: the result frame, text clean-up and the reference tables.

Every per-kind standardizer takes a pandas Series of *distinct* raw values and returns a DataFrame
with the same index and these columns (plus its kind extras):

- ``value``: the standardized value (``None`` when missing or invalid),
- ``valid``: ``True`` / ``False``, ``None`` when the value is missing (NULL or only spaces),
- ``issue``: a reason code when invalid or changed with a warning, else ``None``,
- ``rule``: the change rules applied (``;``-separated) when ``value`` differs from the raw text,
  ``None`` when nothing changed. Every change becomes a ``change_log`` row with this rule.
- ``valid_before``: the raw value was valid as it stood (valid and unchanged, or a lossless format
  change the standardizer vouches for); ``field_validity`` counts it as *valid before*.

A per-value standardizer writes one record (a dict of those columns) per present value:
:func:`per_value` calls it for each value that is not blank, :func:`rejected` is the record of an
invalid value, and :func:`result_from_records` turns the records into the finished frame.

This module also owns text clean-up shared by several kinds (NFKC, whitespace, traditional →
simplified, mojibake detection) and the reference tables in ``workbench/core/standardize/data/``
(:func:`load_reference`; :func:`resolve_reference` gives a standardizer its defaults).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.errors import WorkbenchError
from workbench.project.settings.standardize import TABLE_NAMES, StandardizeSettings

DATA_DIR = Path(__file__).parent / "data"
BASE_COLUMNS = ("value", "valid", "issue", "rule")

CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN_RE = re.compile(r"[A-Za-z\u00c0-\u024f]")
SPACE_RE = re.compile(r"\s+")
# bracket styles folded to ASCII round brackets (NFKC already folds （） and ［］)
BRACKETS = str.maketrans(
    {"【": "(", "】": ")", "〔": "(", "〕": ")", "〈": "(", "〉": ")", "[": "(", "]": ")"}
)


class StandardizeError(WorkbenchError):
    """Standardization cannot run: a staged table or a reference table is missing or malformed."""


# --------------------------------------------------------------------------------------------
# result frames


def empty_result(values: pd.Series, extras: Iterable[str] = ()) -> pd.DataFrame:
    """A result frame for `values` with every column set to ``None``."""
    columns = [*BASE_COLUMNS, *extras]
    return pd.DataFrame(
        {c: pd.Series([None] * len(values), index=values.index, dtype=object) for c in columns}
    )


def per_value(
    values: pd.Series, one: Callable[..., dict[str, Any]], regions: pd.Series | None = None
) -> list[dict[str, Any]]:
    """One record per value: ``one(raw)`` (``one(raw, region)`` with `regions`), ``{}`` when blank.

    Args:
        values: distinct raw values.
        one: standardizes one present value into a record (columns of the result frame).
        regions: one region per value (same order as `values`), for kinds read by country.
    """
    if regions is None:
        return [{} if is_blank(raw) else one(raw) for raw in values.tolist()]
    return [
        {} if is_blank(raw) else one(raw, region)
        for raw, region in zip(values.tolist(), regions.tolist(), strict=True)
    ]


def region_series(region: str | pd.Series, values: pd.Series) -> pd.Series:
    """The region of every value: `region` itself when it is a Series, else `region` repeated."""
    return region if isinstance(region, pd.Series) else pd.Series(region, index=values.index)


def rejected(issue: str, **extras: Any) -> dict[str, Any]:
    """The record of an invalid value: not valid, the `issue` and the rule ``reject_<issue>``."""
    return {"valid": False, "issue": issue, "rule": f"reject_{issue}", **extras}


def frame_from_records(
    records: list[dict[str, Any]], values: pd.Series, extras: Iterable[str] = ()
) -> pd.DataFrame:
    """A frame of the result columns (base columns, then `extras`) from one record per value.

    Missing entries become None (not NaN); the rules are not finished yet (see :func:`finish_result`).
    """
    columns = [*BASE_COLUMNS, *extras]
    frame = pd.DataFrame.from_records(records, index=values.index, columns=columns)
    return frame.astype(object).where(frame.notna(), None)


def result_from_records(
    records: list[dict[str, Any]],
    values: pd.Series,
    extras: Iterable[str] = (),
    *,
    compare_text: bool = True,
) -> pd.DataFrame:
    """A standardizer's result frame from one record per value: :func:`frame_from_records`, finished."""
    return finish_result(frame_from_records(records, values, extras), values, compare_text=compare_text)


def finish_result(frame: pd.DataFrame, raw: pd.Series, *, compare_text: bool = True) -> pd.DataFrame:
    """Make ``rule`` consistent with the values: set when the value differs from the raw text.

    A value that differs from its raw text without a recorded rule gets the rule ``normalize``; a
    value that equals its raw text has no rule. Missing raw values are never changes. With
    ``compare_text=False`` (typed kinds) the standardizer's own rules are kept as they are, except
    for missing values.
    """
    present = ~raw.map(is_blank)
    if compare_text:
        as_text = frame["value"].map(lambda v: None if v is None or v is pd.NA else str(v))
        changed = present & (as_text.isna() | (as_text != raw))
        frame["rule"] = frame["rule"].where(changed, None)
        missing_rule = changed & frame["rule"].isna()
        frame.loc[missing_rule, "rule"] = "normalize"
    frame.loc[~present, "rule"] = None
    # valid before: the raw value was already valid as it stood (a standardizer may say so for a
    # lossless format change, e.g. an ISO timestamp read as a date)
    derived = frame["valid"].eq(True) & frame["rule"].isna()
    if "valid_before" in frame.columns:
        given = frame["valid_before"]
        derived = derived | (given.eq(True) & frame["valid"].eq(True))
    frame["valid_before"] = derived.where(present, None).astype(object)
    frame.loc[~present, "valid_before"] = None
    return frame


def join_rules(*rules: str | None) -> str | None:
    """Join rule names with ``;`` (skipping empty ones), keeping the first occurrence of each."""
    out = list(dict.fromkeys(r for rule in rules if rule for r in rule.split(";")))
    return ";".join(out) or None


def is_blank(value: Any) -> bool:
    """True for a missing value: None, NA, NaN or text of only whitespace."""
    return (
        value is None
        or value is pd.NA
        or (isinstance(value, float) and value != value)
        or not str(value).strip()
    )


# --------------------------------------------------------------------------------------------
# text


def nfkc(text: str) -> str:
    """Unicode NFKC: full-width letters, digits and punctuation become half-width."""
    return unicodedata.normalize("NFKC", text)


def collapse_spaces(text: str) -> str:
    """Trim and collapse runs of whitespace (including ideographic spaces) to one space."""
    return SPACE_RE.sub(" ", text).strip()


def script_of(text: str) -> str | None:
    """``cjk``, ``latin`` or ``mixed`` by the letters the text holds (``None`` without letters)."""
    has_cjk = bool(CJK_RE.search(text))
    has_latin = bool(LATIN_RE.search(text))
    if has_cjk and has_latin:
        return "mixed"
    if has_cjk:
        return "cjk"
    if has_latin:
        return "latin"
    return None


@functools.lru_cache(maxsize=1)
def _opencc():
    import opencc

    return opencc.OpenCC("t2s")


@functools.lru_cache(maxsize=1)
def _traditional_chars() -> frozenset[str]:
    # characters that OpenCC's t2s table changes; only values holding one go through OpenCC (it is slow)
    import opencc

    path = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
    chars = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and len(parts[0]) == 1 and parts[0] not in parts[1].split(" "):
            chars.add(parts[0])
    return frozenset(chars)


def has_traditional(text: str) -> bool:
    """True when the text holds a character that OpenCC converts to simplified Chinese."""
    return not _traditional_chars().isdisjoint(text)


def to_simplified(text: str) -> str:
    """Traditional → simplified Chinese with OpenCC (t2s, phrase-aware)."""
    return _opencc().convert(text) if has_traditional(text) else text


_LATIN1_MOJIBAKE_RE = re.compile(r"[\u00c2-\u00f4][\u0080-\u00bf\u2018-\u203a\u0152-\u0178\u02c6\u02dc]")


def repair_mojibake(text: str) -> tuple[str | None, bool]:
    """Detect text that was decoded with the wrong codec, and repair it when possible.

    Recognised: UTF-8 bytes decoded as GBK/GB18030 (``涓婃捣`` for ``上海``), UTF-8 decoded as
    Latin-1/CP1252 (``ä¸Šæµ·``), and U+FFFD replacement characters (bytes already lost).

    Returns:
        ``(repaired, True)`` when the text is mojibake: ``repaired`` is the recovered text, or
        ``None`` when it cannot be recovered; ``(text, False)`` when the text looks fine.
    """
    if "\ufffd" in text:
        return None, True
    if CJK_RE.search(text):
        return _repair_gbk_mojibake(text)
    if _LATIN1_MOJIBAKE_RE.search(text):
        return _repair_latin1_mojibake(text)
    return text, False


def _repair_gbk_mojibake(text: str) -> tuple[str | None, bool]:
    """UTF-8 bytes that were decoded as GBK/GB18030: encode back and decode as UTF-8."""
    try:
        raw = text.encode("gb18030")
    except UnicodeEncodeError:
        return text, False
    if raw.isascii():
        return text, False
    try:
        fixed = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a lost last byte still shows the pattern: everything before it is valid UTF-8
        if exc.start >= len(raw) - 3 and exc.start > 0:
            head = raw[: exc.start].decode("utf-8", errors="strict")
            if len(CJK_RE.findall(head)) >= 2:
                return None, True
        return text, False
    if fixed != text and CJK_RE.search(fixed):
        return fixed, True
    return text, False


def _repair_latin1_mojibake(text: str) -> tuple[str | None, bool]:
    """UTF-8 bytes that were decoded as CP1252 or Latin-1: encode back and decode as UTF-8."""
    for codec in ("cp1252", "latin-1"):
        try:
            fixed = text.encode(codec).decode("utf-8")
        except UnicodeError:
            continue
        if fixed != text:
            return fixed, True
    return text, False


@dataclass
class CleanText:
    """The outcome of :func:`clean_text` for one value."""

    text: str | None
    rules: list[str] = field(default_factory=list)
    mojibake: bool = False


def clean_text(
    value: str,
    *,
    settings: StandardizeSettings,
    simplify: bool = True,
    keep_case: bool = True,
) -> CleanText:
    """The clean-up every text kind shares: mojibake, NFKC, whitespace, traditional → simplified.

    Args:
        value: the raw text (not blank).
        settings: the `standardize:` settings (mojibake repair, t2s on/off).
        simplify: convert traditional to simplified Chinese.
        keep_case: keep letter case (kinds decide case themselves).

    Returns:
        The cleaned text (``None`` when it is unrecoverable mojibake) and the rules applied.
    """
    rules: list[str] = []
    text = value
    fixed, bad = repair_mojibake(text)
    if bad:
        if fixed is None or not settings.repair_mojibake:
            return CleanText(None, ["mojibake"], True)
        text = fixed
        rules.append("mojibake_repair")
    normal = nfkc(text)
    if normal != text:
        rules.append("fullwidth_to_halfwidth" if _only_width_changed(text, normal) else "nfkc")
        text = normal
    spaced = collapse_spaces(text)
    if spaced != text:
        rules.append("whitespace")
        text = spaced
    if simplify and settings.traditional_to_simplified and has_traditional(text):
        simple = to_simplified(text)
        if simple != text:
            rules.append("traditional_to_simplified")
            text = simple
    if not keep_case:
        text = text.lower()
    return CleanText(text, rules, bad)


def _only_width_changed(before: str, after: str) -> bool:
    return any(unicodedata.east_asian_width(c) in ("F", "W") and c != nfkc(c) for c in before)


# --------------------------------------------------------------------------------------------
# reference tables


_REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "address_abbreviations": ("abbreviation", "expansion"),
    "branch_markers": ("marker", "script"),
    "company_words": ("word", "script"),
    "country_conventions": ("country", "day_first", "postcode_pattern", "postcode_pad"),
    "country_names": ("name", "code"),
    "customer_type_words": ("word", "customer_type"),
    "email_domain_typos": ("typo", "fix"),
    "flag_words": ("word", "value"),
    "industry_keywords": ("keyword", "industry"),
    "legal_forms": ("variant", "canonical", "script", "entity"),
    "person_id_modules": ("country", "module"),
    "placeholder_phones": ("number", "reason"),
    "postcode_prefixes": ("prefix", "province"),
    "region_words": ("word", "canonical", "level", "adcode", "script"),
    "status_words": ("word", "status"),
    "surnames": ("surname",),
    "test_patterns": ("pattern", "applies_to", "reason"),
}


@functools.lru_cache(maxsize=64)
def _read_table(path: Path, name: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise StandardizeError(
            f"{path}: cannot read the reference table {name!r} ({exc}); it must be a UTF-8 CSV with the "
            f"columns {', '.join(_REQUIRED_COLUMNS[name])}"
        ) from exc
    missing = [c for c in _REQUIRED_COLUMNS[name] if c not in frame.columns]
    if missing:
        raise StandardizeError(
            f"{path}: the reference table {name!r} lacks the column(s) {missing}; expected "
            f"{', '.join(_REQUIRED_COLUMNS[name])} (see {DATA_DIR / (name + '.csv')})"
        )
    frame = frame.map(str.strip)
    first = _REQUIRED_COLUMNS[name][0]
    bad = frame.index[frame[first] == ""].tolist()
    if bad:
        raise StandardizeError(
            f"{path}: row(s) {[i + 2 for i in bad]} of the reference table {name!r} have an empty "
            f"{first!r}; fill it or delete the row"
        )
    return frame


@dataclass
class Reference:
    """The reference tables a run uses (shipped defaults, replaced or extended by the project)."""

    tables: dict[str, pd.DataFrame]
    paths: dict[str, list[Path]]

    def table(self, name: str) -> pd.DataFrame:
        """The reference table `name` (shipped rows, with the project's rows first)."""
        return self.tables[name]

    def mapping(
        self, name: str, key: str, value: str, *, fold: Callable[[str], str] = str.lower
    ) -> dict[str, str]:
        """A dict key → value from a table; the first row wins (project rows come first)."""
        out: dict[str, str] = {}
        frame = self.tables[name]
        for k, v in zip(frame[key], frame[value], strict=True):
            out.setdefault(fold(k), v)
        return out


def load_reference(settings: StandardizeSettings | None = None, base_dir: Path | None = None) -> Reference:
    """Load every reference table: the shipped CSV files, replaced or extended per the settings.

    Args:
        settings: the `standardize:` settings; default settings when ``None``.
        base_dir: the folder the config file's paths are relative to.

    Raises:
        StandardizeError: a table file is missing, unreadable or lacks a required column.
    """
    settings = settings or StandardizeSettings()
    base = base_dir or Path.cwd()
    tables: dict[str, pd.DataFrame] = {}
    paths: dict[str, list[Path]] = {}
    for name in TABLE_NAMES:
        main = settings.tables.get(name)
        main_path = _resolve(base, main) if main else DATA_DIR / f"{name}.csv"
        extra = [_resolve(base, p) for p in settings.extra_tables.get(name, [])]
        files = [*extra, main_path]  # project rows first: the first row of a key wins
        for p in files:
            if not p.is_file():
                raise StandardizeError(
                    f"standardize.tables/extra_tables: the file {p} for table {name!r} does not exist; "
                    f"fix the path (relative to the config file)"
                )
        frames = [_read_table(p, name) for p in files]
        tables[name] = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        paths[name] = files
    if settings.status_words:
        extra_status = pd.DataFrame(
            {"word": list(settings.status_words), "status": list(settings.status_words.values())}
        )
        tables["status_words"] = pd.concat([extra_status, tables["status_words"]], ignore_index=True)
    if settings.placeholder_phones:
        extra_ph = pd.DataFrame({"number": settings.placeholder_phones, "reason": "placeholder"})
        tables["placeholder_phones"] = pd.concat([extra_ph, tables["placeholder_phones"]], ignore_index=True)
    if settings.test_patterns:
        extra_tp = pd.DataFrame(
            {"pattern": settings.test_patterns, "applies_to": "name", "reason": "test_keyword"}
        )
        tables["test_patterns"] = pd.concat([extra_tp, tables["test_patterns"]], ignore_index=True)
    for i, pattern in enumerate(tables["test_patterns"]["pattern"]):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise StandardizeError(
                f"test pattern {pattern!r} (row {i + 2} of test_patterns / standardize.test_patterns) is not a "
                f"valid regular expression: {exc}"
            ) from exc
    return Reference(tables, paths)


def resolve_reference(
    settings: StandardizeSettings | None, reference: Reference | None
) -> tuple[StandardizeSettings, Reference]:
    """The settings and reference tables a standardizer runs with: those given, else the defaults."""
    settings = settings or StandardizeSettings()
    return settings, reference or load_reference(settings)


def _resolve(base: Path, path: Path) -> Path:
    path = Path(path).expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def literal_alternation(words: Iterable[str]) -> str:
    """A regex alternation of literal words, longest first (so the longest match wins)."""
    unique = sorted({w for w in words if w}, key=lambda w: (-len(w), w))
    return "|".join(re.escape(w) for w in unique)


_TOKEN_RE = re.compile(r"[0-9A-Za-z\u00c0-\u024f]+|&|/")


def latin_tokens(text: str) -> list[re.Match[str]]:
    """Latin word tokens (letters/digits runs, ``&`` and ``/``) of a text, with their spans."""
    return list(_TOKEN_RE.finditer(text))


class KeywordFinder:
    """Find words of a reference table in a text, fast, for many distinct values.

    Chinese (non-Latin) words match as substrings; Latin words match whole words, case-insensitive,
    also several words in a row (``Information Technology``). The longest match wins.
    """

    def __init__(self, words: Iterable[str]) -> None:
        self.cjk: list[str] = []
        self.latin: dict[str, str] = {}
        self.max_tokens = 0
        for word in words:
            if not word:
                continue
            if script_of(word) == "latin":
                key = " ".join(m.group(0).lower() for m in latin_tokens(word))
                self.latin.setdefault(key, word)
                self.max_tokens = max(self.max_tokens, key.count(" ") + 1)
            else:
                self.cjk.append(word)
        self.cjk.sort(key=lambda w: (-len(w), w))

    def find(self, text: str) -> str | None:
        """The longest table word found in `text` (as written in the table), else ``None``."""
        best: str | None = None
        for word in self.cjk:
            if word in text:
                best = word
                break
        if self.latin and LATIN_RE.search(text):
            tokens = [m.group(0).lower() for m in latin_tokens(text)]
            for n in range(min(self.max_tokens, len(tokens)), 0, -1):
                for i in range(len(tokens) - n + 1):
                    hit = self.latin.get(" ".join(tokens[i : i + n]))
                    if hit and (best is None or len(hit) > len(best)):
                        return hit
        return best
