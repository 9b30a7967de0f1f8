"""Writing the commented ``workbench.yaml`` of a new project from init's guesses.

The file is YAML that :func:`workbench.project.config.load_config` accepts, with a comment on every
guess: the confidence (0–1) and why, so a person reviews the low ones first. Columns init could not
place are listed under their source; they are staged as text under their header anyway
(``keep_unmapped: true``), so nothing is lost.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from workbench.core.onboarding.guess import ColumnGuess


@dataclass
class SourcePlan:
    """Everything the config says about one source, with the comments that explain it."""

    name: str
    label: str
    path: str
    format: str
    guesses: list[ColumnGuess]
    id_guess: ColumnGuess
    id_reason: str
    role: str = "customers"
    customer_source: str | None = None
    customer_source_reason: str = ""
    encoding_comment: str = ""
    delimiter: str = ","
    sheet: str | None = None
    other_sheets: list[str] = field(default_factory=list)
    header_row: int = 1
    header_comment: str = ""
    region: str | None = None
    region_comment: str = ""
    day_first: bool | None = None
    day_first_comment: str = ""
    combine: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class ProjectPlan:
    """The project section and the sources, ready to write."""

    name: str
    language: str
    language_comment: str
    default_region: str
    region_comment: str
    sources: list[SourcePlan]
    profiles: list[str]
    profiles_comment: str
    files: int


def scalar(value: Any) -> str:
    """`value` as a one-line YAML scalar (quoted only when YAML needs it)."""
    text = yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=1 << 20)
    text = text.strip()
    if text.endswith("..."):
        text = text[:-3].strip()
    return text


def flow_list(values: Sequence[Any]) -> str:
    return "[" + ", ".join(scalar(v) for v in values) + "]"


def render_config(plan: ProjectPlan, today: dt.date | None = None) -> str:
    """The text of ``workbench.yaml``."""
    today = today or dt.date.today()
    lines = [
        f"# workbench.yaml written by `workbench init` on {today.isoformat()} from {plan.files} file(s).",
        "# Each guess has its confidence (0-1) and the reason in a comment: review the low ones, fix",
        "# what is wrong, then run  workbench check --config workbench.yaml --headers",
        "# Columns init could not place are listed under their source; they are staged as text under",
        "# their header (keep_unmapped: true), so nothing is lost. See docs/configuration.md.",
        "project:",
        f"  name: {scalar(plan.name)}",
        f"  language: {plan.language}  # {plan.language_comment}",
        f"  default_region: {plan.default_region}  # {plan.region_comment}",
        "  seed: 42",
        "output:",
        "  dir: output",
        "sources:",
    ]
    for source in plan.sources:
        lines += _render_source(source)
    lines += [
        "export:",
        f"  profiles: {flow_list(plan.profiles)}  # {plan.profiles_comment}",
        "  draft: true  # load files are drafts until the mappings are signed off",
    ]
    return "\n".join(lines) + "\n"


def _render_source(s: SourcePlan) -> list[str]:
    out = [
        f"  - name: {s.name}",
        f"    label: {scalar(s.label)}",
        f"    path: {scalar(s.path)}",
        f"    format: {s.format}",
    ]
    if s.format == "csv":
        out.append(f"    encoding: auto  # {s.encoding_comment}")
        if s.delimiter != ",":
            out.append(f"    delimiter: {scalar(s.delimiter)}")
    if s.sheet is not None:
        others = f"; other sheets not used: {', '.join(s.other_sheets)}" if s.other_sheets else ""
        out.append(f"    sheet: {scalar(s.sheet)}  # the sheet with the most data{others}")
    if s.format != "parquet":
        out.append(f"    header_row: {s.header_row}  # {s.header_comment}")
    out.append(f"    role: {s.role}")
    if s.customer_source:
        out.append(f"    customer_source: {s.customer_source}  # {s.customer_source_reason}")
    out.append(f"    id_column: {scalar(s.id_guess.header)}  # {s.id_reason}")
    if s.region:
        out.append(f"    region: {s.region}  # {s.region_comment}")
    if s.day_first is not None:
        out.append(f"    day_first: {'true' if s.day_first else 'false'}  # {s.day_first_comment}")
    return out + _render_columns(s)


def _render_columns(s: SourcePlan) -> list[str]:
    out = ["    columns:"]
    for g in sorted(s.guesses, key=lambda g: g.position):
        if g.field is None:
            continue
        out.append(f"      {scalar(g.header)}: {{field: {g.field}, kind: {g.kind}}}  # {g.describe()}")
    if s.combine:
        out.append("    combine:  # a field built from several columns; the parts stay fields of their own")
        for name, parts in s.combine.items():
            out.append(f"      {name}: {{from: {flow_list(parts)}}}")
    unplaced = [g for g in sorted(s.guesses, key=lambda g: g.position) if g.field is None and g.header]
    if unplaced:
        out.append("    # not placed (staged as text under their header; map them under columns: if needed):")
        for g in unplaced:
            out.append(f"    #   {g.header}: {'; '.join(g.reasons)}")
    for note in s.notes:
        out.append(f"    # note: {note}")
    return out
