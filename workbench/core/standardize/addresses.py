"""Addresses and their parts: province / city / district (cpca), postcodes, countries.

Chinese addresses are cleaned (NFKC, so full-width digits become half-width; traditional →
simplified; no inner spaces) and parsed with cpca into province, city, district, the administrative
code (GB/T 2260, 6 digits) and the detail. Latin addresses get basic normalization: spacing and
punctuation, title case when written all upper or lower case, and common abbreviations expanded
(the ``address_abbreviations`` table: ``St.`` → ``Street``, ``Str.`` → ``Straße``).

Province / city / district columns are mapped to full official names (``广东`` → ``广东省``) with the
``region_words`` table; Latin text there is kept (foreign regions). Postcodes: six digits in China
(a five-digit code that lost its leading zero is padded, with a warning); the province a postcode
belongs to (``postcode_prefixes`` table) is checked against the record's province in the pipeline.
Postcodes of other countries are checked against their country's shape (``country_conventions``).
Countries become ISO 3166 alpha-2 codes (``country_names`` table; codes checked against
phonenumbers' region list).
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from workbench.core.standardize.base import (
    CJK_RE,
    Reference,
    clean_text,
    finish_result,
    frame_from_records,
    join_rules,
    nfkc,
    per_value,
    region_series,
    rejected,
    resolve_reference,
    result_from_records,
    script_of,
)
from workbench.core.standardize.regional import GENERIC_POSTCODE, CountryConvention, country_conventions
from workbench.project.settings.standardize import StandardizeSettings

ADDRESS_EXTRAS = ("province", "city", "district", "adcode", "detail")
POSTCODE_INTERNAL = ("__province",)

_LATIN_PUNCT_FIX = [
    (re.compile(r"\s*,\s*"), ", "),
    (re.compile(r"(,\s*)+"), ", "),
    (re.compile(r"\s*;\s*"), "; "),
    (re.compile(r"^[\s,;.]+|[\s,;]+$"), ""),
]


def standardize_addresses(
    values: pd.Series,
    *,
    settings: StandardizeSettings | None = None,
    reference: Reference | None = None,
) -> pd.DataFrame:
    """Standardize address cells.

    Args:
        values: distinct raw addresses.
        settings: the `standardize:` settings.
        reference: the reference tables (``address_abbreviations``).

    Returns:
        The result frame with the extras ``province``, ``city``, ``district``, ``adcode`` (6
        digits, the most specific level found) and ``detail`` (what follows the district).
    """
    settings, reference = resolve_reference(settings, reference)
    abbreviations = _abbreviation_re(reference)
    records = per_value(values, lambda raw: _clean_address(raw, settings, abbreviations))
    frame = frame_from_records(records, values, ADDRESS_EXTRAS)
    chinese = frame["valid"].eq(True) & frame["value"].map(lambda v: bool(v) and bool(CJK_RE.search(v)))
    if chinese.any():
        parsed = _parse_cn(frame.loc[chinese, "value"])
        for col in ADDRESS_EXTRAS:
            frame.loc[chinese, col] = parsed[col].to_numpy()
        no_province = chinese & frame["province"].isna()
        frame.loc[no_province, "issue"] = "region_not_found"
    return finish_result(frame, values)


def _clean_address(
    raw: Any, settings: StandardizeSettings, abbreviations: tuple[re.Pattern[str], dict[str, str]]
) -> dict[str, Any]:
    cleaned = clean_text(str(raw), settings=settings)
    if cleaned.text is None:
        return rejected("mojibake")
    text = cleaned.text
    rules = list(cleaned.rules)
    script = script_of(text)
    if script is None and not re.search(r"\d", text):
        return rejected("no_letters")
    if script in ("cjk", "mixed"):
        compact = re.sub(r"(?<=[^A-Za-z0-9])\s+|\s+(?=[^A-Za-z0-9])", "", text)
        if compact != text:
            rules.append("address_spaces")
            text = compact
    else:
        before = text
        for pattern, repl in _LATIN_PUNCT_FIX:
            text = pattern.sub(repl, text)
        if text != before:
            rules.append("address_punctuation")
        if text.isupper() or text.islower():
            titled = re.sub(r"[A-Za-z\u00c0-\u024f]+", lambda m: m.group(0).capitalize(), text)
            if titled != text:
                rules.append("address_case")
                text = titled
        pattern, expansions = abbreviations
        expanded = pattern.sub(lambda m: expansions[m.group(1).lower()], text) if expansions else text
        if expanded != text:
            rules.append("address_abbreviation")
            text = expanded
    if len(re.sub(r"\W", "", text)) < 4:
        return rejected("too_short")
    return {
        "value": text,
        "valid": True,
        "issue": "mojibake_repaired" if cleaned.mojibake else None,
        "rule": join_rules(*rules),
    }


def _abbreviation_re(reference: Reference) -> tuple[re.Pattern[str], dict[str, str]]:
    table = reference.table("address_abbreviations")
    expansions: dict[str, str] = {}
    for abbr, full in zip(table["abbreviation"], table["expansion"], strict=True):
        expansions.setdefault(abbr.lower(), full)
    if not expansions:
        return re.compile(r"(?!)"), {}
    alternation = "|".join(re.escape(a) for a in sorted(expansions, key=len, reverse=True))
    # a whole word (longest first, so "St." wins over "St"), followed by a space, comma or the end
    return re.compile(r"(?<![\w.])(" + alternation + r")(?=[\s,;]|$)", re.IGNORECASE), expansions


def _parse_cn(addresses: pd.Series) -> pd.DataFrame:
    import cpca

    parsed = cpca.transform(addresses.tolist())
    province = parsed["省"].astype(object)
    city = parsed["市"].astype(object)
    # municipalities: cpca reports the prefecture level as 市辖区; the city is the municipality
    city = city.where(city != "市辖区", province)
    adcode = parsed["adcode"].astype(object).map(lambda a: str(a)[:6] if isinstance(a, str) and a else None)
    detail = parsed["地址"].astype(object).map(lambda d: d or None)
    frame = pd.DataFrame(
        {
            "province": province.to_numpy(),
            "city": city.to_numpy(),
            "district": parsed["区"].astype(object).to_numpy(),
            "adcode": adcode.to_numpy(),
            "detail": detail.to_numpy(),
        },
        index=addresses.index,
    )
    return frame.astype(object).where(frame.notna(), None)


# --------------------------------------------------------------------------------------------
# province / city / district columns


def standardize_regions(
    values: pd.Series,
    level: str,
    *,
    settings: StandardizeSettings | None = None,
    reference: Reference | None = None,
) -> pd.DataFrame:
    """Standardize a province, city or district column to official names.

    Args:
        values: distinct raw values.
        level: ``province``, ``city`` or ``district``.
        settings: the `standardize:` settings.
        reference: the reference tables (``region_words``).

    Returns:
        The result frame (no extras). Chinese names not found are invalid (``unknown_region``);
        Latin names are kept (foreign regions).
    """
    settings, reference = resolve_reference(settings, reference)
    words = reference.table("region_words")
    known = {
        w.lower(): c
        for w, c, lv in zip(words["word"], words["canonical"], words["level"], strict=True)
        if lv == level
    }
    records = per_value(values, lambda raw: _region_one(raw, level, known, settings))
    frame = frame_from_records(records, values, ("valid_before",))
    if level == "district":
        unknown = frame["valid"].eq(True) & frame["value"].map(lambda v: bool(v) and bool(CJK_RE.search(v)))
        if unknown.any():
            import cpca

            parsed = cpca.transform(frame.loc[unknown, "value"].tolist())
            frame.loc[unknown, "issue"] = [None if d else "unknown_region" for d in parsed["区"]]
    return finish_result(frame, values)


def _region_one(raw: Any, level: str, known: dict[str, str], settings: StandardizeSettings) -> dict[str, Any]:
    cleaned = clean_text(str(raw), settings=settings)
    if cleaned.text is None:
        return rejected("mojibake")
    text = cleaned.text.replace(" ", "") if CJK_RE.search(cleaned.text) else cleaned.text
    rules = list(cleaned.rules)
    found = known.get(text.lower())
    if found:
        if found != text:
            rules.append(f"{level}_full_name")
        # a known short or Latin name is a valid value; writing it in full is a normalization
        return {"value": found, "valid": True, "valid_before": not cleaned.rules, "rule": join_rules(*rules)}
    if CJK_RE.search(text) and level != "district":
        return rejected("unknown_region")
    return {"value": text, "valid": True, "rule": join_rules(*rules)}


# --------------------------------------------------------------------------------------------
# postcodes


def standardize_postcodes(
    values: pd.Series,
    region: str | pd.Series = "CN",
    *,
    settings: StandardizeSettings | None = None,
    reference: Reference | None = None,
) -> pd.DataFrame:
    """Standardize postcodes, each checked against the shape of its record's country.

    The shape comes from the ``country_conventions`` table (a country without a row gets a generic
    check, a country without postcodes keeps any value); a postcode is never checked as Chinese
    unless its record is Chinese. A code one digit shorter than the country's ``postcode_pad`` lost
    a leading zero (a number cell) and gets it back, with the issue ``leading_zero_restored``.

    Args:
        values: distinct raw postcodes.
        region: the country of the record (a Series for one per value).
        settings: the `standardize:` settings.
        reference: the reference tables (``postcode_prefixes``, ``country_conventions``).

    Returns:
        The result frame with the internal ``__province``: the province the postcode belongs to
        (Chinese postcodes), which the pipeline compares with the record's province into
        ``<f>_province_match``.
    """
    _, reference = resolve_reference(settings, reference)
    prefixes = reference.mapping("postcode_prefixes", "prefix", "province", fold=str)
    conventions = country_conventions(reference)
    records = per_value(
        values,
        lambda raw, reg: _postcode_one(raw, (reg or "CN").upper(), prefixes, conventions),
        region_series(region, values),
    )
    return result_from_records(records, values, POSTCODE_INTERNAL)


def _postcode_one(
    raw: Any, region: str, prefixes: dict[str, str], conventions: dict[str, CountryConvention]
) -> dict[str, Any]:
    text = nfkc(str(raw)).strip()
    rules = ["fullwidth_to_halfwidth"] if text != str(raw).strip() else []
    if text != str(raw):
        rules.append("whitespace")
    upper = re.sub(r"\s+", " ", text.upper())
    if upper != text:
        rules.append("postcode_case")
    if re.fullmatch(r"\d+\.0", upper):  # a number cell from a spreadsheet
        upper = upper[:-2]
        rules.append("postcode_number_cell")
    convention = conventions.get(region)
    if convention is None:
        if not GENERIC_POSTCODE.fullmatch(upper):
            return rejected("invalid_postcode")
        return {"value": upper, "valid": True, "rule": join_rules(*rules)}
    if convention.postcode is None:  # a country without postcodes: keep what is written
        return {"value": upper, "valid": True, "rule": join_rules(*rules)}
    out = _match_postcode(upper, convention, rules)
    if out is None:
        return rejected("invalid_postcode")
    if region == "CN":
        out["__province"] = prefixes.get(str(out["value"])[:2])
    return out


def _match_postcode(text: str, convention: CountryConvention, rules: list[str]) -> dict[str, Any] | None:
    """The record of a postcode in the shape of its country, or ``None`` when it does not fit."""
    pattern = convention.postcode
    assert pattern is not None
    for candidate, rule in (
        (text, None),
        (text.replace(" ", ""), "whitespace"),
        (re.sub(r"[\s-]", "", text), "postcode_format"),
    ):
        if pattern.fullmatch(candidate):
            return {"value": candidate, "valid": True, "rule": join_rules(*rules, rule)}
    digits = re.sub(r"[\s-]", "", text)
    pad = convention.postcode_pad
    if pad and digits.isdigit() and len(digits) == pad - 1 and pattern.fullmatch("0" + digits):
        return {
            "value": "0" + digits,
            "valid": True,
            "issue": "leading_zero_restored",
            "rule": join_rules(*rules, "postcode_zero_pad"),
        }
    return None


# --------------------------------------------------------------------------------------------
# countries


def standardize_countries(
    values: pd.Series,
    *,
    settings: StandardizeSettings | None = None,
    reference: Reference | None = None,
) -> pd.DataFrame:
    """Standardize country cells to ISO 3166 alpha-2 codes (``中国`` / ``China`` / ``CHN`` → ``CN``)."""
    import phonenumbers

    _, reference = resolve_reference(settings, reference)
    names = reference.mapping("country_names", "name", "code")
    regions = set(phonenumbers.SUPPORTED_REGIONS)

    def one(raw: Any) -> dict[str, Any]:
        text = nfkc(str(raw)).strip()
        key = " ".join(text.lower().split())
        code = names.get(key) or (text.upper() if len(text) == 2 and text.upper() in regions else None)
        if code is None:
            return rejected("unknown_country")
        return {"value": code, "valid": True, "rule": "country_code" if code != str(raw) else None}

    return result_from_records(per_value(values, one), values)
