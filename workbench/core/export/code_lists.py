"""Code lists a target needs before the customers load (U8 客户分类/地区分类/币种, Kingdee 客户类别 …).

A profile declares its code lists (:class:`~workbench.core.targets.profiles.CodeList`); the rows of
a list are the distinct values of its ``from_field`` in the customer rows the export writes, each
with a name: the ``target_label`` of the value mapping that produced the code, else the legacy
values mapped to it (joined with ``/``), else the code itself. With ``levels`` (a hierarchical code
scheme such as U8's 编码方案 2-2-…) the parent codes are added and each row gets its level.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from workbench.core.mapping import MappingSet
from workbench.core.targets.profiles import CodeList, TargetProfile


@dataclass
class CodeListRows:
    """The rows of one code list, and the codes whose name is only the code (no label found)."""

    code_list: CodeList
    frame: pd.DataFrame
    unnamed: list[str]
    off_scheme: list[str]  # codes whose length is not a level boundary of `levels`


def code_list_profile(profile: TargetProfile, code_list: CodeList) -> TargetProfile:
    """The profile a code list's file is written with: the profile's format, one structure."""
    return profile.model_copy(
        update={
            "name": profile.name,
            "structures": [code_list.as_structure()],
            "key_field": code_list.code_field,
            "code_lists": [],
        }
    )


def build_code_lists(
    profile: TargetProfile, frames: dict[str, pd.DataFrame], mapping: MappingSet
) -> list[CodeListRows]:
    """The rows of every code list of `profile` from the customer rows to write (`frames`).

    Args:
        profile: the target profile.
        frames: structure id → the customer rows that will be written.
        mapping: the mapping set (its value maps name the codes).
    """
    out = []
    for cl in profile.code_lists:
        structure, target = profile.resolve_field(cl.from_field)
        values = frames[structure.id][target.name].dropna().astype(str).str.strip()
        codes = sorted({v for v in values if v})
        names = _names(profile, structure.id, target.name, mapping)
        grades: dict[str, int | None] = dict.fromkeys(codes, 1 if cl.levels is None else None)
        off: list[str] = []
        if cl.levels:
            codes, grades, off = _with_parents(codes, cl.levels)
        rows = []
        for code in codes:
            row = dict.fromkeys(cl.field_names)
            row.update(cl.constants)
            row[cl.code_field] = code
            if cl.name_field:
                row[cl.name_field] = names.get(code, code)
            if cl.grade_field and grades.get(code) is not None:
                row[cl.grade_field] = str(grades[code])
            rows.append(row)
        frame = pd.DataFrame(rows, columns=cl.field_names)
        frame.insert(0, "master_id", frame[cl.code_field])
        out.append(
            CodeListRows(cl, frame, [c for c in codes if c not in names] if cl.name_field else [], off)
        )
    return out


def _names(profile: TargetProfile, structure: str, field: str, mapping: MappingSet) -> dict[str, str]:
    """Code → name from the value maps of the line that fills the field (codes without one are left out)."""
    line = next(
        (ln for ln in mapping.lines_for(profile.name) if (ln.structure, ln.field) == (structure, field)), None
    )
    frame = mapping.value_maps.frame
    names: dict[str, str] = {}
    if line is not None and line.value_maps and len(frame):
        mine = frame[frame["map_name"].isin(line.value_maps)]
        labels = mine["target_label"] if "target_label" in mine.columns else pd.Series("", index=mine.index)
        for code, group in mine.assign(target_label=labels.fillna("")).groupby("target_value", sort=True):
            label = next((x for x in group["target_label"] if x), "")
            legacy = [x for x in group["legacy_value"] if x and x != "*"]
            names[str(code)] = label or "/".join(legacy)
    return {c: n for c, n in names.items() if n}


def _with_parents(codes: list[str], levels: list[int]) -> tuple[list[str], dict[str, int | None], list[str]]:
    """The codes with every parent code of the scheme, each code's level, and codes off the scheme."""
    bounds = [sum(levels[: i + 1]) for i in range(len(levels))]
    grades: dict[str, int | None] = {}
    off = []
    for code in codes:
        if len(code) not in bounds:
            grades[code] = None
            off.append(code)
            continue
        level = bounds.index(len(code)) + 1
        grades[code] = level
        for i in range(level - 1):
            grades.setdefault(code[: bounds[i]], i + 1)
    return sorted(grades), grades, off
