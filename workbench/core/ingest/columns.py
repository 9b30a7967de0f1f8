"""How the columns of a source file become staged columns (the rows of ``stg_columns``).

This module owns the column plan of a source: each file column is matched by its header to the
``columns:`` mapping of the config, kept under its own header when ``keep_unmapped`` is on, or
dropped; duplicate headers, missing mapped columns and staged names that would clash are refused
with a message that says how to fix the config.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.errors import SourceError
from workbench.project.config import LINEAGE_COLUMNS

if TYPE_CHECKING:
    from workbench.project.config import SourceSpec

UNNAMED_PREFIX = "unnamed_"
"""Staged name of a kept column without header: ``unnamed_<position>``."""


@dataclass(frozen=True)
class StagedColumn:
    """How one file column was staged (a row of ``stg_columns``)."""

    position: int
    header: str
    field: str | None
    kind: str | None
    mapped: bool

    @property
    def kept(self) -> bool:
        """Whether the column is staged (it has a field name)."""
        return self.field is not None


def clean_header(text: Any) -> str:
    """A header cell as used for mapping: without surrounding spaces and byte-order marks."""
    return str(text if text is not None else "").replace("\ufeff", "").strip()


def plan_columns(spec: SourceSpec, headers: Sequence[str]) -> list[StagedColumn]:
    """Map the file's headers to staged columns (the rows of ``stg_columns``).

    Args:
        spec: the source's config.
        headers: the file's header cells, cleaned, in file order; '' for an empty header cell.

    Returns:
        One entry per file column: mapped columns get their field and kind, unmapped ones their
        header text (or ``unnamed_<position>``) when ``keep_unmapped``, else no field.

    Raises:
        SourceError: duplicate headers, configured headers missing from the file, or two staged
            columns whose names would collide.
    """
    named = [h for h in headers if h]
    dups = sorted({h for h in named if named.count(h) > 1})
    if dups:
        where = "; ".join(
            f"{h!r} at columns {[i + 1 for i, x in enumerate(headers) if x == h]}" for h in dups
        )
        raise SourceError(
            f"the header has duplicate column names: {where}. Rename them in the file so each "
            f"header is unique (the mapping in `columns:` needs one column per header)"
        )
    wanted = {clean_header(k): (k, v) for k, v in spec.columns.items()}
    missing = [k for k in wanted if k not in set(headers)]
    if missing:
        raise SourceError(_missing_columns_message(spec, missing, headers))
    out: list[StagedColumn] = []
    for i, header in enumerate(headers, start=1):
        if header in wanted:
            col = wanted[header][1]
            out.append(StagedColumn(i, header, col.field, col.kind.value, True))
        elif spec.keep_unmapped:
            out.append(StagedColumn(i, header, header or f"{UNNAMED_PREFIX}{i}", None, False))
        else:
            out.append(StagedColumn(i, header, None, None, False))
    # DuckDB column names are case-insensitive: check collisions the same way
    seen: dict[str, StagedColumn] = {}
    for name in LINEAGE_COLUMNS:
        seen[name.lower()] = StagedColumn(0, name, name, None, False)
    for c in out:
        if c.field is None:
            continue
        other = seen.get(c.field.lower())
        if other is not None:
            what = (
                "a lineage column" if other.position == 0 else f"column {other.position} ({other.header!r})"
            )
            raise SourceError(
                f"column {c.position} ({c.header!r}) would be staged as {c.field!r}, which clashes "
                f"with {what}. Map one of them to another field under `columns:`, or set "
                f"`keep_unmapped: false` to drop unmapped columns"
            )
        seen[c.field.lower()] = c
    return out


def _missing_columns_message(spec: SourceSpec, missing: list[str], headers: Sequence[str]) -> str:
    named = [h for h in headers if h]
    hints = []
    for m in missing:
        folded = [h for h in named if h.casefold() == m.casefold()]
        close = folded or difflib.get_close_matches(m, named, n=1, cutoff=0.6)
        hints.append(f"{m!r} (did you mean {close[0]!r}?)" if close else repr(m))
    msg = (
        f"{len(missing)} column(s) listed under `columns:` are not in the file's header: "
        f"{', '.join(hints)}. The file's headers are: {named}. Fix the header names under `columns:`"
    )
    if spec.file_format == "csv":
        msg += f" (or `header_row:`, now {spec.header_row})"
        if len(named) <= 1:
            text = named[0] if named else ""
            for cand, name in ((";", "';'"), ("\t", "'\\t'"), ("|", "'|'"), (",", "','")):
                if cand != spec.delimiter and cand in text:
                    msg += (
                        f". The header is one cell with delimiter {spec.delimiter!r}: try `delimiter: {name}`"
                    )
                    break
    elif spec.file_format == "xlsx":
        msg += f" (or `header_row:`, now {spec.header_row}, or `sheet:`)"
    return msg
