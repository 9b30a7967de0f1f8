"""The mapping stage's core: check the mapping files against the data, store coverage, read sign-off.

:func:`review_mappings` reads the project's target profiles and mapping files, computes the
coverage of the standardized records, replaces the ``mapping_coverage`` table (see
:func:`~workbench.core.mapping.coverage.coverage_issues`) and reads the sign-off status. It returns a
:class:`MappingReport`; the review workbook people read is written from it by
:mod:`workbench.presentation.workbooks.mapping_review`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.core.mapping.approvals import SignOff, project_sign_off
from workbench.core.mapping.coverage import Coverage, compute_coverage, coverage_issues
from workbench.core.mapping.defaults import project_columns
from workbench.core.mapping.files import MappingSet, load_mapping_set
from workbench.core.mapping.transforms import line_columns
from workbench.core.targets.profiles import TargetProfile, load_project_profiles
from workbench.engine import catalog
from workbench.engine.connection import registered, table_columns, table_exists
from workbench.engine.sql import ident
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    import duckdb

    from workbench.project.context import RunContext


@dataclass
class MappingReport:
    """What the mapping stage found: the mapping set, its coverage and its sign-off status."""

    mapping: MappingSet
    coverage: Coverage
    sign_off: SignOff
    profiles: dict[str, TargetProfile]
    source_columns: list[str] = field(default_factory=list)  # the golden columns a mapping may read

    @property
    def approvals(self) -> pd.DataFrame:
        """The approvals of the version in use when it is approved, else every approval line."""
        return self.sign_off.signed

    @property
    def approved(self) -> bool:
        return self.sign_off.approved

    @property
    def approval_problem(self) -> str | None:
        return self.sign_off.problem

    @property
    def ready(self) -> bool:
        """Mappings complete, covering the data and signed off: the export can write approved files."""
        return self.mapping.complete and self.coverage.ok and self.approved

    def missing(self) -> list[str]:
        """What keeps the export from writing approved files, in words (empty when :attr:`ready`)."""
        out = self.mapping.gaps()
        if not self.coverage.ok:
            out.append(f"coverage of {self.coverage.table}: {self.coverage.describe()}")
        if not self.approved:
            out.append(f"not signed off: {self.approval_problem}")
        return out

    def metrics(self) -> dict[str, Any]:
        """Figures the stage records: version, sign-off, mapped fields, coverage counts, what is missing."""
        return {
            "mapping_version": self.mapping.version,
            **self.sign_off.metrics(),
            "ready_for_export": self.ready,
            "missing": self.missing(),
            "missing_files": [str(p) for p in self.mapping.missing],
            "default_mapped_profiles": self.mapping.defaulted,
            "placeholder_lines": len(self.mapping.placeholders),
            "pending_value_rows": len(self.mapping.pending_values),
            "profiles": sorted(self.profiles),
            "mapped_fields": {n: len(self.mapping.lines_for(n)) for n in sorted(self.profiles)},
            "value_mapping_rows": len(self.mapping.value_maps.frame),
            "records_checked": self.coverage.records,
            **{f"coverage_{k}": v for k, v in self.coverage.counts().items()},
            "unmapped_value_rows": int(self.coverage.unmapped_values["count"].sum()),
        }

    def issues(self) -> pd.DataFrame:
        """All coverage issues in one table (kind, profile, target field, detail, count)."""
        return coverage_issues(self.coverage)

    def field_overview(self) -> pd.DataFrame:
        """Every target field of every profile with its mapping (see :func:`field_mapping_overview`)."""
        return field_mapping_overview(self.profiles, self.mapping)


def field_mapping_overview(profiles: dict[str, TargetProfile], mapping: MappingSet) -> pd.DataFrame:
    """Every target field of every profile with its mapping (empty when unmapped).

    Args:
        profiles: the target profiles by name.
        mapping: the mapping set.
    """
    rows = []
    for name, profile in profiles.items():
        by_field = {(ln.structure, ln.field): ln for ln in mapping.lines_for(name)}
        for s, f in profile.qualified_fields():
            ln = by_field.get((s.id, f.name))
            auto = f.name == profile.key_field and s is not profile.main
            default = ln is not None and name in mapping.defaulted
            rows.append(
                {
                    "profile": name,
                    "structure": s.id,
                    "sheet": s.sheet or "",
                    "target_field": f.name,
                    "label": f.label,
                    "type": f.type,
                    "length": f.length,
                    "required": f.required,
                    "allowed": "; ".join(f.allowed) if f.allowed else "",
                    "confirmed": f.confirmed,
                    "source_field": "+".join(ln.sources) if ln else ("(key of first sheet)" if auto else ""),
                    "transform": ln.transform if ln else "",
                    "note": ln.note if ln else "",
                    "mapped": bool(ln) or auto,
                    "profile_default": default,
                }
            )
    return pd.DataFrame(rows)


def read_records_for_coverage(
    con: duckdb.DuckDBPyConnection, table: str, mapping: MappingSet
) -> pd.DataFrame:
    """Only the columns of `table` that the mapping lines read (keeps big tables cheap).

    Args:
        con: the run database.
        table: the table whose rows the mappings must cover.
        mapping: the mapping set.
    """
    have = table_columns(con, table)
    need = sorted(
        {c for lines in mapping.lines.values() for ln in lines for c in line_columns(ln)} & set(have)
    )
    if not need:
        count = con.sql(f"select count(*) from {ident(table)}").fetchall()[0][0]
        return pd.DataFrame(index=range(count))
    cols = ", ".join(ident(c) for c in need)
    return con.sql(f"select {cols} from {ident(table)}").df()


def store_coverage_issues(con: duckdb.DuckDBPyConnection, issues: pd.DataFrame) -> None:
    """Replace the ``mapping_coverage`` table with `issues` (:func:`coverage_issues` output)."""
    with registered(con, catalog.temp("cov"), issues) as frame:
        con.execute(
            f"create or replace table {catalog.MAPPING_COVERAGE} as select kind::varchar kind, "
            "profile::varchar profile, target_field::varchar target_field, detail::varchar detail, "
            f"count::bigint count from {frame} order by kind, profile, target_field, detail"
        )


def review_mappings(ctx: RunContext, *, table: str = catalog.STD_CUSTOMERS.name) -> MappingReport:
    """Stage ``mapping``: check the mapping files, compute coverage, store it, read the sign-off.

    Writes the table ``mapping_coverage`` (see :func:`coverage_issues`). It does not stop on
    missing mapping files or coverage issues: the report says what is missing (profiles without a
    field mapping file are checked with the profile's own defaults) and the export writes DRAFT
    files until the mappings are complete, covering and signed off.

    Args:
        ctx: the run.
        table: the table whose values the mappings must cover.

    Raises:
        WorkbenchError: `table` is missing.
        MappingError: a mapping file is missing or invalid.
    """
    config = ctx.config
    profiles = load_project_profiles(config)
    mapping = load_mapping_set(config, profiles)
    con = ctx.connect()
    try:
        if not table_exists(con, table):
            raise WorkbenchError(f"table {table!r} is missing; run the standardize stage first")
        records = read_records_for_coverage(con, table, mapping)
        coverage = compute_coverage(
            records, profiles, mapping, table=table, region=config.project.default_region
        )
        store_coverage_issues(con, coverage_issues(coverage))
    finally:
        con.close()
    sign_off = project_sign_off(config, profiles)
    return MappingReport(
        mapping=mapping,
        coverage=coverage,
        sign_off=sign_off,
        profiles=profiles,
        source_columns=sorted(project_columns(config).columns),
    )
