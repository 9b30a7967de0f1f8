"""What the values of a column say about its kind: shares of valid phones, e-mails, USCCs, dates …

:func:`profile_column` measures a column's sampled values: how many are filled and distinct, and
for every kind that can be told by its values the share of distinct values that pass that kind's
test. The tests are the real ones: phonenumbers for phones, python-stdnum for tax and person IDs,
the date formats of the standardize stage, the reference tables of the standardize stage (legal
forms, surnames, status, flag and country words, region words, postcode shapes) and the street
words of ``data/value_words.csv``. Nothing is tuned to a known file.
"""

from __future__ import annotations

import csv
import functools
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.standardize.base import CJK_RE, KeywordFinder, Reference, load_reference, nfkc
from workbench.core.standardize.regional import GENERIC_POSTCODE, country_conventions, person_id_modules

DATA_DIR = Path(__file__).parent / "data"
MAX_TESTED = 300
"""Distinct values tested per column (the most frequent first)."""

_EMAIL_RE = re.compile(r"^[^@\s<>(),;:]+@[^@\s<>(),;:]+\.[A-Za-z]{2,}$")
_URL_RE = re.compile(
    r"^(https?://|www\.)\S+$|^[a-z0-9-]+(\.[a-z0-9-]+)*\.(com|net|org|cn|de|uk|au|io|co)(/\S*)?$", re.I
)
_NUMBER_RE = re.compile(
    r"^[(\-+]?\s*(?:[¥$€£]|rmb|cny|usd|eur|aud)?\s*(\d{1,3}(,\d{3})+|\d+)(\.\d+)?\s*\)?$", re.I
)
_DECORATED_RE = re.compile(r"[¥$€£,]|\.\d", re.I)
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_/.#]{0,39}$")
_SLASH_DATE_RE = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})(\s.*)?$")
_PHONE_SPLIT_RE = re.compile(r"[;,/、；，]|\s{2,}")
_CLEAN_RE = re.compile(r"[\s\-./_]")
_LATIN_NAME_RE = re.compile(r"^[A-Z][a-zA-Z'\-]+(\s[A-Z][a-zA-Z'\-.]*){1,3}$")

# kinds the values can tell, each with its test (a value → bool)
VALUE_KINDS = (
    "email",
    "url",
    "phone",
    "tax_id",
    "person_id",
    "date",
    "number",
    "amount",
    "postcode",
    "country",
    "province",
    "city",
    "status",
    "flag",
    "company_name",
    "person_name",
    "address",
)


@dataclass
class ColumnProfile:
    """A column's sampled values measured."""

    rows: int
    filled: int
    distinct: int
    shares: dict[str, float] = field(default_factory=dict)
    id_like: float = 0.0  # share of distinct values that look like a code/key (short, no spaces)
    leading_zero: float = 0.0  # share of numeric values written with a leading zero
    mean_length: float = 0.0
    date_order: str | None = None  # 'dmy' / 'mdy' when the slash dates tell
    date_order_example: str = ""
    top: list[str] = field(default_factory=list)
    all_distinct: list[str] = field(default_factory=list)

    @property
    def fill_share(self) -> float:
        return self.filled / self.rows if self.rows else 0.0

    @property
    def unique_share(self) -> float:
        """Distinct values per filled value (1: every filled value is different)."""
        return self.distinct / self.filled if self.filled else 0.0

    def share(self, kind: str) -> float:
        return self.shares.get(kind, 0.0)


class ValueTests:
    """The per-kind value tests, built once from the reference tables."""

    def __init__(self, reference: Reference | None = None) -> None:
        self.reference = reference or load_reference()
        ref = self.reference
        self.conventions = country_conventions(ref)
        self.person_modules = person_id_modules(ref)
        self.status_words = {_fold(w) for w in ref.table("status_words")["word"]}
        self.flag_words = {_fold(w) for w in ref.table("flag_words")["word"]}
        self.country_words = {_fold(w) for w in ref.table("country_names")["name"]}
        self.country_words |= {_fold(w) for w in ref.table("country_names")["code"]}
        regions = ref.table("region_words")
        self.region_words = {
            level: {_fold(w) for w in regions.loc[regions["level"] == level, "word"]}
            for level in ("province", "city")
        }
        self.surnames = set(ref.table("surnames")["surname"])
        forms = ref.table("legal_forms")
        self.company_finder = KeywordFinder([*forms["variant"], *ref.table("company_words")["word"]])
        words = _value_words("address")
        abbreviations = ref.table("address_abbreviations")
        latin = {w.lower().rstrip(".") for w in [*abbreviations["abbreviation"], *abbreviations["expansion"]]}
        self.street_words = latin | {w for w in words if not CJK_RE.search(w)}
        self.cjk_address_chars = [w for w in words if CJK_RE.search(w)]

    def tests(self, region: str) -> dict[str, Callable[[str], bool]]:
        """The test of every value kind for records of `region`."""
        return {
            "email": lambda v: bool(_EMAIL_RE.match(v)),
            "url": lambda v: "@" not in v and bool(_URL_RE.match(v)),
            "phone": lambda v: is_phone(v, region),
            "person_id": lambda v: self.is_person_id(v, region),
            "number": lambda v: bool(_NUMBER_RE.match(v)),
            "amount": lambda v: bool(_NUMBER_RE.match(v)),
            "postcode": lambda v: self.is_postcode(v, region),
            "country": lambda v: _fold(v) in self.country_words,
            "province": lambda v: _fold(v) in self.region_words["province"],
            "city": lambda v: _fold(v) in self.region_words["city"],
            "status": lambda v: _fold(v) in self.status_words,
            "flag": lambda v: _fold(v) in self.flag_words,
            "company_name": lambda v: self.company_finder.find(v) is not None and len(v) > 3,
            "person_name": self.is_person_name,
            "address": self.is_address,
        }

    def is_postcode(self, value: str, region: str) -> bool:
        text = re.sub(r"\s+", " ", nfkc(value).strip().upper()).removesuffix(".0")
        convention = self.conventions.get(region)
        if convention is None:
            return bool(GENERIC_POSTCODE.fullmatch(text)) and any(ch.isdigit() for ch in text)
        if convention.postcode is None:
            return False
        return bool(
            convention.postcode.fullmatch(text) or convention.postcode.fullmatch(text.replace(" ", ""))
        )

    def is_person_id(self, value: str, region: str) -> bool:
        compact = _CLEAN_RE.sub("", nfkc(value)).upper()
        if len(set(compact)) <= 1:
            return False
        names = ["cn.ric", *self.person_modules.get(region, [])]
        return any(_stdnum_valid(name, compact) for name in dict.fromkeys(names))

    def is_person_name(self, value: str) -> bool:
        text = value.strip()
        if self.company_finder.find(text) is not None:
            return False
        if CJK_RE.search(text):
            return (
                2 <= len(text) <= 4
                and all(CJK_RE.match(c) for c in text)
                and (text[0] in self.surnames or text[:2] in self.surnames)
            )
        return bool(_LATIN_NAME_RE.match(text))

    def is_address(self, value: str) -> bool:
        text = value.strip()
        if CJK_RE.search(text):
            return len(text) >= 5 and any(c in text for c in self.cjk_address_chars)
        tokens = re.findall(r"[a-zäöüß]+", text.lower())
        return any(ch.isdigit() for ch in text) and any(t in self.street_words for t in tokens)


@functools.lru_cache(maxsize=1)
def shipped_value_tests() -> ValueTests:
    """The value tests with the shipped reference tables."""
    return ValueTests()


def profile_column(values: Sequence[str], region: str, tests: ValueTests | None = None) -> ColumnProfile:
    """Measure a column's sampled values (see :class:`ColumnProfile`).

    Args:
        values: the sampled cells of the column ('' for empty).
        region: the country the records most likely belong to (phones, postcodes, IDs).
        tests: the value tests; default the shipped ones.
    """
    tests = tests or shipped_value_tests()
    filled = [v.strip() for v in values if v and v.strip()]
    counts = Counter(filled)
    distinct = [v for v, _ in counts.most_common()]
    profile = ColumnProfile(rows=len(values), filled=len(filled), distinct=len(distinct))
    profile.top = distinct[:20]
    profile.all_distinct = sorted(distinct) if len(distinct) <= 500 else []
    if not distinct:
        return profile
    tested = distinct[:MAX_TESTED]
    for kind, test in tests.tests(region).items():
        profile.shares[kind] = round(sum(1 for v in tested if _safe(test, v)) / len(tested), 3)
    profile.shares["date"] = round(_date_share(tested), 3)
    profile.shares["tax_id"] = round(tax_id_share(tested, region), 3)
    numeric = [v for v in tested if _NUMBER_RE.match(v)]
    if numeric:
        decorated = sum(1 for v in numeric if _DECORATED_RE.search(v)) / len(numeric)
        # an amount has decimals or separators somewhere; plain integers are a number (or a code)
        profile.shares["amount"] = round(profile.shares["amount"] * min(1.0, decorated * 4), 3)
        profile.leading_zero = sum(1 for v in numeric if len(v) > 1 and v[0] == "0" and v[1].isdigit()) / len(
            numeric
        )
    profile.id_like = round(sum(1 for v in tested if _ID_RE.match(v)) / len(tested), 3)
    profile.mean_length = sum(len(v) for v in tested) / len(tested)
    profile.date_order, profile.date_order_example = date_order(tested)
    return profile


def date_order(values: Sequence[str]) -> tuple[str | None, str]:
    """``dmy`` or ``mdy`` when a slash date tells (a first part > 12, or a second part > 12)."""
    day_first = month_first = ""
    for v in values:
        m = _SLASH_DATE_RE.match(v)
        if not m:
            continue
        a, b = int(m.group(1)), int(m.group(2))
        if a > 12 >= b and not day_first:
            day_first = v
        elif b > 12 >= a and not month_first:
            month_first = v
    if day_first and not month_first:
        return "dmy", day_first
    if month_first and not day_first:
        return "mdy", month_first
    return None, ""


def _date_share(values: Sequence[str]) -> float:
    """Share of values that read as a date (not as an Excel serial number)."""
    import pandas as pd

    from workbench.core.standardize.dates import standardize_dates
    from workbench.project.settings.standardize import StandardizeSettings

    candidates = [v for v in values if not re.fullmatch(r"[\d.]+", v) or re.fullmatch(r"\d{8}", v)]
    if not candidates:
        return 0.0
    frame = standardize_dates(pd.Series(candidates, dtype=object), settings=StandardizeSettings())
    ok = frame["valid"].eq(True) & ~frame["rule"].fillna("").str.contains("excel_serial")
    return float(ok.sum()) / len(values)


def is_phone(value: str, region: str) -> bool:
    """Whether the first number in `value` is a valid phone number (phonenumbers) of `region`."""
    import phonenumbers

    first = _PHONE_SPLIT_RE.split(value.strip())[0]
    digits = sum(ch.isdigit() for ch in first)
    if (
        digits < 6
        or digits > 17
        or _SLASH_DATE_RE.match(first)
        or re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", first)
    ):
        return False
    try:
        number = phonenumbers.parse(first, region)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


def phone_regions(values: Sequence[str], default: str) -> Counter[str]:
    """The regions of the valid phone numbers among `values` (read with `default` when no + prefix)."""
    import phonenumbers

    found: Counter[str] = Counter()
    for v in values[:MAX_TESTED]:
        first = _PHONE_SPLIT_RE.split(v.strip())[0]
        try:
            number = phonenumbers.parse(first, default)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            region = phonenumbers.region_code_for_number(number)
            if region:
                found[region] += 1
    return found


def phone_region_shares(values: Sequence[str], candidates: Sequence[str]) -> dict[str, float]:
    """Per candidate region, the share of `values` that are valid phone numbers of that region."""
    tested = [v for v in values if v.strip()][:60]
    if not tested:
        return {}
    return {r: sum(1 for v in tested if is_phone(v, r)) / len(tested) for r in candidates}


def tax_id_share(values: Sequence[str], region: str) -> float:
    """Share of `values` that are a valid USCC or tax / VAT number of `region` (python-stdnum)."""
    import pandas as pd

    from workbench.core.standardize.ids import standardize_tax_ids

    candidates = [v for v in values if len(_CLEAN_RE.sub("", nfkc(v))) >= 8 and len(set(v)) > 1]
    if not candidates:
        return 0.0
    frame = standardize_tax_ids(pd.Series(candidates, dtype=object), region)
    return float(frame["valid"].eq(True).sum()) / len(values)


@functools.lru_cache(maxsize=64)
def _module(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(f"stdnum.{name}")
    except ImportError:
        return None


def _stdnum_valid(name: str, compact: str) -> bool:
    module = _module(name)
    return bool(module is not None and module.is_valid(compact))


def _safe(test: Callable[[str], bool], value: str) -> bool:
    try:
        return bool(test(value))
    except Exception:  # noqa: BLE001 - a value that breaks a test simply does not pass it
        return False


def _fold(text: Any) -> str:
    return " ".join(nfkc(str(text)).lower().split())


@functools.lru_cache(maxsize=4)
def _value_words(kind: str) -> list[str]:
    with (DATA_DIR / "value_words.csv").open(encoding="utf-8-sig", newline="") as fh:
        return [
            r["word"].strip().lower()
            for r in csv.DictReader(fh)
            if r["kind"].strip() == kind and r["word"].strip()
        ]
