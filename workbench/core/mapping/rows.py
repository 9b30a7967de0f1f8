"""Applying a mapping set to records: golden rows → the rows of each structure of a target profile."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from workbench.core.mapping.errors import MappingError
from workbench.core.mapping.files import MappingSet
from workbench.core.mapping.transforms import MappingLine, apply_line, line_columns
from workbench.core.targets.profiles import Structure, TargetProfile

ISSUE_COLUMNS = ["master_id", "structure", "field", "reason"]


@dataclass
class MappedRows:
    """Rows of one profile after mapping: one frame per structure plus the row issues."""

    frames: dict[str, pd.DataFrame]
    issues: pd.DataFrame  # master_id, structure, field, reason


def map_rows(
    records: pd.DataFrame,
    profile: TargetProfile,
    mapping: MappingSet,
    *,
    key_column: str = "master_id",
    region: str = "CN",
) -> MappedRows:
    """Map golden records to the profile's structures (before any profile check).

    Each structure gets one row per record (``key_column`` first, then the profile's fields in
    order, values as text or None); the key field is copied into every structure; a structure with
    ``explode`` gets one row per ``;``-separated value. Mapping problems (unmapped values, bad dates,
    conflicting mappings) are returned per record and field, never silently dropped.

    Args:
        records: the golden records (every column a line reads, and `key_column`).
        profile: the target profile.
        mapping: the mapping set.
        key_column: the column that identifies a record.
        region: default phone region.

    Raises:
        MappingError: a line reads a column that `records` does not have.
    """
    lines = mapping.lines_for(profile.name)
    _check_columns(lines, records)
    keys = records[key_column].astype(str).reset_index(drop=True)
    recs = records.reset_index(drop=True)
    issue_rows: list[pd.DataFrame] = []
    values: dict[tuple[str, str], pd.Series] = {}
    for ln in lines:
        vals, iss = _map_line(ln, recs, mapping, region)
        values[(ln.structure, ln.field)] = vals.reset_index(drop=True)
        hit = iss.notna().to_numpy()
        if hit.any():
            issue_rows.append(
                pd.DataFrame(
                    {
                        "master_id": keys[hit],
                        "structure": ln.structure,
                        "field": ln.field,
                        "reason": iss[hit].values,
                    }
                )
            )
    frames = {s.id: _structure_frame(s, profile, values, keys, key_column) for s in profile.structures}
    issues = pd.concat(issue_rows, ignore_index=True) if issue_rows else pd.DataFrame(columns=ISSUE_COLUMNS)
    return MappedRows(frames=frames, issues=issues)


def _check_columns(lines: list[MappingLine], records: pd.DataFrame) -> None:
    missing = sorted({c for ln in lines for c in line_columns(ln) if c not in records.columns})
    if missing:
        where = {c: next(ln.where for ln in lines if c in line_columns(ln)) for c in missing}
        raise MappingError(
            [
                f"{where[c]}: source_field {c!r} is not a column of the records; check the spelling"
                for c in missing
            ]
        )


def _map_line(
    ln: MappingLine, recs: pd.DataFrame, mapping: MappingSet, region: str
) -> tuple[pd.Series, pd.Series]:
    """Values and issues of one line for every record; each distinct input is mapped once."""
    cols = line_columns(ln)
    if not cols:
        applied = apply_line(ln, recs.iloc[:, :0], mapping.value_maps, region=region)
        return applied.values, applied.issues
    distinct = recs[cols].drop_duplicates().reset_index(drop=True)
    applied = apply_line(ln, distinct, mapping.value_maps, region=region)
    distinct["__v"] = applied.values
    distinct["__i"] = applied.issues
    merged = recs[cols].merge(distinct, on=cols, how="left", sort=False)
    return merged["__v"], merged["__i"]


def _structure_frame(
    s: Structure,
    profile: TargetProfile,
    values: dict[tuple[str, str], pd.Series],
    keys: pd.Series,
    key_column: str,
) -> pd.DataFrame:
    """The rows of one structure: the key, then its fields in order (exploded / omitted as the
    profile says)."""
    n = len(keys)
    key_values = values.get((profile.main.id, profile.key_field), pd.Series([None] * n, dtype=object))
    data: dict[str, pd.Series] = {key_column: keys}
    for f in s.fields:
        if f.name == profile.key_field:
            data[f.name] = key_values
        else:
            data[f.name] = values.get((s.id, f.name), pd.Series([None] * n, dtype=object))
    frame = pd.DataFrame(data)
    if s.explode:
        frame[s.explode] = frame[s.explode].map(
            lambda v: [p.strip() for p in v.split(";") if p.strip()] if isinstance(v, str) else [None]
        )
        frame = frame.explode(s.explode, ignore_index=True)
    if s.omit_when_empty:
        frame = frame[frame[s.omit_when_empty].notna().any(axis=1)].reset_index(drop=True)
    return frame
