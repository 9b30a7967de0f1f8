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
from typing import Any

import pandas as pd

from workbench.core.standardize.base import (
    Reference,
    clean_text,
    empty_result,
    is_blank,
    join_rules,
    load_reference,
    nfkc,
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
    out = empty_result(values)
    records = [_amount_one(v) for v in values.tolist()]
    return result_from_records(records, out, values, compare_text=False)


def _amount_one(raw: Any) -> dict[str, Any]:
    if is_blank(raw):
        return {}
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
        return {"valid": False, "issue": "not_a_number", "rule": "reject_not_a_number"}
    if number != number or number in (float("inf"), float("-inf")):
        return {"valid": False, "issue": "not_a_number", "rule": "reject_not_a_number"}
    return {"value": -number if negative else number, "valid": True, "rule": join_rules(*rules)}


def standardize_codes(values: pd.Series, *, settings: StandardizeSettings | None = None) -> pd.DataFrame:
    """Standardize codes: NFKC, trimmed, inner whitespace collapsed; everything else kept."""
    return _text_like(values, settings or StandardizeSettings(), simplify=False)


def standardize_text(values: pd.Series, *, settings: StandardizeSettings | None = None) -> pd.DataFrame:
    """Standardize free text: mojibake, NFKC, whitespace (traditional characters are kept)."""
    return _text_like(values, settings or StandardizeSettings(), simplify=False)


def _text_like(values: pd.Series, settings: StandardizeSettings, *, simplify: bool) -> pd.DataFrame:
    out = empty_result(values)
    records = []
    for raw in values.tolist():
        if is_blank(raw):
            records.append({})
            continue
        cleaned = clean_text(str(raw), settings=settings, simplify=simplify)
        if cleaned.text is None:
            records.append({"valid": False, "issue": "mojibake", "rule": "reject_mojibake"})
            continue
        records.append(
            {
                "value": cleaned.text,
                "valid": True,
                "issue": "mojibake_repaired" if cleaned.mojibake else None,
                "rule": join_rules(*cleaned.rules),
            }
        )
    return result_from_records(records, out, values)


def standardize_statuses(
    values: pd.Series,
    *,
    settings: StandardizeSettings | None = None,
    reference: Reference | None = None,
) -> pd.DataFrame:
    """Map legacy status words to the status enum (see the module docstring)."""
    settings = settings or StandardizeSettings()
    reference = reference or load_reference(settings)
    words = reference.mapping("status_words", "word", "status", fold=_fold_word)
    out = empty_result(values, ("valid_before",))
    records = []
    for raw in values.tolist():
        if is_blank(raw):
            records.append({})
            continue
        key = _fold_word(str(raw))
        status = words.get(key)
        if status is None:
            # "吊销，未注销" and similar: the first known word inside the text decides
            status = next(
                (s for w, s in sorted(words.items(), key=lambda i: -len(i[0])) if w and w in key), None
            )
        if status is None:
            records.append({"valid": False, "issue": "unknown_status", "rule": "reject_unknown_status"})
        else:
            # a known legacy word is a valid value; mapping it to the enum is a translation
            records.append({"value": status, "valid": True, "valid_before": True, "rule": "status_word"})
    return result_from_records(records, out, values)


def _fold_word(text: str) -> str:
    return " ".join(nfkc(text).lower().split())


def standardize_flags(
    values: pd.Series,
    *,
    settings: StandardizeSettings | None = None,
    reference: Reference | None = None,
) -> pd.DataFrame:
    """Map yes/no words to booleans (the ``flag_words`` table); other text is invalid."""
    settings = settings or StandardizeSettings()
    reference = reference or load_reference(settings)
    words = reference.mapping("flag_words", "word", "value", fold=_fold_word)
    out = empty_result(values)
    records = []
    for raw in values.tolist():
        if is_blank(raw):
            records.append({})
            continue
        word = words.get(_fold_word(str(raw)))
        if word is None:
            records.append({"valid": False, "issue": "unknown_flag", "rule": "reject_unknown_flag"})
        else:
            records.append({"value": word.lower() == "true", "valid": True, "rule": None})
    return result_from_records(records, out, values, compare_text=False)


_URL_RE = re.compile(
    r"(?i)^(?:(https?|ftp)://)?([a-z0-9\-\u00a1-\uffff]+(?:\.[a-z0-9\-\u00a1-\uffff]+)+)(:\d+)?(/.*)?$"
)


def standardize_urls(values: pd.Series) -> pd.DataFrame:
    """Standardize web addresses: scheme and host lower-case, ``http://`` added when missing."""
    out = empty_result(values)
    records = []
    for raw in values.tolist():
        if is_blank(raw):
            records.append({})
            continue
        text = nfkc(str(raw)).strip()
        m = _URL_RE.match(text)
        if not m:
            records.append({"valid": False, "issue": "invalid_url", "rule": "reject_invalid_url"})
            continue
        scheme = (m.group(1) or "http").lower()
        url = f"{scheme}://{m.group(2).lower()}{m.group(3) or ''}{m.group(4) or ''}"
        records.append({"value": url, "valid": True, "rule": "url_format"})
    return result_from_records(records, out, values)


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
    settings = settings or StandardizeSettings()
    reference = reference or load_reference(settings)
    words = reference.mapping("customer_type_words", "word", "customer_type", fold=_fold_word)
    out = empty_result(values, ("valid_before",))
    records = []
    for raw in values.tolist():
        if is_blank(raw):
            records.append({})
            continue
        found = words.get(_fold_word(str(raw)))
        if found is None:
            records.append(
                {"valid": False, "issue": "unknown_customer_type", "rule": "reject_unknown_customer_type"}
            )
        else:
            records.append(
                {"value": found, "valid": True, "valid_before": True, "rule": "customer_type_word"}
            )
    return result_from_records(records, out, values)
