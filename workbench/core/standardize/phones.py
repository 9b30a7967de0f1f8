"""Phone numbers: parse with python-phonenumbers, store E.164, type, extension and every number.

A cell may hold several numbers (``13800138000;13912345678``, ``13800138000/021-62345678``); each is
parsed on its own with the record's region (the default region from config unless the record has a
country). Extensions written ``转123``, ``分机 123``, ``ext. 123``, ``x123`` or as a trailing
``-123`` after a full landline are split off. Placeholders (``13800000000``, one repeated digit, the
``placeholder_phones`` table) are invalid.

Speed: phonenumbers is the authority for how a number is read and what type it is. How a number is
read (country code, trunk prefix) depends only on its leading digits, so it is parsed once per
``(region, first six digits, length)`` and that reading is reused; the number's validity and type
come from phonenumbers for every number.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import pandas as pd

from workbench.core.standardize.base import (
    Reference,
    join_rules,
    nfkc,
    per_value,
    region_series,
    rejected,
    resolve_reference,
    result_from_records,
)
from workbench.project.settings.standardize import StandardizeSettings

EXTRAS = ("e164", "all", "type", "ext", "last8")
INTERNAL = ("__province",)

_SPLIT_RE = re.compile(r"[;；,，、|\n]+|\s+(?:or|或|and|和)\s+|\s{2,}")
_EXT_RE = re.compile(r"\s*(?:转|分机|ext\.?|extension|x|#)\s*(\d{1,6})\s*$", re.IGNORECASE)
_TRAILING_EXT_RE = re.compile(r"^(\(?0\d{2,3}\)?[\s-]?\d{7,8})[\s-]+(\d{1,5})$")
_DIGITS_RE = re.compile(r"\d")
_SEPARATORS_RE = re.compile(r"[\s\-().]")


def standardize_phones(
    values: pd.Series,
    region: str | pd.Series = "CN",
    *,
    settings: StandardizeSettings | None = None,
    reference: Reference | None = None,
) -> pd.DataFrame:
    """Standardize phone cells.

    Args:
        values: distinct raw phone cells.
        region: ISO region used for numbers written without a country code; a Series (same index
            as `values`) gives one region per value.
        settings: the `standardize:` settings.
        reference: the reference tables (placeholder phones, region words).

    Returns:
        The result frame (see :mod:`workbench.core.standardize.base`) with the extras ``e164`` (first
        number), ``all`` (every valid number, ``;``-separated), ``type`` (``mobile`` /
        ``landline`` / ``other``), ``ext`` and ``last8``, plus ``__province`` (the province a
        landline's area code tells, for the fill rules).
    """
    settings, reference = resolve_reference(settings, reference)
    entries = reference.table("placeholder_phones")["number"]
    placeholder_words = {str(e).strip().lower() for e in entries}
    placeholders = {d for d in entries.map(_only_digits) if d}
    provinces = _province_names(reference)

    def one(raw: Any, reg: str | None) -> dict[str, Any]:
        if nfkc(str(raw)).strip().lower() in placeholder_words:
            return rejected("placeholder")
        return _standardize_one(raw, reg or "CN", placeholders, settings, provinces)

    records = per_value(values, one, region_series(region, values))
    return result_from_records(records, values, ("valid_before", *EXTRAS, *INTERNAL))


def _standardize_one(
    raw: Any,
    region: str,
    placeholders: set[str],
    settings: StandardizeSettings,
    provinces: tuple[str, ...],
) -> dict[str, Any]:
    all_same = settings.placeholder_all_same_digits
    text = nfkc(str(raw)).strip()
    rules: list[str] = []
    parts = [p.strip() for p in _SPLIT_RE.split(text) if p and p.strip()]
    parts = [q for p in parts for q in _split_slash(p)]
    numbers: list[_Parsed] = []
    issues: list[str] = []
    for part in parts:
        parsed = _parse_part(part, region)
        national = parsed.national
        if national and (
            national in placeholders
            or f"{parsed.cc}{national}" in placeholders
            or (all_same and len(set(national)) == 1)
            or _looks_made_up(national, settings)
        ):
            parsed.issue = "placeholder"
        numbers.append(parsed)
    valid = [n for n in numbers if n.issue is None]
    if not numbers:
        return rejected("not_a_number")
    if not valid:
        return rejected(numbers[0].issue or "invalid_number")
    first = valid[0]
    if len(parts) > 1:
        rules.append("phone_split")
        issues.append("multiple_numbers")
    if any(n.issue for n in numbers):
        issues.append("some_numbers_invalid")
    if first.ext:
        rules.append("phone_extension")
    rules.append("phone_e164")
    # one number written plainly (national digits or E.164) is valid as it stands
    plain = len(parts) == 1 and not first.ext and _plain(text, first)
    return {
        "value": first.e164,
        "valid": True,
        "valid_before": plain and text == raw,
        "issue": ";".join(issues) or None,
        "rule": join_rules(*rules),
        "e164": first.e164,
        "all": ";".join(dict.fromkeys(n.e164 for n in valid if n.e164)),
        "type": first.type,
        "ext": first.ext,
        "last8": first.national[-8:],
        "__province": _province_of(first, provinces, tuple(settings.fill.province_phone_types)),
    }


def _looks_made_up(national: str, settings: StandardizeSettings) -> bool:
    """A run of ascending digits (1234567) or a long tail of one digit (13888888888)."""
    tail = settings.placeholder_repeated_tail
    if tail and len(national) >= tail and len(set(national[-tail:])) == 1:
        return True
    if settings.placeholder_sequences and len(national) >= 6:
        return national in "01234567890123456789" or national in "98765432109876543210"
    return False


def _plain(text: str, number: _Parsed) -> bool:
    """A number written in a usual plain form: E.164, national digits, or trunk 0 + area-local."""
    if text in (number.e164, number.national, "0" + number.national):
        return True
    head, sep, tail = text.partition("-")
    return bool(sep) and head.startswith("0") and (head + tail) == "0" + number.national and tail.isdigit()


class _Parsed:
    __slots__ = ("cc", "e164", "ext", "issue", "national", "type")

    def __init__(self) -> None:
        self.cc = 0
        self.national = ""
        self.e164: str | None = None
        self.ext: str | None = None
        self.type: str | None = None
        self.issue: str | None = None


def _split_slash(part: str) -> list[str]:
    # "13800138000/021-62345678" is two numbers; "089/7654321" is one number written with a slash
    if "/" not in part:
        return [part]
    pieces = [p.strip() for p in part.split("/")]
    if all(len(_DIGITS_RE.findall(p)) >= 7 for p in pieces):
        return [p for p in pieces if p]
    return [part]


def _parse_part(part: str, region: str) -> _Parsed:
    import phonenumbers

    out = _Parsed()
    text = part
    match = _EXT_RE.search(text)
    if match:
        out.ext = match.group(1)
        text = text[: match.start()]
    else:
        trailing = _TRAILING_EXT_RE.match(text)
        if trailing and region == "CN":
            text, out.ext = trailing.group(1), trailing.group(2)
    digits = _SEPARATORS_RE.sub("", text)
    plain = re.fullmatch(r"\+?\d{3,17}", digits) is not None
    # plain digits: the reading cached per leading digits; anything else is parsed in full
    reading = _reading(region, digits) if plain else None
    if reading is not None:
        cc, strip = reading
        out.cc, out.national = cc, digits[strip:]
    else:
        parsed = _full_parse(digits if plain else text, region)
        if parsed is None:
            out.issue = "not_a_number"
            return out
        out.cc, out.national = parsed
    if len(out.national) < 5:
        out.issue = "too_short"
        return out
    number = phonenumbers.PhoneNumber(country_code=out.cc, national_number=int(out.national))
    if out.national.startswith("0"):
        number.italian_leading_zero = True
        number.number_of_leading_zeros = len(out.national) - len(out.national.lstrip("0"))
    # number_type is UNKNOWN exactly when is_valid_number is false (one pass over the metadata)
    kind = phonenumbers.number_type(number)
    if kind == phonenumbers.PhoneNumberType.UNKNOWN:
        out.issue = "invalid_number"
        return out
    out.type = _TYPE_NAMES.get(int(kind), "other")
    out.e164 = f"+{out.cc}{out.national}"
    return out


_TYPE_NAMES = {0: "landline", 1: "mobile"}


_READINGS: dict[tuple[str, str, int], tuple[int, int] | None] = {}


def _reading(region: str, digits: str) -> tuple[int, int] | None:
    """How phonenumbers reads `digits`: (country code, digits to drop in front).

    The reading depends only on the leading digits, so it is worked out by phonenumbers once per
    (region, first seven digits, length) and reused. ``None`` when phonenumbers cannot read such a
    number (the caller then parses each value in full).
    """
    key = (region, digits[:7], len(digits))
    if key in _READINGS:
        return _READINGS[key]
    parsed = _full_parse(digits, region)
    reading = None
    if parsed is not None and digits.endswith(parsed[1]):
        reading = (parsed[0], len(digits) - len(parsed[1]))
    if len(_READINGS) < 500_000:
        _READINGS[key] = reading
    return reading


@functools.lru_cache(maxsize=100_000)
def _full_parse(text: str, region: str) -> tuple[int, str] | None:
    import phonenumbers

    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if number.country_code is None:  # parse() always sets it; the type stubs allow None
        return None
    nat = str(number.national_number)
    if number.italian_leading_zero:
        nat = "0" * max(number.number_of_leading_zeros or 1, 1) + nat
    return number.country_code, nat


def _province_names(reference: Reference) -> tuple[str, ...]:
    words = reference.table("region_words")
    names = words.loc[words["level"] == "province", "canonical"].drop_duplicates().tolist()
    return tuple(sorted(names, key=len, reverse=True))


def _province_of(number: _Parsed, provinces: tuple[str, ...], types: tuple[str, ...]) -> str | None:
    """The province phonenumbers' geocoder gives for a Chinese number of one of `types`.

    A landline's area code says where the line is; a mobile's prefix only where it was issued,
    so mobiles count only when the config says so (``fill.province_phone_types``).
    """
    if number.type not in types or number.cc != 86:
        return None
    head = number.national[:7] if number.type == "mobile" else number.national[:4]
    return _area_province(number.cc, head, len(number.national), provinces)


@functools.lru_cache(maxsize=100_000)
def _area_province(cc: int, head: str, length: int, provinces: tuple[str, ...]) -> str | None:
    import phonenumbers
    from phonenumbers import geocoder

    number = phonenumbers.PhoneNumber(country_code=cc, national_number=int(head.ljust(length, "5")))
    place = geocoder.description_for_valid_number(number, "zh")
    for name in provinces:
        if place.startswith(name):
            return name
    return None


def _only_digits(text: str) -> str:
    return "".join(_DIGITS_RE.findall(str(text)))
