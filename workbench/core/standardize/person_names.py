"""Person names: whitespace, case and a pinyin form (pypinyin) for Chinese names.

Chinese names lose inner spaces (``张 三`` → ``张三``) and traditional characters (OpenCC);
Latin names written all upper or all lower case get title case (``JOHN SMITH`` → ``John Smith``).
``<f>_pinyin`` is the name in pinyin without tones or spaces (``zhangsan``); for a Latin name it is
the name lower-cased without spaces, so both scripts compare on one column. A single Chinese
character is a valid name (a surname 王 or a given name 轩 of a source that splits names), kept
with the warning ``single_character``.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import pandas as pd

from workbench.core.standardize.base import (
    CJK_RE,
    CleanText,
    Reference,
    clean_text,
    is_blank,
    join_rules,
    rejected,
    resolve_reference,
    result_from_records,
    script_of,
)
from workbench.project.settings.standardize import StandardizeSettings

EXTRAS = ("pinyin",)
INTERNAL = ("__test",)

_DOTS = str.maketrans({"•": "·", "・": "·", "．": "·", "‧": "·"})
_NON_LETTER_RE = re.compile(r"[^0-9a-z\u00c0-\u024f\u3400-\u9fff]+")


@functools.lru_cache(maxsize=1)
def _pinyin_tables() -> tuple[frozenset[str], dict[str, Any], int]:
    """pypinyin's data: characters with several readings, its phrase dictionary, the longest phrase."""
    import unicodedata

    from pypinyin import phrases_dict, pinyin_dict

    def toneless(reading: str) -> str:
        return "".join(c for c in unicodedata.normalize("NFD", reading) if not unicodedata.combining(c))

    several = frozenset(
        chr(cp)
        for cp, readings in pinyin_dict.pinyin_dict.items()
        if len({toneless(r) for r in readings.split(",")}) > 1
    )
    phrases = phrases_dict.phrases_dict
    return several, phrases, max((len(k) for k in phrases), default=1)


_CHAR_PINYIN: dict[str, str] = {}


def _char_pinyin(ch: str) -> str:
    found = _CHAR_PINYIN.get(ch)
    if found is None:
        from pypinyin import lazy_pinyin

        found = "".join(lazy_pinyin(ch))
        _CHAR_PINYIN[ch] = found
    return found


def _needs_phrases(text: str) -> bool:
    """True when a dictionary phrase in `text` holds a character with several readings.

    Only then can pypinyin's phrase-aware reading (重庆 chongqing, 长沙 changsha) differ from the
    characters' default readings; other text is read character by character, which gives the same
    result in a fraction of the time.
    """
    several, phrases, longest = _pinyin_tables()
    if several.isdisjoint(text):
        return False
    n = len(text)
    for i in range(n - 1):
        for j in range(i + 2, min(n, i + longest) + 1):
            chunk = text[i:j]
            if chunk in phrases and not several.isdisjoint(chunk):
                return True
    return False


@functools.lru_cache(maxsize=300_000)
def pinyin_of(text: str) -> str:
    """The text in pinyin without tones or spaces; Latin letters and digits kept lower-case.

    pypinyin reads the text, phrase-aware; text whose reading does not depend on phrases is read
    character by character from pypinyin's readings (same result, much faster).
    """
    if not CJK_RE.search(text):
        return _NON_LETTER_RE.sub("", text.lower())
    if _needs_phrases(text):
        from pypinyin import lazy_pinyin

        return _NON_LETTER_RE.sub("", "".join(lazy_pinyin(text)).lower())
    return _NON_LETTER_RE.sub(
        "", "".join(_char_pinyin(ch) if CJK_RE.match(ch) else ch for ch in text).lower()
    )


def standardize_person_names(
    values: pd.Series,
    *,
    settings: StandardizeSettings | None = None,
    reference: Reference | None = None,
) -> pd.DataFrame:
    """Standardize person names.

    Args:
        values: distinct raw names.
        settings: the `standardize:` settings.
        reference: the reference tables (``test_patterns``).

    Returns:
        The result frame with the extra ``pinyin`` and the internal ``__test`` (test-record reason).
    """
    settings, reference = resolve_reference(settings, reference)
    tests = compile_test_patterns(reference, "name")
    records = [standardize_person_name(v, settings, tests) for v in values.tolist()]
    return result_from_records(records, values, (*EXTRAS, *INTERNAL))


def standardize_person_name(
    raw: Any, settings: StandardizeSettings, tests: list[tuple[re.Pattern[str], str]]
) -> dict[str, Any]:
    """Standardize one person name (see :func:`standardize_person_names`)."""
    if is_blank(raw):
        return {}
    return person_result(clean_text(str(raw), settings=settings), tests)


def person_result(cleaned: CleanText, tests: list[tuple[re.Pattern[str], str]]) -> dict[str, Any]:
    """The result row of a cleaned person name."""
    if cleaned.text is None:
        return rejected("mojibake")
    rules = list(cleaned.rules)
    text = cleaned.text.translate(_DOTS)
    script = script_of(text)
    if script == "cjk" and " " in text:
        text = text.replace(" ", "")
        rules.append("name_spaces")
    elif script == "latin":
        words = text.split(" ")
        if text.isupper() or text.islower():
            titled = " ".join(w[:1].upper() + w[1:].lower() for w in words)
            if titled != text:
                rules.append("name_case")
                text = titled
    issue = _name_issue(text, script)
    test = match_test_pattern(text, tests)
    if issue is not None:
        return rejected(issue, __test=test)
    warning = "mojibake_repaired" if cleaned.mojibake else None
    if script == "cjk" and len(text) == 1:
        # a surname (王) or a given name (轩) in a split-name source: kept, with a warning
        warning = warning or "single_character"
    return {
        "value": text,
        "valid": True,
        "issue": warning,
        "rule": join_rules(*rules),
        "pinyin": pinyin_of(text),
        "__test": test,
    }


def _name_issue(text: str, script: str | None) -> str | None:
    """Why a cleaned name is not a valid person name, else ``None``."""
    if script is None:
        return "no_letters"
    if any(ch.isdigit() for ch in text):
        return "has_digits"
    return None


def compile_test_patterns(reference: Reference, applies_to: str) -> list[tuple[re.Pattern[str], str]]:
    """Compiled test-record patterns of the ``test_patterns`` table for one kind of value."""
    table = reference.table("test_patterns")
    rows = table[table["applies_to"] == applies_to]
    tests = [(re.compile(p, re.IGNORECASE), r) for p, r in zip(rows["pattern"], rows["reason"], strict=True)]
    if tests:
        # one combined pattern answers "any match?" in one pass; the list then names the reason
        tests.insert(0, (re.compile("|".join(f"(?:{p.pattern})" for p, _ in tests), re.IGNORECASE), ""))
    return tests


def match_test_pattern(text: str, tests: list[tuple[re.Pattern[str], str]]) -> str | None:
    """The reason of the first test pattern that matches `text`, else ``None``."""
    if not tests or not tests[0][0].search(text):
        return None
    for pattern, reason in tests[1:]:
        if pattern.search(text):
            return reason
    return None
