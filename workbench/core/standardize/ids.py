"""Identifiers: tax IDs (USCC and the national numbers python-stdnum knows) and record IDs.

A tax ID is cleaned (NFKC, no spaces or dashes, upper case) and validated with python-stdnum:

- an 18-character value (or any value of a Chinese record) is a Unified Social Credit Code,
  checked with ``stdnum.cn.uscc`` (length, characters, check character); its positions 3–8 are the
  registering authority's administrative code (``<f>_region_code``);
- a value starting with a two-letter country prefix (``DE129273398``) is checked as that country's
  VAT number (``stdnum.eu.vat`` and the country's ``vat`` module);
- otherwise the record's country (default region) picks the stdnum modules to try.

``<f>_type`` is ``uscc`` or the stdnum module that accepted the value (``de.vat``);
``<f>_country`` its ISO country.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import pandas as pd

from workbench.core.standardize.base import (
    empty_result,
    finish_result,
    is_blank,
    join_rules,
    nfkc,
    per_value,
    region_series,
    rejected,
    result_from_records,
)

TAX_EXTRAS = ("country", "region_code", "type")

_CLEAN_RE = re.compile(r"[\s\-./_]")
_USCC_CHARS_RE = re.compile(r"[0-9A-HJ-NP-RTUWXY]{18}")


def standardize_tax_ids(values: pd.Series, region: str | pd.Series = "CN") -> pd.DataFrame:
    """Standardize tax IDs.

    Args:
        values: distinct raw tax IDs.
        region: the record's country (a Series gives one per value); decides the stdnum modules
            tried for a value without a country prefix.

    Returns:
        The result frame with the extras ``country``, ``region_code`` (USCC positions 3–8) and
        ``type``. Issues: ``uscc_bad_check``, ``uscc_bad_length``, ``uscc_bad_chars``,
        ``invalid_tax_id``, ``all_same_digits``.
    """
    records = per_value(
        values, lambda raw, reg: _tax_one(raw, (reg or "CN").upper()), region_series(region, values)
    )
    return result_from_records(records, values, TAX_EXTRAS)


def _tax_one(raw: Any, region: str) -> dict[str, Any]:
    text = nfkc(str(raw)).strip()
    rules: list[str] = []
    compact = _CLEAN_RE.sub("", text).upper()
    if compact != str(raw):
        rules.append("tax_id_format")
    if len(set(compact)) == 1:
        return rejected("all_same_digits")
    if len(compact) == 18 or (region == "CN" and not re.match(r"[A-Z]{2}\d", compact)):
        return _uscc(compact, rules)
    prefix = compact[:2]
    if re.fullmatch(r"[A-Z]{2}", prefix):
        module = _vat_module(prefix.lower())
        if module is not None and module.is_valid(compact):
            value = module.compact(compact)
            if not value.upper().startswith(prefix):
                value = prefix + value
            return _ok(value, prefix, _module_name(module), rules)
    for module in _modules_for(region.lower()):
        if module.is_valid(compact):
            return _ok(module.compact(compact), region, _module_name(module), rules)
    return rejected("invalid_tax_id", country=region)


def _uscc(compact: str, rules: list[str]) -> dict[str, Any]:
    from stdnum.cn import uscc

    if len(compact) != 18:
        return rejected("uscc_bad_length", country="CN")
    if not _USCC_CHARS_RE.fullmatch(compact):
        return rejected("uscc_bad_chars", country="CN")
    if not uscc.is_valid(compact):
        return rejected("uscc_bad_check", country="CN", type="uscc")
    out = _ok(compact, "CN", "uscc", rules)
    out["region_code"] = compact[2:8]
    return out


def _ok(value: str, country: str, kind: str, rules: list[str]) -> dict[str, Any]:
    return {"value": value, "valid": True, "rule": join_rules(*rules), "country": country, "type": kind}


@functools.lru_cache(maxsize=256)
def _vat_module(cc: str) -> Any:
    import stdnum

    try:
        return stdnum.get_cc_module(cc, "vat")
    except Exception:  # noqa: BLE001 - stdnum raises plain errors for unknown countries
        return None


@functools.lru_cache(maxsize=256)
def _modules_for(cc: str) -> tuple[Any, ...]:
    """The stdnum modules of a country that hold company or tax numbers (VAT first)."""
    import importlib
    import pkgutil

    try:
        package = importlib.import_module(f"stdnum.{cc}")
    except ImportError:
        return ()
    names = sorted(m.name for m in pkgutil.iter_modules(package.__path__))
    preferred = [
        "vat",
        "uscc",
        "tin",
        "stnr",
        "ein",
        "utr",
        "crn",
        "brn",
        "cnpj",
        "rfc",
        "nif",
        "siren",
        "cif",
    ]
    ordered = [n for n in preferred if n in names]
    modules = []
    for name in ordered:
        module = importlib.import_module(f"stdnum.{cc}.{name}")
        if hasattr(module, "is_valid"):
            modules.append(module)
    return tuple(modules)


def _module_name(module: Any) -> str:
    return module.__name__.removeprefix("stdnum.")


def standardize_ids(values: pd.Series) -> pd.DataFrame:
    """Standardize record IDs: trimmed (NFKC), valid when not blank."""
    out = empty_result(values)
    text = values.map(lambda v: None if is_blank(v) else nfkc(str(v)).strip())
    out["value"] = text
    out["valid"] = text.map(lambda v: None if v is None else True)
    out["rule"] = [None if t is None or t == r else "trim" for t, r in zip(text, values, strict=True)]
    return finish_result(out, values)
