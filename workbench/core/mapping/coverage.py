"""The coverage report: does a mapping set cover the values of a table of records?

This module owns :func:`compute_coverage` (unmapped legacy values with their counts, required target
fields without a source, mapped values outside the target's picklist, conflicting value mappings,
source fields the records lack, required fields that come out empty) and :func:`coverage_issues`,
the one flat table of all of them that the ``mapping_coverage`` table holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from workbench.core.mapping.files import MappingSet
from workbench.core.mapping.transforms import (
    Applied,
    MappingLine,
    ValueMaps,
    apply_line,
    line_columns,
    to_text,
)
from workbench.core.targets.profiles import Structure, TargetField, TargetProfile
from workbench.engine import catalog

# columns of golden_customers that are not canonical fields of std_customers
GOLDEN_ONLY_COLUMNS = ("master_id", "parent_master_id", "member_count", "sources", "match_type")
ISSUE_COLUMNS = ["kind", "profile", "target_field", "detail", "count"]
_UNMAPPED_COLUMNS = [
    "profile",
    "structure",
    "target_field",
    "source_field",
    "map_name",
    "legacy_value",
    "count",
]
_PICKLIST_COLUMNS = [
    "profile",
    "structure",
    "target_field",
    "map_name",
    "legacy_value",
    "target_value",
    "allowed",
    "count",
]


@dataclass
class Coverage:
    """The coverage report of a mapping set against a table of records."""

    version: str
    table: str
    records: int
    unmapped_values: pd.DataFrame
    required_without_source: pd.DataFrame
    not_in_picklist: pd.DataFrame
    conflicts: pd.DataFrame
    unknown_sources: pd.DataFrame
    required_empty: pd.DataFrame

    @property
    def blocking(self) -> dict[str, int]:
        """Counts of the issues that stop a non-draft export."""
        return {
            "unmapped_values": len(self.unmapped_values),
            "required_without_source": len(self.required_without_source),
            "not_in_picklist": len(self.not_in_picklist),
            "conflicts": len(self.conflicts),
            "unknown_sources": len(self.unknown_sources),
        }

    @property
    def ok(self) -> bool:
        """No blocking issue."""
        return not any(self.blocking.values())

    def counts(self) -> dict[str, int]:
        """The blocking counts plus the required fields that come out empty."""
        return {**self.blocking, "required_empty_fields": len(self.required_empty)}

    def describe(self) -> str:
        """The blocking issues in words, e.g. ``2 unmapped values, 1 conflicts``."""
        parts = [f"{n} {k.replace('_', ' ')}" for k, n in self.blocking.items() if n]
        return ", ".join(parts) or "no blocking issues"


def compute_coverage(
    records: pd.DataFrame,
    profiles: dict[str, TargetProfile],
    mapping: MappingSet,
    *,
    table: str = catalog.STD_CUSTOMERS.name,
    region: str = "CN",
    extra_columns: tuple[str, ...] = GOLDEN_ONLY_COLUMNS,
) -> Coverage:
    """Check a mapping set against records (``std_customers`` rows or golden records).

    Args:
        records: the rows whose values the mappings must cover.
        profiles: the target profiles by name.
        mapping: the mapping set.
        table: name of the records' table (shown in the report).
        region: default phone region.
        extra_columns: columns a mapping may read that `records` lacks here but the export has
            (golden-only columns such as master_id); lines reading them are checked at export.
    """
    check = _CoverageCheck(records, mapping, region, extra_columns)
    for name, profile in profiles.items():
        check.profile(name, profile)
    return check.report(table)


def _outside_picklist(value: str | None, structure: Structure, target: TargetField) -> list[str]:
    """The parts of `value` (each ``;`` part for the exploded field) that the picklist does not allow."""
    parts = (
        [p.strip() for p in (value or "").split(";")] if structure.explode == target.name else [value or ""]
    )
    return [p for p in parts if p and target.allowed is not None and p not in target.allowed]


@dataclass
class _CoverageCheck:
    """The rows of each part of the report, collected profile by profile, line by line."""

    records: pd.DataFrame
    mapping: MappingSet
    region: str
    extra_columns: tuple[str, ...]
    unmapped: list[tuple] = field(default_factory=list)
    required_without_source: list[tuple] = field(default_factory=list)
    not_in_picklist: list[tuple] = field(default_factory=list)
    unknown_sources: list[tuple] = field(default_factory=list)
    required_empty: list[tuple] = field(default_factory=list)

    def profile(self, name: str, profile: TargetProfile) -> None:
        """Required fields of `profile` that no line maps, then every line of the profile."""
        lines = self.mapping.lines_for(name)
        mapped = {(ln.structure, ln.field) for ln in lines}
        for s, f in profile.qualified_fields():
            if (
                f.required
                and (s.mandatory or s is profile.main)
                and (s.id, f.name) not in mapped
                and not (f.name == profile.key_field and s is not profile.main)
            ):
                self.required_without_source.append((name, s.id, f.name, f.caption))
        for ln in lines:
            self.line(name, profile, ln)

    def line(self, name: str, profile: TargetProfile, ln: MappingLine) -> None:
        """Picklist, unknown-source, unmapped-value and required-empty checks of one line."""
        structure, target = profile.resolve_field(f"{ln.structure}.{ln.field}")
        self.not_in_picklist.extend(_picklist_rules(name, ln, structure, target, self.mapping.value_maps))
        need = line_columns(ln)
        absent = [c for c in need if c not in self.records.columns]
        if absent:
            self.unknown_sources.extend(
                (name, ln.structure, ln.field, c, ln.where) for c in absent if c not in self.extra_columns
            )
            return
        grouped = _distinct_inputs(self.records, need)
        applied = apply_line(ln, grouped, self.mapping.value_maps, region=self.region)
        self.unmapped.extend(_unmapped_rows(name, ln, need, grouped, applied))
        if target.allowed and not ln.value_maps and ln.steps[0].name != "constant":
            allowed = "; ".join(target.allowed)
            sources = "+".join(ln.sources)
            for value, count in zip(applied.values, grouped["count"], strict=True):
                if value is not None and _outside_picklist(value, structure, target):
                    self.not_in_picklist.append(
                        (name, ln.structure, ln.field, "", sources, value, allowed, int(count))
                    )
        if target.required:
            empty = int(grouped["count"][applied.values.isna().to_numpy()].sum())
            if empty:
                self.required_empty.append((name, ln.structure, ln.field, "+".join(ln.sources), empty))

    def report(self, table: str) -> Coverage:
        """The collected rows as the :class:`Coverage` report."""
        unmapped = (
            pd.DataFrame(self.unmapped, columns=_UNMAPPED_COLUMNS)
            .groupby(_UNMAPPED_COLUMNS[:-1], as_index=False, dropna=False)["count"]
            .sum()
            .sort_values(
                ["profile", "map_name", "count", "legacy_value"],
                ascending=[True, True, False, True],
                ignore_index=True,
            )
        )
        return Coverage(
            version=self.mapping.version,
            table=table,
            records=len(self.records),
            unmapped_values=unmapped,
            required_without_source=pd.DataFrame(
                self.required_without_source, columns=["profile", "structure", "target_field", "label"]
            ),
            not_in_picklist=pd.DataFrame(self.not_in_picklist, columns=_PICKLIST_COLUMNS).drop_duplicates(
                ignore_index=True
            ),
            conflicts=self.mapping.value_maps.conflicts(),
            unknown_sources=pd.DataFrame(
                self.unknown_sources,
                columns=["profile", "structure", "target_field", "source_field", "where"],
            ),
            required_empty=pd.DataFrame(
                self.required_empty,
                columns=["profile", "structure", "target_field", "source_field", "empty_rows"],
            ),
        )


def _picklist_rules(
    name: str, ln: MappingLine, structure: Structure, target: TargetField, value_maps: ValueMaps
) -> list[tuple]:
    """Constants, defaults and value-map targets of a line that the target's picklist does not allow."""
    rows = [
        (name, ln.structure, ln.field, st.name, "", st.arg, "; ".join(target.allowed or []), 0)
        for st in ln.steps
        if st.name in ("constant", "default") and _outside_picklist(st.arg, structure, target)
    ]
    if target.allowed:
        allowed = "; ".join(target.allowed)
        for m in ln.value_maps:
            for legacy, targets in value_maps.maps.get(m, {}).items():
                rows.extend(
                    (name, ln.structure, ln.field, m, legacy, t, allowed, 0)
                    for t in targets
                    if _outside_picklist(t, structure, target)
                )
    return rows


def _distinct_inputs(records: pd.DataFrame, need: list[str]) -> pd.DataFrame:
    """The distinct combinations of the columns a line reads, with their ``count``."""
    if not need:
        return pd.DataFrame({"count": [len(records)]})
    return (
        records[need]
        .astype(object)
        .where(records[need].notna(), None)
        .value_counts(dropna=False)
        .rename("count")
        .reset_index()
    )


def _unmapped_rows(
    name: str, ln: MappingLine, need: list[str], grouped: pd.DataFrame, applied: Applied
) -> list[tuple]:
    """One row per distinct input that a value map of the line does not map."""
    rows = []
    for i in range(len(grouped)):
        issue = applied.issues.iloc[i]
        if issue and issue.startswith("unmapped value"):
            legacy = to_text(grouped[need[0]].iloc[[i]]).iloc[0] if need else ""
            count = int(grouped["count"].iloc[i])
            rows.append(
                (name, ln.structure, ln.field, "+".join(ln.sources), ",".join(ln.value_maps), legacy, count)
            )
    return rows


# --------------------------------------------------------------------------------------------
# the flat issue table


def coverage_issues(coverage: Coverage) -> pd.DataFrame:
    """Flatten a coverage report into one table: kind, profile, target_field, detail, count."""
    c = coverage
    parts = [build(frame) for frame, build in _issue_builders(c) if len(frame)]
    return (
        pd.concat(parts, ignore_index=True)[ISSUE_COLUMNS] if parts else pd.DataFrame(columns=ISSUE_COLUMNS)
    )


def _issues(
    kind: str,
    r: pd.DataFrame,
    detail: pd.Series,
    count: pd.Series | int,
    *,
    profile: pd.Series | str | None = None,
    target_field: pd.Series | None = None,
) -> pd.DataFrame:
    """The issue rows of one part of the report (profile and ``structure.field`` by default)."""
    return pd.DataFrame(
        {
            "kind": kind,
            "profile": r["profile"] if profile is None else profile,
            "target_field": r["structure"] + "." + r["target_field"]
            if target_field is None
            else target_field,
            "detail": detail,
            "count": count,
        }
    )


def _issue_builders(c: Coverage) -> list[tuple[pd.DataFrame, Callable[[pd.DataFrame], pd.DataFrame]]]:
    """Each part of the report with the function that turns it into issue rows, in table order."""
    return [
        (
            c.unmapped_values,
            lambda r: _issues(
                "unmapped_value", r, r["map_name"] + ": " + r["legacy_value"].astype(str), r["count"]
            ),
        ),
        (c.required_without_source, lambda r: _issues("required_without_source", r, r["label"], 0)),
        (
            c.not_in_picklist,
            lambda r: _issues(
                "not_in_picklist", r, r["target_value"].astype(str) + " ∉ {" + r["allowed"] + "}", r["count"]
            ),
        ),
        (
            c.conflicts,
            lambda r: _issues(
                "conflict",
                r,
                r["legacy_value"] + " → " + r["target_values"],
                r["targets"],
                profile="",
                target_field=r["map_name"],
            ),
        ),
        (
            c.unknown_sources,
            lambda r: _issues("unknown_source", r, r["source_field"] + " (" + r["where"] + ")", 0),
        ),
        (
            c.required_empty,
            lambda r: _issues(
                "required_empty (rows rejected at export)", r, r["source_field"], r["empty_rows"]
            ),
        ),
    ]
