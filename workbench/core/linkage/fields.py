"""The compared fields of a match: their kinds, std_customers columns, and which columns hold data.

A :class:`MatchField` names one canonical field and the ``std_customers`` columns of its kind
(``customer_name_core``, ``mobile_e164`` …). :class:`Present` records which of those columns (and
of the helper columns derived from them) actually hold values, per source, in this run: the model
builds a level only for facts the data carries (no district level for Latin addresses that have
none, no EM pass blocked on a field only one source has). The helper column names live here too,
so the comparison builders, the blocking keys and the guards share one spelling.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from workbench.errors import WorkbenchError
from workbench.project.config import Kind


def _optional_kind(value: str) -> Kind | None:
    try:
        return Kind(value)
    except ValueError:
        return None


# a national person ID (issue 10 adds the kind; matched when the config has it)
PERSON_ID: Kind | None = _optional_kind("person_id")

UNIQUE_ID = "record_key"
SOURCE_COLUMN = "_source"

# the kind extras each kind may carry in std_customers (see docs/architecture.md)
KIND_ROLES: dict[Kind, tuple[str, ...]] = {
    Kind.COMPANY_NAME: ("core", "pinyin", "legal_form", "branch", "region", "script"),
    Kind.CUSTOMER_NAME: ("core", "pinyin", "legal_form", "branch", "region", "script"),
    Kind.PERSON_NAME: ("pinyin",),
    Kind.PHONE: ("e164", "all", "last8", "type"),
    Kind.EMAIL: ("local", "domain"),
    Kind.ADDRESS: ("province", "city", "district", "detail", "issue", "raw"),
    Kind.TAX_ID: ("valid", "type", "raw"),
    Kind.POSTCODE: (),
    Kind.PROVINCE: (),
    Kind.CITY: (),
    Kind.DISTRICT: (),
    Kind.COUNTRY: (),
    Kind.DATE: (),
    Kind.ID: ("raw",),
}
if PERSON_ID is not None:
    KIND_ROLES[PERSON_ID] = ("raw",)

COMPARABLE_KINDS = frozenset(KIND_ROLES)
PLACE_KINDS = (Kind.CITY, Kind.DISTRICT, Kind.PROVINCE)
ID_KINDS = frozenset(k for k in (Kind.ID, PERSON_ID) if k is not None)

# helper columns: per field (<field><suffix>) and per record
PIN, FIRST, HAN, NORM_ID, COMPANY_ID = "__pin", "__first", "__han", "__id", "__company"
PHONES = "phones__all"
NAME_BRANCH, NAME_REGION = "names__branch", "names__region"
PERSON_FULL, PERSON_FULL_REV = "persons__full", "persons__full_rev"
PERSON_PIN, PERSON_PIN_REV = "persons__pin", "persons__pin_rev"
NAMES_COMPACT, NAMES_PIN = "names__compact", "names__pin"


LOC_ADDR, LOC_LINES, LOC_NUMS, LOC_DETAIL = "loc__addr", "loc__lines", "loc__nums", "loc__detail"
LOC_DISTRICT, LOC_CITY, LOC_PROVINCE = "loc__district", "loc__city", "loc__province"


class MatchSettingsError(WorkbenchError):
    """The `match:` section names a field or column that std_customers does not have."""


@dataclass(frozen=True)
class MatchField:
    """One compared field: its kind and the std_customers columns that carry it.

    Attributes:
        field: canonical field name.
        kind: its kind.
        columns: role → column; role ``value`` is the standardized value, other roles are the kind
            extras that exist (``core``, ``pinyin``, ``e164``, ``all``, ``last8``, …) and, where a
            comparison uses them, ``raw`` / ``issue`` / ``valid``.
        dtype: DuckDB type of the value column.
        sources: the customer sources that map a column to the field (config order).
    """

    field: str
    kind: Kind
    columns: dict[str, str]
    dtype: str = "VARCHAR"
    sources: tuple[str, ...] = ()

    def col(self, role: str = "value") -> str | None:
        """The column of `role`, or None when std_customers has none."""
        return self.columns.get(role)

    @property
    def match_column(self) -> str:
        """The column that carries the field's identity (the name core for company names)."""
        for role in ("core", "e164", "value"):
            if role in self.columns:
                return self.columns[role]
        raise MatchSettingsError(f"field {self.field!r} has no usable column")  # pragma: no cover

    @property
    def all_columns(self) -> list[str]:
        """Every std_customers column of the field (value first)."""
        return list(dict.fromkeys(self.columns.values()))


def helper(plan: MatchField, suffix: str) -> str:
    """Name of a helper column of a field (e.g. ``customer_name__pin``)."""
    return f"{plan.field}{suffix}"


def is_company_name(plan: MatchField) -> bool:
    """A company (or customer) name field with a name core."""
    return plan.kind in (Kind.COMPANY_NAME, Kind.CUSTOMER_NAME) and bool(plan.col("core"))


@dataclass(frozen=True)
class Present:
    """Which columns hold values in this run: column → source → non-null count.

    ``Present()`` (no counts) treats every column as filled: the settings of a model built without
    the data at hand (tests, a saved model's columns).
    """

    counts: Mapping[str, Mapping[str, int]] | None = None
    sources: tuple[str, ...] = field(default_factory=tuple)

    def has(self, column: str | None) -> bool:
        """True when `column` holds a value in at least one record."""
        if column is None:
            return False
        if self.counts is None:
            return True
        return sum(self.counts.get(column, {}).values()) > 0

    def sources_of(self, column: str) -> set[str]:
        """The sources in which `column` holds a value."""
        if self.counts is None:
            return set(self.sources)
        return {s for s, n in self.counts.get(column, {}).items() if n > 0}

    def in_both_sides(self, column: str) -> bool:
        """True when pairs agreeing on `column` can join two sources (or the only source's records).

        An EM pass blocked on a column only one of several sources has would see only that
        source's internal duplicates, a biased sample of the matches.
        """
        if self.counts is None or len(self.sources) <= 1:
            return self.has(column)
        return len(self.sources_of(column)) >= 2
