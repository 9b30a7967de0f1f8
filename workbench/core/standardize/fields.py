"""The canonical fields of ``std_customers``: per field its kind, position and columns.

A :class:`StdField` names every column a field gets in ``std_customers`` (``f``, ``f_raw``,
``f_valid``, ``f_issue`` and the kind extras, see docs/architecture.md) and the scratch tables and
columns the standardize pipeline uses for it. This module also names the pipeline's base table
(:data:`BASE_TABLE`, one row per staged row) and the record-level columns. The pipeline, the
lookups, the fill rules and the record flags share it; it imports none of them (no cycle).
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.engine.catalog import temp
from workbench.project.config import Kind

# the staged rows of every customer source, stacked (scratch; the pipeline drops it)
BASE_TABLE = temp("std_base")

RECORD_COLUMNS = (
    "customer_type",
    "record_status",
    "is_test",
    "is_stale",
    "last_activity_date",
    "activity_amount_12m",
    "activity_amount_total",
    "flags",
)
RESERVED = {"record_key", "source_id", *RECORD_COLUMNS} - {"customer_type"}

# the kind extras of std_customers (docs/architecture.md), and the internal helper columns
EXTRAS: dict[Kind, tuple[str, ...]] = {
    Kind.PHONE: ("e164", "all", "type", "ext", "last8"),
    Kind.EMAIL: ("local", "domain"),
    Kind.COMPANY_NAME: ("display", "core", "legal_form", "branch", "region", "pinyin", "script"),
    Kind.CUSTOMER_NAME: ("display", "core", "legal_form", "branch", "region", "pinyin", "script"),
    Kind.PERSON_NAME: ("pinyin",),
    Kind.ADDRESS: ("province", "city", "district", "adcode", "detail"),
    Kind.TAX_ID: ("country", "region_code", "type"),
    Kind.PERSON_ID: ("country", "type"),
}
INTERNAL: dict[Kind, tuple[str, ...]] = {
    Kind.PHONE: ("__province",),
    Kind.POSTCODE: ("__province",),
    Kind.COMPANY_NAME: ("__entity", "__industry"),
    Kind.CUSTOMER_NAME: ("__entity", "__industry"),
}
SQL_TYPES = {Kind.DATE: "DATE", Kind.AMOUNT: "DOUBLE", Kind.NUMBER: "DOUBLE", Kind.FLAG: "BOOLEAN"}
CONTEXT_KINDS = {Kind.PHONE, Kind.TAX_ID, Kind.PERSON_ID, Kind.POSTCODE}
"""Kinds read with the record's country (base column ``__country``)."""
DAY_ORDER_KINDS = {Kind.DATE}
"""Kinds read with the source's date order (base column ``__day_first``: ``dmy`` or ``mdy``)."""
SOURCE_KEY = "source_key"
"""The standardizer of a field that is a source's own key: an ID, never probed for test records."""
TEST_APPLIES = {
    Kind.COMPANY_NAME: "name",
    Kind.PERSON_NAME: "name",
    Kind.CUSTOMER_NAME: "name",
    Kind.EMAIL: "email",
    Kind.ID: "id",
    Kind.TAX_ID: "tax_id",
    Kind.PHONE: "phone",
}


@dataclass
class StdField:
    """One canonical field: its kind, position, lookup table and columns in std_customers."""

    name: str
    kind: Kind
    position: int
    sources: list[str]
    standardizer: str

    @property
    def lookup(self) -> str:
        """The scratch table of this field's standardized distinct values."""
        return temp(f"std_lk_{self.position}")

    @property
    def alias(self) -> str:
        return f"l{self.position}"

    @property
    def sql_type(self) -> str:
        return SQL_TYPES.get(self.kind, "VARCHAR")

    @property
    def extras(self) -> tuple[str, ...]:
        return EXTRAS.get(self.kind, ())

    @property
    def internal(self) -> tuple[str, ...]:
        return INTERNAL.get(self.kind, ())

    @property
    def context_column(self) -> str | None:
        """The base column whose value the field's values are read with (country, date order)."""
        if self.kind in CONTEXT_KINDS:
            return "__country"
        if self.kind in DAY_ORDER_KINDS:
            return "__day_first"
        return None

    @property
    def uses_context(self) -> bool:
        return self.context_column is not None

    def col(self, suffix: str = "") -> str:
        """A std_customers column of this field: ``f``, ``f_raw``, ``f_valid``, ``f_e164`` …"""
        return f"{self.name}_{suffix}" if suffix else self.name

    def hidden(self, what: str) -> str:
        """An internal column of the wide table (rule, value as text, test reason, …)."""
        return f"__{what}__{self.name}"
