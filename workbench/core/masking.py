"""Partial masking of personal data (phones, e-mails, IDs, person names) in outputs for business.

This module owns how a value is masked and which columns of a table are masked. Reports, the
business sample sheet and worklists call :func:`mask_frame` with the project's field kinds and the
``report.masking`` settings; the unmasked data stays in the run database. A masked value keeps its
shape (separators, length, country code, e-mail domain) so a reviewer can still recognise it:
``13800138000`` → ``138****8000``, ``zhangsan@qq.com`` → ``z*******@qq.com``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import pandas as pd

from workbench.project.settings.report import MaskingSettings

# kind extras that carry the same personal data as their field (see docs/architecture.md)
EXTRA_SUFFIXES: dict[str, tuple[str, ...]] = {
    "phone": ("_raw", "_e164", "_all", "_last8", "_ext"),
    "email": ("_raw", "_local"),
    "tax_id": ("_raw",),
    "id": ("_raw",),
    "person_name": ("_raw", "_pinyin"),
}
_SEPARATORS = re.compile(r"[;/,，、]")


def _keep_counts(n: int, start: int, end: int) -> tuple[int, int]:
    """Characters to keep at each end so that at least a third of a short value is hidden."""
    if n <= 1:
        return 0, 0
    if start + end <= n - max(1, n // 3):
        return start, end
    budget = max(0, n - max(1, (n + 2) // 3))
    keep_end = min(end, budget // 2 + budget % 2)
    keep_start = min(start, budget - keep_end)
    return keep_start, keep_end


def _mask_positions(chars: list[str], positions: list[int], start: int, end: int, mask: str) -> str:
    keep_start, keep_end = _keep_counts(len(positions), start, end)
    hidden = positions[keep_start : len(positions) - keep_end]
    for i in hidden:
        chars[i] = mask
    return "".join(chars)


def _country_code_digits(text: str) -> int:
    """How many digits after a leading + form the country code (0 when unknown)."""
    if not text.startswith("+"):
        return 0
    import phonenumbers

    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return 0
    return len(str(number.country_code))


def mask_phone(value: object, settings: MaskingSettings | None = None) -> object:
    """Mask the middle digits of each phone number in a cell, keeping separators and country code.

    Args:
        value: one cell; several numbers separated by ``;``, ``/`` or ``,`` are masked one by one.
        settings: how many digits stay visible; default :class:`MaskingSettings`.

    Returns:
        The masked text (``None``/NaN are returned unchanged).
    """
    if not isinstance(value, str) or not value:
        return value
    s = settings or MaskingSettings()
    parts = re.split(r"([;/,，、])", value)
    out = []
    for part in parts:
        if not part or _SEPARATORS.fullmatch(part):
            out.append(part)
            continue
        chars = list(part)
        digits = [i for i, c in enumerate(chars) if c.isdigit()]
        cc = _country_code_digits(part.strip())
        out.append(_mask_positions(chars, digits[cc:], s.phone_keep_start, s.phone_keep_end, s.mask_char))
    return "".join(out)


def mask_email(value: object, settings: MaskingSettings | None = None) -> object:
    """Mask the local part of an e-mail address, keeping its first characters and the domain."""
    if not isinstance(value, str) or not value:
        return value
    s = settings or MaskingSettings()
    local, at, domain = value.partition("@")
    if not at:  # a local part alone (the `_local` extra) or not an address
        return _mask_local(value, s)
    return _mask_local(local, s) + "@" + domain


def _mask_local(local: str, s: MaskingSettings) -> str:
    chars = list(local)
    keep, _ = _keep_counts(len(chars), s.email_keep_local, 0)
    return "".join(chars[:keep]) + s.mask_char * (len(chars) - keep)


def mask_id(value: object, settings: MaskingSettings | None = None) -> object:
    """Mask the middle of an ID (tax ID, USCC, ID card number), keeping its first and last characters."""
    if not isinstance(value, str) or not value:
        return value
    s = settings or MaskingSettings()
    chars = list(value)
    positions = [i for i, c in enumerate(chars) if c.isalnum()]
    return _mask_positions(chars, positions, s.id_keep_start, s.id_keep_end, s.mask_char)


def mask_person_name(value: object, settings: MaskingSettings | None = None) -> object:
    """Mask a person's name after its first character(s): ``张三丰`` → ``张**``."""
    if not isinstance(value, str) or not value:
        return value
    s = settings or MaskingSettings()
    chars = list(value)
    positions = [i for i, c in enumerate(chars) if not c.isspace()]
    keep = min(s.name_keep_start, max(0, len(positions) - 1))
    for i in positions[keep:]:
        chars[i] = s.mask_char
    return "".join(chars)


MASKERS: dict[str, Callable[[object, MaskingSettings | None], object]] = {
    "phone": mask_phone,
    "email": mask_email,
    "tax_id": mask_id,
    "id": mask_id,
    "person_name": mask_person_name,
}


def mask_series(values: pd.Series, kind: str, settings: MaskingSettings | None = None) -> pd.Series:
    """Mask a column; each distinct value is masked once.

    Args:
        values: the column.
        kind: ``phone``, ``email``, ``tax_id``, ``id`` or ``person_name``.
        settings: masking settings.
    """
    if kind not in MASKERS:
        raise ValueError(f"cannot mask kind {kind!r}; known kinds: {sorted(MASKERS)}")
    masker = MASKERS[kind]
    distinct = values.dropna().unique()
    mapping = {v: masker(v if isinstance(v, str) else str(v), settings) for v in distinct}
    return values.map(lambda v: mapping.get(v, v) if v is not None and v == v else v)


def columns_to_mask(
    columns: list[str], field_kinds: Mapping[str, object], settings: MaskingSettings | None = None
) -> dict[str, str]:
    """Which columns of a table hold data to mask, and as which kind.

    Args:
        columns: the table's column names.
        field_kinds: canonical field → kind (``ProjectConfig.field_kinds()``); a `customer_name`
            field is masked as a person name only when ``person_name`` is listed in the settings
            and the column is the field's ``_pinyin`` extra or the row is a person (not decidable
            per column, so it is left alone).
        settings: masking settings (``kinds`` and ``columns``).

    Returns:
        column → mask kind, in the order of `columns`.
    """
    s = settings or MaskingSettings()
    wanted = set(s.kinds)
    result: dict[str, str] = {}
    kinds = {f: str(getattr(k, "value", k)) for f, k in field_kinds.items()}
    for col in columns:
        if col in s.columns:
            result[col] = "id"
            continue
        for field, kind in kinds.items():
            if kind not in wanted:
                continue
            if col == field or col in {field + suffix for suffix in EXTRA_SUFFIXES.get(kind, ())}:
                result[col] = kind
                break
    return result


def mask_frame(
    df: pd.DataFrame,
    field_kinds: Mapping[str, object],
    settings: MaskingSettings | None = None,
    *,
    extra: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """A copy of `df` with personal data masked (or `df` itself when masking is off).

    Args:
        df: any table with canonical field columns (std, golden, sample, worklist).
        field_kinds: canonical field → kind.
        settings: ``report.masking``.
        extra: more column → kind pairs to mask (e.g. a column renamed for display).
    """
    s = settings or MaskingSettings()
    if not s.enabled:
        return df
    plan = columns_to_mask(list(df.columns), field_kinds, s)
    plan.update({c: k for c, k in (extra or {}).items() if c in df.columns})
    if not plan:
        return df
    out = df.copy()
    for col, kind in plan.items():
        out[col] = mask_series(out[col].astype("object"), kind, s)
    return out


def mask_values_by(
    df: pd.DataFrame,
    by: str,
    field_kinds: Mapping[str, object],
    settings: MaskingSettings | None = None,
    *,
    value: str = "value",
) -> pd.DataFrame:
    """Mask the `value` column of long-form rows whose `by` column names a column to mask.

    For tables with one row per (record, field): a failures list (``column``, ``value``) or a
    customer history (``field``, ``value``).

    Args:
        df: the long-form table.
        by: the column naming each row's field or column.
        field_kinds: canonical field → kind.
        settings: ``report.masking``.
        value: the column holding the values.

    Returns:
        A copy with those values masked (or `df` itself when masking is off or `df` is empty).
    """
    s = settings or MaskingSettings()
    if not s.enabled or df.empty:
        return df
    plan = columns_to_mask(sorted(df[by].dropna().unique()), field_kinds, s)
    out = df.copy()
    for name, kind in plan.items():
        sel = out[by] == name
        out.loc[sel, value] = mask_series(out.loc[sel, value].astype("object"), kind, s)
    return out
