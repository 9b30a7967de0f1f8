"""Conventions that depend on a record's country: date order, postcode shape, national person IDs.

The facts are data (``country_conventions`` and ``person_id_modules`` reference tables in
``workbench/core/standardize/data/``; a project replaces or extends them with
``standardize.tables`` / ``extra_tables``). This module owns reading them and the defaults a source
gets from its region:

- :func:`source_region`: ``sources[].region``, else ``standardize.default_region``, else
  ``project.default_region``;
- :func:`source_day_first`: ``sources[].day_first``, else ``standardize.day_first``, else the
  region's ``day_first`` in ``country_conventions`` (a region not listed reads day first).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.core.standardize.base import Reference, StandardizeError

if TYPE_CHECKING:
    from workbench.project.config import ProjectConfig, SourceSpec

GENERIC_POSTCODE = re.compile(r"[A-Z0-9][A-Z0-9 \-]{1,9}")
"""The shape a postcode of a country without a row in ``country_conventions`` must have."""

_TRUE = {"true", "yes", "1", "y"}
_FALSE = {"false", "no", "0", "n"}


@dataclass(frozen=True)
class CountryConvention:
    """One row of ``country_conventions``."""

    country: str
    day_first: bool
    postcode: re.Pattern[str] | None  # None: the country has no postcodes (any value is kept)
    postcode_pad: int | None  # a code one digit shorter lost a leading zero (stored as a number)


def country_conventions(reference: Reference) -> dict[str, CountryConvention]:
    """The ``country_conventions`` table by ISO country (project rows first, so they win).

    Raises:
        StandardizeError: a ``day_first`` that is not true/false, a bad regex or pad length.
    """
    frame = reference.table("country_conventions")
    out: dict[str, CountryConvention] = {}
    for i, row in enumerate(frame.itertuples(index=False), start=2):
        country = str(row.country).upper()
        if country in out:
            continue
        flag = str(row.day_first).lower()
        if flag not in _TRUE | _FALSE:
            raise StandardizeError(
                f"country_conventions row {i} ({country}): day_first {row.day_first!r} must be true or false"
            )
        pattern_text = str(row.postcode_pattern)
        try:
            pattern = re.compile(pattern_text) if pattern_text else None
        except re.error as exc:
            raise StandardizeError(
                f"country_conventions row {i} ({country}): postcode_pattern {pattern_text!r} is not a "
                f"valid regular expression: {exc}"
            ) from exc
        pad_text = str(getattr(row, "postcode_pad", "") or "")
        if pad_text and not pad_text.isdigit():
            raise StandardizeError(
                f"country_conventions row {i} ({country}): postcode_pad {pad_text!r} must be a number of digits"
            )
        out[country] = CountryConvention(country, flag in _TRUE, pattern, int(pad_text) if pad_text else None)
    return out


def person_id_modules(reference: Reference) -> dict[str, list[str]]:
    """The python-stdnum modules that validate a person's national ID, by ISO country, in order."""
    out: dict[str, list[str]] = {}
    frame = reference.table("person_id_modules")
    for country, module in zip(frame["country"], frame["module"], strict=True):
        names = out.setdefault(str(country).upper(), [])
        if module not in names:
            names.append(str(module))
    return out


def source_region(config: ProjectConfig, spec: SourceSpec) -> str:
    """The country of a source's records where no country field says otherwise."""
    return spec.region or config.standardize.default_region or config.project.default_region


def source_day_first(config: ProjectConfig, spec: SourceSpec, reference: Reference) -> bool:
    """Whether a source's slash dates read day first (see the module docstring for the order)."""
    if spec.day_first is not None:
        return spec.day_first
    if config.standardize.day_first is not None:
        return config.standardize.day_first
    convention = country_conventions(reference).get(source_region(config, spec))
    return True if convention is None else convention.day_first
