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

A person's national ID (kind ``person_id``: resident ID card, SSN, passport …) is cleaned the same
way and checked with the python-stdnum modules the ``person_id_modules`` table lists for the
record's country (``cn.ric`` for China, ``us.ssn`` for the US …); an 18-character Chinese resident
ID is recognised in any record. A value that has the shape of such a number but fails its check is
invalid (``<module>_invalid``, e.g. ``cn.ric_invalid``); a value of another shape (a passport
number, a country without a module) is kept as given, with ``<f>_type`` ``other``. A person ID is
never a record key and never a group parent.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import pandas as pd

from workbench.core.standardize.base import (
    Reference,
    empty_result,
    finish_result,
    is_blank,
    join_rules,
    nfkc,
    per_value,
    region_series,
    rejected,
    resolve_reference,
    result_from_records,
)
from workbench.core.standardize.regional import person_id_modules
from workbench.project.settings.standardize import StandardizeSettings

TAX_EXTRAS = ("country", "region_code", "type")
PERSON_ID_EXTRAS = ("country", "type")

_CLEAN_RE = re.compile(r"[\s\-./_]")
_USCC_CHARS_RE = re.compile(r"[0-9A-HJ-NP-RTUWXY]{18}")
_RIC_SHAPE_RE = re.compile(r"\d{17}[\dX]")


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
        "abn",
        "acn",
        "bn",
        "gst",
        "uen",
        "ubn",
        "brn",
        "nzbn",
        "cnpj",
        "rfc",
        "nif",
        "siren",
        "cif",
        "rut",
        "nit",
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


# --------------------------------------------------------------------------------------------
# person IDs


def standardize_person_ids(
    values: pd.Series,
    region: str | pd.Series = "CN",
    *,
    settings: StandardizeSettings | None = None,
    reference: Reference | None = None,
) -> pd.DataFrame:
    """Standardize a person's national IDs (see the module docstring).

    Args:
        values: distinct raw IDs.
        region: the record's country (a Series gives one per value); picks the stdnum modules.
        settings: the `standardize:` settings.
        reference: the reference tables (``person_id_modules``).

    Returns:
        The result frame with the extras ``country`` and ``type`` (the stdnum module that accepted
        the value, or ``other``). Issues: ``<module>_invalid`` (``cn_ric_invalid``, ``us_ssn_invalid``
        …), ``placeholder_person_id``.
    """
    _, reference = resolve_reference(settings, reference)
    modules = person_id_modules(reference)
    records = per_value(
        values,
        lambda raw, reg: _person_one(raw, (reg or "CN").upper(), modules),
        region_series(region, values),
    )
    return result_from_records(records, values, (*PERSON_ID_EXTRAS, "valid_before"))


def _person_one(raw: Any, region: str, modules: dict[str, list[str]]) -> dict[str, Any]:
    from stdnum.exceptions import InvalidChecksum, InvalidComponent, ValidationError

    compact = _CLEAN_RE.sub("", nfkc(str(raw)).strip()).upper()
    rules = ["person_id_format"] if compact != str(raw) else []
    if not compact or len(set(compact)) == 1:
        return rejected("placeholder_person_id", country=region)
    names = list(modules.get(region, []))
    if _RIC_SHAPE_RE.fullmatch(compact) and "cn.ric" not in names:
        names.insert(0, "cn.ric")  # the shape of a Chinese resident ID, in a record of any country
    failed: str | None = None
    for name in names:
        module = _stdnum_module(name)
        if module is None:
            continue
        try:
            value = module.validate(compact)
        except (InvalidChecksum, InvalidComponent):
            failed = failed or name  # the shape fits, the check does not
            continue
        except ValidationError:
            continue  # not this kind of number
        country = "CN" if name == "cn.ric" else region
        # separators (spaces, dashes) are a way of writing the number, not a defect
        return {**_person_ok(str(value), rules, country, name)}
    if failed is not None:
        issue = failed.replace(".", "_") + "_invalid"
        return rejected(issue, country="CN" if failed == "cn.ric" else region, type=failed)
    return _person_ok(compact, rules, region, "other")


def _person_ok(value: str, rules: list[str], country: str, kind: str) -> dict[str, Any]:
    return {
        "value": value,
        "valid": True,
        "valid_before": True,
        "rule": join_rules(*rules),
        "country": country,
        "type": kind,
    }


@functools.lru_cache(maxsize=128)
def _stdnum_module(name: str) -> Any:
    """The python-stdnum module `name` (``cn.ric``), or ``None`` when this stdnum lacks it."""
    import importlib

    try:
        module = importlib.import_module(f"stdnum.{name}")
    except ImportError:
        return None
    return module if hasattr(module, "validate") else None
