"""Amounts, numbers, codes, status words, yes/no flags, URLs and free text.

- Amounts / numbers: currency signs and words (``¥``, ``RMB``, ``元``), thousands separators,
  ``万`` (×10,000), accounting negatives ``(1,234.00)`` and decimal commas (``1.234,50``) → DOUBLE.
- Codes: NFKC and trimmed; the text is otherwise kept (codes are mapped to target values later).
- Status: legacy words (``注销``, ``吊销``, ``停用``, ``inactive`` …, the ``status_words`` table and
  ``standardize.status_words``) → ``active`` / ``deregistered`` / ``revoked`` / ``suspended`` /
  ``inactive``; an unknown word is invalid (``unknown_status``) and reported.
- Flags: yes/no words (``是/否``, ``Y/N``, ``1/0`` — the ``flag_words`` table) → BOOLEAN.
- URLs: lower-case scheme and host, ``http://`` added when missing.
- Text: NFKC, whitespace, mojibake flagged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pandas as pd

from workbench.core.standardize.base import (
    Reference,
    clean_text,
    join_rules,
    nfkc,
    per_value,
    rejected,
    resolve_reference,
    result_from_records,
)
from workbench.project.settings.standardize import StandardizeSettings

_CURRENCY_RE = re.compile(r"(?i)(rmb|cny|usd|eur|hkd|人民币|元|¥|￥|\$|€|£)")
_PLAIN_NUMBER_RE = re.compile(r"[+-]?\d+(\.\d+)?")


def standardize_amounts(values: pd.Series) -> pd.DataFrame:
    """Standardize amounts and numbers to floats.

    Args:
        values: distinct raw amounts.

    Returns:
        The result frame; ``value`` is a float. Plain numbers (``1200.50``) are not changes;
        anything read differently carries the rule ``amount_format`` (or ``amount_wan``).
    """
    return result_from_records(per_value(values, _amount_one), values, compare_text=False)


def _amount_one(raw: Any) -> dict[str, Any]:
    original = str(raw)
    if _PLAIN_NUMBER_RE.fullmatch(original):
        return {"value": float(original), "valid": True}
    text = nfkc(original).strip()
    rules = ["amount_format"]
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1]
    text = _CURRENCY_RE.sub("", text).replace(" ", "").replace("\u00a0", "")
    factor = 1.0
    if text.endswith("万"):
        factor, text = 10_000.0, text[:-1]
        rules.append("amount_wan")
    if text.endswith("-"):
        negative, text = True, text[:-1]
    if "," in text and "." in text:
        if text.rfind(",") > text.rfind("."):
            text = text.replace(".", "").replace(",", ".")  # 1.234,50
        else:
            text = text.replace(",", "")  # 1,234.50
    elif "," in text:
        head, _, tail = text.rpartition(",")
        # 1,234 / 1,234,567 are thousands; 12,5 is a decimal comma
        text = text.replace(",", "") if len(tail) == 3 else f"{head.replace(',', '')}.{tail}"
    try:
        number = float(text) * factor
    except ValueError:
        return rejected("not_a_number")
    if number != number or number in (float("inf"), float("-inf")):
        return rejected("not_a_number")
    return {"value": -number if negative else number, "valid": True, "rule": join_rules(*rules)}


def standardize_codes(values: pd.Series, *, settings: StandardizeSettings | None = None) -> pd.DataFrame:
    """Standardize codes: NFKC, trimmed, inner whitespace collapsed; everything else kept."""
    return _text_like(values, settings or StandardizeSettings(), simplify=False)


def standardize_text(values: pd.Series, *, settings: StandardizeSettings | None = None) -> pd.DataFrame:
    """Standardize free text: mojibake, NFKC, whitespace (traditional characters are kept)."""
    return _text_like(values, settings or StandardizeSettings(), simplify=False)


def _text_like(values: pd.Series, settings: StandardizeSettings, *, simplify: bool) -> pd.DataFrame:
    def one(raw: Any) -> dict[str, Any]:
        cleaned = clean_text(str(raw), settings=settings, simplify=simplify)
        if cleaned.text is None:
            return rejected("mojibake")
        return {
            "value": cleaned.text,
            "valid": True,
            "issue": "mojibake_repaired" if cleaned.mojibake else None,
            "rule": join_rules(*cleaned.rules),
        }

    return result_from_records(per_value(values, one), values)


def standardize_statuses(
    values: pd.Series,
    *,
    settings: StandardizeSettings | None = None,
    reference: Reference | None = None,
) -> pd.DataFrame:
    """Map legacy status words to the status enum (see the module docstring)."""
    _, reference = resolve_reference(settings, reference)
    words = reference.mapping("status_words", "word", "status", fold=_fold_word)
    by_length = sorted(words.items(), key=lambda i: -len(i[0]))

    def status_of(key: str) -> str | None:
        # "吊销，未注销" and similar: the first known word inside the text decides
        found = words.get(key)
        return found if found is not None else next((s for w, s in by_length if w and w in key), None)

    # a known legacy word is a valid value; mapping it to the enum is a translation
    return _map_words(values, status_of, "unknown_status", "status_word")


def _fold_word(text: str) -> str:
    return " ".join(nfkc(text).lower().split())


def _map_words(
    values: pd.Series,
    lookup: Callable[[str], Any],
    unknown: str,
    rule: str | None,
    *,
    compare_text: bool = True,
) -> pd.DataFrame:
    """Values mapped through a word table (looked up folded: NFKC, lower case, single spaces).

    `lookup` gives the target value of a folded word (``None`` when unknown: invalid, `unknown`).
    A known word is valid as it stands (``valid_before``): writing it as the target value is a
    translation under `rule`, not a repair.
    """

    def one(raw: Any) -> dict[str, Any]:
        found = lookup(_fold_word(str(raw)))
        if found is None:
            return rejected(unknown)
        return {"value": found, "valid": True, "valid_before": True, "rule": rule}

    return result_from_records(per_value(values, one), values, ("valid_before",), compare_text=compare_text)


def standardize_flags(
    values: pd.Series,
    *,
    settings: StandardizeSettings | None = None,
    reference: Reference | None = None,
) -> pd.DataFrame:
    """Map yes/no words to booleans (the ``flag_words`` table); other text is invalid.

    The boolean is the typed value of the word, not a change: flags carry no rule.
    """
    _, reference = resolve_reference(settings, reference)
    words = reference.mapping("flag_words", "word", "value", fold=_fold_word)

    def truth(key: str) -> bool | None:
        word = words.get(key)
        return None if word is None else word.lower() == "true"

    return _map_words(values, truth, "unknown_flag", None, compare_text=False)


_URL_RE = re.compile(
    r"(?i)^(?:(https?|ftp)://)?([a-z0-9\-\u00a1-\uffff]+(?:\.[a-z0-9\-\u00a1-\uffff]+)+)(:\d+)?(/.*)?$"
)


def standardize_urls(values: pd.Series) -> pd.DataFrame:
    """Standardize web addresses: scheme and host lower-case, ``http://`` added when missing."""
    return result_from_records(per_value(values, _url_one), values)


def _url_one(raw: Any) -> dict[str, Any]:
    text = nfkc(str(raw)).strip()
    m = _URL_RE.match(text)
    if not m:
        return rejected("invalid_url")
    scheme = (m.group(1) or "http").lower()
    url = f"{scheme}://{m.group(2).lower()}{m.group(3) or ''}{m.group(4) or ''}"
    return {"value": url, "valid": True, "rule": "url_format"}


def standardize_customer_types(
    values: pd.Series,
    *,
    settings: StandardizeSettings | None = None,
    reference: Reference | None = None,
) -> pd.DataFrame:
    """Map a given customer type (``企业``, ``个人``, ``Company``, ``Individual`` …) to ``B2B`` / ``B2C``.

    Uses the ``customer_type_words`` table; an unknown word is invalid (``unknown_customer_type``)
    and the fill rules may then decide the type.
    """
    _, reference = resolve_reference(settings, reference)
    words = reference.mapping("customer_type_words", "word", "customer_type", fold=_fold_word)
    return _map_words(values, words.get, "unknown_customer_type", "customer_type_word")
