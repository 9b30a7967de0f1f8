"""Guessing a column's canonical field and kind from its header *and* its values.

A header word (``data/header_words.csv``) proposes fields; the values confirm or contradict the
proposed kind (:mod:`workbench.core.onboarding.evidence`). Every guess carries a confidence in
[0, 1] and the reasons a person can check:

- header and values agree: confidence from both (``0.5 × header + 0.5 × value share``);
- the header says one kind, but the values are clearly another one that values can tell for sure
  (e-mails, phones, dates, tax and person IDs, URLs): the values win, with a lower confidence;
- no header word: a kind the values show clearly (≥ 80 %) is taken with a field named after it;
  a column of few distinct short values becomes a ``code`` field named after its header;
- anything else is not placed: it is staged as text under its header, and listed.

This module also picks a source's ID column and tells an activity file from a customer file.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from workbench.core.onboarding.evidence import ColumnProfile
from workbench.core.onboarding.headers import HeaderMatch

STRONG_KINDS = ("email", "phone", "tax_id", "person_id", "date", "url")
"""Kinds whose values tell them apart reliably (they may overrule a header)."""

CHECKABLE_KINDS = {*STRONG_KINDS, "number", "amount", "postcode", "country", "flag", "status"}
"""Kinds whose values can confirm a header."""

DEFAULT_FIELDS = {
    "email": "email",
    "phone": "phone",
    "tax_id": "tax_id",
    "person_id": "person_id",
    "date": "date",
    "url": "website",
    "amount": "amount",
    "number": "number",
    "postcode": "postcode",
    "country": "country",
    "status": "status",
    "flag": "flag",
    "province": "province",
    "city": "city",
    "company_name": "company_name",
    "person_name": "contact_name",
    "address": "address",
}
"""The field a kind's column gets when no header word names one."""

RESERVED_FIELDS = frozenset(
    {"record_key", "source_id", "record_status", "is_test", "is_stale", "last_activity_date"}
    | {"activity_amount_12m", "activity_amount_total", "flags"}
)
"""Names of std_customers columns a canonical field must not take."""


@dataclass
class ColumnGuess:
    """What init believes one column holds."""

    position: int
    header: str
    field: str | None
    kind: str | None
    confidence: float
    reasons: list[str] = dataclasses.field(default_factory=list)
    part_of: str = ""
    profile: ColumnProfile | None = dataclasses.field(default=None, repr=False)

    @property
    def placed(self) -> bool:
        return self.field is not None

    def describe(self) -> str:
        """The comment written next to the column in workbench.yaml."""
        return f"{self.confidence:.2f} " + "; ".join(self.reasons)


def guess_column(
    position: int, header: str, profile: ColumnProfile, matches: Sequence[HeaderMatch]
) -> ColumnGuess:
    """The field and kind of one column (see the module docstring)."""
    if matches:
        return _from_header(position, header, profile, matches)
    return _from_values(position, header, profile)


def _from_header(
    position: int, header: str, profile: ColumnProfile, matches: Sequence[HeaderMatch]
) -> ColumnGuess:
    best = matches[0]
    said = f"header {header!r} ~ {best.word!r}" if best.score < 1 else f"header {header!r}"
    if profile.filled == 0:
        return ColumnGuess(
            position,
            header,
            best.field,
            best.kind,
            round(0.6 * best.score, 2),
            [said, "empty in the sample"],
            best.part_of,
        )
    support = value_support(best.kind, profile)
    if support is None:
        extra = name_support(best.kind, profile)
        confidence = 0.7 * best.score + 0.3 * extra
        return ColumnGuess(
            position,
            header,
            best.field,
            best.kind,
            round(confidence, 2),
            [said, _support_text(best.kind, extra)],
            best.part_of,
        )
    if support >= 0.5:
        confidence = 0.5 * best.score + 0.5 * support
        reason = f"{support:.0%} of the values are {best.kind} values"
        return ColumnGuess(
            position, header, best.field, best.kind, round(confidence, 2), [said, reason], best.part_of
        )
    strong, share = strongest_kind(profile)
    if strong is not None and strong != best.kind and share >= 0.8:
        other = next((m for m in matches if m.kind == strong), None)
        name = other.field if other else DEFAULT_FIELDS[strong]
        reasons = [f"{said} suggests {best.kind}", f"but {share:.0%} of the values are {strong} values"]
        return ColumnGuess(position, header, name, strong, round(0.5 * share, 2), reasons)
    reasons = [said, f"only {support:.0%} of the values look like {best.kind}; check this column"]
    return ColumnGuess(
        position,
        header,
        best.field,
        best.kind,
        round(0.5 * best.score * (0.5 + support), 2),
        reasons,
        best.part_of,
    )


def _from_values(position: int, header: str, profile: ColumnProfile) -> ColumnGuess:
    if profile.filled == 0:
        return ColumnGuess(position, header, None, None, 0.0, ["no header word known, empty in the sample"])
    strong, share = strongest_kind(profile)
    if strong is not None and share >= 0.8:
        reason = f"no header word known; {share:.0%} of the values are {strong} values"
        return ColumnGuess(
            position, header, DEFAULT_FIELDS[strong], strong, round(0.3 + 0.3 * share, 2), [reason]
        )
    for kind in ("amount", "postcode", "country", "status", "flag", "company_name", "address", "person_name"):
        value_share = profile.share(kind)
        if value_share >= (0.9 if kind in ("amount", "postcode", "status", "flag") else 0.7):
            reason = f"no header word known; {value_share:.0%} of the values are {kind} values"
            return ColumnGuess(
                position, header, DEFAULT_FIELDS[kind], kind, round(0.25 + 0.25 * value_share, 2), [reason]
            )
    if _is_code(profile):
        name = field_name_from_header(header, position)
        reason = f"no header word known; {profile.distinct} distinct short values: a code"
        return ColumnGuess(position, header, name, "code", 0.35, [reason])
    return ColumnGuess(
        position, header, None, None, 0.0, ["no header word known and the values tell no kind"]
    )


def value_support(kind: str, profile: ColumnProfile) -> float | None:
    """The share of values that confirm `kind`, or ``None`` for a kind values cannot confirm."""
    if kind not in CHECKABLE_KINDS:
        return None
    if kind in ("amount", "number"):
        return profile.share("number") * (1 - profile.leading_zero)
    return profile.share(kind)


def name_support(kind: str, profile: ColumnProfile) -> float:
    """How well the values fit a text-like kind (0..1), for the confidence."""
    if kind == "customer_name":
        return max(profile.share("company_name"), profile.share("person_name"), 0.5)
    if kind in ("company_name", "person_name", "address", "province", "city"):
        return max(profile.share(kind), 0.3)
    if kind == "id":
        return profile.unique_share * profile.id_like
    if kind == "code":
        return 1.0 if _is_code(profile) else 0.5
    return 0.6


def _support_text(kind: str, support: float) -> str:
    if kind == "id":
        return f"{support:.0%} unique key-like values"
    if kind == "code":
        return "few distinct values" if support >= 1 else "many distinct values for a code"
    return f"values fit {kind} ({support:.0%})"


def strongest_kind(profile: ColumnProfile) -> tuple[str | None, float]:
    """The strong kind (see :data:`STRONG_KINDS`) most values pass, and its share."""
    best, share = None, 0.0
    for kind in STRONG_KINDS:
        s = profile.share(kind)
        if s > share:
            best, share = kind, s
    return best, share


def _is_code(profile: ColumnProfile) -> bool:
    return (
        profile.filled >= 5
        and profile.distinct <= max(3, min(50, profile.filled // 4))
        and profile.mean_length <= 20
    )


def field_name_from_header(header: str, position: int) -> str:
    """A canonical field name from a header: snake_case ASCII (Chinese as pinyin), else ``column_<n>``."""
    text = unicodedata.normalize("NFKC", header).strip()
    if re.search(r"[\u3400-\u9fff]", text):
        from pypinyin import lazy_pinyin

        text = " ".join(lazy_pinyin(text))
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", text)
    slug = re.sub(
        r"[^a-z0-9]+", "_", unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    )
    slug = slug.strip("_")[:40].strip("_")
    if not slug or not slug[0].isalpha():
        slug = f"column_{position}" if not slug else f"c_{slug}"[:40]
    return slug


# --------------------------------------------------------------------------------------------
# a source's columns together


def dedupe_fields(guesses: list[ColumnGuess], id_position: int | None) -> None:
    """Give every placed column its own field: the most confident keeps the name, the others get
    ``<field>_2``, ``_3`` …; a second ``customer_id`` becomes a ``code`` named after its header (a
    second key must not be taken for a group parent). Reserved names get ``_src``."""
    taken: set[str] = set()
    by_field: dict[str, list[ColumnGuess]] = {}
    for g in guesses:
        if g.field is not None:
            by_field.setdefault(g.field, []).append(g)
    order = sorted(guesses, key=lambda g: (g.position != id_position, -g.confidence, g.position))
    for g in order:
        if g.field is None:
            continue
        if g.field in RESERVED_FIELDS:
            g.field = f"{g.field}_src"
        if g.field == "customer_id" and g.position != id_position and "customer_id" in taken:
            g.field, g.kind = field_name_from_header(g.header, g.position), "code"
            g.reasons.append("a second ID-like column: kept as a code")
        name, n = g.field, 2
        while name in taken:
            name, n = f"{g.field}_{n}", n + 1
        if name != g.field:
            g.reasons.append(f"field {g.field!r} is taken by another column")
            g.field = name
        taken.add(name)


def choose_id_column(guesses: list[ColumnGuess]) -> tuple[ColumnGuess, str]:
    """The column holding the source's customer ID, and why it was chosen.

    A column the header words call ``customer_id`` (the most unique of them), else a column of kind
    ``id``, else the first column among the first five that is filled and unique in every sampled
    row, else the first column.
    """

    def unique(g: ColumnGuess) -> float:
        return g.profile.unique_share if g.profile else 0.0

    named = [g for g in guesses if g.field == "customer_id"]
    if named:
        best = max(named, key=lambda g: (unique(g) >= 0.9, g.confidence, unique(g), -g.position))
        return best, f"header names the customer ID; {unique(best):.0%} unique"
    ids = [g for g in guesses if g.kind == "id"]
    if ids:
        best = max(ids, key=lambda g: (unique(g), g.confidence, -g.position))
        return best, f"an ID column; {unique(best):.0%} unique"
    for g in sorted(guesses, key=lambda g: g.position)[:5]:
        p = g.profile
        if p and p.fill_share >= 0.95 and p.unique_share >= 0.98 and p.id_like >= 0.9:
            return g, "filled and unique in every sampled row"
    first = min(guesses, key=lambda g: g.position)
    return first, "no ID column recognised: the first column (check it)"


def repeating_keys(guesses: list[ColumnGuess]) -> list[ColumnGuess]:
    """Columns that look like keys of another table: filled, key-like, with repeats."""
    return [
        g
        for g in guesses
        if g.profile
        and g.profile.fill_share >= 0.9
        and g.profile.id_like >= 0.8
        and g.profile.unique_share < 0.9
        and g.profile.distinct >= 2
    ]


def key_overlap(values: Sequence[str], keys: set[str]) -> float:
    """Share of the distinct `values` found among `keys`."""
    distinct = {v.strip() for v in values if v and v.strip()}
    return len(distinct & keys) / len(distinct) if distinct else 0.0


def agree_kinds(sources: list[list[ColumnGuess]]) -> list[str]:
    """Make one field have one kind in every customer source (the most confident guess decides).

    Returns:
        A note for every column whose kind was changed.
    """
    best: dict[str, ColumnGuess] = {}
    for guesses in sources:
        for g in guesses:
            if g.field is not None and (g.field not in best or g.confidence > best[g.field].confidence):
                best[g.field] = g
    notes = []
    for guesses in sources:
        for g in guesses:
            if g.field is not None and g.kind != best[g.field].kind:
                g.reasons.append(
                    f"kind {g.kind} changed to {best[g.field].kind} to agree with another source"
                )
                notes.append(f"{g.header!r}: kind {g.kind} → {best[g.field].kind}")
                g.kind = best[g.field].kind
    return notes


def majority(values: Sequence[str]) -> str | None:
    """The most common value (ties: the first seen)."""
    counts = Counter(v for v in values if v)
    return counts.most_common(1)[0][0] if counts else None
