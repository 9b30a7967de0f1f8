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
    "person_id": ("_raw",),
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
    "person_id": mask_id,
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


PERSON_TYPES = ("B2C",)  # customer_type values of a person (their customer name is a person's name)
NAME_KINDS = ("customer_name", "company_name")  # a person's own name when the customer is a person


def person_name_columns(columns: list[str], field_kinds: Mapping[str, object]) -> list[str]:
    """Columns holding a customer's name (kind ``customer_name`` and its extras)."""
    kinds = {f: str(getattr(k, "value", k)) for f, k in field_kinds.items()}
    names = [f for f, k in kinds.items() if k in NAME_KINDS]
    suffixes = ("", "_raw", "_display", "_core", "_pinyin")
    return [c for c in columns if any(c == f + sfx for f in names for sfx in suffixes)]


def mask_frame(
    df: pd.DataFrame,
    field_kinds: Mapping[str, object],
    settings: MaskingSettings | None = None,
    *,
    extra: Mapping[str, str] | None = None,
    type_column: str = "customer_type",
) -> pd.DataFrame:
    """A copy of `df` with personal data masked (or `df` itself when masking is off).

    Besides the columns of the masked kinds, the customer name of a person (a row whose
    `type_column` is ``B2C``) is masked as a person's name when ``person_customers`` is on.

    Args:
        df: any table with canonical field columns (std, golden, sample, worklist).
        field_kinds: canonical field → kind.
        settings: ``report.masking``.
        extra: more column → kind pairs to mask (e.g. a column renamed for display).
        type_column: the column telling a person from a company.
    """
    s = settings or MaskingSettings()
    if not s.enabled:
        return df
    plan = columns_to_mask(list(df.columns), field_kinds, s)
    plan.update({c: k for c, k in (extra or {}).items() if c in df.columns})
    persons = (
        person_name_columns(list(df.columns), field_kinds)
        if s.person_customers and "person_name" in s.kinds and type_column in df.columns
        else []
    )
    if not plan and not persons:
        return df
    out = df.copy()
    for col, kind in plan.items():
        out[col] = mask_series(out[col].astype("object"), kind, s)
    if persons:
        rows = out[type_column].isin(PERSON_TYPES).to_numpy()
        for col in persons:
            if col not in plan:
                values = out[col].astype("object")
                out[col] = values.where(~rows, mask_series(values, "person_name", s))
    return out


def mask_customer_names(values: pd.Series, settings: MaskingSettings | None = None) -> pd.Series:
    """Mask the customer names that are not a company's (a person, or no evidence either way).

    Whether a name is a company's is decided by the customer-name standardizer (legal forms,
    company words, surnames; :func:`workbench.core.standardize.customer_names.standardize_customer_names`),
    once per distinct value; a person's name is masked like any person's name.
    """
    from workbench.core.standardize.customer_names import standardize_customer_names

    s = settings or MaskingSettings()
    distinct = pd.Series(values.dropna().astype(str).unique(), dtype="object")
    if distinct.empty:
        return values
    entity = standardize_customer_names(distinct)["__entity"].tolist()
    mapping = {v: (v if e == "company" else mask_person_name(v, s)) for v, e in zip(distinct, entity, strict=True)}
    return values.map(lambda v: mapping.get(str(v), v) if v is not None and v == v else v)


def target_field_kinds(
    mapping_files: Mapping[str, object], field_kinds: Mapping[str, object]
) -> dict[str, str]:
    """target field → the kind of personal data it carries, from the field mapping files.

    A target field filled from a canonical field (or its extra) of a personal kind carries that
    kind: ``cCusPhone`` ← ``mobile`` (phone). Used to mask load-file values (validation failures).

    Args:
        mapping_files: target profile → its field mapping CSV (missing files are skipped).
        field_kinds: canonical field → kind.
    """
    from pathlib import Path

    kinds = {f: str(getattr(k, "value", k)) for f, k in field_kinds.items()}
    out: dict[str, str] = {}
    for path in mapping_files.values():
        p = Path(str(path))
        if not p.is_file():
            continue
        table = pd.read_csv(p, dtype=str, encoding="utf-8-sig", keep_default_na=False)
        if not {"target_field", "source_field"} <= set(table.columns):
            continue
        for target, sources in zip(table["target_field"], table["source_field"], strict=True):
            for source in str(sources).split("+"):
                kind = _kind_of_column(source.strip(), kinds)
                if kind is not None:
                    out.setdefault(str(target), kind)
                    break
    return out


def _kind_of_column(column: str, kinds: Mapping[str, str]) -> str | None:
    if column in kinds and kinds[column] in MASKERS:
        return kinds[column]
    for field, kind in kinds.items():
        if kind in MASKERS and column in {field + sfx for sfx in EXTRA_SUFFIXES.get(kind, ())}:
            return kind
    return None


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
